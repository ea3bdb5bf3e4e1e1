// Admin › Bots: every bot with its settings; create one (its API key shown once), edit
// its settings and business hours, rotate its key.
import { html, useEffect, useState } from "../lib.js";
import { adminApi } from "../api_admin.js";
import { BotForm } from "./BotForm.js";
import { Confirm, ShownOnce } from "./dialogs.js";
import { messageOf } from "./fields.js";

function hoursText(bh) {
  if (!bh) return "Always open";
  const days = Object.keys(bh.weekly || {});
  return `${days.length} day${days.length === 1 ? "" : "s"} a week, ${bh.time_zone}` +
    (bh.holidays && bh.holidays.length ? `, ${bh.holidays.length} holiday${bh.holidays.length === 1 ? "" : "s"}` : "");
}

export function BotsTab({ s }) {
  const [bots, setBots] = useState(null);
  const [error, setError] = useState(null);
  const [editing, setEditing] = useState(null); // "new", a bot, or null
  const [rotating, setRotating] = useState(null);
  const [key, setKey] = useState(null); // {bot, api_key}
  const load = async () => {
    try { setBots((await adminApi.bots(s.token)).bots); setError(null); } catch (err) { setError(messageOf(err)); }
  };
  useEffect(() => { load(); }, []);
  const create = async (body) => {
    const made = await adminApi.createBot(s.token, body);
    setEditing(null);
    setKey({ bot: made.bot, api_key: made.api_key, created: true });
    await load();
  };
  const save = async (body) => {
    await adminApi.patchBot(s.token, editing.id, body);
    setEditing(null);
    await load();
  };
  const rotate = async () => {
    const done = await adminApi.rotateKey(s.token, rotating.id);
    setKey({ bot: rotating, api_key: done.api_key, created: false });
    setRotating(null);
  };
  return html`
    <section class="stack admin-section" aria-labelledby="bots-title">
      <div class="section-head">
        <h2 id="bots-title">Bots</h2>
        ${!editing && html`<button type="button" class="btn btn-primary" onClick=${() => setEditing("new")}>New bot</button>`}
      </div>
      ${error && html`<p class="alert alert-error" role="alert">${error}</p>`}
      ${editing && html`<${BotForm} key=${editing === "new" ? "new" : editing.id} bot=${editing === "new" ? null : editing}
        onSave=${editing === "new" ? create : save} onCancel=${() => setEditing(null)} />`}
      ${bots === null && !error && html`<p class="muted">Loading…</p>`}
      ${bots && bots.length === 0 && html`<p class="empty">No bots yet. Create one to get its API key.</p>`}
      ${bots && bots.length > 0 && html`
        <div class="card table-card">
          <table class="admin-table">
            <thead><tr><th scope="col">Bot</th><th scope="col">Assignment</th><th scope="col">Wait limit</th>
              <th scope="col">Business hours</th><th scope="col">Webhook</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
            <tbody>${bots.map((b) => html`
              <tr key=${b.id}>
                <td><div class="cell-title">${b.name}</div><code class="small muted">${b.id}</code></td>
                <td>${b.assignment_mode === "manual" ? "Manual" : "Auto"}</td>
                <td>${b.wait_limit_seconds != null ? `${b.wait_limit_seconds} s` : html`<span class="muted">default</span>`}</td>
                <td>${hoursText(b.business_hours)}</td>
                <td class="clip">${b.webhook_url || html`<span class="muted">none</span>`}</td>
                <td class="cell-actions">
                  <button type="button" class="btn btn-sm" aria-label=${`Edit ${b.name}`} onClick=${() => setEditing(b)}>Edit</button>
                  <button type="button" class="btn btn-sm" aria-label=${`Rotate the API key of ${b.name}`} onClick=${() => setRotating(b)}>Rotate key</button>
                </td>
              </tr>`)}</tbody>
          </table>
        </div>`}
      ${rotating && html`
        <${Confirm} title="Rotate the API key?" action="Rotate key" onConfirm=${rotate} onClose=${() => setRotating(null)}>
          <p>${rotating.name}'s current key stops working at once: give the bot the new one right after.</p>
        <//>`}
      ${key && html`
        <${ShownOnce} title=${key.created ? `${key.bot.name} is ready` : `New API key of ${key.bot.name}`}
          label="API key" value=${key.api_key} onClose=${() => setKey(null)}>
          <p class="small">The bot sends it as <code>Authorization: Bearer …</code> on its REST calls (bot id <code>${key.bot.id}</code>).</p>
        <//>`}
    </section>`;
}
