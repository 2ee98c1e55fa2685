// Scale-out (issue 6, item 2): two `passerelle serve` processes on one database share one
// port (reuse_port, SO_REUSEPORT) and one delivery queue. A fan-out of a few thousand
// deliveries to a loopback sink, and inbound signed POSTs spread over both processes by the
// kernel: every inbox receives each activity exactly once (the claim is FOR UPDATE SKIP
// LOCKED under a lease, so no row is sent by both), and both processes served requests and
// made deliveries.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, SLOW, VALGRIND } from "../lib/harness.mjs";
import { startServer, runBin } from "../lib/server.mjs";
import { startActorHost, signedPost, PUBLIC, AS, newId } from "../lib/actorhost.mjs";

const N = VALGRIND ? 300 : 3000; // notice fan-out, one inbox each
const FOLLOWERS = 40; // inbound Follows, each answered through the queue (one Accept: the first
// subscribes the host, a subscription being its subscriber's; a Reject to each of the others)
const CREATES = 40; // inbound Creates, acknowledged
const CFG = {
  reuse_port: "true",
  allow_private_fetch: "true",
  queue_poll_ms: 50,
  queue_backoff_unit_ms: 10,
  queue_max_in_flight: 32,
  queue_max_per_host: 16,
};

let a;
let b;
let sink; // the fan-out's inboxes: /inbox/<n>
let peers; // the actors that follow the relay: their inboxes receive the Accepts

setup(async () => {
  sink = await startActorHost({ record: false });
  sink.answer("/inbox/", { status: 202, delayMs: 5 });
  a = await startServer({ name: "serve-a", config: CFG });
  b = await startServer({ name: "serve-b", share: a, migrate: false });
  peers = await startActorHost({ actors: Array.from({ length: FOLLOWERS }, (_, i) => ({ name: `p${i}` })) });
  await a.psql(
    `INSERT INTO instances (domain, actor_uri, inbox, relay_state, style, follow_id, subscribed_at)
     SELECT 's' || g || '.test', 'https://s' || g || '.test/actor', '${sink.url}/inbox/' || g,
            'accepted', 'mastodon', 'https://s' || g || '.test/follow/' || g, now()
     FROM generate_series(1, ${N}) AS g`,
  );
});

teardown(async () => {
  if (peers) await peers.stop();
  if (sink) await sink.stop();
  if (b) assert.equal(await b.stop(), 0, "serve-b exit code");
  if (a) assert.equal(await a.stop(), 0, "serve-a exit code");
});

test(`two processes, one port, one queue: ${N} notices and ${FOLLOWERS} Accepts each delivered exactly once, inbound POSTs served by both`, async (t) => {
  const t0 = Date.now();
  const r = await runBin(["admin", "-c", a.configFile, "notice", `scale-out ${Date.now()}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`queued for ${N} inboxes`));

  // Meanwhile, inbound traffic on the shared port: each POST is a new connection, which the
  // kernel hands to one of the two listeners.
  const inbound = [];
  for (let i = 0; i < FOLLOWERS; i++) {
    const p = peers.actor(`p${i}`);
    inbound.push(signedPost(`${a.url}/inbox`, { "@context": AS, id: newId(peers, "follows"), type: "Follow", actor: p.id, object: PUBLIC }, { actor: p }));
    const note = { id: newId(peers, "notes"), type: "Note", attributedTo: p.id, to: [PUBLIC], content: `hello ${i}` };
    if (i < CREATES) inbound.push(signedPost(`${a.url}/inbox`, { "@context": AS, id: newId(peers), type: "Create", actor: p.id, to: [PUBLIC], object: note }, { actor: p }));
  }
  const answers = await Promise.all(inbound);
  for (const res of answers) assert.equal(res.status, 202, res.body);

  await eventually(async () => sink.stats("/inbox/").paths === N && peers.posts("/users/").length >= FOLLOWERS, {
    timeout: 60000 * SLOW,
    interval: 100,
    what: `all ${N} notices and ${FOLLOWERS} Accepts delivered`,
  });
  await eventually(async () => (await a.psql("SELECT count(*) FROM deliveries")) === "0", { timeout: 10000 * SLOW, what: "every row done" });
  t.log(`${N} notices and ${FOLLOWERS} Accepts delivered in ${Date.now() - t0} ms`);

  // Exactly once: no inbox got a second copy.
  const st = sink.stats("/inbox/");
  assert.equal(st.distinct, N, "one activity per inbox");
  assert.equal(st.total, N, `${st.duplicates} notices delivered twice`);
  const types = [];
  for (let i = 0; i < FOLLOWERS; i++) {
    const got = peers.posts(`/users/p${i}/inbox`);
    assert.equal(got.length, 1, `p${i} received ${got.length} answers`);
    types.push(got[0].json.type);
    const v = await peers.verify(got[0]);
    assert.equal(v.ok, true, `p${i}: ${v.reason}`);
  }
  assert.equal(types.filter((x) => x === "Accept").length, 1, "one Accept: the subscriber's");
  assert.equal(types.filter((x) => x === "Reject").length, FOLLOWERS - 1, "a Reject for each other actor of the host");

  // Both processes took part, on each side.
  const served = (s) => s.events("inbox_accepted").length;
  const delivered = (s) => s.events("delivery").filter((e) => e.result === "delivered").length;
  t.log(`inbound served: a=${served(a)} b=${served(b)}; deliveries: a=${delivered(a)} b=${delivered(b)}`);
  assert.equal(served(a) + served(b), FOLLOWERS + CREATES, "every inbound POST logged once");
  assert.ok(served(a) > 0 && served(b) > 0, "the kernel spread inbound connections over both processes");
  assert.equal(delivered(a) + delivered(b), N + FOLLOWERS, "every delivery logged once, by one process");
  assert.ok(delivered(a) > 0 && delivered(b) > 0, "both processes claimed and delivered rows");
  const subs = Number(await a.psql(`SELECT count(*) FROM instances WHERE domain = '${peers.domain}' AND relay_state = 'accepted'`));
  assert.equal(subs, 1, "the peers' host is subscribed once");
  // Its budget: 3000 signed deliveries and 80 signed POSTs (its own wait for them allows
  // 60 s); the default 20 s cut it under ASan on a loaded machine.
}, { timeout: 45000 });
