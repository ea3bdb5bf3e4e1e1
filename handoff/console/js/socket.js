// The /agent connection (docs/protocol.md, "Namespace /agent"). socket.io-client
// reconnects by itself when the transport drops; a refused connect (the server's
// middleware said no) is retried here unless the token is the reason. Every request
// is a call() that resolves to the ack's payload or rejects with the server's error.

const ACK_TIMEOUT_MS = 10000;

export class SocketError extends Error {
  constructor(code, message, field) {
    super(message);
    this.code = code;
    this.field = field || null;
  }
}

export class AgentSocket {
  /**
   * handlers: {onConnect(first), onDisconnect(reason), onUnauthorized(message),
   *            onEvent(name, payload)}
   */
  constructor(token, handlers) {
    this.handlers = handlers;
    this.connectedOnce = false;
    this.closed = false;
    this.retry = null;
    // global io from /console/vendor/socket.io.min.js (a classic script: the ES module
    // build would need its own dependencies vendored).
    this.socket = window.io(location.origin + "/agent", {
      auth: { token },
      // WebSocket first; long-polling if a proxy on the way refuses it.
      transports: ["websocket", "polling"],
      tryAllTransports: true,
      reconnectionDelay: 500,
      reconnectionDelayMax: 3000,
    });
    this.socket.on("connect", () => {
      const first = !this.connectedOnce;
      this.connectedOnce = true;
      handlers.onConnect(first);
    });
    this.socket.on("disconnect", (reason) => {
      handlers.onDisconnect(reason);
      // The server closed us (io server disconnect): it does not come back by itself.
      if (reason === "io server disconnect" && !this.closed) this._later();
    });
    this.socket.on("connect_error", (err) => {
      const code = err && err.data && err.data.code;
      if (code === "unauthorized" || code === "agent_disabled") {
        this.close();
        handlers.onUnauthorized((err.data && err.data.message) || "Your session has ended.");
        return;
      }
      handlers.onDisconnect("connect_error");
      // A refusal by the server (e.g. storage_unavailable) is not retried by the client.
      if (!this.socket.active) this._later();
    });
    this.socket.on("unauthorized", (data) => {
      this.close();
      handlers.onUnauthorized((data && data.message) || "Your session has ended.");
    });
    this.socket.onAny((event, payload) => {
      if (event !== "unauthorized") handlers.onEvent(event, payload || {});
    });
  }

  _later() {
    clearTimeout(this.retry);
    this.retry = setTimeout(() => { if (!this.closed) this.socket.connect(); }, 1500);
  }

  get connected() {
    return this.socket.connected;
  }

  async call(event, data) {
    let ack;
    try {
      ack = await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, data || {});
    } catch (err) {
      throw new SocketError("timeout", "The server did not answer in time. Check the connection and try again.");
    }
    if (!ack || ack.ok !== true) {
      const e = (ack && ack.error) || {};
      if (e.code === "unauthorized") {
        this.close();
        this.handlers.onUnauthorized(e.message || "Your session has ended.");
      }
      throw new SocketError(e.code || "error", e.message || "The server refused the request.", e.field);
    }
    return ack;
  }

  /** Fire and forget (typing): a lost one is harmless. */
  send(event, data) {
    if (this.socket.connected) this.socket.emit(event, data);
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    this.socket.disconnect();
  }
}
