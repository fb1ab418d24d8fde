// Test doubles for node: what no real part can be inside node's test runner (a browser's
// runtime.Port to a native host, a dialog window). The real host and browsers are driven by
// tests/browser/; these fakes only let the background's logic run in node.
import { readFileSync } from "node:fs";
import vm from "node:vm";

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
    this.notices = [];
    this.opened = 0;
    this.closed = 0;
    this.focused = 0;
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
  notify(notice) { this.notices.push(structuredClone(notice)); }
  close() { this.closed += 1; }
  focus() { this.focused += 1; }
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

// -- a browser tab and the extension's messaging, for the page and background tests ------

/** The window of a top-level https document, for page/cpsbridge.js and content/content.js
 *  run in a node vm: postMessage as in a browser tab (same window object, asynchronous
 *  delivery, event.source === window). `unload()` is the document going away: its
 *  listeners and timers die with it. */
export function makeWindow(href = "https://trajectoire.sante-ra.fr/connexion") {
  const listeners = new Set();
  const others = {};
  const timers = new Set();
  const url = new URL(href);
  const win = {
    location: { href, origin: url.origin, protocol: url.protocol },
    posted: [],
    document: { readyState: "complete", documentElement: { lang: "fr" },
                querySelector: () => null, addEventListener() {} },
    addEventListener: (type, fn) => {
      if (type === "message") listeners.add(fn);
      else (others[type] ??= new Set()).add(fn);
    },
    removeEventListener: (type, fn) => (type === "message" ? listeners : others[type] ?? new Set()).delete(fn),
    // pagehide, pageshow…: as the browser fires them on the window.
    dispatch: (type, event = {}) => { for (const fn of [...(others[type] ?? [])]) fn(event); },
    postMessage(data, target) {
      const copy = structuredClone(data);
      win.posted.push({ data: copy, target });
      // Inside the vm, `window` is the context's global proxy: that is the event's source.
      const source = vm.runInContext("window", win);
      setImmediate(() => { for (const fn of [...listeners]) fn({ data: copy, source, origin: url.origin }); });
    },
    // Looked up at each call, so that node's mock timers apply inside the vm too.
    setTimeout: (fn, ms) => {
      const t = setTimeout(() => { timers.delete(t); fn(); }, ms);
      timers.add(t);
      return t;
    },
    clearTimeout: (t) => { timers.delete(t); clearTimeout(t); },
    unload() {
      listeners.clear();
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
    Promise, Error, Object, Math, Date, String, URL,
  };
  win.window = win;
  win.top = win;
  vm.createContext(win);
  return win;
}

/** Runs a script (the page library, the content script) in the window. */
export function loadScript(win, code) {
  vm.runInContext(code, win, { filename: "script.js" });
}

export const PAGE_LIBRARY = readFileSync(new URL("../page/cpsbridge.js", import.meta.url), "utf-8");
export const CONTENT_SCRIPT = readFileSync(new URL("../content/content.js", import.meta.url), "utf-8");

/** Two ends of a runtime.Port. What one end posts the other receives, later and copied;
 *  one end's disconnect() fires the other end's onDisconnect, never its own (as browsers do). */
export function portPair(name, sender) {
  const end = (extra) => ({
    name, onMessage: new FakeEvent(), onDisconnect: new FakeEvent(), connected: true, ...extra,
    postMessage(msg) {
      if (!this.connected) throw new Error("Attempt to postMessage on disconnected port object");
      const copy = structuredClone(msg);
      setImmediate(() => { if (this.peer.connected) this.peer.onMessage.emit(copy, this.peer); });
    },
    disconnect() {
      if (!this.connected) return;
      this.connected = false;
      // The other end learns it later, as in a browser (posting meanwhile is no error).
      setImmediate(() => {
        this.peer.connected = false;
        this.peer.onDisconnect.emit(this.peer);
      });
    },
  });
  const near = end({});
  const far = end({ sender });
  near.peer = far;
  far.peer = near;
  return [near, far];
}

const EXTENSION_ID = "ojnpopkpgdnmkpgbnihogpenoomlejcb";

/** The WebExtension API as the background sees it (`api`), with the native host behind
 *  connectNative, dialog windows that connect back as the dialog page does (`dialogs`), and
 *  documents in tabs whose content script talks to it (`document`). */
export class FakeBrowser {
  constructor(host) {
    this.id = EXTENSION_ID;
    this.dialogs = [];
    let windowIds = 100;
    const base = `chrome-extension://${this.id}/`;
    this.api = {
      runtime: {
        id: this.id,
        getManifest: () => ({ version: "1.2.0" }),
        getURL: (path) => base + path,
        connectNative: () => host.connect(),
        onMessage: new FakeEvent(),
        onConnect: new FakeEvent(),
      },
      storage: { managed: { get: async () => { throw new Error("Managed storage manifest not found"); } } },
      windows: {
        create: async ({ url }) => {
          const dialog = { id: windowIds++, url, views: [], closed: false, focused: 0 };
          this.dialogs.push(dialog);
          // The dialog page connects and names its flow, as dialog/dialog.js does.
          const [port, far] = portPair("dialog", { id: this.id, url });
          dialog.port = port;
          port.onMessage.addListener((view) => dialog.views.push(view));
          dialog.send = (msg) => port.postMessage(msg);
          dialog.waitFor = (name) => until(() => dialog.views.some((v) => v.view === name), `view ${name}`);
          setImmediate(() => {
            this.api.runtime.onConnect.emit(far);
            port.postMessage({ type: "hello", flowId: new URL(url).searchParams.get("flow") });
          });
          return { id: dialog.id };
        },
        remove: async (id) => {
          const dialog = this.dialogs.find((d) => d.id === id && !d.closed);
          if (!dialog) throw new Error(`No window with id: ${id}.`);
          dialog.closed = true;
          dialog.port.disconnect();
          setImmediate(() => this.api.windows.onRemoved.emit(id));
        },
        // Only what the background asks of it: {focused: true} brings the window to the front.
        update: async (id, info) => {
          const dialog = this.dialogs.find((d) => d.id === id && !d.closed);
          if (!dialog) throw new Error(`No window with id: ${id}.`);
          if (info.focused) dialog.focused += 1;
          return { id };
        },
        onRemoved: new FakeEvent(),
      },
      tabs: { onRemoved: new FakeEvent() },
    };
  }

  /** What a content script's runtime.connect() makes the background see: a port named
   *  `name` whose sender record is `sender` (the browser's, not the page's). */
  connectAs(name, sender) {
    const [near, far] = portPair(name, sender);
    this.api.runtime.onConnect.emit(far);
    return near;
  }

  /** A top-level document of tab `tabId` at `href`, with the page library and the content
   *  script loaded; `unload()` is the page reloading or navigating away: its content
   *  script's ports disconnect and its pending answers are lost. */
  document(tabId, href, sender = {}) {
    const win = makeWindow(href);
    const record = { id: this.id, url: href, origin: new URL(href).origin, tab: { id: tabId },
                     frameId: 0, ...sender };
    const ports = [];
    let gone = false;
    win.chrome = { runtime: {
      id: this.id,
      connect: ({ name } = {}) => {
        const port = this.connectAs(name, record);
        ports.push(port);
        return port;
      },
      sendMessage: (msg) => new Promise((resolve) => {
        let kept = false;
        for (const fn of [...this.api.runtime.onMessage.listeners]) {
          if (fn(structuredClone(msg), record, (a) => { if (!gone) resolve(structuredClone(a)); }) === true) kept = true;
        }
        if (!kept) resolve(undefined);
      }),
    } };
    loadScript(win, PAGE_LIBRARY);
    loadScript(win, CONTENT_SCRIPT);
    const unload = win.unload;
    win.unload = () => {
      gone = true;
      unload();
      for (const port of ports) port.disconnect();
    };
    return win;
  }
}

/** Waits (in real time, a few ms at a time) until `predicate()` holds; fails after 2 s. */
export async function until(predicate, what = "the condition", ms = 2000) {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
