// atproto identity against the reference PDS and a PLC directory on loopback
// (tests/lib/pds.mjs), driven through build/tests/tools/atproto_drive: handle -> DID by DNS
// TXT (tests/lib/dns.mjs) and HTTPS, DID -> document -> PDS, the handle checked both ways.
import assert from "node:assert/strict";
import http from "node:http";
import { test, setup, teardown, SLOW } from "../lib/harness.mjs";
import { startPds } from "../lib/pds.mjs";
import { startDns } from "../lib/dns.mjs";
import { drive } from "../lib/atdrive.mjs";

let pds;
let dns;
let web; // answers /.well-known/atproto-did by Host, as a handle's own web server would
const wellKnown = new Map();
let alice;
let bob;
let carol;

setup(async () => {
  pds = await startPds({ rateLimits: false });
  [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((n) => pds.createAccount(n)));
  dns = await startDns({ [`_atproto.${alice.handle}`]: ["v=unrelated", `did=${alice.did}`] });
  web = http.createServer((req, res) => {
    const did = wellKnown.get(String(req.headers.host).toLowerCase());
    if (req.url !== "/.well-known/atproto-did" || !did) {
      res.writeHead(404).end("not found");
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end(`${did}\n`);
  });
  await new Promise((r) => web.listen(0, "127.0.0.1", r));
  wellKnown.set(bob.handle, bob.did);
});
teardown(async () => {
  await pds?.stop();
  await dns?.stop();
  web?.close();
});

const opts = () => ["--allow-private", "--plc", pds.plcUrl, "--dns", dns.server, "--handle-origin", `http://127.0.0.1:${web.address().port}`, "--timeout", "3000"];

test("harness: an account on the PDS, its DID document in the PLC directory names the PDS", async () => {
  assert.match(alice.did, /^did:plc:[a-z2-7]{24}$/);
  assert.equal(alice.handle, "alice.test");
  const r = await pds.xrpc("com.atproto.identity.resolveHandle", { query: { handle: "alice.test" } });
  assert.equal(r.status, 200);
  assert.equal(r.json.did, alice.did);
  const doc = await (await fetch(`${pds.plcUrl}/${alice.did}`)).json();
  assert.deepEqual(doc.alsoKnownAs, ["at://alice.test"]);
  assert.equal(doc.service.find((s) => s.id === "#atproto_pds").serviceEndpoint, pds.url);
});

test("identity: handle -> DID by DNS TXT, by HTTPS, -> document -> PDS, checked both ways", async () => {
  const out = await drive([...opts(), "resolve-handle", "Alice.Test", "@bob.test"]);
  const a = out.find((o) => o.subject === "Alice.Test");
  assert.equal(a.status, "ok", a.error);
  assert.equal(a.did, alice.did);
  assert.equal(a.handle, "alice.test", "lowercased");
  assert.equal(a.pds, pds.url, "the PDS comes from the PLC document");
  assert.match(a.signing_key, /^z/);
  assert.deepEqual(a.also_known_as, ["at://alice.test"], "the document's alsoKnownAs, as the PLC directory has it");
  const b = out.find((o) => o.subject === "@bob.test");
  assert.equal(b.status, "ok", b.error);
  assert.equal(b.did, bob.did, "bob has no TXT record: the HTTPS well-known named him");
  assert.equal(b.handle, "bob.test");
  assert.ok(dns.queries.includes("_atproto.alice.test") && dns.queries.includes("_atproto.bob.test"));
});

test("identity: a handle whose DID's document names another handle is a mismatch; none is not found", async () => {
  dns.set("_atproto.mallory.test", [`did=${alice.did}`]);
  wellKnown.set("eve.test", carol.did);
  dns.set("_atproto.twice.test", [`did=${alice.did}`, `did=${bob.did}`]);
  const out = await drive([...opts(), "resolve-handle", "mallory.test", "eve.test", "nobody.test", "twice.test"]);
  const by = Object.fromEntries(out.map((o) => [o.subject, o]));
  assert.equal(by["mallory.test"].status, "mismatch", "DNS names alice's DID, whose document says alice.test");
  assert.equal(by["mallory.test"].did, null);
  assert.equal(by["eve.test"].status, "mismatch", "HTTPS names carol's DID, whose document says carol.test");
  assert.equal(by["nobody.test"].status, "not_found");
  assert.equal(by["twice.test"].status, "not_found", "two different DIDs in TXT: ambiguous, ignored");
});

test("identity: DID -> document -> PDS, the handle given only when it leads back", async () => {
  const out = await drive([...opts(), "resolve-did", alice.did, carol.did, "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"]);
  const by = Object.fromEntries(out.map((o) => [o.subject, o]));
  assert.equal(by[alice.did].status, "ok");
  assert.equal(by[alice.did].handle, "alice.test", "DNS leads alice.test back to alice's DID");
  assert.equal(by[alice.did].pds, pds.url);
  assert.equal(by[carol.did].status, "ok", "carol's DID stands");
  assert.equal(by[carol.did].handle, null, "carol.test resolves neither by DNS nor HTTPS here");
  assert.equal(by[carol.did].pds, pds.url);
  assert.equal(by["did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"].status, "not_found", "the PLC directory has no such DID");
});

test("identity: bad input is invalid; loopback is refused without allow_private; a silent DNS is unavailable", async () => {
  const out = await drive([...opts(), "resolve-handle", "not a handle", "a.local", "1.2.3.4"]);
  assert.deepEqual(out.map((o) => o.status), ["invalid", "invalid", "invalid"]);
  const d = await drive([...opts(), "resolve-did", "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme"]);
  assert.equal(d[0].status, "invalid");
  const strict = await drive(["--plc", pds.plcUrl, "--dns", dns.server, "resolve-did", alice.did]);
  assert.equal(strict[0].status, "unavailable", "the PLC directory on loopback is refused");
  assert.match(strict[0].error, /refused/);
  const setupErr = await drive(["--handle-origin", "http://127.0.0.1:1", "resolve-handle", "alice.test"]);
  assert.equal(setupErr[0].status, "setup", "a handle origin needs allow_private");
  dns.silent = true;
  const t0 = Date.now();
  const slow = await drive([...opts().slice(0, -1), "1000", "resolve-handle", "alice.test"]);
  dns.silent = false;
  assert.equal(slow[0].status, "unavailable", "no DNS answer and no well-known: try later");
  assert.ok(Date.now() - t0 < 5000 * SLOW, "the wait is capped");
});

