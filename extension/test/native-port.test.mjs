import { test } from "node:test";
import assert from "node:assert/strict";
import { NativePort } from "../src/native-port.js";
import { FakeNativeHost, HOST_STATUS, tick } from "./fakes.mjs";

function portFor(host, opts = {}) {
  return new NativePort({ connect: () => host.connect(),
    lastError: (p) => p.error && p.error.message, ...opts });
}

test("the first message on a new port is status; the port is then ready", async () => {
  const host = new FakeNativeHost();
  const native = portFor(host);
  assert.equal(native.state, "closed");
  const status = await native.open();
  assert.deepEqual(status, HOST_STATUS);
  assert.equal(native.state, "ready");
  assert.deepEqual(host.commands(), ["status"]);
  await native.open();
  assert.equal(host.ports.length, 1, "an open port is reused");
  native.close();
});

test("a host that is not installed is ERR_CPS_NATIVE_UNAVAILABLE, with the browser's reason", async () => {
  const host = new FakeNativeHost();
  host.installed = false;
  const native = portFor(host);
  await assert.rejects(native.request("status"), (e) => {
    assert.equal(e.code, "ERR_CPS_NATIVE_UNAVAILABLE");
    assert.match(e.details.reason, /not found/);
    assert.match(e.message, /n'est pas installé/);
    return true;
  });
  assert.equal(native.state, "closed");
  host.installed = true;
  await native.open();
  assert.equal(native.state, "ready", "installing the host later works without a restart");
  native.close();
});

test("a different protocol is ERR_CPS_VERSION_MISMATCH and the port is dropped", async () => {
  const host = new FakeNativeHost((cmd) => cmd === "status"
    ? { result: { ...HOST_STATUS, version: "2.0.0", protocol: 2 } } : { result: {} });
  const native = portFor(host);
  await assert.rejects(native.open(), (e) => {
    assert.equal(e.code, "ERR_CPS_VERSION_MISMATCH");
    assert.equal(e.details.hostProtocol, 2);
    assert.equal(e.details.hostVersion, "2.0.0");
    return true;
  });
  assert.equal(native.state, "closed");
  assert.equal(host.port.connected, false);
  assert.equal(native.hostStatus.version, "2.0.0", "the host's status stays known for the popup");
});

test("host error responses keep their code and details", async () => {
  const host = new FakeNativeHost((cmd) => cmd === "status" ? { result: HOST_STATUS }
    : { error: { code: "ERR_CPS_PIN_INCORRECT", message: "Code porteur incorrect",
                 details: { pinStatus: "countLow" } } });
  const native = portFor(host);
  await assert.rejects(native.request("authenticate", {}), (e) => {
    assert.equal(e.code, "ERR_CPS_PIN_INCORRECT");
    assert.equal(e.details.pinStatus, "countLow");
    return true;
  });
  native.close();
});

test("after the host exits, pending requests fail and the next request reconnects", async () => {
  let hang = true;
  const host = new FakeNativeHost((cmd) => {
    if (cmd === "status") return { result: HOST_STATUS };
    if (hang) return undefined;
    return { result: { certificates: [] } };
  });
  const native = portFor(host);
  const pending = native.request("list-certificates", { waitForCardMs: 1000 });
  await tick();
  await tick();
  host.exit();
  await assert.rejects(pending, (e) => e.code === "ERR_CPS_INTERNAL");
  assert.equal(native.state, "closed");
  hang = false;
  const r = await native.request("list-certificates", { waitForCardMs: 0 });
  assert.deepEqual(r, { certificates: [] });
  assert.equal(host.ports.length, 2);
  assert.equal(native.disconnects, 1);
  native.close();
});

test("a host that never answers status is unavailable after the handshake timeout", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const host = new FakeNativeHost(() => undefined);
  const native = portFor(host, { handshakeTimeoutMs: 5000 });
  const opening = native.open();
  t.mock.timers.tick(5000);
  await assert.rejects(opening, (e) => e.code === "ERR_CPS_NATIVE_UNAVAILABLE");
  assert.equal(host.port.connected, false, "the hung host's port is closed");
});

test("a request that gets no answer times out; a late answer is ignored", async (t) => {
  const host = new FakeNativeHost((cmd) => cmd === "status" ? { result: HOST_STATUS } : undefined);
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const native = portFor(host);
  await native.open();
  const p = native.request("list-certificates", {}, { timeoutMs: 1000 });
  await tick();
  t.mock.timers.tick(1000);
  await assert.rejects(p, (e) => e.code === "ERR_CPS_INTERNAL" && e.details.reason === "timeout");
  host.port.onMessage.emit({ id: host.sent.at(-1).id, result: { certificates: [] } });
  assert.equal(native.state, "ready");
  native.close();
});

test("listeners make the port watch, get events, and unwatch when they leave", async () => {
  const host = new FakeNativeHost();
  const native = portFor(host);
  await native.open();
  const seen = [];
  const stop = native.addEventListener((ev) => seen.push(ev));
  await tick();
  assert.deepEqual(host.commands(), ["status", "watch"]);
  host.event("card-inserted", { reader: "Virtual PCD 00 00", atr: "3B", cardType: "CPS3" });
  assert.equal(seen[0].event, "card-inserted");
  stop();
  await tick();
  assert.deepEqual(host.commands(), ["status", "watch", "unwatch"]);
  native.close();
});

test("a reconnected port watches again for its listeners", async () => {
  const host = new FakeNativeHost();
  const native = portFor(host);
  const seen = [];
  native.addEventListener((ev) => seen.push(ev.event));
  await native.open();
  await tick();
  host.exit();
  assert.deepEqual(seen, ["host-disconnected"]);
  await native.open();
  await tick();
  assert.deepEqual(host.commands(), ["status", "watch", "status", "watch"]);
  native.close();
});

test("a quiet port closes so that the service worker may sleep", async (t) => {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const host = new FakeNativeHost();
  const native = portFor(host, { idleCloseMs: 60000 });
  await native.open();
  t.mock.timers.tick(59000);
  assert.equal(native.state, "ready");
  t.mock.timers.tick(1000);
  assert.equal(native.state, "closed");
  assert.equal(host.port.connected, false);
});

test("cancel sends the host's cancel command for the request id", async () => {
  const host = new FakeNativeHost((cmd) => cmd === "status" ? { result: HOST_STATUS }
    : cmd === "cancel" ? { result: {} } : undefined);
  const native = portFor(host);
  let id;
  native.request("list-certificates", { waitForCardMs: 60000 }, { onId: (i) => { id = i; } })
    .catch(() => {});
  await tick();
  await tick();
  native.cancel(id);
  await tick();
  assert.deepEqual(host.sent.at(-1), { id: host.sent.at(-1).id, command: "cancel",
                                       arguments: { requestId: id } });
  native.close();
});
