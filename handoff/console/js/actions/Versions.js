// "Train Bot" and the version history: every saved version, which one is in production,
// and a rollback (publishing an earlier version) behind a confirmation.
import { html, useState } from "../lib.js";
import { Dialog } from "../components/Dialog.js";
import { fmtShort, fmtTime } from "./template.js";

export function Versions({ summary, busy, onPublish, onOpen }) {
  const [confirm, setConfirm] = useState(null);
  if (!summary) return html`<p class="empty">Save the action to start its history.</p>`;
  const rows = summary.versions || [];
  return html`
    <div class="versions">
      <table class="table">
        <caption class="sr-only">Versions of ${summary.name}</caption>
        <thead><tr><th scope="col">Version</th><th scope="col">Saved</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
        <tbody>
          ${rows.map((v) => html`
            <tr key=${v.version} class=${v.production ? "is-production" : ""}>
              <td>v${v.version}</td>
              <td class="small when" title=${fmtTime(v.created_at)}>${fmtShort(v.created_at)}</td>
              <td>
                ${v.production && html`<span class="pill pill-ok">production</span>`}
                ${v.errors.length > 0 && html`<span class="pill pill-urgent" title=${v.errors[0].message}>${v.errors.length} error${v.errors.length > 1 ? "s" : ""}</span>`}
                ${!v.production && v.published_at && html`<span class="pill pill-low" title=${`published ${fmtTime(v.published_at)}`}>was live</span>`}
              </td>
              <td class="row-actions">
                <button type="button" class="btn btn-sm btn-ghost" aria-label=${`Open version ${v.version}`}
                  onClick=${() => onOpen(v)}>Open</button>
                ${!v.production && v.errors.length === 0 && html`
                  <button type="button" class="btn btn-sm" disabled=${busy}
                    aria-label=${`Publish version ${v.version}`}
                    onClick=${() => setConfirm(v)}>${v.version < (summary.production_version || 0) ? "Roll back" : "Publish"}</button>`}
              </td>
            </tr>`)}
        </tbody>
      </table>
      ${confirm && html`
        <${Dialog} title=${`Publish version ${confirm.version}?`} onClose=${() => setConfirm(null)}>
          <p>Production calls will run version ${confirm.version} instead of ${
            summary.production_version ? `version ${summary.production_version}` : "nothing"}.
            The editor keeps the latest code.</p>
          <div class="dialog-actions">
            <button type="button" class="btn" onClick=${() => setConfirm(null)}>Cancel</button>
            <button type="button" class="btn btn-primary"
              onClick=${() => { const v = confirm.version; setConfirm(null); onPublish(v); }}>
              Publish version ${confirm.version}</button>
          </div>
        <//>`}
    </div>`;
}
