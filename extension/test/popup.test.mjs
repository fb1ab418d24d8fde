// The toolbar popup (popup.html + popup.js) on the DOM double.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadPage } from "./dom.mjs";
import { cardSummary } from "../src/holder.js";
import { certificate } from "./fakes.mjs";

async function popup(card, uiLanguage = "fr-FR") {
  const page = await loadPage("popup/popup.html", "popup/popup.js", {
    uiLanguage,
    onSendMessage: async () => ({
      extension: "1.2.0", host: { version: "1.2.0", protocol: 1 }, hostError: null,
      readers: [{ name: "Virtual PCD 00 00", cardPresent: true, cardType: "CPS3" }],
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
