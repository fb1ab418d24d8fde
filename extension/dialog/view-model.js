// What the dialog shows, as plain data: kept apart from the DOM so that node tests read it.
import { messageFor } from "../src/cps-error.js";
import { cardTypeName } from "../src/holder.js";

// Beyond this, a module's maximum PIN length means "no real limit" (software tokens say 255);
// the field then takes up to this many digits and its label names only the minimum.
export const PIN_FIELD_MAX = 16;

export function pinBounds(pin = {}) {
  const min = Number.isInteger(pin.minLength) && pin.minLength > 0 ? pin.minLength : 4;
  const max = Number.isInteger(pin.maxLength) && pin.maxLength >= min ? pin.maxLength : Math.max(8, min);
  return { min, max: Math.min(max, Math.max(PIN_FIELD_MAX, min)), stated: max <= PIN_FIELD_MAX };
}

/** How many digits the code porteur has, as the person is told: "4 chiffres" whenever the
 *  token's minimum is 4, as the manual and the site say (a CPS card's code porteur has 4;
 *  the field still takes the token's range); else "6 à 8 chiffres", "au moins 6 chiffres". */
export function pinDigits(t, pin) {
  const { min, max, stated } = pinBounds(pin);
  if (min === 4 || (stated && min === max)) return t("pinDigitsFixed", [String(min)]);
  if (!stated) return t("pinDigitsMin", [String(min)]);
  return t("pinDigitsRange", [String(min), String(max)]);
}

/** The PIN field's label: "Code porteur (4 chiffres)". */
export function pinLabel(t, pin) {
  return t("pinLabel", [pinDigits(t, pin)]);
}

/** What the dialog says itself, without sending anything, when « Valider » is pressed on
 *  an empty or too short code porteur ("" when there is nothing to say). The field keeps
 *  digits only, so the length is all there is to check here. */
export function pinEntryProblem(value, pin, t) {
  const typed = String(value || "").length;
  if (typed === 0) return t("pinEmpty", [pinDigits(t, pin)]);
  if (typed < pinBounds(pin).min) return t("pinTooShort", [pinDigits(t, pin), String(typed)]);
  return "";
}

/** A getMessage-like function over one locale's messages.json (the dialog speaks the
 *  language the site asked for, which may differ from the browser's). */
export function translator(messages) {
  return (key, subs = []) => {
    const m = messages && messages[key];
    if (!m) return key;
    return m.message.replace(/\$([A-Za-z0-9_]+)\$/g, (_, name) => {
      const ph = m.placeholders && m.placeholders[name.toLowerCase()];
      if (!ph) return "";
      const v = subs[Number(ph.content.slice(1)) - 1];
      return v === undefined ? "" : String(v);
    });
  };
}

/** Digits only, at most `max` of them: what the PIN field keeps of what was typed. */
export function digitsOnly(value, max) {
  return String(value || "").replace(/[^0-9]/g, "").slice(0, max);
}

/** The sentence for an error shown in the dialog ([role="alert"]). */
export function errorText(error, lang) {
  if (!error || !error.code) return "";
  return messageFor(error.code, lang, error.details);
}

export function formatDate(iso, lang) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Intl.DateTimeFormat(lang === "en" ? "en-GB" : "fr-FR",
    { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" }).format(d);
}

/** The lines that describe one certificate: name, RPPS/ADELI, profession, card, expiry. */
export function certificateLines(cert, t, lang, now = Date.now()) {
  const h = cert.holder || {};
  const lines = {
    name: cert.displayName || [h.givenName, h.familyName].filter(Boolean).join(" "),
    identifier: cert.identifier || h.idNat || "",
    title: h.title || "",
    cardType: t("cardType", [cardTypeName(h.cardType)]),
    expires: !cert.notAfter ? ""
      : t(new Date(cert.notAfter).getTime() < now ? "expired" : "expires",
          [formatDate(cert.notAfter, lang)]),
    reader: cert.reader ? t("readerName", [cert.reader]) : "",
  };
  return lines;
}

// The steps of a login under way; in any other view (blocked card, time limit, gone)
// nothing more happens in this window and « Fermer » closes it.
const STEPS = new Set(["connecting", "insert-card", "select", "pin", "pin-pad", "signing"]);

export function isEnded(view) {
  return !!view && !STEPS.has(view.view);
}

const noReader = (view) => !!(view.error && view.error.code === "ERR_CPS_NO_READER");

/** The heading of each view. */
export function heading(view, t) {
  switch (view.view) {
    case "connecting": return t("connecting");
    case "insert-card": return t(noReader(view) ? "plugReader" : "insertCard");
    case "select": return t("selectCertificate");
    case "pin": return t("enterPin");
    case "pin-pad": return t("pinPad");
    case "signing": return t("signing");
    case "blocked": return t("blockedTitle");
    case "timeout": return t("timeoutTitle");
    default: return t("finished");
  }
}

/** The line under the heading while the dialog waits for a card. */
export function waitHint(view, t) {
  return t(noReader(view) ? "plugReaderHint" : "insertCardHint");
}

// While it waits for a card the dialog goes on by itself: the host's sentences that end in
// « réessayez » / « recommencez » (written for a page that stops there) are said here
// without that end. The other waiting errors' sentences ask for nothing of the kind.
const WAITING_TEXTS = {
  ERR_CPS_NO_READER: "waitNoReader",
  ERR_CPS_CARD_REMOVED: "waitCardRemoved",
  ERR_CPS_CERTIFICATE_NOT_FOUND: "waitCertificateGone",
};

/** The alert text of a view: its error, or for a blocked card the explanation. */
export function alertText(view, lang, t) {
  if (view.view === "blocked") {
    return errorText(view.error && view.error.code ? view.error : { code: "ERR_CPS_PIN_LOCKED" },
                     lang);
  }
  if (view.view === "timeout") return errorText({ code: "ERR_CPS_USER_TIMEOUT" }, lang);
  if (view.view === "insert-card" && view.error && WAITING_TEXTS[view.error.code] && t) {
    return t(WAITING_TEXTS[view.error.code]);
  }
  return errorText(view.error, lang);
}

/** The origin cut into the pieces a line may break between (scheme, each label of the
 *  host, port), so that the person reads « https:// » and « sante-ra.fr » whole. */
export function originParts(origin) {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/:]+)(:\d+)?$/i.exec(String(origin || ""));
  if (!m) return origin ? [String(origin)] : [];
  const labels = m[2].split(".").map((label, i) => (i ? "." : "") + label);
  return [m[1], ...labels, ...(m[3] ? [m[3]] : [])];
}
