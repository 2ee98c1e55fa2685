// Archive uploads cannot take the bridge down (issue 12, item 4, threats M4): the session is
// looked up from the request's head, before a byte of its body is read (server/http/connguard.c
// holds the upload; server/members/linkhold.c asks the database), then again before anything
// is parsed; parsing runs on a fixed pool of threads with a bounded
// queue (503 with Retry-After when it is full, where there used to be one thread per upload),
// and each member may upload archive_uploads_per_hour archives (429 with Retry-After beyond).
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { test, setup, teardown, eventually, VALGRIND } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { joinMember, linkArchive } from "../lib/members.mjs";
import { request, rawExchange } from "../lib/http.mjs";
import { rssKb, streamChunked } from "../lib/conns.mjs";
import { parseMetrics, metricSum } from "../lib/checks.mjs";
import { xArchive, zipBuffer } from "../lib/xarchive.mjs";

const PER_HOUR = 3;
let s, h;
const M = {};

setup(async () => {
  s = await startServer({
    config: { allow_private_fetch: "true", queue_poll_ms: "100", queue_backoff_unit_ms: "10", archive_parsers: "1", archive_parse_queue: "0", archive_uploads_per_hour: String(PER_HOUR) },
    // Under AddressSanitizer (make check) freed buffers wait in a quarantine of up to 256 MiB,
    // which RSS counts: without it, what this file measures is the server's own memory. A
    // binary built without ASan ignores the variable.
    env: { ASAN_OPTIONS: [process.env.ASAN_OPTIONS, "quarantine_size_mb=0"].filter(Boolean).join(":") },
  });
  h = await startActorHost({ actors: ["ann", "ben", "cid", "dan"].map((name) => ({ name })) });
  for (const name of ["ann", "ben", "cid", "dan"]) M[name] = await joinMember(s, h, name);
});
teardown(async () => {
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const q = async (sql) => (await s.psql(sql)).trim();
// Anyone can make up a cookie and compute its CSRF token (an HMAC keyed by the cookie itself):
// only the database knows whether it is a session.
function forged() {
  const token = randomBytes(32).toString("hex");
  return { cookie: `passerelle_link=${token}`, csrf: createHmac("sha256", token).update("passerelle link page csrf").digest("hex") };
}
const head = (extra, length) =>
  `POST /link/archive HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/zip\r\n${extra}Content-Length: ${length}\r\n\r\n`;

test("64 MiB announced without a session, or with a made-up one: 401 from the head, before any of the body is sent", async () => {
  const SIZE = 64 * 1048576;
  const f = forged();
  for (const [what, extra, status] of [
    ["no cookie", "", 401],
    ["a made-up session with its self-made CSRF token", `Cookie: ${f.cookie}\r\nX-CSRF-Token: ${f.csrf}\r\n`, 401],
    ["a real session, a wrong CSRF token", `Cookie: ${M.ann.cookie}\r\nX-CSRF-Token: ${"0".repeat(64)}\r\n`, 403],
  ]) {
    const r = await rawExchange(s.port, head(extra, SIZE), { timeout: 5000, responses: 1 });
    assert.equal(r.status, status, `${what}: ${r.status} ${String(r.data).slice(0, 120)}`);
    assert.match(r.data, /\r\nConnection: close\r\n/i);
    const body = JSON.parse(r.data.slice(r.data.indexOf("\r\n\r\n") + 4));
    assert.equal(typeof body.error, "string", `${what}: {"error": ...}`);
    if (status === 401) assert.equal(body.bridge, `@passerelle@${new URL(s.url).host}`, "the page's usual 401");
  }
  // A live session's head is let through: the server then waits for the body.
  const live = await rawExchange(s.port, head(`Cookie: ${M.ann.cookie}\r\nX-CSRF-Token: ${M.ann.csrf}\r\n`, SIZE), { timeout: 1500, responses: 1 });
  assert.equal(live.status, null, `a live session's upload waits for its body: ${String(live.data).slice(0, 80)}`);
  assert.ok(s.events("link_archive_refused").filter((e) => e.when === "head").length >= 3);
});

test("a made-up session streaming 64 MiB: 401, then the body is dropped as it comes, the server's memory flat", async (t) => {
  const pid = s.proc.pid;
  const f = forged();
  const before = rssKb(pid);
  const r = await streamChunked(s.port, "/link/archive", { pid, limit: 64 * 1048576, contentType: "application/zip", headers: { cookie: f.cookie, "x-csrf-token": f.csrf }, timeout: 30000 });
  t.log(`401 after ${(r.sent / 1048576).toFixed(1)} MiB sent in ${r.elapsed} ms; RSS ${before} KiB before, peak ${r.peakKb} KiB`);
  assert.equal(r.status, 401);
  assert.ok(r.closed, "the connection was closed");
  // The rest of the body is read and dropped (a lingering close: the answer is not lost to a
  // reset), never kept: memory stays flat.
  // Under valgrind its allocator keeps freed blocks (--freelist-vol, 20 MB) for a while: the
  // bound there is that the 64 MiB body was never held.
  const bound = VALGRIND ? 32768 : 4096;
  assert.ok(r.peakKb - before < bound, `RSS grew by ${r.peakKb - before} KiB (bound ${bound})`);
  const m = parseMetrics((await request(`${s.url}/metrics`)).body);
  assert.ok(metricSum(m, "passerelle_http_connections_closed_total", (l) => l.reason === "upload_refused") >= 1);
});

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
