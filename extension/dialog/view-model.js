// What the dialog shows, as plain data: kept apart from the DOM so that node tests read it.
import { messageFor } from "../src/cps-error.js";

// Beyond this, a module's maximum PIN length means "no real limit" (software tokens say 255);
// the field then takes up to this many digits and its label names only the minimum.
export const PIN_FIELD_MAX = 16;

export function pinBounds(pin = {}) {
  const min = Number.isInteger(pin.minLength) && pin.minLength > 0 ? pin.minLength : 4;
  const max = Number.isInteger(pin.maxLength) && pin.maxLength >= min ? pin.maxLength : Math.max(8, min);
  return { min, max: Math.min(max, Math.max(PIN_FIELD_MAX, min)), stated: max <= PIN_FIELD_MAX };
}

/** The PIN field's label: "Code porteur (4 chiffres)", "(4 à 8 chiffres)", "(au moins 4…)". */
export function pinLabel(t, pin) {
  const { min, max, stated } = pinBounds(pin);
  if (!stated) return t("pinLabelMin", [String(min)]);
  return min === max ? t("pinLabelFixed", [String(min)])
                     : t("pinLabelRange", [String(min), String(max)]);
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

const CARD_TYPE_NAMES = {
  CPS: "CPS", CPF: "CPF", CPE: "CPE", CPA: "CPA", CDE: "CDE", UNKNOWN: "CPx",
};

/** The lines that describe one certificate: name, RPPS/ADELI, profession, card, expiry. */
export function certificateLines(cert, t, lang, now = Date.now()) {
  const h = cert.holder || {};
  const lines = {
    name: cert.displayName || [h.givenName, h.familyName].filter(Boolean).join(" "),
    identifier: cert.identifier || h.idNat || "",
    title: h.title || "",
    cardType: t("cardType", [CARD_TYPE_NAMES[h.cardType] || "CPx"]),
    expires: !cert.notAfter ? ""
      : t(new Date(cert.notAfter).getTime() < now ? "expired" : "expires",
          [formatDate(cert.notAfter, lang)]),
    reader: cert.reader ? t("readerName", [cert.reader]) : "",
  };
  return lines;
}

/** The heading of each view. */
export function heading(view, t) {
  switch (view.view) {
    case "connecting": return t("connecting");
    case "insert-card": return t("insertCard");
    case "select": return t("selectCertificate");
    case "pin": return t("enterPin");
    case "pin-pad": return t("pinPad");
    case "signing": return t("signing");
    case "blocked": return t("blockedTitle");
    default: return t("finished");
  }
}

/** The alert text of a view: its error, or for a blocked card the explanation. */
export function alertText(view, lang) {
  if (view.view === "blocked") {
    return errorText(view.error && view.error.code ? view.error : { code: "ERR_CPS_PIN_LOCKED" },
                     lang);
  }
  return errorText(view.error, lang);
}
