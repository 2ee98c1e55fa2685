// A relay subscription belongs to the actor that made it (issue 12, item 5; threats.md L2). Any
// account of a subscribed instance can follow <base>/actor from its server's ordinary UI (a
// LitePub-style Follow): that must neither take the instance's subscription over nor, by an
// Undo, end it. The subscriber stays the actor that subscribed (Mastodon's instance actor,
// Pleroma's /relay); another actor of the domain gets a Reject and changes nothing; once the
// subscription has ended, another actor may subscribe the domain again.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost, signedPost, newId, AS, PUBLIC } from "../lib/actorhost.mjs";

let s;
let masto; // Mastodon-style: the instance actor subscribes with a Follow of Public
let pler; // Pleroma-style: the relay actor (Application) follows <base>/actor

setup(async () => {
  masto = await startActorHost({ actors: [{ name: "instance", type: "Application" }, { name: "mallory" }] });
  pler = await startActorHost({ actors: [{ name: "relay", type: "Application" }, { name: "mallory" }, { name: "newrelay", type: "Application" }] });
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10 } });
});

teardown(async () => {
  for (const h of [masto, pler]) if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code");
});

const relayId = () => `${s.url}/actor`;
const follow = (h, a, object) => ({ "@context": AS, id: newId(h), type: "Follow", actor: a.id, object });
const undo = (h, a, f) => ({ "@context": AS, id: newId(h), type: "Undo", actor: a.id, object: f });
const send = async (h, name, body) => {
  const r = await signedPost(`${s.url}/inbox`, body, { actor: h.actor(name) });
  assert.equal(r.status, 202, `${name}: ${r.body}`);
};
const row = async (h) =>
  JSON.parse(await s.psql(`SELECT row_to_json(i) FROM (SELECT actor_uri, relay_state, follow_id, style, our_follow_state FROM instances WHERE domain = '${h.domain}') i`));
const answer = (h, name, type, followId) =>
  eventually(() => h.posts(`/users/${name}/inbox`).map((x) => JSON.parse(x.body)).find((j) => j.type === type && j.object?.id === followId), {
    timeout: 10000,
    what: `${type} of ${followId} to ${name}`,
  });
const drained = () => eventually(async () => (await s.psql("SELECT count(*) FROM deliveries WHERE state = 'pending'")) === "0", { timeout: 10000, what: "the queue to drain" });

test("Mastodon-style subscription: a person's LitePub Follow of the relay neither takes it over nor, undone, ends it", async () => {
  const sub = follow(masto, masto.actor("instance"), PUBLIC);
  await send(masto, "instance", sub);
  await answer(masto, "instance", "Accept", sub.id);
  const before = await row(masto);
  assert.deepEqual(before, { actor_uri: masto.actor("instance").id, relay_state: "accepted", follow_id: sub.id, style: "mastodon", our_follow_state: "none" });

  const lp = follow(masto, masto.actor("mallory"), relayId());
  await send(masto, "mallory", lp);
  const rej = await answer(masto, "mallory", "Reject", lp.id);
  assert.equal(rej.actor, relayId());
  assert.deepEqual(await row(masto), before, "the subscription is the instance actor's still");
  await send(masto, "mallory", undo(masto, masto.actor("mallory"), lp));
  // A Mastodon-style Undo naming the instance's own Follow, sent by someone else, does nothing.
  await send(masto, "mallory", undo(masto, masto.actor("mallory"), { ...sub, actor: masto.actor("mallory").id }));
  await drained();
  assert.deepEqual(await row(masto), before, "still subscribed");
  assert.equal(masto.posts("/users/mallory/inbox").filter((x) => JSON.parse(x.body).type === "Follow").length, 0, "no Follow back to mallory");
  assert.ok(s.events("relay_subscription_refused").some((e) => e.actor === masto.actor("mallory").id));
});

test("LitePub (Pleroma /relay): another account's Follow and Undo change nothing; the relay actor's own Undo ends it", async () => {
  const relay = pler.actor("relay");
  const sub = follow(pler, relay, relayId());
  await send(pler, "relay", sub);
  await answer(pler, "relay", "Accept", sub.id);
  await eventually(async () => (await row(pler)).our_follow_state === "pending", { what: "the relay's follow back" });
  const before = await row(pler);
  assert.equal(before.actor_uri, relay.id);
  assert.equal(before.style, "litepub");

  const lp = follow(pler, pler.actor("mallory"), relayId());
  await send(pler, "mallory", lp);
  await answer(pler, "mallory", "Reject", lp.id);
  await send(pler, "mallory", undo(pler, pler.actor("mallory"), lp));
  await drained();
  assert.deepEqual(await row(pler), before, "the subscription and our follow back are untouched");

  // A second Follow by the subscriber itself is answered again and keeps the row its own.
  const again = follow(pler, relay, relayId());
  await send(pler, "relay", again);
  await answer(pler, "relay", "Accept", again.id);
  assert.equal((await row(pler)).follow_id, again.id);

  await send(pler, "relay", undo(pler, relay, again));
  assert.equal((await row(pler)).relay_state, "unsubscribed");

  // Ended, the domain may be subscribed by another actor (a reinstalled server's new relay actor).
  const next = follow(pler, pler.actor("newrelay"), relayId());
  await send(pler, "newrelay", next);
  await answer(pler, "newrelay", "Accept", next.id);
  const after = await row(pler);
  assert.equal(after.actor_uri, pler.actor("newrelay").id);
  assert.equal(after.relay_state, "accepted");
  await sleep(100);
});
