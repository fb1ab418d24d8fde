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
