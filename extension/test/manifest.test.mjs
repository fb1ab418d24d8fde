import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

const manifest = JSON.parse(readFileSync(new URL("../manifest.base.json", import.meta.url), "utf-8"));

test("the content script runs in top-level https documents only", () => {
  // http pages get ERR_CPS_INSECURE_CONTEXT from the page library itself (page-bridge
  // tests); the extension has nothing to do there. Why every https page: README.md.
  assert.deepEqual(manifest.content_scripts.map((c) => [c.matches, c.all_frames]),
                   [[["https://*/*"], false]]);
});
