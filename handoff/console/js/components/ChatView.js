// One conversation: its header and actions, the bot's transcript (marked as the bot's),
// the live chat as a role="log" region, the person's typing, and the composer.
import { html, useEffect, useRef } from "../lib.js";
import { personName, sortedMessages, deliveryState } from "../conversations.js";
import { clock } from "../time.js";
import { Composer } from "./Composer.js";

const ENDED = {
  closed: (e) => `This conversation has ended (${e.reason || "resolved"}).`,
  transferred: (e) => {
    if (e.took) return `${e.byName} took this conversation over.`;
    if (e.byName) return `${e.byName} transferred this conversation${e.to ? ` to ${e.to}` : ""}.`;
    return `You transferred this conversation${e.to ? ` to ${e.to}` : ""}.`;
  },
  released: () => "This conversation went back to the queue.",
};

function Tick({ state }) {
  if (state === "delivered") return html`<span class="tick tick-delivered" aria-label="Delivered" title="Delivered">✓✓</span>`;
  if (state === "stored") return html`<span class="tick" aria-label="Sent" title="Sent (stored)">✓</span>`;
  if (state === "waiting") return html`<span class="tick tick-wait" aria-label="Waiting for the connection" title="Waiting for the connection">○</span>`;
  return html`<span class="tick tick-wait" aria-label="Sending" title="Sending">…</span>`;
}

function Transcript({ items, name }) {
  if (!items || !items.length) return null;
  return html`
    <section class="transcript" aria-label="Bot transcript">
      <h3 class="divider"><span>Bot transcript</span></h3>
      ${items.map((t, i) => html`
        <div key=${i} class=${"msg msg-" + (t.sender === "bot" ? "bot" : "user") + " msg-transcript"}>
          <div class="msg-meta">${t.sender === "bot" ? "Bot" : name}</div>
          <div class="bubble">${t.message}</div>
        </div>`)}
      <h3 class="divider"><span>Live chat</span></h3>
    </section>`;
}

export function ChatView({ s, conv, ctl }) {
  const logRef = useRef(null);
  const name = personName(conv.conversation);
  const messages = sortedMessages(conv);
  const c = conv.conversation;
  const count = messages.length + conv.pending.length;
  useEffect(() => {
    const el = logRef.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [conv.id, count, conv.transcript.length, conv.userTyping]);
  const agentName = (id) => (s.me && id === s.me.id ? "You" : (s.agentNames && s.agentNames[id]) || "Another agent");
  return html`
    <div class="chat">
      <header class="chat-head">
        <button type="button" class="btn btn-ghost narrow-only" aria-label="Back to the list" onClick=${() => ctl.set({ selected: null })}>←</button>
        <div class="chat-title">
          <h2>${name}</h2>
          <div class="small muted">
            ${conv.userConnected ? html`<span class="presence on">online</span>` : html`<span class="presence">left the chat</span>`}
            ${c.reason ? html` · ${c.reason}` : ""}
          </div>
        </div>
        <button type="button" class="btn btn-ghost details-toggle" aria-expanded=${s.showDetails ? "true" : "false"}
          onClick=${() => ctl.set({ showDetails: !s.showDetails })}>Details</button>
        ${!conv.ended && html`
          <button type="button" class="btn" onClick=${() => ctl.open("transfer", { cid: conv.id })}>Transfer</button>
          <button type="button" class="btn btn-danger" aria-label="Close conversation" onClick=${() => ctl.open("close", { cid: conv.id })}>Close</button>`}
        ${conv.ended && html`<button type="button" class="btn" onClick=${() => ctl.dismiss(conv.id)}>Dismiss</button>`}
      </header>
      ${conv.note && html`
        <div class="handover-note" role="note">
          <strong>Note from ${conv.fromAgentId ? agentName(conv.fromAgentId) : "the previous agent"}:</strong> <span>${conv.note}</span>
        </div>`}
      <div class="log-wrap" ref=${logRef}>
        <${Transcript} items=${conv.transcript} name=${name} />
        <div class="log" role="log" aria-live="polite" aria-label=${"Chat with " + name}>
          ${messages.length === 0 && conv.pending.length === 0 && html`<p class="empty">No messages yet.</p>`}
          ${messages.map((m) => html`
            <div key=${"s" + m.seq} class=${"msg msg-" + (m.sender === "user" ? "user" : "agent")} data-seq=${m.seq}>
              <div class="msg-meta">${m.sender === "user" ? name : agentName(m.agent_id)} · ${clock(m.sent_at)}</div>
              <div class="bubble">${m.text}</div>
              ${m.sender === "agent" && html`<${Tick} state=${deliveryState(conv, m)} />`}
            </div>`)}
          ${conv.pending.map((p) => html`
            <div key=${"p" + p.client_msg_id} class="msg msg-agent msg-pending">
              <div class="msg-meta">You</div>
              <div class="bubble">${p.text}</div>
              <${Tick} state=${p.state} />
            </div>`)}
        </div>
        ${conv.userTyping && html`<p class="typing" aria-live="polite">${name} is typing…</p>`}
      </div>
      ${conv.ended
        ? html`<div class="ended" role="status">${ENDED[conv.ended.kind](conv.ended)}</div>`
        : html`<${Composer} s=${s} conv=${conv} ctl=${ctl} />`}
    </div>`;
}
