// The admin's domain policy held in memory (issue 15, item 2): each process reads it at start
// and again when migration 026's trigger NOTIFYs a change, so an inbox POST asks PostgreSQL
// nothing about it. An admin block takes effect in a running server and in a second process
// on the same database, without a restart, within a bound; a block nobody was told of is
// not seen (the copy answers, not the database) until the listening session is lost and
// comes back, which reads the policy again. What the copy refuses is confirmed by the
// database, so an unblock counts at once.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep, SLOW } from "../lib/harness.mjs";
import { startServer, createServer, freePort, runBin } from "../lib/server.mjs";
import { startActorHost, signedPost, PUBLIC, AS, newId } from "../lib/actorhost.mjs";

const CFG = { allow_private_fetch: "true", queue_poll_ms: 100 };
const BOUND_MS = 2000 * SLOW; // from the admin command's exit to the first 403

let a; // the first process
let b; // a second process on a's database (its own port and base_url)
let peer; // the actor whose domain is blocked and unblocked

setup(async () => {
  peer = await startActorHost({ actors: [{ name: "alice" }] });
  a = await startServer({ name: "serve-a", config: CFG });
  const port = await freePort();
  b = await createServer({ name: "serve-b", share: a, config: { listen_port: port, base_url: `http://127.0.0.1:${port}` } });
  b.port = port;
  b.url = `http://127.0.0.1:${port}`;
  await b.start();
});

teardown(async () => {
  if (peer) await peer.stop();
  if (b) assert.equal(await b.stop(), 0, "serve-b exit code");
  if (a) assert.equal(await a.stop(), 0, "serve-a exit code");
});

async function post(s) {
  const actor = peer.actor("alice");
  const note = { id: newId(peer, "notes"), type: "Note", attributedTo: actor.id, to: [PUBLIC], content: "hi" };
  const body = { "@context": AS, id: newId(peer), type: "Create", actor: actor.id, to: [PUBLIC], object: note };
  return (await signedPost(`${s.url}/inbox`, body, { actor })).status;
}

const admin = (...args) => runBin(["admin", "-c", a.configFile, ...args]);

// Each process's listening session, by the application_name dblisten sets.
const listeners = () =>
  a.psql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = 'passerelle-listen' AND datname = '${a.dbName}'`);

test("each process reads the policy once it listens; both accept the peer", async () => {
  await eventually(async () => (await listeners()) === "2", { timeout: 5000 * SLOW, what: "two listening sessions" });
  for (const s of [a, b]) {
    await eventually(async () => s.events("domain_policy_loaded").length >= 1, { timeout: 5000 * SLOW, what: `${s.name} read the policy` });
    assert.equal(await post(s), 202, s.name);
  }
});

test(`an admin block reaches both running processes within ${BOUND_MS} ms, and the unblock too`, async (t) => {
  const r = await admin("instances", "block", peer.domain);
  assert.equal(r.code, 0, r.stderr);
  const t0 = Date.now();
  for (const s of [a, b]) {
    await eventually(async () => (await post(s)) === 403, { timeout: BOUND_MS, interval: 20, what: `${s.name} refuses the blocked peer` });
    t.log(`${s.name}: 403 ${Date.now() - t0} ms after the command's exit`);
  }
  const u = await admin("instances", "unblock", peer.domain);
  assert.equal(u.code, 0, u.stderr);
  for (const s of [a, b]) await eventually(async () => (await post(s)) === 202, { timeout: BOUND_MS, interval: 20, what: `${s.name} accepts again` });
});

test("a change nobody is told of is not seen; a lost listening session reads the policy again when it is back", async () => {
  // Triggers off for this one session: the block is committed, and no NOTIFY goes out.
  await a.psql(`SET session_replication_role = replica; UPDATE instances SET blocked = true WHERE domain = '${peer.domain}'`);
  await sleep(300);
  for (const s of [a, b]) assert.equal(await post(s), 202, `${s.name} answers from its copy, which nobody told`);
  const before = [a, b].map((s) => s.events("db_listen").length);
  await a.psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'passerelle-listen' AND datname = '${a.dbName}'`);
  for (const [i, s] of [a, b].entries()) {
    await eventually(async () => s.events("db_listen").length > before[i], { timeout: 10000 * SLOW, what: `${s.name} listens again` });
    await eventually(async () => (await post(s)) === 403, { timeout: BOUND_MS, interval: 20, what: `${s.name} read the block on reconnecting` });
  }
  // Unblocked the same silent way: what the copy refuses, the database confirms, so an
  // unblock counts at once, told or not.
  await a.psql(`SET session_replication_role = replica; UPDATE instances SET blocked = false WHERE domain = '${peer.domain}'`);
  for (const s of [a, b]) assert.equal(await post(s), 202, `${s.name}: the copy's block is checked against the database`);
  for (const s of [a, b]) assert.equal(s.events("db_listen_lost").length >= 1, true, `${s.name} logged the loss`);
});
