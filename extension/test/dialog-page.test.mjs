// The dialog page itself (dialog.html + dialog.js) on a DOM double: what it shows, where
// the focus goes, what it sends to the background.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadPage, type } from "./dom.mjs";
import { certificateView } from "../src/holder.js";
import { certificate } from "./fakes.mjs";

const ORIGIN = "https://trajectoire.sante-ra.fr";
const CERT = certificateView(certificate()); // code porteur of 4 to 8 digits

async function dialog(options) {
  const page = await loadPage("dialog/dialog.html", "dialog/dialog.js", { search: "?flow=f1", ...options });
  page.show = (view) => page.port.deliver({ origin: ORIGIN, ...view });
  page.active = () => page.document.activeElement;
  return page;
}

test("the steps are no live region; time left and progress are status lines", async () => {
  const page = await dialog();
  assert.equal(page.$("#content").hasAttribute("aria-live"), false,
               "each step moves the focus: a live region would read the whole step again");
  assert.equal(page.$("#time-left").getAttribute("role"), "status");
  assert.equal(page.$("#progress").getAttribute("role"), "status");
  assert.equal(page.$("#alert").getAttribute("role"), "alert");
  assert.deepEqual(page.sent, [{ type: "hello", flowId: "f1" }]);
});

test("an empty or too short code porteur is said in the dialog and not sent", async () => {
  const page = await dialog();
  page.show({ view: "pin", certificate: CERT });
  const input = page.$('input[name="pin"]');
  assert.equal(page.text('label'), "Code porteur (4 chiffres)");
  assert.equal(input.getAttribute("maxlength"), "8", "the field still takes the token's range");
  assert.equal(page.active(), input);
  const sent = page.sent.length;

  page.$('button[type="submit"]').click();
  assert.equal(page.text("#alert"), "Saisissez votre code porteur (4 chiffres).");
  type(input, "12");
  page.$('button[type="submit"]').click();
  assert.equal(page.text("#alert"), "Votre code porteur comporte 4 chiffres : vous en avez saisi 2.");
  assert.doesNotMatch(page.text("#alert"), /uniquement des chiffres|lettre/);
  assert.equal(input.getAttribute("aria-invalid"), "true");
  assert.equal(input.value, "12", "what was typed stays, to be completed");
  assert.equal(page.active(), input);
  assert.equal(page.sent.length, sent, "nothing went to the background");

  type(input, "34");
  page.$('button[type="submit"]').click();
  assert.deepEqual(page.sent.slice(sent), [{ type: "pin", pin: "1234" }]);
  assert.equal(input.value, "", "emptied once sent");
});

test("a token whose code porteur is not 4 digits: its own bounds in the messages", async () => {
  const page = await dialog();
  page.show({ view: "pin", certificate: { ...CERT, pin: { minLength: 6, maxLength: 8 } } });
  assert.equal(page.text("label"), "Code porteur (6 à 8 chiffres)");
  type(page.$('input[name="pin"]'), "1234");
  page.$('button[type="submit"]').click();
  assert.equal(page.text("#alert"), "Votre code porteur comporte 6 à 8 chiffres : vous en avez saisi 4.");
});

test("in English", async () => {
  const page = await dialog();
  page.show({ view: "pin", lang: "en", certificate: CERT });
  assert.equal(page.text("label"), "PIN (4 digits)");
  page.$('button[type="submit"]').click();
  assert.equal(page.text("#alert"), "Type your PIN (4 digits).");
  type(page.$('input[name="pin"]'), "1");
  page.$('button[type="submit"]').click();
  assert.equal(page.text("#alert"), "Your PIN has 4 digits: you typed 1.");
  page.show({ view: "insert-card", lang: "en" });
  assert.equal(page.text("#wait-hint"), "Login will continue as soon as your card is read.");
});

test("one minute left: said in a status line, the code porteur being typed stays", async () => {
  const page = await dialog();
  page.show({ view: "pin", certificate: CERT });
  const input = page.$('input[name="pin"]');
  type(input, "12");
  page.port.deliver({ notice: "time-left" });
  assert.equal(page.text("#time-left"), "Il vous reste 1 minute pour terminer la connexion.");
  assert.equal(page.$('input[name="pin"]'), input, "the view is not drawn again");
  assert.equal(input.value, "12");
  assert.equal(page.active(), input);
  page.show({ view: "signing", certificate: CERT });
  assert.equal(page.text("#time-left"), "Il vous reste 1 minute pour terminer la connexion.");
});

test("time is up: « Délai dépassé » and « Fermer », no PIN field, the window left open", async () => {
  const page = await dialog();
  page.show({ view: "pin", certificate: CERT });
  type(page.$('input[name="pin"]'), "12");
  page.port.deliver({ notice: "time-left" });
  page.show({ view: "timeout" });
  assert.equal(page.text("h2"), "Délai dépassé");
  assert.match(page.text("#alert"), /^Le délai de connexion par carte CPS est dépassé\./);
  assert.equal(page.$('input[name="pin"]'), null, "the code porteur typed so far is gone");
  assert.equal(page.text("#time-left"), "");
  const close = page.$('button[name="cancel"]');
  assert.equal(close.textContent, "Fermer");
  assert.equal(page.active(), close);
  assert.equal(page.closed, false);
  page.port.deliver({ notice: "time-left" }); // a notice stored before, sent again late
  assert.equal(page.text("#time-left"), "");
  page.port.disconnect(); // the background goes away: the explanation stays
  assert.equal(page.text("h2"), "Délai dépassé");
  close.click();
  assert.equal(page.closed, true);
});

test("Escape closes a window whose login has ended, and only cancels one under way", async () => {
  const page = await dialog();
  page.show({ view: "pin", certificate: CERT });
  page.document.dispatch("keydown", { key: "Escape" });
  assert.deepEqual(page.sent.at(-1), { type: "cancel" });
  assert.equal(page.closed, false);
  page.show({ view: "timeout" });
  page.document.dispatch("keydown", { key: "Escape" });
  assert.equal(page.closed, true);
});

test("waiting for the card: no « réessayez », the reader asked for, updated in place", async () => {
  const page = await dialog();
  page.show({ view: "insert-card", error: { code: "ERR_CPS_NO_READER" } });
  assert.equal(page.text("h2"), "Branchez votre lecteur de carte");
  assert.equal(page.text("#alert"), "Aucun lecteur de carte n'est détecté.");
  assert.match(page.text("#wait-hint"), /la connexion continuera dès qu'elle sera lue/);
  const h2 = page.$("h2");
  assert.equal(page.active(), h2);

  // A reader plugged in, then a card: the same step, changed where it is.
  page.show({ view: "insert-card" });
  assert.equal(page.$("h2"), h2);
  assert.equal(h2.textContent, "Insérez votre carte CPS dans le lecteur");
  assert.equal(page.text("#alert"), "");
  assert.equal(page.text("#wait-hint"), "La connexion continue dès que votre carte est lue.");
  page.show({ view: "insert-card", detected: { reader: "Lecteur 0" } });
  assert.equal(page.text("#progress"), "Carte détectée (Lecteur 0) : lecture des certificats…");
  assert.equal(page.$("h2"), h2);
  assert.equal(page.active(), h2, "the focus stays: the step is not read out again");

  page.show({ view: "insert-card", error: { code: "ERR_CPS_CARD_REMOVED" } });
  assert.equal(page.text("#progress"), "");
  assert.equal(page.text("#alert"), "Votre carte CPS a été retirée avant la fin de la connexion.");
  page.show({ view: "pin", certificate: CERT });
  assert.equal(page.text("#alert"), "");
  assert.equal(page.text("#progress"), "");
});

test("the requesting site breaks only between its scheme, labels and port", async () => {
  const page = await dialog();
  page.show({ view: "connecting", origin: "https://trajectoire.sante-ra.fr:8443" });
  const origin = page.$("#origin");
  assert.equal(origin.textContent, "https://trajectoire.sante-ra.fr:8443");
  assert.deepEqual(origin.children.map((s) => s.textContent),
                   ["https://", "trajectoire", ".sante-ra", ".fr", ":8443"]);
});

test("focus ring: dark blue, set off, on every button of the dialog", async () => {
  const { readFileSync } = await import("node:fs");
  const css = readFileSync(new URL("../dialog/dialog.css", import.meta.url), "utf-8");
  assert.doesNotMatch(css, /#f0a500/i, "the amber ring (1.9:1 on the page) is gone");
  assert.match(css, /\.buttons button:focus-visible[^{]*\{[^}]*outline: 3px solid #0a4f9e;[^}]*outline-offset: 2px/);
  assert.doesNotMatch(css, /word-break: break-all/);
});
