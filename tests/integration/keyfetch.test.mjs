// Key fetches cannot hold the server (issue 12, item 4; threats.md H1): POSTs whose keyIds
// point at a host that accepts connections and never answers wait at most key_fetch_timeout
// for their key, then get 503 with Retry-After; past key_fetch_max_per_host waiting on one
// key host, or key_fetch_max in all, they get 503 at once; a key host that timed out is not
// asked again for key_fetch_backoff seconds. Meanwhile every other endpoint answers, and a
// signer whose key is cached is accepted as usual. A keyId whose fetch was refused or
// unreachable is not fetched again for key_fetch_refusal_ttl seconds, and a fetch whose
// request stopped waiting at key_fetch_timeout stops then too, not at httpc's 30 s.
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { test, setup, teardown, sleep, SLOW } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { request } from "../lib/http.mjs";
import { startActorHost, signedPost, AS, PUBLIC } from "../lib/actorhost.mjs";

const TIMEOUT_S = 4 * SLOW; // key_fetch_timeout
const REFUSAL_TTL_S = 2; // key_fetch_refusal_ttl
// threats.md's recipe: max_connections 64, the caps left at their defaults, which stay
// under a quarter (one host) and half (all) of it.
const PER_HOST = 16;
const TOTAL = 32;

let s;
let h; // a live host: x signs everything, alice has her key cached
const tarpits = []; // TCP servers that accept and never answer

async function tarpit() {
  const t = { conns: 0, sockets: new Set() };
  t.server = net.createServer((sock) => {
    t.conns++;
    t.sockets.add(sock);
    sock.on("error", () => {});
    sock.on("close", () => t.sockets.delete(sock));
  });
  await new Promise((r) => t.server.listen(0, "127.0.0.1", r));
  t.url = `http://127.0.0.1:${t.server.address().port}`;
  tarpits.push(t);
  return t;
}

setup(async () => {
  s = await startServer({
    config: {
      allow_private_fetch: "true",
      max_connections: "64",
      key_fetch_timeout: String(TIMEOUT_S),
      key_fetch_backoff: "600",
      key_fetch_refusal_ttl: String(REFUSAL_TTL_S),
    },
  });
  h = await startActorHost({ actors: [{ name: "x" }, { name: "alice" }] });
  const r = await signedPost(`${s.url}/inbox`, create(h.actor("alice").id, h.url), { actor: h.actor("alice") });
  assert.equal(r.status, 202, r.body);
});

teardown(async () => {
  for (const t of tarpits) {
    for (const sock of t.sockets) sock.destroy();
    t.server.close();
  }
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code");
});

function create(actor, origin) {
  return {
    "@context": AS,
    id: `${origin}/activities/${crypto.randomUUID()}`,
    type: "Create",
    actor,
    to: [PUBLIC],
    object: { id: `${origin}/notes/${crypto.randomUUID()}`, type: "Note", attributedTo: actor, content: "hi", to: [PUBLIC] },
  };
}

// A POST signed (by any key: nobody will ever verify it) with keyId i on tarpit t; resolves
// {status, retryAfter, ms} or {error, ms}.
async function onTarpit(t, i) {
  const t0 = Date.now();
  try {
    const r = await signedPost(`${s.url}/inbox`, create(`${t.url}/u/${i}`, t.url), {
      keyId: `${t.url}/k/${i}#k`,
      privateKey: h.actor("x").privateKey,
      timeout: (TIMEOUT_S + 20) * 1000,
    });
    return { status: r.status, retryAfter: r.headers["retry-after"], ms: Date.now() - t0 };
  } catch (e) {
    return { error: e.message, ms: Date.now() - t0 };
  }
}

test("keyIds on hosts that never answer: the other endpoints stay up, every POST gets 503 with Retry-After, the caps answer at once", async (t) => {
  const t1 = await tarpit();
  const t2 = await tarpit();
  const posts = [];
  // Spread over a second, as an attacker who keeps max_connections busy would: a refusal
  // that comes at once frees its connection for the next POST.
  for (let i = 0; i < 80; i++) {
    posts.push(onTarpit(t1, i));
    await sleep(10);
  }
  for (let i = 0; i < 20; i++) {
    posts.push(onTarpit(t2, i));
    await sleep(10);
  }
  await sleep(500);

  // Some fetches are still waiting (the deadline is not reached), yet the server answers.
  const t0 = Date.now();
  const actor = await request(`${s.url}/actor`, { timeout: 3000, headers: { accept: "application/activity+json" } });
  assert.equal(actor.status, 200);
  t.log(`/actor answered in ${Date.now() - t0} ms with requests waiting for keys`);
  const alice = h.actor("alice");
  const ok = await signedPost(`${s.url}/inbox`, create(alice.id, h.url), { actor: alice, timeout: 3000 });
  assert.equal(ok.status, 202, `a cached signer while others wait: ${ok.body}`);

  const res = await Promise.all(posts);
  const errors = res.filter((r) => r.error);
  assert.deepEqual(errors, [], "every POST was answered");
  for (const r of res) {
    assert.equal(r.status, 503);
    assert.ok(Number(r.retryAfter) > 0, `Retry-After: ${r.retryAfter}`);
    assert.ok(r.ms < (TIMEOUT_S + 5) * 1000, `answered ${r.ms} ms after it was sent`);
  }
  const fast = (rs) => rs.filter((r) => r.ms < (TIMEOUT_S * 1000) / 2).length;
  const first = res.slice(0, 80);
  const second = res.slice(80);
  t.log(`host 1: ${fast(first)} of 80 at once; host 2: ${fast(second)} of 20 at once`);
  // The per-host cap: at most PER_HOST wait on host 1, the rest are refused at once.
  assert.equal(80 - fast(first), PER_HOST, "host 1: waited for the deadline");
  // The cap in all: host 2 gets what is left of it.
  assert.equal(20 - fast(second), TOTAL - PER_HOST, "host 2: waited for the deadline");
});

test("a key host that timed out is not asked again for a while: 503 at once, nothing fetched", async () => {
  // Hangs while `hang` is set, then answers every GET with a 404.
  const seen = [];
  let hang = true;
  const held = new Set();
  const srv = http.createServer((req, res) => {
    seen.push(req.url);
    if (hang) return held.add(res);
    res.writeHead(404, { "content-type": "application/json" }).end("{}");
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${srv.address().port}`;
  try {
    const sign = (i) =>
      signedPost(`${s.url}/inbox`, create(`${url}/u/${i}`, url), { keyId: `${url}/u/${i}#k`, privateKey: h.actor("x").privateKey, timeout: (TIMEOUT_S + 40) * 1000 });
    let t0 = Date.now();
    const r1 = await sign(1);
    const waited = Date.now() - t0;
    assert.equal(r1.status, 503);
    assert.ok(waited < (TIMEOUT_S + 3) * 1000, `the first POST waited ${waited} ms`);
    assert.deepEqual(seen, ["/u/1"]);
    hang = false; // the host is fine again, but inside key_fetch_backoff nobody asks it
    t0 = Date.now();
    const r2 = await sign(2);
    assert.equal(r2.status, 503, r2.body);
    assert.ok(Number(r2.headers["retry-after"]) > 0);
    assert.ok(Date.now() - t0 < 1000 * SLOW, `the second POST waited ${Date.now() - t0} ms`);
    assert.deepEqual(seen, ["/u/1"], "the host was asked again");
  } finally {
    for (const res of held) res.destroy();
    srv.close();
  }
});

test("a dead keyId is fetched once: the next POST naming it answers at once, until key_fetch_refusal_ttl ends", async () => {
  // Answers every GET with a 503, as a server that is down behind its proxy.
  const seen = [];
  const srv = http.createServer((req, res) => {
    seen.push(req.url);
    res.writeHead(503, { "content-type": "text/plain" }).end("down");
  });
  await new Promise((r) => srv.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${srv.address().port}`;
  try {
    const sign = () =>
      signedPost(`${s.url}/inbox`, create(`${url}/u/dead`, url), { keyId: `${url}/u/dead#k`, privateKey: h.actor("x").privateKey, timeout: (TIMEOUT_S + 10) * 1000 });
    const r1 = await sign();
    assert.equal(r1.status, 503, r1.body);
    assert.deepEqual(seen, ["/u/dead"]);
    const t0 = Date.now();
    const r2 = await sign();
    assert.equal(r2.status, 503, r2.body);
    assert.ok(Number(r2.headers["retry-after"]) > 0);
    assert.ok(Date.now() - t0 < 1000 * SLOW, `the second POST waited ${Date.now() - t0} ms`);
    assert.deepEqual(seen, ["/u/dead"], "the dead keyId was fetched a second time");
    await sleep(REFUSAL_TTL_S * 1000 + 1200);
    const r3 = await sign();
    assert.equal(r3.status, 503, r3.body);
    assert.deepEqual(seen, ["/u/dead", "/u/dead"], "once key_fetch_refusal_ttl ended, it is asked again");
  } finally {
    srv.close();
  }
});

test("a key fetch ends at key_fetch_timeout with the POST that waited for it, not at httpc's 30 s", async () => {
  const t = await tarpit();
  const closed = [];
  t.server.on("connection", (sock) => {
    const t0 = Date.now();
    sock.resume(); // reads, so that the peer's FIN is seen
    sock.on("close", () => closed.push(Date.now() - t0));
  });
  const r = await onTarpit(t, "deadline");
  assert.equal(r.status, 503);
  // The fetch's connection is closed by passerelle within moments of the deadline.
  const until = Date.now() + 6000 * SLOW;
  while (closed.length === 0 && Date.now() < until) await sleep(100);
  assert.equal(t.conns, 1, "one fetch");
  assert.equal(closed.length, 1, "the fetch still holds its connection well after the POST's 503");
  assert.ok(closed[0] < (TIMEOUT_S + 3) * 1000, `the fetch's connection lived ${closed[0]} ms`);
});

test("metrics: the refusals are counted as unreachable keys", async () => {
  const m = await request(`${s.url}/metrics`);
  assert.match(m.body, /passerelle_inbox_requests_total\{result="key_unreachable"\} (\d+)/);
  const n = Number(m.body.match(/passerelle_inbox_requests_total\{result="key_unreachable"\} (\d+)/)[1]);
  assert.ok(n >= 101, `key_unreachable: ${n}`);
});
