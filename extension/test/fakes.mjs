// Test doubles for node: what no real part can be inside node's test runner (a browser's
// runtime.Port to a native host, a dialog window). The real host and browsers are driven by
// tests/browser/; these fakes only let the background's logic run in node.

/** An event like runtime.Port.onMessage. */
export class FakeEvent {
  constructor() {
    this.listeners = new Set();
  }
  addListener(fn) { this.listeners.add(fn); }
  removeListener(fn) { this.listeners.delete(fn); }
  emit(...args) { for (const fn of [...this.listeners]) fn(...args); }
}

/** A native host behind a runtime.Port: `handler(command, args, msg)` answers requests with
 *  {result} / {error} / undefined (no answer); `sent` records every message. */
export class FakeNativeHost {
  constructor(handler = defaultHandler) {
    this.handler = handler;
    this.sent = [];
    this.ports = [];
    this.installed = true;
  }

  connect() {
    const host = this;
    const port = {
      onMessage: new FakeEvent(),
      onDisconnect: new FakeEvent(),
      error: undefined,
      connected: true,
      postMessage(msg) {
        if (!port.connected) throw new Error("Attempt to postMessage on disconnected port");
        // A browser serializes the message at once, as this copy does.
        const copy = structuredClone(msg);
        host.sent.push(copy);
        queueMicrotask(() => host._answer(port, structuredClone(copy)));
      },
      disconnect() { port.connected = false; },
    };
    this.ports.push(port);
    if (!this.installed) {
      queueMicrotask(() => {
        port.connected = false;
        port.error = { message: "Specified native messaging host not found." };
        port.onDisconnect.emit(port);
      });
    }
    return port;
  }

  get port() { return this.ports[this.ports.length - 1]; }

  async _answer(port, msg) {
    if (!port.connected) return;
    const out = await this.handler(msg.command, msg.arguments, msg, this);
    if (out === undefined || !port.connected) return;
    port.onMessage.emit({ id: msg.id, ...out });
  }

  /** The host process exits. */
  exit(reason = "Native host has exited.") {
    const port = this.port;
    port.connected = false;
    port.error = { message: reason };
    port.onDisconnect.emit(port);
  }

  event(name, data) {
    this.port.onMessage.emit({ event: name, data });
  }

  commands() { return this.sent.map((m) => m.command); }
}

export const HOST_STATUS = Object.freeze({
  version: "1.2.0", protocol: 1,
  pcsc: { available: true, readers: [{ name: "Virtual PCD 00 00", cardPresent: true,
                                       atr: "3BAC00402A00122500648000031000 9000", cardType: "CPS3" }] },
  pkcs11: { module: "/usr/lib/softhsm/libsofthsm2.so", loaded: true },
});

export function certificate(overrides = {}) {
  return {
    certificateId: "a".repeat(64), certificate: "MIIB", tokenLabel: "CPS3v3-2900995266",
    reader: null,
    holder: { idNat: "899700367917", idType: "RPPS", rpps: "99700367917", familyName: "DUPONT",
              givenName: "JEAN", title: "Médecin", cardType: "CPS" },
    notBefore: "2024-01-01T00:00:00Z", notAfter: "2029-01-01T00:00:00Z",
    pin: { minLength: 4, maxLength: 8, status: "ok", pinPad: false },
    ...overrides,
  };
}

export const TOKEN = Object.freeze({ format: "cpsbridge:1", unverifiedCertificate: "MIIB",
  algorithm: "RS256", signature: "c2ln", appVersion: "1.2.0" });

export function defaultHandler(command) {
  switch (command) {
    case "status": return { result: HOST_STATUS };
    case "list-certificates": return { result: { certificates: [certificate()] } };
    case "authenticate": return { result: { token: TOKEN } };
    case "watch": case "unwatch": case "cancel": return { result: {} };
    default: return { error: { code: "ERR_CPS_INVALID_REQUEST", message: "?" } };
  }
}

/** The dialog window as the flow sees it: records the views, lets a test act as the user. */
export class FakeDialog {
  constructor() {
    this.views = [];
    this.opened = 0;
    this.closed = 0;
    this.waiters = [];
  }
  async open(flow) {
    this.flow = flow;
    this.opened += 1;
  }
  show(view) {
    this.views.push(structuredClone(view));
    for (const w of [...this.waiters]) {
      if (w.test(view)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(view);
      }
    }
  }
  close() { this.closed += 1; }
  get view() { return this.views[this.views.length - 1]; }
  /** Resolves with the first view (already shown or to come) named `name`, after `after`. */
  waitFor(name, after = 0) {
    const found = this.views.slice(after).find((v) => v.view === name);
    if (found) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ test: (v) => v.view === name, resolve }));
  }
  user(msg) { this.flow.onDialogMessage(msg); }
}

export const tick = () => new Promise((r) => setImmediate(r));
/** After the timers of 0 ms (the dialog closes right after the page is answered). */
export const soon = () => new Promise((r) => setTimeout(r, 5));
export const NONCE = "n".repeat(43) + "=";
