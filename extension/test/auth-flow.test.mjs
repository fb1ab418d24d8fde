import { test } from "node:test";
import assert from "node:assert/strict";
import { NativePort } from "../src/native-port.js";
import { AuthFlow, pinIsWellFormed, userTimeout } from "../src/auth-flow.js";
import { FakeDialog, FakeNativeHost, HOST_STATUS, NONCE, TOKEN, certificate, soon, tick, until } from "./fakes.mjs";

const ORIGIN = "https://trajectoire.sante-ra.fr";

function setup(handler, opts = {}) {
  const host = new FakeNativeHost(handler);
  const native = new NativePort({ connect: () => host.connect(),
                                  lastError: (p) => p.error && p.error.message });
  const dialog = new FakeDialog();
  const flow = new AuthFlow({ native, ui: dialog, origin: ORIGIN, challengeNonce: NONCE,
                              retryDelayMs: 0, ...opts });
  return { host, native, dialog, flow };
}

function hostWith({ certificates = [certificate()], authenticate }) {
  return (command, args) => {
    switch (command) {
      case "status": return { result: HOST_STATUS };
      case "list-certificates":
        return typeof certificates === "function" ? certificates(args) : { result: { certificates } };
      case "authenticate": return authenticate(args);
      default: return { result: {} };
    }
  };
}

test("one certificate: straight to the PIN; the PIN goes to authenticate with the origin", async () => {
  const seen = [];
  const { flow, dialog, host, native } = setup(hostWith({ authenticate: (a) => {
    seen.push(a);
    return { result: { token: TOKEN } };
  } }));
  const result = flow.run();
  const pinView = await dialog.waitFor("pin");
  assert.equal(pinView.origin, ORIGIN);
  assert.equal(pinView.certificate.displayName, "Dr Jean DUPONT");
  assert.equal(pinView.certificate.certificate, undefined, "the DER stays in the background");
  dialog.user({ type: "pin", pin: "1234" });
  assert.deepEqual(await result, TOKEN);
  await soon();
  assert.deepEqual(seen, [{ challengeNonce: NONCE, origin: ORIGIN, certificateId: "a".repeat(64),
                            pin: "1234" }]);
  assert.equal(dialog.closed, 1);
  assert.ok(!JSON.stringify(dialog.views).includes("1234"), "the PIN is in no view");
  native.close();
});

test("several certificates: the user chooses one", async () => {
  const other = certificate({ certificateId: "b".repeat(64), tokenLabel: "CPS3v3-2900995267",
    holder: { ...certificate().holder, familyName: "MARTIN", givenName: "CLAIRE", title: "Infirmier",
              idNat: "0751234567", idType: "ADELI", adeli: "751234567", rpps: undefined } });
  let chosen;
  const { flow, dialog, native } = setup(hostWith({ certificates: [certificate(), other],
    authenticate: (a) => { chosen = a.certificateId; return { result: { token: TOKEN } }; } }));
  const result = flow.run();
  const select = await dialog.waitFor("select");
  assert.deepEqual(select.certificates.map((c) => c.identifier), ["RPPS 99700367917", "ADELI 751234567"]);
  dialog.user({ type: "select", certificateId: "b".repeat(64) });
  const pin = await dialog.waitFor("pin");
  assert.equal(pin.certificate.displayName, "Claire MARTIN");
  assert.equal(pin.canChange, true);
  dialog.user({ type: "pin", pin: "1234" });
  await result;
  assert.equal(chosen, "b".repeat(64));
  native.close();
});

test("wrong PIN: back to the PIN with the tries left, then the right PIN", async () => {
  const pins = [];
  const { flow, dialog, native } = setup(hostWith({ authenticate: (a) => {
    pins.push(a.pin);
    return a.pin === "1234" ? { result: { token: TOKEN } }
      : { error: { code: "ERR_CPS_PIN_INCORRECT", message: "x", details: { pinStatus: "countLow" } } };
  } }));
  const result = flow.run();
  await dialog.waitFor("pin");
  dialog.user({ type: "pin", pin: "0000" });
  const n = dialog.views.length;
  const again = await dialog.waitFor("pin", n);
  assert.deepEqual(again.error, { code: "ERR_CPS_PIN_INCORRECT", details: { pinStatus: "countLow" } });
  dialog.user({ type: "pin", pin: "1234" });
  assert.deepEqual(await result, TOKEN);
  assert.deepEqual(pins, ["0000", "1234"], "each PIN sent once: never retried by the extension");
  native.close();
});

test("a malformed PIN is not sent to the host", async () => {
  let calls = 0;
  const { flow, dialog, native } = setup(hostWith({ authenticate: () => { calls += 1; return { result: { token: TOKEN } }; } }));
  flow.run().catch(() => {});
  await dialog.waitFor("pin");
  for (const bad of ["12a4", "123", "123456789", "", undefined]) {
    const n = dialog.views.length;
    dialog.user({ type: "pin", pin: bad });
    const v = await dialog.waitFor("pin", n);
    assert.equal(v.error.code, "ERR_CPS_PIN_FORMAT");
  }
  assert.equal(calls, 0);
  flow.cancel();
  native.close();
});

test("the last wrong PIN blocks the card: explained, the page told ERR_CPS_PIN_LOCKED", async () => {
  const { flow, dialog, native } = setup(hostWith({ authenticate: () => (
    { error: { code: "ERR_CPS_PIN_INCORRECT", message: "x", details: { pinStatus: "locked" } } }) }));
  const result = flow.run();
  await dialog.waitFor("pin");
  dialog.user({ type: "pin", pin: "9999" });
  await assert.rejects(result, (e) => e.code === "ERR_CPS_PIN_LOCKED");
  assert.equal(dialog.view.view, "blocked");
  assert.equal(dialog.closed, 0, "the explanation stays on screen until the user closes it");
  native.close();
});

test("a card already blocked is explained without any login attempt", async () => {
  let calls = 0;
  const locked = certificate({ pin: { minLength: 4, maxLength: 8, status: "locked", pinPad: false } });
  const { flow, dialog, native } = setup(hostWith({ certificates: [locked],
    authenticate: () => { calls += 1; return { result: {} }; } }));
  await assert.rejects(flow.run(), (e) => e.code === "ERR_CPS_PIN_LOCKED");
  assert.equal(dialog.view.view, "blocked");
  assert.equal(calls, 0);
  native.close();
});

test("a PIN pad reader: the user is told to type on the reader, no PIN is sent", async () => {
  let args;
  const pad = certificate({ pin: { minLength: 4, maxLength: 8, status: "ok", pinPad: true } });
  const { flow, dialog, native } = setup(hostWith({ certificates: [pad],
    authenticate: (a) => { args = a; return { result: { token: TOKEN } }; } }));
  const result = flow.run();
  assert.deepEqual(await result, TOKEN);
  assert.ok(dialog.views.some((v) => v.view === "pin-pad"));
  assert.equal("pin" in args, false);
  native.close();
});

test("a wrong code on a PIN pad: the retry is on the pad again, never a keyboard field", async () => {
  // The pad keeps the code porteur out of the computer; after a typo there, a keyboard field
  // would bring it in (and the typed PIN was dropped anyway).
  const sent = [];
  const pad = certificate({ pin: { minLength: 4, maxLength: 8, status: "ok", pinPad: true } });
  const { flow, dialog, native } = setup(hostWith({ certificates: [pad], authenticate: (a) => {
    sent.push(a);
    return sent.length === 1
      ? { error: { code: "ERR_CPS_PIN_INCORRECT", message: "x", details: { pinStatus: "countLow" } } }
      : { result: { token: TOKEN } };
  } }));
  const result = flow.run();
  await until(() => dialog.view && dialog.view.view === "pin-pad" && dialog.view.error, "the pad's error");
  const again = dialog.view;
  assert.equal(again.waiting, false);
  assert.equal(again.error.code, "ERR_CPS_PIN_INCORRECT");
  assert.ok(!dialog.views.some((v) => v.view === "pin"), "a keyboard PIN field was shown");
  dialog.user({ type: "pin", pin: "1234" }); // a PIN from the keyboard is not taken
  await soon();
  assert.equal(sent.length, 1);
  dialog.user({ type: "retry" });
  assert.deepEqual(await result, TOKEN);
  assert.ok(sent.every((a) => !("pin" in a)));
  native.close();
});

test("no card: the dialog says so and waits, then goes on when a card comes", async () => {
  const waits = [];
  let present = false;
  const { flow, dialog, host, native } = setup(hostWith({
    certificates: (a) => {
      waits.push(a.waitForCardMs);
      if (!present) return a.waitForCardMs ? undefined : { error: { code: "ERR_CPS_NO_CARD", message: "x" } };
      return { result: { certificates: [certificate()] } };
    },
    authenticate: () => ({ result: { token: TOKEN } }) }));
  const result = flow.run();
  const insert = await dialog.waitFor("insert-card");
  assert.equal(insert.error, undefined);
  await tick();
  host.event("card-inserted", { reader: "Virtual PCD 00 00", atr: "3B", cardType: "CPS3" });
  assert.deepEqual(dialog.view.detected, { reader: "Virtual PCD 00 00", cardType: "CPS3" });
  // the host answers the waiting list-certificates once the card is there
  present = true;
  const waiting = host.sent.filter((m) => m.command === "list-certificates").at(-1);
  host.port.onMessage.emit({ id: waiting.id, result: { certificates: [certificate()] } });
  await dialog.waitFor("pin");
  dialog.user({ type: "pin", pin: "1234" });
  await result;
  assert.equal(waits[0], 0);
  assert.ok(waits[1] > 0 && waits[1] <= 120000, "then waits with waitForCardMs");
  native.close();
});

test("cancel while waiting for a card: the host's wait is cancelled, the page told", async () => {
  const { flow, dialog, host, native } = setup(hostWith({
    certificates: (a) => a.waitForCardMs ? undefined : { error: { code: "ERR_CPS_NO_CARD", message: "x" } },
    authenticate: () => ({ result: {} }) }));
  const result = flow.run();
  await dialog.waitFor("insert-card");
  await tick();
  const waiting = host.sent.filter((m) => m.command === "list-certificates").at(-1);
  dialog.user({ type: "cancel" });
  await assert.rejects(result, (e) => e.code === "ERR_CPS_USER_CANCELLED");
  await soon();
  assert.deepEqual(host.sent.at(-1).arguments, { requestId: waiting.id });
  assert.equal(dialog.closed, 1);
  native.close();
});

test("closing the dialog window cancels", async () => {
  const { flow, dialog, native } = setup(hostWith({ authenticate: () => ({ result: {} }) }));
  const result = flow.run();
  await dialog.waitFor("pin");
  flow.onWindowClosed();
  await assert.rejects(result, (e) => e.code === "ERR_CPS_USER_CANCELLED");
  assert.equal(dialog.closed, 0, "a closed window is not closed again");
  native.close();
});

test("no answer from the user in time: ERR_CPS_USER_TIMEOUT; the window stays on « Délai dépassé »",
     async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const { flow, dialog, host, native } = setup(hostWith({ authenticate: () => ({ result: { token: TOKEN } }) }),
                                               { timeoutMs: 30000 });
  const result = flow.run();
  let outcome;
  result.catch((e) => { outcome = e.code; });
  await dialog.waitFor("pin");
  t.mock.timers.tick(29999);
  await tick();
  assert.equal(outcome, undefined);
  t.mock.timers.tick(1);
  await tick();
  assert.equal(outcome, "ERR_CPS_USER_TIMEOUT", "the page is told at the limit, as before");
  assert.equal(dialog.view.view, "timeout", "the PIN view (and its field) is gone");
  t.mock.timers.tick(1000);
  assert.equal(dialog.closed, 0, "the window is not closed under the person");
  // A PIN typed just too late (in flight, or from a dialog that missed the view) goes nowhere.
  dialog.user({ type: "pin", pin: "1234" });
  await tick();
  assert.ok(!host.commands().includes("authenticate"), "no PIN reaches the host after the time limit");
  assert.equal(dialog.view.view, "timeout");
  flow.onWindowClosed(); // « Fermer »: nothing more to tell anyone
  assert.equal(outcome, "ERR_CPS_USER_TIMEOUT");
  native.close();
});

test("one minute before the limit, the dialog is told, once, without drawing the view again",
     async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const { flow, dialog, native } = setup(hostWith({ authenticate: () => ({ result: {} }) }),
                                         { timeoutMs: 90000 });
  flow.run().catch(() => {});
  await dialog.waitFor("pin");
  const views = dialog.views.length;
  t.mock.timers.tick(29999);
  assert.deepEqual(dialog.notices, []);
  t.mock.timers.tick(1);
  assert.deepEqual(dialog.notices, [{ notice: "time-left" }]);
  assert.equal(dialog.views.length, views, "the code porteur being typed stays in its field");
  t.mock.timers.tick(60000);
  assert.equal(dialog.view.view, "timeout");
  assert.equal(dialog.notices.length, 1);
  native.close();
});

test("no warning for a limit of a minute or less, nor after the login ended", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  const short = setup(hostWith({ authenticate: () => ({ result: {} }) }), { timeoutMs: 60000 });
  short.flow.run().catch(() => {});
  await short.dialog.waitFor("pin");
  t.mock.timers.tick(60000);
  assert.deepEqual(short.dialog.notices, []);
  short.native.close();

  const done = setup(hostWith({ authenticate: () => ({ result: { token: TOKEN } }) }), { timeoutMs: 120000 });
  const result = done.flow.run();
  await done.dialog.waitFor("pin");
  done.dialog.user({ type: "pin", pin: "1234" });
  assert.deepEqual(await result, TOKEN);
  t.mock.timers.tick(120000);
  assert.deepEqual(done.dialog.notices, []);
  assert.notEqual(done.dialog.view.view, "timeout");
  done.native.close();
});

test("the time limit while the PIN is at the host: the page told, the late answer dropped",
     async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  let answer;
  const { flow, dialog, native } = setup(hostWith({
    authenticate: () => new Promise((r) => { answer = r; }) }), { timeoutMs: 30000 });
  const result = flow.run();
  await dialog.waitFor("pin");
  dialog.user({ type: "pin", pin: "1234" });
  await dialog.waitFor("signing");
  t.mock.timers.tick(30000);
  await assert.rejects(result, (e) => e.code === "ERR_CPS_USER_TIMEOUT");
  assert.equal(dialog.view.view, "timeout");
  answer({ result: { token: TOKEN } });
  await tick();
  assert.equal(dialog.view.view, "timeout");
  native.close();
});

test("the user's time counts from the request, a slow host start included", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  // A host that never answers its handshake: the port would give up only after 20 s.
  const { flow, dialog, native } = setup((command) => (command === "status" ? undefined : { result: {} }),
                                         { timeoutMs: 5000 });
  const result = flow.run();
  await tick();
  t.mock.timers.tick(5000);
  await assert.rejects(result, (e) => e.code === "ERR_CPS_USER_TIMEOUT");
  assert.equal(dialog.opened, 0, "no window for a flow that has already ended");
  native.close();
});

test("no host: ERR_CPS_NATIVE_UNAVAILABLE and no window", async () => {
  const { flow, dialog, host } = setup(hostWith({ authenticate: () => ({}) }));
  host.installed = false;
  await assert.rejects(flow.run(), (e) => e.code === "ERR_CPS_NATIVE_UNAVAILABLE");
  assert.equal(dialog.opened, 0);
});

test("the card removed before the PIN reached it: back to waiting for it", async () => {
  let listed = 0;
  const { flow, dialog, host, native } = setup(hostWith({
    certificates: () => (++listed === 1 ? { result: { certificates: [certificate()] } } : undefined),
    authenticate: () => ({ error: { code: "ERR_CPS_CARD_REMOVED", message: "x" } }) }));
  flow.run().catch(() => {});
  await dialog.waitFor("pin");
  assert.ok(!host.commands().includes("watch"), "no PC/SC watch while a card is there");
  dialog.user({ type: "pin", pin: "1234" });
  const v = await dialog.waitFor("insert-card");
  assert.equal(v.error.code, "ERR_CPS_CARD_REMOVED");
  await tick();
  assert.ok(host.commands().includes("watch"), "live events while waiting");
  flow.cancel();
  await tick();
  assert.ok(host.commands().includes("unwatch"));
  native.close();
});

/** A host with no certificate to list: the first (immediate) list answers `first`, the
 *  waits that follow stay pending until the test answers them. */
function waitingHost(first) {
  return hostWith({ certificates: (a) => (a.waitForCardMs ? undefined : { error: first }),
                    authenticate: () => ({ result: {} }) });
}

test("waiting for a card: what was said of the card out of date once it is taken out", async () => {
  const vitale = { code: "ERR_CPS_UNSUPPORTED_CARD", message: "x",
                   details: { reader: "Lecteur 0", cardType: "VITALE" } };
  const { flow, dialog, host, native } = setup(waitingHost(vitale));
  flow.run().catch(() => {});
  await dialog.waitFor("insert-card");
  await tick();
  assert.equal(dialog.view.error.code, "ERR_CPS_UNSUPPORTED_CARD");
  host.event("card-removed", { reader: "Lecteur 1", atr: "3B", cardType: "CPS3" });
  assert.equal(dialog.view.error.code, "ERR_CPS_UNSUPPORTED_CARD", "a card out of another reader");
  host.event("card-removed", { reader: "Lecteur 0", atr: "3B", cardType: "VITALE" });
  assert.equal(dialog.view.view, "insert-card");
  assert.equal(dialog.view.error, undefined, "the Carte Vitale taken out: nothing to say of it");
  flow.cancel();
  native.close();
});

test("waiting for a reader: plugged in, the dialog asks for the card again", async () => {
  const { flow, dialog, host, native } = setup(waitingHost({ code: "ERR_CPS_NO_READER", message: "x" }));
  flow.run().catch(() => {});
  await dialog.waitFor("insert-card");
  await tick();
  assert.equal(dialog.view.error.code, "ERR_CPS_NO_READER");
  host.event("reader-added", { reader: "Lecteur 0", atr: null, cardType: null });
  assert.equal(dialog.view.view, "insert-card");
  assert.equal(dialog.view.error, undefined);
  assert.equal(dialog.view.detected, undefined);
  flow.cancel();
  native.close();
});

test("a card pulled out mid-login: said until a card comes", async () => {
  let listed = 0;
  const { flow, dialog, host, native } = setup(hostWith({
    certificates: (a) => {
      listed += 1;
      if (listed === 1) return { result: { certificates: [certificate()] } };
      return a.waitForCardMs ? undefined : { error: { code: "ERR_CPS_NO_CARD", message: "x" } };
    },
    authenticate: () => ({ error: { code: "ERR_CPS_CARD_REMOVED", message: "x" } }) }));
  flow.run().catch(() => {});
  await dialog.waitFor("pin");
  dialog.user({ type: "pin", pin: "1234" });
  await dialog.waitFor("insert-card");
  await tick();
  await tick();
  assert.ok(listed >= 3, "the card was looked for again, then waited for");
  assert.equal(dialog.view.error.code, "ERR_CPS_CARD_REMOVED", "« no card » does not wipe why");
  host.event("card-inserted", { reader: "Lecteur 0", atr: "3B", cardType: "CPS3" });
  assert.equal(dialog.view.error, undefined);
  assert.deepEqual(dialog.view.detected, { reader: "Lecteur 0", cardType: "CPS3" });
  flow.cancel();
  native.close();
});

test("helpers: PIN format and user timeout bounds", () => {
  assert.equal(pinIsWellFormed("1234", { minLength: 4, maxLength: 8 }), true);
  assert.equal(pinIsWellFormed("12345678", { minLength: 4, maxLength: 8 }), true);
  assert.equal(pinIsWellFormed("123", { minLength: 4, maxLength: 8 }), false);
  assert.equal(pinIsWellFormed("12 34", {}), false);
  assert.equal(pinIsWellFormed("１２３４", {}), false, "digits are ASCII digits");
  assert.equal(userTimeout(undefined), 240000);
  assert.equal(userTimeout(1), 5000);
  assert.equal(userTimeout(10 ** 9), 290000);
});

test("the list goes with the page's origin: a host that refuses it ends the login, no PIN asked", async () => {
  const { flow, dialog, host, native } = setup(hostWith({
    certificates: (a) => (a.origin === ORIGIN
      ? { error: { code: "ERR_CPS_ORIGIN_NOT_ALLOWED", message: "refusé", details: { origin: ORIGIN } } }
      : { result: { certificates: [certificate()] } }),
    authenticate: () => assert.fail("no authenticate for a refused origin") }));
  const outcome = flow.run().then(() => "token", (e) => e.code);
  const first = await Promise.race([outcome, dialog.waitFor("pin").then(() => "a PIN asked")]);
  flow.cancel(); // (when a PIN was asked: the login ends here, the test fails below)
  assert.equal(first, "ERR_CPS_ORIGIN_NOT_ALLOWED");
  const listed = host.sent.filter((m) => m.command === "list-certificates");
  assert.deepEqual(listed.map((m) => m.arguments), [{ waitForCardMs: 0, origin: ORIGIN }]);
  assert.ok(!dialog.views.some((v) => v.view === "pin"), "a PIN view for a refused origin");
  native.close();
});

test("a host older than the extension (no origin in list-certificates) is asked again without it", async () => {
  const { flow, dialog, host, native } = setup(hostWith({
    certificates: (a) => ("origin" in a
      ? { error: { code: "ERR_CPS_INVALID_REQUEST", message: "x",
                   details: { reason: "invalid arguments", fields: ["origin"] } } }
      : { result: { certificates: [certificate()] } }),
    authenticate: () => ({ result: { token: TOKEN } }) }));
  const result = flow.run();
  await dialog.waitFor("pin");
  dialog.user({ type: "pin", pin: "1234" });
  assert.deepEqual(await result, TOKEN);
  const listed = host.sent.filter((m) => m.command === "list-certificates").map((m) => m.arguments);
  assert.deepEqual(listed, [{ waitForCardMs: 0, origin: ORIGIN }, { waitForCardMs: 0 }]);
  native.close();
});
