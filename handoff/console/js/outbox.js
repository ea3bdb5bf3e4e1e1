// Messages the agent sent that the server has not acknowledged yet, kept for the tab
// (sessionStorage, per agent): a reload or a crash before the ack sends them again with the
// same client_msg_id, which the server stores once. Best effort: storage may be off or full.
const PREFIX = "handoff.console.outbox.";

function safe(fn, fallback) {
  try { return fn(); } catch (err) { return fallback; }
}

/** Write the unacknowledged messages of the conversations this tab shows. A conversation
 * it does not show (yet: a reload before conversation_assigned) keeps what was saved. */
export function saveOutbox(agentId, convs) {
  const out = readAll(agentId);
  for (const conv of Object.values(convs)) {
    if (conv.pending && conv.pending.length && !conv.ended) {
      out[conv.id] = conv.pending.map(({ client_msg_id, text }) => ({ client_msg_id, text }));
    } else {
      delete out[conv.id];
    }
  }
  const text = JSON.stringify(out);
  if (text === "{}") safe(() => sessionStorage.removeItem(PREFIX + agentId));
  else safe(() => sessionStorage.setItem(PREFIX + agentId, text));
}

function readAll(agentId) {
  const all = safe(() => JSON.parse(sessionStorage.getItem(PREFIX + agentId) || "{}"), {});
  return all && typeof all === "object" && !Array.isArray(all) ? all : {};
}

/** The messages saved for one conversation ([] when none or unreadable). */
export function savedFor(agentId, cid) {
  const items = readAll(agentId)[cid];
  if (!Array.isArray(items)) return [];
  return items.filter((i) => i && typeof i.client_msg_id === "string" && typeof i.text === "string");
}

export function clearOutbox(agentId) {
  safe(() => sessionStorage.removeItem(PREFIX + agentId));
}
