// What the dialog shows, as plain data: kept apart from the DOM so that node tests read it.
import { messageFor } from "../src/cps-error.js";

export function pinBounds(pin = {}) {
  const min = Number.isInteger(pin.minLength) && pin.minLength > 0 ? pin.minLength : 4;
  const max = Number.isInteger(pin.maxLength) && pin.maxLength >= min ? pin.maxLength : Math.max(8, min);
  return { min, max };
}

/** The PIN field's label: "Code porteur (4 chiffres)" or "(4 à 8 chiffres)". */
export function pinLabel(t, pin) {
  const { min, max } = pinBounds(pin);
  return min === max ? t("pinLabelFixed", [String(min)])
                     : t("pinLabelRange", [String(min), String(max)]);
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
export function certificateLines(cert, t, lang) {
  const h = cert.holder || {};
  const lines = {
    name: cert.displayName || [h.givenName, h.familyName].filter(Boolean).join(" "),
    identifier: cert.identifier || h.idNat || "",
    title: h.title || "",
    cardType: t("cardType", [CARD_TYPE_NAMES[h.cardType] || "CPx"]),
    expires: cert.notAfter ? t("expires", [formatDate(cert.notAfter, lang)]) : "",
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
