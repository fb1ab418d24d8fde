// The trusted dialog (an extension page in its own window). It renders the views the
// background sends and returns the user's choices. The PIN typed here goes in one message
// to the background, which hands it to the host; the field is emptied at once.
import { BUILD } from "../src/build-info.js";
import { pickLang } from "../src/cps-error.js";
import { alertText, certificateLines, digitsOnly, heading, isEnded, originParts, pinBounds,
         pinEntryProblem, pinLabel, translator, waitHint } from "./view-model.js";

const api = globalThis.browser ?? globalThis.chrome;
// The language: the one the site asked for (the person reads the site in it), else the
// browser's; French unless English.
const browserLang = pickLang(api.i18n.getUILanguage());
const catalogs = {};
let lang = browserLang;
let t = (key, subs) => api.i18n.getMessage(key, subs) || key;

function useLang(wanted) {
  const l = pickLang(wanted || browserLang);
  if (catalogs[l]) {
    lang = l;
    t = translator(catalogs[l]);
  }
  document.documentElement.lang = lang;
  document.title = t("dialogTitle");
}

async function loadCatalogs() {
  for (const l of ["fr", "en"]) {
    try {
      const r = await fetch(api.runtime.getURL(`_locales/${l}/messages.json`));
      catalogs[l] = await r.json();
    } catch {
      // getMessage stays the fallback
    }
  }
}

const $ = (id) => document.getElementById(id);
const flowId = new URLSearchParams(location.search).get("flow") || "";
let port = null;
let current = null;
let finished = false;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k === "onclick") node.addEventListener("click", v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c) node.append(c);
  return node;
}

function send(msg) {
  if (port) port.postMessage(msg);
}

/** Text into a live region only when it changes: the same sentence set again may be said
 *  again. */
function say(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

const ended = () => finished || isEnded(current);

function cancelButton(label = t("cancel")) {
  return el("button", { type: "button", name: "cancel", text: label, onclick: () => {
    send({ type: "cancel" });
    if (ended()) window.close();
  } });
}

/** The requesting origin, in pieces a line may break between (see dialog.css). */
function showOrigin(origin) {
  const node = $("origin");
  if (node.textContent === (origin || "")) return;
  node.replaceChildren(...originParts(origin).map((part) => el("span", { text: part })));
}

function certificateBlock(cert, asButton) {
  const lines = certificateLines(cert, t, lang);
  const parts = [el("span", { class: "name", text: lines.name })];
  for (const key of ["identifier", "title", "cardType", "expires", "reader"]) {
    if (lines[key]) parts.push(el("span", { class: "line", text: lines[key] }));
  }
  // The §9 hook on every certificate shown, the chosen one too: with a single certificate
  // (the usual CPS card) there is no list, and a test that waits for the hook still finds it.
  if (!asButton) return el("div", { class: "certificate", "data-certificate-id": cert.certificateId }, ...parts);
  return el("button", { type: "button", class: "certificate",
                        "data-certificate-id": cert.certificateId,
                        onclick: () => send({ type: "select", certificateId: cert.certificateId }) },
            ...parts);
}

function render(view) {
  const previous = current;
  current = view;
  useLang(view.lang);
  $("title").textContent = t("dialogTitle");
  $("origin-label").textContent = t("requestingSite");
  showOrigin(view.origin);
  if (isEnded(view)) say($("time-left"), "");
  say($("progress"), view.view === "insert-card" && view.detected
    ? t("cardDetected", [view.detected.reader || ""]) : "");
  if (view.view === "insert-card" && previous && previous.view === "insert-card" && $("step")) {
    // The same step again (a card seen, taken out, a reader plugged in): changed in place,
    // the focus left where it is, so that the step is not read out again.
    say($("step"), heading(view, t));
    say($("wait-hint"), waitHint(view, t));
    say($("alert"), alertText(view, lang, t));
    return;
  }
  const content = $("content");
  const actions = $("actions");
  content.replaceChildren();
  actions.replaceChildren();
  const h2 = el("h2", { id: "step", tabindex: "-1", text: heading(view, t) });
  content.append(h2);
  let focus = h2;
  const buttons = el("div", { class: "buttons" });

  switch (view.view) {
    case "connecting":
    case "signing":
      h2.prepend(el("span", { class: "spinner", "aria-hidden": "true" }));
      if (view.certificate) content.append(certificateBlock(view.certificate, false));
      buttons.append(cancelButton());
      actions.append(buttons);
      break;
    case "insert-card":
      content.append(el("p", { id: "wait-hint", class: "hint", text: waitHint(view, t) }));
      buttons.append(cancelButton());
      actions.append(buttons);
      break;
    case "select": {
      const list = el("ul", { class: "certificates", "aria-labelledby": "step" });
      for (const cert of view.certificates || []) list.append(el("li", {}, certificateBlock(cert, true)));
      content.append(list);
      focus = list.querySelector("button") || h2;
      buttons.append(cancelButton());
      actions.append(buttons);
      break;
    }
    case "pin": {
      const { min, max } = pinBounds(view.certificate.pin);
      content.append(certificateBlock(view.certificate, false));
      // Firefox offers to save a password field's value, here the code porteur, in its
      // password manager (autocomplete="off" does not stop it; Chromium gives extension pages
      // no password manager). There the field is a text field drawn masked (dialog.css):
      // no password field, nothing to offer. Chromium keeps the password field, which screen
      // readers announce as protected.
      const input = el("input", { id: "pin", name: "pin",
        type: BUILD.family === "firefox" ? "text" : "password", class: "masked", inputmode: "numeric",
        autocomplete: "off", autocorrect: "off", spellcheck: "false", required: true,
        minlength: String(min), maxlength: String(max), pattern: `[0-9]{${min},${max}}`,
        "aria-describedby": "pin-hint alert", "aria-invalid": view.error ? "true" : "false" });
      input.addEventListener("input", () => {
        const clean = digitsOnly(input.value, max);
        if (clean !== input.value) input.value = clean;
      });
      const form = el("form", { novalidate: true },
        el("label", { for: "pin", text: pinLabel(t, view.certificate.pin) }),
        input,
        el("p", { id: "pin-hint", class: "hint", text: t("pinHint") }));
      buttons.append(el("button", { type: "submit", text: t("validate") }), cancelButton());
      form.append(buttons);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        // Nothing, or too few digits: said here, nothing sent; what was typed stays.
        const problem = pinEntryProblem(input.value, view.certificate.pin, t);
        if (problem) {
          say($("alert"), problem);
          input.setAttribute("aria-invalid", "true");
          input.focus();
          return;
        }
        const pin = input.value;
        input.value = "";
        send({ type: "pin", pin });
      });
      content.append(form);
      if (view.canChange) {
        content.append(el("button", { type: "button", class: "link", name: "change",
          text: t("changeCertificate"), onclick: () => send({ type: "change-certificate" }) }));
      }
      focus = input;
      break;
    }
    case "pin-pad":
      content.append(certificateBlock(view.certificate, false));
      content.append(el("p", { class: "hint", text: t("pinPadHint") }));
      if (!view.waiting) {
        buttons.append(el("button", { type: "button", name: "retry", text: t("retry"),
                                      onclick: () => send({ type: "retry" }) }));
      } else {
        h2.prepend(el("span", { class: "spinner", "aria-hidden": "true" }));
      }
      buttons.append(cancelButton());
      actions.append(buttons);
      break;
    case "blocked":
    case "timeout":
      // Nothing more happens here: « Fermer », focused, closes the window.
      buttons.append(cancelButton(t("close")));
      actions.append(buttons);
      focus = buttons.querySelector("button");
      break;
    default:
      finished = true;
      buttons.append(cancelButton(t("close")));
      actions.append(buttons);
  }
  say($("alert"), alertText(view, lang, t));
  focus.focus();
}

/** A notice from the background beside the view: one minute left. */
function notice(msg) {
  if (msg.notice === "time-left" && !ended()) say($("time-left"), t("timeLeft"));
}

document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    send({ type: "cancel" });
    if (ended()) window.close();
  }
});

function connect() {
  port = api.runtime.connect({ name: "dialog" });
  port.onMessage.addListener((msg) => {
    if (msg && typeof msg.notice === "string") notice(msg);
    else if (msg && typeof msg.view === "string") render(msg);
  });
  port.onDisconnect.addListener(() => {
    port = null;
    // A view that ended (blocked card, time limit) keeps its explanation on screen.
    if (!ended()) render({ view: "gone", origin: current && current.origin });
  });
  port.postMessage({ type: "hello", flowId });
}

loadCatalogs().then(() => {
  render({ view: "connecting", origin: "" });
  connect();
});
