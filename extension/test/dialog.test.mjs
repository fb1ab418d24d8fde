import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { alertText, certificateLines, digitsOnly, heading, isEnded, originParts, pinBounds, pinEntryProblem,
         pinLabel, translator, waitHint } from "../dialog/view-model.js";
import { certificateView, displayName } from "../src/holder.js";
import { certificate } from "./fakes.mjs";

function locale(lang) {
  return translator(JSON.parse(readFileSync(new URL(`../_locales/${lang}/messages.json`, import.meta.url), "utf-8")));
}
const fr = locale("fr");
const en = locale("en");

test("French and English locales have the same keys and placeholders", () => {
  const a = JSON.parse(readFileSync(new URL("../_locales/fr/messages.json", import.meta.url), "utf-8"));
  const b = JSON.parse(readFileSync(new URL("../_locales/en/messages.json", import.meta.url), "utf-8"));
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
  for (const k of Object.keys(a)) assert.deepEqual(a[k].placeholders, b[k].placeholders, k);
});

test("the manual's wording in French", () => {
  assert.equal(heading({ view: "insert-card" }, fr), "Insérez votre carte CPS dans le lecteur");
  assert.equal(heading({ view: "select" }, fr), "Sélectionnez le certificat");
  assert.equal(heading({ view: "pin" }, fr), "Saisissez le code porteur");
  assert.equal(fr("validate"), "Valider");
  assert.equal(fr("cancel"), "Annuler");
  assert.equal(heading({ view: "pin-pad" }, fr), "Saisissez votre code porteur sur le clavier du lecteur");
  assert.equal(heading({ view: "select" }, en), "Select the certificate");
});

test("the PIN field follows the token's bounds and keeps digits only", () => {
  assert.deepEqual(pinBounds({ minLength: 4, maxLength: 8 }), { min: 4, max: 8, stated: true });
  assert.deepEqual(pinBounds({}), { min: 4, max: 8, stated: true });
  assert.deepEqual(pinBounds({ minLength: 4, maxLength: 255 }), { min: 4, max: 16, stated: false });
  // « 4 chiffres » as the manual and the site say whenever the token's minimum is 4 (the
  // field still takes the token's range); the range otherwise.
  assert.equal(pinLabel(fr, { minLength: 4, maxLength: 255 }), "Code porteur (4 chiffres)");
  assert.equal(pinLabel(fr, { minLength: 4, maxLength: 4 }), "Code porteur (4 chiffres)");
  assert.equal(pinLabel(fr, { minLength: 4, maxLength: 8 }), "Code porteur (4 chiffres)");
  assert.equal(pinLabel(fr, {}), "Code porteur (4 chiffres)");
  assert.equal(pinLabel(en, { minLength: 4, maxLength: 8 }), "PIN (4 digits)");
  assert.equal(pinLabel(fr, { minLength: 6, maxLength: 8 }), "Code porteur (6 à 8 chiffres)");
  assert.equal(pinLabel(fr, { minLength: 6, maxLength: 6 }), "Code porteur (6 chiffres)");
  assert.equal(pinLabel(fr, { minLength: 6, maxLength: 255 }), "Code porteur (au moins 6 chiffres)");
  assert.equal(pinLabel(en, { minLength: 6, maxLength: 8 }), "PIN (6 to 8 digits)");
  assert.equal(digitsOnly("12a3 4567899", 8), "12345678");
  assert.equal(digitsOnly("", 4), "");
});

test("an empty or too short code porteur: its own sentence, not « uniquement des chiffres »", () => {
  const pin = { minLength: 4, maxLength: 8 };
  assert.equal(pinEntryProblem("", pin, fr), "Saisissez votre code porteur (4 chiffres).");
  assert.equal(pinEntryProblem("12", pin, fr), "Votre code porteur comporte 4 chiffres : vous en avez saisi 2.");
  assert.equal(pinEntryProblem("1", pin, en), "Your PIN has 4 digits: you typed 1.");
  assert.equal(pinEntryProblem("1234", pin, fr), "");
  assert.equal(pinEntryProblem("12345", { minLength: 6, maxLength: 255 }, fr),
               "Votre code porteur comporte au moins 6 chiffres : vous en avez saisi 5.");
  assert.equal(pinEntryProblem("123456", { minLength: 6, maxLength: 255 }, fr), "");
});

test("waiting for a card: sentences for a step that goes on by itself", () => {
  const wait = (code) => ({ view: "insert-card", ...(code ? { error: { code } } : {}) });
  for (const code of ["ERR_CPS_NO_READER", "ERR_CPS_UNSUPPORTED_CARD", "ERR_CPS_CARD_REMOVED",
                      "ERR_CPS_CERTIFICATE_NOT_FOUND", "ERR_CPS_PCSC_UNAVAILABLE"]) {
    for (const [t, lang] of [[fr, "fr"], [en, "en"]]) {
      const said = [heading(wait(code), t), waitHint(wait(code), t), alertText(wait(code), lang, t)].join(" ");
      assert.ok(alertText(wait(code), lang, t), code);
      assert.doesNotMatch(said, /réessayez|recommencez|try again|start over/i, `${code} ${lang}: ${said}`);
    }
  }
  assert.equal(heading(wait("ERR_CPS_NO_READER"), fr), "Branchez votre lecteur de carte");
  assert.equal(alertText(wait("ERR_CPS_NO_READER"), "fr", fr), "Aucun lecteur de carte n'est détecté.");
  assert.equal(heading(wait(), fr), "Insérez votre carte CPS dans le lecteur");
  assert.equal(waitHint(wait(), en), "Login will continue as soon as your card is read.");
  assert.equal(alertText(wait("ERR_CPS_UNSUPPORTED_CARD"), "fr", fr),
               "La carte insérée n'est pas une carte CPS (par exemple une carte Vitale). Insérez votre carte CPS.");
});

test("time is up: the view says so", () => {
  assert.equal(heading({ view: "timeout" }, fr), "Délai dépassé");
  assert.match(alertText({ view: "timeout" }, "fr", fr), /^Le délai de connexion par carte CPS est dépassé/);
  assert.equal(isEnded({ view: "timeout" }), true);
  assert.equal(isEnded({ view: "blocked" }), true);
  assert.equal(isEnded({ view: "pin" }), false);
  assert.equal(fr("timeLeft"), "Il vous reste 1 minute pour terminer la connexion.");
});

test("the origin in pieces a line may break between", () => {
  assert.deepEqual(originParts("https://trajectoire.sante-ra.fr"), ["https://", "trajectoire", ".sante-ra", ".fr"]);
  assert.deepEqual(originParts("https://127.0.0.1:8443"), ["https://", "127", ".0", ".0", ".1", ":8443"]);
  assert.deepEqual(originParts("https://[::1]:8443"), ["https://[::1]:8443"]);
  assert.deepEqual(originParts(""), []);
  for (const o of ["https://a.b-c.fr:1", "https://x"]) assert.equal(originParts(o).join(""), o);
});

test("a certificate: name, RPPS, profession, card type, expiry", () => {
  const lines = certificateLines(certificateView(certificate()), fr, "fr");
  assert.deepEqual(lines, { name: "Dr Jean DUPONT", identifier: "RPPS 99700367917", title: "Médecin",
    cardType: "Carte CPS", expires: "Expire le 1 janvier 2029", reader: "" });
  const en1 = certificateLines(certificateView(certificate({ reader: "Virtual PCD 00 00" })), en, "en");
  assert.equal(en1.expires, "Expires on 1 January 2029");
  assert.equal(en1.reader, "Reader: Virtual PCD 00 00");
  const old = certificateLines(certificateView(certificate({ notAfter: "2020-03-01T00:00:00Z" })), fr, "fr");
  assert.equal(old.expires, "Certificat expiré le 1 mars 2020");
});

test("names as a person reads them", () => {
  assert.equal(displayName({ givenName: "JEAN", familyName: "DUPONT", title: "Médecin" }), "Dr Jean DUPONT");
  assert.equal(displayName({ givenName: "CLAIRE", familyName: "Martin", title: "Infirmier" }), "Claire MARTIN");
  assert.equal(displayName({ givenName: "JEAN-LUC", familyName: "D'ARC", title: "Pharmacien" }), "Dr Jean-Luc D'ARC");
});

test("alerts: tries left after a wrong PIN, the blocked card explained", () => {
  assert.equal(alertText({ view: "pin" }, "fr"), "");
  assert.match(alertText({ view: "pin", error: { code: "ERR_CPS_PIN_INCORRECT", details: { pinStatus: "countLow" } } }, "fr"),
               /il vous reste 2 essais/);
  assert.match(alertText({ view: "blocked" }, "fr"), /code de déblocage/);
  assert.match(alertText({ view: "blocked", error: { code: "ERR_CPS_PIN_INCORRECT", details: { pinStatus: "locked" } } }, "en"),
               /unblocking code/);
});

test("the dialog page has the §9 hooks and accessible parts", () => {
  const html = readFileSync(new URL("../dialog/dialog.html", import.meta.url), "utf-8");
  const js = readFileSync(new URL("../dialog/dialog.js", import.meta.url), "utf-8");
  assert.match(html, /role="alert"/);
  assert.match(html, /id="time-left" role="status"/);
  // A password field, except in Firefox, whose password manager would offer to save the
  // code porteur: a text field there, masked by the stylesheet (tests/browser checks both).
  assert.match(js, /type: BUILD\.family === "firefox" \? "text" : "password", class: "masked"/);
  const css = readFileSync(new URL("../dialog/dialog.css", import.meta.url), "utf-8");
  assert.match(css, /input\[name="pin"\]\.masked \{ -webkit-text-security: disc; \}/);
  assert.match(js, /"data-certificate-id": cert.certificateId/);
  assert.match(js, /type: "submit"/);
  assert.match(js, /name: "cancel"/);
  assert.match(js, /for: "pin"/);
  assert.doesNotMatch(js, /console\.|localStorage|storage\./, "the PIN is neither logged nor stored");
});
