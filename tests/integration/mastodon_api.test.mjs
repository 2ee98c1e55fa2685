// The Mastodon client-API test double itself (tests/lib/mastodon-api.mjs), driven by hand:
// it must refuse what Mastodon refuses, or the tests that use it prove nothing. PKCE S256
// (a wrong, missing or plain verifier fails), codes spent once and bound to client and
// redirect, scopes, Bearer tokens and revocation, the shapes of Application, Token,
// Account, CredentialAccount (verify_credentials, Mastodon's and Pleroma's), Relationship and
// List, lists and their accounts (a followed or requested account only, a batch all or
// nothing), rate-limit headers and 429.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { pkceVerify } from "../lib/mastodon-api.mjs";
import { request } from "../lib/http.mjs";

let h, far, pl;
const REDIRECT = "https://bridge.example/link/oauth/callback";
const b64url = (b) => b.toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const challengeOf = (v) => b64url(createHash("sha256").update(v).digest());

setup(async () => {
  h = await startActorHost({ actors: [{ name: "alice" }], mastodon: true });
  far = await startActorHost({ actors: [{ name: "bob" }, { name: "cy" }] });
  pl = await startActorHost({ actors: [{ name: "pia" }], mastodon: { software: "pleroma" } });
  h.mastodon.control({ loggedIn: "alice" });
  pl.mastodon.control({ loggedIn: "pia" });
});
teardown(async () => {
  await h?.stop();
  await far?.stop();
  await pl?.stop();
});

const form = (o) => new URLSearchParams(o).toString();
const post = (path, body, headers = {}) =>
  request(`${h.url}${path}`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: form(body) });

async function registerApp(scopes = "read:search write:follows") {
  const r = await post("/api/v1/apps", { client_name: "passerelle", redirect_uris: REDIRECT, scopes, website: "https://bridge.example" });
  assert.equal(r.status, 200, r.body);
  return r.json();
}

// /oauth/authorize as a browser would open it; resolves the code from the redirect.
async function authorize(app, { challenge, method = "S256", scope = "read:search write:follows", state = "st" } = {}) {
  const q = new URLSearchParams({ response_type: "code", client_id: app.client_id, redirect_uri: REDIRECT, scope, state });
  if (challenge !== undefined) {
    q.set("code_challenge", challenge);
    q.set("code_challenge_method", method);
  }
  const r = await request(`${h.url}/oauth/authorize?${q}`);
  assert.equal(r.status, 302, r.body);
  return new URL(r.headers.location);
}

const exchange = (app, code, extra = {}) =>
  post("/oauth/token", { grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: app.client_id, client_secret: app.client_secret, ...extra });

test("pkceVerify itself: only SHA-256 of the very verifier passes", () => {
  const v = randomBytes(32).toString("hex");
  assert.equal(pkceVerify(challengeOf(v), "S256", v), true);
  assert.equal(pkceVerify(challengeOf(v), "S256", v.slice(0, -1) + (v.endsWith("0") ? "1" : "0")), false, "one character off");
  assert.equal(pkceVerify(challengeOf(v), "S256", undefined), false, "no verifier");
  assert.equal(pkceVerify(challengeOf(v), "S256", "short"), false, "a verifier under 43 characters");
  assert.equal(pkceVerify(v, "plain", v), false, "plain is not accepted (Mastodon 4.3 allows S256 only)");
  assert.equal(pkceVerify(challengeOf(v) + "A", "S256", v), false, "a longer challenge");
  assert.equal(pkceVerify(null, null, undefined), true, "no PKCE asked, none checked");
});

test("app registration: Mastodon's Application, and refusals", async () => {
  const app = await registerApp();
  for (const k of ["id", "name", "website", "scopes", "redirect_uri", "redirect_uris", "vapid_key", "client_id", "client_secret", "client_secret_expires_at"]) assert.ok(k in app, `Application has ${k}`);
  assert.deepEqual(app.scopes, ["read:search", "write:follows"]);
  assert.deepEqual(app.redirect_uris, [REDIRECT]);
  let r = await post("/api/v1/apps", { client_name: "x", redirect_uris: REDIRECT, scopes: "read:everything" });
  assert.equal(r.status, 422, "an unknown scope");
  r = await post("/api/v1/apps", { redirect_uris: REDIRECT });
  assert.equal(r.status, 422, "no name");
  r = await request(`${h.url}/api/v1/apps`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ client_name: "j", redirect_uris: [REDIRECT], scopes: "read" }) });
  assert.equal(r.status, 200, "JSON bodies too");
});

test("PKCE: the right verifier gets a token; a wrong one, none, or plain gets 400 invalid_grant", async () => {
  const app = await registerApp();
  const v = randomBytes(32).toString("hex");
  let back = await authorize(app, { challenge: challengeOf(v) });
  assert.equal(back.searchParams.get("state"), "st");
  let r = await exchange(app, back.searchParams.get("code"), { code_verifier: "b".repeat(64) });
  assert.equal(r.status, 400);
  assert.equal(r.json().error, "invalid_grant", "a wrong verifier");
  r = await exchange(app, back.searchParams.get("code"), { code_verifier: v });
  assert.equal(r.status, 400, "the code died with the failed attempt");

  back = await authorize(app, { challenge: challengeOf(v) });
  r = await exchange(app, back.searchParams.get("code"));
  assert.equal(r.status, 400, "no verifier");

  back = await authorize(app, { challenge: v, method: "plain" });
  assert.equal(back.searchParams.get("error"), "invalid_request", "plain is refused at authorization");

  back = await authorize(app, { challenge: challengeOf(v) });
  r = await exchange(app, back.searchParams.get("code"), { code_verifier: v });
  assert.equal(r.status, 200, r.body);
  const t = r.json();
  assert.deepEqual(Object.keys(t).sort(), ["access_token", "created_at", "scope", "token_type"]);
  assert.equal(t.token_type, "Bearer");
  assert.equal(t.scope, "read:search write:follows");
  r = await exchange(app, back.searchParams.get("code"), { code_verifier: v });
  assert.equal(r.status, 400, "a code is spent once");
});

test("codes are bound to their client and redirect; scopes to the app's", async () => {
  const a = await registerApp();
  const b = await registerApp();
  let back = await authorize(a);
  let r = await exchange(b, back.searchParams.get("code"));
  assert.equal(r.status, 400, "another client's code");
  back = await authorize(a);
  r = await exchange(a, back.searchParams.get("code"), { redirect_uri: "https://evil.example/cb" });
  assert.equal(r.status, 400, "another redirect");
  r = await exchange({ ...a, client_secret: "nope" }, "x");
  assert.equal(r.status, 401, "a wrong client secret");
  back = await authorize(a, { scope: "read write" });
  assert.equal(back.searchParams.get("error"), "invalid_scope");
  const bad = await request(`${h.url}/oauth/authorize?${new URLSearchParams({ response_type: "code", client_id: a.client_id, redirect_uri: "https://evil.example/cb" })}`);
  assert.equal(bad.status, 400, "an unregistered redirect is never followed");
  h.mastodon.control({ deny: true });
  back = await authorize(a);
  assert.equal(back.searchParams.get("error"), "access_denied");
  h.mastodon.control({ deny: false });
});

test("search with resolve, follow, shapes, rate-limit headers, 429, revocation", async () => {
  const app = await registerApp();
  const v = randomBytes(32).toString("hex");
  const back = await authorize(app, { challenge: challengeOf(v) });
  const token = (await exchange(app, back.searchParams.get("code"), { code_verifier: v })).json().access_token;
  const auth = { authorization: `Bearer ${token}` };
  const bob = far.actor("bob").id;

  let r = await request(`${h.url}/api/v2/search?q=${encodeURIComponent(bob)}&type=accounts&limit=1`, { headers: auth });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json().accounts, [], "without resolve an unknown remote account is not found");
  r = await request(`${h.url}/api/v2/search?q=${encodeURIComponent(bob)}&resolve=true&type=accounts&limit=1`, { headers: auth });
  assert.equal(r.status, 200);
  assert.match(r.headers["x-ratelimit-limit"], /^\d+$/);
  assert.match(r.headers["x-ratelimit-remaining"], /^\d+$/);
  assert.match(r.headers["x-ratelimit-reset"], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, "ISO 8601 with microseconds, as Mastodon");
  const acct = r.json().accounts[0];
  assert.equal(acct.uri, bob);
  assert.equal(acct.acct, `bob@${far.domain}`);
  assert.match(acct.id, /^\d+$/);
  for (const k of ["username", "display_name", "locked", "bot", "url", "avatar", "followers_count", "emojis", "fields"]) assert.ok(k in acct, `Account has ${k}`);
  assert.ok(far.fetches("/users/bob").length >= 1, "resolve fetched the actor");

  r = await request(`${h.url}/api/v1/accounts/${acct.id}/follow`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{}" });
  assert.equal(r.status, 200);
  const rel = r.json();
  assert.equal(rel.id, acct.id);
  assert.equal(rel.following, false);
  assert.equal(rel.requested, true, "a remote follow is a request until accepted");
  for (const k of ["showing_reblogs", "notifying", "followed_by", "blocking", "blocked_by", "muting", "domain_blocking", "endorsed", "note"]) assert.ok(k in rel, `Relationship has ${k}`);
  r = await request(`${h.url}/api/v1/accounts/999/follow`, { method: "POST", headers: auth });
  assert.equal(r.status, 404);
  r = await request(`${h.url}/api/v2/search?q=x`, {});
  assert.equal(r.status, 401);
  assert.equal(r.json().error, "The access token is invalid");

  h.mastodon.control({ limits: { perToken: 1 } });
  r = await request(`${h.url}/api/v2/search?q=x`, { headers: auth });
  assert.equal(r.status, 429);
  assert.equal(r.json().error, "Too many requests");
  assert.equal(r.headers["x-ratelimit-remaining"], "0");
  const reset = Date.parse(r.headers["x-ratelimit-reset"]);
  assert.equal(reset % 300000, 0, "the reset is the end of an epoch-aligned 5-minute window");
  h.mastodon.control({ limits: { perToken: 300 } });

  r = await post("/oauth/revoke", { client_id: app.client_id, client_secret: app.client_secret, token });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), {});
  r = await request(`${h.url}/api/v2/search?q=x`, { headers: auth });
  assert.equal(r.status, 401, "a revoked token is refused");
});

test("lists: List's shape, made and read with the list scopes, followed accounts added once, all or nothing", async () => {
  const app = await registerApp("read:search write:follows read:lists write:lists");
  const v = randomBytes(32).toString("hex");
  const back = await authorize(app, { challenge: challengeOf(v), scope: "read:search write:follows read:lists write:lists" });
  const token = (await exchange(app, back.searchParams.get("code"), { code_verifier: v })).json().access_token;
  const auth = { authorization: `Bearer ${token}` };
  const cy = far.actor("cy").id; // nobody here follows cy yet
  const acct = (await request(`${h.url}/api/v2/search?q=${encodeURIComponent(cy)}&resolve=true&type=accounts`, { headers: auth })).json().accounts[0];

  let r = await request(`${h.url}/api/v1/lists`, { headers: auth });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json(), [], "no list yet: an empty array");
  r = await post("/api/v1/lists", { title: "" }, auth);
  assert.equal(r.status, 422);
  assert.equal(r.json().error, "Validation failed: Title can't be blank");
  r = await post("/api/v1/lists", { title: "Old friends", replies_policy: "everyone" }, auth);
  assert.equal(r.status, 422, "an unknown replies_policy");
  r = await post("/api/v1/lists", { title: "Old friends", replies_policy: "list" }, auth);
  assert.equal(r.status, 200);
  const list = r.json();
  assert.deepEqual(Object.keys(list).sort(), ["exclusive", "id", "replies_policy", "title"], "Mastodon's List");
  assert.match(list.id, /^\d+$/);
  assert.equal(list.title, "Old friends");
  assert.equal(list.exclusive, false);
  assert.deepEqual((await request(`${h.url}/api/v1/lists`, { headers: auth })).json(), [list]);

  const add = (ids, id = list.id) => post(`/api/v1/lists/${id}/accounts`, ids.map((x) => ["account_ids[]", x]), auth);
  r = await add([acct.id]);
  assert.equal(r.status, 422, "not followed yet");
  assert.equal(r.json().error, "Validation failed: Account must be a followed account");
  r = await request(`${h.url}/api/v1/accounts/${acct.id}/follow`, { method: "POST", headers: auth });
  assert.equal(r.json().requested, true, "a follow request");
  r = await add(["999999"]);
  assert.equal(r.status, 404, "an unknown account");
  r = await add([acct.id], "424242");
  assert.equal(r.status, 404, "an unknown list");
  assert.equal(r.json().error, "Record not found");
  r = await add([acct.id]);
  assert.equal(r.status, 200, "a requested account may go in a list");
  assert.deepEqual(r.json(), {});
  r = await add([acct.id]);
  assert.equal(r.status, 422);
  assert.equal(r.json().error, "Validation failed: Account has already been taken");
  assert.deepEqual(h.mastodon.snapshot().lists.find((l) => l.id === list.id).accounts, [acct.id]);
  r = await request(`${h.url}/api/v1/accounts/${acct.id}/unfollow`, { method: "POST", headers: auth });
  assert.equal(r.status, 200);
  assert.deepEqual(h.mastodon.snapshot().lists.find((l) => l.id === list.id).accounts, [], "an unfollow takes the account out of the list, as Mastodon does");

  // Scopes: a token without the list scopes may neither read nor write lists.
  const narrow = await registerApp("read:search write:follows");
  const nb = await authorize(narrow, {});
  const nt = (await exchange(narrow, nb.searchParams.get("code"))).json().access_token;
  r = await request(`${h.url}/api/v1/lists`, { headers: { authorization: `Bearer ${nt}` } });
  assert.equal(r.status, 403);
  assert.equal(r.json().error, "This action is outside the authorized scopes");
  r = await post("/api/v1/lists", { title: "x" }, { authorization: `Bearer ${nt}` });
  assert.equal(r.status, 403);
  r = await request(`${h.url}/api/v1/lists/${list.id}`, { method: "DELETE", headers: auth });
  assert.equal(r.status, 200);
  assert.deepEqual((await request(`${h.url}/api/v1/lists`, { headers: auth })).json(), [], "deleted");
});

test("scopes are enforced: a read-only token cannot follow", async () => {
  const app = await registerApp("read");
  const back = await authorize(app, { scope: "read" });
  const token = (await exchange(app, back.searchParams.get("code"))).json().access_token;
  const r = await request(`${h.url}/api/v1/accounts/1/follow`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 403);
});

test("verify_credentials: the token's own account as Mastodon's CredentialAccount; scopes; no token, 401", async () => {
  const app = await registerApp("read:accounts read:search write:follows");
  const back = await authorize(app, { scope: "read:accounts read:search write:follows" });
  const token = (await exchange(app, back.searchParams.get("code"))).json().access_token;
  let r = await request(`${h.url}/api/v1/accounts/verify_credentials`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, r.body);
  const me = r.json();
  assert.match(me.id, /^\d+$/);
  assert.equal(me.username, "alice");
  assert.equal(me.acct, "alice", "a local account's acct is its bare username");
  assert.equal(me.uri, h.actor("alice").id, "Mastodon 4.2+ names the ActivityPub id");
  assert.equal(typeof me.url, "string");
  assert.equal(typeof me.source, "object", "a CredentialAccount carries source");
  assert.equal(me.source.privacy, "public");
  assert.equal(typeof me.role, "object");
  assert.match(r.headers["x-ratelimit-remaining"], /^\d+$/);
  // The same account everywhere: search finds it under the same id.
  const found = await request(`${h.url}/api/v2/search?q=${encodeURIComponent(h.actor("alice").id)}&type=accounts`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(found.json().accounts[0].id, me.id);

  h.mastodon.control({ loggedIn: "alice" });
  const narrow = await registerApp("read:search write:follows");
  const nb = await authorize(narrow);
  const nt = (await exchange(narrow, nb.searchParams.get("code"))).json().access_token;
  r = await request(`${h.url}/api/v1/accounts/verify_credentials`, { headers: { authorization: `Bearer ${nt}` } });
  assert.equal(r.status, 403, "read:search write:follows do not show whose token it is");
  assert.equal(r.json().error, "This action is outside the authorized scopes");
  r = await request(`${h.url}/api/v1/accounts/verify_credentials`);
  assert.equal(r.status, 401);
});

test("software pleroma: the Token says whose it is (me), the Account has no uri and its url is the actor id", async () => {
  const r1 = await request(`${pl.url}/api/v1/apps`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form({ client_name: "passerelle", redirect_uris: REDIRECT, scopes: "read:accounts" }) });
  const app = r1.json();
  const q = new URLSearchParams({ response_type: "code", client_id: app.client_id, redirect_uri: REDIRECT, scope: "read:accounts" });
  const back = new URL((await request(`${pl.url}/oauth/authorize?${q}`)).headers.location);
  const t = await request(`${pl.url}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: form({ grant_type: "authorization_code", code: back.searchParams.get("code"), redirect_uri: REDIRECT, client_id: app.client_id, client_secret: app.client_secret }) });
  assert.equal(t.json().me, pl.actor("pia").id);
  const me = (await request(`${pl.url}/api/v1/accounts/verify_credentials`, { headers: { authorization: `Bearer ${t.json().access_token}` } })).json();
  assert.equal(me.username, "pia");
  assert.equal("uri" in me, false);
  assert.equal(me.url, pl.actor("pia").id);
});

test("the consent screen: GET shows the app and scopes with Authorize and Deny forms; POST answers them", async () => {
  const app = await registerApp("read:accounts read:search write:follows");
  const v = b64url(randomBytes(32));
  const q = new URLSearchParams({ response_type: "code", client_id: app.client_id, redirect_uri: REDIRECT, scope: "read:accounts", state: "s1", code_challenge: challengeOf(v), code_challenge_method: "S256" });
  h.mastodon.control({ consentPage: true });
  try {
    const before = h.mastodon.snapshot().authorizations.length;
    const page = await request(`${h.url}/oauth/authorize?${q}`);
    assert.equal(page.status, 200);
    assert.match(page.headers["content-type"], /^text\/html/);
    assert.match(page.body, /<strong>passerelle<\/strong> would like permission to access your account <strong>@alice<\/strong>/);
    assert.match(page.body, /<ul id="scopes"><li>read:accounts<\/li><\/ul>/);
    assert.equal((page.body.match(/<form method="post" action="\/oauth\/authorize">/g) ?? []).length, 2, "Authorize and Deny");
    assert.equal(h.mastodon.snapshot().authorizations.length, before, "showing the screen consents to nothing");
    // Deny: back to the client with access_denied, no code.
    let r = await post("/oauth/authorize", { _method: "delete", ...Object.fromEntries(q) });
    assert.equal(r.status, 302);
    let back = new URL(r.headers.location);
    assert.equal(back.searchParams.get("error"), "access_denied");
    assert.equal(back.searchParams.get("code"), null);
    // Authorize: a code for the logged-in user, bound to the PKCE challenge.
    r = await post("/oauth/authorize", Object.fromEntries(q));
    assert.equal(r.status, 302);
    back = new URL(r.headers.location);
    assert.equal(back.searchParams.get("state"), "s1");
    const t = await exchange(app, back.searchParams.get("code"), { code_verifier: v });
    assert.equal(t.status, 200, t.body);
    assert.equal(t.json().scope, "read:accounts");
    assert.equal(h.mastodon.snapshot().authorizations.length, before + 1);
    // The form's parameters are checked again: a redirect the app does not have is refused.
    r = await post("/oauth/authorize", { ...Object.fromEntries(q), redirect_uri: "https://evil.example/cb" });
    assert.equal(r.status, 400);
  } finally {
    h.mastodon.control({ consentPage: false });
  }
});

test("WebFinger on the actor host: Mastodon's JRD for a known actor, 404 otherwise, 400 without a resource", async () => {
  const r = await request(`${h.url}/.well-known/webfinger?resource=${encodeURIComponent(`acct:alice@${h.domain}`)}`);
  assert.equal(r.status, 200);
  assert.match(r.headers["content-type"], /^application\/jrd\+json/);
  const jrd = r.json();
  assert.equal(jrd.subject, `acct:alice@${h.domain}`);
  assert.deepEqual(jrd.links.find((l) => l.rel === "self"), { rel: "self", type: "application/activity+json", href: h.actor("alice").id });
  assert.equal((await request(`${h.url}/.well-known/webfinger?resource=acct:nobody@${h.domain}`)).status, 404);
  assert.equal((await request(`${h.url}/.well-known/webfinger?resource=acct:alice@other.example`)).status, 404);
  assert.equal((await request(`${h.url}/.well-known/webfinger`)).status, 400);
});
