// The toolbar popup (popup.html + popup.js) on the DOM double.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadPage } from "./dom.mjs";
import { cardSummary } from "../src/holder.js";
import { certificate } from "./fakes.mjs";

const ONE_CPS3 = [{ name: "Virtual PCD 00 00", cardPresent: true, cardType: "CPS3" }];

async function popup(card, uiLanguage = "fr-FR", readers = ONE_CPS3) {
  const page = await loadPage("popup/popup.html", "popup/popup.js", {
    uiLanguage,
    onSendMessage: async () => ({
      extension: "1.2.0", host: { version: "1.2.0", protocol: 1 }, hostError: null,
      readers,
      pcscError: null, card, port: "ready" }),
  });
  await new Promise((r) => setTimeout(r, 0));
  return page;
}

test("the popup names the card's holder and kind, not the token's label", async () => {
  const page = await popup(cardSummary([certificate()]));
  const facts = page.text("#facts");
  assert.match(facts, /Dr Jean DUPONT — Carte CPS/);
  assert.doesNotMatch(facts, /CPS3v3-/);
  const unknown = await popup(cardSummary([certificate({ holder: { ...certificate().holder, cardType: "UNKNOWN" } })]));
  assert.match(unknown.text("#facts"), /Dr Jean DUPONT — Carte CPx/);
  const none = await popup(null);
  assert.match(none.text("#facts"), /Aucune carte CPS détectée/);
});

test("the popup says in words what card each reader holds, not its ATR code", async () => {
  const readers = [
    { name: "Lecteur A", cardPresent: true, cardType: "CPS3" },
    { name: "Lecteur B", cardPresent: true, cardType: "VITALE" },
    { name: "Lecteur C", cardPresent: true, cardType: "CPS3-contactless" },
    { name: "Lecteur D", cardPresent: true, cardType: "UNKNOWN" },
    { name: "Lecteur E", cardPresent: true, cardType: "CPS4" },
    { name: "Lecteur F", cardPresent: false, cardType: null },
  ];
  const fr = (await popup(null, "fr-FR", readers)).text("#facts");
  for (const line of ["Lecteur A — carte CPS3", "Lecteur B — carte Vitale (pas une carte CPS)",
                      "Lecteur C — carte CPS3 (sans contact)", "Lecteur D — carte non reconnue",
                      "Lecteur E — carte CPS4", "Lecteur F — lecteur vide"]) {
    assert.ok(fr.includes(line), `${line} in ${fr}`);
  }
  assert.doesNotMatch(fr, /\((CPS3|VITALE|UNKNOWN)\)/);
  const en = (await popup(null, "en-US", readers)).text("#facts");
  assert.ok(en.includes("Lecteur B — Carte Vitale (not a CPS card)"), en);
});
