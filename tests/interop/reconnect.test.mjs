// Reconnection end to end with Fedify accounts on loopback, each at home on its own
// "instance" that also serves the Mastodon client API (the test double of tests/lib/
// mastodon-api.mjs mounted in tests/interop/peer.mjs): they follow the bridge, open their
// one-time link, upload generated X archives that follow each other, choose their consents
// and connect their server through the real OAuth flow. Then the matcher plans, the worker
// searches and follows through each member's server, and that server sends a real signed
// Follow which the followee's Fedify inbox verifies; a member without autofollow is told by
// direct message instead, with a link that opens the follow on their own server. Follows
// toward a new claim are held (follow_hold_hours, 24 by default): a rival claim in that time
// leaves nothing. A pair where one side did not consent gets nothing, and a revoked grant
// stops the follows still pending.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startPeer } from "../lib/peer.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { joinMember, linkArchive, setConsents } from "../lib/members.mjs";
import { connect, sq } from "../lib/oauthflow.mjs";
import { request } from "../lib/http.mjs";
import { openLink } from "../lib/linkcode.mjs";

// X account ids, and who followed whom on X.
const X = { ana: "101", ben: "102", cleo: "103", dan: "104", eve: "105", fay: "106" };
const FOLLOWING = {
  ana: ["ben", "cleo", "dan", "eve"],
  ben: ["ana"],
  cleo: ["ana"],
  dan: ["ana"],
  eve: ["ana"],
  fay: ["ana"],
};
const followersOf = (name) => Object.keys(FOLLOWING).filter((k) => FOLLOWING[k].includes(name));

let s, h;
const P = {}; // Fedify peers with their own Mastodon API: ana, ben, cleo, fay
const M = {}; // members: {id, cookie, csrf, actor}

setup(async () => {
  s = await startServer({
    config: {
      allow_private_fetch: "true",
      queue_poll_ms: "100",
      queue_backoff_unit_ms: "10",
      follow_poll_ms: "100",
      match_poll_ms: "100",
      notice_poll_ms: "200",
    },
  });
  const [ana, ben, cleo, fay, host] = await Promise.all([
    startPeer({ user: "ana", mastodon: true }),
    startPeer({ user: "ben", mastodon: true, firstKnock: "rfc9421" }),
    startPeer({ user: "cleo", mastodon: true }),
    startPeer({ user: "fay", mastodon: true }),
    // dan, and eve and mallory who claim the same X account, need no server of their own.
    startActorHost({ actors: [{ name: "dan" }, { name: "eve" }, { name: "mallory" }] }),
  ]);
  Object.assign(P, { ana, ben, cleo, fay });
  h = host;
});
teardown(async () => {
  await Promise.all(Object.values(P).map((p) => p.stop()));
  await h?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const bridgeId = () => `${s.url}/users/passerelle`;

// A Fedify account follows the bridge, gets the welcome message, opens its link.
async function joinPeer(name) {
  const p = P[name];
  const seen = (await p.events()).length;
  const sent = await p.send(`${bridgeId()}/inbox`, { type: "Follow", object: bridgeId() }, bridgeId());
  assert.equal(sent.ok, true, sent.error);
  const dm = await eventually(
    async () => (await p.events()).slice(seen).find((e) => e.type === "Create" && e.actor === bridgeId() && /\/link\/[0-9a-f]{32}/.test(e.raw?.object?.content ?? "")),
    { timeout: 10000, what: `the welcome message to ${name}` },
  );
  const code = /\/link\/([0-9a-f]{32})/.exec(dm.raw.object.content)[1];
  const cookie = await openLink(s, code);
  const st = await request(`${s.url}/link/state`, { headers: { cookie } });
  assert.equal(st.status, 200, st.body);
  const id = await s.psql(`SELECT id FROM members WHERE actor_uri = ${sq(p.actorId)}`);
  return { name, id, cookie, csrf: st.json().csrf, actor: { id: p.actorId } };
}

const xIds = (names) => names.map((n) => X[n]);
const upload = (name, xName = name) =>
  linkArchive(s, M[name], { xId: X[xName], username: `${xName}_x`, following: xIds(FOLLOWING[xName]), followers: xIds(followersOf(xName)) });

const pair = (a, b) =>
  s.psql(`SELECT method || ' ' || state FROM follow_actions WHERE follower_id = ${M[a].id} AND followee_id = ${M[b].id}`);
const followsAt = async (peer, from) => (await peer.events()).filter((e) => e.type === "Follow" && e.actor === P[from].actorId && e.object === peer.actorId);
const notices = async (name) => (await P[name].events()).filter((e) => e.type === "Create" && e.actor === bridgeId() && /fediverse now|fédivers maintenant/.test(e.raw?.object?.content ?? ""));

test("everyone joins, links an archive, chooses; those with autofollow connect their server", async () => {
  for (const n of ["ana", "ben", "cleo", "fay"]) M[n] = await joinPeer(n);
  for (const n of ["dan", "eve", "mallory"]) M[n] = await joinMember(s, h, n);
  // Consents: ana, ben and fay let passerelle follow for them; cleo only wants to be told;
  // dan wants nothing at all.
  for (const n of ["ana", "ben", "fay"]) await setConsents(s, M[n], { autofollow: true, findable: true, notify: true });
  await setConsents(s, M.cleo, { autofollow: false, findable: true, notify: true });
  await setConsents(s, M.dan, { autofollow: false, findable: false, notify: false });
  for (const n of ["ana", "ben", "fay"]) {
    await P[n].mastodonControl({ loggedIn: n });
    const r = await connect(s, M[n]);
    assert.equal(r.result, "granted", `${n} connected their server`);
  }
  // fay's server is having a bad day: every search fails until the test says otherwise.
  await P.fay.mastodonControl({ failNext: [{ path: "^/api/v2/search$", status: 503, times: 100000 }] });
  for (const n of ["ana", "ben", "cleo", "dan", "fay", "eve"]) {
    const r = await upload(n);
    assert.equal(r.status, 200, `${n}: ${r.body}`);
  }
});

test("follows toward new claims are held; a rival claim meanwhile leaves nothing to follow", async () => {
  await eventually(async () => (await pair("ana", "eve")) === "api held", { timeout: 10000, what: "ana -> eve held" });
  for (const [a, b] of [["ana", "ben"], ["ana", "cleo"], ["ben", "ana"], ["fay", "ana"]]) {
    await eventually(async () => (await pair(a, b)) === "api held", { timeout: 10000, what: `${a} -> ${b} held` });
  }
  const held = Number(await s.psql(`SELECT extract(epoch FROM hold_until - now()) FROM follow_actions WHERE follower_id = ${M.ana.id} AND followee_id = ${M.eve.id}`));
  assert.ok(held > 23 * 3600 && held <= 24 * 3600, `held 24 hours from eve's claim (${held} s)`);
  const r = await upload("mallory", "eve"); // mallory claims eve's X account too
  assert.equal(r.status, 409, r.body);
  await eventually(async () => (await pair("ana", "eve")) === "api undone", { timeout: 10000, what: "the held follow toward eve undone" });
  assert.equal((await followsAt(P.ana, "ben")).length + (await followsAt(P.ben, "ana")).length, 0, "nothing followed during the hold");
  // A day passes for the claims nobody disputed (the test moves their rows' clock).
  await s.psql("UPDATE follow_actions SET hold_until = now() - interval '1 second', next_attempt_at = now() WHERE state = 'held'");
});

test("both said yes: followed through their own servers, real Follows verified by Fedify", async () => {
  const ab = await eventually(async () => (await followsAt(P.ben, "ana"))[0], { timeout: 20000, what: "ana's Follow at ben's inbox" });
  const ac = await eventually(async () => (await followsAt(P.cleo, "ana"))[0], { timeout: 20000, what: "ana's Follow at cleo's inbox" });
  const ba = await eventually(async () => (await followsAt(P.ana, "ben"))[0], { timeout: 20000, what: "ben's Follow at ana's inbox" });
  for (const ev of [ab, ac, ba]) {
    assert.ok(ev.sig, "Fedify verified the HTTP signature of the Follow");
    assert.equal(new URL(ev.id).origin, new URL(ev.actor).origin, "sent by the follower's own server");
  }
  for (const [a, b] of [["ana", "ben"], ["ana", "cleo"], ["ben", "ana"]]) {
    await eventually(async () => (await pair(a, b)) === "api done", { timeout: 5000, what: `${a} -> ${b} done` });
  }
  // The searches went through each member's own server, with resolve.
  const searches = (await P.ana.mastodon()).searches.map((x) => x.q).sort();
  assert.deepEqual(searches, [P.ben.actorId, P.cleo.actorId].sort(), "ana's server searched exactly ben and cleo");
  assert.ok((await P.ana.mastodon()).searches.every((x) => x.resolve === true));
});

test("cleo did not choose autofollow: a direct message with a link that opens the follow on her server", async () => {
  const n = await eventually(async () => (await notices("cleo"))[0], { timeout: 20000, what: "cleo's notice" });
  const html = n.raw.object.content;
  assert.ok(html.includes(`${P.cleo.url}/authorize_interaction?uri=${encodeURIComponent(P.ana.actorId)}`), `the follow link on cleo's own server: ${html}`);
  assert.ok(html.includes(`ana@${new URL(P.ana.url).host}`), "ana's new handle");
  assert.equal((await followsAt(P.ana, "cleo")).length, 0, "no Follow in cleo's name");
  assert.equal((await P.cleo.mastodon()).searches.length, 0, "cleo's server was never asked");
  assert.equal(await pair("cleo", "ana"), "notice held", "a notice row keeps its state: nothing is done in cleo's name");
});

test("no consent on one side, or a disputed claim: nothing at all", async () => {
  await sleep(500); // one more round of matching, following and notices
  assert.equal(await pair("ana", "dan"), "", "dan is not findable: no row toward him");
  assert.equal(await pair("ana", "eve"), "api undone", "eve's X account is disputed");
  assert.equal(await pair("ana", "mallory"), "", "mallory's claim never counted");
  const askedFor = (await P.ana.mastodon()).searches.map((x) => x.q);
  for (const n of ["dan", "eve", "mallory"]) {
    assert.equal(askedFor.includes(h.actor(n).id), false, `ana's server never looked ${n} up`);
    // The bridge account follows every member (to hear their Move); no other Follow reaches them.
    assert.equal(h.posts(`/users/${n}/inbox`).filter((r) => r.json?.type === "Follow" && r.json.actor !== `${s.url}/users/passerelle`).length, 0, `no Follow reached ${n}`);
  }
  // dan wanted nothing: no notice about the people found; ana's notices never name dan or
  // mallory (eve may be named as a held claim, with how to report it).
  assert.equal(h.posts("/users/dan/inbox").filter((r) => /fediverse now/.test(r.body)).length, 0);
  const told = (await notices("ana")).map((ev) => ev.raw.object.content).join("\n");
  assert.ok(told.includes(`ben@${new URL(P.ben.url).host}`), "ana was told about ben");
  for (const n of ["dan", "mallory"]) assert.equal(told.includes(`${n}@`), false, `ana's notices do not name ${n}`);
  if (told.includes("eve@")) assert.match(told, /@eve_x on X is claimed by @eve@\S+, who arrived recently\..*If that is not the person you knew, send &quot;report @eve@/);
  for (const n of ["dan", "eve", "mallory"]) {
    assert.equal(await s.psql(`SELECT count(*) FROM follow_actions WHERE follower_id = ${M[n].id} AND state = 'done'`), "0", `nothing done in ${n}'s name`);
  }
});

test("fay revokes while her follow is still pending: it is never made", async () => {
  await eventually(async () => (await P.fay.mastodon()).searches.length === 0 && (await s.psql(`SELECT attempts > 0 FROM follow_actions WHERE follower_id = ${M.fay.id}`)) === "t", { timeout: 10000, what: "fay's follow tried and pending" });
  assert.equal(await pair("fay", "ana"), "api held", "tried, failing, still pending");
  const r = await request(`${s.url}/link/oauth/revoke`, { method: "POST", headers: { cookie: M.fay.cookie, "x-csrf-token": M.fay.csrf, "content-type": "application/json" }, body: "{}" });
  assert.equal(r.status, 200, r.body);
  await eventually(async () => (await P.fay.mastodon()).tokens.every((t) => t.revoked), { what: "fay's server revoked the token" });
  await P.fay.mastodonControl({ clearFailNext: true });
  await s.psql(`UPDATE follow_actions SET next_attempt_at = now() WHERE follower_id = ${M.fay.id}`);
  await sleep(1000);
  assert.equal((await followsAt(P.ana, "fay")).length, 0, "no Follow from fay ever reached ana");
  assert.equal((await P.fay.mastodon()).sentFollows.length, 0);
  assert.equal(await pair("fay", "ana"), "api held", "the pair waits for a new grant");
});

test("each pair once: nothing is followed twice", async () => {
  await sleep(500);
  assert.equal((await followsAt(P.ben, "ana")).length, 1);
  assert.equal((await followsAt(P.cleo, "ana")).length, 1);
  assert.equal((await followsAt(P.ana, "ben")).length, 1);
  assert.equal((await P.ana.mastodon()).follows.length, 2);
  assert.equal((await P.ben.mastodon()).follows.length, 1);
});
