// How the console folds each /agent event into the store (docs/protocol.md, "Server →
// agent"), as methods mixed into the Controller (controller.js).
import { newConversation, mergeMessages, lastSeq, personName } from "./conversations.js";
import { beep, notify } from "./alerts.js";
import { savedFor } from "./outbox.js";

export const eventHandlers = {
  // --- events --------------------------------------------------------------------
  _event(name, d) {
    const cid = d.conversation_id;
    switch (name) {
      case "queue_updated":
        this._noteQueue(d.conversations || [], false);
        this.set((s) => ({ queue: { ...s.queue, [d.bot_id]: d.conversations || [] } }));
        break;
      case "conversation_assigned":
        this._assigned(d, {});
        break;
      case "transcript":
        if ((d.messages || []).length) this.updateConv(cid, () => ({ transcript: d.messages }));
        break;
      case "user_message":
        this._userMessage(cid, d);
        break;
      case "user_typing":
        this.updateConv(cid, () => ({ userTyping: !!d.typing }));
        break;
      case "user_left":
        this.updateConv(cid, () => ({ userConnected: false, userTyping: false }));
        break;
      case "user_returned":
        this.updateConv(cid, () => ({ userConnected: true }));
        break;
      case "messages_delivered":
        this.updateConv(cid, (c) => ({ delivered: Math.max(c.delivered, Number(d.seq) || 0) }));
        break;
      case "conversation_closed":
        this.updateConv(cid, () => ({ ended: { kind: "closed", reason: d.reason }, userTyping: false }));
        break;
      case "conversation_released":
        this.updateConv(cid, () => ({ ended: { kind: "released", reason: d.reason } }));
        break;
      case "conversation_transferred":
        this.updateConv(cid, () => ({ ended: { kind: "transferred", to: d.to_agent_id || d.to_team,
          byName: d.by_agent_id ? d.by_agent_name || "A supervisor" : null, took: d.by_agent_id && d.by_agent_id === d.to_agent_id } }));
        break;
      case "note_added":
        this.updateConv(cid, (c) => (c.notes && !c.notes.some((n) => n.id === d.note.id)
          ? { notes: [...c.notes, d.note] } : {}));
        break;
      case "offline_message":
        this.set((s) => (s.offline.some((m) => m.id === d.message.id) ? null
          : { offline: [d.message, ...s.offline] }));
        this._alert("New message left", personName(d.message));
        break;
      case "offline_message_handled":
        this.set((s) => ({ offline: s.offline.filter((m) => m.id !== d.message_id) }));
        break;
      default:
        if (name.startsWith("watched_")) this._watchEvent(name, d); // oversight.js
        break;
    }
  },

  _assigned(d, { select = false }) {
    const cid = d.conversation.conversation_id;
    const known = this.state.convs[cid];
    const isNew = !known || !!known.ended;
    let conv = known && !known.ended ? { ...known } : newConversation(d);
    conv.conversation = d.conversation;
    conv.tags = d.conversation.tags || conv.tags;
    if ((d.transcript || []).length) conv.transcript = d.transcript;
    if (d.note !== undefined && d.note !== null) conv.note = d.note;
    if (d.from_agent_id) conv.fromAgentId = d.from_agent_id;
    if (typeof d.user_connected === "boolean") conv.userConnected = d.user_connected;
    // Where a reload left the delivery ticks: the server's mark, never below what we saw.
    conv.delivered = Math.max(conv.delivered || 0, Number(d.delivered_seq) || 0);
    if (!known) {
      // A reload: what this tab sent without an ack is sent again (same client_msg_id).
      const mine = new Set(conv.pending.map((p) => p.client_msg_id));
      const saved = savedFor(this.state.me.id, cid).filter((i) => !mine.has(i.client_msg_id));
      conv.pending = [...conv.pending, ...saved.map((i) => ({ ...i, state: "waiting" }))];
    }
    let newUser;
    [conv, newUser] = mergeMessages(conv, d.messages);
    this.store.update((s) => {
      const order = s.order.includes(cid) ? s.order : [cid, ...s.order];
      const selected = select || !s.selected || (s.convs[s.selected] && s.convs[s.selected].ended && isNew)
        ? cid : s.selected;
      if (selected !== cid && isNew) conv.unread = newUser;
      return { convs: { ...s.convs, [cid]: conv }, order, selected };
    });
    // A reload gets every held conversation again on connect: only a fresh one alerts.
    const assignedAt = Date.parse(d.conversation.assigned_at || "");
    const replay = !d.from_agent_id && assignedAt && this.connectedAt
      && assignedAt < this.connectedAt - 5000;
    if (isNew && !select && !replay) this._alert("New conversation", personName(d.conversation));
    if (isNew) this._loadAgents(d.conversation.bot_id);
    this._catchUp(cid, isNew ? 0 : undefined);
    if (!known) for (const item of conv.pending) this._sendPending(cid, item);
  },

  async _catchUp(cid, afterSeq) {
    const conv = this.state.convs[cid];
    if (!conv || !this.socket) return;
    const after = afterSeq === undefined ? lastSeq(conv) : afterSeq;
    try {
      const ack = await this.socket.call("history", { conversation_id: cid, after_seq: after, limit: 1000 });
      this._merge(cid, ack.messages || []);
    } catch (err) {
      // A conversation that left us meanwhile answers forbidden/closed: nothing to catch up.
    }
  },

  _merge(cid, messages) {
    let added = 0;
    this.store.update((s) => {
      const conv = s.convs[cid];
      if (!conv) return null;
      let [next, newUser] = mergeMessages(conv, messages);
      added = newUser;
      const away = s.selected !== cid || document.hidden;
      if (away && newUser) next = { ...next, unread: next.unread + newUser };
      return { convs: { ...s.convs, [cid]: next } };
    });
    return added;
  },

  _userMessage(cid, d) {
    const added = this._merge(cid, [{ seq: d.seq, sender: "user", text: d.text, sent_at: d.sent_at,
      agent_id: null, client_msg_id: null }]);
    this.updateConv(cid, () => ({ userTyping: false }));
    const conv = this.state.convs[cid];
    if (added && conv && (document.hidden || this.state.selected !== cid)) {
      this._alert(`${personName(conv.conversation)} wrote`, d.text);
    }
  },

  _alert(title, body) {
    if (this.prefs.sound) beep();
    if (this.prefs.notifications) notify(title, body);
  },
};
