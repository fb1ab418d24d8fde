// Page requests (§9), as the content script forwards them: checked, then routed.
// The origin comes from the browser's sender record, never from the message.
import { CpsError, pageError, pickLang } from "./cps-error.js";
import { senderOrigin } from "./origins.js";
import { cardSummary, pageCard } from "./holder.js";
import { HANDSHAKE_TIMEOUT_MS } from "./native-port.js";

/** A ready port's `status` question; the card read (`list-certificates`, no wait). */
export const HOST_STATUS_TIMEOUT_MS = 10000;
export const CARD_STATUS_TIMEOUT_MS = 8000;
/** The longest a page's `status` can take here: the host exits just before it answers a
 *  ready port's question, the new host answers its handshake at the last moment, and the
 *  card read takes all its time (10 + 20 + 8 = 38 s). page/cpsbridge.js waits longer. */
export const STATUS_WORST_CASE_MS = HOST_STATUS_TIMEOUT_MS + HANDSHAKE_TIMEOUT_MS
  + CARD_STATUS_TIMEOUT_MS;

const NONCE = /^[A-Za-z0-9+/\-_]{42,128}={0,2}$/;
const REQUEST_KEYS = new Set(["cpsbridge", "requestId", "action", "challengeNonce", "lang",
  "timeoutMs"]);

/** Throws ERR_CPS_INVALID_REQUEST unless `req` is a well-formed §9 request. */
export function checkPageRequest(req) {
  const bad = (why) => new CpsError("ERR_CPS_INVALID_REQUEST", { reason: why });
  if (!req || typeof req !== "object" || req.cpsbridge !== "request") throw bad("not a request");
  for (const k of Object.keys(req)) if (!REQUEST_KEYS.has(k)) throw bad(`unknown key ${k}`);
  const idLength = typeof req.requestId === "string" ? [...req.requestId].length : 0; // code points
  if (idLength < 1 || idLength > 64) {
    throw bad("requestId");
  }
  if (req.lang !== undefined && typeof req.lang !== "string") throw bad("lang");
  if (req.timeoutMs !== undefined && !Number.isFinite(req.timeoutMs)) throw bad("timeoutMs");
  if (req.action === "status") return;
  if (req.action !== "authenticate") throw bad("action");
  const n = req.challengeNonce;
  if (typeof n !== "string" || n.length < 44 || n.length > 128 || !NONCE.test(n)) {
    throw bad("challengeNonce");
  }
}

export class Router {
  /**
   * @param native     NativePort
   * @param getPolicy  async () => OriginPolicy
   * @param createFlow ({origin, challengeNonce, timeoutMs, tabId}) => AuthFlow
   */
  constructor({ native, getPolicy, createFlow, extensionVersion }) {
    this.native = native;
    this.getPolicy = getPolicy;
    this.createFlow = createFlow;
    this.extensionVersion = extensionVersion;
    // The login going on, {tabId, flow}, or null: one in the whole browser, not one per tab.
    // Two PIN dialogs at once leave the person guessing which page asks for their code
    // porteur, and would let a second page slip its dialog in beside the one they expect.
    this.login = null;
  }

  /** Where the sender may ask from: its origin, or a CpsError. */
  async allowedOrigin(sender) {
    const { origin, secure } = senderOrigin(sender);
    if (!origin) throw new CpsError("ERR_CPS_ORIGIN_NOT_ALLOWED");
    if (!secure) throw new CpsError("ERR_CPS_INSECURE_CONTEXT");
    if (!sender.tab || (sender.frameId !== undefined && sender.frameId !== 0)) {
      throw new CpsError("ERR_CPS_ORIGIN_NOT_ALLOWED", { reason: "not a top-level page" });
    }
    const policy = await this.getPolicy();
    if (!policy.allows(origin)) throw new CpsError("ERR_CPS_ORIGIN_NOT_ALLOWED");
    return origin;
  }

  /** One page request on its own port (content script: runtime.connect "page-request"):
   *  one message in, one answer out. The port closing before the answer means that the
   *  document went away (reload, navigation, tab closed): the login it started is
   *  cancelled, so that no dialog asks a PIN for a page that is gone and the tab is free
   *  for the next document. Only this port's request: another document's goes on. */
  serve(port, extensionId) {
    const sender = port.sender;
    // As strict as a runtime.onMessage sender: this extension's content script, in a tab.
    if (!sender || sender.id !== extensionId || !sender.tab) {
      port.disconnect();
      return;
    }
    const gone = new AbortController();
    port.onDisconnect.addListener(() => gone.abort());
    const onRequest = (msg) => {
      port.onMessage.removeListener(onRequest); // one request per port
      if (!msg || msg.type !== "page-request") {
        port.disconnect();
        return;
      }
      this.handle(msg.request, sender, gone.signal).then((answer) => {
        if (gone.signal.aborted) return;
        try {
          port.postMessage(answer);
        } catch {
          // closed meanwhile: nobody to tell
        }
      });
    };
    port.onMessage.addListener(onRequest);
  }

  /** The §9 response (without cpsbridge/requestId) for one page request; `signal` aborts
   *  when the asking document is gone. */
  async handle(req, sender, signal = undefined) {
    const lang = pickLang(req && req.lang);
    try {
      checkPageRequest(req);
      const origin = await this.allowedOrigin(sender);
      if (req.action === "status") {
        const status = await this.status(lang);
        return { result: { ...status, card: pageCard(status.card) } };
      }
      return { result: { token: await this.authenticate(origin, req, sender.tab.id, signal) } };
    } catch (err) {
      return { error: pageError(err, lang) };
    }
  }

  async authenticate(origin, req, tabId, signal = undefined) {
    // Gone while the policy was read: no dialog for it.
    if (signal && signal.aborted) throw new CpsError("ERR_CPS_USER_CANCELLED");
    if (this.login) {
      // From this tab or another: the dialog already open comes to the front, so that the
      // person sees the login going on rather than only a refusal.
      this.login.flow.focus();
      throw new CpsError("ERR_CPS_ACTION_PENDING");
    }
    const lang = typeof req.lang === "string" ? pickLang(req.lang) : undefined;
    const flow = this.createFlow({ origin, challengeNonce: req.challengeNonce,
                                   timeoutMs: req.timeoutMs, lang, tabId });
    // Taken with no await since the check above: two requests cannot both pass it.
    const login = { tabId, flow };
    this.login = login;
    const cancel = () => flow.cancel();
    if (signal) signal.addEventListener("abort", cancel, { once: true });
    try {
      return await flow.run();
    } finally {
      // Every end of the flow (token, error, cancel, timeout, page or tab gone) settles
      // run(): the browser is free for the next login, whichever tab asks.
      if (signal) signal.removeEventListener("abort", cancel);
      if (this.login === login) this.login = null;
    }
  }

  /** {extension, host, card}: host status (null when unreachable, with hostError), and the
   *  card in the reader as list-certificates shows it without a PIN (null when none). The
   *  popup shows all of it; a page gets the card through pageCard() only. */
  async status(lang = "fr") {
    const out = { extension: this.extensionVersion, host: null, card: null };
    try {
      out.host = await this._hostStatus();
    } catch (err) {
      out.host = this.native.hostStatus && err.code === "ERR_CPS_VERSION_MISMATCH"
        ? this.native.hostStatus : null;
      out.hostError = pageError(err, lang);
      return out;
    }
    if (this.login) {
      // A dialog is waiting on the card: the host serializes card operations, so the
      // status does not queue behind it.
      out.card = this.lastCard ?? null;
      return out;
    }
    try {
      const r = await this.native.request("list-certificates", { waitForCardMs: 0 },
                                          { timeoutMs: CARD_STATUS_TIMEOUT_MS });
      out.card = cardSummary(r.certificates);
    } catch (err) {
      if (err.code !== "ERR_CPS_NO_CARD") out.cardError = pageError(err, lang);
    }
    this.lastCard = out.card;
    return out;
  }

  /** The host's status now. A port that dies under the question (the host exited just
   *  before) is opened again once: status is harmless to ask twice. */
  async _hostStatus() {
    for (let attempt = 0; ; attempt++) {
      const wasOpen = this.native.state === "ready";
      try {
        const opened = await this.native.open();
        if (!wasOpen) return opened;
        return await this.native.request("status", undefined, { timeoutMs: HOST_STATUS_TIMEOUT_MS });
      } catch (err) {
        if (attempt > 0 || err.code !== "ERR_CPS_INTERNAL" || this.native.state === "ready") throw err;
      }
    }
  }

  /** A page with the CPS tile loaded: open the port now so that the first click is fast. */
  async warmup(sender) {
    try {
      await this.allowedOrigin(sender);
      await this.native.open();
      return true;
    } catch {
      return false;
    }
  }

  /** A closed tab: its login (only its own) is cancelled. */
  cancelTab(tabId) {
    if (this.login && this.login.tabId === tabId) this.login.flow.cancel();
  }
}
