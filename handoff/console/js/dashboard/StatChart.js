// One chart in a card, drawn by Chart.js on a canvas, with its data also as a table
// ("Show as table": the accessible alternative, and what a reader who wants the
// exact numbers copies). Datasets: [{label, data, color, kind?: "bar"|"line"}].
import { html, useEffect, useRef, useState } from "../lib.js";
import { Chart } from "./chartjs.js";

function config(type, labels, datasets, yFormat, stacked, integer) {
  return {
    type,
    data: {
      labels,
      datasets: datasets.map((d) => ({
        label: d.label,
        data: d.data,
        type: d.kind || type,
        backgroundColor: type === "line" ? d.color : d.colors || d.color,
        borderColor: d.colors || d.color,
        borderWidth: type === "line" ? 2 : 0,
        pointRadius: type === "line" ? 2 : 0,
        spanGaps: true,
        borderRadius: type === "bar" ? 3 : 0,
        maxBarThickness: 28,
      })),
    },
    options: {
      responsive: true,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { display: datasets.length > 1, position: "bottom" },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${yFormat(c.parsed.y)}` } },
      },
      scales: {
        x: { grid: { display: false }, stacked, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
        y: { beginAtZero: true, stacked, ticks: { precision: integer ? 0 : undefined, callback: (v) => yFormat(v) } },
      },
    },
  };
}

export function StatChart({ id, title, summary, type = "bar", labels, datasets, format = String, stacked = false, integer = false }) {
  const canvas = useRef(null);
  const chart = useRef(null);
  const [asTable, setAsTable] = useState(false);

  useEffect(() => {
    chart.current = new Chart(canvas.current, config(type, labels, datasets, format, stacked, integer));
    return () => { chart.current.destroy(); chart.current = null; };
  }, [type]);

  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    const next = config(type, labels, datasets, format, stacked, integer);
    c.data.labels = next.data.labels;
    c.data.datasets = next.data.datasets;
    c.options = next.options;
    c.update();
  }, [labels, datasets]);

  const tableId = `table-${id}`;
  return html`
    <section class="card chart-card" data-chart=${id} aria-labelledby=${`h-${id}`}>
      <div class="chart-head">
        <div>
          <h2 id=${`h-${id}`}>${title}</h2>
          ${summary && html`<p class="muted small">${summary}</p>`}
        </div>
        <button type="button" class="btn btn-sm btn-ghost" aria-expanded=${asTable ? "true" : "false"}
          aria-controls=${tableId} onClick=${() => setAsTable(!asTable)}>
          ${asTable ? "Show as chart" : "Show as table"}
        </button>
      </div>
      <div class=${asTable ? "chart-box hidden" : "chart-box"}>
        <canvas ref=${canvas} role="img" aria-label=${`${title} (chart; the same data is in the table)`}></canvas>
      </div>
      ${asTable && html`
        <div class="table-wrap" id=${tableId} tabindex="0" role="region" aria-label=${`${title} (table)`}>
          <table class="data-table">
            <caption class="sr-only">${title}</caption>
            <thead><tr><th scope="col"></th>${datasets.map((d) => html`<th scope="col">${d.label}</th>`)}</tr></thead>
            <tbody>
              ${labels.map((label, i) => html`
                <tr><th scope="row">${label}</th>${datasets.map((d) => html`
                  <td data-value=${d.data[i] === null || d.data[i] === undefined ? "" : String(d.data[i])}>${format(d.data[i])}</td>`)}</tr>`)}
            </tbody>
          </table>
        </div>`}
    </section>`;
}
