// The background (Chromium service worker, Firefox background script): owns the native
// port, the origin policy and the dialogs. Every listener is registered at the top level,
// so that a worker woken by an event finds it; state lost when the worker stops (the port,
// a dialog) is re-made on the next request.
import { NativePort, HOST_NAME } from "./native-port.js";
import { loadPolicy } from "./origins.js";
import { Router } from "./router.js";
import { AuthFlow } from "./auth-flow.js";
import { DialogWindows } from "./dialog-window.js";
import { popupStatus } from "./popup-status.js";

const api = globalThis.browser ?? globalThis.chrome;
const version = api.runtime.getManifest().version;

const native = new NativePort({
  connect: () => api.runtime.connectNative(HOST_NAME),
  // Chromium reports why in runtime.lastError, Firefox in port.error.
  lastError: (port) => (port.error && port.error.message)
    || (api.runtime.lastError && api.runtime.lastError.message),
});
const dialogs = new DialogWindows(api);
const router = new Router({
  native,
  getPolicy: () => loadPolicy(api),
  extensionVersion: version,
  createFlow: ({ origin, challengeNonce, timeoutMs, lang }) => {
    const ui = dialogs.create(crypto.randomUUID());
    return new AuthFlow({ native, ui, origin, challengeNonce, timeoutMs, lang });
  },
});

/** A page of this extension (its URL, as the browser reports it, under `path`). */
function ownPage(sender, path) {
  return typeof sender.url === "string" && sender.url.startsWith(api.runtime.getURL(path));
}

api.runtime.onMessage.addListener((msg, sender, sendResponse) => {
  if (!msg || typeof msg !== "object" || sender.id !== api.runtime.id) return false;
  let answer;
  // Page requests come on a port each (onConnect below), never here: a message's reply
  // channel dies silently with its document, and the login would outlive the page.
  if (msg.type === "warmup" && sender.tab) answer = router.warmup(sender);
  else if (msg.type === "popup-status" && ownPage(sender, "popup/")) {
    answer = popupStatus(router, native, msg.lang);
  }
  else return false;
  answer.then(sendResponse, () => sendResponse(undefined));
  return true;
});

api.runtime.onConnect.addListener((port) => {
  if (port.name === "dialog") dialogs.accept(port);
  else if (port.name === "page-request") router.serve(port, api.runtime.id);
});

api.windows.onRemoved.addListener((windowId) => dialogs.windowRemoved(windowId));
// A closed tab closes its page's ports too (Router.serve); this is the belt to those braces.
api.tabs.onRemoved.addListener((tabId) => router.cancelTab(tabId));

// Test and support hook: what the background is doing (no secrets in it).
globalThis.cpsbridgeState = () => ({ port: native.state, disconnects: native.disconnects,
  hostStatus: native.hostStatus, pendingTabs: router.login ? [router.login.tabId] : [] });
