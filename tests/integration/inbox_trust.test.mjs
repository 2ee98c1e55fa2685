// What a signer may not do to the inbox (issue 12, items 4 and 5; threats.md H2, M1, L1,
// L3): poison the key cache with another actor's keyId, make the loop verify with a key
// chosen to be slow, replay a signature made for another host or outside the time window,
// or remove a member with a Delete that its server's passing 404 seems to back.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { request } from "../lib/http.mjs";
import { parseMetrics, metricSum } from "../lib/checks.mjs";
import { startActorHost, signedPost, newKeyPair, rsaKeyPair, bigExponentKeyPair, AS, PUBLIC } from "../lib/actorhost.mjs";
import { joinMember } from "../lib/members.mjs";
import { closeSessions } from "../lib/dbsnap.mjs";

let s;
const hosts = [];

async function host(actors) {
  const h = await startActorHost({ actors });
  hosts.push(h);
  return h;
}

setup(async () => {
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10 } });
});

teardown(async () => {
  closeSessions();
  for (const h of hosts) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code");
});

const post = (path, body, opts) => signedPost(`${s.url}${path}`, body, opts);
const origin = (actor) => actor.id.replace(/\/users\/.*$/, "");

function create(actor) {
  const o = origin(actor);
  return {
    "@context": AS,
    id: `${o}/activities/${crypto.randomUUID()}`,
    type: "Create",
    actor: actor.id,
    to: [PUBLIC],
    object: { id: `${o}/notes/${crypto.randomUUID()}`, type: "Note", attributedTo: actor.id, content: "hi", to: [PUBLIC] },
  };
}

const cached = (uri) => s.psql(`SELECT coalesce(string_agg(key_id, ' '), '') FROM remote_actors WHERE uri = '${uri}'`);

// --- the key cache (M1) ----------------------------------------------------------------------

test("a document whose key carries another actor's keyId neither replaces nor deletes that actor's cached key", async () => {
  const h = await host([{ name: "alice" }]);
  const alice = h.actor("alice");
  // mallory lists her own key under alice's keyId and signs with her actor URL as keyId.
  const mallory = h.addActor({ name: "mallory", document: (d) => ({ ...d, publicKey: { ...d.publicKey, id: alice.keyId } }) });
  assert.equal((await post("/inbox", create(alice), { actor: alice })).status, 202);
  assert.equal(await cached(alice.id), alice.keyId);
  const r = await post("/inbox", create(mallory), { actor: mallory, keyId: mallory.id });
  assert.equal(r.status, 202, r.body);
  assert.equal(await cached(alice.id), alice.keyId, "alice's row is still hers");
  assert.notEqual(await cached(mallory.id), alice.keyId, "mallory's row does not carry alice's keyId");
  const again = await post("/inbox", create(alice), { actor: alice });
  assert.equal(again.status, 202, `alice after mallory: ${again.body}`);
});

// --- keys (H2) ------------------------------------------------------------------------------

test("a key with a 3070-bit exponent is refused when parsed: 401, never cached", async (t) => {
  const h = await host([]);
  const e = h.addActor({ name: "bige", key: bigExponentKeyPair() });
  const t0 = Date.now();
  for (let i = 0; i < 10; i++) {
    const r = await post("/inbox?x", create(e), { actor: e });
    assert.equal(r.status, 401, r.body);
  }
  t.log(`10 POSTs signed with it: ${Date.now() - t0} ms`);
  assert.equal(await cached(e.id), "", "the key is not in the cache");
});

test("a 1024-bit key is refused: 401, never cached; e = 3 on 2048 bits is taken", async () => {
  const h = await host([]);
  const small = h.addActor({ name: "small", key: rsaKeyPair({ modulusLength: 1024 }) });
  const r = await post("/inbox", create(small), { actor: small });
  assert.equal(r.status, 401, r.body);
  assert.equal(await cached(small.id), "");
  const three = h.addActor({ name: "three", key: rsaKeyPair({ modulusLength: 2048, publicExponent: 3 }) });
  const ok = await post("/inbox", create(three), { actor: three });
  assert.equal(ok.status, 202, ok.body);
});

const verifications = async () =>
  metricSum(parseMetrics((await request(`${s.url}/metrics`)).body), "passerelle_signature_verifications_total");

test("a forged signature costs one verification: the refetch that finds the same key does not verify again", async () => {
  const h = await host([{ name: "vera" }]);
  const vera = h.actor("vera");
  assert.equal((await post("/inbox", create(vera), { actor: vera })).status, 202);
  const before = await verifications();
  const r = await post("/inbox?x=1", create(vera), { actor: vera, privateKey: newKeyPair().privateKey });
  assert.equal(r.status, 401, r.body);
  assert.equal((await verifications()) - before, 1, "keys verified with");
  // (A rotated key, which the refetch finds different, is verified: it/inbox, "a rotated key".)
});

// --- Host and the time window (L1) -----------------------------------------------------------

test("a signature made for another host is refused (cavage host, RFC 9421 @authority): 401", async () => {
  const h = await host([{ name: "hal" }]);
  const hal = h.actor("hal");
  assert.equal((await post("/inbox", create(hal), { actor: hal })).status, 202);
  const port = new URL(s.url).port;
  for (const [what, opts] of [
    ["cavage, Host other.example", { host: "other.example" }],
    ["cavage, Host on another port", { host: `127.0.0.1:${Number(port) + 1}` }],
    ["RFC 9421, Host other.example", { host: "other.example", scheme: "rfc9421" }],
  ]) {
    const r = await post("/inbox", create(hal), { actor: hal, ...opts });
    assert.equal(r.status, 401, `${what}: ${r.status} ${r.body}`);
  }
  const ok = await post("/inbox", create(hal), { actor: hal, host: `127.0.0.1:${port}`, scheme: "rfc9421" });
  assert.equal(ok.status, 202, ok.body);
});

test("hs2019: created and expires count only when signed; a signed Date outside the window is refused: 401", async () => {
  const h = await host([{ name: "tim" }]);
  const tim = h.actor("tim");
  const now = Math.floor(Date.now() / 1000);
  const old = new Date(Date.now() - 2 * 86400e3);
  assert.equal((await post("/inbox", create(tim), { actor: tim })).status, 202);
  const cases = [
    ["a fresh created parameter, not signed", { algorithm: "hs2019", date: old, duplicate: { created: String(now) } }],
    ["a far expires parameter, not signed", { algorithm: "hs2019", date: new Date(Date.now() - 2 * 3600e3), expires: now + 6 * 3600 }],
    ["(created) signed and fresh, Date signed two days old", { algorithm: "hs2019", date: old, signed: "(request-target) host date digest content-type (created)" }],
  ];
  for (const [what, opts] of cases) {
    const r = await post("/inbox", create(tim), { actor: tim, ...opts });
    assert.equal(r.status, 401, `${what}: ${r.status} ${r.body}`);
  }
  const ok = await post("/inbox", create(tim), { actor: tim, algorithm: "hs2019", date: old, signed: "(request-target) host digest content-type (created)" });
  assert.equal(ok.status, 202, `(created) signed and fresh, the Date not signed: ${ok.body}`);
});

// --- an unsigned Delete of an actor (L3) -----------------------------------------------------

// A member of host h whose cached key is old enough to be fetched again, and a Delete of
// it signed with a key nobody published.
async function deleteSetup(name) {
  const h = await host([{ name }]);
  const m = await joinMember(s, h, name);
  await s.psql(`UPDATE remote_actors SET fetched_at = now() - interval '3 days' WHERE uri = '${m.actor.id}'`);
  const del = { "@context": AS, id: `${m.actor.id}#delete-${Date.now()}`, type: "Delete", actor: m.actor.id, object: m.actor.id, to: [PUBLIC] };
  const forged = () => post("/inbox", del, { actor: m.actor, privateKey: newKeyPair().privateKey });
  return { h, m, forged };
}
const memberCount = (m) => s.psql(`SELECT count(*) FROM members WHERE actor_uri = '${m.actor.id}'`);

test("an unsigned Delete of a member whose server answers 404: 401, the member stays", async () => {
  const { h, m, forged } = await deleteSetup("dora");
  h.hideActor("dora"); // a passing 404: a misconfiguration, a migration
  const r = await forged();
  assert.equal(r.status, 401, r.body);
  assert.equal(await memberCount(m), "1");
  h.hideActor("dora", false);
  const ok = await post("/inbox", create(m.actor), { actor: m.actor });
  assert.equal(ok.status, 202, "dora signs as before");
});

test("an unsigned Delete of a member whose server answers 410: 202, the member is removed", async () => {
  const { h, m, forged } = await deleteSetup("erin");
  h.deleteActor("erin");
  const r = await forged();
  assert.equal(r.status, 202, r.body);
  await eventually(async () => (await memberCount(m)) === "0", { what: "erin removed" });
});
