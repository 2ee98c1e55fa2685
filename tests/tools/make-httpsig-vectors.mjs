// Writes tests/data/httpsig/vectors.json: requests signed by Fedify and by the openssl CLI.
//
// Run from the repository root, with @fedify/fedify 2.3.6 installed outside the repo:
//   mkdir -p /tmp/fedvec && (cd /tmp/fedvec && npm init -y && npm install @fedify/fedify@2.3.6)
//   FEDIFY_DIR=/tmp/fedvec node tests/tools/make-httpsig-vectors.mjs
// The keys (tests/data/httpsig/key-*.pem) are test-only and are never regenerated here,
// so RSA PKCS#1 v1.5 signatures, which are deterministic, come out byte-identical.
import { execFileSync } from "node:child_process";
import { createHash, webcrypto } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const fedifyDir = process.env.FEDIFY_DIR ?? "/tmp/fedvec";
const mod = (p) => pathToFileURL(join(fedifyDir, "node_modules", p)).href;
const { signRequest } = await import(mod("@fedify/fedify/dist/sig/mod.js"));
const { Temporal } = await import(mod("@js-temporal/polyfill/dist/index.esm.js"));

const dir = "tests/data/httpsig";
const TIME = 1767225600 + 12345; // 2026-01-01T03:25:45Z, the signing time of every vector
const KEY_ID = "https://peer.example/users/alice#main-key";
const BODY = JSON.stringify({
  "@context": "https://www.w3.org/ns/activitystreams",
  id: "https://peer.example/1c9a0e7e-4b8e-4c55-9d51-5b4f1b0a6c11",
  type: "Follow",
  actor: "https://peer.example/users/alice",
  object: "https://www.w3.org/ns/activitystreams#Public",
});

function pemBody(pem) {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
}

const privateKey = await webcrypto.subtle.importKey(
  "pkcs8",
  pemBody(readFileSync(join(dir, "key-a.pem"), "utf8")),
  { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
  true,
  ["sign"],
);

const vectors = [];

// The request as the C test sees it: lowercase header names, raw body, split URL.
async function record(name, source, scheme, req, body, extra = {}) {
  const url = new URL(req.url);
  const headers = {};
  for (const [k, v] of req.headers) headers[k.toLowerCase()] = v;
  vectors.push({
    name, source, scheme,
    method: req.method,
    url_scheme: url.protocol.slice(0, -1),
    authority: url.host,
    target: url.pathname + url.search,
    headers,
    body: body ?? "",
    time: TIME,
    public_key: "key-a.pub.pem",
    ...extra,
  });
}

async function fedify(name, spec, method, url, headers, body) {
  const req = new Request(url, { method, headers, body });
  const signed = await signRequest(req, privateKey, new URL(KEY_ID), {
    spec,
    currentTime: Temporal.Instant.fromEpochMilliseconds(TIME * 1000),
    body: body != null ? new TextEncoder().encode(body).buffer : undefined,
  });
  await record(name, "fedify", spec === "rfc9421" ? "rfc9421" : "cavage", signed, body);
}

await fedify("fedify-cavage-post", "draft-cavage-http-signatures-12", "POST",
  "https://relay.example/inbox", { "Content-Type": "application/activity+json" }, BODY);
await fedify("fedify-cavage-get-query", "draft-cavage-http-signatures-12", "GET",
  "https://relay.example/users/relay/outbox?page=2", { Accept: "application/activity+json" });
await fedify("fedify-rfc9421-post", "rfc9421", "POST",
  "https://relay.example/inbox", { "Content-Type": "application/activity+json" }, BODY);
await fedify("fedify-rfc9421-get-query", "rfc9421", "GET",
  "https://relay.example/users/relay/outbox?page=2", { Accept: "application/activity+json" });

// openssl dgst over a signing string written out here, independently of the C code.
const tmp = mkdtempSync(join(tmpdir(), "httpsig-"));
function opensslSign(text) {
  const f = join(tmp, "msg");
  writeFileSync(f, text);
  return execFileSync("openssl", ["dgst", "-sha256", "-sign", join(dir, "key-a.pem"), f])
    .toString("base64");
}

const date = new Date(TIME * 1000).toUTCString();
const digest = "SHA-256=" + createHash("sha256").update(BODY).digest("base64");
const contentDigest = "sha-256=:" + createHash("sha256").update(BODY).digest("base64") + ":";

function opensslCavage(name, method, target, headers, list, params, body) {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  const lines = list.split(" ").map((h) => {
    if (h === "(request-target)") return `${h}: ${method.toLowerCase()} ${target}`;
    if (h === "(created)") return `${h}: ${params.created}`;
    return `${h}: ${lower[h]}`;
  });
  const signingString = lines.join("\n");
  const parts = [`keyId="${KEY_ID}"`];
  if (params.algorithm) parts.push(`algorithm="${params.algorithm}"`);
  if (params.created) parts.push(`created=${params.created}`);
  parts.push(`headers="${list}"`, `signature="${opensslSign(signingString)}"`);
  lower.signature = parts.join(",");
  vectors.push({
    name, source: "openssl", scheme: "cavage", method,
    url_scheme: "https", authority: lower.host, target,
    headers: lower, body: body ?? "", time: TIME,
    public_key: "key-a.pub.pem", signing_string: signingString,
  });
}

// Mastodon's order: (request-target) last, query included.
opensslCavage("openssl-cavage-post-mastodon", "POST", "/inbox",
  { Host: "relay.example", Date: date, Digest: digest, "Content-Type": "application/activity+json" },
  "host date digest content-type (request-target)", { algorithm: "rsa-sha256" }, BODY);
opensslCavage("openssl-cavage-get-query", "GET", "/users/relay/outbox?page=2",
  { Host: "relay.example", Date: date, Accept: "application/activity+json" },
  "(request-target) host date accept", { algorithm: "rsa-sha256" });
opensslCavage("openssl-hs2019-created", "POST", "/inbox",
  { Host: "relay.example", Digest: digest, "Content-Type": "application/activity+json" },
  "(request-target) (created) host digest", { algorithm: "hs2019", created: TIME }, BODY);
opensslCavage("openssl-no-algorithm", "POST", "/inbox",
  { Host: "relay.example", Date: date, Digest: digest },
  "(request-target) host date digest", {}, BODY);

// RFC 9421 with every derived component we support, no alg (taken from the RSA key).
{
  const target = "/users/relay/inbox?a=1&b=two";
  const comps = ["@method", "@target-uri", "@authority", "@scheme", "@path", "@query",
    "@request-target", "content-digest", "content-type"];
  const params = `(${comps.map((c) => `"${c}"`).join(" ")});created=${TIME};keyid="${KEY_ID}"`;
  const values = {
    "@method": "POST",
    "@target-uri": "https://relay.example" + target,
    "@authority": "relay.example",
    "@scheme": "https",
    "@path": "/users/relay/inbox",
    "@query": "?a=1&b=two",
    "@request-target": target,
    "content-digest": contentDigest,
    "content-type": "application/activity+json",
  };
  const base = comps.map((c) => `"${c}": ${values[c]}`).join("\n") +
    `\n"@signature-params": ${params}`;
  vectors.push({
    name: "openssl-rfc9421-derived", source: "openssl", scheme: "rfc9421", method: "POST",
    url_scheme: "https", authority: "relay.example", target,
    headers: {
      host: "relay.example",
      "content-type": "application/activity+json",
      "content-digest": contentDigest,
      "signature-input": `sig1=${params}`,
      signature: `sig1=:${opensslSign(base)}:`,
    },
    body: BODY, time: TIME, public_key: "key-a.pub.pem", signing_string: base,
  });
}
rmSync(tmp, { recursive: true });

writeFileSync(join(dir, "vectors.json"), JSON.stringify(vectors, null, 2) + "\n");
console.log(`wrote ${vectors.length} vectors to ${join(dir, "vectors.json")}`);
