// The console's behaviour: signs in, keeps the /agent socket, folds every server event
// into the store and carries out what the agent asks. Components call these actions
// and read the store; they never talk to the server themselves.
import { api } from "./api.js";
import { AgentSocket } from "./socket.js";
import { session, loadPrefs, savePrefs } from "./prefs.js";
import { beep, notify, askPermission } from "./alerts.js";
import { idle } from "./idle.js";
import { initialState } from "./store.js";
import { newConversation, mergeMessages, lastSeq, personName } from "./conversations.js";
import { STATUS_KEY, explain } from "./messages.js";

const TYPING_REPEAT_MS = 2500;
const TYPING_STOP_MS = 3000;

export class Controller {
  constructor(store) {
    this.store = store;
    this.socket = null;
    this.prefs = loadPrefs();
    this.seenQueue = new Set();
    this.typingState = {}; // cid -> {sentAt, timer}
    this.msgCounter = 0;
    idle.onActive(() => this._backFromAway());
    // What arrived while the tab was hidden counts as unread until the agent looks.
    document.addEventListener("visibilitychange", () => {
      const { selected } = this.state;
      if (!document.hidden && selected) this.updateConv(selected, () => ({ unread: 0 }));
    });
    // Checked often enough for a short away_after_seconds, cheaply (no server call).
    setInterval(() => this._checkIdle(), 1000);
  }

  get state() { return this.store.get(); }
  set(patch) { this.store.update(patch); }
  setError(key, message) {
    this.store.update((s) => ({ errors: { ...s.errors, [key]: message || undefined } }));
  }
  updateConv(cid, fn) {
    this.store.update((s) => {
      const conv = s.convs[cid];
      if (!conv) return null;
      return { convs: { ...s.convs, [cid]: { ...conv, ...fn(conv) } } };
    });
  }

  // --- session -------------------------------------------------------------------
  async resume() {
    const token = session.token();
    const notice = session.notice();
    session.setNotice(null);
    if (!token) { this.set({ screen: "signin", notice }); return; }
    await this._start(token);
  }

  async signIn(email, password) {
    askPermission();
    const data = await api.login(email, password); // ApiError shown by the form
    session.save(data.token);
    try { sessionStorage.removeItem(STATUS_KEY); } catch (err) { /* private mode */ }
    await this._start(data.token);
  }

  async _start(token) {
    let me;
    try {
      me = await api.me(token);
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        this.signOut(explain(err));
      } else {
        this.set({ screen: "signin", notice: err.message });
      }
      return;
    }
    this.set({ ...initialState(), screen: "workspace", token, me, status: "offline",
      connection: "connecting" });
    this._loadCanned();
    this.socket = new AgentSocket(token, {
      onConnect: (first) => this._connected(first),
      onDisconnect: () => { if (this.state.screen === "workspace") this.set({ connection: "reconnecting" }); },
      onUnauthorized: (message) => this.signOut(explain({ code: "unauthorized", message })),
      onEvent: (name, data) => this._event(name, data),
    });
  }

  signOut(notice = null) {
    if (this.socket) { this.socket.close(); this.socket = null; }
    session.clear();
    try { sessionStorage.removeItem(STATUS_KEY); } catch (err) { /* private mode */ }
    this.seenQueue = new Set();
    this.set({ ...initialState(), screen: "signin", notice });
  }

  async _connected(first) {
    this.set({ connection: "online" });
    let wanted = "offline";
    try { wanted = sessionStorage.getItem(STATUS_KEY) || "offline"; } catch (err) { /* ignore */ }
    await this.setStatus(wanted, { quiet: true });
    await this.refreshQueue(first);
    // Catch up what was said while we were away, for every conversation we still show.
    for (const conv of Object.values(this.state.convs)) {
      if (!conv.ended) this._catchUp(conv.id);
    }
    this._flushPending();
  }

  // --- status --------------------------------------------------------------------
  async setStatus(status, { quiet = false, auto = false } = {}) {
    if (!this.socket) return;
    this.setError("status", null);
    try {
      const ack = await this.socket.call("set_status", { status });
      try { sessionStorage.setItem(STATUS_KEY, status); } catch (err) { /* ignore */ }
      this.set((s) => ({ status: ack.agent.status, autoAway: auto,
        me: { ...s.me, capacity: ack.agent.capacity, load: ack.agent.load } }));
    } catch (err) {
      if (!quiet) this.setError("status", explain(err));
    }
  }

  _checkIdle() {
    const s = this.state;
    const after = s.me && Number(s.me.away_after_seconds);
    if (!after || s.status !== "online" || s.connection !== "online") return;
    if (idle.idleMs() >= after * 1000 && !this.goingAway) {
      this.goingAway = true;
      this.setStatus("away", { quiet: true, auto: true }).finally(() => { this.goingAway = false; });
    }
  }

  _backFromAway() {
    // Only undo an away the console set itself; an agent who chose away stays away.
    const s = this.state;
    if (s.autoAway && s.status === "away" && s.connection === "online") {
      this.set({ autoAway: false });
      this.setStatus("online", { quiet: true });
    }
  }

  // --- queue ---------------------------------------------------------------------
  async refreshQueue(first = false) {
    if (!this.socket) return;
    try {
      const ack = await this.socket.call("queue", {});
      const queue = {};
      for (const entry of ack.conversations || []) {
        (queue[entry.bot_id] = queue[entry.bot_id] || []).push(entry);
      }
      this._noteQueue(ack.conversations || [], first);
      this.set({ queue, offline: ack.offline_messages || [] });
    } catch (err) {
      this.setError("queue", explain(err));
    }
  }

  _noteQueue(entries, silent) {
    const fresh = entries.filter((e) => !this.seenQueue.has(e.conversation_id));
    for (const e of entries) this.seenQueue.add(e.conversation_id);
    if (!silent && fresh.length) this._alert("New conversation waiting", personName(fresh[0]));
  }

  async accept(cid) {
    this.setError("take:" + cid, null);
    this.setError("queue", null);
    try {
      const ack = await this.socket.call("accept", { conversation_id: cid });
      this._assigned({ conversation: ack.conversation, messages: [], transcript: [] }, { select: true });
    } catch (err) {
      // Said by the queue, not only by the entry: the entry itself goes away.
      const entry = Object.values(this.state.queue).flat().find((e) => e.conversation_id === cid);
      const message = explain(err);
      this.setError("take:" + cid, message);
      this.setError("queue", `${entry ? personName(entry) : "That conversation"}: ${message}`);
      this.refreshQueue();
    }
  }

  async markHandled(botId, messageId) {
    this.setError("handled:" + messageId, null);
    try {
      await api.offlineHandled(this.state.token, botId, messageId);
      this.set((s) => ({ offline: s.offline.filter((m) => m.id !== messageId) }));
    } catch (err) {
      this._apiFailed(err, "handled:" + messageId);
    }
  }

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
        this.updateConv(cid, () => ({ ended: { kind: "transferred", to: d.to_agent_id || d.to_team } }));
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
        break;
    }
  }

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
    let newUser;
    [conv, newUser] = mergeMessages(conv, d.messages);
    this.store.update((s) => {
      const order = s.order.includes(cid) ? s.order : [cid, ...s.order];
      const selected = select || !s.selected || (s.convs[s.selected] && s.convs[s.selected].ended && isNew)
        ? cid : s.selected;
      if (selected !== cid && isNew) conv.unread = newUser;
      return { convs: { ...s.convs, [cid]: conv }, order, selected };
    });
    if (isNew && !select) this._alert("New conversation", personName(d.conversation));
    if (isNew) this._loadAgents(d.conversation.bot_id);
    this._catchUp(cid, isNew ? 0 : undefined);
  }

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
  }

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
  }

  _userMessage(cid, d) {
    const added = this._merge(cid, [{ seq: d.seq, sender: "user", text: d.text, sent_at: d.sent_at,
      agent_id: null, client_msg_id: null }]);
    this.updateConv(cid, () => ({ userTyping: false }));
    const conv = this.state.convs[cid];
    if (added && conv && (document.hidden || this.state.selected !== cid)) {
      this._alert(`${personName(conv.conversation)} wrote`, d.text);
    }
  }

  _alert(title, body) {
    if (this.prefs.sound) beep();
    if (this.prefs.notifications) notify(title, body);
  }

  // --- conversation actions -----------------------------------------------------
  select(cid) {
    this.store.update((s) => {
      const conv = s.convs[cid];
      if (!conv) return null;
      return { selected: cid, convs: { ...s.convs, [cid]: { ...conv, unread: 0 } } };
    });
  }

  move(delta) {
    const { order, selected } = this.state;
    if (!order.length) return;
    const at = order.indexOf(selected);
    const next = order[(at + delta + order.length) % order.length];
    this.select(next);
  }

  dismiss(cid) {
    this.store.update((s) => {
      const convs = { ...s.convs };
      delete convs[cid];
      const order = s.order.filter((id) => id !== cid);
      return { convs, order, selected: s.selected === cid ? order[0] || null : s.selected };
    });
  }

  /** Send; resolves true when the composer may clear its text. */
  async sendMessage(cid, text) {
    this.setError("composer:" + cid, null);
    this.stopTyping(cid);
    const clientMsgId = `c${Date.now().toString(36)}${(this.msgCounter++).toString(36)}`;
    const item = { client_msg_id: clientMsgId, text, state: this.socket.connected ? "sending" : "waiting" };
    this.updateConv(cid, (c) => ({ pending: [...c.pending, item] }));
    if (!this.socket.connected) return true; // kept as pending; sent again on reconnect
    return this._sendPending(cid, item);
  }

  async _sendPending(cid, item) {
    try {
      const ack = await this.socket.call("send_message",
        { conversation_id: cid, text: item.text, client_msg_id: item.client_msg_id });
      this._merge(cid, [ack.message]);
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
  }

  _flushPending() {
    for (const conv of Object.values(this.state.convs)) {
      for (const item of conv.pending) this._sendPending(conv.id, item);
    }
  }

  typing(cid) {
    const t = this.typingState[cid] || (this.typingState[cid] = { sentAt: 0, timer: null });
    const now = Date.now();
    if (now - t.sentAt > TYPING_REPEAT_MS) {
      t.sentAt = now;
      this.socket && this.socket.send("typing", { conversation_id: cid, typing: true });
    }
    clearTimeout(t.timer);
    t.timer = setTimeout(() => this.stopTyping(cid), TYPING_STOP_MS);
  }

  stopTyping(cid) {
    const t = this.typingState[cid];
    if (!t || !t.sentAt) return;
    clearTimeout(t.timer);
    t.sentAt = 0;
    this.socket && this.socket.send("typing", { conversation_id: cid, typing: false });
  }

  async transfer(cid, target, note) {
    const body = { conversation_id: cid, ...target };
    if (note) body.note = note;
    await this.socket.call("transfer", body); // errors go to the dialog
    this.updateConv(cid, () => ({ ended: { kind: "transferred", to: target.to_agent_id || target.to_team } }));
  }

  async close(cid, outcome) {
    const ack = await this.socket.call("close", { conversation_id: cid, outcome });
    this.updateConv(cid, () => ({ conversation: ack.conversation, ended: { kind: "closed", reason: "resolved" } }));
  }

  async loadNotes(cid) {
    try {
      const data = await api.notes(this.state.token, cid);
      this.updateConv(cid, () => ({ notes: data.notes || [] }));
    } catch (err) {
      this.updateConv(cid, () => ({ notes: [] }));
      this._apiFailed(err, "notes:" + cid);
    }
  }

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
  }

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
  }

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
  }

  async saveCanned(botId, id, shortcut, text) {
    const token = this.state.token;
    const saved = id
      ? await api.updateCanned(token, botId, id, { shortcut, text })
      : await api.createCanned(token, botId, { shortcut, text });
    this.set((s) => {
      const list = (s.canned[botId] || []).filter((c) => c.id !== saved.id);
      return { canned: { ...s.canned, [botId]: [...list, saved].sort((a, b) => a.shortcut.localeCompare(b.shortcut)) } };
    });
  }

  async deleteCanned(botId, id) {
    await api.deleteCanned(this.state.token, botId, id);
    this.set((s) => ({ canned: { ...s.canned, [botId]: (s.canned[botId] || []).filter((c) => c.id !== id) } }));
  }

  _apiFailed(err, key) {
    if (err.status === 401) this.signOut(explain(err));
    else this.setError(key, explain(err));
  }

  _loadAgents(botId) {
    this.agentsLoaded = this.agentsLoaded || new Set();
    if (this.agentsLoaded.has(botId)) return;
    this.agentsLoaded.add(botId);
    api.botAgents(this.state.token, botId).then((data) => this.rememberAgents(data.agents || []))
      .catch(() => this.agentsLoaded.delete(botId));
  }

  rememberAgents(agents) {
    this.set((s) => {
      const names = { ...(s.agentNames || {}) };
      for (const a of agents) names[a.id] = a.name;
      return { agentNames: names };
    });
  }

  // --- dialogs and settings --------------------------------------------------------
  open(kind, extra = {}) { this.set({ dialog: { kind, ...extra } }); }
  closeDialog() { this.set({ dialog: null }); }
  setPref(name, value) {
    this.prefs = { ...this.prefs, [name]: value };
    savePrefs(this.prefs);
    if (name === "notifications" && value) askPermission();
    this.set({}); // re-render the switches
  }
}
