// Federation with Fedify: an instance subscribes to the relay (Mastodon style, Follow of
// as:Public; LitePub style, Follow of the relay actor) and a person follows the bridge
// account. The C server must verify Fedify's signature (fetching the peer's key over
// loopback: allow_private_fetch), answer Accept, and Fedify must verify the C server's
// signature on that Accept before it records it. Run in both first-knock modes.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startPeer } from "../lib/peer.mjs";
import { request } from "../lib/http.mjs";

const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";
const MODES = ["draft-cavage-http-signatures-12", "rfc9421"];

let s;
const peers = {};

setup(async () => {
  s = await startServer({ config: { allow_private_fetch: "true" } });
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

async function acceptFor(peer, followId, actor) {
  return eventually(
    async () => (await peer.events()).find((e) => e.type === "Accept" && e.actor === actor && (e.object === followId || e.raw?.object?.id === followId)),
    { timeout: 10000, what: `Accept from ${actor} for ${followId}` },
  );
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

  test(`[${short}] Mastodon-style subscription: Follow(as:Public) to /inbox gets a verified Accept from the relay`, async () => {
    const p = peers[mode];
    const sent = await p.send(`${s.url}/inbox`, { type: "Follow", object: PUBLIC }, relayId());
    assert.equal(sent.ok, true, `delivery to the C inbox failed: ${sent.error} ${JSON.stringify(sent.requests)}`);
    const last = sent.requests.filter((r) => r.method === "POST").at(-1);
    assert.ok(last.status >= 200 && last.status < 300, `final POST status ${last.status}`);
    const ev = await acceptFor(p, sent.id, relayId());
    assert.equal(ev.sig, "draft-cavage", "the C server signs with draft-cavage");
  });

  test(`[${short}] LitePub-style subscription: Follow(relay actor) gets an Accept and a Follow back`, async () => {
    const p = peers[mode];
    const sent = await p.send(`${s.url}/inbox`, { type: "Follow", object: relayId() }, relayId());
    assert.equal(sent.ok, true, `${sent.error}`);
    await acceptFor(p, sent.id, relayId());
    const back = await eventually(
      async () => (await p.events()).find((e) => e.type === "Follow" && e.actor === relayId() && e.object === p.actorId),
      { timeout: 10000, what: "Follow back from the relay" },
    );
    assert.equal(back.sig, "draft-cavage");
  });

  test(`[${short}] following the bridge account gets a verified Accept from it`, async () => {
    const p = peers[mode];
    const sent = await p.send(`${bridgeId()}/inbox`, { type: "Follow", object: bridgeId() }, bridgeId());
    assert.equal(sent.ok, true, `${sent.error}`);
    await acceptFor(p, sent.id, bridgeId());
  });

  test(`[${short}] Undo of the subscription is accepted`, async () => {
    const p = peers[mode];
    const follow = await p.send(`${s.url}/inbox`, { type: "Follow", object: PUBLIC }, relayId());
    assert.equal(follow.ok, true, `${follow.error}`);
    await acceptFor(p, follow.id, relayId());
    const undo = await p.send(`${s.url}/inbox`, { type: "Undo", object: { id: follow.id, type: "Follow", actor: p.actorId, object: PUBLIC } }, relayId());
    assert.equal(undo.ok, true, `Undo refused: ${undo.error}`);
  });
}

test("the server logged no error during the exchanges", async () => {
  assert.ok(s.alive());
  const errors = s.stderr().split("\n").filter((l) => /\blevel=error\b/.test(l));
  assert.deepEqual(errors, []);
});
