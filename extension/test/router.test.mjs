import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { HANDSHAKE_TIMEOUT_MS, NativePort } from "../src/native-port.js";
import { OriginPolicy } from "../src/origins.js";
import { CARD_STATUS_TIMEOUT_MS, HOST_STATUS_TIMEOUT_MS, Router, STATUS_WORST_CASE_MS,
         checkPageRequest } from "../src/router.js";
import { popupStatus } from "../src/popup-status.js";
import { AuthFlow } from "../src/auth-flow.js";
import { FakeDialog, FakeNativeHost, HOST_STATUS, NONCE, TOKEN, certificate, defaultHandler, tick } from "./fakes.mjs";

// The sentences a person reads, from their one source (not from the answer under test).
const HOST_ERRORS = JSON.parse(readFileSync(new URL("../../host/errors.json", import.meta.url), "utf-8")).codes;

const SITE = "https://trajectoire.sante-ra.fr";
const sender = (url = `${SITE}/connexion`, tabId = 7, extra = {}) =>
  ({ url, origin: new URL(url).origin, tab: { id: tabId }, frameId: 0, ...extra });
const req = (action, extra = {}) => ({ cpsbridge: "request", requestId: "r1", action, ...extra });

function setup(handler = defaultHandler) {
  const host = new FakeNativeHost(handler);
  const native = new NativePort({ connect: () => host.connect(), lastError: (p) => p.error && p.error.message });
  const dialogs = [];
  const router = new Router({
    native, extensionVersion: "1.2.0",
    getPolicy: async () => new OriginPolicy(),
    createFlow: (o) => {
      const ui = new FakeDialog();
      dialogs.push(ui);
      return new AuthFlow({ native, ui, retryDelayMs: 0, ...o });
    },
  });
  return { host, native, router, dialogs };
}

test("status: extension version, host status and the card in the reader (no PIN)", async () => {
  const { router, native, host } = setup();
  const r = await router.handle(req("status"), sender());
  assert.equal(r.result.extension, "1.2.0");
  assert.deepEqual(r.result.host, HOST_STATUS);
  // That a card is there, its kind and PIN state; never whom it names: the page asks
  // without the user's consent.
  assert.deepEqual(r.result.card, { cardType: "CPS", certificates: 1, pinStatus: "ok" });
  assert.ok(!JSON.stringify(r.result).includes("99700367917"));
  assert.ok(!/DUPONT/i.test(JSON.stringify(r.result)));
  assert.deepEqual(host.commands(), ["status", "list-certificates"]);
  native.close();
});

test("the toolbar popup, an extension page, still names the card's holder", async () => {
  const { router, native } = setup();
  const s = await popupStatus(router, native);
  assert.equal(s.card.displayName, "Dr Jean DUPONT");
  assert.equal(s.card.holder.rpps, "99700367917");
  native.close();
});

test("status with no card: card null; with no host: host null and the reason", async () => {
  const { router, native } = setup((cmd) => cmd === "status" ? { result: HOST_STATUS }
    : { error: { code: "ERR_CPS_NO_CARD", message: "x" } });
  const r = await router.handle(req("status"), sender());
  assert.equal(r.result.card, null);
  assert.equal(r.result.cardError, undefined);
  native.close();
  const s2 = setup();
  s2.host.installed = false;
  const r2 = await s2.router.handle(req("status", { lang: "en" }), sender());
  assert.equal(r2.result.host, null);
  assert.equal(r2.result.hostError.code, "ERR_CPS_NATIVE_UNAVAILABLE");
  assert.match(r2.result.hostError.message, /not installed/);
});

test("authenticate: the origin given to the host is the sender's, not the page's", async () => {
  const { router, dialogs, host, native } = setup();
  const asked = req("authenticate", { challengeNonce: NONCE, origin: "https://evil.test" });
  const p = router.handle(asked, sender());
  assert.deepEqual(await p, { error: { code: "ERR_CPS_INVALID_REQUEST",
    message: HOST_ERRORS.ERR_CPS_INVALID_REQUEST.fr } }, "unknown keys are refused");
  assert.throws(() => checkPageRequest(asked),
    (e) => e.code === "ERR_CPS_INVALID_REQUEST" && e.details.reason === "unknown key origin");
  const ok = router.handle(req("authenticate", { challengeNonce: NONCE }), sender());
  while (!dialogs.length) await tick();
  await dialogs[0].waitFor("pin");
  dialogs[0].user({ type: "pin", pin: "1234" });
  assert.deepEqual(await ok, { result: { token: TOKEN } });
  assert.equal(host.sent.find((m) => m.command === "authenticate").arguments.origin, SITE);
  native.close();
});

test("http pages get ERR_CPS_INSECURE_CONTEXT; other origins ERR_CPS_ORIGIN_NOT_ALLOWED", async () => {
  const { router, host } = setup();
  const http = await router.handle(req("status"), sender("http://trajectoire.sante-ra.fr/"));
  assert.equal(http.error.code, "ERR_CPS_INSECURE_CONTEXT");
  for (const url of ["https://evil.test/", "https://localhost:8443/"]) {
    const r = await router.handle(req("authenticate", { challengeNonce: NONCE }), sender(url));
    assert.equal(r.error.code, "ERR_CPS_ORIGIN_NOT_ALLOWED");
    const s = await router.handle(req("status"), sender(url));
    assert.equal(s.error.code, "ERR_CPS_ORIGIN_NOT_ALLOWED", "no status (card holder) either");
  }
  const frame = await router.handle(req("status"), sender(`${SITE}/`, 7, { frameId: 3 }));
  assert.equal(frame.error.code, "ERR_CPS_ORIGIN_NOT_ALLOWED");
  assert.equal(host.sent.length, 0, "the host heard nothing");
});

const login = (extra = {}) => req("authenticate", { challengeNonce: NONCE, ...extra });
/** The answer to a request that must be refused at once, not one waiting on a dialog. */
const answerNow = (answer) => Promise.race([answer, new Promise((resolve) =>
  setTimeout(() => resolve("no answer: the request went on to a login"), 200))]);
/** A failed test leaves no login (its 4-minute timer would keep node up) nor port open. */
const cleanUp = (t, { dialogs, native }) => t.after(() => {
  for (const dialog of dialogs) if (dialog.flow) dialog.flow.cancel();
  native.close();
});

test("one login at a time in the whole browser: another tab is refused, the open dialog comes to the front", async (t) => {
  const s = setup();
  cleanUp(t, s);
  const { router, dialogs, host } = s;
  const first = router.handle(login(), sender());
  while (!dialogs.length) await tick();
  await dialogs[0].waitFor("pin");
  // The same tab asking again, or another tab (in this window or another: the router sees
  // tabs only): refused, no second dialog, and the one asking for the PIN comes to the front.
  assert.equal((await answerNow(router.handle(login(), sender()))).error.code,
               "ERR_CPS_ACTION_PENDING");
  assert.equal(dialogs[0].focused, 1);
  const other = await answerNow(router.handle(login({ lang: "en" }), sender(`${SITE}/autre-page`, 8)));
  assert.deepEqual(other, { error: { code: "ERR_CPS_ACTION_PENDING",
                                     message: HOST_ERRORS.ERR_CPS_ACTION_PENDING.en } });
  assert.equal(dialogs.length, 1, "no second dialog");
  assert.equal(dialogs[0].focused, 2);
  // Another tab's status is answered as ever (without queueing behind the dialog).
  const status = await router.handle(req("status"), sender(undefined, 8));
  assert.equal(status.error, undefined);
  assert.equal(status.result.extension, "1.2.0");
  assert.deepEqual(status.result.host, HOST_STATUS);
  // Another tab closing does not end this tab's login.
  router.cancelTab(8);
  await tick();
  assert.equal(dialogs[0].flow.done, false);
  dialogs[0].user({ type: "pin", pin: "1234" });
  assert.deepEqual(await first, { result: { token: TOKEN } });
  assert.deepEqual(host.commands().filter((c) => c === "authenticate"), ["authenticate"]);
});

// Every way a login ends frees the browser for the next one, whichever tab asks.
const ENDINGS = [
  ["success", ({ dialog }) => dialog.user({ type: "pin", pin: "1234" }), undefined],
  ["the person cancels", ({ dialog }) => dialog.user({ type: "cancel" }), "ERR_CPS_USER_CANCELLED"],
  ["the dialog window closed", ({ dialog }) => dialog.flow.onWindowClosed(), "ERR_CPS_USER_CANCELLED"],
  ["a blocked card (its window kept open)", ({ dialog, fail }) => {
    fail({ code: "ERR_CPS_PIN_INCORRECT", message: "x", details: { pinStatus: "locked" } });
    dialog.user({ type: "pin", pin: "0000" });
  }, "ERR_CPS_PIN_LOCKED"],
  ["a host error", ({ dialog, fail }) => {
    fail({ code: "ERR_CPS_INTERNAL", message: "x" });
    dialog.user({ type: "pin", pin: "1234" });
  }, "ERR_CPS_INTERNAL"],
  ["its tab closed", ({ router }) => router.cancelTab(7), "ERR_CPS_USER_CANCELLED"],
  ["its document gone (the page's port closed)", ({ gone }) => gone.abort(), "ERR_CPS_USER_CANCELLED"],
];

for (const [ending, end, code] of ENDINGS) {
  test(`a login ends (${ending}): another tab's login is accepted`, async (t) => {
    let failure = null; // the host's answer to the next authenticate, when not the token
    const s = setup((cmd) => {
      if (cmd === "authenticate" && failure) {
        const error = failure;
        failure = null;
        return { error };
      }
      return defaultHandler(cmd);
    });
    cleanUp(t, s);
    const { router, dialogs } = s;
    const gone = new AbortController();
    const first = router.handle(login(), sender(), gone.signal);
    while (!dialogs.length) await tick();
    const dialog = dialogs[0];
    await dialog.waitFor("pin");
    assert.deepEqual((await answerNow(router.handle(login(), sender(undefined, 8)))).error,
                     { code: "ERR_CPS_ACTION_PENDING", message: HOST_ERRORS.ERR_CPS_ACTION_PENDING.fr },
                     "refused while the first is pending");

    end({ router, dialog, gone, fail: (error) => { failure = error; } });
    const answer = await first;
    if (code) assert.equal(answer.error.code, code);
    else assert.deepEqual(answer, { result: { token: TOKEN } });

    const next = router.handle(login(), sender(undefined, 8));
    while (dialogs.length < 2) await tick();
    await dialogs[1].waitFor("pin");
    dialogs[1].user({ type: "pin", pin: "1234" });
    assert.deepEqual(await next, { result: { token: TOKEN } });
  });
}

test("errors reach the page in French by default, in English on request, with pinStatus", async () => {
  const { router, dialogs, native } = setup((cmd) => cmd === "authenticate"
    ? { error: { code: "ERR_CPS_PIN_INCORRECT", message: "x", details: { pinStatus: "locked" } } }
    : defaultHandler(cmd));
  const p = router.handle(req("authenticate", { challengeNonce: NONCE, lang: "en" }), sender());
  while (!dialogs.length) await tick();
  await dialogs[0].waitFor("pin");
  dialogs[0].user({ type: "pin", pin: "0000" });
  const r = await p;
  assert.equal(r.error.code, "ERR_CPS_PIN_LOCKED");
  assert.match(r.error.message, /blocked/);
  native.close();
});

test("page requests are checked", () => {
  const bad = [null, {}, req("nope"), req("status", { requestId: "" }),
    req("status", { requestId: "x".repeat(65) }), req("status", { requestId: "\u{1F600}".repeat(65) }),
    req("authenticate"),
    req("authenticate", { challengeNonce: "short" }), req("authenticate", { challengeNonce: "!".repeat(44) }),
    req("authenticate", { challengeNonce: "a".repeat(129) }), req("status", { pin: "1234" })];
  for (const r of bad) assert.throws(() => checkPageRequest(r), (e) => e.code === "ERR_CPS_INVALID_REQUEST");
  checkPageRequest(req("status"));
  checkPageRequest(req("status", { requestId: "\u{1F600}".repeat(64) })); // 64 code points
  checkPageRequest(req("authenticate", { challengeNonce: NONCE, lang: "fr", timeoutMs: 60000 }));
  checkPageRequest(req("authenticate", { challengeNonce: "A".repeat(86) + "==" }));
});

test("warmup opens the port for an allowed page only", async () => {
  const { router, native, host } = setup();
  assert.equal(await router.warmup(sender("https://evil.test/")), false);
  assert.equal(host.ports.length, 0);
  assert.equal(await router.warmup(sender()), true);
  assert.equal(native.state, "ready");
  native.close();
});

test("status while a dialog waits on the card does not queue behind it", async () => {
  const { router, dialogs, host, native } = setup((cmd, a) => {
    if (cmd === "list-certificates") return a.waitForCardMs ? undefined : { error: { code: "ERR_CPS_NO_CARD", message: "x" } };
    return defaultHandler(cmd);
  });
  const p = router.handle(req("authenticate", { challengeNonce: NONCE }), sender());
  while (!dialogs.length) await tick();
  await dialogs[0].waitFor("insert-card");
  const s = await router.handle(req("status"), sender(undefined, 9));
  assert.equal(s.result.card, null);
  assert.equal(host.sent.filter((m) => m.command === "list-certificates").length, 2);
  dialogs[0].flow.cancel();
  await p;
  native.close();
});

void certificate;

test("status asked just as the host exits opens a new port instead of failing", async () => {
  let statuses = 0;
  const { router, native, host } = setup((cmd) => {
    if (cmd === "status") {
      statuses += 1;
      if (statuses === 2) return undefined; // the host is gone before it answers
      return { result: HOST_STATUS };
    }
    return defaultHandler(cmd);
  });
  await native.open();
  const asked = router.handle(req("status"), sender());
  await tick();
  await tick();
  host.exit();
  const r = await asked;
  assert.deepEqual(r.result.host, HOST_STATUS);
  assert.equal(host.ports.length, 2);
  native.close();
});

test("status at its slowest stays within STATUS_WORST_CASE_MS, what the page waits for", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const flush = async () => { for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r)); };
  const late = (ms, answer) => new Promise((r) => setTimeout(() => r(answer), ms));
  let statuses = 0;
  const { router, native, host } = setup((cmd) => {
    if (cmd === "status") {
      statuses += 1;
      if (statuses === 1) return { result: HOST_STATUS };
      // The host exits just before it answers the status of a ready port…
      if (statuses === 2) { setTimeout(() => host.exit(), HOST_STATUS_TIMEOUT_MS - 1); return undefined; }
      // …the new host answers its handshake at the last moment, and the card read too.
      return late(HANDSHAKE_TIMEOUT_MS - 1, { result: HOST_STATUS });
    }
    if (cmd === "list-certificates") return late(CARD_STATUS_TIMEOUT_MS - 1, defaultHandler(cmd));
    return defaultHandler(cmd);
  });
  await native.open();
  let answer;
  router.handle(req("status"), sender()).then((a) => { answer = a; });
  await flush();
  let elapsed = 0;
  while (!answer && elapsed < 2 * STATUS_WORST_CASE_MS) { // 1 ms at a time, to the ms
    t.mock.timers.tick(1);
    elapsed += 1;
    await new Promise((r) => setImmediate(r)); // every promise settled
  }
  assert.deepEqual(answer.result.host, HOST_STATUS);
  assert.equal(answer.result.card.cardType, "CPS");
  assert.ok(elapsed > STATUS_WORST_CASE_MS - 1000 && elapsed <= STATUS_WORST_CASE_MS, String(elapsed));
  native.close();
});

test("a sandboxed page (opaque origin) is refused, whatever its URL", async (t) => {
  const { router, host, native } = setup();
  t.after(() => native.close());
  const r = await router.handle(req("status"), sender(`${SITE}/`, 7, { origin: "null" }));
  assert.equal(r.error.code, "ERR_CPS_ORIGIN_NOT_ALLOWED");
  assert.equal(host.sent.length, 0);
});
