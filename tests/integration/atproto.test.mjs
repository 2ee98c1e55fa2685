// The AT Protocol pieces against the reference PDS and a PLC directory on loopback
// (tests/lib/pds.mjs), driven through build/tests/tools/atproto_drive: identity (handle ->
// DID by DNS TXT and HTTPS, DID -> document, both ways), then XRPC and sessions.
import assert from "node:assert/strict";
import http from "node:http";
import { test, setup, teardown, SLOW } from "../lib/harness.mjs";
import { startPds } from "../lib/pds.mjs";
import { startDns } from "../lib/dns.mjs";
import { drive } from "../lib/atdrive.mjs";

let pds;
let dns;
let web; // answers /.well-known/atproto-did by Host, as a handle's own web server would
const wellKnown = new Map();
let alice;
let bob;
let carol;

setup(async () => {
  pds = await startPds({ rateLimits: true });
  [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((n) => pds.createAccount(n)));
  dns = await startDns({ [`_atproto.${alice.handle}`]: ["v=unrelated", `did=${alice.did}`] });
  web = http.createServer((req, res) => {
    const did = wellKnown.get(String(req.headers.host).toLowerCase());
    if (req.url !== "/.well-known/atproto-did" || !did) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end(`${did}\n`);
  });
  await new Promise((r) => web.listen(0, "127.0.0.1", r));
  wellKnown.set(bob.handle, bob.did);
});
teardown(async () => {
  await pds?.stop();
  await dns?.stop();
  web?.close();
});

const opts = () => ["--allow-private", "--plc", pds.plcUrl, "--dns", dns.server, "--handle-origin", `http://127.0.0.1:${web.address().port}`, "--timeout", "3000"];

test("harness: an account on the PDS, its DID document in the PLC directory names the PDS", async () => {
  assert.match(alice.did, /^did:plc:[a-z2-7]{24}$/);
  assert.equal(alice.handle, "alice.test");
  const r = await pds.xrpc("com.atproto.identity.resolveHandle", { query: { handle: "alice.test" } });
  assert.equal(r.status, 200);
  assert.equal(r.json.did, alice.did);
  assert.match(r.headers.get("ratelimit-policy") ?? "", /;w=\d+/, "rate limits are on");
  const doc = await (await fetch(`${pds.plcUrl}/${alice.did}`)).json();
  assert.deepEqual(doc.alsoKnownAs, ["at://alice.test"]);
  assert.equal(doc.service.find((s) => s.id === "#atproto_pds").serviceEndpoint, pds.url);
});

test("identity: handle -> DID by DNS TXT, by HTTPS, -> document -> PDS, checked both ways", async () => {
  const out = await drive([...opts(), "resolve-handle", "Alice.Test", "@bob.test"]);
  const a = out.find((o) => o.subject === "Alice.Test");
  assert.equal(a.status, "ok", a.error);
  assert.equal(a.did, alice.did);
  assert.equal(a.handle, "alice.test", "lowercased");
  assert.equal(a.pds, pds.url, "the PDS comes from the PLC document");
  assert.match(a.signing_key, /^z/);
  const b = out.find((o) => o.subject === "@bob.test");
  assert.equal(b.status, "ok", b.error);
  assert.equal(b.did, bob.did, "bob has no TXT record: the HTTPS well-known named him");
  assert.equal(b.handle, "bob.test");
  assert.ok(dns.queries.includes("_atproto.alice.test") && dns.queries.includes("_atproto.bob.test"));
});

test("identity: a handle whose DID's document names another handle is a mismatch; none is not found", async () => {
  dns.set("_atproto.mallory.test", [`did=${alice.did}`]);
  wellKnown.set("eve.test", carol.did);
  dns.set("_atproto.twice.test", [`did=${alice.did}`, `did=${bob.did}`]);
  const out = await drive([...opts(), "resolve-handle", "mallory.test", "eve.test", "nobody.test", "twice.test"]);
  const by = Object.fromEntries(out.map((o) => [o.subject, o]));
  assert.equal(by["mallory.test"].status, "mismatch", "DNS names alice's DID, whose document says alice.test");
  assert.equal(by["mallory.test"].did, null);
  assert.equal(by["eve.test"].status, "mismatch", "HTTPS names carol's DID, whose document says carol.test");
  assert.equal(by["nobody.test"].status, "not_found");
  assert.equal(by["twice.test"].status, "not_found", "two different DIDs in TXT: ambiguous, ignored");
});

test("identity: DID -> document -> PDS, the handle given only when it leads back", async () => {
  const out = await drive([...opts(), "resolve-did", alice.did, carol.did, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"]);
  const by = Object.fromEntries(out.map((o) => [o.subject, o]));
  assert.equal(by[alice.did].status, "ok");
  assert.equal(by[alice.did].handle, "alice.test", "DNS leads alice.test back to alice's DID");
  assert.equal(by[alice.did].pds, pds.url);
  assert.equal(by[carol.did].status, "ok", "carol's DID stands");
  assert.equal(by[carol.did].handle, null, "carol.test resolves neither by DNS nor HTTPS here");
  assert.equal(by[carol.did].pds, pds.url);
  assert.equal(by["did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"].status, "not_found", "the PLC directory has no such DID");
});

test("identity: bad input is invalid; loopback is refused without allow_private; a silent DNS is unavailable", async () => {
  const out = await drive([...opts(), "resolve-handle", "not a handle", "a.local", "1.2.3.4"]);
  assert.deepEqual(out.map((o) => o.status), ["invalid", "invalid", "invalid"]);
  const d = await drive([...opts(), "resolve-did", "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"]);
  assert.equal(d[0].status, "invalid");
  const strict = await drive(["--plc", pds.plcUrl, "--dns", dns.server, "resolve-did", alice.did]);
  assert.equal(strict[0].status, "unavailable", "the PLC directory on loopback is refused");
  assert.match(strict[0].error, /refused/);
  const setupErr = await drive(["--handle-origin", "http://127.0.0.1:1", "resolve-handle", "alice.test"]);
  assert.equal(setupErr[0].status, "setup", "a handle origin needs allow_private");
  dns.silent = true;
  const t0 = Date.now();
  const slow = await drive([...opts().slice(0, -1), "1000", "resolve-handle", "alice.test"]);
  dns.silent = false;
  assert.equal(slow[0].status, "unavailable", "no DNS answer and no well-known: try later");
  assert.ok(Date.now() - t0 < 5000 * SLOW, "the wait is capped");
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
