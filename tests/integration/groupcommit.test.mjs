// Group commit in the inbox (issue 15, item 1): the POSTs verified in one turn of the loop
// share one transaction, and each gets its 202 only after that COMMIT. Under 64 concurrent
// clients, transactions hold several activities each; when PostgreSQL is killed as a crash
// would kill it, or the server itself is SIGKILLed, with batches in flight, every activity
// acknowledged with 202 is in the database afterwards: nothing acknowledged is lost.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep, SLOW, VALGRIND } from "../lib/harness.mjs";
import { startServer, TEST_PGDIR } from "../lib/server.mjs";
import { get } from "../lib/http.mjs";
import { parseMetrics, metricSum } from "../lib/checks.mjs";
import { startActorHost, signedPost, newId, AS, PUBLIC } from "../lib/actorhost.mjs";
import { pgCluster } from "../lib/pgcluster.mjs";

const CLIENTS = VALGRIND ? 16 : 64;
const ACTORS = 16;

let s;
let peer;
setup(async () => {
  assert.ok(TEST_PGDIR, "PASSERELLE_TEST_PGDIR is not set (run through tests/run.sh)");
  peer = await startActorHost({ actors: Array.from({ length: ACTORS }, (_, i) => ({ name: `a${i}` })) });
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10 } });
  // Keys cached first, as a running server has them.
  for (let i = 0; i < ACTORS; i++) assert.equal(await post(i, "warm"), 202);
});
teardown(async () => {
  if (pgCluster.down) await pgCluster("start");
  if (peer) await peer.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

function create(i, content) {
  const a = peer.actor(`a${i % ACTORS}`);
  return { a, act: { "@context": AS, id: newId(peer), type: "Create", actor: a.id, to: [PUBLIC], object: { id: newId(peer, "notes"), type: "Note", attributedTo: a.id, to: [PUBLIC], content } } };
}

async function post(i, content) {
  const { a, act } = create(i, content);
  return (await signedPost(`${s.url}/inbox`, act, { actor: a })).status;
}

// CLIENTS clients POST Creates until stop(); log holds {id, status, phase, error}.
function load() {
  const log = [];
  const st = { phase: "before", stop: false };
  let n = 0;
  const client = async (c) => {
    while (!st.stop) {
      const { a, act } = create(n++, `c${c}`);
      const rec = { id: act.id, phase: st.phase, status: null, error: null };
      try {
        const r = await signedPost(`${s.url}/inbox`, act, { actor: a, timeout: 15000 * SLOW });
        rec.status = r.status;
      } catch (e) {
        rec.error = e.code ?? e.message;
      }
      log.push(rec);
      if (rec.status !== 202) await sleep(20);
    }
  };
  const all = Array.from({ length: CLIENTS }, (_, c) => client(c));
  return { log, st, done: () => Promise.all(all) };
}

async function counters() {
  const m = parseMetrics((await get(`${s.url}/metrics`)).body);
  return { tx: metricSum(m, "passerelle_inbox_transactions_total"), acts: metricSum(m, "passerelle_inbox_transaction_activities_total") };
}

async function lost(log) {
  const acked = log.filter((r) => r.status === 202).map((r) => r.id);
  const seen = new Set((await s.psql("SELECT id FROM seen_activity_ids")).split("\n"));
  return { acked: acked.length, lost: acked.filter((id) => !seen.has(id)) };
}

test(`${CLIENTS} concurrent clients: transactions hold several activities, each 202 after its COMMIT`, async (t) => {
  const c0 = await counters();
  const l = load();
  await sleep(2000);
  l.st.stop = true;
  await l.done();
  const c1 = await counters();
  const per = (c1.acts - c0.acts) / (c1.tx - c0.tx);
  t.log(`${l.log.length} POSTs, ${c1.acts - c0.acts} activities in ${c1.tx - c0.tx} transactions: ${per.toFixed(1)} each`);
  assert.deepEqual(l.log.filter((r) => r.status !== 202).slice(0, 3), [], "every POST acknowledged");
  assert.ok(per > 1.5, `${per.toFixed(2)} activities per transaction: no grouping`);
  const r = await lost(l.log);
  assert.deepEqual(r.lost.slice(0, 3), [], `${r.lost.length} of ${r.acked} acknowledged not in the database`);
});

test("PostgreSQL killed with batches in flight: only 202 and 503, every 202 in the database after the restart", async (t) => {
  const l = load();
  await sleep(1500);
  l.st.phase = "killing";
  await pgCluster("kill");
  l.st.phase = "down";
  await sleep(2000);
  await pgCluster("start");
  l.st.phase = "restarting";
  await eventually(() => l.log.some((r) => r.phase === "restarting" && r.status === 202), { timeout: 15000 * SLOW, interval: 100, what: "a 202 after the restart" });
  await sleep(500);
  l.st.stop = true;
  await l.done();
  assert.ok(s.alive(), "the server exited");
  const odd = l.log.filter((r) => r.status !== 202 && r.status !== 503);
  assert.deepEqual(odd.slice(0, 5), [], `${odd.length} answers neither 202 nor 503`);
  assert.ok(l.log.filter((r) => r.phase === "down" && r.status === 503).length > 0, "503 while the database was away");
  const r = await lost(l.log);
  t.log(`${l.log.length} POSTs, ${r.acked} acknowledged`);
  assert.deepEqual(r.lost.slice(0, 5), [], `${r.lost.length} of ${r.acked} acknowledged activities are not in the database`);
});

test("the server SIGKILLed with batches in flight: every 202 it sent is in the database", async (t) => {
  const l = load();
  await sleep(1500);
  s.kill();
  await s.exited();
  l.st.stop = true;
  await l.done();
  const r = await lost(l.log);
  t.log(`${l.log.length} POSTs, ${r.acked} acknowledged before the kill, ${l.log.filter((x) => x.error).length} cut by it`);
  assert.ok(r.acked > 0, "some acknowledged before the kill");
  assert.deepEqual(r.lost.slice(0, 5), [], `${r.lost.length} of ${r.acked} acknowledged activities are not in the database`);
  await s.start();
  assert.equal(await post(0, "after"), 202, "the restarted server acknowledges");
});
