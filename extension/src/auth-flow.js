// One CPS login asked by one tab: the background's side of the trusted dialog.
//
//   open port ─> dialog window ─> list certificates ──none──> "insert your card" (waits with
//   waitForCardMs, live from host events) ─> one certificate: PIN; several: choose ─> PIN ─>
//   authenticate ─> token to the page. A card pulled out meanwhile: the host says so
//   (ERR_CPS_CARD_REMOVED…) and the dialog waits for a card again.
//   Wrong PIN: back to the PIN with the tries left. Blocked card: explained, page told.
//   Cancel button or window closed: ERR_CPS_USER_CANCELLED. No answer in time: ERR_CPS_USER_TIMEOUT,
//   told to the page at once; the window stays on « Délai dépassé » until the person closes
//   it, with a warning one minute before.
//
// The PIN arrives from the dialog in one message, goes into one `authenticate` request and
// is not kept, logged or sent anywhere else. It is never retried by this code.
import { CpsError, asCpsError } from "./cps-error.js";
import { certificateView } from "./holder.js";

export const DEFAULT_USER_TIMEOUT_MS = 4 * 60 * 1000; // within the site's 5-minute nonce
export const MIN_USER_TIMEOUT_MS = 5000;
export const MAX_USER_TIMEOUT_MS = 290 * 1000;
const MAX_WAIT_FOR_CARD_MS = 120000;
const PIN_PAD_TIMEOUT_MS = 130000;
// The dialog says « Il vous reste 1 minute » this long before the end (WCAG 2.2.1: no time
// limit ends without a warning).
export const TIME_WARNING_MS = 60 * 1000;
// Errors that mean "no usable card yet": the dialog keeps waiting for one.
const WAIT_CODES = new Set(["ERR_CPS_NO_CARD", "ERR_CPS_NO_READER", "ERR_CPS_UNSUPPORTED_CARD",
  "ERR_CPS_CARD_REMOVED", "ERR_CPS_CERTIFICATE_NOT_FOUND", "ERR_CPS_PCSC_UNAVAILABLE"]);

export function userTimeout(timeoutMs) {
  if (!Number.isFinite(timeoutMs)) return DEFAULT_USER_TIMEOUT_MS;
  return Math.min(MAX_USER_TIMEOUT_MS, Math.max(MIN_USER_TIMEOUT_MS, Math.floor(timeoutMs)));
}

/** A PIN the host may receive: digits only, length within the token's bounds. */
export function pinIsWellFormed(pin, bounds = {}) {
  const min = Number.isInteger(bounds.minLength) ? bounds.minLength : 4;
  const max = Number.isInteger(bounds.maxLength) ? bounds.maxLength : 8;
  return typeof pin === "string" && /^[0-9]+$/.test(pin) && pin.length >= min && pin.length <= max;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** An error about a card in another reader than `reader` (a card-removed event there says
 *  nothing about it). */
function namesOtherReader(error, reader) {
  const named = error && error.details && error.details.reader;
  return !!(named && reader && named !== reader);
}

/** An ERR_CPS_INVALID_REQUEST naming `name` among the arguments it refused. */
function refusesArgument(error, name) {
  const fields = error.code === "ERR_CPS_INVALID_REQUEST" && error.details && error.details.fields;
  return Array.isArray(fields) && fields.includes(name);
}

export class AuthFlow {
  /**
   * @param native  a NativePort
   * @param ui      {open(): Promise, show(view), notify(notice), focus(), close()} — the
   *                dialog window
   */
  constructor({ native, ui, origin, challengeNonce, timeoutMs, lang, retryDelayMs = 500 }) {
    this.native = native;
    this.lang = lang === "fr" || lang === "en" ? lang : undefined;
    this.ui = ui;
    this.origin = origin;
    this.challengeNonce = challengeNonce;
    this.userTimeoutMs = userTimeout(timeoutMs);
    this.retryDelayMs = retryDelayMs;
    this.done = false;
    this.view = null;
    this.certificates = [];
    this.certificate = null;
    this.busy = false;
    this.listRequestId = null;
    this.startedAt = 0;
    this.windowAsked = false;
    this.waitError = undefined; // why the dialog waits for a card, while it does
    this.hostTakesListOrigin = true; // false once an older host refused list-certificates' origin
    this.promise = new Promise((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
    });
    this.promise.catch(() => {});
  }

  /** Resolves with the token; rejects with a CpsError. */
  run() {
    this._start().catch((err) => this._fail(err));
    return this.promise;
  }

  async _start() {
    // The time counts from the page's request, the host's start (up to 20 s) included: the
    // site's nonce lives 5 minutes from then, and the longest user time (290 s) must end
    // within them.
    this.startedAt = Date.now();
    this.timer = setTimeout(() => this._timeout(), this.userTimeoutMs);
    if (this.userTimeoutMs > TIME_WARNING_MS) {
      this.warningTimer = setTimeout(() => this._warn(), this.userTimeoutMs - TIME_WARNING_MS);
    }
    await this.native.open(); // ERR_CPS_NATIVE_UNAVAILABLE / VERSION_MISMATCH before any window
    if (this.done) return;
    this._show({ view: "connecting" });
    this.windowAsked = true;
    await this.ui.open(this);
    if (this.done) return;
    await this._loadCertificates();
  }

  // -- from the dialog ------------------------------------------------------------------

  onDialogMessage(msg) {
    if (this.done || !msg || typeof msg !== "object") return;
    switch (msg.type) {
      case "cancel":
        this.cancel();
        break;
      case "select":
        if (this.view && this.view.view === "select") {
          const cert = this.certificates.find((c) => c.certificateId === msg.certificateId);
          if (cert) this._choose(cert);
        }
        break;
      case "change-certificate":
        if (this.certificates.length > 1 && !this.busy) this._showSelect();
        break;
      case "pin":
        this._onPin(msg.pin);
        break;
      case "retry":
        if (this.view && this.view.view === "pin-pad" && !this.busy) this._authenticate(undefined);
        break;
      default:
        break;
    }
  }

  /** Another login was asked meanwhile (refused): this one's window comes to the front. */
  focus() {
    if (!this.done) this._toWindow((ui) => ui.focus());
  }

  onWindowClosed() {
    this.windowClosed = true;
    this.cancel();
  }

  cancel(code = "ERR_CPS_USER_CANCELLED") {
    if (this.done) return;
    this._fail(new CpsError(code));
  }

  // -- steps ----------------------------------------------------------------------------

  async _loadCertificates(error = undefined) {
    let waitMs = 0;
    this.waitError = error;
    if (error) {
      this._show({ view: "insert-card", error });
      this._listen(true);
    }
    while (!this.done) {
      const asked = Date.now();
      // The page's origin goes with the list: a host that refuses it says so now, before
      // the card is read, and no code porteur is asked for a page it would refuse anyway
      // (the extension's and the host's allowed origins are set apart, and may differ).
      const args = { waitForCardMs: waitMs };
      if (this.hostTakesListOrigin) args.origin = this.origin;
      let certs;
      try {
        const result = await this.native.request("list-certificates", args,
          { timeoutMs: waitMs + 15000, onId: (id) => { this.listRequestId = id; } });
        certs = Array.isArray(result.certificates) ? result.certificates : [];
      } catch (err) {
        const e = asCpsError(err);
        if (this.done) return;
        if (args.origin !== undefined && refusesArgument(e, "origin")) {
          // A host older than this extension: asked again as before; its authenticate
          // still refuses the origin, after the PIN.
          this.hostTakesListOrigin = false;
          continue;
        }
        if (!WAIT_CODES.has(e.code)) throw e;
        if (e.code !== "ERR_CPS_NO_CARD") this.waitError = { code: e.code, details: e.details };
        // No card is no news, except after a card pulled out mid-login: that explanation
        // stays until a card comes (host events, below).
        else if (!this.waitError || this.waitError.code !== "ERR_CPS_CARD_REMOVED") this.waitError = undefined;
        certs = [];
      } finally {
        this.listRequestId = null;
      }
      if (this.done) return;
      if (certs.length) {
        this._listen(false);
        this.certificates = certs;
        if (certs.length === 1) this._choose(certs[0]);
        else this._showSelect();
        return;
      }
      this._show({ view: "insert-card", error: this.waitError });
      this._listen(true); // live card events while waiting, and only then
      const remaining = this.userTimeoutMs - (Date.now() - this.startedAt);
      waitMs = Math.max(0, Math.min(MAX_WAIT_FOR_CARD_MS, remaining));
      // A host that answers at once (no reader, say) is not asked again in a tight loop.
      if (Date.now() - asked < this.retryDelayMs) await sleep(this.retryDelayMs);
    }
  }

  /** Host events (watch) while the dialog waits for a card; the host watches PC/SC only
   *  as long as someone listens. */
  _listen(on) {
    if (on && !this.unlisten) {
      this.unlisten = this.native.addEventListener((ev) => this._onHostEvent(ev));
    } else if (!on && this.unlisten) {
      this.unlisten();
      this.unlisten = null;
    }
  }

  _showSelect() {
    this.certificate = null;
    this._show({ view: "select", certificates: this.certificates.map(certificateView) });
  }

  _choose(cert) {
    this.certificate = cert;
    const pin = cert.pin || {};
    if (pin.status === "locked") {
      this._blocked({ code: "ERR_CPS_PIN_LOCKED" });
    } else if (pin.pinPad) {
      this._authenticate(undefined);
    } else {
      this._showPin();
    }
  }

  _showPin(error = undefined) {
    this._show({ view: "pin", certificate: certificateView(this.certificate),
                 canChange: this.certificates.length > 1, error });
  }

  _onPin(pin) {
    if (this.busy || !this.view || this.view.view !== "pin" || !this.certificate) return;
    if (this.certificate.pin && this.certificate.pin.pinPad) return; // typed on the pad only
    if (!pinIsWellFormed(pin, this.certificate.pin)) {
      // Not sent to the host, let alone to the card.
      this._showPin({ code: "ERR_CPS_PIN_FORMAT", details: { local: true } });
      return;
    }
    this._authenticate(pin);
  }

  async _authenticate(pin) {
    const cert = this.certificate;
    const pinPad = !!(cert.pin && cert.pin.pinPad);
    this.busy = true;
    this._show(pinPad ? { view: "pin-pad", certificate: certificateView(cert), waiting: true }
                      : { view: "signing", certificate: certificateView(cert) });
    const args = { challengeNonce: this.challengeNonce, origin: this.origin,
                   certificateId: cert.certificateId };
    if (!pinPad) args.pin = pin;
    let result;
    try {
      result = await this.native.request("authenticate", args,
        { timeoutMs: pinPad ? PIN_PAD_TIMEOUT_MS : 60000 });
    } catch (err) {
      this.busy = false;
      if (this.done) return;
      this._onAuthError(asCpsError(err), pinPad);
      return;
    } finally {
      delete args.pin;
    }
    this.busy = false;
    if (this.done) return;
    if (!result || typeof result.token !== "object") {
      this._fail(new CpsError("ERR_CPS_INTERNAL", { reason: "no token" }));
      return;
    }
    this._finish(result.token);
  }

  _onAuthError(e, pinPad) {
    const shown = { code: e.code, details: e.details };
    // A PIN pad reader takes the code porteur on its own keys, so that it never enters the
    // computer: after a wrong code there, the retry is on the pad again, never a keyboard field.
    const again = () => (pinPad ? this._showPinPad(shown) : this._showPin(shown));
    switch (e.code) {
      case "ERR_CPS_PIN_INCORRECT": {
        const status = e.details && e.details.pinStatus;
        if (status) this.certificate.pin = { ...this.certificate.pin, status };
        if (status === "locked") this._blocked(shown);
        else again();
        break;
      }
      case "ERR_CPS_PIN_FORMAT":
        again();
        break;
      case "ERR_CPS_PIN_LOCKED":
        this._blocked(shown);
        break;
      case "ERR_CPS_PIN_PAD_TIMEOUT":
        this._showPinPad(shown);
        break;
      default:
        if (WAIT_CODES.has(e.code)) {
          this.certificate = null;
          this._loadCertificates(shown).catch((err) => this._fail(err));
        } else {
          this._fail(e);
        }
    }
  }

  /** The PIN pad view, not waiting: its « Réessayer » asks the pad again. */
  _showPinPad(error) {
    this._show({ view: "pin-pad", certificate: certificateView(this.certificate),
                 waiting: false, error });
  }

  /** A blocked card: explained in the dialog, which stays open; the page is told now. */
  _blocked(error) {
    this._show({ view: "blocked", error });
    this._settle(false, new CpsError("ERR_CPS_PIN_LOCKED"), { keepWindow: true });
  }

  _onHostEvent(ev) {
    if (this.done || !ev) return;
    const data = ev.data || {};
    const waiting = this.view && this.view.view === "insert-card";
    const detected = { reader: data.reader ?? null, cardType: data.cardType ?? null };
    // What was said about the card that was there (not a CPS card, pulled out) is out of
    // date once a card comes or goes; a reader plugged in ends « Branchez votre lecteur ».
    if (waiting && ev.event === "card-inserted") {
      this.waitError = undefined;
      this._show({ view: "insert-card", detected });
    } else if (waiting && ev.event === "card-removed") {
      if (!namesOtherReader(this.waitError, data.reader)) this.waitError = undefined;
      this._show({ view: "insert-card", error: this.waitError });
    } else if (waiting && ev.event === "reader-added" && this.waitError
               && this.waitError.code === "ERR_CPS_NO_READER") {
      this.waitError = undefined;
      this._show({ view: "insert-card", detected: data.atr ? detected : undefined });
    } else if (ev.event === "host-disconnected" && !this.busy) {
      this._fail(new CpsError("ERR_CPS_INTERNAL", { reason: "the host exited" }));
    }
  }

  /** One minute left: a line in the dialog (a notice, not a view, so that the PIN being
   *  typed stays in its field). */
  _warn() {
    if (!this.done) this._toWindow((ui) => ui.notify({ notice: "time-left" }));
  }

  // -- ends -----------------------------------------------------------------------------

  /** The time is up: the page is told now, as ever. The window, where the person may be
   *  typing, does not vanish under them: it shows « Délai dépassé » and « Fermer » (the PIN
   *  field goes with the view; a PIN sent after this finds the flow done). */
  _timeout() {
    if (this.done) return;
    const error = new CpsError("ERR_CPS_USER_TIMEOUT");
    if (!this.windowAsked) {
      this._fail(error); // no window yet (a slow host start): none opens
      return;
    }
    this._show({ view: "timeout" });
    this._settle(false, error, { keepWindow: true });
  }

  _show(view) {
    this.view = { origin: this.origin, ...(this.lang ? { lang: this.lang } : {}), ...view };
    this._toWindow((ui) => ui.show(this.view));
  }

  /** A call on the dialog window, which may be gone meanwhile: windows.onRemoved cancels
   *  the flow then, and the call is dropped. */
  _toWindow(call) {
    try {
      call(this.ui);
    } catch {
      // gone
    }
  }

  _finish(token) {
    this._settle(true, token);
  }

  _fail(err) {
    this._settle(false, asCpsError(err));
  }

  _settle(ok, value, { keepWindow = false } = {}) {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    clearTimeout(this.warningTimer);
    this._listen(false);
    if (this.listRequestId) this.native.cancel(this.listRequestId);
    // The page hears first; the window closes right after (closing it first delays the
    // answer behind the window's teardown).
    if (ok) this._resolve(value);
    else this._reject(value);
    if (!keepWindow && !this.windowClosed) setTimeout(() => this._toWindow((ui) => ui.close()), 0);
  }
}
