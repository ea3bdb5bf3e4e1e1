// The console's behaviour: signs in, keeps the /agent socket, sets the status, follows the
// queue. Folding server events in (events.js) and the conversation and canned-response
// actions (conversation_actions.js) are mixed in below. Components call these actions and
// read the store; they never talk to the server themselves.
import { api } from "./api.js";
import { AgentSocket } from "./socket.js";
import { session, loadPrefs, savePrefs } from "./prefs.js";
import { askPermission } from "./alerts.js";
import { idle } from "./idle.js";
import { initialState } from "./store.js";
import { personName } from "./conversations.js";
import { STATUS_KEY, explain } from "./messages.js";
import { eventHandlers } from "./events.js";
import { conversationActions } from "./conversation_actions.js";
import { oversightActions } from "./oversight.js";
import { clearOutbox, saveOutbox } from "./outbox.js";
import { hashFor, parseHash } from "./pages.js";

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
    // Unacknowledged messages outlive a reload (outbox.js); written only when they change.
    let lastConvs = null;
    store.subscribe((s) => {
      if (s.convs === lastConvs || !s.me) return;
      lastConvs = s.convs;
      saveOutbox(s.me.id, s.convs);
    });
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

  // --- pages ---------------------------------------------------------------------
  /** Opens a page (pages.js); the address bar follows, so Back and a reload keep it. */
  go(page, ...rest) {
    const hash = hashFor(page, ...rest);
    if (location.hash !== hash) location.hash = hash; // hashchange calls followHash
    else this.followHash();
  }
  followHash() { this.set({ route: parseHash(location.hash) }); }

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
    if (this.state.me) clearOutbox(this.state.me.id);
    session.clear();
    try { sessionStorage.removeItem(STATUS_KEY); } catch (err) { /* private mode */ }
    this.seenQueue = new Set();
    this.set({ ...initialState(), screen: "signin", notice });
  }

  async _connected(first) {
    this.connectedAt = Date.now();
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
    this._rewatch();
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

Object.assign(Controller.prototype, eventHandlers, conversationActions, oversightActions);
