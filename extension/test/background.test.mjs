// The background as the browser runs it (src/background.js, its listeners on a fake
// WebExtension API), with pages whose content script talks to it and dialog windows that
// connect back: what happens when a page goes away in the middle of a login.
import { after, afterEach, test } from "node:test";
import assert from "node:assert/strict";
import { FakeBrowser, FakeNativeHost, NONCE, TOKEN, defaultHandler, until } from "./fakes.mjs";

const SITE = "https://trajectoire.sante-ra.fr";
const host = new FakeNativeHost(defaultHandler);
const browser = new FakeBrowser(host);
globalThis.chrome = browser.api;
await import("../src/background.js");
const state = () => globalThis.cpsbridgeState();
const signatures = () => host.commands().filter((c) => c === "authenticate").length;

after(async () => {
  // A failed test may leave a login open (its 4-minute timer would keep node up), and the
  // native port's idle timer would too.
  for (const dialog of browser.dialogs) if (!dialog.closed) dialog.send({ type: "cancel" });
  await new Promise((r) => setTimeout(r, 20));
  host.exit();
});

// Each test starts with no login pending, whatever the one before left: its windows closed
// (as the person would), which cancels their logins.
afterEach(async () => {
  for (const dialog of browser.dialogs) {
    if (!dialog.closed) await browser.api.windows.remove(dialog.id);
  }
  await until(() => state().pendingTabs.length === 0, "no login pending");
});

/** The page's promise, settled or not: {token} / {code} / undefined. */
function watch(promise) {
  const seen = {};
  promise.then((token) => { seen.token = token; }, (e) => { seen.code = e.code; });
  return seen;
}

async function dialogAt(index, view) {
  await until(() => browser.dialogs.length > index, `dialog ${index}`);
  const dialog = browser.dialogs[index];
  await dialog.waitFor(view);
  return dialog;
}

/** `page`'s login, refused at once while another is pending, without a dialog of its own. */
async function refused(page) {
  const dialogs = browser.dialogs.length;
  const login = watch(page.CpsBridge.authenticate(NONCE));
  await until(() => login.code || login.token || browser.dialogs.length > dialogs,
              "an answer, or a dialog");
  assert.equal(browser.dialogs.length, dialogs, "no second dialog");
  assert.equal(login.code, "ERR_CPS_ACTION_PENDING");
}

/** Tab 7's login, its dialog asking for the PIN; tab 8's login refused meanwhile. */
async function loginAndAnotherTabRefused() {
  const a = browser.document(7, `${SITE}/connexion`);
  const b = browser.document(8, `${SITE}/dossier`);
  const loginA = watch(a.CpsBridge.authenticate(NONCE));
  const dialogA = await dialogAt(browser.dialogs.length, "pin");
  await refused(b);
  assert.deepEqual(state().pendingTabs, [7]);
  return { a, b, loginA, dialogA };
}

/** `page` logs in: a dialog of its own, the code porteur, a token. */
async function logsIn(page) {
  const login = watch(page.CpsBridge.authenticate(NONCE));
  const dialog = await dialogAt(browser.dialogs.length, "pin");
  dialog.send({ type: "pin", pin: "1234" });
  await until(() => login.token || login.code, "the login's answer");
  assert.equal(login.code, undefined);
  assert.deepEqual(JSON.parse(JSON.stringify(login.token)), TOKEN);
  await until(() => dialog.closed, "its dialog to close");
}

test("the page goes away mid-login: the flow is cancelled, the dialog closes, the reloaded page logs in", async () => {
  const before = signatures();
  const first = browser.document(7, `${SITE}/connexion`);
  watch(first.CpsBridge.authenticate(NONCE));
  const dialog = await dialogAt(browser.dialogs.length, "pin");
  assert.deepEqual(state().pendingTabs, [7]);

  first.unload(); // reload: the document, its content script and its port are gone
  await until(() => dialog.closed, "the dialog to close");
  await until(() => state().pendingTabs.length === 0, "the tab's flow to end");

  const reloaded = browser.document(7, `${SITE}/connexion`);
  const login = watch(reloaded.CpsBridge.authenticate(NONCE));
  const second = await dialogAt(browser.dialogs.indexOf(dialog) + 1, "pin");
  second.send({ type: "pin", pin: "1234" });
  await until(() => login.token || login.code, "the reloaded page's answer");
  assert.equal(login.code, undefined);
  assert.deepEqual(JSON.parse(JSON.stringify(login.token)), TOKEN);
  assert.equal(signatures() - before, 1, "one signature, for the page that asked");
  await until(() => second.closed, "the second dialog to close");
});

test("a closing port cancels its own flow only", async () => {
  const a = browser.document(7, `${SITE}/connexion`);
  const b = browser.document(8, `${SITE}/connexion`);
  const loginA = watch(a.CpsBridge.authenticate(NONCE));
  const dialogA = await dialogAt(browser.dialogs.length, "pin");
  assert.deepEqual(state().pendingTabs, [7]);

  // A's status and a second login from A are answered, their ports closed after the answer:
  // neither cancels A's login.
  const status = await a.CpsBridge.status();
  assert.equal(status.extension, "1.2.0");
  await assert.rejects(a.CpsBridge.authenticate(NONCE), (e) => e.code === "ERR_CPS_ACTION_PENDING");
  // Another tab's refused login, then its page going away: A's login goes on.
  await refused(b);
  b.unload();
  await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(state().pendingTabs, [7]);
  assert.equal(dialogA.closed, false);

  dialogA.send({ type: "pin", pin: "1234" });
  await until(() => loginA.token || loginA.code, "A's answer");
  assert.deepEqual(JSON.parse(JSON.stringify(loginA.token)), TOKEN);
});

test("one login at a time in the browser: another tab is refused, the open dialog comes to the front",
     async () => {
  const { b, loginA, dialogA } = await loginAndAnotherTabRefused();
  await until(() => dialogA.focused === 1, "the open dialog brought to the front");
  // The other tab's status is answered as ever.
  const status = await b.CpsBridge.status();
  assert.equal(status.extension, "1.2.0");
  assert.equal(status.host.version, "1.2.0");
  assert.equal(status.hostError, undefined);
  // The login ends (here: the code porteur, a token): the other tab's login goes on.
  dialogA.send({ type: "pin", pin: "1234" });
  await until(() => loginA.token || loginA.code, "the first login's answer");
  assert.deepEqual(JSON.parse(JSON.stringify(loginA.token)), TOKEN);
  await until(() => state().pendingTabs.length === 0, "the login to end");
  await logsIn(b);
});

test("the person cancels: another tab logs in", async () => {
  const { b, loginA, dialogA } = await loginAndAnotherTabRefused();
  dialogA.send({ type: "cancel" });
  await until(() => loginA.code, "the first login's answer");
  assert.equal(loginA.code, "ERR_CPS_USER_CANCELLED");
  await until(() => dialogA.closed, "its dialog to close");
  await logsIn(b);
});

test("the first tab's document goes away mid-login: another tab logs in at once", async () => {
  const { a, b, dialogA } = await loginAndAnotherTabRefused();
  a.unload();
  await until(() => dialogA.closed, "the dialog to close");
  await until(() => state().pendingTabs.length === 0, "the login to end");
  await logsIn(b);
});

test("the first tab is closed mid-login: another tab logs in", async () => {
  const { b, dialogA } = await loginAndAnotherTabRefused();
  // The browser's tabs.onRemoved alone (its ports' closing is tested above).
  browser.api.tabs.onRemoved.emit(7);
  await until(() => dialogA.closed, "the dialog to close");
  await logsIn(b);
});

test("page requests: the sender record decides, as strictly as before", async () => {
  const ask = async (sender, request = { cpsbridge: "request", requestId: "r1", action: "status" }) => {
    const port = browser.connectAs("page-request", sender);
    const got = { closed: false };
    port.onMessage.addListener((answer) => { got.answer = answer; });
    port.onDisconnect.addListener(() => { got.closed = true; });
    port.postMessage({ type: "page-request", request });
    await until(() => got.answer || got.closed, "an answer or a closed port");
    return got;
  };
  const page = { id: browser.id, url: `${SITE}/`, origin: SITE, tab: { id: 9 }, frameId: 0 };
  assert.equal((await ask(page)).answer.result.extension, "1.2.0");
  // Not this extension's content script, or no tab: the port is closed, unanswered.
  for (const sender of [{ ...page, id: "another-extension" }, { ...page, tab: undefined }]) {
    const got = await ask(sender);
    assert.deepEqual(got, { closed: true });
  }
  // A frame, a sandboxed (opaque) document, an http page: refused by the router.
  const refused = [[{ ...page, frameId: 2 }, "ERR_CPS_ORIGIN_NOT_ALLOWED"],
                   [{ ...page, origin: "null" }, "ERR_CPS_ORIGIN_NOT_ALLOWED"],
                   [{ ...page, url: "http://trajectoire.sante-ra.fr/", origin: "http://trajectoire.sante-ra.fr" },
                    "ERR_CPS_INSECURE_CONTEXT"]];
  for (const [sender, code] of refused) {
    assert.equal((await ask(sender, { cpsbridge: "request", requestId: "r2", action: "authenticate",
                                      challengeNonce: NONCE })).answer.error.code, code);
  }
  // The old one-shot message is no way in any more: it could not tell when the page goes.
  const viaMessage = await new Promise((resolve) => {
    let kept = false;
    for (const fn of browser.api.runtime.onMessage.listeners) {
      if (fn({ type: "page-request", request: { cpsbridge: "request", requestId: "r3", action: "status" } },
             page, resolve) === true) kept = true;
    }
    if (!kept) resolve("not handled");
  });
  assert.equal(viaMessage, "not handled");
});

test("time is up: the page told, its tab free, the window left open until the person closes it",
     async () => {
  const page = browser.document(10, `${SITE}/connexion`);
  const login = watch(page.CpsBridge.authenticate(NONCE, { timeoutMs: 5000 }));
  const dialog = await dialogAt(browser.dialogs.length, "pin");
  const other = browser.document(11, `${SITE}/dossier`);
  await refused(other);
  await until(() => login.code, "the page's answer", 8000);
  assert.equal(login.code, "ERR_CPS_USER_TIMEOUT");
  await dialog.waitFor("timeout");
  assert.deepEqual(state().pendingTabs, [], "the tab may start a new login");
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(dialog.closed, false);
  const before = signatures();
  dialog.send({ type: "pin", pin: "1234" }); // too late: goes nowhere
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(signatures(), before);
  await browser.api.windows.remove(dialog.id); // « Fermer »
  await until(() => dialog.closed, "the window to close");
  assert.equal(login.code, "ERR_CPS_USER_TIMEOUT");
  await logsIn(other); // the browser free for another tab's login
});
