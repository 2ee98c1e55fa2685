// Database outage under a running server: DB-backed endpoints answer 503 quickly, the rest
// keeps working, and the server recovers by itself when PostgreSQL comes back.
// Stops and restarts the runner's cluster (PASSERELLE_TEST_PGDIR); always leaves it running.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, SLOW } from "../lib/harness.mjs";
import { startServer, TEST_PGDIR } from "../lib/server.mjs";
import { get } from "../lib/http.mjs";
import { parseMetrics } from "../lib/checks.mjs";
import { pgCluster as pg } from "../lib/pgcluster.mjs";

const AP = { accept: "application/activity+json" };

let s;
setup(async () => {
  assert.ok(TEST_PGDIR, "PASSERELLE_TEST_PGDIR is not set (run through tests/run.sh)");
  s = await startServer({ config: { db_pool_size: 2 } });
});
teardown(async () => {
  if (pg.down) await pg("start");
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

async function timed(url, headers = {}) {
  const t0 = Date.now();
  const r = await get(url, headers, { timeout: 10000 * SLOW });
  return { r, ms: Date.now() - t0 };
}

async function dbUp() {
  const m = parseMetrics((await get(`${s.url}/metrics`)).body);
  const up = m.samples.find((x) => x.name === "passerelle_db_up");
  return up?.value;
}

test("before the outage: everything answers 200 and passerelle_db_up is 1", async () => {
  for (const p of ["/", "/nodeinfo/2.0", "/actor", "/metrics"]) {
    assert.equal((await get(s.url + p, AP)).status, 200, p);
  }
  assert.equal(await dbUp(), 1);
});

test("with PostgreSQL stopped: / and /nodeinfo/2.0 answer 503 quickly", async () => {
  await pg("stop");
  // The first request may be the one that notices; after that the answer must be fast.
  await eventually(async () => (await get(`${s.url}/`)).status === 503, { timeout: 5000, what: "/ answers 503" });
  for (const p of ["/", "/nodeinfo/2.0", "/nodeinfo/2.1", "/"]) {
    const { r, ms } = await timed(s.url + p);
    assert.equal(r.status, 503, `${p} during the outage: ${r.status} ${r.body.slice(0, 200)}`);
    assert.ok(ms < 2000 * SLOW, `${p} took ${ms} ms during the outage`);
  }
  const { r } = await timed(`${s.url}/nodeinfo/2.0`);
  const ct = r.headers["content-type"] ?? "";
  if (ct.startsWith("application/json")) assert.equal(typeof r.json().error, "string", "503 JSON error body");
});

test("during the outage: /actor, WebFinger, host-meta and /metrics still work", async () => {
  assert.ok(pg.down, "the previous test stopped PostgreSQL");
  const host = new URL(s.url).host;
  const actor = await timed(`${s.url}/actor`, AP);
  assert.equal(actor.r.status, 200);
  assert.equal(actor.r.json().id, `${s.url}/actor`);
  assert.equal((await get(`${s.url}/users/passerelle`, AP)).status, 200);
  const wf = await get(`${s.url}/.well-known/webfinger?resource=acct:relay@${host}`);
  assert.equal(wf.status, 200);
  assert.equal(wf.json().links.find((l) => l.rel === "self").href, `${s.url}/actor`);
  assert.equal((await get(`${s.url}/.well-known/host-meta`)).status, 200);
  const m = await get(`${s.url}/metrics`);
  assert.equal(m.status, 200);
  assert.equal(await eventually(async () => (await dbUp()) === 0, { timeout: 5000, what: "passerelle_db_up 0" }), true);
  assert.ok(s.alive(), "the server never exits because of the database");
});

test("the server stays up through a longer outage", async () => {
  assert.ok(pg.down);
  await new Promise((r) => setTimeout(r, 3000));
  assert.ok(s.alive());
  assert.equal((await get(`${s.url}/`)).status, 503);
  assert.equal((await get(`${s.url}/actor`, AP)).status, 200);
});

test("after PostgreSQL restarts the server recovers by itself", async () => {
  await pg("start");
  const t0 = Date.now();
  await eventually(async () => (await get(`${s.url}/`)).status === 200, { timeout: 10000, interval: 200, what: "/ answers 200 again" });
  const ms = Date.now() - t0;
  assert.ok(ms < 10000 * SLOW, `recovered after ${ms} ms`);
  const ni = await get(`${s.url}/nodeinfo/2.0`);
  assert.equal(ni.status, 200);
  assert.equal(ni.json().software.name, "passerelle");
  assert.equal(await eventually(async () => (await dbUp()) === 1, { timeout: 5000, what: "passerelle_db_up 1" }), true);
});

test("a second outage and recovery work the same way", async () => {
  await pg("stop");
  await eventually(async () => (await get(`${s.url}/nodeinfo/2.0`)).status === 503, { timeout: 5000, what: "503 again" });
  assert.equal((await get(`${s.url}/actor`, AP)).status, 200);
  await pg("start");
  await eventually(async () => (await get(`${s.url}/nodeinfo/2.0`)).status === 200, { timeout: 10000, interval: 200, what: "200 again" });
  assert.ok(s.alive());
});
