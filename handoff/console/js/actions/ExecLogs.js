// The action's execution records of the last day (tests and production calls), newest
// first, filtered on the server by outcome and stage.
import { html, useEffect, useState } from "../lib.js";
import { actionsApi } from "../api_actions.js";
import { fmtTime } from "./template.js";

const DAY_MS = 24 * 3600 * 1000;

export function ExecLogs({ token, botId, name, refreshKey }) {
  const [ok, setOk] = useState("");
  const [stage, setStage] = useState("");
  const [logs, setLogs] = useState(null);
  const [error, setError] = useState(null);
  const load = () => {
    const since = new Date(Date.now() - DAY_MS).toISOString();
    actionsApi.logs(token, botId, name, { ok, stage, since })
      .then((r) => { setLogs(r.logs); setError(null); })
      .catch((err) => setError(err.message));
  };
  useEffect(load, [botId, name, ok, stage, refreshKey]);
  return html`
    <div class="exec-logs">
      <div class="row filters">
        <label class="small" for="log-ok">Outcome</label>
        <select id="log-ok" value=${ok} onChange=${(e) => setOk(e.target.value)}>
          <option value="">All</option><option value="true">OK</option><option value="false">Error</option>
        </select>
        <label class="small" for="log-stage">Stage</label>
        <select id="log-stage" value=${stage} onChange=${(e) => setStage(e.target.value)}>
          <option value="">All</option><option value="staging">Staging (tests)</option>
          <option value="production">Production</option>
        </select>
        <button type="button" class="btn btn-sm" onClick=${load}>Refresh</button>
      </div>
      ${error && html`<p class="inline-error" role="alert">${error}</p>`}
      ${logs === null ? html`<p class="empty">Loading…</p>` : logs.length === 0
        ? html`<p class="empty">No executions match in the last 24 hours.</p>`
        : html`
          <table class="table log-table">
            <caption class="sr-only">Executions of ${name}</caption>
            <thead><tr><th scope="col">Time</th><th scope="col">Stage</th><th scope="col">Version</th><th scope="col">Outcome</th><th scope="col">Duration</th><th scope="col">Logs</th></tr></thead>
            <tbody>
              ${logs.map((l) => html`
                <tr key=${l.request_id + l.created_at}>
                  <td class="small when">${fmtTime(l.created_at)}</td>
                  <td>${l.stage}</td>
                  <td>${l.version ? "v" + l.version : "—"}</td>
                  <td>${l.ok ? html`<span class="pill pill-ok">ok</span>`
                    : html`<span class="pill pill-urgent">error</span> <span class="small">${l.error ? `${l.error.kind}${l.error.line ? ` line ${l.error.line}` : ""}: ${l.error.message}` : ""}</span>`}</td>
                  <td class="small">${l.duration_ms} ms</td>
                  <td>${l.logs ? html`<pre class="code-out code-out-small">${l.logs}</pre>` : html`<span class="muted small">—</span>`}</td>
                </tr>`)}
            </tbody>
          </table>`}
    </div>`;
}
