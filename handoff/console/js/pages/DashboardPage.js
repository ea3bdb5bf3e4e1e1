// The supervisor's dashboard: the live state of their bots, and a period's numbers
// and charts from GET /api/v1/stats (docs/console.md, "Dashboard").
import { html, useCallback, useEffect, useState } from "../lib.js";
import { statsApi } from "../api_stats.js";
import { Filters } from "../dashboard/Filters.js";
import { Charts } from "../dashboard/Charts.js";
import { LivePanel } from "../dashboard/LivePanel.js";
import { fromLocalInput, percent, presetRange, seconds } from "../dashboard/format.js";

function params(f) {
  const range = f.period === "custom"
    ? { from: fromLocalInput(f.from), to: fromLocalInput(f.to), bucket: f.bucket }
    : presetRange(f.period);
  return { ...range, bot_id: f.botId, team: f.team, agent_id: f.agentId };
}

function Kpis({ data }) {
  const t = data.totals;
  const items = [
    ["conversations", "Conversations", t.conversations],
    ["assigned", "Assigned", t.assigned],
    ["resolved", "Closed by an agent", t.resolved],
    ["abandoned", "Abandoned", t.abandoned],
    ["no_agent", "No agent", t.no_agent],
    ["timeout", "Timed out", t.timeout],
    ["transfers", "Transfers", t.transfers],
    ["wait_p50", "Wait p50", seconds(data.wait_seconds.p50)],
    ["wait_p90", "Wait p90", seconds(data.wait_seconds.p90)],
    ["first_reply_p50", "First reply p50", seconds(data.first_reply_seconds.p50)],
    ["handle_p50", "Handle p50", seconds(data.handle_seconds.p50)],
    ["abandonment_rate", "Abandonment", percent(data.abandonment_rate)],
  ];
  return html`
    <dl class="kpis card" aria-label="Totals for the period">
      ${items.map(([key, label, value]) => html`
        <div class="kpi"><dt>${label}</dt><dd data-kpi=${key}>${value}</dd></div>`)}
    </dl>`;
}

export function DashboardPage({ s, ctl }) {
  const [f, setF] = useState({ period: "today", from: "", to: "", bucket: "", botId: "", team: "", agentId: "" });
  const [data, setData] = useState(null);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const set = useCallback((patch) => setF((old) => ({ ...old, ...patch })), []);
  const fail = (err, fallback) => setErrors({ [err.field && err.field !== "role" ? err.field : fallback]: err.message });

  useEffect(() => {
    let stopped = false;
    setBusy(true);
    statsApi.stats(s.token, params(f)).then(
      (answer) => { if (!stopped) { setData(answer); setErrors({}); } },
      (err) => { if (!stopped) { setData(null); fail(err, "period"); } },
    ).finally(() => { if (!stopped) setBusy(false); });
    return () => { stopped = true; };
  }, [s.token, f]);

  const onCsv = async () => {
    try { await statsApi.downloadCsv(s.token, params(f)); } catch (err) { fail(err, "csv"); }
  };
  const empty = data && data.totals.conversations === 0;
  return html`
    <main class="page dashboard" aria-label="Dashboard">
      <h1>Dashboard</h1>
      <${LivePanel} s=${s} ctl=${ctl} botId=${f.botId} />
      <${Filters} s=${s} f=${f} set=${set} errors=${errors} onCsv=${onCsv} busy=${busy} />
      ${!data && !Object.keys(errors).length && html`<p class="muted" role="status">Loading the numbers…</p>`}
      ${data && html`<${Kpis} data=${data} />`}
      ${empty && html`
        <div class="card empty-period" role="status">
          <h2>No conversations in this period</h2>
          <p class="muted">Pick a longer period or another bot; the charts fill in as conversations are handed over.</p>
        </div>`}
      ${data && !empty && html`<${Charts} data=${data} />`}
    </main>`;
}
