// Canned responses per bot, managed by admins (REST: /bots/{id}/canned-responses): the
// editor is the Admin page's "Canned responses" tab and, in a dialog, the inbox's.
import { html, useState } from "../lib.js";
import { explain } from "../messages.js";
import { Dialog } from "./Dialog.js";

export function CannedAdmin({ s, ctl }) {
  return html`
    <${Dialog} title="Canned responses" wide=${true} onClose=${() => ctl.closeDialog()}>
      <${CannedEditor} s=${s} ctl=${ctl} />
    <//>`;
}

/** The list and form of a bot's canned responses, for the bots the admin serves. */
export function CannedEditor({ s, ctl }) {
  const bots = (s.me && s.me.bots) || [];
  const details = (s.me && s.me.bot_details) || [];
  const [botId, setBotId] = useState(bots[0] || "");
  const [editing, setEditing] = useState(null); // id or null (new)
  const [shortcut, setShortcut] = useState("");
  const [text, setText] = useState("");
  const [error, setError] = useState(null);
  const list = s.canned[botId] || [];
  const reset = () => { setEditing(null); setShortcut(""); setText(""); setError(null); };
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await ctl.saveCanned(botId, editing, shortcut.trim().replace(/^\//, ""), text);
      reset();
    } catch (err) {
      const m = explain(err);
      setError(err.field && !m.includes(err.field) ? `${m} (${err.field})` : m);
    }
  };
  const remove = async (c) => {
    setError(null);
    try { await ctl.deleteCanned(botId, c.id); } catch (err) { setError(explain(err)); }
  };
  const name = (id) => ((details.find((b) => b.id === id) || {}).name || id);
  return html`
      <div class="stack">
        <label for="canned-bot">Bot</label>
        <select id="canned-bot" value=${botId} onChange=${(e) => { setBotId(e.currentTarget.value); reset(); }}>
          ${bots.map((b) => html`<option value=${b}>${name(b)}</option>`)}
        </select>
        ${list.length === 0 ? html`<p class="empty">No canned responses for this bot yet.</p>` : html`
          <ul class="canned-list">${list.map((c) => html`
            <li key=${c.id} class="canned-row">
              <span class="shortcut">/${c.shortcut}</span>
              <span class="canned-text">${c.text}</span>
              <button type="button" class="btn btn-sm" aria-label=${"Edit /" + c.shortcut}
                onClick=${() => { setEditing(c.id); setShortcut(c.shortcut); setText(c.text); }}>Edit</button>
              <button type="button" class="btn btn-sm btn-danger" aria-label=${"Delete /" + c.shortcut}
                onClick=${() => remove(c)}>Delete</button>
            </li>`)}</ul>`}
        <form onSubmit=${submit} class="stack canned-form">
          <h3>${editing ? "Edit canned response" : "New canned response"}</h3>
          <label for="canned-shortcut">Shortcut</label>
          <input id="canned-shortcut" type="text" placeholder="greeting" value=${shortcut}
            aria-describedby="canned-shortcut-help" onInput=${(e) => setShortcut(e.currentTarget.value)} required />
          <p id="canned-shortcut-help" class="small muted">Letters, digits, _ and -, up to 32; agents type it after /.</p>
          <label for="canned-text">Text</label>
          <textarea id="canned-text" rows="3" value=${text} onInput=${(e) => setText(e.currentTarget.value)} required></textarea>
          ${error && html`<p class="inline-error" role="alert">${error}</p>`}
          <div class="dialog-actions">
            ${editing && html`<button type="button" class="btn" onClick=${reset}>Cancel edit</button>`}
            <button type="submit" class="btn btn-primary">${editing ? "Save" : "Add canned response"}</button>
          </div>
        </form>
      </div>`;
}
