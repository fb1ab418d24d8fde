// The page library (page/cpsbridge.js) and the content script (content/content.js), each
// run in a node vm with a small window double (fakes.mjs makeWindow): postMessage between
// them as in a browser tab (same window object, asynchronous delivery, event.source === window).
import { test } from "node:test";
import assert from "node:assert/strict";
import vm from "node:vm";
import { NativePort, HANDSHAKE_TIMEOUT_MS } from "../src/native-port.js";
import { OriginPolicy } from "../src/origins.js";
import { Router, STATUS_WORST_CASE_MS } from "../src/router.js";
import { CONTENT_SCRIPT as CONTENT, FakeEvent, FakeNativeHost, PAGE_LIBRARY as LIB, TOKEN, loadScript as load,
         makeWindow } from "./fakes.mjs";

/** The background behind the content script: each page request comes on a port of its own
 *  (runtime.connect, "page-request") and `answer(msg)` answers it; `sent` records the
 *  messages, `ports` the content script's ends. The warmup still comes by sendMessage. */
function withExtension(win, answer) {
  win.sent = [];
  win.ports = [];
  const connect = ({ name }) => {
    const port = { name, onMessage: new FakeEvent(), onDisconnect: new FakeEvent(), connected: true,
      postMessage(msg) {
        win.sent.push(msg);
        // The background answers once, or the port drops without a word when it fails.
        Promise.resolve().then(() => answer(msg)).then(
          (a) => port.connected && port.onMessage.emit(structuredClone(a), port),
          () => port.connected && port.onDisconnect.emit(port));
      },
      disconnect() { port.connected = false; } };
    win.ports.push(port);
    return port;
  };
  win.chrome = { runtime: { connect, sendMessage: async (msg) => { win.sent.push(msg); return answer(msg); } } };
  load(win, CONTENT);
}

const flush = async () => { for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r)); };

test("no extension: ERR_CPS_EXTENSION_UNAVAILABLE after the 1 s ack wait", async (t) => {
  const win = makeWindow();
  load(win, LIB);
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const p = win.CpsBridge.status();
  t.mock.timers.tick(1000);
  await assert.rejects(p, (e) => {
    assert.equal(e.code, "ERR_CPS_EXTENSION_UNAVAILABLE");
    assert.match(e.message, /extension CPS Bridge n'est pas installée/);
    assert.equal(e.name, "CpsBridgeError");
    assert.ok(e instanceof win.CpsBridge.Error);
    assert.ok(e instanceof vm.runInContext("Error", win));
    return true;
  });
});

test("in a frame: ERR_CPS_ORIGIN_NOT_ALLOWED at once, nothing posted, not « extension absente »", async () => {
  const win = makeWindow();
  win.top = makeWindow("https://trajectoire.sante-ra.fr/"); // the page that frames this one
  load(win, LIB);
  for (const call of [() => win.CpsBridge.status(), () => win.CpsBridge.authenticate("A".repeat(44))]) {
    await assert.rejects(call(), (e) => {
      assert.equal(e.code, "ERR_CPS_ORIGIN_NOT_ALLOWED");
      assert.match(e.message, /Ce site n'est pas autorisé/);
      assert.deepEqual({ ...e.details }, { reason: "not a top-level page" });
      return true;
    });
  }
  assert.deepEqual(win.posted, []);
});

test("CpsBridge.message: the sentence of host/errors.json for a code, French unless English", async () => {
  const { readFileSync } = await import("node:fs");
  const codes = JSON.parse(readFileSync(new URL("../../host/errors.json", import.meta.url), "utf-8")).codes;
  const win = makeWindow();
  load(win, LIB);
  assert.equal(win.CpsBridge.message("ERR_CPS_PIN_LOCKED"), codes.ERR_CPS_PIN_LOCKED.fr);
  assert.equal(win.CpsBridge.message("ERR_CPS_NO_CARD", "fr"), codes.ERR_CPS_NO_CARD.fr);
  assert.equal(win.CpsBridge.message("ERR_CPS_NO_CARD", "en-GB"), codes.ERR_CPS_NO_CARD.en);
  assert.equal(win.CpsBridge.message("ERR_NOT_A_CODE"), codes.ERR_CPS_INTERNAL.fr);
});

test("an http page: ERR_CPS_INSECURE_CONTEXT without asking", async () => {
  const win = makeWindow("http://trajectoire.sante-ra.fr/");
  load(win, LIB);
  await assert.rejects(win.CpsBridge.authenticate("n".repeat(44)), (e) => e.code === "ERR_CPS_INSECURE_CONTEXT");
  assert.equal(win.posted.length, 0);
});

test("library + content script: ack, then the background's result", async () => {
  const win = makeWindow();
  load(win, LIB);
  withExtension(win, (msg) => msg.request.action === "authenticate"
    ? { result: { token: TOKEN } } : { result: { extension: "1.2.0", host: null, card: null } });
  const token = await win.CpsBridge.authenticate("n".repeat(44), { lang: "en", timeoutMs: 60000 });
  assert.deepEqual(JSON.parse(JSON.stringify(token)), TOKEN);
  assert.equal(token.token, token, "the §9 shape {token} reads too");
  const req = win.sent[0].request;
  assert.deepEqual(Object.keys(req).sort(), ["action", "challengeNonce", "cpsbridge", "lang", "requestId", "timeoutMs"]);
  assert.equal(req.lang, "en");
  const kinds = win.posted.map((p) => p.data.cpsbridge);
  assert.deepEqual(kinds, ["request", "ack", "response"]);
  assert.ok(win.posted.every((p) => p.target === "https://trajectoire.sante-ra.fr"), "never posted to '*'");
  const status = await win.CpsBridge.status();
  assert.equal(status.extension, "1.2.0");
  // One port per request, closed by the content script once answered: a port that closes
  // before its answer tells the background that the page went away.
  assert.deepEqual(win.ports.map((p) => [p.name, p.connected]), [["page-request", false], ["page-request", false]]);
  assert.deepEqual(win.sent.map((m) => m.type), ["page-request", "page-request"]);
});

test("a nonce that is no string, and odd timeouts, are handled in the page", async () => {
  const win = makeWindow();
  load(win, LIB);
  withExtension(win, () => ({ result: { token: TOKEN } }));
  await assert.rejects(win.CpsBridge.authenticate(42), (e) => {
    assert.equal(e.code, "ERR_CPS_INVALID_REQUEST");
    assert.match(e.message, /^La demande/); // French, from host/errors.json
    return true;
  });
  for (const [given, sent] of [["60000", 60000], [1e12, 290000], [1, 5000], ["soon", 240000]]) {
    win.sent.length = 0;
    await win.CpsBridge.authenticate("n".repeat(44), { timeoutMs: given });
    assert.equal(win.sent[0].request.timeoutMs, sent, String(given));
  }
});

test("errors reject with their code and message", async () => {
  const win = makeWindow();
  load(win, LIB);
  withExtension(win, () => ({ error: { code: "ERR_CPS_USER_CANCELLED", message: "Connexion par carte CPS annulée." } }));
  await assert.rejects(win.CpsBridge.authenticate("n".repeat(44)), (e) => {
    assert.equal(e.code, "ERR_CPS_USER_CANCELLED");
    assert.equal(e.message, "Connexion par carte CPS annulée.");
    return true;
  });
});

test("the content script passes only known plain fields, and says so when the background is gone", async () => {
  const win = makeWindow();
  withExtension(win, () => { throw new Error("Extension context invalidated."); });
  win.postMessage({ cpsbridge: "request", requestId: "x1", action: "status", extra: { a: 1 },
                    challengeNonce: ["n"] }, win.location.origin);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(JSON.parse(JSON.stringify(win.sent[0].request)), { cpsbridge: "request", requestId: "x1", action: "status" });
  const last = win.posted.at(-1).data;
  assert.equal(last.cpsbridge, "response");
  assert.equal(last.error.code, "ERR_CPS_INTERNAL");
  // messages that are not requests, or with an id that is no string, get nothing
  const before = win.posted.length;
  win.postMessage({ cpsbridge: "response", requestId: "x2" }, win.location.origin);
  win.postMessage({ cpsbridge: "request", requestId: 7 }, win.location.origin);
  win.postMessage("cpsbridge", win.location.origin);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(win.posted.length, before + 3);
  assert.equal(win.sent.length, 1);
  // An extension reloaded under the page: its content script cannot even connect.
  win.chrome.runtime.connect = () => { throw new Error("Extension context invalidated."); };
  win.postMessage({ cpsbridge: "request", requestId: "x3", action: "status" }, win.location.origin);
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(win.posted.filter((p) => p.data.requestId === "x3").map((p) => p.data.error?.code ?? p.data.cpsbridge),
                   ["request", "ack", "ERR_CPS_INTERNAL"]);
});

test("an id of the wrong length is acked and refused under that id, never forwarded", async () => {
  const win = makeWindow();
  withExtension(win, () => ({ result: {} }));
  const ids = ["", "x".repeat(65), "\u{1F600}".repeat(65)];
  for (const requestId of ids) {
    win.postMessage({ cpsbridge: "request", requestId, action: "status", lang: "en-GB" }, win.location.origin);
  }
  // 64 characters counted as code points (128 UTF-16 units) is a good id.
  win.postMessage({ cpsbridge: "request", requestId: "\u{1F600}".repeat(64), action: "status" }, win.location.origin);
  await new Promise((r) => setTimeout(r, 20));
  for (const requestId of ids) {
    const answers = win.posted.filter((p) => p.data.requestId === requestId && p.data.cpsbridge !== "request")
      .map((p) => p.data);
    assert.deepEqual(answers.map((a) => a.cpsbridge), ["ack", "response"]);
    assert.equal(answers[1].error.code, "ERR_CPS_INVALID_REQUEST");
    assert.match(answers[1].error.message, /request/i, "lang en-GB reads English");
  }
  assert.equal(win.sent.length, 1, "only the good id reached the background");
});

test("a page with the CPS tile warms the port up", async () => {
  const win = makeWindow();
  win.document.querySelector = (sel) => (sel === "[data-cpsbridge-tile]" ? {} : null);
  withExtension(win, () => true);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(JSON.parse(JSON.stringify(win.sent)), [{ type: "warmup" }]);
});

test("status waits out the background's worst case: a hung host reads as such, not as a page timeout", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const host = new FakeNativeHost(() => undefined); // starts, never answers
  const native = new NativePort({ connect: () => host.connect() });
  const router = new Router({ native, extensionVersion: "1.2.0", getPolicy: async () => new OriginPolicy(),
                              createFlow: () => assert.fail("no login here") });
  const sender = { id: "x", url: "https://trajectoire.sante-ra.fr/", origin: "https://trajectoire.sante-ra.fr",
                   tab: { id: 1 }, frameId: 0 };
  const win = makeWindow();
  load(win, LIB);
  withExtension(win, (msg) => router.handle(msg.request, sender));
  let outcome;
  win.CpsBridge.status().then((r) => { outcome = r; }, (e) => { outcome = e.code; });
  await flush();
  // The background gives up on the host at its handshake timeout and says why; the page,
  // which waits longer, hears it.
  t.mock.timers.tick(HANDSHAKE_TIMEOUT_MS);
  await flush();
  assert.equal(outcome?.hostError?.code, "ERR_CPS_NATIVE_UNAVAILABLE", JSON.stringify(outcome));
  assert.equal(outcome.host, null);

  // A background slow to the last of its worst case (router.js) is still heard…
  const slow = makeWindow();
  load(slow, LIB);
  withExtension(slow, () => new Promise((r) => setTimeout(() => r({ result: { extension: "1.2.0" } }),
                                                         STATUS_WORST_CASE_MS)));
  let late;
  slow.CpsBridge.status().then((r) => { late = r; }, (e) => { late = e.code; });
  await flush();
  t.mock.timers.tick(STATUS_WORST_CASE_MS);
  await flush();
  assert.deepEqual(late, { extension: "1.2.0" });
  // …and one that never answers is ERR_CPS_INTERNAL, after a margin above it.
  const silent = makeWindow();
  load(silent, LIB);
  withExtension(silent, () => new Promise(() => {}));
  let never;
  silent.CpsBridge.status().then((r) => { never = r; }, (e) => { never = e.code; });
  await flush();
  t.mock.timers.tick(STATUS_WORST_CASE_MS + 5000);
  await flush();
  assert.equal(never, undefined, "still waiting 5 s past the background's worst case");
  t.mock.timers.tick(60000);
  await flush();
  assert.equal(never, "ERR_CPS_INTERNAL");
});

test("the page leaves mid-login (back/forward cache too): its port closes, and a page shown again gets ERR_CPS_CANCELLED", async () => {
  const win = makeWindow();
  // The background never answers: the login waits in its dialog.
  withExtension(win, () => new Promise(() => {}));
  win.postMessage({ cpsbridge: "request", requestId: "A", action: "authenticate", challengeNonce: "n".repeat(44) },
                  "https://trajectoire.sante-ra.fr");
  await flush();
  assert.deepEqual(win.posted.map((p) => p.data.cpsbridge), ["request", "ack"]);
  assert.equal(win.ports.length, 1);
  assert.equal(win.ports[0].connected, true);
  win.dispatch("pagehide", { persisted: true });
  await flush();
  // Closed by the page's side: the background's sign to cancel the login and its dialog.
  assert.equal(win.ports[0].connected, false);
  assert.deepEqual(win.posted.map((p) => p.data.cpsbridge), ["request", "ack"], "nothing posted while hidden");
  win.dispatch("pageshow", { persisted: true });
  await flush();
  const answer = win.posted.at(-1).data;
  assert.equal(answer.cpsbridge, "response");
  assert.equal(answer.requestId, "A");
  assert.equal(answer.error.code, "ERR_CPS_CANCELLED");
  assert.equal(answer.error.message, "L'opération a été annulée.");
  // One answer only, and a request after the return works as before.
  win.dispatch("pagehide", { persisted: true });
  win.dispatch("pageshow", { persisted: true });
  await flush();
  assert.equal(win.posted.filter((p) => p.data.cpsbridge === "response").length, 1);
});
