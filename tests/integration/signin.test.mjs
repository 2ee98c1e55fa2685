// Joining from the web, against the real server and PostgreSQL, with the person's home played by
// an actor host (WebFinger, actors) carrying the Mastodon client-API test double on the same
// origin: the start page's form, WebFinger to the actor, passerelle's app registered once per
// host (scopes for sign-in and follows), PKCE, a state bound to a pre-session cookie, the code
// exchanged and verify_credentials checked against the resolved actor; then the member found
// or made, a page session opened, the grant kept only when the follow scopes were granted.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { member, MEMBER_CONFIG } from "../lib/browser.mjs";
import { request } from "../lib/http.mjs";
import { openSealed, sq } from "../lib/oauthflow.mjs";
import { post, begin, callback, signIn, setCookie } from "../lib/signin.mjs";

let s, h;

setup(async () => {
  // Every sign-in here comes from loopback to one server: the limits (it/signin_limits) are
  // raised so that this file's dozen sign-ins a minute test the flow, not the budget.
  s = await startServer({
    config: { ...MEMBER_CONFIG, follow_poll_ms: "100", signin_per_address: "1000", signin_per_host: "1000" },
  });
  h = await startActorHost({
    actors: ["alice", "bob", "carol", "dora", "erin", "fred"].map((name) => ({ name })),
    mastodon: true,
  });
});
teardown(async () => {
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const memberOf = (name) => s.psql(`SELECT id, acct, host, inbox, lang, autofollow, follow_id IS NOT NULL FROM members WHERE actor_uri = ${sq(h.actor(name).id)}`);
const count = (sql) => s.psql(`SELECT count(*) FROM ${sql}`);
// Everything a refused sign-in must leave as it was.
const written = async () =>
  [await count("members"), await count("sessions"), await count("oauth_grants"), await count("consent_ledger")].join(",");
const state = async (session) => {
  const r = await request(`${s.url}/link/state`, { headers: { cookie: session } });
  assert.equal(r.status, 200, `GET /link/state: ${r.status} ${r.body}`);
  return r.json();
};
const tokenOf = (user) => h.mastodon.snapshot().tokens.filter((t) => t.user === user).at(-1);

test("the start page offers the sign-in form above the status", async () => {
  const r = await request(`${s.url}/`, { headers: { "accept-language": "de-DE,de;q=0.9" } });
  assert.equal(r.status, 200);
  assert.match(r.body, /<form method="post" action="\/signin">/);
  assert.match(r.body, /<input id="address" name="address" type="text"/);
  assert.match(r.body, /<input type="checkbox" name="follows" value="1" id="follows">/);
  assert.match(r.body, /<section class="card signin" id="signin" lang="de">\n<h2>Mit Ihrem Konto beginnen<\/h2>/, "in the browser's language");
  assert.ok(r.body.indexOf('id="signin"') < r.body.indexOf('id="members"'), "the form comes first, the counts below");
  assert.match(r.body, /<dd id="members">\d+<\/dd>/, "the status is still there");
  assert.doesNotMatch(r.headers["content-security-policy"], /form-action/, "the form's redirect to the person's server is not blocked");
});

test("a fediverse address: WebFinger, the app registered, PKCE with read:accounts; the sign-in creates the member", async () => {
  h.mastodon.control({ loggedIn: "alice" });
  const before = h.mastodon.snapshot().authorizations.length;
  const x = await signIn(s, h, "alice", { headers: { "accept-language": "fr-FR" } });
  assert.ok(h.fetches("/.well-known/webfinger").some((r) => new URL(r.target, h.url).searchParams.get("resource") === `acct:alice@${h.domain}`), "WebFinger asked for acct:alice@host");

  const u = x.authorizeUrl;
  assert.equal(`${u.origin}${u.pathname}`, `${h.url}/oauth/authorize`, "the actor's own server authorizes");
  const q = u.searchParams;
  assert.equal(q.get("response_type"), "code");
  assert.equal(q.get("scope"), "read:accounts", "only whose account it is");
  assert.equal(q.get("redirect_uri"), `${s.url}/link/oauth/callback`);
  assert.match(q.get("state"), /^signin\.[0-9a-f]{64}$/);
  assert.match(q.get("code_challenge"), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(q.get("code_challenge_method"), "S256");
  assert.equal(h.mastodon.snapshot().authorizations.length, before + 1, "one consent");

  const apps = h.mastodon.snapshot().apps;
  assert.equal(apps.length, 1);
  assert.deepEqual(apps[0].scopes, ["read:accounts", "read:search", "write:follows", "read:lists", "write:lists"], "one registration for sign-in and follows");
  assert.deepEqual(apps[0].redirectUris, [`${s.url}/link/oauth/callback`]);
  assert.equal(q.get("client_id"), apps[0].clientId);
  const form = new URLSearchParams(h.posts("/oauth/token").at(-1).body);
  assert.equal(form.get("redirect_uri"), `${s.url}/link/oauth/callback`);
  assert.match(form.get("code_verifier"), /^[0-9a-f]{64}$/);
  const asked = h.mastodon.snapshot().requests.filter((r) => r.path === "/api/v1/accounts/verify_credentials");
  assert.equal(asked.at(-1).status, 200, "whose token it is was asked");

  const [id, acct, host, inbox, lang, autofollow, followed] = (await memberOf("alice")).split("|");
  assert.ok(id, "the member exists");
  assert.equal(acct, `alice@${h.domain}`);
  assert.equal(host, h.domain);
  assert.equal(inbox, h.actor("alice").inbox, "the inbox from the actor document");
  assert.equal(lang, "fr", "the start page's language");
  assert.equal(autofollow, "f");
  assert.equal(followed, "f", "not a follower of the bridge account");
  assert.equal(await count(`consent_ledger WHERE member_id = ${id} AND source = 'default'`), "4", "the defaults, in the ledger");
  assert.equal(await count(`oauth_grants WHERE member_id = ${id}`), "0", "no grant without the follow scopes");
  assert.equal(await count("signin_states"), "0", "the state was spent");
  assert.equal(setCookie(x.callback, "passerelle_signin"), "", "the pre-session cookie is cleared");
  assert.equal(x.callback.headers["cache-control"], "no-store");

  const st = await state(x.session);
  assert.equal(st.member, `acct:alice@${h.domain}`, "the session is alice's page");
  const token = tokenOf("alice");
  assert.deepEqual(token.scopes, ["read:accounts"]);
  await eventually(() => tokenOf("alice").revoked, { what: "the read:accounts token revoked at alice's server once used" });
  const log = s.stderr();
  assert.equal(log.includes(token.token), false, "the token is not in the log");
  assert.equal(log.includes(q.get("state").slice(7)), false, "nor the state");
  assert.equal(log.includes(x.presession), false, "nor the pre-session cookie");
});

test("the same person signing in again gets the same member, and the registration is reused", async () => {
  h.mastodon.control({ loggedIn: "alice" });
  const id = (await memberOf("alice")).split("|")[0];
  const x = await signIn(s, h, "@alice"); // with the leading @ people often type
  assert.equal((await memberOf("alice")).split("|")[0], id, "the same row");
  assert.equal(await count(`members WHERE actor_uri = ${sq(h.actor("alice").id)}`), "1");
  assert.equal(await count(`consent_ledger WHERE member_id = ${id}`), "4", "no second set of defaults");
  assert.equal((await state(x.session)).member, `acct:alice@${h.domain}`);
  assert.equal(h.posts("/api/v1/apps").length, 1, "POST /api/v1/apps once for the host");
});

test("a member who joined by following the bridge account signs in to their own row", async () => {
  const joined = await member(s, h, "bob");
  const id = (await memberOf("bob")).split("|")[0];
  const st0 = await state(joined.cookie);
  h.mastodon.control({ loggedIn: "bob" });
  const x = await signIn(s, h, "bob");
  const [id2, , , , , , followed] = (await memberOf("bob")).split("|");
  assert.equal(id2, id, "the same member");
  assert.equal(followed, "t", "still following the bridge account (their Follow kept)");
  assert.equal(await count(`members WHERE actor_uri = ${sq(h.actor("bob").id)}`), "1");
  assert.equal((await state(x.session)).member, st0.member);
});

test("another account signed in on that server: refused with 403, nothing written, its token revoked", async () => {
  h.mastodon.control({ loggedIn: "dora" }); // carol is typed; dora is who the browser is signed in as
  const before = await written();
  const b = await begin(s, h, "carol");
  const cb = await callback(s, b.back.search.slice(1), `passerelle_signin=${b.presession}`);
  assert.equal(cb.status, 403);
  assert.match(cb.headers["content-type"], /^text\/html/);
  assert.match(cb.body, new RegExp(`another account than carol@${h.domain.replace(/[.]/g, "\\.")}`));
  assert.equal(setCookie(cb, "passerelle_link"), undefined, "no session");
  assert.equal(await written(), before, "no member, session, grant or ledger line");
  assert.equal(await memberOf("carol"), "");
  assert.equal(await memberOf("dora"), "");
  await eventually(() => tokenOf("dora")?.revoked, { what: "dora's token revoked at once" });
  assert.equal(await count("signin_states"), "0", "the state is spent all the same");
});

test("a state brought back without its browser's cookie, replayed, expired or refused gets nothing", async () => {
  h.mastodon.control({ loggedIn: "carol" });
  const before = await written();
  // Started in one browser, brought back in another (login CSRF): the other's cookie, or none.
  const one = await begin(s, h, "carol");
  const two = await begin(s, h, "carol");
  let cb = await callback(s, one.back.search.slice(1), `passerelle_signin=${two.presession}`);
  assert.equal(cb.status, 403, "another browser's pre-session cookie");
  assert.match(cb.body, /started in another browser/);
  cb = await callback(s, one.back.search.slice(1), `passerelle_signin=${one.presession}`);
  assert.equal(cb.status, 400, "spent by the refused callback: its own browser cannot use it after");
  assert.match(cb.body, /not valid or was already used/);
  cb = await callback(s, two.back.search.slice(1));
  assert.equal(cb.status, 403, "no cookie at all");
  // A state that worked, replayed.
  const ok = await signIn(s, h, "carol");
  const carolId = (await memberOf("carol")).split("|")[0];
  const sessions = await count("sessions");
  cb = await callback(s, ok.back.search.slice(1), `passerelle_signin=${ok.presession}`);
  assert.equal(cb.status, 400, "a replayed callback");
  assert.equal(setCookie(cb, "passerelle_link"), undefined);
  assert.equal(await count("sessions"), sessions, "no second session");
  // Too late.
  const late = await begin(s, h, "carol");
  await s.psql("UPDATE signin_states SET created_at = now() - interval '20 minutes', expires_at = now() - interval '10 minutes'");
  cb = await callback(s, late.back.search.slice(1), `passerelle_signin=${late.presession}`);
  assert.equal(cb.status, 400);
  assert.match(cb.body, /took too long/);
  // Refused on the person's server.
  h.mastodon.control({ deny: true });
  const denied = await begin(s, h, "carol");
  assert.equal(denied.back.searchParams.get("error"), "access_denied");
  cb = await callback(s, denied.back.search.slice(1), `passerelle_signin=${denied.presession}`);
  assert.equal(cb.status, 403);
  h.mastodon.control({ deny: false });
  // A state that is not ours at all.
  cb = await callback(s, `code=x&state=signin.${"ab".repeat(32)}`, `passerelle_signin=${one.presession}`);
  assert.equal(cb.status, 400);
  assert.equal(await count("signin_states"), "0");
  assert.equal(await count(`members WHERE id <> ${carolId}`), String(Number(before.split(",")[0])), "only carol's one good sign-in made a member");
});

test("follow my former contacts: one consent for both, the grant sealed, autofollow on in the ledger", async () => {
  h.mastodon.control({ loggedIn: "erin" });
  const before = h.mastodon.snapshot().authorizations.length;
  const x = await signIn(s, h, "erin", { follows: true });
  assert.equal(x.authorizeUrl.searchParams.get("scope"), "read:accounts read:search write:follows read:lists write:lists");
  assert.equal(h.mastodon.snapshot().authorizations.length, before + 1, "one authorization did both");
  const [id, , , , , autofollow] = (await memberOf("erin")).split("|");
  assert.equal(autofollow, "t");
  const [gHost, scopes, ct, nonce] = (await s.psql(`SELECT host, scopes, ciphertext, nonce FROM oauth_grants WHERE member_id = ${id}`)).split("|");
  assert.equal(gHost, h.domain);
  assert.equal(scopes, "read:accounts read:search write:follows read:lists write:lists");
  const token = tokenOf("erin");
  assert.equal(openSealed(s, `grant:${id}:${h.domain}`, ct, nonce), token.token, "sealed as the follow grant seals it");
  assert.equal(await s.psql(`SELECT value, source, client_addr IS NOT NULL FROM consent_ledger WHERE member_id = ${id} AND consent = 'autofollow' ORDER BY id DESC LIMIT 1`), "t|page|t");
  const st = await state(x.session);
  assert.equal(st.consents.autofollow, true);
  assert.equal(st.oauth.granted, true, "the page shows the connection");
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(tokenOf("erin").revoked, false, "the kept token is not revoked");
});

test("a Bluesky handle or DID is sent to the Bluesky sign-in; nothing is fetched", async () => {
  const mark = h.mark;
  for (const [typed, handle] of [
    ["alice.bsky.social", "alice.bsky.social"],
    ["@Alice.Example.com", "alice.example.com"],
    ["did:plc:ewvi7nxzyoun6zhxrhs64oiz", "did%3Aplc%3Aewvi7nxzyoun6zhxrhs64oiz"],
  ]) {
    const r = await post(s, typed);
    assert.equal(r.status, 303, typed);
    assert.equal(r.headers.location, `/signin/bluesky/start?handle=${handle}`, typed);
    assert.equal(setCookie(r, "passerelle_signin"), undefined, "no fediverse state for it");
  }
  assert.equal(h.since(mark).length, 0);
});

test("bad input: another site's form, a malformed address, an unknown account; nothing written", async () => {
  const before = await written();
  let r = await post(s, `fred@${h.domain}`, { headers: { origin: "https://evil.example", "sec-fetch-site": "cross-site" } });
  assert.equal(r.status, 403, "cross-site");
  r = await post(s, `fred@${h.domain}`, { headers: { origin: "https://evil.example" } });
  assert.equal(r.status, 403, "another Origin");
  for (const bad of ["fred", "fred@", "fred@host", "a b@c.example", ""]) {
    r = await post(s, bad);
    assert.equal(r.status, 400, JSON.stringify(bad));
    assert.match(r.body, /Type an address such as/);
  }
  r = await request(`${s.url}/signin`, { method: "POST", headers: { "content-type": "application/json", origin: s.url }, body: "{}" });
  assert.equal(r.status, 400, "not a form");
  r = await post(s, `nobody@${h.domain}`);
  assert.equal(r.status, 400, "WebFinger knows no such account");
  assert.match(r.body, new RegExp(`No account nobody@${h.domain.replace(/[.]/g, "\\.")}`));
  r = await post(s, `fred@${h.domain}`, { headers: { "accept-language": "nl" } });
  assert.equal(r.status, 303, "fred himself is fine");
  assert.equal(await written(), before);
});

test("a Pleroma or Akkoma home: the Token's me and the Account without uri are checked the same way", async () => {
  const pl = await startActorHost({ actors: [{ name: "pia" }, { name: "paul" }], mastodon: { software: "pleroma" } });
  try {
    pl.mastodon.control({ loggedIn: "pia" });
    const x = await signIn(s, pl, "pia");
    assert.equal((await state(x.session)).member, `acct:pia@${pl.domain}`);
    const before = await written();
    pl.mastodon.control({ loggedIn: "paul" }); // pia typed, paul signed in there
    const b = await begin(s, pl, "pia");
    const cb = await callback(s, b.back.search.slice(1), `passerelle_signin=${b.presession}`);
    assert.equal(cb.status, 403, "the Token's me names paul");
    assert.equal(await written(), before, "nothing written");
    await eventually(() => pl.mastodon.snapshot().tokens.find((t) => t.user === "paul")?.revoked, { what: "paul's token revoked" });
  } finally {
    await pl.stop();
  }
});
