// The one native messaging port of the background, as a small state machine:
//
//   closed ──open()──> connecting ──status answered, same protocol──> ready
//      ▲                   │ disconnect / timeout / protocol differs      │ disconnect (host exited),
//      └───────────────────┴──────────────────────────────────────────────┘ idle close, close()
//
// A request made in any state opens the port first; after the host exits the next request
// reconnects. The first message on a new port is the host's `status`: it gives the host's
// version and protocol (ERR_CPS_VERSION_MISMATCH when the protocol differs). A port that
// never answers is ERR_CPS_NATIVE_UNAVAILABLE (the host is not installed or cannot start).
// While open, the port keeps a Chromium service worker alive; it closes after a quiet while
// (idleCloseMs) so that the worker may sleep, and re-opens on the next request.
import { CpsError } from "./cps-error.js";

export const HOST_NAME = "fr.viatrajectoire.cpsbridge";
export const PROTOCOL = 1;
/** How long a new port's host has to start and answer its first `status`. */
export const HANDSHAKE_TIMEOUT_MS = 20000;

export class NativePort {
  /**
   * @param {() => object} connect  returns a runtime.Port (runtime.connectNative(HOST_NAME))
   * @param {(port) => string|undefined} lastError  why a port disconnected
   */
  constructor({ connect, lastError = () => undefined,
                handshakeTimeoutMs = HANDSHAKE_TIMEOUT_MS, idleCloseMs = 10 * 60 * 1000,
                protocol = PROTOCOL } = {}) {
    this.connect = connect;
    this.lastError = lastError;
    this.handshakeTimeoutMs = handshakeTimeoutMs;
    this.idleCloseMs = idleCloseMs;
    this.protocol = protocol;
    this.state = "closed";
    this.port = null;
    this.opening = null;
    this.hostStatus = null; // the last status the host gave (also after a mismatch)
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.listeners = new Set();
    this.watching = false;
    this.idleTimer = null;
    this.counter = 0;
    this.disconnects = 0;
  }

  /** Opens the port when needed; resolves with the host's status. */
  open() {
    if (this.state === "ready") return Promise.resolve(this.hostStatus);
    if (this.state === "connecting") return this.opening;
    this.state = "connecting";
    let port;
    try {
      port = this.connect();
    } catch (err) {
      this.state = "closed";
      return Promise.reject(new CpsError("ERR_CPS_NATIVE_UNAVAILABLE",
        { reason: String((err && err.message) || err) }));
    }
    this.port = port;
    port.onMessage.addListener((msg) => this._onMessage(port, msg));
    port.onDisconnect.addListener(() => this._onDisconnect(port));
    this.opening = this._send(port, "status", undefined, this.handshakeTimeoutMs)
      .then((status) => {
        if (this.port !== port) throw new CpsError("ERR_CPS_NATIVE_UNAVAILABLE", { reason: "closed" });
        this.hostStatus = status;
        if (!status || status.protocol !== this.protocol) {
          this._abandon(port);
          throw new CpsError("ERR_CPS_VERSION_MISMATCH", {
            hostVersion: status && status.version, hostProtocol: status && status.protocol,
            extensionProtocol: this.protocol });
        }
        this.state = "ready";
        if (this.listeners.size) this._watch(true);
        this._touch();
        return status;
      }, (err) => {
        if (this.port === port) this._abandon(port);
        if (err.code === "ERR_CPS_INTERNAL" && err.details && err.details.reason === "timeout") {
          throw new CpsError("ERR_CPS_NATIVE_UNAVAILABLE", { reason: "the host did not answer" });
        }
        throw err;
      });
    return this.opening;
  }

  /** One host command; rejects with a CpsError carrying the host's code. */
  async request(command, args = undefined, { timeoutMs = 30000, onId } = {}) {
    await this.open();
    const port = this.port;
    return this._send(port, command, args, timeoutMs, onId);
  }

  /** Ends a pending `list-certificates` wait in the host (answers are ignored). */
  cancel(requestId) {
    if (this.state !== "ready" || !requestId) return;
    this._send(this.port, "cancel", { requestId }, 5000).catch(() => {});
  }

  /** Listens to host events (reader/card); the port watches while someone listens. */
  addEventListener(fn) {
    this.listeners.add(fn);
    if (this.state === "ready" && !this.watching) this._watch(true);
    return () => {
      this.listeners.delete(fn);
      if (!this.listeners.size && this.watching && this.state === "ready") this._watch(false);
      this._touch();
    };
  }

  close() {
    if (this.port) this._abandon(this.port);
  }

  // -- inside ---------------------------------------------------------------------------

  _send(port, command, args, timeoutMs, onId) {
    const id = `c${++this.counter}`;
    if (onId) onId(id);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new CpsError("ERR_CPS_INTERNAL", { reason: "timeout", command }));
        this._touch();
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer, port });
      const msg = { id, command };
      if (args !== undefined) msg.arguments = args;
      try {
        port.postMessage(msg);
      } catch (err) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new CpsError("ERR_CPS_NATIVE_UNAVAILABLE", { reason: String(err && err.message) }));
      }
      if (this.idleTimer) {
        clearTimeout(this.idleTimer);
        this.idleTimer = null;
      }
    });
  }

  _watch(on) {
    this.watching = on;
    this._send(this.port, on ? "watch" : "unwatch", undefined, 10000).catch(() => {
      if (on) this.watching = false;
    });
  }

  _onMessage(port, msg) {
    if (port !== this.port || !msg || typeof msg !== "object") return;
    if (typeof msg.event === "string") {
      for (const fn of [...this.listeners]) {
        try {
          fn(msg);
        } catch {
          // a listener's failure is its own
        }
      }
      return;
    }
    const entry = typeof msg.id === "string" ? this.pending.get(msg.id) : undefined;
    if (!entry) return; // a late answer to a request that timed out, or an id-less error
    this.pending.delete(msg.id);
    clearTimeout(entry.timer);
    if (msg.error) {
      const e = msg.error;
      entry.reject(new CpsError(e.code, e.details, e.message));
    } else {
      entry.resolve(msg.result === undefined ? {} : msg.result);
    }
    this._touch();
  }

  _onDisconnect(port) {
    if (port !== this.port) return;
    const wasReady = this.state === "ready";
    const reason = this.lastError(port) || "the host exited";
    this.disconnects += 1;
    this._drop(port, wasReady
      ? new CpsError("ERR_CPS_INTERNAL", { reason })
      : new CpsError("ERR_CPS_NATIVE_UNAVAILABLE", { reason }));
    for (const fn of [...this.listeners]) {
      try {
        fn({ event: "host-disconnected", data: { reason } });
      } catch {
        // ignore
      }
    }
  }

  _abandon(port) {
    this._drop(port);
    try {
      port.disconnect();
    } catch {
      // already gone
    }
  }

  _drop(port, error = new CpsError("ERR_CPS_INTERNAL", { reason: "closed" })) {
    if (this.port === port) {
      this.port = null;
      this.state = "closed";
      this.opening = null;
      this.watching = false;
    }
    for (const [id, entry] of this.pending) {
      if (entry.port !== port) continue;
      this.pending.delete(id);
      clearTimeout(entry.timer);
      entry.reject(error);
    }
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
    }
  }

  _touch() {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    if (this.state !== "ready" || this.pending.size || this.listeners.size) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (!this.pending.size && !this.listeners.size) this.close();
    }, this.idleCloseMs);
  }
}
