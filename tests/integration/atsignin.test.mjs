// Signing in with Bluesky against the reference PDS (tests/lib/pds.mjs) and its PLC directory:
// passerelle as a confidential atproto OAuth client (https client_id on a public-looking name,
// native TLS with a test CA, the name mapped to 127.0.0.1 in the PDS's process), PAR + PKCE +
// DPoP + private_key_jwt, the callback's checks, the grant used, refreshed, revoked, and a
// member leaving. The PDS's sign-in and consent go through the JSON API of its own pages (the
// browser test drives the pages).
import assert from "node:assert/strict";
import { createPrivateKey, createDecipheriv, createHash, randomBytes, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startPds } from "../lib/pds.mjs";
import { begin, bridge, bridgeHosts, makeCa, pdsApprove, setCookie, signIn, startBridge, BRIDGE_NAME } from "../lib/bluesky.mjs";

let pds;
let ca;
let s;
let s2; // a second process on the same database and port (SO_REUSEPORT)
let alice;
let bob;
let carol;

setup(async () => {
  ca = makeCa();
  pds = await startPds({ hosts: bridgeHosts(), caFile: ca.caFile });
  s = await startBridge(pds, ca, { config: { reuse_port: "true" } });
  [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((n) => pds.createAccount(n)));
});
teardown(async () => {
  await s2?.stop();
  await s?.stop();
  await pds?.stop();
});

const q = async (sql) => (await s.psql(sql)).trim();
const state = (x) => bridge(s, ca, "/link/state", { cookie: x.session });
const check = (x, srv = s) => bridge(srv, ca, "/link/bluesky", { cookie: x.session });

// Opens a sealed column as the server does (AES-256-GCM, the key in token_key_file, ad).
function unseal(ctHex, nonceHex, ad) {
  const key = Buffer.from(readFileSync(s.config.token_key_file, "utf8").trim(), "hex");
  const ct = Buffer.from(ctHex.replace(/^\\x/, ""), "hex");
  const d = createDecipheriv("aes-256-gcm", key, Buffer.from(nonceHex.replace(/^\\x/, ""), "hex"));
  d.setAAD(Buffer.from(ad));
  d.setAuthTag(ct.subarray(ct.length - 16));
  return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]).toString();
}

// The member's stored access token and DPoP key, opened: what passerelle sends to the PDS.
async function storedGrant(memberId, did) {
  const [at, an, dk, dn] = (await q(`SELECT access_token, access_nonce, dpop_key, dpop_key_nonce FROM atproto_grants WHERE member_id = ${memberId}`)).split("|");
  return {
    access: unseal(at, an, `atgrant:${memberId}:${did}:access`),
    jwk: JSON.parse(unseal(dk, dn, `atgrant:${memberId}:${did}:dpop`)),
  };
}

// getSession at the PDS with a DPoP-bound token, as a client holding the grant would call it.
async function pdsSession(g) {
  const url = `${pds.url}/xrpc/com.atproto.server.getSession`;
  const b64 = (x) => Buffer.from(x).toString("base64url");
  const key = createPrivateKey({ key: g.jwk, format: "jwk" });
  const pub = { kty: g.jwk.kty, crv: g.jwk.crv, x: g.jwk.x, y: g.jwk.y };
  let nonce;
  for (let i = 0; i < 2; i++) {
    const claims = { jti: b64(randomBytes(16)), htm: "GET", htu: url, iat: Math.floor(Date.now() / 1000), ath: b64(createHash("sha256").update(g.access).digest()), ...(nonce ? { nonce } : {}) };
    const input = `${b64(JSON.stringify({ typ: "dpop+jwt", alg: "ES256", jwk: pub }))}.${b64(JSON.stringify(claims))}`;
    const proof = `${input}.${b64(sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }))}`;
    const r = await fetch(url, { headers: { authorization: `DPoP ${g.access}`, dpop: proof } });
    nonce = r.headers.get("dpop-nonce") ?? nonce;
    if (r.status === 401 && /use_dpop_nonce/.test(r.headers.get("www-authenticate") ?? "")) continue;
    return r.status;
  }
  return 0;
}

test("the client metadata document: a confidential web client on the https name", async () => {
  const r = await bridge(s, ca, "/atproto/client-metadata.json");
  assert.equal(r.status, 200, r.body);
  const m = r.json();
  const base = `https://${BRIDGE_NAME}:${s.port}`;
  assert.equal(m.client_id, `${base}/atproto/client-metadata.json`);
  assert.deepEqual(m.redirect_uris, [`${base}/signin/bluesky/callback`]);
  assert.equal(m.scope, "atproto repo:app.bsky.graph.follow");
  assert.equal(m.token_endpoint_auth_method, "private_key_jwt");
  assert.equal(m.token_endpoint_auth_signing_alg, "ES256");
  assert.equal(m.dpop_bound_access_tokens, true);
  assert.equal(m.jwks.keys.length, 1);
  assert.equal(m.jwks.keys[0].d, undefined, "no private part");
});

let aliceIn;
test("a Bluesky member signs in through the PDS: member, grant and page session", async () => {
  aliceIn = await signIn(s, pds, ca, alice);
  assert.equal(setCookie(aliceIn.callback, "passerelle_signin"), "", "the pre-session cookie is cleared");
  const host = new URL(pds.url).host;
  assert.equal(await q(`SELECT network || ' ' || actor_uri || ' ' || acct || ' ' || host || ' ' || (inbox IS NULL) FROM members`), `atproto ${alice.did} alice.test ${host} true`);
  assert.equal(await q(`SELECT kind || ' ' || did || ' ' || scope FROM atproto_grants`), `oauth ${alice.did} atproto repo:app.bsky.graph.follow`);
  assert.equal(await q(`SELECT count(*) FROM consent_ledger WHERE source = 'default'`), "4", "the default consents, in the ledger");
  assert.equal(await q(`SELECT count(*) FROM atproto_states`), "0", "the state is spent");
  const st = await state(aliceIn);
  assert.equal(st.status, 200, st.body);
  const id = await q(`SELECT id FROM members`);
  assert.equal(await pdsSession(await storedGrant(id, alice.did)), 200, "the stored token works at the PDS (DPoP-bound)");
  const c = await check(aliceIn);
  assert.equal(c.status, 200, c.body);
  assert.deepEqual({ ...c.json(), refreshed: undefined }, { connected: true, kind: "oauth", did: alice.did, handle: "alice.test", refreshed: undefined });
});

test("a replayed callback is refused and changes nothing", async () => {
  const before = await q(`SELECT count(*) FROM sessions`);
  const r = await bridge(s, ca, aliceIn.back.href, { cookie: `__Host-passerelle_signin=${aliceIn.browser}` });
  assert.equal(r.status, 400, r.body);
  assert.equal(setCookie(r, "passerelle_link"), undefined, "no session");
  assert.equal(await q(`SELECT count(*) FROM sessions`), before);
});

test("a callback in another browser, or naming another issuer, is refused; the state is spent", async () => {
  const b = await begin(s, ca, "carol.test");
  const back = await pdsApprove(pds, b.authorizeUrl, carol);
  const other = await bridge(s, ca, back.href, { cookie: `__Host-passerelle_signin=${"0".repeat(64)}` });
  assert.equal(other.status, 403, other.body);
  const again = await bridge(s, ca, back.href, { cookie: `__Host-passerelle_signin=${b.browser}` });
  assert.equal(again.status, 400, "spent by the first try");
  const b2 = await begin(s, ca, "carol.test");
  const back2 = await pdsApprove(pds, b2.authorizeUrl, carol);
  back2.searchParams.set("iss", "https://mallory.example");
  const wrongIss = await bridge(s, ca, back2.href, { cookie: `__Host-passerelle_signin=${b2.browser}` });
  assert.equal(wrongIss.status, 400, wrongIss.body);
  assert.equal(await q(`SELECT count(*) FROM members WHERE actor_uri = '${carol.did}'`), "0");
  assert.equal(await q(`SELECT count(*) FROM atproto_grants WHERE did = '${carol.did}'`), "0");
});

test("the token's sub must be the DID resolved before the redirect: another account is refused", async () => {
  // alice.test is typed, bob signs in at the PDS: the token is bob's.
  const b = await begin(s, ca, "alice.test");
  const back = await pdsApprove(pds, b.authorizeUrl, bob);
  const r = await bridge(s, ca, back.href, { cookie: `__Host-passerelle_signin=${b.browser}` });
  assert.equal(r.status, 403, r.body);
  assert.equal(setCookie(r, "passerelle_link"), undefined, "no session");
  assert.equal(await q(`SELECT count(*) FROM members WHERE actor_uri = '${bob.did}'`), "0", "no member for bob");
  assert.equal(await q(`SELECT count(*) FROM atproto_grants WHERE did = '${bob.did}'`), "0", "no grant");
  assert.equal(await q(`SELECT count(*) FROM members WHERE network = 'atproto'`), "1", "alice alone");
  await eventually(() => s.events("atoauth_revoke").length >= 1, { what: "bob's tokens revoked at the PDS" });
});

test("a DID typed instead of a handle: its document's handle, checked back, signs in", async () => {
  const b = await begin(s, ca, bob.did);
  const back = await pdsApprove(pds, b.authorizeUrl, bob);
  const r = await bridge(s, ca, back.href, { cookie: `__Host-passerelle_signin=${b.browser}` });
  assert.equal(r.status, 303, r.body);
  assert.equal(await q(`SELECT acct FROM members WHERE actor_uri = '${bob.did}'`), "bob.test");
});

test("an expired access token is refreshed (DPoP, client assertion) and the new pair stored", async () => {
  const id = await q(`SELECT id FROM members WHERE actor_uri = '${alice.did}'`);
  const old = await storedGrant(id, alice.did);
  await q(`UPDATE atproto_grants SET access_expires_at = now() - interval '1 minute'`);
  const c = await check(aliceIn);
  assert.equal(c.status, 200, c.body);
  assert.equal(c.json().connected, true);
  assert.equal(c.json().refreshed, true);
  const now = await storedGrant(id, alice.did);
  assert.notEqual(now.access, old.access, "a new access token");
  assert.equal(await pdsSession(now), 200, "which the PDS takes");
  assert.equal(await q(`SELECT count(*) FROM atproto_grants WHERE access_expires_at > now() + interval '5 minutes' AND refresh_lease IS NULL`), "1");
});

test("two processes needing a refresh at once: one refresh, both connected, the grant survives", async () => {
  s2 = await startBridge(pds, ca, { share: s });
  await q(`UPDATE atproto_grants SET access_expires_at = now() - interval '1 minute'`);
  const before = s.events("atgrant_refreshed").length + s2.events("atgrant_refreshed").length;
  const rs = await Promise.all([check(aliceIn, s), check(aliceIn, s2), check(aliceIn, s), check(aliceIn, s2)]);
  for (const r of rs) {
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().connected, true, "every answer is connected");
  }
  const after = s.events("atgrant_refreshed").length + s2.events("atgrant_refreshed").length;
  assert.equal(after - before, 1, "exactly one refresh");
  assert.ok(s.events("listening").length === 1 && s2.events("listening").length === 1, "two processes");
  // A refresh token used twice would have ended the session at the PDS: the next refresh works.
  await q(`UPDATE atproto_grants SET access_expires_at = now() - interval '1 minute'`);
  const next = await check(aliceIn);
  assert.equal(next.json().connected, true, "the grant still refreshes");
  assert.equal(next.json().refreshed, true);
});

test("a grant revoked at the PDS: the refresh is refused, the grant deleted, the member stays", async () => {
  const d = await signIn(s, pds, ca, carol);
  const id = await q(`SELECT id FROM members WHERE actor_uri = '${carol.did}'`);
  // The person revokes passerelle at their PDS: the token's session is gone there.
  const [rt, rn] = (await q(`SELECT refresh_token, refresh_nonce FROM atproto_grants WHERE member_id = ${id}`)).split("|");
  const refresh = unseal(rt, rn, `atgrant:${id}:${carol.did}:refresh`);
  await q(`UPDATE atproto_grants SET access_expires_at = now() - interval '1 minute' WHERE member_id = ${id}`);
  await revokeAtPds(refresh, (await storedGrant(id, carol.did)).jwk);
  const c = await check(d);
  assert.equal(c.status, 200, c.body);
  assert.equal(c.json().connected, false);
  assert.equal(await q(`SELECT count(*) FROM atproto_grants WHERE member_id = ${id}`), "0", "the grant is deleted");
  assert.equal(await q(`SELECT count(*) FROM members WHERE id = ${id}`), "1", "the member stays");
});

test("a member leaving: forgotten here, the grant revoked at the PDS", async () => {
  const id = await q(`SELECT id FROM members WHERE actor_uri = '${alice.did}'`);
  const g = await storedGrant(id, alice.did);
  assert.equal(await pdsSession(g), 200, "the token works before");
  const csrf = (await state(aliceIn)).json().csrf;
  const noCsrf = await bridge(s, ca, "/link/leave", { method: "POST", cookie: aliceIn.session });
  assert.equal(noCsrf.status, 403, "the CSRF token is needed");
  const r = await bridge(s, ca, "/link/leave", { method: "POST", cookie: aliceIn.session, headers: { "x-csrf-token": csrf } });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json(), { left: true });
  assert.equal(await q(`SELECT count(*) FROM members WHERE id = ${id}`), "0");
  assert.equal(await q(`SELECT count(*) FROM atproto_grants WHERE member_id = ${id}`), "0");
  assert.equal((await state(aliceIn)).status, 401, "the session is gone");
  await eventually(async () => (await pdsSession(g)) === 401, { what: "the PDS refuses the token once revoked" });
});

test("an app password, chosen by the person: exchanged once, only its session kept, revoked on leaving", async () => {
  const dave = await pds.createAccount("dave");
  const made = await pds.xrpc("com.atproto.server.createAppPassword", { body: { name: "passerelle" }, token: dave.accessJwt });
  assert.equal(made.status, 200, JSON.stringify(made.json));
  const start = await bridge(s, ca, "/");
  assert.match(start.body, /<a id="signin-app-password" href="\/signin\/bluesky\/app-password">/, "the start page offers it");
  const form = await bridge(s, ca, "/signin/bluesky/app-password?handle=dave.test");
  assert.equal(form.status, 200);
  assert.match(form.body, /id="app-secret"[^>]*type="password"/);
  const post = (password, headers) => appPasswordPost("dave.test", password, headers);
  assert.equal((await post(made.json.password, { origin: "https://elsewhere.example" })).status, 403, "another site's form");
  const wrong = await post("aaaa-bbbb-cccc-dddd");
  assert.equal(wrong.status, 403, wrong.body);
  assert.match(wrong.body, /signin-error/);
  assert.equal(await q(`SELECT (SELECT count(*) FROM members WHERE actor_uri = '${dave.did}') + (SELECT count(*) FROM atproto_grants WHERE did = '${dave.did}')`), "0", "a refused password writes nothing");
  const r = await post(made.json.password);
  assert.equal(r.status, 303, r.body);
  assert.equal(r.headers.location, "/link");
  const session = `__Host-passerelle_link=${setCookie(r, "passerelle_link")}`;
  const id = await q(`SELECT id FROM members WHERE actor_uri = '${dave.did}'`);
  assert.equal(await q(`SELECT kind || ' ' || (access_token IS NULL) || ' ' || (dpop_key IS NULL) FROM atproto_grants WHERE member_id = ${id}`), "app_password true true", "only the refresh token is kept");
  const [rt, rn] = (await q(`SELECT refresh_token, refresh_nonce FROM atproto_grants WHERE member_id = ${id}`)).split("|");
  assert.match(unseal(rt, rn, `atgrant:${id}:${dave.did}:refresh`), /^ey/, "a refresh JWT, sealed");
  const password = made.json.password;
  const rows = await q(`SELECT g::text FROM atproto_grants g WHERE member_id = ${id} UNION ALL SELECT m::text FROM members m WHERE id = ${id}`);
  assert.ok(rows.length > 0 && !rows.includes(password), "the password is in no column of the grant or the member");
  assert.ok(!s.stderr().includes(password), "nor in the log");
  const c = await bridge(s, ca, "/link/bluesky", { cookie: session });
  assert.deepEqual({ ...c.json(), refreshed: undefined }, { connected: true, kind: "app_password", did: dave.did, handle: "dave.test", refreshed: undefined });
  const [rt2, rn2] = (await q(`SELECT refresh_token, refresh_nonce FROM atproto_grants WHERE member_id = ${id}`)).split("|");
  const refresh = unseal(rt2, rn2, `atgrant:${id}:${dave.did}:refresh`);
  assert.notEqual(refresh, unseal(rt, rn, `atgrant:${id}:${dave.did}:refresh`), "used: refreshed with refreshSession, the new refresh token kept");
  assert.equal(await q(`SELECT access_token IS NOT NULL FROM atproto_grants WHERE member_id = ${id}`), "t", "and an access token, sealed");
  const csrf = (await bridge(s, ca, "/link/state", { cookie: session })).json().csrf;
  const left = await bridge(s, ca, "/link/leave", { method: "POST", cookie: session, headers: { "x-csrf-token": csrf } });
  assert.equal(left.status, 200, left.body);
  await eventually(async () => (await pds.xrpc("com.atproto.server.refreshSession", { method: "POST", token: refresh })).status !== 200, { what: "the session deleted at the PDS" });
});

test("signing in again replaces the grant: the replaced one is revoked at the PDS, OAuth or app password", async () => {
  const erin = await pds.createAccount("erin");
  await signIn(s, pds, ca, erin);
  const id = await q(`SELECT id FROM members WHERE actor_uri = '${erin.did}'`);
  const storedRefresh = async () => {
    const [rt, rn] = (await q(`SELECT refresh_token, refresh_nonce FROM atproto_grants WHERE member_id = ${id}`)).split("|");
    return unseal(rt, rn, `atgrant:${id}:${erin.did}:refresh`);
  };
  const oauthRefresh = await storedRefresh();
  const g = await storedGrant(id, erin.did);
  assert.equal(await pdsSession(g), 200, "the OAuth grant works before");

  // The same person now signs in with an app password: the OAuth grant is replaced here...
  const made = await pds.xrpc("com.atproto.server.createAppPassword", { body: { name: "passerelle" }, token: erin.accessJwt });
  assert.equal(made.status, 200, JSON.stringify(made.json));
  const r = await appPasswordPost("erin.test", made.json.password);
  assert.equal(r.status, 303, r.body);
  const appIn = `__Host-passerelle_link=${setCookie(r, "passerelle_link")}`;
  assert.equal(await q(`SELECT kind FROM atproto_grants WHERE member_id = ${id}`), "app_password");
  // ...and revoked at the PDS: its access token is refused, then its refresh token (tried once:
  // a refresh that worked would rotate it).
  await eventually(async () => (await pdsSession(g)) === 401, { what: "the PDS refuses the replaced OAuth access token" });
  const refreshed = await asPost("token_endpoint", { grant_type: "refresh_token", refresh_token: oauthRefresh }, g.jwk);
  assert.equal(refreshed.status, 400, JSON.stringify(refreshed.body));
  assert.equal(refreshed.body.error, "invalid_grant", "the replaced refresh token no longer works");
  // s2 (still running) shares the port: either process may have answered.
  const logs = () => s.stderr() + (s2?.stderr() ?? "");
  assert.match(logs(), new RegExp(`event=atgrant_replaced member=${id} did=${erin.did} kind=oauth`), "the replacement is logged");
  assert.ok(!logs().includes(oauthRefresh), "without its token");
  const c = await check({ session: appIn });
  assert.deepEqual({ ...c.json(), refreshed: undefined }, { connected: true, kind: "app_password", did: erin.did, handle: "erin.test", refreshed: undefined }, "the new grant works");

  // The other way round: OAuth again ends the app password's session at the PDS.
  const appRefresh = await storedRefresh();
  const again = await signIn(s, pds, ca, erin);
  assert.equal(await q(`SELECT kind FROM atproto_grants WHERE member_id = ${id}`), "oauth");
  // (A refresh that worked would be answered again within the PDS's grace period: this waits
  // for the session to be deleted, not for the token to be used up.)
  await eventually(async () => (await pds.xrpc("com.atproto.server.refreshSession", { method: "POST", token: appRefresh })).status !== 200, { what: "the replaced app password's refresh token no longer works" });
  const c2 = await check(again);
  assert.equal(c2.json().connected, true, "the new OAuth grant works");
  assert.equal(c2.json().kind, "oauth");
});

// POST /signin/bluesky/app-password as its form sends it (Origin: ours unless headers say).
function appPasswordPost(handle, password, headers = { origin: s.url }) {
  return bridge(s, ca, "/signin/bluesky/app-password", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams({ handle, password }).toString(),
  });
}

// A request to the PDS's authorization server as passerelle's client makes it: authenticated
// with its key (opened from the database), with a DPoP proof of dpopJwk, the server's DPoP
// nonce fetched when asked for. endpoint names it in the server's metadata. {status, body}.
async function asPost(endpoint, params, dpopJwk) {
  const md = await (await fetch(`${pds.url}/.well-known/oauth-authorization-server`)).json();
  const [kid, ct, cn] = (await q(`SELECT kid, jwk, jwk_nonce FROM atproto_client_key`)).split("|");
  const clientKey = createPrivateKey({ key: JSON.parse(unseal(ct, cn, "atproto-client-key:1")), format: "jwk" });
  const dpopKey = createPrivateKey({ key: dpopJwk, format: "jwk" });
  const b64 = (x) => Buffer.from(x).toString("base64url");
  const jws = (header, claims, key) => {
    const input = `${b64(JSON.stringify(header))}.${b64(JSON.stringify(claims))}`;
    return `${input}.${b64(sign("sha256", Buffer.from(input), { key, dsaEncoding: "ieee-p1363" }))}`;
  };
  const clientId = `${s.url}/atproto/client-metadata.json`;
  const now = Math.floor(Date.now() / 1000);
  let nonce;
  for (let i = 0; i < 2; i++) {
    const assertion = jws({ alg: "ES256", kid }, { iss: clientId, sub: clientId, aud: md.issuer, jti: b64(randomBytes(16)), iat: now, exp: now + 60 }, clientKey);
    const pub = { kty: dpopJwk.kty, crv: dpopJwk.crv, x: dpopJwk.x, y: dpopJwk.y };
    const proof = jws({ typ: "dpop+jwt", alg: "ES256", jwk: pub }, { jti: b64(randomBytes(16)), htm: "POST", htu: md[endpoint], iat: now, ...(nonce ? { nonce } : {}) }, dpopKey);
    const res = await fetch(md[endpoint], {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", dpop: proof },
      body: new URLSearchParams({ ...params, client_id: clientId, client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion }),
    });
    const body = await res.json();
    nonce = res.headers.get("dpop-nonce") ?? nonce;
    if (res.status === 400 && body.error === "use_dpop_nonce") continue;
    return { status: res.status, body };
  }
  assert.fail("the PDS kept asking for a DPoP nonce");
}

// What the PDS does when the person removes the app in their account settings: the session's
// tokens are deleted. Here through the revocation endpoint.
async function revokeAtPds(refresh, dpopJwk) {
  const r = await asPost("revocation_endpoint", { token: refresh }, dpopJwk);
  assert.equal(r.status, 200, JSON.stringify(r.body));
}
