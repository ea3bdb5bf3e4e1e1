// The left column: the live queue (with what the bot said about each person and the
// messages people left) above the agent's own conversations.
import { html } from "../lib.js";
import { useNow, duration } from "../time.js";
import { personName, waitingSince } from "../conversations.js";

function botName(s, botId) {
  const details = (s.me && s.me.bot_details) || [];
  const bot = details.find((b) => b.id === botId);
  return (bot && bot.name) || botId;
}

function Entities({ entities }) {
  const pairs = Object.entries(entities || {});
  if (!pairs.length) return null;
  return html`<dl class="entities">${pairs.map(([k, v]) => html`
    <div class="entity"><dt>${k}</dt><dd>${typeof v === "string" ? v : JSON.stringify(v)}</dd></div>`)}</dl>`;
}

function QueueEntry({ s, ctl, entry, now }) {
  const p = entry.handoff_packet || {};
  const cid = entry.conversation_id;
  const error = s.errors["take:" + cid];
  const priority = p.priority || entry.priority;
  return html`
    <li class="queue-item">
      <div class="row">
        <strong class="person">${personName(entry)}</strong>
        ${priority && priority !== "normal" && html`<span class=${"pill pill-" + priority}>${priority}</span>`}
        <span class="wait" title="Waiting">${duration(now - entry.enqueued_at * 1000)}</span>
      </div>
      <div class="muted small">${botName(s, entry.bot_id)}${(p.team || entry.team) ? " · team " + (p.team || entry.team) : ""}${p.transcript ? ` · ${p.transcript} transcript lines` : ""}</div>
      ${(p.reason || entry.reason) && html`<p class="reason">${p.reason || entry.reason}</p>`}
      <${Entities} entities=${p.entities} />
      ${p.error && html`<p class="small warn-text">Bot error: ${p.error.message || p.error.kind}</p>`}
      ${p.agent_id && html`<p class="small muted">Asked for agent ${p.agent_id}</p>`}
      <div class="row">
        <button type="button" class="btn btn-primary btn-sm" aria-label=${"Take conversation with " + personName(entry)}
          onClick=${() => ctl.accept(cid)}>Take</button>
      </div>
      ${error && html`<p class="inline-error" role="alert">${error}</p>`}
    </li>`;
}

function OfflineMessage({ s, ctl, m }) {
  const error = s.errors["handled:" + m.id];
  return html`
    <li class="queue-item offline-item">
      <div class="row"><strong class="person">${personName(m)}</strong><span class="muted small">${botName(s, m.bot_id)}</span></div>
      ${m.contact && html`<div class="small">${typeof m.contact === "string" ? m.contact : JSON.stringify(m.contact)}</div>`}
      <p class="reason">${m.message}</p>
      <button type="button" class="btn btn-sm" onClick=${() => ctl.markHandled(m.bot_id, m.id)}>Mark handled</button>
      ${error && html`<p class="inline-error" role="alert">${error}</p>`}
    </li>`;
}

function ConversationItem({ s, ctl, conv, now }) {
  const since = waitingSince(conv);
  const current = s.selected === conv.id;
  const label = `${personName(conv.conversation)}${conv.unread ? `, ${conv.unread} unread` : ""}${conv.ended ? ", ended" : ""}`;
  return html`
    <li>
      <button type="button" class="conv-item" aria-current=${current ? "true" : "false"} aria-label=${label}
        onClick=${() => ctl.select(conv.id)}>
        <span class="row">
          <span class="person">${personName(conv.conversation)}</span>
          ${conv.unread > 0 && html`<span class="badge" aria-hidden="true">${conv.unread}</span>`}
        </span>
        <span class="row small muted">
          <span>${conv.ended ? conv.ended.kind : botName(s, conv.conversation.bot_id)}</span>
          ${!conv.ended && since && html`<span class="wait wait-urgent">waiting ${duration(now - since)}</span>`}
        </span>
      </button>
    </li>`;
}

export function Sidebar({ s, ctl }) {
  const now = useNow(1000);
  const entries = Object.values(s.queue).flat().sort((a, b) => a.enqueued_at - b.enqueued_at);
  const convs = s.order.map((id) => s.convs[id]).filter(Boolean);
  return html`
    <aside class="sidebar" aria-label="Queue and conversations">
      <section class="panel" aria-labelledby="queue-title">
        <h2 id="queue-title" class="panel-title">Queue <span class="count">${entries.length}</span></h2>
        ${s.errors.queue && html`<p class="inline-error" role="alert">${s.errors.queue}</p>`}
        ${entries.length ? html`<ul class="queue-list">${entries.map((e) => html`<${QueueEntry} key=${e.conversation_id} s=${s} ctl=${ctl} entry=${e} now=${now} />`)}</ul>`
          : html`<p class="empty">Nobody is waiting.</p>`}
      </section>
      ${s.offline.length > 0 && html`
        <section class="panel" aria-labelledby="offline-title">
          <h2 id="offline-title" class="panel-title">Messages left <span class="count">${s.offline.length}</span></h2>
          <ul class="queue-list">${s.offline.map((m) => html`<${OfflineMessage} key=${m.id} s=${s} ctl=${ctl} m=${m} />`)}</ul>
        </section>`}
      <section class="panel panel-grow" aria-labelledby="convs-title">
        <h2 id="convs-title" class="panel-title">My conversations <span class="count">${convs.filter((c) => !c.ended).length}</span></h2>
        ${convs.length ? html`<ul class="conv-list" aria-label="My conversations">${convs.map((c) => html`<${ConversationItem} key=${c.id} s=${s} ctl=${ctl} conv=${c} now=${now} />`)}</ul>`
          : html`<p class="empty">No conversations yet.</p>`}
        <p class="muted small hint">Alt+↑/↓ or Ctrl+[ / ] move between conversations.</p>
      </section>
    </aside>`;
}
