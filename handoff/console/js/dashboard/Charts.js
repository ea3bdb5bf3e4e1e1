// The period's charts, from one GET /api/v1/stats answer.
import { html, useMemo } from "../lib.js";
import { StatChart } from "./StatChart.js";
import { COLORS } from "./chartjs.js";
import { bucketLabel, percent, seconds } from "./format.js";

const count = (v) => (v === null || v === undefined ? "–" : String(Math.round(v)));
const rate = (v) => (v === null || v === undefined ? "–" : `${Math.round(v * 1000) / 10} %`);

export function Charts({ data }) {
  const labels = useMemo(() => data.series.map((p) => bucketLabel(p.start, data.bucket)), [data]);
  const col = (key) => data.series.map((p) => p[key]);
  const per = data.bucket === "hour" ? "hour" : "day";
  const sets = useMemo(() => ({
    conversations: [
      { label: "Conversations", data: col("conversations"), color: COLORS.primary },
      { label: "Assigned", data: col("assigned"), color: COLORS.light },
    ],
    wait: [
      { label: "p50", data: col("wait_p50"), color: COLORS.primary },
      { label: "p90", data: col("wait_p90"), color: COLORS.warn },
    ],
    firstReply: [
      { label: "p50", data: col("first_reply_p50"), color: COLORS.primary },
      { label: "p90", data: col("first_reply_p90"), color: COLORS.warn },
    ],
    handle: [
      { label: "p50", data: col("handle_p50"), color: COLORS.primary },
      { label: "p90", data: col("handle_p90"), color: COLORS.warn },
    ],
    rates: [
      { label: "Abandoned", data: col("abandonment_rate"), color: COLORS.danger },
      { label: "No agent", data: col("no_agent_rate"), color: COLORS.grey },
    ],
    transfers: [{ label: "Transfers", data: col("transfers"), color: COLORS.primary }],
    outcomes: [{
      label: "Conversations",
      data: [data.totals.resolved, data.totals.abandoned, data.totals.no_agent, data.totals.timeout,
        data.outcomes.resolved, data.outcomes.follow_up, data.outcomes.back_to_bot, data.outcomes.none],
      colors: [COLORS.ok, COLORS.danger, COLORS.grey, COLORS.warn, COLORS.ok, COLORS.light, COLORS.primary, COLORS.grey],
    }],
  }), [data]);
  const outcomeLabels = useMemo(() => [
    "Closed by an agent", "Abandoned", "No agent", "Timed out",
    "Outcome: resolved", "Outcome: follow-up", "Outcome: back to bot", "Outcome: none given",
  ], []);
  const w = data.wait_seconds;
  const r = data.first_reply_seconds;
  const h = data.handle_seconds;
  return html`
    <div class="chart-grid">
      <${StatChart} id="conversations" title=${`Conversations per ${per}`} labels=${labels}
        datasets=${sets.conversations} format=${count} integer
        summary=${`${data.totals.conversations} in the period, ${data.totals.assigned} taken by an agent`} />
      <${StatChart} id="wait" title="Wait for an agent" type="line" labels=${labels} datasets=${sets.wait}
        format=${seconds} summary=${`p50 ${seconds(w.p50)} · p90 ${seconds(w.p90)} (${w.count} waits)`} />
      <${StatChart} id="first_reply" title="Time to the first agent reply" type="line" labels=${labels}
        datasets=${sets.firstReply} format=${seconds}
        summary=${`p50 ${seconds(r.p50)} · p90 ${seconds(r.p90)} (${r.count} replies)`} />
      <${StatChart} id="handle" title="Handle time" type="line" labels=${labels} datasets=${sets.handle}
        format=${seconds} summary=${`p50 ${seconds(h.p50)} · p90 ${seconds(h.p90)} (${h.count} closed)`} />
      <${StatChart} id="rates" title="Abandonment and no-agent rates" type="line" labels=${labels}
        datasets=${sets.rates} format=${rate}
        summary=${`abandoned ${percent(data.abandonment_rate)} · no agent ${percent(data.no_agent_rate)}`} />
      <${StatChart} id="transfers" title=${`Transfers per ${per}`} labels=${labels}
        datasets=${sets.transfers} format=${count} integer summary=${`${data.totals.transfers} in the period`} />
      <${StatChart} id="outcomes" title="How they ended" labels=${outcomeLabels}
        datasets=${sets.outcomes} format=${count} integer
        summary=${`${data.totals.open} still open`} />
    </div>`;
}
