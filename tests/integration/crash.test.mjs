// The delivery queue inside the real server (issue 3, checklist 5.6).
// 1. SIGKILL in the middle of a fan-out loses nothing: 3000 subscribed instances, one notice
//    from the operator (`passerelle admin notice`), the server killed once the loopback sink
//    has received part of it, restarted on the same database, and every inbox ends up with
//    the notice. Deliveries are at least once: the only copies sent twice are rows the killed
//    process had claimed (its leases), so duplicates are bounded by what one worker claims at
//    a time (queue_max_in_flight).
// 2. What remote inboxes answer: 5xx and 401 retried with backoff, 429's Retry-After
//    honoured, 410 dropped at once, a hanging inbox holding nothing else back.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep, SLOW, VALGRIND } from "../lib/harness.mjs";
import { startServer, runBin } from "../lib/server.mjs";
import { get } from "../lib/http.mjs";
import { parseMetrics, metricSum } from "../lib/checks.mjs";
import { startActorHost, signedPost, AS, PUBLIC } from "../lib/actorhost.mjs";

// Under valgrind every signature costs ~50x: a smaller fan-out tells the same story there.
const N = VALGRIND ? 300 : 3000;
const MAX_IN_FLIGHT = 64;
const MAX_PER_HOST = 32;
const TEXT = `Maintenance tonight <22:00 UTC> & a test of the fan-out ${Date.now()}`;
// The lease on claimed rows (queue_claim_ms): short, so the test waits for the real expiry
// of the killed worker's leases instead of moving time forward in SQL.
const CLAIM_MS = 3000 * SLOW;

let s;
let sink;

setup(async () => {
  sink = await startActorHost();
  // A little latency, as a real inbox has, so that concurrent deliveries pile up.
  sink.answer("/inbox/", { status: 202, delayMs: 10 });
  s = await startServer({
    config: {
      allow_private_fetch: "true",
      queue_poll_ms: 100,
      queue_backoff_unit_ms: 10,
      queue_max_per_host: MAX_PER_HOST,
      queue_max_in_flight: MAX_IN_FLIGHT,
      queue_claim_ms: CLAIM_MS,
    },
  });
  // N subscribers, each with its own inbox on the sink (one host for the queue: 127.0.0.1:PORT).
  await s.psql(
    `INSERT INTO instances (domain, actor_uri, inbox, relay_state, style, follow_id, subscribed_at)
     SELECT 's' || g || '.test', 'https://s' || g || '.test/actor', '${sink.url}/inbox/' || g,
            'accepted', 'mastodon', 'https://s' || g || '.test/follow/' || g, now()
     FROM generate_series(1, ${N}) AS g`,
  );
});

teardown(async () => {
  if (sink) await sink.stop();
  if (s) await s.stop();
});

const pendingRows = async () => Number(await s.psql("SELECT count(*) FROM deliveries WHERE state = 'pending'"));

test(`SIGKILL during a fan-out to ${N} inboxes: after a restart every inbox has the notice, duplicates bounded by the killed worker's claims`, async (t) => {
  const t0 = Date.now();
  const r = await runBin(["admin", "-c", s.configFile, "notice", TEXT]);
  assert.equal(r.code, 0, `admin notice: ${r.stderr}`);
  assert.match(r.stdout, new RegExp(`queued for ${N} inboxes`), r.stdout);

  // Kill once part of the fan-out has arrived (the sink counts in-process, no I/O to wait on).
  const killAt = Math.floor(N / 6);
  const deadline = Date.now() + 20000 * SLOW;
  while (sink.totalPosts < killAt) {
    assert.ok(Date.now() < deadline, `only ${sink.totalPosts} deliveries in 20 s`);
    assert.ok(s.alive(), "the server died by itself");
    await sleep(2);
  }
  s.kill();
  await s.exited();
  const atKill = sink.stats("/inbox/");
  t.log(`killed after ${Date.now() - t0} ms with ${atKill.distinct} of ${N} inboxes served (${atKill.total} POSTs)`);
  assert.ok(atKill.distinct < N, "the kill came after the whole fan-out: nothing was tested");

  // What the killed process left: pending rows, some under its lease (claimed, maybe sent).
  const left = await pendingRows();
  const leased = Number(await s.psql("SELECT count(*) FROM deliveries WHERE state = 'pending' AND claimed_until > now()"));
  const oldWorkers = (await s.psql("SELECT DISTINCT claimed_by FROM deliveries WHERE claimed_by IS NOT NULL")).split("\n").filter(Boolean);
  t.log(`after the kill: ${left} pending rows, ${leased} of them leased by ${oldWorkers.join(", ") || "nobody"}`);
  assert.ok(left >= N - atKill.distinct, `rows lost: ${left} pending, ${N - atKill.distinct} inboxes not served`);
  assert.ok(leased <= MAX_IN_FLIGHT, `${leased} rows leased, more than queue_max_in_flight ${MAX_IN_FLIGHT}`);
  assert.ok(oldWorkers.length <= 1, `one worker held leases: ${oldWorkers}`);

  // When each of the killed worker's leases ends (database clock, as ms since the epoch).
  const leases = new Map(
    (await s.psql("SELECT inbox, (extract(epoch FROM claimed_until) * 1000)::bigint FROM deliveries WHERE state = 'pending' AND claimed_until > now()"))
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split("|"))
      .map(([inbox, until]) => [new URL(inbox).pathname, Number(until)]),
  );
  const restartAt = Date.now();
  await s.start();
  // Everything goes out: the unleased rows at once, the killed worker's when their lease ends.
  await eventually(async () => (await pendingRows()) === 0 && sink.stats("/inbox/").paths === N, {
    timeout: 30000,
    interval: 100,
    what: `all ${N} inboxes served and no row pending`,
  });
  const after = sink.posts("/inbox/").filter((p) => p.at >= restartAt);
  let early = 0;
  let waited = 0;
  for (const p of after) {
    const until = leases.get(p.path);
    if (until === undefined) continue;
    waited = Math.max(waited, p.at - restartAt);
    if (p.at < until - 50) early++;
  }
  t.log(`${leases.size} rows were leased by the killed worker; re-sent up to ${waited} ms after the restart (lease ${CLAIM_MS} ms)`);
  assert.equal(early, 0, `${early} leased rows were sent again before their lease ended`);
  if (leases.size > 0) assert.ok(after.some((p) => leases.has(p.path)), "the leased rows were delivered once their lease ended");

  const end = sink.stats("/inbox/");
  t.log(`after the restart: ${end.distinct} distinct deliveries, ${end.total} POSTs, ${end.duplicates} duplicates (bound ${leased}), ${Date.now() - t0} ms in all`);
  assert.equal(end.paths, N, "every inbox received it");
  assert.equal(end.distinct, N, "one notice per inbox (a single activity id)");
  for (const [p, n] of end.perPath) assert.ok(n >= 1 && n <= 2, `${p} received it ${n} times`);
  assert.ok(end.duplicates <= leased, `${end.duplicates} duplicates, more than the ${leased} rows the killed worker had claimed`);
  assert.equal(await s.psql("SELECT count(*) FROM deliveries WHERE state <> 'pending'"), "0", "no row dropped or dead");
  assert.equal(await s.psql("SELECT count(*) FROM deliveries"), "0", "delivered rows are gone");
  await eventually(async () => (await s.psql("SELECT count(*) FROM activities")) === "0", { timeout: 5000, what: "the payload removed once delivered" });

  // One payload, the operator's note, signed by the relay: check a sample from both runs.
  const posts = sink.posts("/inbox/");
  const ids = new Set(posts.map((p) => p.json?.id));
  assert.equal(ids.size, 1, `one activity id, got ${ids.size}`);
  const note = posts[0].json;
  assert.equal(note.type, "Create");
  assert.equal(note.actor, `${s.url}/actor`);
  assert.ok([note.to].flat().includes(PUBLIC), "public");
  assert.ok([note["@context"]].flat().includes(AS));
  assert.equal(note.object?.type, "Note");
  assert.equal(note.object?.attributedTo, `${s.url}/actor`);
  assert.ok(note.object?.content.includes("Maintenance tonight &lt;22:00 UTC&gt; &amp; a test"), `content ${note.object?.content}`);
  for (const p of [...posts.slice(0, 10), ...posts.slice(-10)]) {
    const v = await sink.verify(p);
    assert.equal(v.ok, true, `${p.path}: ${v.reason}`);
    assert.equal(v.keyId, `${s.url}/actor#main-key`);
  }
  t.log(`at most ${sink.maxOpen} deliveries at once to the one host (queue_max_per_host ${MAX_PER_HOST})`);
  assert.ok(sink.maxOpen <= MAX_PER_HOST, `${sink.maxOpen} concurrent deliveries to one host, over queue_max_per_host ${MAX_PER_HOST}`);
  assert.ok(sink.maxOpen >= 2, "deliveries ran in parallel");
  const m = parseMetrics((await get(`${s.url}/metrics`)).body);
  assert.ok(metricSum(m, "passerelle_deliveries_total", (l) => l.result === "delivered") >= N - atKill.distinct, "deliveries counted after the restart");
  // Its budget: 3000 signed deliveries, begun twice, and a lease to wait out. Its own waits
  // allow 20 s to the kill and 30 s to the end; the default 20 s cut it on a loaded machine
  // (ASan, or 18 processes on 2 cores) after all 3000 had been delivered, at 19-20 s.
}, { timeout: 40000 });

test("remote answers: 500 and 401 retried, 429 Retry-After honoured, 410 dropped, a hanging inbox blocks nothing", async (t) => {
  const q = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10 } });
  t.defer(() => q.stop());
  const h = await startActorHost({ actors: ["hang", "five", "unauth", "slow", "gone", "ok"].map((name) => ({ name })) });
  t.defer(() => h.stop());
  let fives = 0;
  let unauths = 0;
  let slows = 0;
  h.answer("/users/hang/inbox", "hang");
  h.answer("/users/five/inbox", () => (++fives <= 2 ? { status: 500 } : { status: 202 }));
  h.answer("/users/unauth/inbox", () => (++unauths <= 1 ? { status: 401 } : { status: 202 }));
  h.answer("/users/slow/inbox", () => (++slows <= 1 ? { status: 429, headers: { "retry-after": "2" } } : { status: 202 }));
  h.answer("/users/gone/inbox", { status: 410 });
  const relay = `${q.url}/actor`;
  // Each sends a Mastodon-style subscription (no Follow back): the first one subscribes the
  // host and gets an Accept; the others, other actors of a subscribed host, get a Reject (a
  // subscription is its subscriber's: it/subscription). That answer, sent to the actor's own
  // inbox, is the delivery under test.
  for (const name of ["hang", "five", "unauth", "slow", "gone", "ok"]) {
    const a = h.actor(name);
    const f = { "@context": AS, id: `${h.url}/follows/${name}`, type: "Follow", actor: a.id, object: PUBLIC };
    const r = await signedPost(`${q.url}/inbox`, f, { actor: a });
    assert.equal(r.status, 202, `${name}: ${r.body}`);
  }
  const times = (name) => h.posts(`/users/${name}/inbox`).map((p) => p.at);
  // The hanging inbox shares the host with the others, and they are served meanwhile.
  await eventually(() => times("ok").length === 1 && times("five").length === 3 && times("unauth").length === 2 && times("slow").length === 2, {
    timeout: 15000,
    what: "every delivery but the hanging one done",
  });
  assert.equal(times("hang").length, 1, "the hanging inbox got its one POST");
  const five = times("five");
  assert.ok(five[1] - five[0] >= 140 && five[2] - five[1] >= 140, `500 retried after a backoff: ${five}`);
  const slow = times("slow");
  assert.ok(slow[1] - slow[0] >= 1900, `Retry-After: 2 honoured: ${slow[1] - slow[0]} ms`);
  await sleep(500);
  assert.equal(times("gone").length, 1, "410 is not retried");
  for (const name of ["five", "unauth", "slow", "ok"]) {
    const last = h.posts(`/users/${name}/inbox`).at(-1);
    assert.equal(last.json.type, "Reject");
    const v = await h.verify(last);
    assert.equal(v.ok, true, `${name}: ${v.reason}`);
    assert.equal(v.keyId, `${relay}#main-key`, `${name}: signed by the relay`);
  }
  const rows = JSON.parse(await q.psql("SELECT coalesce(json_agg(json_build_object('inbox', inbox, 'state', state, 'status', last_status) ORDER BY id), '[]') FROM deliveries"));
  assert.deepEqual(rows, [
    { inbox: `${h.url}/users/hang/inbox`, state: "pending", status: null },
    { inbox: `${h.url}/users/gone/inbox`, state: "dropped", status: 410 },
  ]);
  const m = parseMetrics((await get(`${q.url}/metrics`)).body);
  const by = (result) => metricSum(m, "passerelle_deliveries_total", (l) => l.result === result);
  assert.equal(by("delivered"), 4);
  assert.equal(by("retry"), 4);
  assert.equal(by("dropped"), 1);
  const inst = JSON.parse(await q.psql(`SELECT row_to_json(i) FROM instances i WHERE domain = '${h.domain}'`));
  assert.equal(inst.consecutive_failures, 0, "successes reset the failure count");
  assert.equal(inst.paused_until, null);
  assert.equal(inst.dead, false);
});
