// Joining from the web with Fedify (issue 14, item 1): the person's home is a Fedify instance,
// whose own WebFinger and actor document passerelle reads (not our test code's), with the
// Mastodon client-API test double on the same origin for OAuth. The sign-in makes the member
// from Fedify's actor (acct, inbox); the same account joining by a Follow that Fedify signs is
// the same member; with the follow scopes the grant is kept and autofollow is on.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startPeer } from "../lib/peer.mjs";
import { sq } from "../lib/oauthflow.mjs";
import { request } from "../lib/http.mjs";
import { signIn } from "../lib/signin.mjs";

let s, dora;

setup(async () => {
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100 } });
  dora = await startPeer({ user: "dora", mastodon: true, firstKnock: "rfc9421" });
  await dora.mastodonControl({ loggedIn: "dora" });
});
teardown(async () => {
  await dora?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const row = () => s.psql(`SELECT id, acct, inbox, autofollow, follow_id IS NOT NULL FROM members WHERE actor_uri = ${sq(dora.actorId)}`);

test("signing in resolves Fedify's WebFinger and actor, and makes the member", async () => {
  const wf = await request(`${dora.url}/.well-known/webfinger?resource=acct:dora@127.0.0.1:${dora.port}`);
  assert.equal(wf.status, 200, wf.body);
  const self = wf.json().links.find((l) => l.rel === "self");
  assert.equal(self.href, dora.actorId, "Fedify's JRD names the actor");
  const x = await signIn(s, dora, "dora", { follows: true });
  assert.equal(x.authorizeUrl.origin, dora.url, "authorized on Fedify's origin");
  const [id, acct, inbox, autofollow, followed] = (await row()).split("|");
  assert.ok(id);
  assert.equal(acct, `dora@127.0.0.1:${dora.port}`);
  const actor = (await request(dora.actorId, { headers: { accept: "application/activity+json" } })).json();
  assert.equal(inbox, actor.inbox, "the inbox from Fedify's actor document");
  assert.equal(autofollow, "t");
  assert.equal(followed, "f");
  assert.equal(await s.psql(`SELECT count(*) FROM oauth_grants WHERE member_id = ${id}`), "1", "the grant is kept");
  const st = await request(`${s.url}/link/state`, { headers: { cookie: x.session } });
  assert.equal(st.json().member, `acct:dora@127.0.0.1:${dora.port}`);
});

test("the same account then follows the bridge account (signed by Fedify): still one member", async () => {
  const id = (await row()).split("|")[0];
  const r = await dora.send(`${s.url}/users/passerelle/inbox`, { type: "Follow", object: `${s.url}/users/passerelle` }, `${s.url}/users/passerelle`);
  assert.ok(r.ok, r.error);
  await eventually(async () => (await row()).split("|")[4] === "t", { what: "the Follow recorded on the same row" });
  assert.equal((await row()).split("|")[0], id);
  assert.equal(await s.psql(`SELECT count(*) FROM members WHERE actor_uri = ${sq(dora.actorId)}`), "1");
});
