// Faults on the delivery side (issue 6, item 4), against the real queue: remote inboxes that
// accept a connection and never answer, answer one byte at a time, return 500, 429 with
// Retry-After, or 410; and a fan-out where 1,000 dead inboxes (closed ports, hanging
// servers) sit beside 50 live ones. The queue retries, backs off or drops as DESIGN.md's
// Delivery section says, and never stalls: the live inboxes get their copy within a bound
// that does not depend on the dead ones.
import assert from "node:assert/strict";
import { test, eventually, sleep, SLOW, VALGRIND } from "../lib/harness.mjs";
import { startServer, runBin } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { silentPeer, tricklePeer, closedPorts } from "../lib/badpeers.mjs";

// Subscribes one instance per inbox (domain d<n>.test), as a relay subscriber would be.
async function subscribe(s, inboxes, prefix) {
  const list = inboxes.map((u) => `'${u}'`).join(",");
  await s.psql(
    `INSERT INTO instances (domain, actor_uri, inbox, relay_state, style, follow_id, subscribed_at)
     SELECT '${prefix}' || n || '.test', 'https://${prefix}' || n || '.test/actor', u, 'accepted', 'mastodon',
            'https://${prefix}' || n || '.test/follow', now()
     FROM unnest(ARRAY[${list}]::text[]) WITH ORDINALITY AS t(u, n)`,
  );
}

async function notice(s, text) {
  const r = await runBin(["admin", "-c", s.configFile, "notice", text]);
  assert.equal(r.code, 0, r.stderr);
  return Number(/queued for (\d+) inboxes/.exec(r.stdout)?.[1]);
}

// When each live inbox got the notice whose text is `text`: ms after t0, sorted.
function arrivals(sink, text, t0) {
  return sink
    .posts("/inbox/")
    .filter((p) => p.json?.object?.content?.includes(text))
    .map((p) => p.at - t0)
    .sort((a, b) => a - b);
}

test("misbehaving inboxes: silent, one byte at a time, 500 (backoff, then the breaker), 429 with Retry-After, 410; a healthy one is served meanwhile", async (t) => {
  const CLAIM_MS = 4000; // each POST is cut at half of it: 2 s
  const s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10, queue_claim_ms: CLAIM_MS } });
  t.defer(() => s.stop());
  const silent = await silentPeer();
  t.defer(() => silent.stop());
  const trickler = await tricklePeer({ every: 200 });
  t.defer(() => trickler.stop());
  const failing = await startActorHost(); // 500 to everything: 12 inboxes, then paused
  t.defer(() => failing.stop());
  failing.answer("/", { status: 500 });
  const flaky = await startActorHost(); // 500 to one inbox: the backoff between its tries
  t.defer(() => flaky.stop());
  flaky.answer("/", { status: 500 });
  const mixed = await startActorHost();
  t.defer(() => mixed.stop());
  mixed.answer("/slow", { status: 429, headers: { "retry-after": "2" } });
  mixed.answer("/gone", { status: 410 });
  mixed.answer("/ok", { status: 202 });
  const inbox = {
    silent: `${silent.url}/inbox`,
    trickle: `${trickler.url}/inbox`,
    flaky: `${flaky.url}/inbox`,
    slow: `${mixed.url}/slow`,
    gone: `${mixed.url}/gone`,
    ok: `${mixed.url}/ok`,
  };
  await subscribe(s, [...Object.values(inbox), ...Array.from({ length: 12 }, (_, i) => `${failing.url}/u${i}`)], "peer");
  const t0 = Date.now();
  assert.equal(await notice(s, "misbehaving"), 18);

  // The healthy inbox is not held up by the others.
  await eventually(() => mixed.posts("/ok").length === 1, { timeout: 3000 * SLOW, what: "the healthy inbox served" });
  const okMs = mixed.posts("/ok")[0].at - t0;
  assert.ok(okMs < 1500 * SLOW, `the healthy inbox waited ${okMs} ms`);

  // 500: retried with growing waits: after try n, unit × ((n-1)⁴ + 15) ms plus up to half of
  // unit × (n-1)⁴ (README: queue_backoff_unit_ms), here 150, 160, 310, 960 ms and more.
  await eventually(() => flaky.posts("/inbox").length >= 5, { timeout: 8000 * SLOW, what: "five tries of the failing inbox" });
  const tries = flaky.posts("/inbox").map((p) => p.at);
  const gaps = tries.slice(1).map((x, i) => x - tries[i]);
  t.log(`500: tries ${gaps.map((g) => `+${g}`).join(" ")} ms apart`);
  for (const [i, min] of [150, 160, 310, 960].entries()) assert.ok(gaps[i] >= min - 20, `wait ${i + 1} was ${gaps[i]} ms, less than ${min}`);
  assert.ok(gaps[3] > gaps[1] + 500, "the waits grow");

  // The breaker: 10 failures in a row pause the host; nothing more is sent to it meanwhile.
  await eventually(async () => (await s.psql(`SELECT paused_until > now() FROM instances WHERE domain = '${failing.domain}'`)) === "t", { timeout: 5000 * SLOW, what: "the failing host paused" });
  const atPause = failing.posts("/").length;
  assert.ok(atPause >= 10 && atPause <= 12 + 8, `${atPause} POSTs before the pause`);
  await sleep(1500);
  assert.equal(failing.posts("/").length, atPause, "POSTs to a paused host");

  // 429 with Retry-After: 2 waits 2 s; 410 is dropped at once.
  await eventually(() => mixed.posts("/slow").length >= 2, { timeout: 6000 * SLOW, what: "the 429 tried again" });
  const slow = mixed.posts("/slow").map((p) => p.at);
  assert.ok(slow[1] - slow[0] >= 1950, `Retry-After: 2 honoured (${slow[1] - slow[0]} ms)`);
  assert.equal(mixed.posts("/gone").length, 1, "410 tried once");

  // Silent and one-byte-at-a-time inboxes: each POST cut at its total timeout, then retried.
  await eventually(() => silent.connections >= 2 && trickler.requests >= 2, { timeout: 10000 * SLOW, what: "silent and trickling inboxes tried twice" });
  const rows = JSON.parse(await s.psql(
    `SELECT json_object_agg(inbox, json_build_object('state', state, 'attempts', attempts, 'error', last_error, 'status', last_status)) FROM deliveries`,
  ));
  t.log(`silent: ${silent.connections} connections; trickle: ${trickler.requests} requests; rows ${JSON.stringify({ silent: rows[inbox.silent], trickle: rows[inbox.trickle] })}`);
  for (const k of ["silent", "trickle"]) {
    assert.equal(rows[inbox[k]].state, "pending", `${k}: still to be retried`);
    assert.ok(rows[inbox[k]].attempts >= 2, `${k}: ${rows[inbox[k]].attempts} attempts`);
  }
  assert.equal(rows[inbox.trickle].error, "timeout");
  assert.deepEqual(rows[inbox.gone], { state: "dropped", attempts: 1, error: "http 410", status: 410 });
  assert.equal(rows[inbox.ok], undefined, "the delivered row is gone");
  assert.equal(rows[inbox.flaky].state, "pending");
  assert.equal(rows[inbox.flaky].status, 500);
}, { timeout: 40000 });

test("a fan-out where 1,000 dead inboxes (closed ports, hanging servers) sit beside 50 live ones: the live ones get it as fast as alone", async (t) => {
  const LIVE = 50;
  const CLOSED = VALGRIND ? 100 : 500;
  const HANGING_HOSTS = 10;
  const PER_HANGING = VALGRIND ? 10 : 50;
  // Default lease and HTTP timeouts (a hanging POST holds its slot for 30 s): were dead
  // inboxes to take the slots the live ones need, the live ones would wait that long.
  const s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 1000 } });
  t.defer(() => s.stop());
  const sink = await startActorHost();
  t.defer(() => sink.stop());
  sink.answer("/inbox/", { status: 202, delayMs: 20 });
  const hanging = await Promise.all(Array.from({ length: HANGING_HOSTS }, () => silentPeer()));
  t.defer(() => Promise.all(hanging.map((h) => h.stop())));

  // Alone: how long 50 live inboxes take.
  await subscribe(s, Array.from({ length: LIVE }, (_, i) => `${sink.url}/inbox/${i}`), "live");
  let t0 = Date.now();
  assert.equal(await notice(s, "alone"), LIVE);
  await eventually(() => arrivals(sink, "alone", t0).length === LIVE, { timeout: 20000 * SLOW, what: "the live inboxes served alone" });
  const alone = arrivals(sink, "alone", t0).at(-1);

  // Beside 1,000 dead ones, queued first.
  const dead = [
    ...(await closedPorts(CLOSED)).map((p) => `http://127.0.0.1:${p}/inbox`),
    ...hanging.flatMap((h) => Array.from({ length: PER_HANGING }, (_, i) => `${h.url}/users/u${i}/inbox`)),
  ];
  await subscribe(s, dead, "dead");
  t0 = Date.now();
  assert.equal(await notice(s, "beside"), LIVE + dead.length);
  await eventually(() => arrivals(sink, "beside", t0).length === LIVE, { timeout: 40000 * SLOW, what: "the live inboxes served beside the dead ones" });
  const beside = arrivals(sink, "beside", t0).at(-1);
  const opened = hanging.reduce((n, h) => n + h.connections, 0);
  t.log(`50 live inboxes: ${alone} ms alone, ${beside} ms beside ${dead.length} dead ones (${CLOSED} closed ports, ${HANGING_HOSTS * PER_HANGING} hanging on ${HANGING_HOSTS} hosts, ${opened} connections held open)`);
  assert.ok(beside <= alone + 5000 * SLOW, `the live inboxes took ${beside} ms beside the dead ones, ${alone} ms alone`);
  // The hanging hosts were tried, each no more than queue_max_per_host at once.
  for (const h of hanging) {
    assert.ok(h.connections >= 1, "a hanging host was never tried");
    assert.ok(h.connections <= 8, `${h.connections} connections at once to one hanging host (queue_max_per_host 8)`);
  }
  // And the closed ports were tried too, and rescheduled.
  const ports = new Set(dead.slice(0, CLOSED).map((u) => new URL(u).host));
  await eventually(
    async () => {
      const rows = (await s.psql("SELECT host FROM deliveries WHERE state = 'pending' AND attempts >= 1 AND last_error IS NOT NULL")).split("\n");
      return rows.filter((h) => ports.has(h)).length === CLOSED;
    },
    { timeout: 20000 * SLOW, what: "every closed port tried and rescheduled" },
  );
}, { timeout: 90000 });
