// The supervisor's view of the conversations in progress: a table of every queued and
// assigned conversation of their bots (GET /bots/{id}/conversations, refreshed while the
// page is visible), a read-only panel for the one they watch (live over the socket), and
// the two ways to step in: Take over (it opens in the Inbox) and Transfer.
import { html, useCallback, useEffect, useRef, useState } from "../lib.js";
import { useBots } from "../bots.js";
import { oversightApi } from "../api_oversight.js";
import { explain } from "../messages.js";
import { personName, sortedMessages } from "../conversations.js";
import { clock, duration, useNow } from "../time.js";
import { TransferDialog } from "../components/TransferDialog.js";

const REFRESH_MS = 5000;

function botName(s, botId) {
  const bot = ((s.me && s.me.bot_details) || []).find((b) => b.id === botId);
  return (bot && bot.name) || botId;
}

function byWait(a, b) {
  if (a.state !== b.state) return a.state === "queued" ? -1 : 1;
  const at = (c) => Date.parse((c.state === "queued" ? c.queued_at : c.assigned_at) || c.created_at);
  return at(a) - at(b);
}

/** The lists of the given bots, read again every few seconds while the page is visible. */
function useInProgress(token, bots) {
  const [rows, setRows] = useState(null);
  const [readAt, setReadAt] = useState(0);
  const [truncated, setTruncated] = useState([]);
  const [error, setError] = useState(null);
  const key = bots.join(",");
  const refresh = useCallback(async () => {
    if (!bots.length) { setRows([]); return; }
    try {
      const lists = await Promise.all(bots.map((b) => oversightApi.inProgress(token, b)));
      setRows(lists.flatMap((l) => l.conversations).sort(byWait));
      setTruncated(lists.filter((l) => l.truncated).map((l) => ({ bot: l.bot_id, limit: l.limit })));
      setReadAt(Date.now());
      setError(null);
    } catch (err) {
      setError(explain(err));
    }
  }, [token, key]);
  useEffect(() => {
    refresh();
    const timer = setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
    const shown = () => { if (!document.hidden) refresh(); };
    document.addEventListener("visibilitychange", shown);
    return () => { clearInterval(timer); document.removeEventListener("visibilitychange", shown); };
  }, [refresh]);
  return { rows, readAt, truncated, error, refresh };
}

function Waiting({ c, now, readAt }) {
  if (c.wait_seconds === null || c.wait_seconds === undefined) return html`<span class="muted">—</span>`;
  if (c.state === "queued") {
    const ms = c.wait_seconds * 1000 + Math.max(0, now - readAt);
    return html`<span class=${ms > 120000 ? "wait-urgent" : ""}>${duration(ms)}</span>`;
  }
  return html`<span class="muted" title="Waited this long for an agent">${duration(c.wait_seconds * 1000)}</span>`;
}

function Row({ s, ctl, c, now, readAt, showBot }) {
  const cid = c.conversation_id;
  const name = personName(c);
  const watching = s.watching && s.watching.id === cid;
  const error = s.errors["watch:" + cid] || s.errors["takeover:" + cid];
  const mine = c.agent && s.me && c.agent.id === s.me.id;
  return html`
    <tr class=${watching ? "live-row live-row-watched" : "live-row"} data-cid=${cid}>
      <td>
        <div class="person">${name}${c.priority && c.priority !== "normal" && html` <span class=${"pill pill-" + c.priority}>${c.priority}</span>`}</div>
        ${c.reason && html`<div class="small muted live-reason">${c.reason}</div>`}
        ${error && html`<p class="inline-error" role="alert">${error}</p>`}
      </td>
      ${showBot && html`<td>${botName(s, c.bot_id)}${c.team ? html`<div class="small muted">team ${c.team}</div>` : ""}</td>`}
      <td class="nowrap">${c.agent ? (mine ? "You" : c.agent.name || "A deleted agent") : html`<span class="muted">Nobody yet</span>`}</td>
      <td class="nowrap"><span class=${"state state-" + c.state}>${c.state === "queued" ? "Waiting" : "With agent"}</span></td>
      <td class="num"><${Waiting} c=${c} now=${now} readAt=${readAt} /></td>
      <td class="num col-last">${c.last_message_at ? clock(c.last_message_at) : html`<span class="muted">—</span>`}</td>
      <td><div class="live-actions">
        <button type="button" class="btn btn-sm" aria-pressed=${watching ? "true" : "false"}
          aria-label=${(watching ? "Stop watching " : "Watch ") + "the conversation with " + name}
          onClick=${() => (watching ? ctl.unwatch() : ctl.watch(cid))}>${watching ? "Watching" : "Watch"}</button>
        ${!mine && html`<button type="button" class="btn btn-sm btn-primary" aria-label=${"Take over the conversation with " + name}
          onClick=${() => ctl.takeOver(cid)}>Take over</button>`}
        ${c.state === "assigned" && !mine && html`<button type="button" class="btn btn-sm" aria-label=${"Transfer the conversation with " + name}
          onClick=${() => ctl.open("watch-transfer", { cid, conversation: { ...c, agent_id: c.agent && c.agent.id } })}>Transfer</button>`}
      </div></td>
    </tr>`;
}

const STATE_TEXT = {
  pending: () => "Not started",
  queued: () => "Waiting for an agent",
  assigned: (c, agent) => `With ${agent}`,
  closed: (c) => `Ended (${c.close_reason || "closed"})`,
};

function WatchPanel({ s, ctl }) {
  const w = s.watching;
  const c = w.conversation;
  const name = personName(c);
  const names = s.agentNames || {};
  const agent = c.agent_id ? (s.me && c.agent_id === s.me.id ? "you" : names[c.agent_id] || "an agent") : null;
  const ended = c.state === "closed";
  const messages = sortedMessages(w);
  const error = s.errors["takeover:" + w.id];
  return html`
    <aside class="card live-watch" aria-labelledby="live-watch-title">
      <header class="live-watch-head">
        <div class="chat-title">
          <h3 id="live-watch-title">${name}</h3>
          <div class="small muted">${[botName(s, c.bot_id), STATE_TEXT[c.state](c, agent),
            ended ? null : w.userConnected ? "online" : "left the chat"].filter(Boolean).join(" · ")}</div>
        </div>
        <span class="pill pill-readonly">Read-only</span>
        <button type="button" class="icon-btn" aria-label="Stop watching" onClick=${() => ctl.unwatch()}>×</button>
      </header>
      <div class="log-wrap live-watch-log">
        ${w.transcript.length > 0 && html`
          <section class="transcript" aria-label="Bot transcript">
            <h4 class="divider"><span>Bot transcript</span></h4>
            ${w.transcript.map((t, i) => html`
              <div key=${i} class=${"msg msg-transcript msg-" + (t.sender === "bot" ? "bot" : "user")}>
                <div class="msg-meta">${t.sender === "bot" ? "Bot" : name}</div>
                <div class="bubble">${t.message}</div>
              </div>`)}
            <h4 class="divider"><span>Live chat</span></h4>
          </section>`}
        <div class="log" role="log" aria-live="polite" aria-label=${"Conversation with " + name + ", read-only"}>
          ${messages.length === 0 && html`<p class="empty">No messages yet.</p>`}
          ${messages.map((m) => html`
            <div key=${m.seq} class=${"msg msg-" + (m.sender === "user" ? "user" : "agent")} data-seq=${m.seq}>
              <div class="msg-meta">${m.sender === "user" ? name : (m.agent_id && s.me && m.agent_id === s.me.id ? "You" : names[m.agent_id] || "Agent")} · ${clock(m.sent_at)}</div>
              <div class="bubble">${m.text}</div>
            </div>`)}
        </div>
        ${w.typing.user && html`<p class="typing">${name} is typing…</p>`}
        ${w.typing.agent && html`<p class="typing">The agent is typing…</p>`}
      </div>
      <footer class="live-watch-foot">
        ${w.error && html`<p class="inline-error" role="alert">${w.error}</p>`}
        ${error && html`<p class="inline-error" role="alert">${error}</p>`}
        ${ended
          ? html`<p class="muted">This conversation has ended.</p>`
          : html`
            <p class="small muted">You are watching: neither the person nor the agent sees you, and you cannot write here.</p>
            <div class="row">
              ${c.agent_id !== (s.me && s.me.id) && html`
                <button type="button" class="btn btn-primary" onClick=${() => ctl.takeOver(w.id)}>Take over</button>`}
              ${c.state === "assigned" && c.agent_id !== (s.me && s.me.id) && html`
                <button type="button" class="btn" onClick=${() => ctl.open("watch-transfer", { cid: w.id, conversation: c })}>Transfer</button>`}
            </div>`}
      </footer>
    </aside>`;
}

export function LiveConversations({ s, ctl, botId, onRefresh }) {
  const known = useBots(s);
  const bots = botId ? [botId] : known.map((b) => b.id);
  const { rows, readAt, truncated, error, refresh } = useInProgress(s.token, bots);
  const now = useNow(1000);
  const d = s.dialog;
  const hadDialog = useRef(false);
  useEffect(() => { // a transfer just made shows at once
    if (d) hadDialog.current = true;
    else if (hadDialog.current) { hadDialog.current = false; refresh(); }
  }, [d]);
  useEffect(() => {
    for (const b of bots) ctl._loadAgents(b); // names for the watch panel
  }, [bots.join(",")]);
  const showBot = bots.length > 1;
  const list = rows || [];
  return html`
    <section class="live" aria-labelledby="live-title">
      <div class="live-head">
        <h2 id="live-title">Conversations in progress</h2>
        <span class="count">${list.length}</span>
        <span class="small muted live-updated">${readAt ? `Updated ${new Date(readAt).toLocaleTimeString()}` : "Loading…"}</span>
        <button type="button" class="btn btn-sm" onClick=${() => { refresh(); if (onRefresh) onRefresh(); }}>Refresh</button>
      </div>
      ${error && html`<p class="inline-error" role="alert">Could not load the conversations: ${error}</p>`}
      <div class=${s.watching ? "live-grid live-grid-watching" : "live-grid"}>
        <div class="card live-table-card">
          ${rows !== null && list.length === 0 && html`
            <div class="empty-main live-empty">
              <p><strong>No conversations in progress right now.</strong></p>
              <p class="muted">${bots.length ? "People waiting for an agent and chats with agents appear here as they start." : "You serve no bots yet: an admin can add you to one."}</p>
            </div>`}
          ${list.length > 0 && html`
            <table class="live-table">
              <caption class="sr-only">Conversations queued or with an agent, longest waiting first</caption>
              <thead><tr>
                <th scope="col">Person</th>
                ${showBot && html`<th scope="col">Bot</th>`}
                <th scope="col">Agent</th>
                <th scope="col">State</th>
                <th scope="col" class="num">Waiting</th>
                <th scope="col" class="num col-last">Last message</th>
                <th scope="col"><span class="sr-only">Actions</span></th>
              </tr></thead>
              <tbody>${list.map((c) => html`<${Row} key=${c.conversation_id} s=${s} ctl=${ctl} c=${c} now=${now} readAt=${readAt} showBot=${showBot} />`)}</tbody>
            </table>`}
          ${truncated.map((t) => html`<p class="small muted live-more">${botName(s, t.bot)}: showing the first ${t.limit} only.</p>`)}
        </div>
        ${s.watching && html`<${WatchPanel} s=${s} ctl=${ctl} />`}
      </div>
      ${d && d.kind === "watch-transfer" && html`
        <${TransferDialog} s=${s} conv=${{ id: d.cid, conversation: d.conversation }} ctl=${ctl} />`}
    </section>`;
}
