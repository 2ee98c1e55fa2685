// Faults at the connection level (issue 6, item 4): slowloris against the inbox, a body
// trickled a byte at a time, oversized bodies (413 before reading, a 1 GB chunked body cut at
// the cap without being buffered), the cap on open connections, and 10,000 idle connections
// held in bounded memory while a normal request still answers. The server keeps serving
// everyone else throughout.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep, SLOW, VALGRIND } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { get, request, rawExchange } from "../lib/http.mjs";
import { parseMetrics, metricSum } from "../lib/checks.mjs";
import { openIdle, closeAll, rssKb, rawRequest, streamChunked, trickle } from "../lib/conns.mjs";
import { sqlSession } from "../lib/linkcode.mjs";

const HEADER_TIMEOUT = 2; // s
const BODY_TIMEOUT = 3; // s
const MAX_BODY = 65536;
const MAX_ARCHIVE = 8 * 1024 * 1024;
const IDLE = VALGRIND ? 1000 : 10000;
const AP = { accept: "application/activity+json" };

let s;
let sess; // a live link-page session: uploads without one are refused from their head
setup(async () => {
  s = await startServer({
    config: {
      header_timeout: HEADER_TIMEOUT,
      body_timeout: BODY_TIMEOUT,
      request_timeout: 30, // inactivity alone would hold a trickling client for this long
      max_body_bytes: MAX_BODY,
      max_archive_bytes: MAX_ARCHIVE,
    },
    // Under AddressSanitizer (make check) freed buffers wait in a quarantine of up to 256 MiB,
    // which RSS counts: the RSS bounds below are about the server's own memory.
    env: { ASAN_OPTIONS: [process.env.ASAN_OPTIONS, "quarantine_size_mb=0"].filter(Boolean).join(":") },
  });
  await s.psql("INSERT INTO members (id, actor_uri, acct, host, inbox) VALUES (1, 'https://m.example/users/up', 'up@m.example', 'm.example', 'https://m.example/users/up/inbox')");
  sess = await sqlSession(s, 1);
});
const sessionHead = () => `Cookie: ${sess.cookie}\r\nX-CSRF-Token: ${sess.csrf}\r\n`;
teardown(async () => {
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

async function metrics(srv = s) {
  return parseMetrics((await get(`${srv.url}/metrics`)).body);
}
const closedBy = (m, reason) => metricSum(m, "passerelle_http_connections_closed_total", (l) => l.reason === reason);

// Answers promptly while whatever the test runs goes on.
async function assertPrompt(what, srv = s) {
  const t0 = Date.now();
  const r = await get(`${srv.url}/actor`, AP, { timeout: 3000 * SLOW });
  assert.equal(r.status, 200, `${what}: /actor answered ${r.status}`);
  const ms = Date.now() - t0;
  assert.ok(ms < 1000 * SLOW, `${what}: /actor took ${ms} ms`);
  return ms;
}

test("slowloris against the inbox: 50 clients sending a header byte every 400 ms are cut at header_timeout, others served meanwhile", async (t) => {
  const before = closedBy(await metrics(), "header_timeout");
  const head = `POST /inbox HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/activity+json\r\nX-Slow: ${"a".repeat(200)}\r\n\r\n`;
  const clients = Array.from({ length: 50 }, () => trickle(s.port, head, { every: 400, timeout: 15000 * SLOW }));
  await sleep(1000);
  let worst = 0;
  for (let i = 0; i < 10; i++) worst = Math.max(worst, await assertPrompt("during slowloris"));
  const res = await Promise.all(clients);
  const elapsed = res.map((r) => r.elapsed).sort((a, b) => a - b);
  t.log(`cut after ${elapsed[0]}..${elapsed.at(-1)} ms having sent ${Math.min(...res.map((r) => r.sentBytes))}..${Math.max(...res.map((r) => r.sentBytes))} bytes; /actor meanwhile at most ${worst} ms`);
  for (const r of res) {
    assert.ok(r.closed, "a slowloris connection was never closed");
    assert.equal(r.status, null, "no answer to half a request");
    assert.ok(r.sentBytes < head.length, "the whole head got through");
    // The first byte goes out after 400 ms; the deadline runs from it.
    assert.ok(r.elapsed >= HEADER_TIMEOUT * 1000, `closed after ${r.elapsed} ms, before header_timeout`);
    assert.ok(r.elapsed <= (HEADER_TIMEOUT + 2) * 1000 * SLOW, `closed after ${r.elapsed} ms (header_timeout ${HEADER_TIMEOUT} s, request_timeout 30 s)`);
  }
  assert.equal(closedBy(await metrics(), "header_timeout") - before, 50, "each counted once as header_timeout");
});

test("a body trickled one byte every 400 ms is cut at body_timeout", async () => {
  const prefix = `POST /inbox HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/activity+json\r\nContent-Length: 1000\r\n\r\n`;
  const r = await trickle(s.port, "{".repeat(1000), { prefix, every: 400, timeout: 15000 * SLOW });
  assert.ok(r.closed, "never closed");
  assert.ok(r.elapsed >= BODY_TIMEOUT * 1000 - 100, `closed after ${r.elapsed} ms, before body_timeout`);
  assert.ok(r.elapsed <= (BODY_TIMEOUT + 2) * 1000 * SLOW, `closed after ${r.elapsed} ms (body_timeout ${BODY_TIMEOUT} s)`);
  assert.ok(closedBy(await metrics(), "body_timeout") >= 1);
  await assertPrompt("after a trickled body");
});

// The head alone, with a Content-Length and no body: the answer must come without the body.
async function headOnly(path, length, type = "application/activity+json", extra = "") {
  return rawExchange(s.port, `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: ${type}\r\n${extra}Content-Length: ${length}\r\n\r\n`, { timeout: 1500 * SLOW, responses: 1 });
}

test("a Content-Length over the cap is 413 before any of the body is read, on every path; the upload's cap is max_archive_bytes", async () => {
  for (const path of ["/inbox", "/actor", "/users/passerelle/inbox", "/link/consents", "/link/state", "/nowhere", "/inbox?link/archive", "/link/archive/x"]) {
    const r = await headOnly(path, MAX_BODY + 1);
    assert.equal(r.status, 413, `${path} with Content-Length ${MAX_BODY + 1}: ${r.status} ${r.data.slice(0, 80)}`);
    assert.ok(r.elapsed < 1000 * SLOW, `${path}: 413 took ${r.elapsed} ms`);
    const g = await headOnly(path, 1 << 30);
    assert.equal(g.status, 413, `${path} with Content-Length 1 GiB: ${g.status}`);
  }
  // The upload path, with a live session, waits for a body up to max_archive_bytes...
  const wait = await headOnly("/link/archive", MAX_BODY + 1, "application/zip", sessionHead());
  assert.equal(wait.status, null, `/link/archive refused ${MAX_BODY + 1} bytes before reading them: ${wait.data.slice(0, 80)}`);
  const abs = await rawExchange(s.port, `POST http://127.0.0.1:${s.port}/link/archive HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/zip\r\n${sessionHead()}Content-Length: ${MAX_BODY + 1}\r\n\r\n`, { timeout: 1000 * SLOW, responses: 1 });
  assert.equal(abs.status, null, "absolute-form upload target: the upload's cap too");
  // ... and takes it (the parser answers: this is no zip).
  const body = Buffer.alloc(MAX_BODY * 2, 0);
  const up = await request(`${s.url}/link/archive`, { method: "POST", headers: { "content-type": "application/zip", cookie: sess.cookie, "x-csrf-token": sess.csrf }, body });
  assert.equal(up.status, 400, `an upload of ${body.length} bytes: ${up.status} ${up.body}`);
  // ... and refuses more than max_archive_bytes at once.
  for (const n of [MAX_ARCHIVE + 1, 1 << 30]) {
    const big = await headOnly("/link/archive", n, "application/zip", sessionHead());
    assert.equal(big.status, 413, `/link/archive with Content-Length ${n}: ${big.status}`);
  }
  // Without a session the upload is answered from its head, whatever its length.
  for (const n of [1, MAX_BODY + 1, MAX_ARCHIVE]) {
    const none = await headOnly("/link/archive", n, "application/zip");
    assert.equal(none.status, 401, `/link/archive without a session, Content-Length ${n}: ${none.status}`);
  }
  // A body of exactly the cap passes the size check (the inbox then wants a signature).
  const exact = await request(`${s.url}/inbox`, { method: "POST", headers: { "content-type": "application/activity+json" }, body: "{" + " ".repeat(MAX_BODY - 2) + "}" });
  assert.equal(exact.status, 401, `exactly max_body_bytes: ${exact.status} ${exact.body.slice(0, 80)}`);
  await assertPrompt("after oversized Content-Lengths");
});

test("a 1 GB chunked body is cut at the cap and never buffered (RSS checked)", async (t) => {
  const pid = s.proc.pid;
  const base = rssKb(pid);
  const slack = VALGRIND ? 4 : 1;
  for (const [path, cap, type] of [
    ["/inbox", MAX_BODY, "application/activity+json"],
    ["/link/archive", MAX_ARCHIVE, "application/zip"],
  ]) {
    const headers = path === "/link/archive" ? { cookie: sess.cookie, "x-csrf-token": sess.csrf } : {};
    const r = await streamChunked(s.port, path, { pid, contentType: type, timeout: 30000 * SLOW, headers });
    t.log(`${path}: cut after ${(r.sent / 1048576).toFixed(1)} MiB sent of 1024 (cap ${cap} bytes) in ${r.elapsed} ms; RSS ${base} KiB before, peak ${r.peakKb} KiB`);
    assert.ok(r.closed, `${path}: the server never closed the connection`);
    // What was sent past the cap sat in the kernel's socket buffers, not in the server.
    assert.ok(r.sent < cap + 32 * 1048576, `${path}: ${r.sent} bytes went in before the cut`);
    assert.ok(r.peakKb - base < (cap / 1024 + 8192) * slack, `${path}: RSS grew by ${r.peakKb - base} KiB for a cap of ${cap} bytes`);
  }
  // Without a session the upload is answered from its head: 401, none of the stream kept.
  const before = rssKb(pid);
  const r = await streamChunked(s.port, "/link/archive", { pid, contentType: "application/zip", timeout: 30000 * SLOW });
  t.log(`/link/archive without a session: ${r.status} after ${(r.sent / 1048576).toFixed(1)} MiB sent in ${r.elapsed} ms; RSS peak ${r.peakKb} KiB`);
  assert.equal(r.status, 401);
  assert.ok(r.closed, "and the connection closed");
  assert.ok(r.sent < 32 * 1048576, `${r.sent} bytes went in before the close`);
  assert.ok(r.peakKb - before < 4096 * slack, `RSS grew by ${r.peakKb - before} KiB`);
  await assertPrompt("after 1 GB bodies");
});

test("10,000 idle connections are held in bounded memory, and a normal request still answers", async (t) => {
  const pid = s.proc.pid;
  await get(`${s.url}/actor`, AP);
  const base = rssKb(pid);
  const t0 = Date.now();
  const socks = await openIdle(s.port, IDLE);
  try {
    const opened = Date.now() - t0;
    await eventually(async () => metricSum(await metrics(), "passerelle_http_connections") >= IDLE, { timeout: 10000 * SLOW, what: `${IDLE} connections open` });
    const held = rssKb(pid);
    const perConn = ((held - base) * 1024) / IDLE;
    t.log(`${IDLE} idle connections opened in ${opened} ms; RSS ${base} KiB before, ${held} KiB with them (${perConn.toFixed(0)} bytes each)`);
    assert.equal(socks.filter((so) => so.closedAt !== null).length, 0, "connections under max_connections were closed");
    assert.ok(perConn < 8192 * (VALGRIND ? 4 : 1), `${perConn.toFixed(0)} bytes of RSS per idle connection`);
    const ms = await assertPrompt(`with ${IDLE} idle connections`);
    const post = await request(`${s.url}/inbox`, { method: "POST", headers: { "content-type": "application/activity+json" }, body: "{}" });
    assert.equal(post.status, 401, "the inbox answers too");
    t.log(`GET /actor with them open: ${ms} ms`);
  } finally {
    closeAll(socks);
  }
  await eventually(async () => metricSum(await metrics(), "passerelle_http_connections") <= 2, { timeout: 10000 * SLOW, what: "closed connections forgotten" });
});

test("max_connections: the oldest idle connection makes room for a new one; with none idle the new one is refused", async (t) => {
  const MAX = 32;
  const c = await startServer({ config: { max_connections: MAX, header_timeout: HEADER_TIMEOUT, request_timeout: 30 } });
  t.defer(() => c.stop());
  const idle = await openIdle(c.port, MAX);
  t.defer(() => closeAll(idle));
  await sleep(200);
  assert.equal(idle.filter((so) => so.closedAt !== null).length, 0, `${MAX} connections fit`);
  // One more: the oldest idle one goes, the newcomer is served.
  const [extra] = await openIdle(c.port, 1);
  t.defer(() => extra.destroy());
  assert.equal(await rawRequest(extra, `GET /actor HTTP/1.1\r\nHost: 127.0.0.1:${c.port}\r\nAccept: application/activity+json\r\n\r\n`), 200);
  await eventually(() => idle[0].closedAt !== null, { timeout: 2000 * SLOW, what: "the oldest idle connection closed" });
  assert.equal(idle.slice(1).filter((so) => so.closedAt !== null).length, 0, "only the oldest went");

  // Every slot busy with a request in progress (a head arriving): a newcomer is refused.
  const busy = idle.slice(1);
  for (const so of busy) so.write("GET /actor HTTP/1.1\r\n");
  extra.write("GET /actor HTTP/1.1\r\n");
  await sleep(300);
  const [late] = await openIdle(c.port, 1);
  t.defer(() => late.destroy());
  await eventually(() => late.closedAt !== null, { timeout: 2000 * SLOW, what: "the newcomer refused" });
  assert.equal(busy.filter((so) => so.closedAt !== null).length, 0, "requests in progress were kept");
  // The half-sent heads hit header_timeout; then there is room again.
  await eventually(() => busy.every((so) => so.closedAt !== null), { timeout: (HEADER_TIMEOUT + 3) * 1000 * SLOW, what: "busy heads cut at header_timeout" });
  await assertPrompt("after the cap", c);
  const m2 = parseMetrics((await get(`${c.url}/metrics`)).body);
  t.log(`evicted ${closedBy(m2, "evicted")}, refused ${closedBy(m2, "refused")}, header_timeout ${closedBy(m2, "header_timeout")}`);
  assert.ok(closedBy(m2, "evicted") >= 1 && closedBy(m2, "refused") >= 1, "both counted");
});
