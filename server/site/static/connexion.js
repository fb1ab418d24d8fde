// The CPS tile: shows the bridge's state, then on click runs the card login
// (challenge -> CpsBridge.authenticate -> token to the site -> navigate).
// Contract with the extension and the browser tests: server/site/README.md.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  var TEXT = {
    noExtension: "L'extension CPS Bridge n'est pas installée dans ce navigateur. Installez-la " +
      "(ou demandez-la à votre service informatique), puis rechargez la page.",
    noHost: "Le module CPS Bridge n'est pas installé sur cet ordinateur. Installez-le, puis " +
      "rechargez la page.",
    noReader: "Aucun lecteur de carte n'est détecté. Branchez votre lecteur de carte CPS.",
    noCard: "Insérez votre carte CPS dans le lecteur.",
    ready: "Carte CPS détectée : cliquez pour vous identifier.",
    locked: "Votre carte CPS est bloquée : utilisez votre code de déblocage (reçu avec la " +
      "carte) pour la débloquer, ou contactez votre service informatique.",
    readyNoPcsc: "Prêt : insérez votre carte puis cliquez pour vous identifier.",
    working: "Connexion en cours : choisissez votre certificat puis saisissez votre code porteur…",
    network: "Le site ne répond pas. Vérifiez votre connexion, puis réessayez."
  };
  // The sentence for a status() result (PROTOCOL §9: {extension, host, card?}). The
  // extension says that a card is there, never whose it is: the site learns the holder
  // from the signed token, once the person has chosen to log in.
  function describe(st) {
    if (!st || !st.host) return (st && st.hostError && st.hostError.message) || TEXT.noHost;
    if (st.card) return st.card.pinStatus === "locked" ? TEXT.locked : TEXT.ready;
    var pcsc = st.host.pcsc;
    if (pcsc && pcsc.available) {
      var readers = pcsc.readers || [];
      if (!readers.length) return TEXT.noReader;
      if (!readers.some(function (r) { return r.cardPresent; })) return TEXT.noCard;
      return TEXT.ready;
    }
    return TEXT.readyNoPcsc;
  }

  var POLL_MS = 5000;

  function cardSeen(st) {
    if (!st || !st.host) return false;
    if (st.card) return true;
    var readers = (st.host.pcsc && st.host.pcsc.readers) || [];
    return readers.some(function (r) { return r.cardPresent; });
  }

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
    var busy = false;
    var poll = null;

    function showError(message) {
      alert.textContent = message;
      alert.hidden = false;
    }
    function clearError() { alert.textContent = ""; alert.hidden = true; }

    function refresh() {
      if (!window.CpsBridge) {
        status.textContent = TEXT.noExtension;
        status.dataset.state = "extension-absente";
        return;
      }
      window.CpsBridge.status().then(function (st) {
        status.textContent = describe(st);
        status.dataset.state = st && st.host ? "pret" : "module-absent";
        // Until a card is seen, look again now and then: the person is inserting it.
        if (!busy && !cardSeen(st) && document.visibilityState !== "hidden") {
          clearTimeout(poll);
          poll = setTimeout(refresh, POLL_MS);
        }
      }, function (err) {
        var absent = err && err.code === "ERR_CPS_EXTENSION_UNAVAILABLE";
        status.textContent = absent ? TEXT.noExtension : (err && err.message) || TEXT.noHost;
        status.dataset.state = absent ? "extension-absente" : "erreur";
      });
    }

    button.addEventListener("click", function () {
      if (busy) return;
      clearError();
      if (!window.CpsBridge) { showError(TEXT.noExtension); return; }
      busy = true;
      button.disabled = true;
      status.textContent = TEXT.working;
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
        showError((err && err.message) || TEXT.network);
        busy = false;
        button.disabled = false;
        refresh();
      });
    });
    refresh();
  }

  Array.prototype.forEach.call(document.querySelectorAll("[data-cpsbridge-tile]"), setup);
})();
