// Control test for the interop peer itself: two Fedify peers find each other and exchange
// a signed Follow. If this fails, failures in the other interop tests are not the C
// server's fault.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startPeer } from "../lib/peer.mjs";

let alice;
let bob;
setup(async () => {
  [alice, bob] = await Promise.all([
    startPeer({ user: "alice", firstKnock: "draft-cavage-http-signatures-12" }),
    startPeer({ user: "bob", firstKnock: "rfc9421" }),
  ]);
});
teardown(async () => {
  await alice?.stop();
  await bob?.stop();
});

test("peer looks up another peer by acct: handle (through the https->http shim)", async () => {
  const res = await alice.lookup(`acct:bob@127.0.0.1:${bob.port}`);
  assert.equal(res.found, true, res.error);
  assert.equal(res.actor.id, bob.actorId);
  assert.equal(res.actor.type, "Person");
  assert.equal(res.actor.inbox, `${bob.actorId}/inbox`);
  assert.equal(res.actor.sharedInbox, `${bob.url}/inbox`);
  assert.equal(res.actor.publicKey.owner, bob.actorId);
  assert.equal(res.actor.publicKey.modulusLength, 2048);
  assert.ok(res.requests[0].requestedUrl.startsWith("https://"), "Fedify asked https for acct:");
  assert.ok(res.requests[0].url.startsWith("http://"), "the shim rewrote it");
});

test("signed lookups are signed with the configured first knock", async () => {
  const a = await alice.lookup(bob.actorId, { signed: true });
  assert.equal(a.found, true);
  assert.equal(a.requests[0].signature, "draft-cavage");
  const b = await bob.lookup(alice.actorId, { signed: true });
  assert.equal(b.found, true);
  assert.equal(b.requests[0].signature, "rfc9421");
});

test("an unknown handle is not found", async () => {
  const res = await alice.lookup(`acct:nobody@127.0.0.1:${bob.port}`);
  assert.equal(res.found, false);
});

test("a signed Follow is delivered and verified by the other peer", async () => {
  const sent = await bob.send(`${alice.actorId}/inbox`, { type: "Follow", object: alice.actorId });
  assert.equal(sent.ok, true, sent.error);
  const ev = await eventually(async () => (await alice.events()).find((e) => e.id === sent.id), { what: "Follow recorded" });
  assert.equal(ev.type, "Follow");
  assert.equal(ev.actor, bob.actorId);
  assert.equal(ev.object, alice.actorId);
  assert.equal(ev.sig, "rfc9421");
});

test("an unsigned POST to a peer inbox is refused with 401", async () => {
  const { request } = await import("../lib/http.mjs");
  const r = await request(`${alice.url}/inbox`, {
    method: "POST",
    headers: { "content-type": "application/activity+json" },
    body: JSON.stringify({ "@context": "https://www.w3.org/ns/activitystreams", id: `${bob.url}/x/1`, type: "Follow", actor: bob.actorId, object: alice.actorId }),
  });
  assert.equal(r.status, 401);
  assert.equal((await alice.events()).some((e) => e.id === `${bob.url}/x/1`), false);
});
