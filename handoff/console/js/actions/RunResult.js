// What a live test returned: the output variables as pretty JSON, the logs (print and
// logging), the duration, and a bot break with its line.
import { html } from "../lib.js";

export function RunResult({ result }) {
  if (!result) {
    return html`<p class="empty">Run the saved code on the sample input to see its output and logs here.</p>`;
  }
  const e = result.error;
  return html`
    <div class="run-result" aria-live="polite">
      <div class="row run-summary">
        ${result.ok
          ? html`<span class="pill pill-ok">ok</span>`
          : html`<span class="pill pill-urgent">bot break</span>`}
        <span class="muted small">version ${result.version} · ${result.duration_ms} ms${
          result.status_code != null ? ` · statusCode ${result.status_code}` : ""}</span>
      </div>
      ${e && html`
        <div class="alert alert-error run-error" role="alert">
          <strong>${e.kind}</strong>${e.line ? ` on line ${e.line}` : ""}: ${e.message}
          ${e.traceback && html`<pre class="code-out traceback">${e.traceback}</pre>`}
        </div>`}
      <h4 class="out-title">Output</h4>
      <pre class="code-out" aria-label="Output">${result.output == null ? "null" : JSON.stringify(result.output, null, 2)}</pre>
      <h4 class="out-title">Logs</h4>
      ${result.logs
        ? html`<pre class="code-out" aria-label="Logs">${result.logs}</pre>`
        : html`<p class="muted small">Nothing was printed or logged.</p>`}
    </div>`;
}
