import { test } from "node:test";
import assert from "node:assert/strict";
import { OriginPolicy, PRODUCTION_ORIGINS, canonicalOrigin, loadPolicy, senderOrigin } from "../src/origins.js";
import { BUILD } from "../src/build-info.js";

test("origins are https://host[:port] and nothing more", () => {
  assert.equal(canonicalOrigin("https://trajectoire.sante-ra.fr"), "https://trajectoire.sante-ra.fr");
  assert.equal(canonicalOrigin("https://Trajectoire.Sante-RA.fr:443"), "https://trajectoire.sante-ra.fr");
  assert.equal(canonicalOrigin("https://localhost:8443"), "https://localhost:8443");
  for (const bad of ["http://trajectoire.sante-ra.fr", "https://a.fr/path", "https://a.fr?q",
                     "https://u:p@a.fr", "https://a.fr#x", "", null, 42, "wss://a.fr",
                     "https://" + "a".repeat(260) + ".fr"]) {
    assert.equal(canonicalOrigin(bad), null, String(bad));
  }
});

test("a release build allows the production origin and what IT adds, nothing else", () => {
  const p = new OriginPolicy({ managed: ["https://viatrajectoire.example.fr:8443", "not an origin"] });
  assert.ok(p.allows(PRODUCTION_ORIGINS[0]));
  assert.ok(p.allows("https://viatrajectoire.example.fr:8443"));
  assert.ok(!p.allows("https://viatrajectoire.example.fr"), "the port is part of the origin");
  assert.ok(!p.allows("https://localhost:8443"));
  assert.ok(!p.allows("https://127.0.0.1:8443"));
  assert.ok(!p.allows("https://trajectoire.sante-ra.fr.evil.test"));
  assert.ok(!p.allows("http://trajectoire.sante-ra.fr"));
});

test("a development build also allows https://localhost and https://127.0.0.1 on any port", () => {
  const p = new OriginPolicy({ devOrigins: ["https://localhost", "https://127.0.0.1"] });
  assert.ok(p.allows("https://localhost:8443"));
  assert.ok(p.allows("https://127.0.0.1:41234"));
  assert.ok(p.allows("https://localhost"));
  assert.ok(!p.allows("http://localhost:8443"));
  assert.ok(!p.allows("https://localhost.evil.test"));
});

test("the committed sources are a release build", () => {
  assert.equal(BUILD.dev, false);
  assert.deepEqual(BUILD.devOrigins, []);
});

test("managed storage extends the policy; its absence is no error", async () => {
  const api = { storage: { managed: { get: async () => ({ allowedOrigins: ["https://x.example.fr"] }) } } };
  assert.ok((await loadPolicy(api)).allows("https://x.example.fr"));
  const none = { storage: { managed: { get: async () => { throw new Error("Managed storage manifest not found"); } } } };
  const p = await loadPolicy(none);
  assert.ok(p.allows(PRODUCTION_ORIGINS[0]));
  assert.ok(!p.allows("https://x.example.fr"));
  const dev = await loadPolicy(none, { dev: true, devOrigins: ["https://localhost"] });
  assert.ok(dev.allows("https://localhost:9999"));
});

test("the sender's origin comes from the browser's record", () => {
  assert.deepEqual(senderOrigin({ origin: "https://a.fr", url: "https://a.fr/x" }),
                   { origin: "https://a.fr", secure: true });
  assert.deepEqual(senderOrigin({ url: "https://a.fr:8443/p?q" }), { origin: "https://a.fr:8443", secure: true });
  assert.deepEqual(senderOrigin({ url: "http://a.fr/" }), { origin: "http://a.fr", secure: false });
  assert.deepEqual(senderOrigin({}), { origin: null, secure: false });
});

test("an opaque origin (a sandboxed document) is no origin; only a missing one falls back to the URL", () => {
  assert.deepEqual(senderOrigin({ origin: "null", url: "https://a.fr/x" }), { origin: null, secure: false });
  assert.deepEqual(senderOrigin({ origin: "", url: "https://a.fr/x" }), { origin: null, secure: false });
  assert.deepEqual(senderOrigin({ origin: undefined, url: "https://a.fr/x" }), { origin: "https://a.fr", secure: true });
});
