// Federation with Fedify: an instance subscribes to the relay (Mastodon style, Follow of
// as:Public; LitePub style, Follow of the relay actor) and a person follows the bridge
// account. The C server must verify Fedify's signature (fetching the peer's key over
// loopback: allow_private_fetch), answer Accept, and Fedify must verify the C server's
// signature on that Accept before it records it. Then (issue 3): the LitePub follow back is
// accepted by Fedify and recorded; the operator's notice (`passerelle admin notice`) reaches
// both peers signed by the relay; Undo unsubscribes; `passerelle admin instances block`
// sends a Reject the peer verifies and the peer's next Follow gets 403. Both first-knock
// modes, one peer each.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer, runBin } from "../lib/server.mjs";
import { startPeer } from "../lib/peer.mjs";
import { request } from "../lib/http.mjs";

const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";
const MODES = ["draft-cavage-http-signatures-12", "rfc9421"];

let s;
const peers = {};

setup(async () => {
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10 } });
  const [a, b] = await Promise.all(MODES.map((m, i) => startPeer({ user: i === 0 ? "alice" : "bob", firstKnock: m })));
  peers[MODES[0]] = a;
  peers[MODES[1]] = b;
});
teardown(async () => {
  for (const p of Object.values(peers)) await p.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const relayId = () => `${s.url}/actor`;
const bridgeId = () => `${s.url}/users/passerelle`;
const domainOf = (p) => `127.0.0.1:${p.port}`;
const instance = async (p) =>
  JSON.parse(await s.psql(`SELECT coalesce((SELECT row_to_json(i) FROM instances i WHERE domain = '${domainOf(p)}')::text, 'null')`));

async function admin(...args) {
  const r = await runBin(["admin", "-c", s.configFile, ...args]);
  assert.equal(r.code, 0, `admin ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

// The queue has nothing left to send.
const drained = () =>
  eventually(async () => (await s.psql("SELECT count(*) FROM deliveries WHERE state = 'pending'")) === "0", { timeout: 10000, what: "the delivery queue to drain" });

async function acceptFor(peer, followId, actor) {
  return eventually(
    async () => (await peer.events()).find((e) => e.type === "Accept" && e.actor === actor && (e.object === followId || e.raw?.object?.id === followId)),
    { timeout: 10000, what: `Accept from ${actor} for ${followId}` },
  );
}

// The Follow that an Accept or Reject embeds, as Fedify parsed it.
function assertEmbedsFollow(ev, { id, actor, object }, what) {
  const o = ev.raw?.object;
  assert.equal(typeof o, "object", `${what}: the Follow is embedded: ${JSON.stringify(ev.raw)}`);
  assert.equal(o.id, id, `${what}: embedded id`);
  assert.equal(o.type, "Follow", `${what}: embedded type`);
  assert.equal(o.actor, actor, `${what}: embedded actor`);
  assert.ok(o.object === object || (object === PUBLIC && o.object === "as:Public"), `${what}: embedded object ${o.object}`);
}

test("an unsigned POST to /inbox is refused with 401", async () => {
  const r = await request(`${s.url}/inbox`, {
    method: "POST",
    headers: { "content-type": "application/activity+json" },
    body: JSON.stringify({ "@context": "https://www.w3.org/ns/activitystreams", id: `${peers[MODES[0]].url}/x/unsigned`, type: "Follow", actor: peers[MODES[0]].actorId, object: PUBLIC }),
  });
  assert.equal(r.status, 401, `${r.status} ${r.body.slice(0, 200)}`);
});

for (const mode of MODES) {
  const short = mode === "rfc9421" ? "rfc9421" : "cavage";

  test(`[${short}] Mastodon-style subscription: Follow(as:Public) to /inbox gets a verified Accept from the relay, no Follow back`, async () => {
    const p = peers[mode];
    const sent = await p.send(`${s.url}/inbox`, { type: "Follow", object: PUBLIC }, relayId());
    assert.equal(sent.ok, true, `delivery to the C inbox failed: ${sent.error} ${JSON.stringify(sent.requests)}`);
    const last = sent.requests.filter((r) => r.method === "POST").at(-1);
    assert.ok(last.status >= 200 && last.status < 300, `final POST status ${last.status}`);
    // The C server verifies either scheme at the first knock: no fallback, no 401 first.
    const posts = sent.requests.filter((r) => r.method === "POST");
    assert.deepEqual(posts.map((r) => [r.signature, r.status]), [[mode === "rfc9421" ? "rfc9421" : "draft-cavage", 202]], "one POST, in this mode");
    const ev = await acceptFor(p, sent.id, relayId());
    assert.equal(ev.sig, "draft-cavage", "the C server signs with draft-cavage");
    assertEmbedsFollow(ev, { id: sent.id, actor: p.actorId, object: PUBLIC }, "Accept");
    const row = await instance(p);
    assert.equal(row.relay_state, "accepted");
    assert.equal(row.style, "mastodon");
    assert.equal(row.follow_id, sent.id);
    await drained();
    const back = (await p.events()).filter((e) => e.type === "Follow" && e.actor === relayId());
    assert.deepEqual(back, [], "no Follow back to a Mastodon-style subscriber");
  });

  test(`[${short}] LitePub-style subscription: Follow(relay actor) gets an Accept and a Follow back, which the peer accepts`, async () => {
    const p = peers[mode];
    await p.configure({ autoAccept: true });
    const sent = await p.send(`${s.url}/inbox`, { type: "Follow", object: relayId() }, relayId());
    assert.equal(sent.ok, true, `${sent.error}`);
    const acc = await acceptFor(p, sent.id, relayId());
    assertEmbedsFollow(acc, { id: sent.id, actor: p.actorId, object: relayId() }, "Accept");
    const back = await eventually(
      async () => (await p.events()).find((e) => e.type === "Follow" && e.actor === relayId() && e.object === p.actorId),
      { timeout: 10000, what: "Follow back from the relay" },
    );
    assert.equal(back.sig, "draft-cavage");
    const row = await instance(p);
    assert.equal(row.style, "litepub");
    assert.equal(row.our_follow_id, back.id, "the Follow back is the one recorded");
    // Fedify's Accept of our Follow, signed in this mode, verified by the C server.
    const done = await eventually(async () => (await p.events()).find((e) => e.id === back.id)?.accepted?.ok !== undefined && (await p.events()).find((e) => e.id === back.id).accepted, {
      timeout: 10000,
      what: "the peer's Accept of the Follow back",
    });
    assert.equal(done.ok, true, `the peer's Accept was refused: ${done.error}`);
    await eventually(async () => (await instance(p)).our_follow_state === "accepted", { timeout: 5000, what: "our_follow_state accepted" });
    await p.configure({ autoAccept: false });
  });

  test(`[${short}] following the bridge account gets a verified Accept from it`, async () => {
    const p = peers[mode];
    const sent = await p.send(`${bridgeId()}/inbox`, { type: "Follow", object: bridgeId() }, bridgeId());
    assert.equal(sent.ok, true, `${sent.error}`);
    const ev = await acceptFor(p, sent.id, bridgeId());
    assert.equal(ev.sig, "draft-cavage");
    assertEmbedsFollow(ev, { id: sent.id, actor: p.actorId, object: bridgeId() }, "bridge Accept");
    assert.equal(await s.psql(`SELECT count(*) FROM members WHERE actor_uri = '${p.actorId}' AND follow_id = '${sent.id}'`), "1");
  });
}

test("`passerelle admin notice`: both subscribers receive a public note from the relay and verify it", async () => {
  const text = `Relay maintenance at 22:00 UTC (${Date.now()})`;
  const out = await admin("notice", text);
  assert.match(out, /queued for 2 inboxes/, out);
  for (const mode of MODES) {
    const p = peers[mode];
    const ev = await eventually(
      async () => (await p.events()).find((e) => e.type === "Create" && e.actor === relayId() && JSON.stringify(e.raw?.object ?? "").includes(text)),
      { timeout: 10000, what: `the notice at ${p.name}` },
    );
    assert.equal(ev.sig, "draft-cavage", "signed by the C server");
    assert.equal(ev.recipient, null, "delivered to the shared inbox");
    const note = ev.raw.object;
    assert.equal(note.type, "Note");
    assert.equal(note.attributedTo, relayId());
    assert.ok([ev.raw.to].flat().some((x) => x === PUBLIC || x === "as:Public"), `public: ${JSON.stringify(ev.raw.to)}`);
  }
});

for (const mode of MODES) {
  const short = mode === "rfc9421" ? "rfc9421" : "cavage";

  test(`[${short}] Undo of the subscription unsubscribes`, async () => {
    const p = peers[mode];
    const follow = await p.send(`${s.url}/inbox`, { type: "Follow", object: PUBLIC }, relayId());
    assert.equal(follow.ok, true, `${follow.error}`);
    await acceptFor(p, follow.id, relayId());
    assert.equal((await instance(p)).relay_state, "accepted");
    const undo = await p.send(`${s.url}/inbox`, { type: "Undo", object: { id: follow.id, type: "Follow", actor: p.actorId, object: PUBLIC } }, relayId());
    assert.equal(undo.ok, true, `Undo refused: ${undo.error}`);
    assert.equal((await instance(p)).relay_state, "unsubscribed");
  });

  test(`[${short}] admin block: the subscriber receives a Reject it verifies, its next Follow gets 403`, async () => {
    const p = peers[mode];
    const follow = await p.send(`${s.url}/inbox`, { type: "Follow", object: PUBLIC }, relayId());
    assert.equal(follow.ok, true, `${follow.error}`);
    await acceptFor(p, follow.id, relayId());
    await drained();
    const out = await admin("instances", "block", domainOf(p));
    assert.match(out, /Reject queued/, out);
    const rej = await eventually(
      async () => (await p.events()).find((e) => e.type === "Reject" && e.actor === relayId()),
      { timeout: 10000, what: "the Reject" },
    );
    assert.equal(rej.sig, "draft-cavage");
    assertEmbedsFollow(rej, { id: follow.id, actor: p.actorId, object: PUBLIC }, "Reject");
    const row = await instance(p);
    assert.equal(row.blocked, true);
    assert.equal(row.relay_state, "rejected");
    const again = await p.send(`${s.url}/inbox`, { type: "Follow", object: PUBLIC }, relayId());
    assert.equal(again.ok, false, "a blocked instance's Follow is refused");
    const posts = again.requests.filter((r) => r.method === "POST");
    assert.ok(posts.length > 0, "the peer posted");
    assert.equal(posts.at(-1).status, 403, `final status: ${JSON.stringify(posts)}`);
    await drained();
    assert.equal((await p.events()).filter((e) => e.type === "Accept" && (e.object === again.id || e.raw?.object?.id === again.id)).length, 0, "no Accept");
  });
}

test("every request the C server sent to the peers verified (no 401 at their inboxes)", async () => {
  for (const p of Object.values(peers)) {
    const refused = (await p.incoming()).filter((r) => r.method === "POST" && r.status >= 300);
    assert.deepEqual(refused, [], `${p.name} refused some of our POSTs`);
    const ours = (await p.incoming()).filter((r) => r.method === "POST" && (r.keyId === `${relayId()}#main-key` || r.keyId === `${bridgeId()}#main-key`));
    assert.ok(ours.length >= 6, `${p.name}: ${ours.length} signed POSTs from us`);
  }
});

test("the server logged no error during the exchanges", async () => {
  assert.ok(s.alive());
  const errors = s.stderr().split("\n").filter((l) => /\blevel=error\b/.test(l));
  assert.deepEqual(errors, []);
});
