// The CPS tile: shows the bridge's state, then on click runs the card login
// (challenge -> CpsBridge.authenticate -> token to the site -> navigate).
// Contract with the extension and the browser tests: server/site/README.md.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  // The site's own sentences. A state the extension has words for (host/errors.json) is
  // said in those words, through the page library (CpsBridge.message, below): one wording
  // per state. noExtension is their one copy here: without the page library there is no
  // one to ask (tests/site/test_tile_js.py holds it to errors.json).
  var TEXT = {
    noExtension: "L'extension CPS Bridge n'est pas installée ou pas activée dans ce navigateur. " +
      "Contactez votre service informatique ou le support ViaTrajectoire de votre territoire " +
      "pour l'installer.",
    noReader: "Aucun lecteur de carte n'est détecté. Branchez votre lecteur de carte CPS.",
    otherCard: "La carte insérée n'est pas reconnue comme une carte CPS. Insérez votre carte CPS.",
    ready: "Carte CPS détectée : cliquez pour vous identifier.",
    readyNoPcsc: "Prêt : insérez votre carte puis cliquez pour vous identifier.",
    working: "Connexion en cours : choisissez le certificat s'il vous est demandé, puis " +
      "saisissez votre code porteur.",
    network: "Le site ne répond pas. Vérifiez votre connexion, puis réessayez."
  };
  // The extension's sentence for an error code (the page library is loaded wherever this is
  // called: status() has answered).
  function said(code) { return window.CpsBridge.message(code, "fr"); }
  // Card types read from the ATR (PROTOCOL §4 status) that are CPS cards.
  var CPS_ATR = ["CPS3", "CPS3-contactless", "CPS4"];
  // States where something is to be installed or updated: the tile links to the help page.
  var TO_INSTALL = ["ERR_CPS_EXTENSION_UNAVAILABLE", "ERR_CPS_NATIVE_UNAVAILABLE",
                    "ERR_CPS_VERSION_MISMATCH", "ERR_CPS_PKCS11_UNAVAILABLE"];

  // What the tile says of a status() result (PROTOCOL §9: {extension, host, card?,
  // hostError?, cardError?}): {text, state (data-state), code (an error's, if any)}.
  // « Carte CPS détectée » (state "pret", the only green one) only for a CPS card really
  // there. The extension says that a card is there, never whose it is: the site learns the
  // holder from the signed token, once the person has chosen to log in.
  function describe(st) {
    if (!st || !st.host || st.hostError) {
      var e = (st && st.hostError) || {};
      // host set with a hostError: a host of another protocol version.
      return {text: e.message || said("ERR_CPS_NATIVE_UNAVAILABLE"),
              state: st && st.host ? "erreur" : "module-absent",
              code: e.code || "ERR_CPS_NATIVE_UNAVAILABLE"};
    }
    if (st.card) {
      if (st.card.pinStatus === "locked") {
        return {text: said("ERR_CPS_PIN_LOCKED"), state: "erreur", code: "ERR_CPS_PIN_LOCKED"};
      }
      return {text: TEXT.ready, state: "pret"};
    }
    // A card that is no CPS card (a Carte Vitale), a middleware missing…: the extension's words.
    if (st.cardError) {
      return {text: st.cardError.message || TEXT.otherCard, state: "erreur", code: st.cardError.code};
    }
    var pcsc = st.host.pcsc;
    if (!pcsc || !pcsc.available) return {text: TEXT.readyNoPcsc, state: "attente"};
    var readers = pcsc.readers || [];
    if (!readers.length) return {text: TEXT.noReader, state: "attente"};
    var present = readers.filter(function (r) { return r.cardPresent; });
    if (!present.length) return {text: said("ERR_CPS_NO_CARD"), state: "attente"};
    if (present.some(function (r) { return CPS_ATR.indexOf(r.cardType) >= 0; })) {
      return {text: TEXT.ready, state: "pret"};
    }
    return {text: TEXT.otherCard, state: "erreur"};
  }

  var POLL_MS = 5000;

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {error: {code: "HTTP_" + r.status, message: TEXT.network}}; });
    });
  }

  function setup(tile) {
    var button = tile.querySelector("#tuile-cps") || tile.querySelector("button");
    var status = tile.querySelector("[data-cpsbridge-status]");
    var alert = tile.querySelector('[role="alert"]');
    var help = tile.querySelector("[data-cpsbridge-aide]");
    var busy = false;
    var poll = null;
    var described = {text: status.textContent, state: ""}; // the last describe() result
    var alertCode = null; // the code of the error the alert shows
    var notice = "";      // a sentence about the last login that is no error (a cancel)

    // The status line: the notice, then the state; a state the alert already gives (the
    // login failed for the reason the status gives) is left to the alert: said once.
    function showStatus(d) {
      status.dataset.state = d.state;
      var text = !alert.hidden && d.code && d.code === alertCode ? "" : d.text;
      // Rewritten only when it changes: a live region announces every rewrite.
      if (status.textContent !== (notice ? notice + (text ? " " + text : "") : text)) {
        status.textContent = "";
        if (notice) {
          var span = document.createElement("span");
          span.className = "avis";
          span.textContent = notice;
          status.appendChild(span);
          if (text) status.appendChild(document.createTextNode(" "));
        }
        if (text) status.appendChild(document.createTextNode(text));
      }
      if (help) help.hidden = TO_INSTALL.indexOf(d.code) < 0 && TO_INSTALL.indexOf(alertCode) < 0;
    }
    function describeAndShow(d) { described = d; showStatus(d); }

    function showError(err) {
      alertCode = (err && err.code) || null;
      alert.textContent = (err && err.message) || TEXT.network;
      alert.hidden = false;
    }
    function clearError() { alertCode = null; alert.textContent = ""; alert.hidden = true; }

    function setBusy(on) {
      busy = on;
      // aria-disabled, not disabled: a disabled button loses the keyboard focus (to <body>);
      // `busy` ignores the clicks meanwhile.
      if (on) button.setAttribute("aria-disabled", "true");
      else button.removeAttribute("aria-disabled");
    }

    function refresh() {
      if (!window.CpsBridge) {
        describeAndShow({text: TEXT.noExtension, state: "extension-absente",
                         code: "ERR_CPS_EXTENSION_UNAVAILABLE"});
        return;
      }
      window.CpsBridge.status().then(function (st) {
        var d = describe(st);
        if (!busy) describeAndShow(d);
        // Until a CPS card is seen, look again now and then: the person is inserting it,
        // or swapping a Carte Vitale for it.
        if (!busy && d.state !== "pret" && document.visibilityState !== "hidden") {
          clearTimeout(poll);
          poll = setTimeout(refresh, POLL_MS);
        }
      }, function (err) {
        var absent = err && err.code === "ERR_CPS_EXTENSION_UNAVAILABLE";
        if (busy) return;
        describeAndShow({text: (err && err.message) || said(absent ? "ERR_CPS_EXTENSION_UNAVAILABLE"
                                                                   : "ERR_CPS_NATIVE_UNAVAILABLE"),
                         state: absent ? "extension-absente" : "erreur",
                         code: (err && err.code) || null});
      });
    }

    button.addEventListener("click", function () {
      if (busy) return;
      clearError();
      notice = "";
      if (!window.CpsBridge) {
        showError({code: "ERR_CPS_EXTENSION_UNAVAILABLE", message: TEXT.noExtension});
        showStatus(described);
        return;
      }
      setBusy(true);
      clearTimeout(poll);
      showStatus({text: TEXT.working, state: "attente"});
      // The invitation page's tile names its step: only that login finalises the invitation.
      var etape = tile.getAttribute("data-cpsbridge-etape");
      var nonce;
      post("/connexion/carte-cps/defi", etape ? {etape: etape} : {}).then(function (answer) {
        if (answer.error) throw answer.error;
        nonce = answer.challengeNonce;
        return window.CpsBridge.authenticate(nonce, {lang: "fr"});
      }).then(function (result) {
        // PROTOCOL §9: the result is {token}; accept the bare token as well.
        var token = result && result.format ? result : result && result.token;
        // The nonce signed: the session may hold others (another tab's), each one-time.
        return post("/connexion/carte-cps", {token: token, nonce: nonce});
      }).then(function (answer) {
        if (answer.error) throw answer.error;
        window.location.assign(answer.redirect);
      }).catch(function (err) {
        // A cancel the person chose is no error: a neutral sentence in the status line.
        if (err && err.code === "ERR_CPS_USER_CANCELLED") notice = err.message || said(err.code);
        else showError(err);
        setBusy(false);
        showStatus(described);
        // Back to the button, to try again, unless the person has moved on meanwhile.
        var active = document.activeElement;
        if (!active || active === document.body || active === button) button.focus();
        refresh();
      });
    });
    refresh();
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-cpsbridge-tile]"), setup);
})();
