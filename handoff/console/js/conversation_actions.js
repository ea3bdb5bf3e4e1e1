// What an agent does in a conversation and with canned responses, as methods mixed
// into the Controller (controller.js): each one calls the server and updates the store.
import { api } from "./api.js";
import { explain } from "./messages.js";

const TYPING_REPEAT_MS = 2500;
const TYPING_STOP_MS = 3000;

export const conversationActions = {
  // --- conversation actions -----------------------------------------------------
  select(cid) {
    this.store.update((s) => {
      const conv = s.convs[cid];
      if (!conv) return null;
      return { selected: cid, convs: { ...s.convs, [cid]: { ...conv, unread: 0 } } };
    });
  },

  move(delta) {
    const { order, selected } = this.state;
    if (!order.length) return;
    const at = order.indexOf(selected);
    const next = order[(at + delta + order.length) % order.length];
    this.select(next);
  },

  dismiss(cid) {
    this.store.update((s) => {
      const convs = { ...s.convs };
      delete convs[cid];
      const order = s.order.filter((id) => id !== cid);
      return { convs, order, selected: s.selected === cid ? order[0] || null : s.selected };
    });
  },

  /** Send; resolves true when the composer may clear its text. */
  async sendMessage(cid, text) {
    this.setError("composer:" + cid, null);
    this.stopTyping(cid);
    const clientMsgId = `c${Date.now().toString(36)}${(this.msgCounter++).toString(36)}`;
    const item = { client_msg_id: clientMsgId, text, state: this.socket.connected ? "sending" : "waiting" };
    this.updateConv(cid, (c) => ({ pending: [...c.pending, item] }));
    if (!this.socket.connected) return true; // kept as pending; sent again on reconnect
    return this._sendPending(cid, item);
  },

  async _sendPending(cid, item) {
    try {
      const ack = await this.socket.call("send_message",
        { conversation_id: cid, text: item.text, client_msg_id: item.client_msg_id });
      this._merge(cid, [ack.message]);
      // The sending socket learns delivery from its ack (the event goes only to other tabs).
      if (ack.delivered) {
        this.updateConv(cid, (c) => ({ delivered: Math.max(c.delivered, ack.message.seq) }));
      }
      return true;
    } catch (err) {
      if (err.code === "timeout") {
        this.updateConv(cid, (c) => ({ pending: c.pending.map((p) => (p === item ? { ...p, state: "waiting" } : p)) }));
        return true;
      }
      // Refused: nothing was stored. The text goes back to the composer with the reason.
      this.updateConv(cid, (c) => ({ pending: c.pending.filter((p) => p.client_msg_id !== item.client_msg_id) }));
      this.setError("composer:" + cid, explain(err));
      return false;
    }
  },

  _flushPending() {
    for (const conv of Object.values(this.state.convs)) {
      for (const item of conv.pending) this._sendPending(conv.id, item);
    }
  },

  typing(cid) {
    const t = this.typingState[cid] || (this.typingState[cid] = { sentAt: 0, timer: null });
    const now = Date.now();
    if (now - t.sentAt > TYPING_REPEAT_MS) {
      t.sentAt = now;
      this.socket && this.socket.send("typing", { conversation_id: cid, typing: true });
    }
    clearTimeout(t.timer);
    t.timer = setTimeout(() => this.stopTyping(cid), TYPING_STOP_MS);
  },

  stopTyping(cid) {
    const t = this.typingState[cid];
    if (!t || !t.sentAt) return;
    clearTimeout(t.timer);
    t.sentAt = 0;
    this.socket && this.socket.send("typing", { conversation_id: cid, typing: false });
  },

  async transfer(cid, target, note) {
    const body = { conversation_id: cid, ...target };
    if (note) body.note = note;
    await this.socket.call("transfer", body); // errors go to the dialog
    this.updateConv(cid, () => ({ ended: { kind: "transferred", to: target.to_agent_id || target.to_team } }));
  },

  async close(cid, outcome) {
    const ack = await this.socket.call("close", { conversation_id: cid, outcome });
    this.updateConv(cid, () => ({ conversation: ack.conversation, ended: { kind: "closed", reason: "resolved" } }));
  },

  async loadNotes(cid) {
    try {
      const data = await api.notes(this.state.token, cid);
      this.updateConv(cid, () => ({ notes: data.notes || [] }));
    } catch (err) {
      this.updateConv(cid, () => ({ notes: [] }));
      this._apiFailed(err, "notes:" + cid);
    }
  },

  async addNote(cid, text) {
    this.setError("notes:" + cid, null);
    try {
      const note = await api.addNote(this.state.token, cid, text);
      this.updateConv(cid, (c) => ({ notes: [...(c.notes || []).filter((n) => n.id !== note.id), note] }));
      return true;
    } catch (err) {
      this._apiFailed(err, "notes:" + cid);
      return false;
    }
  },

  async setTags(cid, tags) {
    this.setError("tags:" + cid, null);
    try {
      const data = await api.setTags(this.state.token, cid, tags);
      const saved = (data && (data.tags || (data.conversation && data.conversation.tags))) || tags;
      this.updateConv(cid, () => ({ tags: saved }));
      return true;
    } catch (err) {
      this._apiFailed(err, "tags:" + cid);
      return false;
    }
  },

  // --- canned responses ------------------------------------------------------------
  async _loadCanned() {
    const { me, token } = this.state;
    for (const botId of me.bots || []) {
      try {
        const data = await api.canned(token, botId);
        this.set((s) => ({ canned: { ...s.canned, [botId]: data.canned_responses || [] } }));
      } catch (err) {
        if (err.status === 401) { this._apiFailed(err, "canned"); return; }
      }
    }
  },

  async saveCanned(botId, id, shortcut, text) {
    const token = this.state.token;
    const saved = id
      ? await api.updateCanned(token, botId, id, { shortcut, text })
      : await api.createCanned(token, botId, { shortcut, text });
    this.set((s) => {
      const list = (s.canned[botId] || []).filter((c) => c.id !== saved.id);
      return { canned: { ...s.canned, [botId]: [...list, saved].sort((a, b) => a.shortcut.localeCompare(b.shortcut)) } };
    });
  },

  async deleteCanned(botId, id) {
    await api.deleteCanned(this.state.token, botId, id);
    this.set((s) => ({ canned: { ...s.canned, [botId]: (s.canned[botId] || []).filter((c) => c.id !== id) } }));
  },
};
