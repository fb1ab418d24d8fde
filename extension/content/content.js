// CPS Bridge content script: a bridge and nothing more. It carries §9 requests from the
// page (window.postMessage) to the background and the answers back, each on a port of its
// own (the port's end is the background's sign that the page went away); it decides nothing
// (origin, https, pending actions are the background's checks, from the browser's sender
// record). It acknowledges a request at once so that the page knows the extension is here.
(() => {
  "use strict";
  const api = globalThis.browser ?? globalThis.chrome;
  if (!api || !api.runtime || window.top !== window) return;
  const KEYS = ["cpsbridge", "requestId", "action", "challengeNonce", "lang", "timeoutMs"];
  const target = window.location.origin;
  // BEGIN GENERATED MESSAGES (python build.py errors; do not edit)
  const MESSAGES = {
    "ERR_CPS_INVALID_REQUEST": {
      "fr": "La demande reçue par le module CPS Bridge est invalide. Mettez à jour l'extension et le module, puis réessayez.",
      "en": "The CPS Bridge module received an invalid request. Update the extension and the module, then try again."
    },
    "ERR_CPS_CANCELLED": {
      "fr": "L'opération a été annulée.",
      "en": "The operation was cancelled."
    },
    "ERR_CPS_INTERNAL": {
      "fr": "Une erreur inattendue est survenue dans le module CPS Bridge. Réessayez ; si elle persiste, contactez votre service informatique ou le support ViaTrajectoire de votre territoire.",
      "en": "An unexpected error occurred in the CPS Bridge module. Try again; if it persists, contact your IT department or your region's ViaTrajectoire support."
    }
  };
  // END GENERATED MESSAGES

  // While the document is hidden in the back/forward cache, its answers wait for it to be
  // shown again: a frozen page would not run them, and it must still get one per request.
  let hidden = false;
  const held = [];
  function post(message) {
    if (hidden) held.push(message);
    else window.postMessage(message, target);
  }

  // Requests still waiting for the background, each with what ends it when the page leaves.
  const pending = new Set();

  // The page leaves (navigation, reload, or the back/forward cache, whose documents keep
  // their ports open in Firefox): every request of this page ends now, ERR_CPS_CANCELLED,
  // and its port closes, which tells the background to cancel the login and close its
  // dialog. No dialog then asks a code for a page nobody sees, and the tab's next document
  // is not refused as ERR_CPS_ACTION_PENDING. A page shown again gets its answers.
  window.addEventListener("pagehide", () => {
    hidden = true;
    for (const leave of [...pending]) leave();
  });
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    hidden = false;
    for (const message of held.splice(0)) window.postMessage(message, target);
  });

  // "en", "en-GB"…: English; anything else French (as the background's pickLang).
  const langOf = (lang) => (typeof lang === "string" && lang.toLowerCase().startsWith("en") ? "en" : "fr");

  window.addEventListener("message", (event) => {
    const data = event.data;
    if (event.source !== window || !data || typeof data !== "object"
        || data.cpsbridge !== "request") return;
    const requestId = data.requestId;
    // An id that is no string cannot be matched to an answer: nothing to say. A string of
    // the wrong length is answered (ack, then ERR_CPS_INVALID_REQUEST under that id), so
    // that the page learns its mistake rather than "no extension". Characters are counted
    // as code points, as the host counts its ids.
    if (typeof requestId !== "string") return;
    const length = [...requestId].length;
    if (length < 1 || length > 64) {
      post({ cpsbridge: "ack", requestId });
      post({ cpsbridge: "response", requestId, error: {
        code: "ERR_CPS_INVALID_REQUEST", message: MESSAGES.ERR_CPS_INVALID_REQUEST[langOf(data.lang)] } });
      return;
    }
    // Copy only plain known fields: nothing else of the page crosses the bridge.
    const request = {};
    for (const k of KEYS) {
      const v = data[k];
      if (v !== undefined && (typeof v === "string" || typeof v === "number")) request[k] = v;
    }
    post({ cpsbridge: "ack", requestId });
    ask(request).then((answer) => {
      if (answer && (answer.result || answer.error)) {
        post({ cpsbridge: "response", requestId, ...(answer.error ? { error: answer.error }
                                                                   : { result: answer.result }) });
      } else {
        throw new Error("no answer");
      }
    }).catch(() => {
      // The background went away mid-request (extension reloaded or stopped).
      post({ cpsbridge: "response", requestId, error: {
        code: "ERR_CPS_INTERNAL", message: MESSAGES.ERR_CPS_INTERNAL[langOf(request.lang)] } });
    });
  });

  // One request, one answer, on a port of its own, closed once answered. When this
  // document goes away first (reload, navigation), the browser closes the port and the
  // background cancels that request's login: no dialog stays open for a page that is gone.
  function ask(request) {
    return new Promise((resolve, reject) => {
      const port = api.runtime.connect({ name: "page-request" }); // throws once the extension is gone
      const leave = () => {
        pending.delete(leave);
        port.disconnect();
        resolve({ error: { code: "ERR_CPS_CANCELLED", message: MESSAGES.ERR_CPS_CANCELLED[langOf(request.lang)] } });
      };
      pending.add(leave);
      port.onMessage.addListener((answer) => {
        pending.delete(leave);
        resolve(answer);
        port.disconnect();
      });
      // Closed by the background without an answer (it stopped, or refused the sender).
      port.onDisconnect.addListener(() => {
        pending.delete(leave);
        void api.runtime.lastError; // read, so that Chromium does not log it as unchecked
        reject(new Error("no answer"));
      });
      port.postMessage({ type: "page-request", request });
    });
  }

  // A page with the CPS tile: open the native port now, so that the first click is fast.
  function warmup() {
    if (document.querySelector("[data-cpsbridge-tile]")) {
      try {
        Promise.resolve(api.runtime.sendMessage({ type: "warmup" })).catch(() => {});
      } catch {
        // extension context gone
      }
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", warmup, { once: true });
  } else {
    warmup();
  }
})();
