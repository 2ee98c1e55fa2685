// POST /signin/bluesky/app-password costs the person's PDS a password check, so each client
// address may try app_password_signins_per_hour times an hour. The client is found as for
// POST /signin: behind the proxy on loopback, the last X-Forwarded-For address (the one the
// proxy added); from any other peer, the peer itself, whatever it forwards. Beyond: 429 with
// Retry-After (the seconds left) and the reason in the visitor's language.
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { MEMBER_CONFIG } from "../lib/browser.mjs";
import { request } from "../lib/http.mjs";

let s;

setup(async () => {
  s = await startServer({ config: { ...MEMBER_CONFIG, app_password_signins_per_hour: "2" } });
});
teardown(async () => {
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

// A try: the form as the page sends it. The handle resolves nowhere; what is counted is the try.
const tryFrom = ({ forwarded, lang = "en", localAddress } = {}) =>
  request(`${s.url}/signin/bluesky/app-password`, {
    method: "POST",
    localAddress,
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: s.url,
      "accept-language": lang,
      ...(forwarded ? { "x-forwarded-for": forwarded } : {}),
    },
    body: new URLSearchParams({ handle: "nobody.invalid", password: "aaaa-bbbb-cccc-dddd" }).toString(),
  });

test("behind the proxy on loopback, each forwarded client has its own budget; the 429 says when and why", async () => {
  for (let i = 0; i < 2; i++) {
    const r = await tryFrom({ forwarded: "198.51.100.1, 203.0.113.7" });
    assert.notEqual(r.status, 429, `try ${i + 1} of the first client: ${r.status} ${r.body.slice(0, 200)}`);
  }
  const r = await tryFrom({ forwarded: "198.51.100.1, 203.0.113.7", lang: "fr-FR" });
  assert.equal(r.status, 429, r.body.slice(0, 300));
  const wait = Number(r.headers["retry-after"]);
  assert.ok(Number.isInteger(wait) && wait > 3500 && wait <= 3600, `Retry-After: the seconds left of the hour (${r.headers["retry-after"]})`);
  assert.match(r.body, /<html lang="fr">/);
  assert.match(r.body, /Trop de tentatives de connexion depuis votre réseau/);
  // Only the address the proxy added counts: the client's own claim before it changes nothing.
  const claim = await tryFrom({ forwarded: "198.51.100.2, 203.0.113.7" });
  assert.equal(claim.status, 429, "the same client, whatever it claims first");
  // Another person behind the same proxy is not refused for the first one's tries.
  for (let i = 0; i < 2; i++) {
    const other = await tryFrom({ forwarded: "203.0.113.8" });
    assert.notEqual(other.status, 429, `try ${i + 1} of another client: ${other.status} ${other.body.slice(0, 200)}`);
  }
  assert.equal((await tryFrom({ forwarded: "203.0.113.8" })).status, 429, "then it has spent its own budget");
});

test("a peer that is not the proxy: its X-Forwarded-For is ignored, the peer is counted", async () => {
  // 127.0.0.2 reaches the server on 127.0.0.1 (all of 127/8 is loopback) but is not the proxy.
  const from = (forwarded) => tryFrom({ forwarded, localAddress: "127.0.0.2" });
  assert.notEqual((await from("203.0.113.20")).status, 429);
  assert.notEqual((await from("203.0.113.21")).status, 429);
  const r = await from("203.0.113.22");
  assert.equal(r.status, 429, "a new forwarded address each time is still the one peer");
  assert.ok(Number(r.headers["retry-after"]) > 0);
  assert.match(r.body, /Too many sign-in tries from your connection/);
});
