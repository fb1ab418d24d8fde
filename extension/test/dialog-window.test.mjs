// The dialog window's side of the background (src/dialog-window.js): what reaches the page.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DialogWindows } from "../src/dialog-window.js";
import { FakeBrowser, FakeNativeHost, until } from "./fakes.mjs";

test("a notice beside the view reaches the page, even one that connects after it was sent", async () => {
  const browser = new FakeBrowser(new FakeNativeHost());
  const dialogs = new DialogWindows(browser.api);
  browser.api.runtime.onConnect.addListener((port) => dialogs.accept(port));
  const w = dialogs.create("flow-1");
  w.show({ view: "pin" });
  w.notify({ notice: "time-left" });
  await w.open({ onDialogMessage() {}, onWindowClosed() {} });
  const page = browser.dialogs[0];
  await until(() => page.views.length === 2, "the view and the notice");
  assert.deepEqual(page.views, [{ view: "pin" }, { notice: "time-left" }]);
  w.notify({ notice: "time-left" });
  w.show({ view: "timeout" });
  await until(() => page.views.length === 4, "the next ones");
  assert.deepEqual(page.views.slice(2), [{ notice: "time-left" }, { view: "timeout" }]);
  w.close();
});

test("a window kept on its ending is closed when the person starts another login", async () => {
  const browser = new FakeBrowser(new FakeNativeHost());
  const dialogs = new DialogWindows(browser.api);
  browser.api.runtime.onConnect.addListener((port) => dialogs.accept(port));
  const flow = { done: false, onDialogMessage() {}, onWindowClosed() {} };
  const first = dialogs.create("flow-1");
  await first.open(flow);
  const live = dialogs.create("flow-2"); // a login still going on is left alone
  await live.open({ done: false, onDialogMessage() {}, onWindowClosed() {} });
  await until(() => first.port && live.port, "both dialogs connected");
  assert.equal(browser.dialogs[0].closed, false);
  flow.done = true; // it ended, its window kept (« Délai dépassé »)
  const next = dialogs.create("flow-3");
  await next.open({ done: false, onDialogMessage() {}, onWindowClosed() {} });
  await until(() => browser.dialogs[0].closed, "the ended login's window closed");
  await until(() => next.port, "the new dialog connected");
  assert.equal(browser.dialogs[1].closed, false);
  assert.deepEqual([...dialogs.byFlowId.keys()], ["flow-2", "flow-3"]);
  next.close();
  live.close();
});

test("focus() brings the dialog's window to the front; with no window, it does nothing", async () => {
  const browser = new FakeBrowser(new FakeNativeHost());
  const dialogs = new DialogWindows(browser.api);
  browser.api.runtime.onConnect.addListener((port) => dialogs.accept(port));
  const w = dialogs.create("flow-1");
  w.focus(); // not created yet: it opens focused anyway
  await w.open({ done: false, onDialogMessage() {}, onWindowClosed() {} });
  const page = browser.dialogs[0];
  assert.equal(page.focused, 0);
  w.focus();
  await until(() => page.focused === 1, "the window brought to the front");
  page.closed = true; // closed by the person, not yet reported (windows.onRemoved)
  w.focus(); // the browser's refusal is no error of ours
  await new Promise((r) => setTimeout(r, 10));
  page.closed = false;
  w.close();
  w.focus();
  await until(() => page.closed, "the window closed");
  assert.equal(page.focused, 1);
});
