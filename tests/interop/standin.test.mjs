// Old X handles with Fedify (issue 5, item 5): a Fedify account joins and links an archive;
// another Fedify instance looks the old X handle up with Fedify's own lookupObject
// ("@handle@host": WebFinger, then the actor) and finds the stand-in, a Person whose movedTo
// and alsoKnownAs name the member's real actor, which it then resolves too. A Follow of the
// stand-in is answered with a Reject that Fedify verifies against the stand-in's own key.
// (The claim is unverified and past its hold, so its stand-in shows, marked "not verified".)
// findable off, then leaving, make the handle unknown (404).
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startPeer } from "../lib/peer.mjs";
import { joinAndLink } from "../lib/joinlink.mjs";

let s;
let alice; // the member, on her own Fedify instance
let bob; // someone elsewhere who looks her old handle up
let member;

setup(async () => {
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100 } });
  [alice, bob] = await Promise.all([
    startPeer({ user: "alice", firstKnock: "draft-cavage-http-signatures-12" }),
    startPeer({ user: "bob", firstKnock: "rfc9421" }),
  ]);
  member = await joinAndLink(s, alice, { handle: "Alice_Old", xid: "4242" });
  // An unverified claim shows its stand-in once past its hold (README "Claims"): this one is.
  await s.psql("UPDATE members SET linked_at = now() - interval '2 days' WHERE x_id = 4242");
});
teardown(async () => {
  await alice?.stop();
  await bob?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const host = () => new URL(s.url).host;
const standin = () => `${s.url}/x/4242`;

test("Fedify's lookupObject of @old_handle@host finds the stand-in, and its movedTo resolves to the member", async () => {
  for (const signed of [false, true]) {
    const r = await bob.lookup(`@alice_old@${host()}`, { signed });
    assert.equal(r.found, true, `lookup (signed=${signed}) failed: ${r.error} ${JSON.stringify(r.requests)}`);
    const a = r.actor;
    assert.equal(a.id, standin());
    assert.equal(a.type, "Person");
    assert.equal(a.preferredUsername, "Alice_Old");
    assert.match(a.name, /moved/);
    assert.equal(a.movedTo, alice.actorId, "movedTo is the member's actor");
    assert.deepEqual(a.alsoKnownAs, [alice.actorId]);
    assert.equal(a.publicKey?.id, `${standin()}#main-key`);
    assert.equal(a.publicKey?.owner, standin());
    // Fedify asked WebFinger first, over the acct: form, then fetched the self link.
    const wf = r.requests.find((q) => q.requestedUrl.includes("/.well-known/webfinger"));
    assert.ok(wf && wf.status === 200, `WebFinger request: ${JSON.stringify(r.requests)}`);
    assert.ok(r.requests.some((q) => q.url === standin() && q.status === 200), "the stand-in was fetched");
  }
  const moved = await bob.lookup(alice.actorId);
  assert.equal(moved.found, true, moved.error);
  assert.equal(moved.actor.id, alice.actorId);
  assert.equal(moved.actor.preferredUsername, "alice");
});

test("a Fedify Follow of the stand-in gets a Reject, verified by Fedify, signed by the stand-in's key", async () => {
  const sent = await bob.send(`${s.url}/inbox`, { type: "Follow", object: standin() }, standin());
  assert.equal(sent.ok, true, `${sent.error}`);
  const ev = await eventually(async () => (await bob.events()).find((e) => e.type === "Reject" && e.actor === standin()), {
    timeout: 10000,
    what: "the Reject from the stand-in",
  });
  assert.equal(ev.raw?.object?.id, sent.id, "it embeds the Follow");
  const inc = (await bob.incoming()).find((x) => x.method === "POST" && x.keyId === `${standin()}#main-key`);
  assert.ok(inc, "the Reject was signed with the stand-in's key id");
  assert.ok(inc.status >= 200 && inc.status < 300, `Fedify answered ${inc.status}`);
  assert.equal(await s.psql(`SELECT count(*) FROM instances WHERE actor_uri = '${bob.actorId}'`), "0", "nothing stored");
});

test("findable off, then leaving: Fedify's lookup of the old handle finds nothing", async () => {
  await s.psql(`UPDATE members SET findable = false WHERE id = ${member.id}`);
  const off = await bob.lookup(`@alice_old@${host()}`);
  assert.equal(off.found, false, "findable off");
  assert.ok(off.requests.some((q) => q.requestedUrl.includes("/.well-known/webfinger") && q.status === 404), JSON.stringify(off.requests));
  await s.psql(`UPDATE members SET findable = true WHERE id = ${member.id}`);
  assert.equal((await bob.lookup(`@alice_old@${host()}`)).found, true, "findable again");
  const bridge = `${s.url}/users/passerelle`;
  const undo = await alice.send(`${bridge}/inbox`, { type: "Undo", object: { id: member.follow, type: "Follow", actor: alice.actorId, object: bridge } }, bridge);
  assert.equal(undo.ok, true, undo.error);
  await eventually(async () => (await s.psql(`SELECT count(*) FROM members WHERE id = ${member.id}`)) === "0", { what: "the member gone" });
  const gone = await bob.lookup(`@alice_old@${host()}`);
  assert.equal(gone.found, false, "left");
  const byUrl = await bob.lookup(standin());
  assert.equal(byUrl.found, false, "the stand-in URL too");
  assert.ok(byUrl.requests.some((q) => q.url === standin() && q.status === 404), "404, not 410");
});
