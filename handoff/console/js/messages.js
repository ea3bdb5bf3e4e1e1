// Server error codes as an agent reads them. The server's own message is kept when it
// says more than a generic line would.
export const STATUS_KEY = "handoff.console.status";

const PLAIN = {
  already_assigned: "Taken by another agent a moment ago (or you are at capacity).",
  not_queued: "This conversation is no longer waiting: another agent took it, or it ended.",
  not_online: "Set your status to Online to take conversations.",
  not_your_conversation: "This conversation is no longer yours.",
  conversation_closed: "This conversation has ended.",
  agent_unavailable: "That agent cannot take it now (not online, or at capacity).",
  unknown_agent: "That agent has not connected since the server started.",
  unknown_team: "No agent of this bot belongs to that team.",
  rate_limited: "Too many requests at once. Wait a moment and try again.",
  storage_unavailable: "The server cannot store this right now. Try again in a moment.",
  invalid_credentials: "Wrong email or password.",
};

export function explain(err) {
  if (!err) return "";
  const code = err.code;
  if (code === "unauthorized") {
    const m = err.message || "";
    if (/expired/i.test(m)) return "Your session has expired. Sign in again.";
    return `You were signed out: ${m || "your sign-in is no longer valid"}. Sign in again.`;
  }
  if (code === "agent_disabled") return "This account is disabled. Ask an administrator.";
  if (code === "message_too_large") return `Too long to send: ${err.message}`;
  if (PLAIN[code]) return PLAIN[code];
  return err.message || "Something went wrong.";
}
