// HTTPS on loopback with a self-signed certificate made for the test.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { X509Certificate } from "node:crypto";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { test, setup, teardown, SLOW } from "../lib/harness.mjs";
import { startServer, createServer } from "../lib/server.mjs";
import { get, request, rawExchange, mediaType } from "../lib/http.mjs";

const dir = mkdtempSync(path.join(os.tmpdir(), "passerelle-tls-"));
const cert = path.join(dir, "tls.crt");
const key = path.join(dir, "tls.key");
let ca;
let s;

setup(async () => {
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
  ca = readFileSync(cert);
  s = await startServer({ config: { tls_cert: cert, tls_key: key, request_timeout: 3 }, ca });
});
teardown(async () => {
  try {
    if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const AP = "application/activity+json";

test("the base URL is https and /actor is served over TLS", async () => {
  assert.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const r = await get(`${s.url}/actor`, { accept: AP }, { ca });
  assert.equal(r.status, 200);
  assert.equal(mediaType(r.headers["content-type"]), AP);
  const j = r.json();
  assert.equal(j.id, `${s.url}/actor`);
  assert.equal(j.inbox, `${s.url}/inbox`);
  assert.equal(j.type, "Application");
});

test("the certificate presented is the configured one", async () => {
  const peer = await new Promise((resolve, reject) => {
    const sock = tls.connect({ host: "127.0.0.1", port: s.port, ca }, () => {
      const c = sock.getPeerX509Certificate();
      const proto = sock.getProtocol();
      sock.end();
      resolve({ c, proto });
    });
    sock.on("error", reject);
  });
  assert.equal(peer.c.fingerprint256, new X509Certificate(ca).fingerprint256);
  assert.ok(["TLSv1.2", "TLSv1.3"].includes(peer.proto), `protocol ${peer.proto}`);
});

test("WebFinger, NodeInfo, host-meta, / and /metrics over https", async () => {
  const host = new URL(s.url).host;
  const wf = await get(`${s.url}/.well-known/webfinger?resource=acct:relay@${host}`, {}, { ca });
  assert.equal(wf.status, 200);
  assert.equal(wf.json().subject, `acct:relay@${host}`);
  assert.equal(wf.json().links.find((l) => l.rel === "self").href, `${s.url}/actor`);
  const wk = await get(`${s.url}/.well-known/nodeinfo`, {}, { ca });
  assert.equal(wk.json().links.find((l) => l.rel.endsWith("/2.0")).href, `${s.url}/nodeinfo/2.0`);
  const hm = await get(`${s.url}/.well-known/host-meta`, {}, { ca });
  assert.ok(hm.body.includes(`template="${s.url}/.well-known/webfinger?resource={uri}"`), hm.body);
  for (const p of ["/nodeinfo/2.0", "/", "/metrics", "/users/passerelle"]) {
    assert.equal((await get(s.url + p, {}, { ca })).status, 200, p);
  }
  assert.equal((await get(`${s.url}/nope`, {}, { ca })).status, 404);
});

test("a client that does not trust the certificate fails the handshake", async () => {
  await assert.rejects(get(`${s.url}/actor`, {}, { timeout: 5000 }), /self[- ]signed|unable to verify|certificate/i);
});

test("plain http to the TLS port gets no HTTP answer, and the server survives", async () => {
  const r = await rawExchange(s.port, `GET /actor HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nConnection: close\r\n\r\n`, { timeout: 4000 * SLOW });
  assert.ok(!/^HTTP\/1\.[01] 200/.test(r.data), "served plain http on the TLS port");
  assert.ok(s.alive());
  assert.equal((await get(`${s.url}/actor`, {}, { ca })).status, 200);
});

test("a TLS client that stalls after the handshake is cut and others are served", async () => {
  const stall = rawExchange(s.port, `GET /actor HTTP/1.1\r\nHost: x\r\n`, { timeout: 12000 * SLOW, tlsOpts: { ca } });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await get(`${s.url}/actor`, {}, { ca, timeout: 3000 * SLOW })).status, 200);
  const r = await stall;
  assert.ok(r.closed, `stalled TLS client kept for ${r.elapsed} ms (request_timeout 3 s)`);
  assert.ok(r.elapsed >= 2500 && r.elapsed <= 8000 * SLOW, `cut after ${r.elapsed} ms (request_timeout 3 s)`);
});

test("several requests on one TLS connection (keep-alive)", async () => {
  const req = `GET /actor HTTP/1.1\r\nHost: 127.0.0.1:${s.port}\r\nAccept: ${AP}\r\n\r\n`;
  const r = await rawExchange(s.port, [{ data: req }, { data: req, delay: 100 }, { data: req, delay: 100 }], { timeout: 5000 * SLOW, tlsOpts: { ca }, responses: 3 });
  assert.equal(r.responses, 3, r.data.slice(0, 300));
  assert.equal((r.data.match(/HTTP\/1\.1 200 OK\r\n/g) ?? []).length, 3, r.data.slice(0, 300));
});

test("Connection: close over TLS is answered before the close", async () => {
  const r = await request(`${s.url}/actor`, { ca, close: true, headers: { accept: AP } });
  assert.equal(r.status, 200);
  assert.equal(r.json().id, `${s.url}/actor`);
});

test("a missing tls_cert file stops the start and names it", async (t) => {
  const bad = await createServer({ config: { tls_cert: path.join(dir, "missing.crt"), tls_key: key } });
  t.defer(() => bad.stop());
  assert.equal((await bad.migrate()).code, 0);
  await assert.rejects(bad.start({ timeout: 10000 }), /exited before listening/);
  assert.notEqual(bad.exitCode, 0);
  assert.match(bad.stderr(), /tls_cert|missing\.crt/);
});

test("a key that does not match the certificate stops the start", async (t) => {
  const otherKey = path.join(dir, "other.key");
  execFileSync("openssl", ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", otherKey], { stdio: "ignore" });
  const bad = await createServer({ config: { tls_cert: cert, tls_key: otherKey } });
  t.defer(() => bad.stop());
  assert.equal((await bad.migrate()).code, 0);
  await assert.rejects(bad.start({ timeout: 10000 }), /exited before listening/);
  assert.notEqual(bad.exitCode, 0);
  assert.match(bad.stderr(), /tls_key|tls_cert|match/i);
});

test("tls_cert without tls_key is a config error naming tls_key", async (t) => {
  const bad = await createServer({ config: { tls_cert: cert } });
  t.defer(() => bad.stop());
  const r = await bad.migrate();
  // Either the config check refuses it everywhere (exit 1), or serve does.
  if (r.code === 0) {
    await assert.rejects(bad.start({ timeout: 10000 }), /exited before listening/);
    assert.match(bad.stderr(), /tls_key/);
  } else {
    assert.equal(r.code, 1);
    assert.match(r.stderr, /tls_key/);
  }
});

// Under https the session cookie is __Host-passerelle_link: Secure, Path=/, no Domain, so a
// sibling subdomain can neither set nor shadow it (plain http keeps the bare name: linkflow).
test("under https the session cookie has the __Host- prefix, and only that name opens the session", async () => {
  const code = "c0de".repeat(8);
  await s.psql(
    "INSERT INTO members (id, actor_uri, acct, host, inbox) VALUES (9001, 'https://m.example/users/tess', 'tess@m.example', 'm.example', 'https://m.example/users/tess/inbox');" +
      ` INSERT INTO link_codes (hash, member_id, expires_at) VALUES (sha256('${code}'::bytea), 9001, now() + interval '1 day');`,
  );
  const page = await request(`${s.url}/link/${code}`, { ca });
  assert.equal(page.status, 200);
  assert.match(page.body, /Continue as @tess@m\.example/);
  const r = await request(`${s.url}/link/${code}`, { ca, method: "POST", headers: { origin: s.url }, body: "" });
  assert.equal(r.status, 303, r.body);
  const set = r.headers["set-cookie"]?.[0] ?? "";
  assert.match(set, /^__Host-passerelle_link=[0-9a-f]{64}; /);
  assert.match(set, /; Path=\/;/);
  assert.match(set, /; Secure/);
  assert.doesNotMatch(set, /Domain=/i);
  const value = set.split(";")[0].split("=")[1];
  assert.equal((await request(`${s.url}/link/state`, { ca, headers: { cookie: `__Host-passerelle_link=${value}` } })).status, 200);
  assert.equal((await request(`${s.url}/link/state`, { ca, headers: { cookie: `passerelle_link=${value}` } })).status, 401, "the bare name is not read under https");
});

// The upload is held from its head until the session is known (connguard + linkhold): over TLS
// the held bytes sit in the TLS bufferevent, and a release must still let the body through.
test("over TLS an upload is refused from its head without a session, and read with one", async () => {
  const none = await request(`${s.url}/link/archive`, { ca, method: "POST", headers: { "content-type": "application/zip" }, body: Buffer.alloc(200000) });
  assert.equal(none.status, 401, none.body);
  assert.ok(typeof none.json().bridge === "string");
  const code = "d0d0".repeat(8);
  await s.psql(`INSERT INTO link_codes (hash, member_id, expires_at) VALUES (sha256('${code}'::bytea), 9001, now() + interval '1 day')`);
  const r = await request(`${s.url}/link/${code}`, { ca, method: "POST", headers: { origin: s.url }, body: "" });
  const cookie = r.headers["set-cookie"][0].split(";")[0];
  const st = await request(`${s.url}/link/state`, { ca, headers: { cookie } });
  const up = await request(`${s.url}/link/archive`, { ca, method: "POST", headers: { "content-type": "application/zip", cookie, "x-csrf-token": st.json().csrf }, body: Buffer.alloc(200000) });
  assert.equal(up.status, 400, `the body was read and parsed (no zip): ${up.status} ${up.body}`);
});
