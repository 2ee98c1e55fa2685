// The AT Protocol pieces against the reference PDS and a PLC directory on loopback
// (tests/lib/pds.mjs): the harness itself first.
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startPds } from "../lib/pds.mjs";

let pds;
let alice;

setup(async () => {
  pds = await startPds({ rateLimits: true });
  alice = await pds.createAccount("alice");
});
teardown(async () => {
  await pds?.stop();
});

test("harness: an account on the PDS, its DID document in the PLC directory names the PDS", async () => {
  assert.match(alice.did, /^did:plc:[a-z2-7]{24}$/);
  assert.equal(alice.handle, "alice.test");
  const r = await pds.xrpc("com.atproto.identity.resolveHandle", { query: { handle: "alice.test" } });
  assert.equal(r.status, 200);
  assert.equal(r.json.did, alice.did);
  assert.match(r.headers.get("ratelimit-policy") ?? "", /;w=\d+/, "rate limits are on");
  const doc = await (await fetch(`${pds.plcUrl}/${alice.did}`)).json();
  assert.deepEqual(doc.alsoKnownAs, ["at://alice.test"]);
  const svc = doc.service.find((s) => s.id === "#atproto_pds");
  assert.equal(svc.serviceEndpoint, pds.url);
});
