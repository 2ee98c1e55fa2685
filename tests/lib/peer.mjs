// Starts tests/interop/peer.mjs (a Fedify peer) on a free loopback port and talks to its
// control API. The process is killed when the test process exits, whatever happens.
import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./server.mjs";
import { trackServer, onExit, sleep } from "./harness.mjs";
import { request } from "./http.mjs";

const PEER = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../interop/peer.mjs");

// mastodon: true serves the Mastodon client API test double on the peer's origin (see
// tests/interop/peer.mjs, PEER_MASTODON): p.mastodon() snapshot, p.mastodonControl({...}).
// port: one chosen beforehand (freePort), when a server must know it before the peer starts.
export async function startPeer({ user = "alice", firstKnock = "draft-cavage-http-signatures-12", env = {}, timeout = 15000, mastodon = false, port: chosen = null } = {}) {
  const port = chosen ?? (await freePort());
  const log = [];
  const proc = spawn(process.execPath, [PEER], {
    env: { ...process.env, PEER_PORT: String(port), PEER_USER: user, PEER_FIRST_KNOCK: firstKnock, ...(mastodon ? { PEER_MASTODON: "1" } : {}), ...env },
    stdio: ["ignore", "pipe", "pipe"],
    cwd: path.dirname(PEER),
  });
  let exit = null;
  const exited = new Promise((resolve) => {
    proc.on("exit", (code, signal) => {
      exit = { code, signal };
      p.stoppedAt = Date.now();
      log.push(`[test: peer exited code=${code} signal=${signal}]\n`);
      resolve(exit);
    });
  });
  proc.stderr.on("data", (d) => log.push(d.toString()));
  proc.stdout.on("data", (d) => log.push(d.toString()));
  const unexit = onExit(() => proc.kill("SIGKILL"));
  const url = `http://127.0.0.1:${port}`;
  const p = {
    name: `peer ${user} (${firstKnock})`,
    user,
    port,
    url,
    actorId: `${url}/users/${user}`,
    proc,
    startedAt: Date.now(),
    stoppedAt: null,
    stderr: () => log.join(""),
    alive: () => exit === null,
    async call(pathname, body) {
      const r = await request(url + pathname, {
        method: body === undefined ? "GET" : "POST",
        headers: { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        timeout: 20000,
      });
      if (r.status !== 200) throw new Error(`peer ${pathname} answered ${r.status}: ${r.body.slice(0, 300)}`);
      return r.json();
    },
    lookup: (target, { signed = false } = {}) => p.call("/_peer/lookup", { target, signed }),
    webfinger: (resource) => p.call("/_peer/webfinger", { resource }),
    nodeinfo: (base) => p.call("/_peer/nodeinfo", { url: base }),
    events: () => p.call("/_peer/events"),
    requests: () => p.call("/_peer/requests"),
    incoming: () => p.call("/_peer/incoming"),
    configure: (settings) => p.call("/_peer/config", settings),
    send: (inbox, activity, recipient) => p.call("/_peer/send", { inbox, activity, recipient }),
    sendToFollowers: (activity) => p.call("/_peer/send", { followers: true, activity }),
    followers: () => p.call("/_peer/followers"),
    mastodon: () => p.call("/_peer/mastodon"),
    mastodonControl: (settings) => p.call("/_peer/mastodon", settings),
    async stop() {
      if (exit === null) {
        proc.kill("SIGTERM");
        const t = setTimeout(() => proc.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
      unexit();
      return exit;
    },
  };
  trackServer(p);
  const deadline = Date.now() + timeout;
  for (;;) {
    if (exit !== null) throw new Error(`peer exited before it was ready (${JSON.stringify(exit)}):\n${p.stderr().slice(-2000)}`);
    try {
      const h = await request(`${url}/_peer/health`, { timeout: 1000 });
      if (h.status === 200 && h.json().ok === true) return p;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      await p.stop();
      throw new Error(`peer not ready within ${timeout} ms:\n${p.stderr().slice(-2000)}`);
    }
    await sleep(100);
  }
}
