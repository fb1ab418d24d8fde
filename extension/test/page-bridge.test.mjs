// The page library (page/cpsbridge.js) and the content script (content/content.js), each
// run in a node vm with a small window double: postMessage between them as in a browser tab
// (same window object, asynchronous delivery, event.source === window).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";
import { TOKEN } from "./fakes.mjs";

const LIB = readFileSync(new URL("../page/cpsbridge.js", import.meta.url), "utf-8");
const CONTENT = readFileSync(new URL("../content/content.js", import.meta.url), "utf-8");

function makeWindow(href = "https://trajectoire.sante-ra.fr/connexion") {
  const listeners = new Set();
  const url = new URL(href);
  const win = {
    location: { href, origin: url.origin, protocol: url.protocol },
    posted: [],
    document: { readyState: "complete", documentElement: { lang: "fr" },
                querySelector: () => null, addEventListener() {} },
    addEventListener: (type, fn) => { if (type === "message") listeners.add(fn); },
    removeEventListener: (type, fn) => listeners.delete(fn),
    postMessage(data, target) {
      const copy = structuredClone(data);
      win.posted.push({ data: copy, target });
      // Inside the vm, `window` is the context's global proxy: that is the event's source.
      const source = vm.runInContext("window", win);
      setImmediate(() => { for (const fn of [...listeners]) fn({ data: copy, source, origin: url.origin }); });
    },
    setTimeout, clearTimeout, Promise, Error, Object, Math, Date, String, URL,
  };
  win.window = win;
  win.top = win;
  vm.createContext(win);
  return win;
}

function load(win, code) {
  vm.runInContext(code, win, { filename: "script.js" });
}

function withExtension(win, answer) {
  win.sent = [];
  win.chrome = { runtime: { sendMessage: async (msg) => { win.sent.push(msg); return answer(msg); } } };
  load(win, CONTENT);
}

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
