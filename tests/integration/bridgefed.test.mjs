// Across the networks through Bridgy Fed (issue 13, items 4 and 6), against the real server and
// PostgreSQL, with a test double of Bridgy Fed (tests/lib/bridgyfed.mjs) as bridge_bsky_domain
// and the Mastodon client-API double as the fediverse member's server. A fediverse member
// whose former X contact is a Bluesky member follows them through their bridged address when
// they are bridged (WebFinger at the bridge, then the ordinary follow worker: search with
// resolve, follow), and is told where to find them on Bluesky when they are not; a bridge
// answer naming another DID is no bridge. Old X handles of Bluesky members answer a stand-in
// whose movedTo is their Bridgy Fed actor when bridged, and whose url and summary link their
// Bluesky profile otherwise; a member who stops being bridged loses the movedTo.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { startBridgyFed } from "../lib/bridgyfed.mjs";
import { MEMBER_CONFIG } from "../lib/browser.mjs";
import { get, request } from "../lib/http.mjs";
import { connect, linkedMember, sq } from "../lib/oauthflow.mjs";
import { sqlSession } from "../lib/linkcode.mjs";

let s, h, b;
const M = {}; // name -> {id, xId, ...}

// Bluesky members: DID, handle, and whether Bridgy Fed bridges them (and as which DID).
const SKY = {
  bob: { did: "did:plc:bobbobbobbobbobbobbobbob", handle: "bob.bsky.test", bridgeAs: "did:plc:bobbobbobbobbobbobbobbob" },
  carol: { did: "did:plc:carolcarolcarolcarolcaro", handle: "carol.bsky.test", bridgeAs: null },
  dave: { did: "did:plc:davedavedavedavedavedave", handle: "dave.bsky.test", bridgeAs: "did:plc:someoneelsesomeoneelsesom" },
};

setup(async () => {
  [h, b] = await Promise.all([startActorHost({ actors: [{ name: "alice" }], mastodon: true }), startBridgyFed()]);
  s = await startServer({
    config: {
      ...MEMBER_CONFIG,
      bridge_bsky_domain: b.domain,
      bridge_poll_ms: "50",
      match_poll_ms: "50",
      follow_poll_ms: "50",
      notice_poll_ms: "100",
    },
  });
  for (const [name, p] of Object.entries(SKY)) {
    if (p.bridgeAs) b.bridge(p.handle, p.bridgeAs);
    const xId = String(8800000000 + Object.keys(M).length);
    const id = await s.psql(
      `INSERT INTO members (network, actor_uri, acct, host, x_id, x_handle, state, linked_at, findable, notify)
       VALUES ('atproto', ${sq(p.did)}, ${sq(p.handle)}, 'pds.test', ${xId}, ${sq(`${name}_x`)}, 'linked', now() - interval '2 days', true, false)
       RETURNING id`,
    );
    M[name] = { id, xId, ...p };
  }
  // alice, at home on the Mastodon double, with autofollow and her server connected.
  M.alice = await linkedMember(s, { actor: h.actor("alice").id, acct: `alice@${h.domain}`, host: h.domain });
  await s.psql(`UPDATE members SET inbox = ${sq(h.actor("alice").inbox)}, x_handle = 'alice_x' WHERE id = ${M.alice.id}`);
  const session = await sqlSession(s, M.alice.id);
  h.mastodon.control({ loggedIn: "alice" });
  assert.equal((await connect(s, session)).result, "granted");
  // alice followed bob, carol and dave on X (her own archive says so); then she is matched.
  for (const name of ["bob", "carol", "dave"]) await s.psql(`INSERT INTO x_edges VALUES (${M.alice.xId}, ${M[name].xId}, ${M.alice.id})`);
  await s.psql(`UPDATE members SET match_due_at = now() WHERE id = ${M.alice.id}`);
});
teardown(async () => {
  await h?.stop();
  await b?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const q = async (sql) => (await s.psql(sql)).trim();
const pair = (follower, followee) =>
  q(`SELECT method || ' ' || state FROM follow_actions WHERE follower_id = ${M[follower].id} AND followee_id = ${M[followee].id}`);
const bridgedOf = (name) => q(`SELECT coalesce(bridged_id, '-') || ' ' || coalesce(bridged_handle, '-') || ' ' || (bridge_checked_at IS NOT NULL) FROM members WHERE id = ${M[name].id}`);
const host = () => new URL(s.url).host;
const wf = (handle) => get(`${s.url}/.well-known/webfinger?resource=${encodeURIComponent(`acct:${handle}@${host()}`)}`);
const standin = (name, accept = "application/activity+json") => get(`${s.url}/x/${M[name].xId}`, { accept });

test("the bridge is asked for the Bluesky contacts of a fediverse member: bridged, not bridged, or another DID's", async () => {
  await eventually(async () => (await bridgedOf("carol")).endsWith(" true") && (await bridgedOf("dave")).endsWith(" true") && (await bridgedOf("bob")).endsWith(" true"), {
    timeout: 10000,
    what: "bob, carol and dave looked up",
  });
  assert.equal(await bridgedOf("bob"), `${b.actorId(SKY.bob.did)} bob.bsky.test@${b.domain} true`, "bob is bridged: his Bridgy Fed actor and address");
  assert.equal(await bridgedOf("carol"), "- - true", "carol is not bridged");
  assert.equal(await bridgedOf("dave"), "- - true", "the bridge's answer for dave's handle names another DID: not dave");
  const asked = b.requests.filter((r) => r.path === "/.well-known/webfinger").map((r) => new URL(r.target, b.url).searchParams.get("resource"));
  for (const name of ["bob", "carol", "dave"]) assert.ok(asked.includes(`acct:${SKY[name].handle}@${b.domain}`), `WebFinger acct:${SKY[name].handle}@${b.domain}`);
  assert.equal(await q(`SELECT count(*) FROM bridge_due`), "0", "nothing left to look up");
  assert.equal(await q(`SELECT bridge_checked_at IS NULL FROM members WHERE id = ${M.alice.id}`), "t", "the follower is not looked up: nobody follows her across");
});

test("a bridged Bluesky contact is followed through the member's own server, as the bridge's actor", async () => {
  await eventually(async () => (await pair("alice", "bob")) === "api done", { timeout: 10000, what: "alice follows bob through the bridge" });
  const follows = h.mastodon.snapshot().follows.filter((f) => f.user === "alice");
  assert.deepEqual(follows.map((f) => f.actorId), [b.actorId(SKY.bob.did)], "her server followed bob's Bridgy Fed actor, and nobody else");
  const searches = h.mastodon.snapshot().searches.filter((x) => x.user === "alice");
  assert.ok(searches.every((x) => x.q === b.actorId(SKY.bob.did) && x.resolve), "searched with resolve for the bridged actor");
  assert.ok(b.requests.some((r) => r.path === `/ap/${SKY.bob.did}`), "her server fetched the bridged actor from the bridge");
  assert.equal(await pair("alice", "carol"), "notice planned", "carol, not bridged: a notice, no follow");
  assert.equal(await pair("alice", "dave"), "notice planned", "dave, whose handle the bridge gives another DID: a notice, no follow");
});

test("the pages say which follows went through Bridgy Fed, both ways", async () => {
  // bob's own archive says alice followed him: she is one of his found followers.
  await s.psql(`INSERT INTO x_edges VALUES (${M.alice.xId}, ${M.bob.xId}, ${M.bob.id}); UPDATE members SET match_due_at = now() WHERE id = ${M.bob.id}`);
  const list = async (name, dir) => {
    const r = await request(`${s.url}/link/contacts?dir=${dir}`, { headers: { cookie: (await sqlSession(s, M[name].id)).cookie } });
    assert.equal(r.status, 200, r.body);
    return Object.fromEntries(r.json().contacts.map((c) => [c.handle, c]));
  };
  const mine = await list("alice", "following");
  assert.equal(mine.bob_x.status, "followed");
  assert.equal(mine.bob_x.bridged, true, "alice followed bob through his bridged actor");
  assert.equal(mine.carol_x.bridged, false, "carol, not bridged: not followed, no label");
  const his = await eventually(async () => (await list("bob", "followers")).alice_x, { timeout: 10000, what: "alice among bob's found followers" });
  assert.equal(his.status, "follows_you");
  assert.equal(his.bridged, true, "bob's page: alice follows him through Bridgy Fed");
});

test("the notice says where a contact without a bridge is: their Bluesky profile", async () => {
  const notice = await eventually(
    () => h.posts("/users/alice/inbox").map((r) => JSON.parse(r.body).object?.content ?? "").find((c) => c.includes("carol")),
    { timeout: 10000, what: "alice's notice" },
  );
  assert.match(notice, /@carol_x on X is @carol\.bsky\.test now\. They are on Bluesky, not bridged to the fediverse yet: <a href="https:\/\/bsky\.app\/profile\/carol\.bsky\.test"/);
  assert.match(notice, new RegExp(`@bob_x on X is @bob\\.bsky\\.test@${b.domain.replace(/\./g, "\\.")} now`), "bob is named by his bridged address");
  assert.doesNotMatch(notice, /authorize_interaction\?uri=did/, "no follow link to a DID");
});

test("stand-ins of Bluesky members: movedTo the Bridgy Fed actor when bridged, the Bluesky profile otherwise", async () => {
  const bobJrd = await wf("bob_x");
  assert.equal(bobJrd.status, 200, bobJrd.body);
  assert.deepEqual(bobJrd.json().aliases, [b.actorId(SKY.bob.did)], "WebFinger: bob's alias is his bridged actor");
  const bob = await standin("bob");
  assert.equal(bob.status, 200);
  assert.equal(bob.json().movedTo, b.actorId(SKY.bob.did), "movedTo the Bridgy Fed actor");
  assert.deepEqual(bob.json().alsoKnownAs, [b.actorId(SKY.bob.did)]);
  assert.match(bob.json().summary, /href="https:\/\/bsky\.app\/profile\/bob\.bsky\.test"/, "the summary links his Bluesky profile");

  const carolJrd = await wf("carol_x");
  assert.equal(carolJrd.status, 200, carolJrd.body);
  assert.deepEqual(carolJrd.json().aliases, ["https://bsky.app/profile/carol.bsky.test"], "WebFinger: carol's alias is her profile");
  assert.ok(carolJrd.json().links.some((l) => l.rel === "http://webfinger.net/rel/profile-page" && l.href === "https://bsky.app/profile/carol.bsky.test"));
  const carol = await standin("carol");
  assert.equal(carol.status, 200);
  assert.equal(carol.json().movedTo, undefined, "not bridged: nothing on the fediverse to move to");
  assert.equal(carol.json().url, "https://bsky.app/profile/carol.bsky.test", "url: her Bluesky profile");
  assert.match(carol.json().summary, /left X for Bluesky and is now <a href="https:\/\/bsky\.app\/profile\/carol\.bsky\.test">@carol\.bsky\.test<\/a>/);
  const page = await standin("carol", "text/html");
  assert.equal(page.status, 302);
  assert.equal(page.headers.location, "https://bsky.app/profile/carol.bsky.test", "a browser is sent to her profile");
});

test("a member who stops being bridged is looked up again a day later and loses the movedTo", async () => {
  b.unbridge(SKY.bob.handle);
  await s.psql(`UPDATE members SET bridge_checked_at = now() - interval '25 hours' WHERE id = ${M.bob.id}`);
  await s.psql(`UPDATE members SET match_due_at = now() WHERE id = ${M.alice.id}`);
  await eventually(async () => (await bridgedOf("bob")) === "- - true", { timeout: 10000, what: "bob looked up again" });
  const bob = await standin("bob");
  assert.equal(bob.json().movedTo, undefined, "no movedTo once unbridged");
  assert.equal(bob.json().url, "https://bsky.app/profile/bob.bsky.test");
  assert.equal(await pair("alice", "bob"), "api done", "a follow made stays done");
});

test("a Bluesky member with autofollow: 'atproto' toward a Bluesky contact, a notice toward a fediverse one without a bridge", async () => {
  const xId = "8800000099";
  const id = await s.psql(
    `INSERT INTO members (network, actor_uri, acct, host, x_id, x_handle, state, linked_at, findable, notify, autofollow)
     VALUES ('atproto', 'did:plc:erinerinerinerinerinerin', 'erin.bsky.test', 'pds.test', ${xId}, 'erin_x', 'linked', now() - interval '2 days', true, false, true)
     RETURNING id`,
  );
  M.erin = { id, xId };
  for (const name of ["carol", "alice"]) await s.psql(`INSERT INTO x_edges VALUES (${xId}, ${M[name].xId}, ${id})`);
  await s.psql(`UPDATE members SET match_due_at = now() WHERE id = ${id}`);
  await eventually(async () => (await pair("erin", "alice")) !== "" && (await pair("erin", "carol")) !== "", { timeout: 10000, what: "erin matched" });
  assert.equal(await pair("erin", "carol"), "atproto planned", "Bluesky to Bluesky: written in her repository");
  assert.equal(await pair("erin", "alice"), "notice planned", "toward the fediverse without a bridged identity: told, not followed");
  assert.equal(await q(`SELECT next_attempt_at IS NOT NULL FROM follow_actions WHERE follower_id = ${id} AND followee_id = ${M.carol.id}`), "t", "due for the Bluesky follow worker");
});
