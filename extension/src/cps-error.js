// Errors as the page, the dialog and the popup see them: a code of host/errors.json and
// the sentence a person reads, in French unless English is asked for.
import { ERRORS } from "./errors.js";

export const LANGS = Object.freeze(["fr", "en"]);

export function pickLang(lang) {
  return typeof lang === "string" && lang.toLowerCase().startsWith("en") ? "en" : "fr";
}

export function isKnownCode(code) {
  return typeof code === "string" && Object.prototype.hasOwnProperty.call(ERRORS, code);
}

/** The message for `code` in `lang`; the pinStatus variant when details name one. */
export function messageFor(code, lang = "fr", details = undefined) {
  const l = pickLang(lang);
  const entry = isKnownCode(code) ? ERRORS[code] : ERRORS.ERR_CPS_INTERNAL;
  const variant = details && entry.variants && entry.variants[details.pinStatus];
  return (variant || entry)[l];
}

export class CpsError extends Error {
  constructor(code, details = undefined, hostMessage = undefined) {
    super(messageFor(code, "fr", details));
    this.name = "CpsError";
    this.code = isKnownCode(code) ? code : "ERR_CPS_INTERNAL";
    if (details !== undefined) this.details = details;
    if (hostMessage !== undefined) this.hostMessage = hostMessage;
  }
}

/** Any thrown value as a CpsError (unknown failures become ERR_CPS_INTERNAL). */
export function asCpsError(err) {
  if (err instanceof CpsError) return err;
  return new CpsError("ERR_CPS_INTERNAL", { reason: String((err && err.message) || err) });
}

// Details that may reach the page: facts about the card or the host, never a PIN.
const PAGE_DETAIL_KEYS = ["pinStatus", "hostVersion", "hostProtocol", "extensionProtocol"];

/** The `error` member of a §9 response. */
export function pageError(err, lang = "fr") {
  const e = asCpsError(err);
  const out = { code: e.code, message: messageFor(e.code, lang, e.details) };
  if (e.details) {
    const details = {};
    for (const k of PAGE_DETAIL_KEYS) if (e.details[k] !== undefined) details[k] = e.details[k];
    if (Object.keys(details).length) out.details = details;
  }
  return out;
}
