// The targeted relay (issue 5, item 6) against the real server and PostgreSQL: the relay actor
// follows a member once they allow relaying (and undoes it when they stop, pause or leave);
// their public posts are announced, once, by the relay actor to exactly the subscribed
// instances that host a member who followed them on X: never to the post's origin, to an
// unsubscribed or blocked instance, or for a member who only followed the other way or whose
// claim is disputed; never a followers-only, direct or unlisted post, a boost, or someone
// else's object. Every Announce and Follow is verified here with the key the server publishes.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost, signedPost, PUBLIC, AS } from "../lib/actorhost.mjs";

let s;
const h = {}; // actor hosts by letter
// m: home of carol (who posts) and mike (her follower; the origin is never announced to)
// a: alice follows carol on X          -> gets the Announces
// b: bob is followed by carol (only)   -> nothing (carol's own archive also lists bob among
//    her followers: what her archive says of her followers targets nobody)
// c: no members                        -> nothing
// d: dave follows carol, not subscribed -> nothing
// e: edna follows carol, instance blocked -> nothing
// f: fay follows carol, claim disputed -> nothing
const MEMBERS = [
  // id, host, name, x id, state
  [1, "m", "carol", 2001, "linked"],
  [2, "a", "alice", 2002, "linked"],
  [3, "b", "bob", 2003, "linked"],
  [4, "m", "mike", 2004, "linked"],
  [5, "d", "dave", 2005, "linked"],
  [6, "e", "edna", 2006, "linked"],
  [7, "f", "fay", 2007, "disputed"],
];
// follower, followee, and the member whose archive said it
const EDGES = [
  [2002, 2001, 2],
  [2004, 2001, 4],
  [2005, 2001, 5],
  [2006, 2001, 6],
  [2007, 2001, 7],
  [2001, 2003, 1],
  [2003, 2001, 1],
];

setup(async () => {
  for (const k of ["m", "a", "b", "c", "d", "e", "f"]) {
    const names = MEMBERS.filter((m) => m[1] === k).map((m) => ({ name: m[2] }));
    h[k] = await startActorHost({ actors: [{ name: "admin", type: "Application" }, ...names] });
  }
  s = await startServer({
    config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10, relay_follow_poll_ms: 100, follow_members: "true" },
  });
  // Subscriptions, as each admin makes them: a signed Follow of as:Public.
  for (const k of ["m", "a", "b", "c", "e", "f"]) {
    const admin = h[k].actor("admin");
    const r = await signedPost(`${s.url}/inbox`, { "@context": AS, id: `${h[k].url}/follows/${crypto.randomUUID()}`, type: "Follow", actor: admin.id, object: PUBLIC }, { actor: admin });
    assert.equal(r.status, 202, `subscription of ${k}: ${r.body}`);
  }
  await s.psql(`UPDATE instances SET blocked = true WHERE domain = '${h.e.domain}'`);
  // Members as the link page leaves them.
  const rows = MEMBERS.map(([id, k, name, xid, state]) => {
    const a = h[k].actor(name);
    return `(${id}, '${a.id}', '${name}@${h[k].domain}', '${h[k].domain}', '${a.inbox}', ${xid}, '${name}_x', '${state}', now())`;
  });
  await s.psql(
    `INSERT INTO members (id, actor_uri, acct, host, inbox, x_id, x_handle, state, linked_at) VALUES ${rows.join(", ")};` +
      `INSERT INTO x_edges (follower_x_id, followee_x_id, member_id) VALUES ${EDGES.map(([f, e, by]) => `(${f}, ${e}, ${by})`).join(", ")}`,
  );
  await drained();
});

teardown(async () => {
  for (const x of Object.values(h)) await x.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const relayId = () => `${s.url}/actor`;
const carol = () => h.m.actor("carol");
const drained = () =>
  eventually(async () => (await s.psql("SELECT count(*) FROM deliveries WHERE state = 'pending'")) === "0", { timeout: 10000, what: "the queue to drain" });
const member = async (id) => JSON.parse(await s.psql(`SELECT row_to_json(m) FROM (SELECT relay, paused, relay_follow_id, relay_follow_state FROM members WHERE id = ${id}) m`));
const marks = () => Object.fromEntries(Object.entries(h).map(([k, x]) => [k, x.mark]));
// The relay actor's POSTs of type since the marks, per host letter (the bridge account follows
// every member too, to hear their Move: memberfollow.c; its activities are not the relay's).
const byRelay = (r) => r.method === "POST" && r.json?.actor === relayId();
function received(since, type) {
  const out = {};
  for (const [k, x] of Object.entries(h)) {
    const got = x.since(since[k]).filter((r) => byRelay(r) && r.json?.type === type);
    if (got.length) out[k] = got;
  }
  return out;
}

function note(actor, { to = [PUBLIC], cc = [`${actor.id}/followers`], type = "Note", objectId, attributedTo = actor.id } = {}) {
  const base = actor.id.replace(/\/users\/.*$/, "");
  return {
    "@context": AS,
    id: `${base}/activities/${crypto.randomUUID()}`,
    type: "Create",
    actor: actor.id,
    to,
    cc,
    object: { id: objectId ?? `${base}/notes/${crypto.randomUUID()}`, type, attributedTo, content: "<p>hello</p>", to, cc },
  };
}
const post = (actor, activity) => signedPost(`${s.url}/inbox`, activity, { actor });

// The relay's Follow reaches carol, signed by the relay; carol accepts it.
async function followedAndAccepted(since) {
  const rec = await eventually(() => h.m.since(since).find((r) => r.method === "POST" && r.json?.type === "Follow" && r.json.actor === relayId()), {
    timeout: 10000,
    what: "the relay's Follow of carol",
  });
  assert.equal(rec.path, "/users/carol/inbox");
  assert.equal(rec.json.object, carol().id);
  const v = await h.m.verify(rec);
  assert.equal(v.ok, true, v.reason);
  assert.equal(v.keyId, `${relayId()}#main-key`);
  const row = await member(1);
  assert.equal(row.relay_follow_state, "pending");
  assert.equal(row.relay_follow_id, rec.json.id);
  const acc = { "@context": AS, id: `${h.m.url}/accepts/${crypto.randomUUID()}`, type: "Accept", actor: carol().id, object: rec.json };
  assert.equal((await post(carol(), acc)).status, 202);
  assert.equal((await member(1)).relay_follow_state, "accepted");
  return rec.json;
}

let follow; // the relay's current Follow of carol

test("relay off: no Follow; relay on: the relay actor follows the member, who accepts", async () => {
  await sleep(400);
  assert.deepEqual(received(Object.fromEntries(Object.keys(h).map((k) => [k, 0])), "Follow"), {}, "no Follow before consent");
  const since = h.m.mark;
  await s.psql("UPDATE members SET relay = true WHERE id = 1");
  follow = await followedAndAccepted(since);
});

test("a public post is announced by the relay to exactly the instance of a former follower", async () => {
  await drained();
  const since = marks();
  const act = note(carol());
  assert.equal((await post(carol(), act)).status, 202);
  const rec = await eventually(() => received(since, "Announce").a?.[0], { timeout: 10000, what: "the Announce at a" });
  await drained();
  await sleep(200);
  assert.deepEqual(Object.keys(received(since, "Announce")), ["a"], "only a: not m (origin), b, c, d, e, f");
  assert.equal(received(since, "Announce").a.length, 1, "one delivery");
  assert.equal(rec.path, "/inbox", "the shared inbox");
  const an = rec.json;
  assert.equal(an.actor, relayId());
  assert.equal(an.object, act.object.id);
  assert.ok(an.id.startsWith(`${s.url}/`), "an id on our host");
  assert.ok(!Number.isNaN(Date.parse(an.published)), "published");
  assert.deepEqual(an.to, [PUBLIC]);
  assert.deepEqual(an.cc, [`${relayId()}/followers`]);
  const v = await h.a.verify(rec);
  assert.equal(v.ok, true, v.reason);
  assert.equal(v.keyId, `${relayId()}#main-key`);
  assert.equal(await s.psql(`SELECT member_id FROM relayed_objects WHERE object_id = '${act.object.id}'`), "1");
});

test("not announced: followers-only, direct, unlisted, a boost, an Article of someone else, an object of another host", async () => {
  await drained();
  const since = marks();
  const c = carol();
  const cases = [
    ["followers-only", note(c, { to: [`${c.id}/followers`], cc: [] })],
    ["direct", note(c, { to: [h.a.actor("alice").id], cc: [] })],
    ["unlisted", note(c, { to: [`${c.id}/followers`], cc: [PUBLIC] })],
    ["someone else's", note(c, { attributedTo: h.a.actor("alice").id })],
    ["another host's object", note(c, { objectId: `${h.b.url}/notes/${crypto.randomUUID()}` })],
    ["not a post", note(c, { type: "Image" })],
    ["a boost", { "@context": AS, id: `${h.m.url}/activities/${crypto.randomUUID()}`, type: "Announce", actor: c.id, to: [PUBLIC], object: `${h.b.url}/notes/1` }],
  ];
  for (const [what, act] of cases) assert.equal((await post(c, act)).status, 202, what);
  // A public Article in the same batch is announced: the refusals above are not a stall.
  const art = note(c, { type: "Article" });
  assert.equal((await post(c, art)).status, 202);
  await eventually(() => received(since, "Announce").a?.some((r) => r.json.object === art.object.id), { timeout: 10000, what: "the Article's Announce" });
  await drained();
  await sleep(200);
  const all = Object.values(received(since, "Announce")).flat();
  assert.deepEqual(all.map((r) => r.json.object), [art.object.id], "only the public Article");
});

test("deduplicated: a redelivery, and the same object under a new activity id, are announced once", async () => {
  await drained();
  const since = marks();
  const act = note(carol());
  assert.equal((await post(carol(), act)).status, 202);
  await eventually(() => received(since, "Announce").a, { timeout: 10000, what: "the first Announce" });
  assert.equal((await post(carol(), act)).status, 202, "the same activity again");
  assert.equal((await post(carol(), { ...act, id: `${h.m.url}/activities/${crypto.randomUUID()}` })).status, 202, "the same object, a new id");
  await drained();
  await sleep(200);
  assert.equal(received(since, "Announce").a.length, 1);
});

test("relay off: an Undo of the Follow, nothing announced any more, Announces still queued are dropped", async () => {
  await drained();
  // a keeps failing, so the next Announce stays queued.
  h.a.answer("/inbox", { status: 503 });
  const act = note(carol());
  assert.equal((await post(carol(), act)).status, 202);
  await eventually(async () => (await s.psql("SELECT count(*) FROM deliveries WHERE state = 'pending' AND attempts > 0")) !== "0", { what: "a retried Announce" });
  const since = marks();
  await s.psql("UPDATE members SET relay = false WHERE id = 1");
  const undo = await eventually(() => received(since, "Undo").m?.[0], { timeout: 10000, what: "the Undo" });
  assert.equal(undo.path, "/users/carol/inbox");
  assert.equal(undo.json.actor, relayId());
  assert.equal(undo.json.object.id, follow.id);
  assert.equal(undo.json.object.type, "Follow");
  assert.equal(undo.json.object.object, carol().id);
  assert.equal((await h.m.verify(undo)).ok, true);
  const row = await member(1);
  assert.equal(row.relay_follow_state, "none");
  assert.equal(row.relay_follow_id, null);
  await drained();
  assert.equal(await s.psql("SELECT count(*) FROM deliveries d JOIN activities a ON a.id = d.activity_id WHERE a.member_id = 1 AND d.state = 'dropped' AND d.last_error = 'relay withdrawn'"), "1");
  h.a.clearAnswers();
  const since2 = marks();
  assert.equal((await post(carol(), note(carol()))).status, 202);
  await sleep(500);
  await drained();
  assert.deepEqual(received(since2, "Announce"), {}, "nothing after relay off");
});

test("pause and resume: Undo, then a new Follow; a Reject is remembered and not asked again", async () => {
  let since = h.m.mark;
  await s.psql("UPDATE members SET relay = true WHERE id = 1");
  follow = await followedAndAccepted(since);
  since = marks();
  await s.psql("UPDATE members SET paused = true WHERE id = 1");
  await eventually(() => received(since, "Undo").m, { timeout: 10000, what: "the Undo on pause" });
  since = h.m.mark;
  await s.psql("UPDATE members SET paused = false WHERE id = 1");
  const again = await eventually(() => h.m.since(since).find((r) => byRelay(r) && r.json?.type === "Follow"), { timeout: 10000, what: "a new Follow on resume" });
  assert.notEqual(again.json.id, follow.id, "a new Follow id");
  // Carol refuses it: remembered, and not asked again while relay stays on.
  const rej = { "@context": AS, id: `${h.m.url}/rejects/${crypto.randomUUID()}`, type: "Reject", actor: carol().id, object: again.json.id };
  assert.equal((await post(carol(), rej)).status, 202);
  assert.equal((await member(1)).relay_follow_state, "rejected");
  since = h.m.mark;
  const sinceAll = marks();
  assert.equal((await post(carol(), note(carol()))).status, 202);
  await sleep(600);
  await drained();
  assert.deepEqual(h.m.since(since).filter((r) => byRelay(r) && r.json?.type === "Follow").map((r) => r.json.id), [], "no Follow loop");
  assert.deepEqual(received(sinceAll, "Announce"), {}, "nothing relayed without an accepted follow");
  // Turning relay off forgets the refusal (no Undo: nothing was followed); on again asks once more.
  await s.psql("UPDATE members SET relay = false WHERE id = 1");
  await eventually(async () => (await member(1)).relay_follow_state === "none", { what: "the refusal forgotten" });
  assert.deepEqual(h.m.since(since).filter((r) => byRelay(r) && r.json?.type === "Undo").length, 0, "no Undo of a refused Follow");
  since = h.m.mark;
  await s.psql("UPDATE members SET relay = true WHERE id = 1");
  follow = await followedAndAccepted(since);
});

test("leaving while followed: the relay still undoes its Follow; Announces still queued go", async () => {
  await drained();
  h.a.answer("/inbox", { status: 503 });
  assert.equal((await post(carol(), note(carol()))).status, 202);
  await eventually(async () => (await s.psql("SELECT count(*) FROM deliveries d JOIN activities a ON a.id = d.activity_id WHERE a.member_id = 1 AND d.state = 'pending' AND d.attempts > 0")) === "1", { what: "a retried Announce" });
  const since = marks();
  await s.psql("DELETE FROM members WHERE id = 1");
  assert.equal(await s.psql("SELECT count(*) FROM activities WHERE member_id IS NOT NULL"), "0", "the queued Announce left with her");
  h.a.clearAnswers();
  const undo = await eventually(() => received(since, "Undo").m?.[0], { timeout: 10000, what: "the Undo after leaving" });
  assert.equal(undo.json.object.id, follow.id);
  assert.equal((await h.m.verify(undo)).ok, true);
  await eventually(async () => (await s.psql("SELECT count(*) FROM relay_unfollows")) === "0", { what: "relay_unfollows emptied" });
  // Her posts are nobody's business now.
  const since2 = marks();
  assert.equal((await post(carol(), note(carol()))).status, 202);
  await sleep(300);
  await drained();
  assert.deepEqual(received(since2, "Announce"), {});
});
