import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { alertText, certificateLines, digitsOnly, heading, pinBounds, pinLabel, translator } from "../dialog/view-model.js";
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
  assert.equal(pinLabel(fr, { minLength: 4, maxLength: 255 }), "Code porteur (au moins 4 chiffres)");
  assert.equal(pinLabel(fr, { minLength: 4, maxLength: 4 }), "Code porteur (4 chiffres)");
  assert.equal(pinLabel(fr, { minLength: 4, maxLength: 8 }), "Code porteur (4 à 8 chiffres)");
  assert.equal(pinLabel(en, { minLength: 4, maxLength: 8 }), "PIN (4 to 8 digits)");
  assert.equal(digitsOnly("12a3 4567899", 8), "12345678");
  assert.equal(digitsOnly("", 4), "");
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
  assert.match(html, /aria-live="polite"/);
  assert.match(js, /name: "pin", type: "password"/);
  assert.match(js, /"data-certificate-id": cert.certificateId/);
  assert.match(js, /type: "submit"/);
  assert.match(js, /name: "cancel"/);
  assert.match(js, /for: "pin"/);
  assert.doesNotMatch(js, /console\.|localStorage|storage\./, "the PIN is neither logged nor stored");
});
