// A conversation as the console holds it, and the pure functions that fold server events
// into it. Messages are keyed by seq (the server's per-conversation sequence), so a
// reconnect, a reload or a history catch-up can deliver the same message again and it
// is still shown once; an agent message not yet acknowledged waits under its
// client_msg_id until its seq comes back.

export function newConversation(payload) {
  return {
    id: payload.conversation.conversation_id,
    conversation: payload.conversation,
    messages: {}, // seq -> message
    pending: [], // {client_msg_id, text, state: "sending" | "failed", error}
    transcript: [],
    note: null,
    fromAgentId: null,
    userConnected: true,
    userTyping: false,
    unread: 0,
    delivered: 0, // agent messages up to this seq reached the widget
    ended: null, // null, or why it left this console: closed / transferred / released
    notes: null,
    tags: payload.conversation.tags || [],
  };
}

export function lastSeq(conv) {
  let max = 0;
  for (const key of Object.keys(conv.messages)) max = Math.max(max, Number(key));
  return max;
}

export function sortedMessages(conv) {
  return Object.values(conv.messages).sort((a, b) => a.seq - b.seq);
}

/** Fold messages in by seq; returns [conv, how many were new person messages]. */
export function mergeMessages(conv, messages) {
  const merged = { ...conv.messages };
  let newUser = 0;
  const acked = new Set();
  for (const m of messages || []) {
    if (typeof m.seq !== "number") continue;
    if (!merged[m.seq] && m.sender === "user") newUser += 1;
    merged[m.seq] = { ...merged[m.seq], ...m, conversation_id: conv.id };
    if (m.client_msg_id) acked.add(m.client_msg_id);
  }
  const pending = conv.pending.filter((p) => !acked.has(p.client_msg_id));
  return [{ ...conv, messages: merged, pending }, newUser];
}

/** The time the person has waited for an answer: since their oldest message after the
 * agent's last one, or null when the agent spoke last. */
export function waitingSince(conv) {
  const msgs = sortedMessages(conv);
  let since = null;
  for (let i = msgs.length - 1; i >= 0; i--) {
    if (msgs[i].sender !== "user") break;
    since = msgs[i].sent_at;
  }
  return since ? Date.parse(since) : null;
}

export function personName(entity) {
  const user = (entity && (entity.user || (entity.handoff_packet && entity.handoff_packet.user))) || {};
  const name = typeof user.name === "string" && user.name.trim() ? user.name.trim() : null;
  return name || "Visitor";
}

export function deliveryState(conv, message) {
  if (message.sender !== "agent") return null;
  return message.seq <= conv.delivered ? "delivered" : "stored";
}
