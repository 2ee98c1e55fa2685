// The OAuth grant for following in a member's name, against the real server and PostgreSQL,
// with the member's home played by the Mastodon client-API test double (tests/lib/mastodon-api.mjs)
// on the same origin as their actor: app registration once per host, PKCE authorization,
// state bound to the page session and spent once, the token's account checked
// (verify_credentials: another account signed in on that server is wrong_account, nothing
// kept), the token sealed (never in clear in the database or the logs), refusals, expiry,
// revocation at both ends, and a server without token_key_file.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer, createServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { member, api, MEMBER_CONFIG } from "../lib/browser.mjs";
import { request } from "../lib/http.mjs";
import { connect, start, callback, openSealed, sq } from "../lib/oauthflow.mjs";

let s, h;
let alice, bob, carol;

setup(async () => {
  s = await startServer({ config: { ...MEMBER_CONFIG, follow_poll_ms: "100" } });
  h = await startActorHost({ actors: [{ name: "alice" }, { name: "bob" }, { name: "carol" }, { name: "dora" }], mastodon: true });
  [alice, bob] = await Promise.all([member(s, h, "alice"), member(s, h, "bob")]);
  for (const m of [alice, bob]) {
    const r = await api(s, m, "/link/consents", { autofollow: true });
    assert.equal(r.status, 200, r.body);
  }
});
teardown(async () => {
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const memberId = (name) => s.psql(`SELECT id FROM members WHERE actor_uri = ${sq(h.actor(name).id)}`);
const grantRow = async (name) => s.psql(`SELECT host, scopes, ciphertext, nonce FROM oauth_grants WHERE member_id = ${await memberId(name)}`);
const stateCount = () => s.psql("SELECT count(*) FROM oauth_states");

test("connect: the app is registered once, the member authorizes with PKCE, the token is stored sealed", async () => {
  h.mastodon.control({ loggedIn: "alice" });
  const r = await connect(s, alice);
  assert.equal(r.result, "granted");
  assert.equal(r.callback.headers.location, "/link?oauth=granted");
  assert.equal(r.callback.headers["cache-control"], "no-store");
  assert.equal(r.callback.headers["referrer-policy"], "no-referrer");

  // The authorization request, as the member's server received it.
  const u = r.authorizeUrl;
  assert.equal(u.origin, h.url, "the member's home is the origin of their actor");
  assert.equal(u.pathname, "/oauth/authorize");
  const q = u.searchParams;
  assert.equal(q.get("response_type"), "code");
  assert.equal(q.get("redirect_uri"), `${s.url}/link/oauth/callback`);
  assert.equal(q.get("scope"), "read:accounts read:search write:follows read:lists write:lists");
  assert.match(q.get("state"), /^[0-9a-f]{64}$/);
  assert.match(q.get("code_challenge"), /^[A-Za-z0-9_-]{43}$/, "S256 challenge: 43 base64url characters");
  assert.equal(q.get("code_challenge_method"), "S256");

  const snap = h.mastodon.snapshot();
  assert.equal(snap.apps.length, 1, "one app registered");
  const app = snap.apps[0];
  assert.equal(app.name, "passerelle");
  assert.deepEqual(app.scopes, ["read:accounts", "read:search", "write:follows", "read:lists", "write:lists"]);
  assert.deepEqual(app.redirectUris, [`${s.url}/link/oauth/callback`]);
  assert.equal(app.website, s.url);
  assert.equal(q.get("client_id"), app.clientId);
  assert.equal(snap.codes.length, 1);
  assert.equal(snap.codes[0].pkce, true, "the code was bound to a PKCE challenge");
  assert.equal(snap.codes[0].used, true, "and spent by our token request");
  const tokenReq = h.posts("/oauth/token").at(-1);
  const form = new URLSearchParams(tokenReq.body);
  assert.equal(form.get("grant_type"), "authorization_code");
  assert.equal(form.get("redirect_uri"), `${s.url}/link/oauth/callback`);
  assert.equal(form.get("client_id"), app.clientId);
  assert.equal(form.get("client_secret"), app.secret);
  assert.match(form.get("code_verifier"), /^[0-9a-f]{64}$/);
  assert.equal(tokenReq.headers["content-type"], "application/x-www-form-urlencoded");

  const token = snap.tokens.find((t) => t.user === "alice" && !t.revoked);
  assert.ok(token, "the double issued a token to alice");
  const id = await memberId("alice");
  const [ghost, scopes, ct, nonce] = (await grantRow("alice")).split("|");
  assert.equal(ghost, h.domain);
  assert.equal(scopes, "read:accounts read:search write:follows read:lists write:lists");
  // Before keeping the token, whose account it acts for was asked with the token itself.
  const asked = h.mastodon.snapshot().requests.filter((x) => x.path === "/api/v1/accounts/verify_credentials");
  assert.equal(asked.length, 1, "verify_credentials once");
  assert.equal(asked[0].status, 200);
  assert.equal(asked[0].auth, true);
  assert.equal((ct.length - 2) / 2, token.token.length + 16, "ciphertext is the token's length plus a 16-byte tag");
  assert.equal((nonce.length - 2) / 2, 12, "a 12-byte nonce");
  assert.equal(openSealed(s, `grant:${id}:${h.domain}`, ct, nonce), token.token, "AES-256-GCM under token_key_file, bound to this row");
  assert.equal(openSealed(s, `grant:${await memberId("bob")}:${h.domain}`, ct, nonce), null, "the same bytes in bob's row do not open");
  const [appCt, appNonce] = (await s.psql(`SELECT client_secret, client_secret_nonce FROM oauth_apps WHERE host = ${sq(h.domain)}`)).split("|");
  assert.equal(openSealed(s, `app:${h.domain}`, appCt, appNonce), app.secret, "the client secret is sealed too, bound to its host");
  assert.equal(await stateCount(), "0", "the state was spent");

  const st = (await api(s, alice, "/link/state")).json();
  assert.equal(st.oauth.available, true);
  assert.equal(st.oauth.granted, true);
  assert.equal(st.oauth.host, h.domain);
  assert.match(st.oauth.since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(JSON.stringify(st).includes(token.token), false, "the page never sees the token");
});

test("no secret in clear: not in a dump of the database, not in the logs", async () => {
  const snap = h.mastodon.snapshot();
  const dump = execFileSync("pg_dump", ["--data-only", s.db], { encoding: "utf8", maxBuffer: 64 << 20 });
  assert.ok(dump.includes("oauth_grants"), "the dump has the grants table");
  for (const t of snap.tokens) assert.equal(dump.includes(t.token), false, "a token in clear in the database");
  for (const a of snap.apps) assert.equal(dump.includes(a.secret), false, "a client secret in clear in the database");
  const log = s.stderr();
  for (const t of snap.tokens) assert.equal(log.includes(t.token), false, "a token in the log");
  for (const a of snap.apps) assert.equal(log.includes(a.secret), false, "a client secret in the log");
  for (const rec of h.requests.filter((x) => x.path === "/oauth/authorize")) {
    const q = new URL(rec.target, h.url).searchParams;
    assert.equal(log.includes(q.get("state")), false, "a state in the log");
  }
  for (const rec of h.posts("/oauth/token")) {
    const f = new URLSearchParams(rec.body);
    assert.equal(log.includes(f.get("code")), false, "a code in the log");
    assert.equal(log.includes(f.get("code_verifier")), false, "a verifier in the log");
  }
});

test("a second member on the same server reuses the registration", async () => {
  h.mastodon.control({ loggedIn: "bob" });
  const r = await connect(s, bob);
  assert.equal(r.result, "granted");
  assert.equal(h.mastodon.snapshot().apps.length, 1, "POST /api/v1/apps once per host");
  assert.equal(h.posts("/api/v1/apps").length, 1);
});

test("state: unknown, from another session, reused, or expired gets nothing", async () => {
  h.mastodon.control({ loggedIn: "alice" });
  const before = await grantRow("alice");
  // A state we never issued.
  let cb = await callback(s, `code=x&state=${"ab".repeat(32)}`, alice.cookie);
  assert.equal(cb.headers.location, "/link?oauth=invalid");
  cb = await callback(s, "code=x&state=short", alice.cookie);
  assert.equal(cb.headers.location, "/link?oauth=invalid");

  // A real state brought back in bob's session: refused, and spent all the same.
  const st = await start(s, alice);
  const authorize = await request(st.json().authorize_url);
  const back = new URL(authorize.headers.location);
  cb = await callback(s, back.search.slice(1), bob.cookie);
  assert.equal(cb.headers.location, "/link?oauth=invalid", "state bound to the session that started it");
  cb = await callback(s, back.search.slice(1), alice.cookie);
  assert.equal(cb.headers.location, "/link?oauth=invalid", "a state is good for one callback only");
  cb = await callback(s, back.search.slice(1));
  assert.equal(cb.headers.location, "/link?oauth=invalid", "without a session");

  // A successful callback replayed.
  const ok = await connect(s, alice);
  assert.equal(ok.result, "granted");
  cb = await callback(s, ok.back.search.slice(1), alice.cookie);
  assert.equal(cb.headers.location, "/link?oauth=invalid", "a replayed callback gets nothing");

  // An expired state.
  const st2 = await start(s, alice);
  const authorize2 = await request(st2.json().authorize_url);
  await s.psql("UPDATE oauth_states SET created_at = now() - interval '20 minutes', expires_at = now() - interval '10 minutes'");
  cb = await callback(s, new URL(authorize2.headers.location).search.slice(1), alice.cookie);
  assert.equal(cb.headers.location, "/link?oauth=expired");
  assert.equal(await stateCount(), "0");
  assert.notEqual(await grantRow("alice"), before, "only the good callback replaced the grant");
});

test("PKCE: a code bound to another challenge is refused by the member's server; nothing is stored", async () => {
  h.mastodon.control({ loggedIn: "carol" });
  carol = await member(s, h, "carol");
  assert.equal((await api(s, carol, "/link/consents", { autofollow: true })).status, 200);
  const r = await connect(s, carol, {
    edit(u) {
      u.searchParams.set("code_challenge", "A".repeat(43)); // someone else's challenge
      return u;
    },
  });
  assert.equal(r.result, "failed");
  const last = h.requests.filter((x) => x.path === "/oauth/token").at(-1);
  assert.ok(last, "the exchange was tried");
  assert.equal(await s.psql(`SELECT count(*) FROM oauth_grants WHERE member_id = ${await memberId("carol")}`), "0");
  assert.ok(s.events("oauth_token_failed").some((e) => e.status === "400"), "the double answered 400 invalid_grant");
  // The same member without tampering gets through: the verifier we send matches our challenge.
  const good = await connect(s, carol);
  assert.equal(good.result, "granted");
});

test("the member refuses on their server: denied, nothing stored", async () => {
  const id = await memberId("carol");
  await s.psql(`DELETE FROM oauth_grants WHERE member_id = ${id}`);
  h.mastodon.control({ loggedIn: "carol", deny: true });
  const st = await start(s, carol);
  const authorize = await request(st.json().authorize_url);
  const back = new URL(authorize.headers.location);
  assert.equal(back.searchParams.get("error"), "access_denied");
  const cb = await callback(s, back.search.slice(1), carol.cookie);
  assert.equal(cb.headers.location, "/link?oauth=denied");
  assert.equal(await s.psql(`SELECT count(*) FROM oauth_grants WHERE member_id = ${id}`), "0");
  assert.equal(await stateCount(), "0", "the refused state is spent");
  h.mastodon.control({ deny: false });
});

// Mastodon and GoToSocial do not say in the token answer whose token it is: a browser signed in
// to another account on the member's server (someone they share a computer with, or a victim
// lured onto an attacker's link page) would hand over that account's token.
test("another account signed in on the member's server: wrong_account, nothing kept", async () => {
  const dora = await member(s, h, "dora");
  assert.equal((await api(s, dora, "/link/consents", { autofollow: true })).status, 200);
  const id = await memberId("dora");
  h.mastodon.control({ loggedIn: "bob" });
  const r = await connect(s, dora);
  assert.equal(r.result, "wrong_account");
  const issued = h.mastodon.snapshot().tokens.at(-1);
  assert.equal(issued.user, "bob", "the member's server issued bob's token");
  const asked = h.mastodon.snapshot().requests.filter((x) => x.path === "/api/v1/accounts/verify_credentials").at(-1);
  assert.equal(asked.status, 200, "and said whose it is");
  assert.equal(await s.psql(`SELECT count(*) FROM oauth_grants WHERE member_id = ${id}`), "0", "nothing stored");
  assert.equal((await api(s, dora, "/link/state")).json().oauth.granted, false);
  assert.ok(s.events("oauth_callback").some((e) => e.member === id && e.result === "wrong_account"));
  assert.equal(s.stderr().includes(issued.token), false, "the token is not in the log");
  await eventually(() => h.mastodon.snapshot().tokens.find((t) => t.token === issued.token)?.revoked, { what: "bob's server was asked to forget the token" });

  // Its server cannot say whose token it is: failed, nothing stored either.
  h.mastodon.control({ loggedIn: "dora", failNext: [{ path: "^/api/v1/accounts/verify_credentials$", status: 503, body: { error: "busy" } }] });
  const busy = await connect(s, dora);
  assert.equal(busy.result, "failed");
  assert.equal(await s.psql(`SELECT count(*) FROM oauth_grants WHERE member_id = ${id}`), "0");
  assert.ok(s.events("oauth_verify_failed").some((e) => e.member === id && e.status === "503"));

  // The member's own account gets through.
  const good = await connect(s, dora);
  assert.equal(good.result, "granted");
  assert.equal(await s.psql(`SELECT count(*) FROM oauth_grants WHERE member_id = ${id}`), "1");
});

// Pleroma and Akkoma send no "uri" in the Account (its url is the actor id) and name the owner
// in the token answer ("me"): both checks hold there too.
test("a Pleroma-style server: the member's own token is kept, another account's is wrong_account", async () => {
  const pl = await startActorHost({ actors: [{ name: "pia" }, { name: "quinn" }], mastodon: { software: "pleroma" } });
  try {
    const pia = await member(s, pl, "pia");
    assert.equal((await api(s, pia, "/link/consents", { autofollow: true })).status, 200);
    const id = await s.psql(`SELECT id FROM members WHERE actor_uri = ${sq(pl.actor("pia").id)}`);
    pl.mastodon.control({ loggedIn: "quinn" });
    assert.equal((await connect(s, pia)).result, "wrong_account");
    assert.equal(await s.psql(`SELECT count(*) FROM oauth_grants WHERE member_id = ${id}`), "0");
    pl.mastodon.control({ loggedIn: "pia" });
    assert.equal((await connect(s, pia)).result, "granted");
    const asked = pl.mastodon.snapshot().requests.filter((x) => x.path === "/api/v1/accounts/verify_credentials");
    assert.equal(asked.at(-1).status, 200, "the granted token was checked too (no uri in the answer)");
  } finally {
    await pl.stop();
  }
});

test("refusals: no CSRF token, no session, autofollow off", async () => {
  let r = await start(s, alice, { csrf: null });
  assert.equal(r.status, 403);
  r = await request(`${s.url}/link/oauth/start`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
  assert.equal(r.status, 401);
  assert.equal((await api(s, bob, "/link/consents", { autofollow: false })).status, 200);
  r = await start(s, bob);
  assert.equal(r.status, 400);
  assert.match(r.json().error, /automatic follows/);
  assert.equal((await api(s, bob, "/link/consents", { autofollow: true })).status, 200);
  // Only 32 hex digits under /link are one-time codes: a GET of these is a wrong method.
  r = await request(`${s.url}/link/oauth/start`);
  assert.equal(r.status, 405, "start is a POST");
  assert.equal(r.headers.allow, "POST");
  r = await request(`${s.url}/link/oauth/revoke`);
  assert.equal(r.status, 405, "revoke is a POST");
  assert.equal(r.headers.allow, "POST");
  assert.equal(await s.psql("SELECT count(*) FROM oauth_states WHERE expires_at > now()"), "0", "no state was made by the refusals");
});

test("revoke: the grant goes at once, and the member's server revokes the token", async () => {
  const token = h.mastodon.snapshot().tokens.filter((t) => t.user === "bob" && !t.revoked).at(-1);
  assert.ok(token);
  let r = await request(`${s.url}/link/oauth/revoke`, { method: "POST", headers: { cookie: bob.cookie, "content-type": "application/json" }, body: "{}" });
  assert.equal(r.status, 403, "revoke needs the CSRF token");
  r = await api(s, bob, "/link/oauth/revoke", {});
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json(), { granted: false, revoked: true });
  assert.equal(await s.psql(`SELECT count(*) FROM oauth_grants WHERE member_id = ${await memberId("bob")}`), "0");
  await eventually(() => h.mastodon.snapshot().tokens.find((t) => t.token === token.token)?.revoked, { what: "the double revoked the token" });
  const rec = h.posts("/oauth/revoke").at(-1);
  const f = new URLSearchParams(rec.body);
  assert.equal(f.get("token"), token.token);
  assert.equal(f.get("client_id"), h.mastodon.snapshot().apps[0].clientId);
  const st = (await api(s, bob, "/link/state")).json();
  assert.equal(st.oauth.granted, false);
  r = await api(s, bob, "/link/oauth/revoke", {});
  assert.deepEqual(r.json(), { granted: false, revoked: false }, "revoking twice is harmless");
});

test("without token_key_file the bridge runs, says so, and refuses to start a grant", async () => {
  const s2 = await startServer({ config: { ...MEMBER_CONFIG, token_key_file: null } });
  try {
    assert.ok(s2.events("oauth_off").length === 1, "a warning at start names token_key_file");
    assert.match(s2.events("oauth_off")[0].reason, /token_key_file/);
    const m = await member(s2, h, "carol");
    assert.equal((await api(s2, m, "/link/consents", { autofollow: true })).status, 200);
    const r = await start(s2, m);
    assert.equal(r.status, 503);
    assert.match(r.json().error, /token_key_file/);
    const st = (await api(s2, m, "/link/state")).json();
    assert.equal(st.oauth.available, false);
    const cb = await callback(s2, `code=x&state=${"cd".repeat(32)}`, m.cookie);
    assert.equal(cb.headers.location, "/link?oauth=off");
  } finally {
    assert.equal(await s2.stop(), 0);
  }
});

test("an unusable token_key_file stops the start with a clear error", async () => {
  const s3 = await createServer({ config: { ...MEMBER_CONFIG } });
  try {
    const bad = path.join(s3.dir, "open.key");
    writeFileSync(bad, "00".repeat(32) + "\n", { mode: 0o644 });
    writeFileSync(s3.configFile, readFileSync(s3.configFile, "utf8").replace(/token_key_file = .*/, `token_key_file = ${bad}`));
    assert.equal((await s3.migrate()).code, 0);
    await s3.start({ waitListening: false });
    const { code } = await s3.exited();
    assert.equal(code, 1);
    assert.match(s3.stderr(), /token_key_file: .*readable by others.*chmod 600/);
    writeFileSync(bad, "not hex\n");
    chmodSync(bad, 0o600);
    await s3.start({ waitListening: false });
    assert.equal((await s3.exited()).code, 1);
    assert.match(s3.stderr(), /token_key_file: .*64 hex digits/);
    assert.equal(s3.stderr().includes("00".repeat(32)), false, "the key is never printed");
  } finally {
    await s3.stop();
  }
});
