// Archive uploads cannot take the bridge down (issue 12, item 4, threats M4): the session is
// looked up before anything is parsed, parsing runs on a fixed pool of threads with a bounded
// queue (503 with Retry-After when it is full, where there used to be one thread per upload),
// and each member may upload archive_uploads_per_hour archives (429 with Retry-After beyond).
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { joinMember, linkArchive } from "../lib/members.mjs";
import { request } from "../lib/http.mjs";
import { parseMetrics, metricSum } from "../lib/checks.mjs";
import { xArchive, zipBuffer } from "../lib/xarchive.mjs";

const PER_HOUR = 3;
let s, h;
const M = {};

setup(async () => {
  s = await startServer({
    config: { allow_private_fetch: "true", queue_poll_ms: "100", queue_backoff_unit_ms: "10", archive_parsers: "1", archive_parse_queue: "0", archive_uploads_per_hour: String(PER_HOUR) },
  });
  h = await startActorHost({ actors: ["ann", "ben", "cid", "dan"].map((name) => ({ name })) });
  for (const name of ["ann", "ben", "cid", "dan"]) M[name] = await joinMember(s, h, name);
});
teardown(async () => {
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const q = async (sql) => (await s.psql(sql)).trim();
const parses = async () => metricSum(parseMetrics((await request(`${s.url}/metrics`)).body), "passerelle_archive_parses");

test(`a member uploads at most ${PER_HOUR} archives an hour: then 429 with Retry-After, nothing parsed or changed`, async () => {
  for (let i = 0; i < PER_HOUR; i++) {
    const r = await linkArchive(s, M.ann, { xId: "5001", followers: [String(6000 + i)] });
    assert.equal(r.status, 200, `upload ${i + 1}: ${r.body}`);
  }
  const before = await q("SELECT string_agg(follower_x_id || '>' || followee_x_id, ',' ORDER BY 1) FROM x_edges");
  const over = await linkArchive(s, M.ann, { xId: "5001", followers: ["7000"] });
  assert.equal(over.status, 429, over.body);
  const wait = Number(over.headers["retry-after"]);
  assert.ok(wait > 3500 && wait <= 3600, `Retry-After ${over.headers["retry-after"]}`);
  assert.match(over.json().error, new RegExp(`at most ${PER_HOUR} archives an hour`));
  assert.equal(await q("SELECT string_agg(follower_x_id || '>' || followee_x_id, ',' ORDER BY 1) FROM x_edges"), before, "the refused archive changed nothing");
  assert.ok(s.events("link_archive_refused").some((e) => e.reason === "rate_limited"));
  // Refusals before the limit is looked at cost nothing: a wrong CSRF token is still 403.
  const forged = await linkArchive(s, { ...M.ann, csrf: "0".repeat(64) }, { xId: "5001" });
  assert.equal(forged.status, 403);
  // Each member has their own budget.
  assert.equal((await linkArchive(s, M.ben, { xId: "5002" })).status, 200, "another member is not held back");
});

test("with the one parser busy and no queue, another upload gets 503 with Retry-After and keeps its budget", async () => {
  const big = zipBuffer(xArchive({ username: "cid_x", accountId: "5003", followers: 600000, following: 10 }).entries);
  const slow = request(`${s.url}/link/archive`, {
    method: "POST",
    headers: { cookie: M.cid.cookie, "x-csrf-token": M.cid.csrf, "content-type": "application/zip" },
    body: big,
    timeout: 120000,
  });
  await eventually(async () => (await parses()) === 1, { timeout: 20000, what: "the big archive in the parse pool" });
  const busy = await linkArchive(s, M.dan, { xId: "5004" });
  assert.equal(busy.status, 503, busy.body);
  assert.match(busy.headers["retry-after"] ?? "", /^\d+$/);
  assert.match(busy.json().error, /parser is busy/);
  assert.equal(await parses(), 1, "the refused upload never entered the pool");
  const done = await slow;
  assert.equal(done.status, 200, done.body);
  assert.equal(done.json().followers, 600000);
  assert.equal(await parses(), 0);
  // The 503 did not count against dan's hour: all of it is still there.
  for (let i = 0; i < PER_HOUR; i++) assert.equal((await linkArchive(s, M.dan, { xId: "5004" })).status, 200, `dan's upload ${i + 1}`);
  assert.equal((await linkArchive(s, M.dan, { xId: "5004" })).status, 429);
}, { timeout: 120000 });
