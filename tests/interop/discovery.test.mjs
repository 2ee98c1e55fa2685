// Fedify (a real third-party ActivityPub implementation) discovers the C server: WebFinger
// by acct: handle and by URL, the two actors, their keys, signed and unsigned GETs, NodeInfo.
// Run with a peer in each first-knock mode (draft-cavage and RFC 9421).
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startPeer } from "../lib/peer.mjs";
import { get } from "../lib/http.mjs";
import { spki, makefileVersion } from "../lib/checks.mjs";

const AP = "application/activity+json";
const MODES = ["draft-cavage-http-signatures-12", "rfc9421"];

let s;
let host;
const peers = {};
let raw = {}; // the documents as the server serves them, read without Fedify

setup(async () => {
  s = await startServer();
  host = new URL(s.url).host;
  const [a, b] = await Promise.all(MODES.map((m, i) => startPeer({ user: i === 0 ? "alice" : "bob", firstKnock: m })));
  peers[MODES[0]] = a;
  peers[MODES[1]] = b;
  raw.relay = (await get(`${s.url}/actor`, { accept: AP })).json();
  raw.bridge = (await get(`${s.url}/users/passerelle`, { accept: AP })).json();
});
teardown(async () => {
  for (const p of Object.values(peers)) await p.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const EXPECT = {
  relay: () => ({
    id: `${s.url}/actor`,
    type: "Application",
    preferredUsername: "relay",
    inbox: `${s.url}/inbox`,
    sharedInbox: `${s.url}/inbox`,
    followers: `${s.url}/actor/followers`,
    following: `${s.url}/actor/following`,
    outbox: `${s.url}/actor/outbox`,
  }),
  bridge: () => ({
    id: `${s.url}/users/passerelle`,
    type: "Service",
    preferredUsername: "passerelle",
    inbox: `${s.url}/users/passerelle/inbox`,
    sharedInbox: `${s.url}/inbox`,
    followers: `${s.url}/users/passerelle/followers`,
    following: `${s.url}/users/passerelle/following`,
    outbox: `${s.url}/users/passerelle/outbox`,
  }),
};

function checkParsed(res, which, what) {
  assert.equal(res.error, undefined, `${what}: Fedify threw: ${res.error}`);
  assert.equal(res.found, true, `${what}: Fedify found nothing; requests: ${JSON.stringify(res.requests)}`);
  const a = res.actor;
  const want = EXPECT[which]();
  assert.equal(a.isActor, true, `${what}: not an actor (${a.class})`);
  for (const [k, v] of Object.entries(want)) assert.equal(a[k], v, `${what}: ${k}`);
  assert.ok(a.publicKey, `${what}: Fedify imported no public key (security/v1 context and publicKey needed)`);
  assert.equal(a.publicKey.id, `${want.id}#main-key`, `${what}: key id`);
  assert.equal(a.publicKey.owner, want.id, `${what}: key owner`);
  assert.equal(a.publicKey.type, "public");
  assert.equal(a.publicKey.algorithm, "RSASSA-PKCS1-v1_5");
  assert.ok(a.publicKey.modulusLength >= 2048, `${what}: ${a.publicKey.modulusLength} bits`);
  // The key Fedify imported is exactly the PEM the server publishes.
  assert.equal(spki(a.publicKey.spkiPem).der, spki(raw[which].publicKey.publicKeyPem).der, `${what}: key differs from publicKeyPem`);
  // Every request Fedify made for this lookup succeeded with an ActivityPub or JRD type.
  for (const r of res.requests) {
    assert.ok(r.url.startsWith(s.url), `${what}: request outside the server: ${r.url}`);
    assert.equal(r.status, 200, `${what}: ${r.method} ${r.url} -> ${r.status} ${r.error ?? ""}`);
    if (r.url.includes("/.well-known/webfinger")) assert.match(r.contentType ?? "", /^application\/jrd\+json/);
    else assert.match(r.contentType ?? "", /^application\/activity\+json/, `${what}: ${r.url} content type`);
  }
  return a;
}

for (const mode of MODES) {
  const short = mode === "rfc9421" ? "rfc9421" : "cavage";

  test(`[${short}] Fedify resolves acct:relay@HOST:PORT to the relay Application`, async () => {
    const p = peers[mode];
    const res = await p.lookup(`acct:relay@${host}`);
    checkParsed(res, "relay", "acct:relay");
    const wf = res.requests.find((r) => r.url.includes("/.well-known/webfinger"));
    assert.ok(wf, "Fedify went through WebFinger");
    assert.ok(wf.url.includes(encodeURIComponent(`acct:relay@${host}`)) || wf.url.includes(`acct:relay@${host}`), wf.url);
  });

  test(`[${short}] Fedify resolves acct:passerelle@HOST:PORT to the bridge Service`, async () => {
    const res = await peers[mode].lookup(`acct:passerelle@${host}`);
    checkParsed(res, "bridge", "acct:passerelle");
  });

  test(`[${short}] Fedify resolves the handles in @user@host form`, async () => {
    checkParsed(await peers[mode].lookup(`@relay@${host}`), "relay", "@relay@host");
    checkParsed(await peers[mode].lookup(`passerelle@${host}`), "bridge", "passerelle@host");
  });

  test(`[${short}] Fedify fetches both actors by URL (unsigned GET)`, async () => {
    for (const which of ["relay", "bridge"]) {
      const res = await peers[mode].lookup(EXPECT[which]().id);
      checkParsed(res, which, `${which} by URL`);
      assert.ok(res.requests.length >= 1);
      assert.equal(res.requests[0].signature, null, "the plain document loader does not sign");
    }
  });

  test(`[${short}] Fedify fetches both actors with a signed GET`, async () => {
    for (const which of ["relay", "bridge"]) {
      const res = await peers[mode].lookup(EXPECT[which]().id, { signed: true });
      checkParsed(res, which, `${which} signed`);
      const signed = res.requests.filter((r) => r.signature !== null);
      assert.ok(signed.length >= 1, `no signed request was made: ${JSON.stringify(res.requests)}`);
      // Whatever scheme Fedify tried first, the final answer was a 200 to a signed GET.
      assert.equal(signed.at(-1).status, 200);
      if (mode !== "rfc9421") assert.equal(signed[0].signature, "draft-cavage");
    }
  });

  test(`[${short}] Fedify's WebFinger client reads the JRD for handles and actor URLs`, async () => {
    for (const [resource, href] of [
      [`acct:relay@${host}`, `${s.url}/actor`],
      [`acct:passerelle@${host}`, `${s.url}/users/passerelle`],
      [`${s.url}/actor`, `${s.url}/actor`],
      [`${s.url}/users/passerelle`, `${s.url}/users/passerelle`],
    ]) {
      const res = await peers[mode].webfinger(resource);
      assert.ok(res.jrd, `${resource}: no JRD (${res.error ?? ""}) ${JSON.stringify(res.requests)}`);
      const self = res.jrd.links.find((l) => l.rel === "self" && l.type === AP);
      assert.ok(self, `${resource}: no self link of type ${AP}`);
      assert.equal(self.href, href);
    }
  });

  test(`[${short}] Mastodon-style WebFinger loop-back: acct:preferredUsername@host -> self = id`, async () => {
    for (const which of ["relay", "bridge"]) {
      const actor = raw[which];
      const res = await peers[mode].webfinger(`acct:${actor.preferredUsername}@${new URL(actor.id).host}`);
      assert.ok(res.jrd, `no JRD for ${actor.preferredUsername}`);
      assert.equal(res.jrd.subject.toLowerCase(), `acct:${actor.preferredUsername}@${host}`.toLowerCase());
      assert.equal(res.jrd.links.find((l) => l.rel === "self").href, actor.id);
    }
  });

  test(`[${short}] unknown handles resolve to nothing`, async () => {
    const res = await peers[mode].lookup(`acct:nobody@${host}`);
    assert.equal(res.found, false);
    const wf = res.requests.find((r) => r.url.includes("/.well-known/webfinger"));
    assert.equal(wf?.status, 404, `WebFinger for an unknown user: ${JSON.stringify(res.requests)}`);
  });
}

test("Fedify's collection parser reads the actors' collections", async () => {
  const p = peers[MODES[0]];
  for (const c of ["followers", "following", "outbox"]) {
    for (const which of ["relay", "bridge"]) {
      const url = EXPECT[which]()[c];
      const res = await p.call("/_peer/lookup", { target: url });
      // lookup describes actors; for a collection it still reports the class Fedify chose.
      assert.equal(res.found, true, `${url}: ${res.error ?? JSON.stringify(res.requests)}`);
      assert.equal(res.actor.class, "OrderedCollection", `${url} parsed as ${res.actor.class}`);
      assert.equal(res.actor.id, url);
    }
  }
});

test("Fedify's NodeInfo parser accepts /nodeinfo (strict mode)", async () => {
  const res = await peers[MODES[0]].nodeinfo(s.url);
  assert.ok(res.parsed, `Fedify rejected the NodeInfo document: ${res.error ?? ""} ${JSON.stringify(res.raw ?? res.wellKnown)}`);
  assert.equal(res.parsed.software.name, "passerelle");
  assert.equal(res.parsed.software.version, makefileVersion());
  assert.ok(res.parsed.protocols.includes("activitypub"));
  assert.equal(typeof res.parsed.usage.users.total, "number");
  assert.ok(res.href.startsWith(`${s.url}/nodeinfo/2.`), res.href);
});

test("the server logged no error while Fedify looked it up", async () => {
  assert.ok(s.alive());
  const errors = s.stderr().split("\n").filter((l) => /\blevel=error\b/.test(l));
  assert.deepEqual(errors, []);
});
