// The path closest to real Mastodon: the C server on https with a self-signed certificate,
// Fedify trusting it through NODE_EXTRA_CA_CERTS and no https->http shim.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startPeer } from "../lib/peer.mjs";
import { get } from "../lib/http.mjs";
import { spki } from "../lib/checks.mjs";

const dir = mkdtempSync(path.join(os.tmpdir(), "passerelle-itls-"));
const cert = path.join(dir, "tls.crt");
const key = path.join(dir, "tls.key");
let s;
let peer;
let host;

setup(async () => {
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert], { stdio: "ignore" });
  const ca = readFileSync(cert);
  s = await startServer({ config: { tls_cert: cert, tls_key: key }, ca });
  host = new URL(s.url).host;
  peer = await startPeer({ user: "carol", env: { PEER_HTTPS_SHIM: "0", NODE_EXTRA_CA_CERTS: cert } });
});
teardown(async () => {
  try {
    if (peer) await peer.stop();
    if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const [handle, id, type] of [
  ["relay", "/actor", "Application"],
  ["passerelle", "/users/passerelle", "Service"],
]) {
  test(`Fedify resolves acct:${handle}@HOST:PORT over real https`, async () => {
    const res = await peer.lookup(`acct:${handle}@${host}`);
    assert.equal(res.found, true, `${res.error ?? ""} ${JSON.stringify(res.requests)}`);
    assert.equal(res.actor.id, s.url + id);
    assert.ok(res.actor.id.startsWith("https://"));
    assert.equal(res.actor.type, type);
    assert.equal(res.actor.preferredUsername, handle);
    for (const r of res.requests) {
      assert.ok(r.url.startsWith("https://127.0.0.1:"), `not https: ${r.url}`);
      assert.equal(r.status, 200, `${r.url}: ${r.status} ${r.error ?? ""}`);
    }
    const raw = (await get(s.url + id, { accept: "application/activity+json" }, { ca: readFileSync(cert) })).json();
    assert.equal(spki(res.actor.publicKey.spkiPem).der, spki(raw.publicKey.publicKeyPem).der);
  });
}

test("Fedify fetches the relay actor over https with a signed GET", async () => {
  const res = await peer.lookup(`${s.url}/actor`, { signed: true });
  assert.equal(res.found, true, `${res.error ?? ""} ${JSON.stringify(res.requests)}`);
  assert.equal(res.actor.inbox, `${s.url}/inbox`);
  assert.ok(res.requests.some((r) => r.signature !== null && r.status === 200), JSON.stringify(res.requests));
});
