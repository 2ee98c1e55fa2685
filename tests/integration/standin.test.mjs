// Old X handles (issue 5, item 5) against the real server and PostgreSQL: WebFinger
// acct:<x handle>@host (any case, and the <base>/x/<id> URL form) answers the stand-in of a
// findable linked member; GET /x/<id> is a Person with movedTo; 404 (never 410) when the
// member left, turned findable off, or the claim is joined, disputed or suspended, when the
// home host is blocked, or when two members show the same handle; relay and the bridge
// account are never shadowed; a Follow of a stand-in gets a Reject signed by the stand-in's
// own key (verified here with the key the server publishes) and nothing is stored.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { get } from "../lib/http.mjs";
import { assertJsonError, assertActivityJson } from "../lib/checks.mjs";
import { startActorHost, signedPost, AS } from "../lib/actorhost.mjs";

let s;
let h; // the members' home server: alice, bob, carol, dave (Persons)

setup(async () => {
  h = await startActorHost({ actors: [{ name: "alice" }, { name: "bob" }, { name: "carol" }, { name: "dave" }] });
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10 } });
  // Members as the link page leaves them; ids fixed so that each test can name them.
  const row = (id, name, xid, handle, state = "linked") =>
    `(${id}, '${h.actor(name).id}', '${name}@${h.domain}', '${h.domain}', '${h.actor(name).inbox}', ${xid}, '${handle}', '${state}', now() - interval '2 days')`;
  await s.psql(
    `INSERT INTO members (id, actor_uri, acct, host, inbox, x_id, x_handle, state, linked_at) VALUES ` +
      [row(1, "alice", 1001, "Alice_X"), row(2, "bob", 1002, "relay"), row(3, "carol", 1003, "passerelle"), row(4, "dave", 1004, "Dave")].join(", "),
  );
});

teardown(async () => {
  await h?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const host = () => new URL(s.url).host;
const wf = (resource) => get(`${s.url}/.well-known/webfinger?resource=${encodeURIComponent(resource)}`);
const wfRaw = (resource) => get(`${s.url}/.well-known/webfinger?resource=${resource}`);
const standinId = (xid) => `${s.url}/x/${xid}`;

async function assertStandinJrd(r, { handle, xid, actor }, what) {
  assert.equal(r.status, 200, `${what}: ${r.status} ${r.body.slice(0, 200)}`);
  assert.match(r.headers["content-type"], /^application\/jrd\+json/, `${what}: content type`);
  const j = r.json();
  assert.equal(j.subject, `acct:${handle}@${host()}`, `${what}: subject keeps the archive's spelling`);
  assert.deepEqual(j.aliases, [actor], `${what}: aliases hold the member's actor`);
  const self = j.links.filter((l) => l.rel === "self");
  assert.deepEqual(self, [{ rel: "self", type: "application/activity+json", href: standinId(xid) }], `${what}: self link`);
}

async function assertNotFound(what, ...resources) {
  for (const res of resources) {
    const r = await wf(res);
    assertJsonError(r, 404, `${what}: WebFinger ${res}`);
  }
}

test("WebFinger of an old X handle: any case, @ and acct: forms, raw or encoded, and the /x/<id> URL", async () => {
  const want = { handle: "Alice_X", xid: 1001, actor: h.actor("alice").id };
  for (const res of [`acct:alice_x@${host()}`, `acct:ALICE_X@${host()}`, `Alice_X@${host()}`, `@alice_x@${host()}`, standinId(1001)]) {
    await assertStandinJrd(await wf(res), want, res);
  }
  await assertStandinJrd(await wfRaw(`acct:aLiCe_x@${host()}`), want, "raw resource");
  const r = await wf(`acct:alice_x@${host()}`);
  assert.equal(r.headers["access-control-allow-origin"], "*");
  assert.match(r.headers["cache-control"], /max-age=60\b/, "cached briefly: consents change");
});

test("GET /x/<id>: a Person that moved, with movedTo, alsoKnownAs and the stand-in's own key", async () => {
  const doc = assertActivityJson(await get(standinId(1001), { accept: "application/activity+json" }), "stand-in");
  const alice = h.actor("alice").id;
  assert.equal(doc.id, standinId(1001));
  assert.equal(doc.type, "Person");
  assert.equal(doc.preferredUsername, "Alice_X");
  assert.match(doc.name, /Alice_X.*moved/);
  assert.ok(doc.summary.includes(`@alice@${h.domain}`) && doc.summary.includes(`href="${alice}"`), doc.summary);
  assert.equal(doc.movedTo, alice);
  assert.deepEqual(doc.alsoKnownAs, [alice]);
  assert.equal(doc.url, standinId(1001));
  assert.equal(doc.inbox, `${s.url}/inbox`);
  assert.equal(doc.endpoints.sharedInbox, `${s.url}/inbox`);
  assert.deepEqual(doc.publicKey.id, `${standinId(1001)}#main-key`);
  assert.equal(doc.publicKey.owner, standinId(1001));
  const relay = assertActivityJson(await get(`${s.url}/actor`), "relay actor");
  assert.equal(doc.publicKey.publicKeyPem, relay.publicKey.publicKeyPem, "the server's one key");
  assert.ok(Array.isArray(doc["@context"]) && doc["@context"].includes(AS), "AS context");
  const terms = doc["@context"].find((c) => typeof c === "object");
  assert.deepEqual(terms.movedTo, { "@id": "as:movedTo", "@type": "@id" });
  assert.deepEqual(terms.alsoKnownAs, { "@id": "as:alsoKnownAs", "@type": "@id" });
  // Its collections exist (empty); a browser is sent on to the new account.
  const followers = assertActivityJson(await get(`${standinId(1001)}/followers`), "followers");
  assert.equal(followers.id, `${standinId(1001)}/followers`);
  assert.equal(followers.totalItems, 0);
  assertJsonError(await get(`${standinId(1001)}/inbox`), 404, "no inbox of its own");
  const html = await get(standinId(1001), { accept: "text/html,application/xhtml+xml" });
  assert.equal(html.status, 302);
  assert.equal(html.headers.location, alice);
  assert.match(html.headers.vary ?? "", /Accept/);
});

test("reserved names are never shadowed: relay and the bridge account answer as themselves", async () => {
  const relay = (await wf(`acct:relay@${host()}`)).json();
  assert.deepEqual(relay.links.find((l) => l.rel === "self").href, `${s.url}/actor`);
  assert.equal(relay.subject, `acct:relay@${host()}`);
  const bridge = (await wf(`acct:PASSERELLE@${host()}`)).json();
  assert.equal(bridge.links.find((l) => l.rel === "self").href, `${s.url}/users/passerelle`);
  // Their stand-ins still exist under /x/<id> and by URL.
  await assertStandinJrd(await wf(standinId(1002)), { handle: "relay", xid: 1002, actor: h.actor("bob").id }, "bob by URL");
  assert.equal(assertActivityJson(await get(standinId(1003)), "carol").preferredUsername, "passerelle");
});

test("404, never 410: unknown handle, findable off, joined, disputed, suspended, blocked host, left", async () => {
  await assertNotFound("unknown", `acct:nobody@${host()}`, `acct:no-body@${host()}`, standinId(999), standinId(12345678901234));
  assertJsonError(await get(standinId(999)), 404, "GET unknown");
  assertJsonError(await get(`${s.url}/x/01001`), 404, "GET non-canonical id");
  const dave = { handle: "Dave", xid: 1004, actor: h.actor("dave").id };
  const both = async (status, what) => {
    if (status === 200) {
      await assertStandinJrd(await wf(`acct:dave@${host()}`), dave, what);
      assertActivityJson(await get(standinId(1004)), what);
    } else {
      await assertNotFound(what, `acct:dave@${host()}`, standinId(1004));
      assertJsonError(await get(standinId(1004)), 404, `${what}: GET`);
    }
  };
  await both(200, "linked and findable");
  for (const [sql, what] of [
    ["findable = false", "findable off"],
    ["state = 'joined'", "joined, not linked"],
    ["state = 'disputed'", "disputed claim"],
    ["state = 'suspended'", "suspended"],
  ]) {
    await s.psql(`UPDATE members SET ${sql} WHERE id = 4`);
    await both(404, what);
    await s.psql("UPDATE members SET findable = true, state = 'linked' WHERE id = 4");
    await both(200, `${what}, then restored`);
  }
  // Paused: nothing is done in their name, but where they are is still said.
  await s.psql("UPDATE members SET paused = true WHERE id = 4");
  await both(200, "paused");
  // An admin block of the home host (a parent name covers it).
  await s.psql(`INSERT INTO instances (domain, blocked) VALUES ('127.0.0.1', true)`);
  await both(404, "home host blocked");
  await s.psql(`DELETE FROM instances WHERE domain = '127.0.0.1'`);
  await both(200, "unblocked");
  // Leaving removes the row: the stand-in goes with it.
  await s.psql("DELETE FROM members WHERE id = 4");
  await both(404, "left");
});

test("two members showing the same handle: neither is answered by handle, both by id", async () => {
  await s.psql(
    `INSERT INTO members (id, actor_uri, acct, host, inbox, x_id, x_handle, state, linked_at)` +
      ` VALUES (5, '${h.url}/users/eve', 'eve@${h.domain}', '${h.domain}', '${h.url}/users/eve/inbox', 1005, 'ALICE_x', 'linked', now() - interval '2 days')`,
  );
  await assertNotFound("ambiguous", `acct:alice_x@${host()}`);
  assertActivityJson(await get(standinId(1001)), "alice by id");
  assertActivityJson(await get(standinId(1005)), "eve by id");
  await s.psql("UPDATE members SET findable = false WHERE id = 5");
  await assertStandinJrd(await wf(`acct:alice_x@${host()}`), { handle: "Alice_X", xid: 1001, actor: h.actor("alice").id }, "one left");
});

test("a Follow of a stand-in gets a Reject signed by the stand-in; nothing is stored", async () => {
  const bob = h.actor("bob");
  const tables = async () =>
    s.psql(
      `SELECT json_build_object('members', (SELECT json_agg(m ORDER BY id) FROM (SELECT id, state, relay_follow_state, updated_at FROM members) m),` +
        // The queue keeps a health row per delivery host; a subscription or member would show here.
        ` 'instances', (SELECT count(*) FROM instances WHERE relay_state <> 'none' OR actor_uri IS NOT NULL), 'ledger', (SELECT count(*) FROM consent_ledger))`,
    );
  const before = await tables();
  const mark = h.mark;
  const follow = { "@context": AS, id: `${h.url}/follows/${crypto.randomUUID()}`, type: "Follow", actor: bob.id, object: standinId(1001) };
  const r = await signedPost(`${s.url}/inbox`, follow, { actor: bob });
  assert.equal(r.status, 202, r.body);
  const rec = await eventually(() => h.since(mark).find((x) => x.method === "POST" && x.json?.type === "Reject"), { timeout: 10000, what: "the Reject" });
  assert.equal(rec.path, "/users/bob/inbox");
  assert.equal(rec.json.actor, standinId(1001));
  assert.equal(rec.json.object.id, follow.id);
  assert.equal(rec.json.object.actor, bob.id);
  assert.equal(rec.json.object.object, standinId(1001));
  assert.ok(rec.json.id.startsWith(`${s.url}/`), "the Reject's id is on our host");
  const v = await h.verify(rec);
  assert.equal(v.ok, true, v.reason);
  assert.equal(v.keyId, `${standinId(1001)}#main-key`);
  assert.equal(v.owner, standinId(1001));
  assert.equal(await tables(), before, "no member, instance or ledger row changed");

  // A stand-in that does not show answers nothing (it could not be verified).
  const mark2 = h.mark;
  const r2 = await signedPost(`${s.url}/inbox`, { ...follow, id: `${h.url}/follows/${crypto.randomUUID()}`, object: standinId(999) }, { actor: bob });
  assert.equal(r2.status, 202, r2.body);
  await sleep(500);
  assert.deepEqual(h.since(mark2).filter((x) => x.method === "POST").map((x) => x.json?.type), [], "no answer");
  assert.equal(await s.psql("SELECT count(*) FROM deliveries WHERE state = 'pending'"), "0");
});
