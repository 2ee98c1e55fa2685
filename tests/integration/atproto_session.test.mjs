// XRPC calls and app-password sessions against the reference PDS on loopback with its rate
// limits on (tests/lib/pds.mjs), driven through build/tests/tools/atproto_drive.
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startPds } from "../lib/pds.mjs";
import { drive } from "../lib/atdrive.mjs";

let pds;
let alice;
let bob;
let carol;

setup(async () => {
  pds = await startPds({ rateLimits: true });
  [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((n) => pds.createAccount(n)));
});
teardown(async () => {
  await pds?.stop();
});

// An app password made the way a member makes one in the Bluesky app's settings.
async function appPassword(account) {
  const r = await pds.xrpc("com.atproto.server.createAppPassword", { body: { name: `passerelle-${Date.now()}` }, token: account.accessJwt });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.password;
}

test("session: createSession with an app password gives the pair; a wrong password is refused", async () => {
  const pw = await appPassword(alice);
  const [s] = await drive(["--allow-private", "session-create", pds.url, "alice.test", pw]);
  assert.equal(s.status, "ok", s.error);
  assert.equal(s.did, alice.did);
  assert.equal(s.handle, "alice.test");
  assert.match(s.access_jwt, /^ey/);
  assert.match(s.refresh_jwt, /^ey/);
  const now = Math.floor(Date.now() / 1000);
  assert.ok(s.access_exp > now + 3600 && s.access_exp <= now + 7300, `the access token lives about 2 h (exp ${s.access_exp})`);
  const [bad] = await drive(["--allow-private", "session-create", pds.url, "alice.test", "not-the-password"]);
  assert.equal(bad.status, "refused");
  assert.match(bad.error, /AuthenticationRequired/);
  assert.equal(bad.refresh_jwt, null);
});

test("xrpc: a follow written with createRecord and read back with listRecords; error shapes", async () => {
  const pw = await appPassword(bob);
  const [s] = await drive(["--allow-private", "session-create", pds.url, bob.did, pw]);
  assert.equal(s.status, "ok", s.error);
  const record = { $type: "app.bsky.graph.follow", subject: alice.did, createdAt: new Date().toISOString() };
  const [w] = await drive(["--allow-private", "xrpc", pds.url, "POST", "com.atproto.repo.createRecord",
    `body=${JSON.stringify({ repo: bob.did, collection: "app.bsky.graph.follow", record })}`, `bearer=${s.access_jwt}`]);
  assert.equal(w.status, 200, JSON.stringify(w.json));
  assert.match(w.json.uri, new RegExp(`^at://${bob.did}/app\\.bsky\\.graph\\.follow/`));
  assert.match(w.ratelimit_policy, /^\d+;w=\d+$/, "RateLimit-Policy read");
  assert.ok(w.ratelimit_limit > 0 && w.ratelimit_remaining >= 0 && w.ratelimit_reset > Date.now() / 1000);
  const q = new URLSearchParams({ repo: bob.did, collection: "app.bsky.graph.follow", limit: "100" });
  const [l] = await drive(["--allow-private", "xrpc", pds.url, "GET", "com.atproto.repo.listRecords", `query=${q}`]);
  assert.equal(l.status, 200);
  assert.deepEqual(l.json.records.map((r) => [r.uri, r.value.subject]), [[w.json.uri, alice.did]]);
  // What the PDS refuses, as the C client reads it.
  const [notDid] = await drive(["--allow-private", "xrpc", pds.url, "POST", "com.atproto.repo.createRecord",
    `body=${JSON.stringify({ repo: bob.did, collection: "app.bsky.graph.follow", record: { ...record, subject: "not-a-did" } })}`, `bearer=${s.access_jwt}`]);
  assert.equal(notDid.status, 400);
  assert.equal(notDid.error_name, "InvalidRequest");
  assert.match(notDid.message, /Invalid DID/);
  const [noAuth] = await drive(["--allow-private", "xrpc", pds.url, "POST", "com.atproto.repo.createRecord", `body=${JSON.stringify({ repo: bob.did, collection: "app.bsky.graph.follow", record })}`]);
  assert.equal(noAuth.status, 401);
  assert.equal(noAuth.error_name, "AuthMissing");
  const [garbage] = await drive(["--allow-private", "xrpc", pds.url, "GET", "com.atproto.server.getSession", "bearer=not-a-jwt"]);
  assert.equal(garbage.status, 400);
  assert.equal(garbage.error_name, "InvalidToken");
  assert.equal(garbage.token_refused, true);
  const [strict] = await drive(["xrpc", pds.url, "GET", "com.atproto.repo.listRecords", `query=${q}`]);
  assert.equal(strict.error, "refused_address", "a PDS on loopback is refused outside tests");
});

test("session: an expired access token is refreshed once, the call goes through, the refresh token rotates", async () => {
  const pw = await appPassword(carol);
  const [s] = await drive(["--allow-private", "session-create", pds.url, "carol.test", pw]);
  const expired = pds.expiredAccessJwt(s.access_jwt);
  const [direct] = await drive(["--allow-private", "xrpc", pds.url, "GET", "com.atproto.server.getSession", `bearer=${expired}`]);
  assert.equal(direct.status, 400);
  assert.equal(direct.error_name, "ExpiredToken", "the PDS refuses it as expired");
  assert.equal(direct.token_refused, true);
  const [c] = await drive(["--allow-private", "session-call", pds.url, expired, s.refresh_jwt, "GET", "com.atproto.server.getSession"]);
  assert.equal(c.answer.status, 200, JSON.stringify(c));
  assert.equal(c.answer.json.did, carol.did);
  assert.equal(c.refreshed.status, "ok");
  assert.notEqual(c.refreshed.refresh_jwt, s.refresh_jwt, "a new refresh token to keep");
  assert.notEqual(c.refreshed.access_jwt, expired);
  const [fresh] = await drive(["--allow-private", "session-call", pds.url, c.refreshed.access_jwt, c.refreshed.refresh_jwt, "GET", "com.atproto.server.getSession"]);
  assert.equal(fresh.answer.status, 200);
  assert.equal(fresh.refreshed, null, "a live token needs no refresh");
  const [dead] = await drive(["--allow-private", "session-call", pds.url, expired, "not-a-refresh-token", "GET", "com.atproto.server.getSession"]);
  assert.equal(dead.answer, null);
  assert.equal(dead.refreshed.status, "expired", "only the member can help now");
  assert.match(dead.refreshed.error, /InvalidToken/);
});

test("rate limits: createSession past its limit is a 429 with Retry-After and the RateLimit-* headers", async () => {
  // The limit counts attempts per identifier (and address), refused ones too: an identifier
  // that names no account is refused fast (no password hash to compute).
  const body = JSON.stringify({ identifier: "ghost.test", password: "whatever" });
  // Each refusal takes the PDS about half a second, spent waiting: ask 32 times at once.
  const all = (await Promise.all(Array.from({ length: 32 }, () =>
    drive(["--allow-private", "xrpc", pds.url, "POST", "com.atproto.server.createSession", `body=${body}`])))).flat();
  assert.equal(all.filter((r) => r.status === 401).length, 30, "createSession allows 30 per 5 minutes");
  const last = all.find((r) => r.status === 429);
  assert.equal(all.filter((r) => r.status === 429).length, 2);
  assert.equal(last.error_name, "RateLimitExceeded");
  assert.ok(last.retry_after > 0 && last.retry_after <= 300, `Retry-After ${last.retry_after}`);
  assert.equal(last.ratelimit_remaining, 0);
  assert.equal(last.ratelimit_limit, 30);
  assert.equal(last.ratelimit_policy, "30;w=300");
  assert.ok(last.ratelimit_reset > Date.now() / 1000);
  const [s] = await drive(["--allow-private", "session-create", pds.url, "ghost.test", "whatever"]);
  assert.equal(s.status, "rate_limited");
  assert.ok(s.retry_after > 0);
});
