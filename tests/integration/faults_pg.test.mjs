// PostgreSQL killed and restarted under inbound load (issue 6, item 4): signed POSTs keep
// coming from several clients while the runner's cluster is stopped as a crash would stop it
// (pg_ctl -m immediate: no checkpoint, crash recovery at the next start). The server does not
// crash, answers 503 (with Retry-After) while the database is away, recovers by itself, and
// every activity it acknowledged with 202 is in the database after the restart; every
// acknowledged Follow gets its Accept. Nothing acknowledged is lost.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep, SLOW } from "../lib/harness.mjs";
import { startServer, TEST_PGDIR } from "../lib/server.mjs";
import { startActorHost, signedPost, newId, AS, PUBLIC } from "../lib/actorhost.mjs";
import { pgCluster } from "../lib/pgcluster.mjs";

const CLIENTS = 4;
const ACTORS = 12;

let s;
let peer;
setup(async () => {
  assert.ok(TEST_PGDIR, "PASSERELLE_TEST_PGDIR is not set (run through tests/run.sh)");
  peer = await startActorHost({ actors: Array.from({ length: ACTORS }, (_, i) => ({ name: `a${i}` })) });
  s = await startServer({ config: { allow_private_fetch: "true", db_pool_size: 2, queue_poll_ms: 100, queue_backoff_unit_ms: 10 } });
});
teardown(async () => {
  if (pgCluster.down) await pgCluster("start");
  if (peer) await peer.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

test("PostgreSQL killed and restarted under inbound load: no crash, 503 while it is away, every 202 in the database after", async (t) => {
  // Keys cached first, as a running server has them.
  for (let i = 0; i < ACTORS; i++) {
    const a = peer.actor(`a${i}`);
    const r = await signedPost(`${s.url}/inbox`, { "@context": AS, id: newId(peer), type: "Create", actor: a.id, to: [PUBLIC], object: { id: newId(peer, "notes"), type: "Note", attributedTo: a.id, to: [PUBLIC], content: "warm" } }, { actor: a });
    assert.equal(r.status, 202, r.body);
  }

  const log = []; // {id, kind, status, at, retryAfter}
  let phase = "before";
  let stop = false;
  let n = 0;
  const client = async (c) => {
    while (!stop) {
      const a = peer.actor(`a${n++ % ACTORS}`);
      // Now and then a Follow, whose Accept must be delivered once acknowledged.
      const follow = n % 10 === 0;
      const act = follow
        ? { "@context": AS, id: newId(peer, "follows"), type: "Follow", actor: a.id, object: PUBLIC }
        : { "@context": AS, id: newId(peer), type: "Create", actor: a.id, to: [PUBLIC], object: { id: newId(peer, "notes"), type: "Note", attributedTo: a.id, to: [PUBLIC], content: `c${c}` } };
      const rec = { id: act.id, kind: act.type, phase, status: null, error: null };
      try {
        const r = await signedPost(`${s.url}/inbox`, act, { actor: a, timeout: 15000 * SLOW });
        rec.status = r.status;
        rec.retryAfter = r.headers["retry-after"];
      } catch (e) {
        rec.error = e.code ?? e.message;
      }
      rec.phase = rec.phase === phase ? phase : `${rec.phase}>${phase}`;
      log.push(rec);
      if (rec.status === 503) await sleep(20);
    }
  };
  const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));

  await sleep(1500);
  phase = "killing";
  const tKill = Date.now();
  await pgCluster("kill");
  phase = "down";
  await sleep(3000);
  assert.ok(s.alive(), "the server exited while the database was down");
  phase = "restarting";
  await pgCluster("start");
  const tUp = Date.now();
  // Recovered: acknowledgements again (the pool reconnects with backoff, at most 5 s apart).
  await eventually(() => log.some((r) => r.phase === "restarting" && r.status === 202), { timeout: 15000 * SLOW, interval: 100, what: "a 202 after the restart" });
  const recovered = Date.now() - tUp;
  phase = "after";
  await sleep(1000);
  stop = true;
  await Promise.all(clients);
  assert.ok(s.alive(), "the server exited");

  const by = (p, st) => log.filter((r) => r.phase === p && (st === undefined || r.status === st)).length;
  t.log(`${log.length} POSTs by ${CLIENTS} clients: before ${by("before", 202)} × 202; down ${tUp - tKill} ms: ${by("down", 503)} × 503, ${by("down", 202)} × 202; back ${recovered} ms after the restart; after ${by("after", 202)} × 202`);
  // Only 202 and 503, never a dropped connection or a 500.
  const odd = log.filter((r) => r.status !== 202 && r.status !== 503);
  assert.deepEqual(odd.slice(0, 5), [], `${odd.length} answers neither 202 nor 503`);
  assert.ok(by("before", 202) > 0 && by("after", 202) > 0, "acknowledged before and after");
  assert.ok(by("down", 503) > 10, "503 while the database was away");
  const downAcks = log.filter((r) => r.phase === "down" && r.status === 202);
  assert.ok(downAcks.length <= CLIENTS, `${downAcks.length} acknowledged while down (only requests already committed may be)`);
  for (const r of log.filter((x) => x.status === 503)) assert.equal(r.retryAfter, "5", "503 says when to retry");

  // Nothing acknowledged is lost: every 202 is in the database.
  const acked = log.filter((r) => r.status === 202).map((r) => r.id);
  const seen = new Set((await s.psql("SELECT id FROM seen_activity_ids")).split("\n"));
  const lost = acked.filter((id) => !seen.has(id));
  assert.deepEqual(lost.slice(0, 5), [], `${lost.length} of ${acked.length} acknowledged activities are not in the database`);
  // ... and every acknowledged Follow is answered: an Accept for the actor whose Follow
  // subscribed the host, a Reject for the others (a subscription is its subscriber's).
  const follows = log.filter((r) => r.status === 202 && r.kind === "Follow").map((r) => r.id);
  assert.ok(follows.length > 0, "some Follows were acknowledged");
  await eventually(
    () => {
      const answered = new Set(peer.posts("/users/").filter((p) => p.json?.type === "Accept" || p.json?.type === "Reject").map((p) => p.json.object?.id));
      return follows.every((id) => answered.has(id));
    },
    { timeout: 15000 * SLOW, what: `an Accept for each of ${follows.length} acknowledged Follows` },
  );
}, { timeout: 60000 });
