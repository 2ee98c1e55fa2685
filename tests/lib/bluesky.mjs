// Bluesky sign-in against the reference PDS (tests/lib/pds.mjs): passerelle as a confidential
// atproto OAuth client needs an https client_id on a public-looking name. So passerelle runs
// with native TLS and a certificate from a test CA for BRIDGE_NAME, and that name resolves to
// 127.0.0.1 inside the PDS's process (startPds hosts + caFile) and in these helpers' requests.
//
//   const ca = makeCa();                                   // { dir, caFile, ca, cert, key }
//   const pds = await startPds({ hosts: bridgeHosts(), caFile: ca.caFile });
//   const s = await startBridge(pds, ca);                  // passerelle at https://BRIDGE_NAME:PORT
//   const alice = await pds.createAccount("alice");
//   const x = await signIn(s, pds, ca, alice);             // start -> PDS pages' API -> callback
//   x.session ("name=value"), x.browser (pre-session cookie), x.back (the callback URL)
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { onExit } from "./harness.mjs";
import { request } from "./http.mjs";
import { freePort, startServer } from "./server.mjs";

// Not under .test/.local/.example/.invalid/.localhost, which the PDS refuses for a client_id.
export const BRIDGE_NAME = "bridge.passerelle-tests.org";

export const bridgeHosts = () => ({ [BRIDGE_NAME]: "127.0.0.1" });

// A test CA and a certificate for BRIDGE_NAME it signed, in a temporary folder.
export function makeCa() {
  const dir = mkdtempSync(path.join(os.tmpdir(), "passerelle-ca-"));
  onExit(() => rmSync(dir, { recursive: true, force: true }));
  const f = (n) => path.join(dir, n);
  const ssl = (...args) => execFileSync("openssl", args, { stdio: "ignore" });
  ssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=passerelle test CA", "-keyout", f("ca.key"), "-out", f("ca.pem"));
  ssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", `/CN=${BRIDGE_NAME}`, "-keyout", f("tls.key"), "-out", f("tls.csr"));
  writeFileSync(f("san.ext"), `subjectAltName=DNS:${BRIDGE_NAME}\n`);
  ssl("x509", "-req", "-in", f("tls.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", f("san.ext"), "-out", f("tls.crt"));
  return { dir, caFile: f("ca.pem"), ca: readFileSync(f("ca.pem")), cert: f("tls.crt"), key: f("tls.key") };
}

// passerelle on https://BRIDGE_NAME:PORT (listening on 127.0.0.1), resolving identities through
// pds's PLC directory and its /.well-known/atproto-did, allowed to reach loopback.
export async function startBridge(pds, ca, { config = {}, share = null } = {}) {
  const port = share ? share.port : await freePort();
  return startServer({
    share,
    config: {
      ...(share ? {} : {
        listen_port: port,
        base_url: `https://${BRIDGE_NAME}:${port}`,
        tls_cert: ca.cert,
        tls_key: ca.key,
        allow_private_fetch: "true",
        plc_url: pds.plcUrl,
        atproto_handle_origin: pds.url,
      }),
      ...config,
    },
  });
}

// BRIDGE_NAME is 127.0.0.1 for these requests.
const lookup = (name, opts, cb) => {
  if (typeof opts === "function") cb = opts;
  if (name === BRIDGE_NAME) {
    if (opts && opts.all) cb(null, [{ address: "127.0.0.1", family: 4 }]);
    else cb(null, "127.0.0.1", 4);
    return;
  }
  import("node:dns").then((dns) => dns.lookup(name, opts, cb));
};

// A request to passerelle (path or absolute URL) as a browser with cookie would send it.
export function bridge(s, ca, target, { cookie, headers = {}, ...opts } = {}) {
  const url = target.startsWith("http") ? target : `${s.url}${target}`;
  return request(url, { ...opts, ca: ca.ca, lookup, headers: { ...(cookie ? { cookie } : {}), ...headers } });
}

// The value of cookie name among a response's Set-Cookie headers ("" when it clears it).
export function setCookie(r, name) {
  for (const c of [r.headers["set-cookie"] ?? []].flat()) {
    const m = new RegExp(`^(?:__Host-)?${name}=([^;]*)`).exec(c);
    if (m) return m[1];
  }
  return undefined;
}

// The PDS's own sign-in and consent, through the JSON API its pages use (internal to
// @atproto/oauth-provider 0.x; the browser test drives the pages themselves). Resolves the
// URL the PDS sends the browser back to.
export async function pdsApprove(pds, authorizeUrl, account) {
  const jar = new Map();
  const keep = (h) => {
    for (const c of [h["set-cookie"] ?? []].flat()) {
      const [nv] = c.split(";");
      const i = nv.indexOf("=");
      jar.set(nv.slice(0, i).trim(), nv.slice(i + 1).trim());
    }
  };
  const raw = (url, { method = "GET", headers = {}, body } = {}) =>
    new Promise((resolve, reject) => {
      const req = http.request(url, { method, headers }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString() }));
      });
      req.on("error", reject);
      req.end(body);
    });
  const page = await raw(authorizeUrl, {
    headers: { "sec-fetch-mode": "navigate", "sec-fetch-dest": "document", "sec-fetch-site": "cross-site", "user-agent": "Mozilla/5.0 (passerelle tests)" },
  });
  assert.equal(page.status, 200, `the PDS's authorization page: ${page.status} ${page.text.slice(0, 300)}`);
  keep(page.headers);
  const origin = new URL(authorizeUrl).origin;
  const api = async (endpoint, body) => {
    const r = await raw(`${origin}/@atproto/oauth-provider/~api${endpoint}`, {
      method: "POST",
      headers: {
        "content-type": "application/json", "sec-fetch-mode": "same-origin", "sec-fetch-site": "same-origin",
        "sec-fetch-dest": "empty", origin, referer: authorizeUrl, "user-agent": "Mozilla/5.0 (passerelle tests)",
        "x-csrf-token": jar.get("csrf-token"), cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; "),
      },
      body: JSON.stringify(body),
    });
    keep(r.headers);
    assert.equal(r.status, 200, `${endpoint}: ${r.status} ${r.text.slice(0, 300)}`);
    return JSON.parse(r.text);
  };
  const signedIn = await api("/sign-in", { locale: "en", username: account.handle, password: account.password, remember: true });
  const consent = await api("/consent", { did: signedIn.account.did });
  // The PDS answers with its own /oauth/authorize/redirect page, which sends the browser to
  // redirect_uri with state, iss and code (or error) in the query: go there directly.
  const via = new URL(consent.url);
  const back = new URL(via.searchParams.get("redirect_uri"));
  for (const k of ["state", "iss", "code", "error", "error_description"]) {
    if (via.searchParams.has(k)) back.searchParams.set(k, via.searchParams.get(k));
  }
  return back;
}

// GET /signin/bluesky/start?handle=: {start, browser (pre-session cookie value), authorizeUrl}.
export async function begin(s, ca, handle) {
  const start = await bridge(s, ca, `/signin/bluesky/start?handle=${encodeURIComponent(handle)}`);
  assert.equal(start.status, 303, `start: ${start.status} ${start.body.slice(0, 500)}`);
  const browser = setCookie(start, "passerelle_signin");
  assert.match(browser ?? "", /^[0-9a-f]{64}$/, "start sets the pre-session cookie");
  return { start, browser, authorizeUrl: start.headers.location };
}

// begin, the PDS's approval, then the callback in the same browser.
export async function signIn(s, pds, ca, account) {
  const b = await begin(s, ca, account.handle);
  const back = await pdsApprove(pds, b.authorizeUrl, account);
  const callback = await bridge(s, ca, back.href, { cookie: `__Host-passerelle_signin=${b.browser}` });
  assert.equal(callback.status, 303, `callback: ${callback.status} ${callback.body.slice(0, 500)}`);
  assert.equal(callback.headers.location, "/link");
  const token = setCookie(callback, "passerelle_link");
  assert.match(token ?? "", /^[0-9a-f]{64}$/, "the callback opens a page session");
  return { ...b, back, callback, session: `__Host-passerelle_link=${token}` };
}
