// A supervisor's watch on one conversation and stepping in, as methods mixed into the
// Controller (controller.js). The watched conversation is kept apart from the agent's own
// (s.watching, not s.convs): it is read-only. Taking it over makes it an ordinary
// conversation of the Inbox through the same code as accept.
import { mergeMessages } from "./conversations.js";
import { explain } from "./messages.js";

function watched(ack) {
  const conv = {
    id: ack.conversation.conversation_id,
    conversation: ack.conversation,
    messages: {},
    pending: [],
    transcript: ack.transcript || [],
    userConnected: ack.user_connected !== false,
    typing: { user: false, agent: false },
    error: null,
  };
  return mergeMessages(conv, ack.messages || [])[0];
}

export const oversightActions = {
  /** Follow a conversation read-only; a watch of another one ends the previous. */
  async watch(cid) {
    this.setError("watch:" + cid, null);
    const before = this.state.watching;
    try {
      const ack = await this.socket.call("watch_conversation", { conversation_id: cid });
      if (before && before.id !== cid) this.socket.send("unwatch_conversation", { conversation_id: before.id });
      this.set({ watching: watched(ack) });
      return true;
    } catch (err) {
      this.setError("watch:" + cid, explain(err));
      return false;
    }
  },

  unwatch() {
    const w = this.state.watching;
    if (!w) return;
    if (this.socket) this.socket.send("unwatch_conversation", { conversation_id: w.id });
    this.set({ watching: null });
  },

  /** After a reconnect the watch room is gone: join it again, catching up from the last seq. */
  async _rewatch() {
    const w = this.state.watching;
    if (!w || w.conversation.state === "closed") return;
    const seqs = Object.keys(w.messages).map(Number);
    const after = seqs.length ? Math.max(...seqs) : undefined;
    try {
      const ack = await this.socket.call("watch_conversation",
        after === undefined ? { conversation_id: w.id } : { conversation_id: w.id, after_seq: after });
      this._updateWatch(w.id, (c) => ({ ...mergeMessages(c, ack.messages || [])[0],
        conversation: ack.conversation, userConnected: ack.user_connected !== false, error: null }));
    } catch (err) {
      this._updateWatch(w.id, () => ({ error: explain(err) }));
    }
  },

  _updateWatch(cid, fn) {
    this.store.update((s) => (s.watching && s.watching.id === cid
      ? { watching: { ...s.watching, ...fn(s.watching) } } : null));
  },

  _watchEvent(name, d) {
    const cid = d.conversation_id || (d.conversation && d.conversation.conversation_id);
    switch (name) {
      case "watched_message":
        this._updateWatch(cid, (c) => ({ ...mergeMessages(c, [d.message])[0],
          typing: { ...c.typing, [d.message.sender === "user" ? "user" : "agent"]: false } }));
        break;
      case "watched_typing":
        this._updateWatch(cid, (c) => ({ typing: { ...c.typing, [d.sender]: !!d.typing } }));
        break;
      case "watched_transcript":
        if ((d.messages || []).length) this._updateWatch(cid, () => ({ transcript: d.messages }));
        break;
      case "watched_state":
        this._updateWatch(cid, (c) => ({ conversation: d.conversation,
          typing: d.conversation.state === "assigned" ? c.typing : { user: false, agent: false } }));
        break;
      default:
        break;
    }
  },

  /** Take the conversation: it opens in the Inbox, as a conversation taken from the queue. */
  async takeOver(cid) {
    this.setError("takeover:" + cid, null);
    try {
      const ack = await this.socket.call("take_over", { conversation_id: cid });
      if (this.state.watching && this.state.watching.id === cid) this.unwatch();
      this._assigned({ conversation: ack.conversation, messages: [], transcript: [] }, { select: true });
      this.go("inbox");
      return true;
    } catch (err) {
      this.setError("takeover:" + cid, explain(err));
      return false;
    }
  },
};
