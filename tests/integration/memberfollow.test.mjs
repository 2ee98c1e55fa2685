// The bridge account's follows of members (memberfollow.c) against the real server and
// PostgreSQL. Servers send a Move to the moving account's followers, so the bridge follows every
// member whose home is on the fediverse, whether they allow relaying or not: a member who joins
// gets a Follow from <base>/users/passerelle (signed with its key), their Accept or Reject is
// recorded, a refusal is not asked again; a Bluesky member is never followed; a Move delivered
// to the bridge account's own inbox is checked by move.c as any other, and the bridge's follow
// goes to the new account; a member who leaves gets the Undo of the bridge's follow. The relay
// actor follows none of them (they did not allow relaying).
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost, signedPost, newId, AS } from "../lib/actorhost.mjs";
import { linkCode, welcomeCode } from "../lib/members.mjs";
import { openLink } from "../lib/linkcode.mjs";
import { request } from "../lib/http.mjs";

let s, O, N; // O: the members' home, N: where one of them moves
const q = async (sql) => (await s.psql(sql)).trim();
const BRIDGE = () => `${s.url}/users/passerelle`;
const ALIASES = {};
const state = (actor) => q(`SELECT bridge_follow_state || ' ' || coalesce(bridge_follow_id, '-') || ' ' || relay_follow_state FROM members WHERE actor_uri = '${actor.id}'`);
const fromBridge = (h, mark, name, type) => h.since(mark).filter((x) => x.method === "POST" && x.path === `/users/${name}/inbox` && x.json?.type === type && x.json.actor === BRIDGE());

setup(async () => {
  O = await startActorHost({ actors: ["ann", "bob", "cid"].map((name) => ({ name })) });
  N = await startActorHost();
  N.addActor({ name: "ann2", document: (doc) => (ALIASES.ann2 ? { ...doc, alsoKnownAs: ALIASES.ann2 } : doc) });
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10, relay_follow_poll_ms: 100, follow_members: "true" } });
});

teardown(async () => {
  for (const h of [O, N]) await h?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

// The bridge's Follow of name, once it arrives: checked, and answered with type (Accept, Reject).
async function followed(name, answer) {
  const a = O.actor(name);
  const rec = await eventually(() => fromBridge(O, 0, name, "Follow")[0], { timeout: 10000, what: `the bridge's Follow of ${name}` });
  assert.equal(rec.json.object, a.id);
  const v = await O.verify(rec);
  assert.equal(v.ok, true, v.reason);
  assert.equal(v.keyId, `${BRIDGE()}#main-key`, "signed with the bridge account's key");
  assert.equal(await state(a), `pending ${rec.json.id} none`);
  if (answer) {
    const r = await signedPost(`${BRIDGE()}/inbox`, { "@context": AS, id: newId(O, "answers"), type: answer, actor: a.id, object: rec.json }, { actor: a });
    assert.equal(r.status, 202, r.body);
  }
  return rec.json;
}

let annFollow;
let annCode;
// What the link page's state says of the bridge's follow (the page explains it when there is one).
const pageSays = async (code) => (await request(`${s.url}/link/state`, { headers: { cookie: await openLink(s, code) } })).json().bridge_follow;

test("a member who joins, relaying off, is followed by the bridge account; their Accept is recorded", async () => {
  annCode = await welcomeCode(s, O, "ann");
  annFollow = await followed("ann", "Accept");
  assert.equal(await state(O.actor("ann")), `accepted ${annFollow.id} none`, "accepted; the relay follows nobody");
  assert.equal(O.since(0).filter((x) => x.json?.actor === `${s.url}/actor`).length, 0, "nothing from the relay actor");
});

test("the welcome message and the link page say why the bridge follows the member, and what removing it does", async () => {
  const welcome = O.since(0).find((x) => x.method === "POST" && x.path === "/users/ann/inbox" && x.body.includes(annCode));
  const text = welcome.json.object.content;
  assert.match(text, /I also follow you back, only to hear it if you move to another account, so that passerelle moves with you/);
  assert.match(text, /you may remove me from your followers \(a move would then go unnoticed\), but unfollowing or blocking me makes passerelle forget you/);
  assert.equal(await pageSays(annCode), "accepted", "the link page's state: the bridge's follow, accepted");
});

test("a Bluesky member is never followed by ActivityPub", async () => {
  await q(`INSERT INTO members (actor_uri, acct, host, network) VALUES ('did:plc:bskymember', 'sky.bsky.social', 'pds.example', 'atproto')`);
  await sleep(600); // several reconciler rounds
  assert.equal(await q(`SELECT bridge_follow_state || ' ' || coalesce(bridge_follow_id, '-') FROM members WHERE actor_uri = 'did:plc:bskymember'`), "none -");
});

test("a refusal (Mastodon's \"remove follower\") is recorded and not asked again", async () => {
  await welcomeCode(s, O, "bob");
  const f = await followed("bob", "Reject");
  assert.equal(await state(O.actor("bob")), `rejected ${f.id} none`);
  await sleep(600);
  assert.equal(fromBridge(O, 0, "bob", "Follow").length, 1, "one Follow only");
  assert.equal(fromBridge(O, 0, "bob", "Undo").length, 0, "and no Undo of a refused one");
  assert.equal(await pageSays(await linkCode(s, O, "bob")), "rejected", "the page knows it was refused (and says nothing of it)");
});

test("a Move delivered to the bridge account's inbox is checked by move.c; the bridge's follow goes to the new account", async () => {
  const a = O.actor("ann");
  const n = N.actor("ann2");
  const mv = (k) => ({ "@context": AS, id: `${a.id}#moves/${k}`, type: "Move", actor: a.id, object: a.id, target: n.id });
  let r = await signedPost(`${BRIDGE()}/inbox`, mv(1), { actor: a });
  assert.equal(r.status, 202, r.body);
  await eventually(() => s.events("move_refused").find((e) => e.reason === "no_also_known_as"), { what: "refused: no alsoKnownAs yet" });
  assert.equal(await state(a), `accepted ${annFollow.id} none`, "nothing changed");

  ALIASES.ann2 = [a.id];
  const oMark = O.mark;
  const nMark = N.mark;
  r = await signedPost(`${BRIDGE()}/inbox`, mv(2), { actor: a });
  assert.equal(r.status, 202, r.body);
  assert.equal(await q(`SELECT count(*) FROM members WHERE actor_uri = '${n.id}'`), "1", "the membership is the new account's");
  const undo = await eventually(() => fromBridge(O, oMark, "ann", "Undo")[0], { what: "the Undo of the bridge's follow of the old account" });
  assert.equal(undo.json.object.id, annFollow.id);
  assert.ok((await O.verify(undo)).ok);
  const follow = await eventually(() => fromBridge(N, nMark, "ann2", "Follow")[0], { what: "the bridge's Follow of the new account" });
  assert.equal(follow.json.object, n.id);
  assert.ok((await N.verify(follow)).ok);
  assert.equal(await state(n), `pending ${follow.json.id} none`);
});

test("a member who leaves gets the Undo of the bridge's follow", async () => {
  const a = O.actor("cid");
  const joinId = newId(O);
  const r0 = await signedPost(`${BRIDGE()}/inbox`, { "@context": AS, id: joinId, type: "Follow", actor: a.id, object: BRIDGE() }, { actor: a });
  assert.equal(r0.status, 202, r0.body);
  const f = await followed("cid", "Accept");
  const mark = O.mark;
  const undo = { "@context": AS, id: newId(O), type: "Undo", actor: a.id, object: { id: joinId, type: "Follow", actor: a.id, object: BRIDGE() } };
  const r = await signedPost(`${BRIDGE()}/inbox`, undo, { actor: a });
  assert.equal(r.status, 202, r.body);
  assert.equal(await q(`SELECT count(*) FROM members WHERE actor_uri = '${a.id}'`), "0", "no longer a member");
  const ours = await eventually(() => fromBridge(O, mark, "cid", "Undo")[0], { what: "the bridge's Undo" });
  assert.equal(ours.json.object.id, f.id);
  assert.equal(ours.json.object.actor, BRIDGE());
  assert.ok((await O.verify(ours)).ok);
  assert.equal(await q("SELECT count(*) FROM relay_unfollows"), "0", "consumed");
});
