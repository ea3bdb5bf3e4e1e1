// The conversation's details beside the chat: what the bot handed over, private notes
// (never shown to the person) and tags.
import { html, useEffect, useState } from "../lib.js";
import { personName } from "../conversations.js";
import { clock } from "../time.js";

function Packet({ c }) {
  const p = c.handoff_packet || {};
  const user = p.user || c.user || {};
  const rows = [];
  for (const [k, v] of Object.entries(user)) rows.push(["Person " + k, v]);
  if (p.reason || c.reason) rows.push(["Reason", p.reason || c.reason]);
  if (p.priority || c.priority) rows.push(["Priority", p.priority || c.priority]);
  if (p.team || c.team) rows.push(["Team", p.team || c.team]);
  for (const [k, v] of Object.entries(p.entities || c.entities || {})) rows.push([k, v]);
  if (p.error) rows.push(["Bot error", p.error.message || p.error.kind]);
  return html`
    <dl class="facts">${rows.map(([k, v]) => html`
      <div class="fact"><dt>${k}</dt><dd>${typeof v === "string" ? v : JSON.stringify(v)}</dd></div>`)}</dl>`;
}

function Notes({ s, conv, ctl }) {
  const [text, setText] = useState("");
  const error = s.errors["notes:" + conv.id];
  const submit = async (e) => {
    e.preventDefault();
    if (!text.trim()) return;
    const sent = text.trim();
    if (await ctl.addNote(conv.id, sent)) setText((now) => (now.trim() === sent ? "" : now));
  };
  return html`
    <section class="side-section" aria-labelledby="notes-title">
      <h3 id="notes-title">Private notes</h3>
      <p class="small muted">Only agents see these.</p>
      ${conv.notes === null ? html`<p class="small muted">Loading…</p>`
        : conv.notes.length === 0 ? html`<p class="small muted">No notes yet.</p>`
        : html`<ul class="notes">${conv.notes.map((n) => html`
            <li key=${n.id} class="note"><div class="small muted">${(n.agent && n.agent.name) || "Agent"} · ${clock(n.created_at)}</div><div>${n.text}</div></li>`)}</ul>`}
      <form onSubmit=${submit} class="stack">
        <label for="note-text" class="sr-only">Note</label>
        <textarea id="note-text" rows="2" aria-label="Note" placeholder="Add a private note"
          value=${text} onInput=${(e) => setText(e.currentTarget.value)}></textarea>
        <button type="submit" class="btn btn-sm" disabled=${!text.trim()}>Add note</button>
      </form>
      ${error && html`<p class="inline-error" role="alert">${error}</p>`}
    </section>`;
}

function Tags({ s, conv, ctl }) {
  const [text, setText] = useState("");
  const error = s.errors["tags:" + conv.id];
  const tags = conv.tags || [];
  const add = async (e) => {
    e.preventDefault();
    const tag = text.trim();
    if (!tag || tags.includes(tag)) { setText(""); return; }
    // Cleared only if unchanged meanwhile: the agent may already be typing the next one.
    if (await ctl.setTags(conv.id, [...tags, tag])) setText((now) => (now.trim() === tag ? "" : now));
  };
  return html`
    <section class="side-section" aria-labelledby="tags-title">
      <h3 id="tags-title">Tags</h3>
      <ul class="tags">${tags.map((t) => html`
        <li key=${t} class="tag"><span>${t}</span>
          <button type="button" class="tag-x" aria-label=${"Remove tag " + t}
            onClick=${() => ctl.setTags(conv.id, tags.filter((x) => x !== t))}>×</button></li>`)}</ul>
      <form onSubmit=${add} class="row">
        <input type="text" aria-label="New tag" placeholder="Add a tag" maxlength="32"
          value=${text} onInput=${(e) => setText(e.currentTarget.value)} />
        <button type="submit" class="btn btn-sm" disabled=${!text.trim()}>Add tag</button>
      </form>
      ${error && html`<p class="inline-error" role="alert">${error}</p>`}
    </section>`;
}

export function SidePanel({ s, conv, ctl }) {
  useEffect(() => { if (conv.notes === null) ctl.loadNotes(conv.id); }, [conv.id]);
  return html`
    <aside class="side" aria-label="Conversation details">
      ${s.showDetails && html`
        <div class="side-close"><button type="button" class="btn btn-ghost btn-sm" onClick=${() => ctl.set({ showDetails: false })}>Hide details</button></div>`}
      <section class="side-section" aria-labelledby="about-title">
        <h3 id="about-title">About ${personName(conv.conversation)}</h3>
        <${Packet} c=${conv.conversation} />
      </section>
      <${Notes} s=${s} conv=${conv} ctl=${ctl} />
      <${Tags} s=${s} conv=${conv} ctl=${ctl} />
    </aside>`;
}
