// The targeted relay with Fedify (issue 5, item 6). Three Fedify instances: carol's, where the
// member who posts lives; alice's and bob's, both subscribed to the relay, each with a member
// who linked an archive. Alice followed carol on X; bob did not (carol followed him). Carol
// turns relay on in the link page; the relay actor follows her and her Fedify server accepts;
// her public post is then announced by the relay to alice's instance only, which verifies
// the relay's signature before recording it. A followers-only post is not announced;
// turning relay off sends carol's server an Undo, and her next post goes nowhere.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startPeer } from "../lib/peer.mjs";
import { joinAndLink } from "../lib/joinlink.mjs";

const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";

let s;
let carol; // the member who posts
let alice; // subscribed instance with a former X follower of carol
let bob; // subscribed instance whose member carol followed (the other way)
const m = {};

setup(async () => {
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, relay_follow_poll_ms: 100 } });
  [carol, alice, bob] = await Promise.all([
    startPeer({ user: "carol", firstKnock: "draft-cavage-http-signatures-12" }),
    startPeer({ user: "alice", firstKnock: "rfc9421" }),
    startPeer({ user: "bob", firstKnock: "draft-cavage-http-signatures-12" }),
  ]);
  await carol.configure({ autoAccept: true });
  for (const p of [alice, bob]) {
    const sub = await p.send(`${s.url}/inbox`, { type: "Follow", object: PUBLIC }, `${s.url}/actor`);
    assert.equal(sub.ok, true, `subscription of ${p.user}: ${sub.error}`);
  }
  m.carol = await joinAndLink(s, carol, { handle: "carol_x", xid: "3001", followerIds: ["3002"], followingIds: ["3003"] });
  m.alice = await joinAndLink(s, alice, { handle: "alice_x", xid: "3002", followingIds: ["3001"] });
  m.bob = await joinAndLink(s, bob, { handle: "bob_x", xid: "3003", followerIds: ["3001"] });
  await eventually(async () => (await s.psql("SELECT count(*) FROM instances WHERE relay_state = 'accepted'")) === "2", { what: "two subscriptions" });
});
teardown(async () => {
  for (const p of [carol, alice, bob]) await p?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const relayId = () => `${s.url}/actor`;
const drained = () =>
  eventually(async () => (await s.psql("SELECT count(*) FROM deliveries WHERE state = 'pending'")) === "0", { timeout: 10000, what: "the queue to drain" });
const announces = async (p) => (await p.events()).filter((e) => e.type === "Announce" && e.actor === relayId());

function create({ to = [PUBLIC], cc = [`${carol.actorId}/followers`] } = {}) {
  const object = { id: `${carol.url}/notes/${randomUUID()}`, type: "Note", attributedTo: carol.actorId, content: "<p>hello from carol</p>", to, cc };
  return { type: "Create", to, cc, object };
}

test("relay on in the link page: the relay actor follows the member and her Fedify server accepts", async () => {
  const saved = await m.carol.consents({ relay: true });
  assert.equal(saved.consents.relay, true, JSON.stringify(saved));
  const ev = await eventually(async () => (await carol.events()).find((e) => e.type === "Follow" && e.actor === relayId() && e.object === carol.actorId), {
    timeout: 10000,
    what: "the relay's Follow at carol",
  });
  assert.equal(ev.sig, "draft-cavage", "verified by Fedify");
  const acc = await eventually(async () => (await carol.events()).find((e) => e.id === ev.id)?.accepted?.ok !== undefined && (await carol.events()).find((e) => e.id === ev.id).accepted, {
    timeout: 10000,
    what: "carol's Accept sent",
  });
  assert.equal(acc.ok, true, acc.error);
  await eventually(async () => (await s.psql(`SELECT relay_follow_state FROM members WHERE id = ${m.carol.id}`)) === "accepted", { what: "the follow accepted" });
});

test("her public post reaches, announced by the relay, only the instance hosting her former follower", async () => {
  const act = create();
  const sent = await carol.send(`${s.url}/inbox`, act, `${s.url}/actor`);
  assert.equal(sent.ok, true, sent.error);
  const ev = await eventually(async () => (await announces(alice)).find((e) => e.object === act.object.id), { timeout: 10000, what: "the Announce at alice's instance" });
  assert.equal(ev.sig, "draft-cavage");
  assert.equal(ev.recipient, null, "delivered to the shared inbox");
  assert.ok(ev.id.startsWith(`${s.url}/`), "an id on our host");
  assert.ok(ev.raw?.published, "published");
  const inc = (await alice.incoming()).filter((x) => x.method === "POST" && x.path === "/inbox" && x.keyId === `${relayId()}#main-key`);
  assert.ok(inc.length >= 1 && inc.every((x) => x.status >= 200 && x.status < 300), `Fedify accepted the relay's signature: ${JSON.stringify(inc)}`);
  await drained();
  await sleep(300);
  assert.deepEqual(await announces(bob), [], "bob's instance hosts nobody who followed carol");
  assert.deepEqual(await announces(carol), [], "never back to the origin");
  assert.equal((await announces(alice)).length, 1);
});

test("a followers-only post is not announced; relay off sends an Undo and nothing is announced after", async () => {
  assert.equal((await carol.send(`${s.url}/inbox`, create({ to: [`${carol.actorId}/followers`], cc: [] }), `${s.url}/actor`)).ok, true);
  await m.carol.consents({ relay: false });
  const undo = await eventually(async () => (await carol.events()).find((e) => e.type === "Undo" && e.actor === relayId()), { timeout: 10000, what: "the Undo at carol" });
  assert.equal(undo.sig, "draft-cavage");
  assert.equal(undo.raw?.object?.type, "Follow");
  assert.equal(await s.psql(`SELECT relay_follow_state FROM members WHERE id = ${m.carol.id}`), "none");
  assert.equal((await carol.send(`${s.url}/inbox`, create(), `${s.url}/actor`)).ok, true);
  await drained();
  await sleep(300);
  assert.equal((await announces(alice)).length, 1, "only the first post was ever announced");
  assert.deepEqual(await announces(bob), []);
});
