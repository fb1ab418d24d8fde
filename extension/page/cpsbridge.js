/*
 * cpsbridge.js: CPS card login for a web page, through the CPS Bridge extension.
 *
 *   <script src="/static/cpsbridge.js"></script>
 *   const status = await CpsBridge.status();              // {extension, host, card, ...}
 *   const token  = await CpsBridge.authenticate(nonce);   // the cpsbridge:1 token, to POST
 *
 * Each call is a promise; a failure is a CpsBridgeError with `code` (ERR_CPS_…), a French
 * (or English, `lang: "en"`) `message` for the user, and sometimes `details`.
 * No extension answering within 1 s: ERR_CPS_EXTENSION_UNAVAILABLE. Not https:
 * ERR_CPS_INSECURE_CONTEXT. In a frame: ERR_CPS_ORIGIN_NOT_ALLOWED (only a top-level page).
 * No answer in `timeoutMs`: ERR_CPS_USER_TIMEOUT (authenticate).
 * Protocol: PROTOCOL.md §9 (window.postMessage, "cpsbridge": "request" / "ack" / "response").
 */
(function (root) {
  "use strict";

  // BEGIN GENERATED MESSAGES (python build.py errors; do not edit)
  const MESSAGES = {
    "ERR_CPS_INVALID_REQUEST": {
      "fr": "La demande reçue par le module CPS Bridge est invalide. Mettez à jour l'extension et le module, puis réessayez.",
      "en": "The CPS Bridge module received an invalid request. Update the extension and the module, then try again."
    },
    "ERR_CPS_ORIGIN_NOT_ALLOWED": {
      "fr": "Ce site n'est pas autorisé à utiliser votre carte CPS. Contactez votre service informatique ou le support ViaTrajectoire de votre territoire si vous pensez qu'il devrait l'être.",
      "en": "This site is not allowed to use your CPS card. Contact your IT department or your region's ViaTrajectoire support if you think it should be."
    },
    "ERR_CPS_NO_CARD": {
      "fr": "Insérez votre carte CPS dans le lecteur.",
      "en": "Insert your CPS card into the reader."
    },
    "ERR_CPS_PIN_LOCKED": {
      "fr": "Votre carte CPS est bloquée. Débloquez-la avec votre code de déblocage (reçu avec la carte) dans le logiciel de la carte CPS installé sur ce poste, ou demandez de l'aide à votre service informatique ou au support ViaTrajectoire de votre territoire. En attendant, connectez-vous avec votre identifiant et votre mot de passe.",
      "en": "Your CPS card is blocked. Unblock it with your unblocking code (sent with the card) in the CPS card software on this computer, or ask your IT department or your region's ViaTrajectoire support for help. Meanwhile, log in with your username and password."
    },
    "ERR_CPS_INTERNAL": {
      "fr": "Une erreur inattendue est survenue dans le module CPS Bridge. Réessayez ; si elle persiste, contactez votre service informatique ou le support ViaTrajectoire de votre territoire.",
      "en": "An unexpected error occurred in the CPS Bridge module. Try again; if it persists, contact your IT department or your region's ViaTrajectoire support."
    },
    "ERR_CPS_EXTENSION_UNAVAILABLE": {
      "fr": "L'extension CPS Bridge n'est pas installée ou pas activée dans ce navigateur. Contactez votre service informatique ou le support ViaTrajectoire de votre territoire pour l'installer.",
      "en": "The CPS Bridge extension is not installed or not enabled in this browser. Contact your IT department or your region's ViaTrajectoire support to install it."
    },
    "ERR_CPS_NATIVE_UNAVAILABLE": {
      "fr": "Le module CPS Bridge n'est pas installé sur cet ordinateur. Contactez votre service informatique ou le support ViaTrajectoire de votre territoire pour l'installer.",
      "en": "The CPS Bridge module is not installed on this computer. Contact your IT department or your region's ViaTrajectoire support to install it."
    },
    "ERR_CPS_USER_CANCELLED": {
      "fr": "Connexion par carte CPS annulée.",
      "en": "CPS card login cancelled."
    },
    "ERR_CPS_USER_TIMEOUT": {
      "fr": "Le délai de connexion par carte CPS est dépassé. Cliquez de nouveau sur « S'identifier par carte CPS ».",
      "en": "The CPS card login timed out. Click « S'identifier par carte CPS » again."
    },
    "ERR_CPS_INSECURE_CONTEXT": {
      "fr": "La connexion par carte CPS n'est possible que sur une page sécurisée (https).",
      "en": "CPS card login only works on a secure (https) page."
    }
  };
  // END GENERATED MESSAGES

  var ACK_TIMEOUT_MS = 1000;
  // Above the extension's slowest status (src/router.js STATUS_WORST_CASE_MS: a host that
  // exits under the question, 10 s, a new host's start, 20 s, the card read, 8 s = 38 s),
  // with room for a service worker to wake: the page hears the extension's answer (a
  // hostError that says what to do) rather than a bare timeout of its own.
  var STATUS_TIMEOUT_MS = 45000;
  var AUTH_TIMEOUT_MS = 4 * 60 * 1000;
  var MIN_AUTH_TIMEOUT_MS = 5000;
  var MAX_AUTH_TIMEOUT_MS = 290 * 1000;
  var counter = 0;

  function pickLang(lang) {
    if (typeof lang !== "string") {
      lang = (root.document && root.document.documentElement && root.document.documentElement.lang)
        || "fr";
    }
    return lang.toLowerCase().indexOf("en") === 0 ? "en" : "fr";
  }

  function CpsBridgeError(code, message, details) {
    var e = new Error(message);
    Object.setPrototypeOf(e, CpsBridgeError.prototype);
    e.name = "CpsBridgeError";
    e.code = code;
    if (details !== undefined) e.details = details;
    return e;
  }
  CpsBridgeError.prototype = Object.create(Error.prototype, {
    constructor: { value: CpsBridgeError, writable: true, configurable: true }
  });

  function messageOf(code, lang) {
    return (MESSAGES[code] || MESSAGES.ERR_CPS_INTERNAL)[lang];
  }

  function localError(code, lang, details) {
    return CpsBridgeError(code, messageOf(code, lang), details);
  }

  function newRequestId() {
    counter += 1;
    var rnd = Math.random().toString(36).slice(2, 10);
    return "cpsb-" + Date.now().toString(36) + "-" + counter + "-" + rnd;
  }

  function call(message, timeoutMs, timeoutCode, lang) {
    return new Promise(function (resolve, reject) {
      if (root.location.protocol !== "https:") {
        reject(localError("ERR_CPS_INSECURE_CONTEXT", lang));
        return;
      }
      // In a frame nothing listens (the extension's content script is the top page's only,
      // and the extension refuses frames): say so at once, not « extension absente » in 1 s.
      if (root.top !== root) {
        reject(localError("ERR_CPS_ORIGIN_NOT_ALLOWED", lang, { reason: "not a top-level page" }));
        return;
      }
      var requestId = newRequestId();
      var ackTimer = null;
      var replyTimer = null;
      function finish() {
        clearTimeout(ackTimer);
        clearTimeout(replyTimer);
        root.removeEventListener("message", onMessage);
      }
      function onMessage(event) {
        var data = event.data;
        if (event.source !== root || !data || typeof data !== "object"
            || data.requestId !== requestId) return;
        if (data.cpsbridge === "ack") {
          clearTimeout(ackTimer);
        } else if (data.cpsbridge === "response") {
          finish();
          if (data.error) {
            var err = data.error;
            reject(CpsBridgeError(String(err.code || "ERR_CPS_INTERNAL"),
                                  String(err.message || ""), err.details));
          } else {
            resolve(data.result);
          }
        }
      }
      root.addEventListener("message", onMessage);
      ackTimer = setTimeout(function () {
        finish();
        reject(localError("ERR_CPS_EXTENSION_UNAVAILABLE", lang));
      }, ACK_TIMEOUT_MS);
      replyTimer = setTimeout(function () {
        finish();
        reject(localError(timeoutCode, lang));
      }, timeoutMs);
      message.cpsbridge = "request";
      message.requestId = requestId;
      root.postMessage(message, root.location.origin);
    });
  }

  var CpsBridge = {
    version: "1.2.0",
    Error: CpsBridgeError,

    /** The sentence for a person of an error code (host/errors.json), for a page that
     *  describes a state no error carries (a blocked card in `status`). */
    message: function (code, lang) {
      return messageOf(code, pickLang(lang));
    },

    /** {extension, host (or null, with hostError), card (or null)}: what the tile shows. */
    status: function (options) {
      options = options || {};
      var lang = pickLang(options.lang);
      return call({ action: "status", lang: lang }, options.timeoutMs || STATUS_TIMEOUT_MS,
                  "ERR_CPS_INTERNAL", lang);
    },

    /** The signed token (cpsbridge:1, PROTOCOL.md §5) for the site's one-time challenge. */
    authenticate: function (challengeNonce, options) {
      options = options || {};
      var lang = pickLang(options.lang);
      // The extension keeps the person's time within 5 s–290 s (the nonce lives 5 min);
      // the same bounds here keep this page's own back-up timer a number it can set.
      var asked = Number(options.timeoutMs);
      var timeoutMs = isFinite(asked) && asked > 0
        ? Math.min(MAX_AUTH_TIMEOUT_MS, Math.max(MIN_AUTH_TIMEOUT_MS, Math.floor(asked)))
        : AUTH_TIMEOUT_MS;
      if (typeof challengeNonce !== "string") {
        return Promise.reject(localError("ERR_CPS_INVALID_REQUEST", lang));
      }
      // The extension's own user timeout is the one asked; this one only backs it up.
      return call({ action: "authenticate", challengeNonce: challengeNonce, lang: lang,
                    timeoutMs: timeoutMs },
                  timeoutMs + 10000, "ERR_CPS_USER_TIMEOUT", lang).then(function (result) {
        // Resolves with the token itself; `.token` (not enumerable, so not serialized) also
        // names it, for code written against the §9 result {token}.
        var token = result && result.token;
        if (!token || typeof token !== "object") {
          throw localError("ERR_CPS_INTERNAL", lang);
        }
        Object.defineProperty(token, "token", { value: token, enumerable: false });
        return token;
      });
    }
  };

  root.CpsBridge = CpsBridge;
  if (typeof module === "object" && module && module.exports) module.exports = CpsBridge;
})(typeof window !== "undefined" ? window : globalThis);
