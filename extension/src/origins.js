// Which page origins may ask for a CPS login. The background decides from the sender's
// origin as the browser reports it, never from anything the page says.
import { BUILD } from "./build-info.js";

/** ViaTrajectoire's production origin(s): the only ones a release build knows by itself. */
export const PRODUCTION_ORIGINS = Object.freeze(["https://trajectoire.sante-ra.fr"]);

/** `https://host[:port]` in canonical form, or null when `value` is not such an origin. */
export function canonicalOrigin(value) {
  if (typeof value !== "string" || value.length === 0 || value.length > 255) return null;
  let url;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" || url.username || url.password) return null;
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) return null;
  if (/[/?#]$/.test(value) && value !== url.origin + "/") return null;
  return url.origin;
}

/** Where a sender (content script) lives: its origin and whether it is https. The URL
 *  stands in only where the browser gives no origin at all (older Firefox): an opaque
 *  origin ("null": a sandboxed document) is no origin, whatever its URL says. */
export function senderOrigin(sender) {
  const raw = sender && (sender.origin !== undefined ? sender.origin : sender.url);
  if (typeof raw !== "string") return { origin: null, secure: false };
  try {
    const url = new URL(raw);
    return { origin: url.origin, secure: url.protocol === "https:" };
  } catch {
    return { origin: null, secure: false };
  }
}

export class OriginPolicy {
  /**
   * @param {string[]} managed origins added by IT (managed storage `allowedOrigins`)
   * @param {string[]} devOrigins origins allowed on any port (development build only)
   */
  constructor({ production = PRODUCTION_ORIGINS, managed = [], devOrigins = [] } = {}) {
    this.exact = new Set();
    for (const o of [...production, ...(Array.isArray(managed) ? managed : [])]) {
      const c = canonicalOrigin(o);
      if (c) this.exact.add(c);
    }
    this.anyPort = new Set();
    for (const o of devOrigins) {
      const c = canonicalOrigin(o);
      if (c) this.anyPort.add(new URL(c).hostname);
    }
  }

  allows(origin) {
    const c = canonicalOrigin(origin);
    if (!c) return false;
    if (this.exact.has(c)) return true;
    return this.anyPort.has(new URL(c).hostname);
  }

  list() {
    return [...this.exact, ...[...this.anyPort].map((h) => `https://${h}:*`)];
  }
}

/** The policy now: production origins, managed storage, and the build's development origins. */
export async function loadPolicy(api, build = BUILD) {
  let managed = [];
  try {
    const got = await api.storage.managed.get("allowedOrigins");
    if (got && Array.isArray(got.allowedOrigins)) managed = got.allowedOrigins;
  } catch {
    // No managed storage (no policy installed, or Firefox without a managed manifest).
  }
  return new OriginPolicy({ managed, devOrigins: build.dev ? build.devOrigins : [] });
}
