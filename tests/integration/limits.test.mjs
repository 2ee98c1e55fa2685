// Request limits: body size (413), header count and size, malformed requests, slow
// clients cut after request_timeout; the server keeps serving everyone else throughout.
import assert from "node:assert/strict";
import { test, setup, teardown, SLOW } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { request, get, rawExchange } from "../lib/http.mjs";

const MAX_BODY = 4096;
const MAX_HEADERS = 30;
const MAX_HEADER_BYTES = 8192;
const REQUEST_TIMEOUT = 2; // seconds

let s;
setup(async () => {
  s = await startServer({
    config: {
      max_body_bytes: MAX_BODY,
      max_headers: MAX_HEADERS,
      max_header_bytes: MAX_HEADER_BYTES,
      request_timeout: REQUEST_TIMEOUT,
    },
  });
});
teardown(async () => {
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

async function assertServing(what) {
  assert.ok(s.alive(), `${what}: the server process died`);
  const r = await get(`${s.url}/actor`, { accept: "application/activity+json" }, { timeout: 3000 * SLOW });
  assert.equal(r.status, 200, `${what}: /actor answered ${r.status}`);
}

const activity = (size) => {
  const base = { "@context": "https://www.w3.org/ns/activitystreams", type: "Create", pad: "" };
  const empty = JSON.stringify(base).length;
  base.pad = "x".repeat(Math.max(0, size - empty));
  const text = JSON.stringify(base);
  assert.equal(Buffer.byteLength(text), Math.max(size, empty));
  return text;
};

for (const inbox of ["/inbox", "/users/passerelle/inbox"]) {
  test(`POST ${inbox} with a body over max_body_bytes is 413`, async () => {
    const r = await request(s.url + inbox, {
      method: "POST",
      headers: { "content-type": "application/activity+json" },
      body: activity(MAX_BODY + 1),
    });
    assert.equal(r.status, 413, `body of ${MAX_BODY + 1} bytes: ${r.status} ${r.body.slice(0, 200)}`);
    const big = await request(s.url + inbox, {
      method: "POST",
      headers: { "content-type": "application/activity+json" },
      body: activity(MAX_BODY * 50),
    });
    assert.equal(big.status, 413, `body of ${MAX_BODY * 50} bytes`);
    await assertServing("after 413");
  });
}

test("a body of exactly max_body_bytes is not refused for its size", async () => {
  const r = await request(`${s.url}/inbox`, {
    method: "POST",
    headers: { "content-type": "application/activity+json" },
    body: activity(MAX_BODY),
  });
  assert.notEqual(r.status, 413, "exactly the limit must pass the size check");
  // Unsigned, so the inbox must refuse it for that reason instead (never accept it).
  assert.ok(r.status >= 400 && r.status < 500, `unsigned POST /inbox answered ${r.status}`);
});

test("a chunked body over max_body_bytes is refused (413 or closed)", async () => {
  const chunk = "x".repeat(1000);
  const parts = [{ data: `POST /inbox HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/activity+json\r\nTransfer-Encoding: chunked\r\n\r\n` }];
  for (let i = 0; i < 10; i++) parts.push({ data: `${chunk.length.toString(16)}\r\n${chunk}\r\n` });
  parts.push({ data: "0\r\n\r\n" });
  const r = await rawExchange(s.port, parts, { timeout: 5000 * SLOW });
  assert.ok(r.status === 413 || (r.status === null && r.closed), `chunked oversize: status ${r.status} closed ${r.closed} ${r.data.slice(0, 200)}`);
  await assertServing("after chunked oversize");
});

test("a Content-Length over the limit is refused before the body is sent", async () => {
  const r = await rawExchange(
    s.port,
    `POST /inbox HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/activity+json\r\nContent-Length: 999999999\r\n\r\n{`,
    { timeout: 5000 * SLOW },
  );
  assert.ok(r.status === 413 || (r.status === null && r.closed), `status ${r.status} closed ${r.closed}`);
  assert.ok(r.elapsed < 4000 * SLOW, `took ${r.elapsed} ms (must not wait for the body)`);
  await assertServing("after huge Content-Length");
});

function headerBlock(n, valueSize = 10) {
  let h = "";
  for (let i = 0; i < n; i++) h += `X-Test-${i}: ${"v".repeat(valueSize)}\r\n`;
  return h;
}

test("more headers than max_headers is refused (400/431 or closed)", async () => {
  const ok = await rawExchange(s.port, `GET /actor HTTP/1.1\r\nHost: x\r\n${headerBlock(MAX_HEADERS - 5)}\r\n`, { timeout: 5000 * SLOW, responses: 1 });
  assert.equal(ok.status, 200, `${MAX_HEADERS - 5} extra headers: ${ok.data.slice(0, 100)}`);
  const r = await rawExchange(s.port, `GET /actor HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headerBlock(MAX_HEADERS * 4)}\r\n`, { timeout: 5000 * SLOW });
  assert.ok(r.status === 400 || r.status === 431 || (r.status === null && r.closed), `too many headers: status ${r.status} ${r.data.slice(0, 100)}`);
  await assertServing("after too many headers");
});

test("headers over max_header_bytes are refused (400/431 or closed)", async () => {
  const r = await rawExchange(s.port, `GET /actor HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ${"a".repeat(MAX_HEADER_BYTES * 2)}\r\n\r\n`, { timeout: 5000 * SLOW });
  assert.ok(r.status === 400 || r.status === 431 || (r.status === null && r.closed), `big header: status ${r.status} ${r.data.slice(0, 100)}`);
  const many = await rawExchange(s.port, `GET /actor HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${headerBlock(MAX_HEADERS - 5, 1000)}\r\n`, { timeout: 5000 * SLOW });
  assert.ok(many.status === 400 || many.status === 431 || (many.status === null && many.closed), `${(MAX_HEADERS - 5) * 1000} header bytes: status ${many.status}`);
  await assertServing("after big headers");
});

test("a very long URL is refused without harm", async () => {
  const r = await rawExchange(s.port, `GET /actor?${"q".repeat(MAX_HEADER_BYTES * 4)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, { timeout: 5000 * SLOW });
  assert.ok([400, 414, 431].includes(r.status) || (r.status === null && r.closed), `long URL: status ${r.status}`);
  await assertServing("after a long URL");
});

test("garbage and malformed request lines are refused", async () => {
  for (const bad of [
    "HELLO\r\n\r\n",
    "GET\r\n\r\n",
    "GET /actor HTTP/9.9\r\nHost: x\r\n\r\n",
    "GET /actor HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
    "\x00\x01\x02\x03\xff\xfe\r\n\r\n",
    "POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    "POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
  ]) {
    const r = await rawExchange(s.port, bad, { timeout: 5000 * SLOW });
    assert.ok(r.status === null ? r.closed : r.status >= 400 && r.status < 500, `${JSON.stringify(bad)}: status ${r.status} closed ${r.closed}`);
  }
  await assertServing("after garbage");
});

test("a client that sends half a request and stalls is cut after request_timeout", async () => {
  const stall = rawExchange(s.port, `GET /actor HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nX-Slow: 1\r\n`, { timeout: (REQUEST_TIMEOUT + 8) * 1000 * SLOW });
  // While it stalls, everyone else is served promptly.
  await new Promise((r) => setTimeout(r, 300));
  const t0 = Date.now();
  await assertServing("during a stalled client");
  assert.ok(Date.now() - t0 < 1500 * SLOW, "a stalled client must not delay other requests");
  const r = await stall;
  assert.ok(r.closed, `the stalled connection was not closed within ${REQUEST_TIMEOUT + 8} s`);
  assert.ok(r.elapsed >= (REQUEST_TIMEOUT - 0.5) * 1000, `closed after ${r.elapsed} ms: earlier than request_timeout`);
  assert.ok(r.elapsed <= (REQUEST_TIMEOUT + 4) * 1000 * SLOW, `closed after ${r.elapsed} ms (request_timeout ${REQUEST_TIMEOUT} s)`);
  assert.ok(r.status === null || r.status === 408 || r.status === 400, `stalled client got ${r.status}`);
});

test("a client that stalls in the middle of a body is cut after request_timeout", async () => {
  const r = await rawExchange(
    s.port,
    `POST /inbox HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nContent-Type: application/activity+json\r\nContent-Length: 100\r\n\r\n{"type":`,
    { timeout: (REQUEST_TIMEOUT + 8) * 1000 * SLOW },
  );
  assert.ok(r.closed, "the connection was not closed");
  assert.ok(r.elapsed >= (REQUEST_TIMEOUT - 0.5) * 1000, `closed after ${r.elapsed} ms`);
  assert.ok(r.elapsed <= (REQUEST_TIMEOUT + 4) * 1000 * SLOW, `closed after ${r.elapsed} ms`);
  assert.ok(r.status === null || r.status === 408 || r.status === 400, `stalled body got ${r.status}`);
  await assertServing("after a stalled body");
});

test("a silent connection (no bytes at all) is closed too", async () => {
  const r = await rawExchange(s.port, [], { timeout: (REQUEST_TIMEOUT + 8) * 1000 * SLOW });
  assert.ok(r.closed, "an idle connection that never sent a byte stays open forever");
  assert.ok(r.elapsed <= (REQUEST_TIMEOUT + 4) * 1000 * SLOW, `closed after ${r.elapsed} ms`);
});

test("many stalled clients at once do not stop the server from serving", async () => {
  const stalls = [];
  for (let i = 0; i < 40; i++) {
    stalls.push(rawExchange(s.port, `GET /actor HTTP/1.1\r\nHost: x\r\n`, { timeout: (REQUEST_TIMEOUT + 8) * 1000 * SLOW }));
  }
  await new Promise((r) => setTimeout(r, 300));
  await assertServing("with 40 stalled clients");
  const results = await Promise.all(stalls);
  assert.ok(results.every((r) => r.closed), "every stalled client is eventually cut");
  await assertServing("after 40 stalled clients");
});

test("keep-alive: several requests on one connection", async () => {
  const req = `GET /actor HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nAccept: application/activity+json\r\n\r\n`;
  const r = await rawExchange(s.port, [{ data: req }, { data: req, delay: 200 }, { data: req, delay: 200 }], { timeout: 5000 * SLOW, responses: 3 });
  assert.equal(r.responses, 3, `three complete answers on one connection: ${r.data.slice(0, 300)}`);
  assert.equal((r.data.match(/HTTP\/1\.1 200 OK\r\n/g) ?? []).length, 3);
  // Pipelined: all three sent at once.
  const p = await rawExchange(s.port, req + req + req, { timeout: 5000 * SLOW, responses: 3 });
  assert.equal(p.responses, 3, `three pipelined answers: ${p.data.slice(0, 300)}`);
});

test("the server survived everything and still serves every endpoint", async () => {
  await assertServing("at the end");
  for (const p of ["/users/passerelle", "/.well-known/nodeinfo", "/metrics", "/"]) {
    assert.equal((await get(s.url + p)).status, 200, p);
  }
});
