// The signed inbox against the real server and PostgreSQL (issue 3): every refusal gets its
// status and leaves the database as it was; accepted activities change exactly what they
// should, 202 comes after the commit, and the answers (Accept, Follow back) reach the
// remote inbox signed by the relay or the bridge, verified here with the key the server
// publishes. Remote servers are tests/lib/actorhost.mjs instances on loopback
// (allow_private_fetch).
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer, freePort, runBin } from "../lib/server.mjs";
import { get, request } from "../lib/http.mjs";
import { assertJsonError, parseMetrics, metricSum } from "../lib/checks.mjs";
import { startActorHost, signedPost, newKeyPair, PUBLIC, AS, newId } from "../lib/actorhost.mjs";
import { snapshot as dbSnapshot, closeSessions, queueSettled } from "../lib/dbsnap.mjs";

const CFG = { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10 };

let s; // the server, open mode; relay_block names `spam`'s host
let mast; // a Mastodon-like host: admin (Application), alice, bob, dave, frank (Persons)
let spam; // blocked in the configuration
let dbBlocked; // blocked through instances.blocked
const hosts = [];

// What /metrics should show at the end: every request this file sends is counted here.
const expect = { results: {}, sigfail: {} };
const count = (result, reason) => {
  expect.results[result] = (expect.results[result] ?? 0) + 1;
  if (reason) expect.sigfail[reason] = (expect.sigfail[reason] ?? 0) + 1;
};

async function host(actors) {
  const h = await startActorHost({ actors });
  hosts.push(h);
  return h;
}

setup(async () => {
  spam = await host([{ name: "spammer", type: "Application" }]);
  s = await startServer({ config: { ...CFG, relay_block: spam.domain } });
  mast = await host([
    { name: "admin", type: "Application" },
    { name: "alice" },
    { name: "bob" },
    { name: "dave" },
    { name: "frank" },
  ]);
  dbBlocked = await host([{ name: "troll" }]);
  await s.psql(`INSERT INTO instances (domain, blocked) VALUES ('${dbBlocked.domain}', true)`);
  // Cache the keys the refusals below use, so they compare against a warm cache.
  for (const name of ["alice", "bob", "dave"]) {
    const r = await post("/inbox", create(mast.actor(name)), { actor: mast.actor(name) });
    assert.equal(r.status, 202, `warming ${name}: ${r.status} ${r.body}`);
    count("publication");
  }
});

teardown(async () => {
  closeSessions();
  for (const h of hosts) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const relayId = () => `${s.url}/actor`;
// `passerelle admin -c FILE ARGS...` against a server's configuration and database.
async function admin(srv, ...args) {
  const r = await runBin(["admin", "-c", srv.configFile, ...args]);
  assert.equal(r.code, 0, `admin ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}
const bridgeId = () => `${s.url}/users/passerelle`;
const post = (path, body, opts) => signedPost(`${s.url}${path}`, body, opts);

function create(actor, extra = {}) {
  const h = actor.id.replace(/\/users\/.*$/, "");
  return {
    "@context": AS,
    id: `${h}/activities/${crypto.randomUUID()}`,
    type: "Create",
    actor: actor.id,
    to: [PUBLIC],
    object: { id: `${h}/notes/${crypto.randomUUID()}`, type: "Note", attributedTo: actor.id, content: "hello", to: [PUBLIC] },
    ...extra,
  };
}

function follow(actor, object, id) {
  const h = actor.id.replace(/\/users\/.*$/, "");
  return { "@context": AS, id: id ?? `${h}/follows/${crypto.randomUUID()}`, type: "Follow", actor: actor.id, object };
}

// Every table an inbox request could touch (tests/lib/dbsnap.mjs), remote_actors.fetched_at
// left out: a cached key may legitimately be refreshed (once per minute) by any signed request.
const snapshot = (srv = s) =>
  dbSnapshot(srv.db, { tables: ["instances", "members", "seen_activity_ids", "activities", "deliveries", "remote_actors"] });

// Waits until the queue has nothing pending and the tables stop changing; returns the
// last snapshot. A snapshot equal to the one a refusal left needs no second look.
const settled = new Map(); // server -> JSON of the last snapshot known to be quiet
async function quiesce(srv = s) {
  let last = settled.get(srv) ?? null;
  let snap = null;
  await eventually(
    async () => {
      snap = await snapshot(srv);
      const text = JSON.stringify(snap);
      const same = queueSettled(snap) && text === last;
      last = text;
      return same;
    },
    { timeout: 10000, interval: 50, what: "the delivery queue to drain" },
  );
  settled.set(srv, last);
  return snap;
}

// A refusal: the status, an error body, nothing changed in the database, no POST sent to
// any of our hosts, and (noFetch) no GET made to the given hosts.
async function refused(what, send, status, { noFetch = [] } = {}) {
  const before = await quiesce();
  const marks = hosts.map((h) => h.mark);
  const r = await send();
  assertJsonError(r, status, what);
  await sleep(100);
  const after = await snapshot();
  assert.deepEqual(after, before, `${what}: the database changed`);
  settled.set(s, JSON.stringify(after));
  hosts.forEach((h, i) => {
    const sent = h.since(marks[i]).filter((x) => x.method === "POST");
    assert.deepEqual(sent.map((x) => `${x.path} ${x.json?.type}`), [], `${what}: something was delivered to ${h.url}`);
  });
  for (const h of noFetch) {
    const fetched = h.since(marks[hosts.indexOf(h)]).filter((x) => x.method === "GET");
    assert.deepEqual(fetched.map((x) => x.path), [], `${what}: ${h.url} was fetched`);
  }
  return r;
}

// The first POST at path whose JSON satisfies pred (waits for it).
function delivered(h, path, pred, what) {
  return eventually(() => h.posts(path).find((p) => p.json && pred(p.json)), { timeout: 8000, what });
}

async function assertVerified(h, rec, keyId, what) {
  const v = await h.verify(rec);
  assert.equal(v.ok, true, `${what}: signature does not verify: ${v.reason}`);
  assert.equal(v.keyId, keyId, `${what}: keyId`);
  assert.equal(v.algorithm, "rsa-sha256", `${what}: algorithm`);
  assert.equal(v.headers, "(request-target) host date digest content-type", `${what}: signed headers`);
  assert.equal(rec.headers["content-type"], "application/activity+json", `${what}: content type`);
}

function assertAcceptOf(acc, { actor, followId, follower, object }, what) {
  const base = new URL(actor).origin;
  assert.equal(acc.type, "Accept", what);
  assert.equal(acc.actor, actor, `${what}: actor`);
  assert.ok(typeof acc.id === "string" && acc.id.startsWith(`${base}/`), `${what}: id ${acc.id} is not on our host`);
  assert.ok([acc["@context"]].flat().includes(AS), `${what}: @context`);
  assert.deepEqual([acc.to].flat(), [follower], `${what}: to`);
  assert.equal(typeof acc.object, "object", `${what}: the Follow is embedded`);
  assert.equal(acc.object.id, followId, `${what}: embedded Follow id`);
  assert.equal(acc.object.type, "Follow", `${what}: embedded Follow type`);
  assert.equal(acc.object.actor, follower, `${what}: embedded Follow actor`);
  assert.equal(acc.object.object, object, `${what}: embedded Follow object`);
}

const instance = async (domain, srv = s) => {
  const t = await srv.psql(`SELECT coalesce((SELECT row_to_json(i) FROM instances i WHERE domain = '${domain}')::text, 'null')`);
  return JSON.parse(t);
};

// --- refusals ----------------------------------------------------------------------------

test("unsigned POST /inbox: 401, nothing stored, nothing fetched", async () => {
  const alice = mast.actor("alice");
  await refused("unsigned", () => post("/inbox", create(alice), { omitSignature: true }), 401, { noFetch: [mast] });
  count("unauthorized", "no_signature");
});

test("signed with another key than the actor's: 401, nothing stored", async () => {
  const alice = mast.actor("alice");
  await refused("wrong key", () => post("/inbox", create(alice), { actor: alice, privateKey: newKeyPair().privateKey }), 401);
  count("unauthorized", "bad_signature");
});

test("body changed after signing (Digest of the original): 401 before any key fetch", async () => {
  const alice = mast.actor("alice");
  const tamper = (t) => t.replace('"hello"', '"HELLO"');
  await refused("tampered body", () => post("/inbox", create(alice), { actor: alice, tamper }), 401, { noFetch: [mast] });
  count("unauthorized", "digest_mismatch");
});

test("body changed after signing, Digest recomputed: 401 (the signature covers the Digest)", async () => {
  const alice = mast.actor("alice");
  const tamper = (t) => t.replace('"hello"', '"HELLO"');
  await refused("tampered body and digest", () => post("/inbox", create(alice), { actor: alice, tamper, tamperDigest: true }), 401);
  count("unauthorized", "bad_signature");
});

test("RFC 9421 body changed after signing (Content-Digest of the original): 401", async () => {
  const alice = mast.actor("alice");
  const tamper = (t) => t.replace('"hello"', '"HELLO"');
  await refused("tampered RFC 9421", () => post("/inbox", create(alice), { actor: alice, scheme: "rfc9421", tamper }), 401, { noFetch: [mast] });
  count("unauthorized", "digest_mismatch");
});

test("Date 70 minutes old: 401 stale; 70 minutes ahead: 401 future", async () => {
  const alice = mast.actor("alice");
  await refused("stale date", () => post("/inbox", create(alice), { actor: alice, dateOffsetMs: -70 * 60000 }), 401, { noFetch: [mast] });
  count("unauthorized", "stale_date");
  await refused("future date", () => post("/inbox", create(alice), { actor: alice, dateOffsetMs: 70 * 60000 }), 401, { noFetch: [mast] });
  count("unauthorized", "future_date");
});

test("signed for another request target: 401", async () => {
  const alice = mast.actor("alice");
  await refused("other path", () => post("/inbox", create(alice), { actor: alice, requestTarget: "/actor" }), 401);
  count("unauthorized", "bad_signature");
  await refused("other query", () => post("/inbox?x=1", create(alice), { actor: alice, requestTarget: "/inbox?x=2" }), 401);
  count("unauthorized", "bad_signature");
});

test("no Digest (and digest not signed): 401", async () => {
  const alice = mast.actor("alice");
  await refused("missing digest", () => post("/inbox", create(alice), { actor: alice, digest: false }), 401, { noFetch: [mast] });
  count("unauthorized", "missing_header");
});

test("a duplicated Signature parameter: 401", async () => {
  const alice = mast.actor("alice");
  await refused("duplicate keyId", () => post("/inbox", create(alice), { actor: alice, duplicate: { keyId: mast.actor("bob").keyId } }), 401, { noFetch: [mast] });
  count("unauthorized", "bad_header");
});

test("signed by another actor's key (key owner is not the actor): 401", async () => {
  const alice = mast.actor("alice");
  const bob = mast.actor("bob");
  await refused("owner mismatch", () => post("/inbox", create(alice), { actor: bob }), 401);
  count("unauthorized", "owner_mismatch");
});

test("unsupported or missing Content-Type: 415", async () => {
  const alice = mast.actor("alice");
  await refused("text/plain", () => post("/inbox", create(alice), { actor: alice, contentType: "text/plain" }), 415, { noFetch: [mast] });
  count("unsupported_media_type");
  await refused("no content type", () => post("/inbox", create(alice), { actor: alice, contentType: null }), 415, { noFetch: [mast] });
  count("unsupported_media_type");
});

test("empty body, malformed JSON, a nesting bomb, invalid UTF-8, no id, no type, no actor: 400 without any key fetch", async () => {
  const alice = mast.actor("alice");
  await refused("empty body", () => post("/inbox", "", { actor: alice }), 400, { noFetch: [mast] });
  count("bad_request");
  await refused("malformed JSON", () => post("/inbox", '{"type": "Create", "actor": ', { actor: alice }), 400, { noFetch: [mast] });
  count("bad_request");
  await refused("array body", () => post("/inbox", "[1, 2]", { actor: alice }), 400, { noFetch: [mast] });
  count("bad_request");
  const bomb = JSON.stringify(create(alice)).replace(/}$/, `,"x":${"[".repeat(5000)}${"]".repeat(5000)}}`);
  await refused("nesting bomb", () => post("/inbox", bomb, { actor: alice }), 400, { noFetch: [mast] });
  count("bad_request");
  const latin1 = Buffer.concat([Buffer.from(JSON.stringify(create(alice)).replace(/}$/, ',"name":"')), Buffer.from([0xe9, 0x74, 0xe9]), Buffer.from('"}')]);
  await refused("not UTF-8", () => post("/inbox", latin1, { actor: alice }), 400, { noFetch: [mast] });
  count("bad_request");
  for (const field of ["id", "type", "actor"]) {
    const body = create(alice);
    delete body[field];
    await refused(`no ${field}`, () => post("/inbox", body, { actor: alice }), 400, { noFetch: [mast] });
    count("bad_request");
  }
});

test("blocked domain (relay_block): 403 and the blocked host is never fetched", async () => {
  const spammer = spam.actor("spammer");
  await refused("config-blocked Follow", () => post("/inbox", follow(spammer, PUBLIC), { actor: spammer }), 403, { noFetch: [spam] });
  count("blocked");
  // Signed by a blocked host's key for an actor elsewhere (Mastodon signs with the author's key).
  await refused("blocked keyId host", () => post("/inbox", create(mast.actor("frank")), { actor: spammer }), 403, { noFetch: [spam, mast] });
  count("blocked");
  // An actor on a blocked host, signed by a key elsewhere: refused before that key is fetched.
  await refused("blocked actor host", () => post("/inbox", follow({ id: spammer.id }, PUBLIC), { actor: mast.actor("frank") }), 403, { noFetch: [spam, mast] });
  count("blocked");
  assert.equal((await instance(spam.domain)), null, "no instances row for a config-blocked domain");
});

test("blocked domain (instances.blocked, as the admin CLI sets it): 403, no fetch", async () => {
  const troll = dbBlocked.actor("troll");
  await refused("db-blocked Follow", () => post("/inbox", follow(troll, PUBLIC), { actor: troll }), 403, { noFetch: [dbBlocked] });
  count("blocked");
  await refused("db-blocked to the bridge", () => post(`/users/passerelle/inbox`, follow(troll, bridgeId()), { actor: troll }), 403, { noFetch: [dbBlocked] });
  count("blocked");
});

test("the key's host is unreachable: 503, nothing stored", async () => {
  const port = await freePort(); // nothing listens there
  const ghost = { id: `http://127.0.0.1:${port}/users/ghost`, keyId: `http://127.0.0.1:${port}/users/ghost#main-key`, privateKey: newKeyPair().privateKey };
  const r = await refused("unreachable key", () => post("/inbox", follow(ghost, PUBLIC), { actor: ghost }), 503);
  count("key_unreachable");
  assert.ok(r.json().error.length > 0);
});

test("the key's actor does not exist (404): 401, nothing stored", async () => {
  const nobody = { id: `${mast.url}/users/nobody`, keyId: `${mast.url}/users/nobody#main-key`, privateKey: newKeyPair().privateKey };
  const mark = mast.mark;
  await refused("unknown actor", () => post("/inbox", follow(nobody, PUBLIC), { actor: nobody }), 401);
  count("unauthorized", "key_not_found");
  assert.ok(mast.since(mark).some((x) => x.method === "GET" && x.path === "/users/nobody"), "the key was looked up");
});

// --- accepted ----------------------------------------------------------------------------

let adminFollowId;

test("Mastodon-style Follow(as:Public): 202 after commit, subscribed, Accept delivered and verified, no Follow back", async () => {
  const admin = mast.actor("admin");
  await quiesce();
  const f = follow(admin, PUBLIC);
  const r = await post("/inbox", f, { actor: admin });
  assert.equal(r.status, 202, r.body);
  count("accepted");
  // 202 comes after COMMIT: the row is there the moment the answer is.
  const row = await instance(mast.domain);
  assert.ok(row, "instances row");
  assert.equal(row.relay_state, "accepted");
  assert.equal(row.style, "mastodon");
  assert.equal(row.actor_uri, admin.id);
  assert.equal(row.follow_id, f.id);
  assert.equal(row.inbox, admin.inbox);
  assert.equal(row.shared_inbox, mast.sharedInbox);
  assert.equal(row.our_follow_state, "none");
  assert.equal(await s.psql(`SELECT count(*) FROM seen_activity_ids WHERE id = '${f.id}'`), "1");
  const rec = await delivered(mast, "/users/admin/inbox", (j) => j.type === "Accept" && j.object?.id === f.id, "the Accept");
  assertAcceptOf(rec.json, { actor: relayId(), followId: f.id, follower: admin.id, object: PUBLIC }, "Accept");
  await assertVerified(mast, rec, `${relayId()}#main-key`, "Accept");
  adminFollowId = f.id;
  assert.deepEqual(mast.fetches("/follows/").map((x) => x.path), [], "Mastodon's Follow id is never dereferenced");
  // The key was fetched with a GET signed by the relay (secure-mode servers require it).
  const fetch = mast.fetches("/users/admin").find((x) => x.path === "/users/admin");
  assert.ok(fetch, "the admin actor was fetched");
  const fv = await mast.verify(fetch);
  assert.equal(fv.ok, true, `signed GET: ${fv.reason}`);
  assert.equal(fv.keyId, `${relayId()}#main-key`);
  assert.equal(fv.headers, "(request-target) host date accept", "signed GET headers");
  assert.match(fetch.headers.accept ?? "", /application\/activity\+json/);
  // A Mastodon instance actor rejects follows: the relay must not follow it back.
  await quiesce();
  const back = mast.posts("/users/admin/inbox").filter((p) => p.json?.type === "Follow");
  assert.deepEqual(back.map((p) => p.body), [], "no Follow back to a Mastodon-style subscriber");
});

test("a repeated Follow with a new id: 202, still one subscription, answered again", async () => {
  const admin = mast.actor("admin");
  const before = await instance(mast.domain);
  const f = follow(admin, PUBLIC);
  const r = await post("/inbox", f, { actor: admin });
  assert.equal(r.status, 202, r.body);
  count("accepted");
  const after = await instance(mast.domain);
  assert.equal(after.relay_state, "accepted");
  assert.equal(after.follow_id, f.id, "the latest Follow id is kept (for the Undo)");
  assert.equal(after.subscribed_at, before.subscribed_at, "subscribed_at does not move");
  assert.equal(await s.psql(`SELECT count(*) FROM instances WHERE actor_uri = '${admin.id}'`), "1");
  const rec = await delivered(mast, "/users/admin/inbox", (j) => j.type === "Accept" && j.object?.id === f.id, "the second Accept");
  assertAcceptOf(rec.json, { actor: relayId(), followId: f.id, follower: admin.id, object: PUBLIC }, "second Accept");
  await assertVerified(mast, rec, `${relayId()}#main-key`, "second Accept");
  adminFollowId = f.id;
});

test("a replayed activity id: 202 and nothing changes, nothing is sent", async () => {
  const admin = mast.actor("admin");
  const f = follow(admin, PUBLIC, adminFollowId);
  const before = await quiesce();
  const mark = mast.mark;
  const r = await post("/inbox", f, { actor: admin });
  assert.equal(r.status, 202, r.body);
  count("duplicate");
  await sleep(600); // several queue polls
  assert.deepEqual(await snapshot(), before);
  assert.deepEqual(mast.since(mark).filter((x) => x.method === "POST").map((x) => x.json?.type), []);
});

test("a public Create from a subscriber: 202, only its id is remembered", async () => {
  const alice = mast.actor("alice");
  const before = await quiesce();
  const c = create(alice);
  const r = await post("/inbox", c, { actor: alice });
  assert.equal(r.status, 202, r.body);
  count("publication");
  await sleep(300);
  const after = await snapshot();
  assert.deepEqual(after.seen_activity_ids.map((x) => x.id).filter((id) => !before.seen_activity_ids.some((b) => b.id === id)), [c.id]);
  for (const t of ["instances", "members", "activities", "deliveries", "remote_actors"]) assert.deepEqual(after[t], before[t], t);
});

test("hs2019, no algorithm, a Date 50 minutes old, ld+json, a query in the target with or without it signed: accepted", async () => {
  const alice = mast.actor("alice");
  for (const [what, opts] of [
    ["hs2019", { algorithm: "hs2019" }],
    ["no algorithm", { algorithm: null }],
    ["50 minutes old", { dateOffsetMs: -50 * 60000 }],
    ["application/ld+json with profile", { contentType: 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"' }],
    ["a query signed in (request-target)", { path: "/inbox?from=test" }],
    ["a query left out of (request-target) (Fedify)", { path: "/inbox?from=test", requestTarget: "/inbox" }],
  ]) {
    const r = await post(opts.path ?? "/inbox", create(alice), { actor: alice, ...opts });
    assert.equal(r.status, 202, `${what}: ${r.status} ${r.body}`);
    count("publication");
  }
});

test("RFC 9421 (Signature-Input, Content-Digest) Follow: 202 and an Accept", async () => {
  const h = await host([{ name: "nine", type: "Application" }]);
  const nine = h.actor("nine");
  const f = follow(nine, PUBLIC);
  const r = await post("/inbox", f, { actor: nine, scheme: "rfc9421" });
  assert.equal(r.status, 202, r.body);
  count("accepted");
  assert.equal((await instance(h.domain)).relay_state, "accepted");
  const rec = await delivered(h, "/users/nine/inbox", (j) => j.type === "Accept" && j.object?.id === f.id, "the Accept");
  await assertVerified(h, rec, `${relayId()}#main-key`, "Accept");
});

test("POST /actor is taken like POST /inbox", async () => {
  const h = await host([{ name: "pasted", type: "Application" }]);
  const a = h.actor("pasted");
  const f = follow(a, PUBLIC);
  const r = await post("/actor", f, { actor: a });
  assert.equal(r.status, 202, r.body);
  count("accepted");
  assert.equal((await instance(h.domain)).relay_state, "accepted");
  const rec = await delivered(h, "/users/pasted/inbox", (j) => j.type === "Accept" && j.object?.id === f.id, "the Accept");
  assertAcceptOf(rec.json, { actor: relayId(), followId: f.id, follower: a.id, object: PUBLIC }, "Accept");
  await assertVerified(h, rec, `${relayId()}#main-key`, "Accept");
});

test("LitePub Follow of the relay actor: Accept and a Follow back; their Accept of it is recorded", async () => {
  const h = await host([{ name: "relay", type: "Application" }]);
  const lp = h.actor("relay");
  const f = follow(lp, relayId());
  const r = await post("/inbox", f, { actor: lp });
  assert.equal(r.status, 202, r.body);
  count("accepted");
  let row = await instance(h.domain);
  assert.equal(row.relay_state, "accepted");
  assert.equal(row.style, "litepub");
  assert.equal(row.our_follow_state, "pending");
  assert.ok(row.our_follow_id?.startsWith(`${s.url}/`), `our_follow_id ${row.our_follow_id}`);
  const acc = await delivered(h, "/users/relay/inbox", (j) => j.type === "Accept" && j.object?.id === f.id, "the Accept");
  assertAcceptOf(acc.json, { actor: relayId(), followId: f.id, follower: lp.id, object: relayId() }, "Accept");
  await assertVerified(h, acc, `${relayId()}#main-key`, "Accept");
  const back = await delivered(h, "/users/relay/inbox", (j) => j.type === "Follow", "the Follow back");
  assert.equal(back.json.actor, relayId());
  assert.equal(back.json.object, lp.id);
  assert.equal(back.json.id, row.our_follow_id);
  await assertVerified(h, back, `${relayId()}#main-key`, "Follow back");
  // Their Accept of our Follow (embedded, as Pleroma sends it).
  const theirs = { "@context": AS, id: newId(h), type: "Accept", actor: lp.id, object: back.json };
  const r2 = await post("/inbox", theirs, { actor: lp });
  assert.equal(r2.status, 202, r2.body);
  count("accepted");
  row = await instance(h.domain);
  assert.equal(row.our_follow_state, "accepted");
  // A repeated LitePub Follow is answered, and does not follow back a second time.
  const f2 = follow(lp, relayId());
  assert.equal((await post("/inbox", f2, { actor: lp })).status, 202);
  count("accepted");
  await delivered(h, "/users/relay/inbox", (j) => j.type === "Accept" && j.object?.id === f2.id, "the second Accept");
  await quiesce();
  assert.equal(h.posts("/users/relay/inbox").filter((p) => p.json?.type === "Follow").length, 1, "one Follow back only");
  assert.equal((await instance(h.domain)).our_follow_state, "accepted");
});

test("GoToSocial-style keyId (/main-key) LitePub Follow; their Reject of our Follow is recorded", async () => {
  const h = await host([{ name: "instance", type: "Application", keyStyle: "path" }]);
  const g = h.actor("instance");
  const f = follow(g, relayId());
  const r = await post("/inbox", f, { actor: g, signed: "(request-target) host date digest" });
  assert.equal(r.status, 202, r.body);
  count("accepted");
  assert.ok(h.fetches("/users/instance/main-key").length >= 1, "the key document was fetched");
  const back = await delivered(h, "/users/instance/inbox", (j) => j.type === "Follow", "the Follow back");
  const rej = { "@context": AS, id: newId(h), type: "Reject", actor: g.id, object: back.json.id };
  assert.equal((await post("/inbox", rej, { actor: g })).status, 202);
  count("accepted");
  const row = await instance(h.domain);
  assert.equal(row.our_follow_state, "rejected");
  assert.equal(row.relay_state, "accepted", "their subscription stands");
});

test("Undo of the Follow (embedded, Mastodon style): unsubscribed, nothing sent", async () => {
  const admin = mast.actor("admin");
  await quiesce();
  const mark = mast.mark;
  const undo = { "@context": AS, id: newId(mast), type: "Undo", actor: admin.id, object: follow(admin, PUBLIC, adminFollowId) };
  delete undo.object["@context"];
  const r = await post("/inbox", undo, { actor: admin });
  assert.equal(r.status, 202, r.body);
  count("accepted");
  assert.equal((await instance(mast.domain)).relay_state, "unsubscribed");
  await quiesce();
  assert.deepEqual(mast.since(mark).filter((x) => x.method === "POST").map((x) => x.json?.type), [], "no reply to an Undo");
});

test("Follow of the bridge at /users/passerelle/inbox: members row and an Accept signed by the bridge; Undo removes it", async () => {
  const bob = mast.actor("bob");
  const f = follow(bob, bridgeId());
  const r = await post("/users/passerelle/inbox", f, { actor: bob });
  assert.equal(r.status, 202, r.body);
  count("accepted");
  const m = JSON.parse(await s.psql(`SELECT coalesce((SELECT row_to_json(m) FROM members m WHERE actor_uri = '${bob.id}')::text, 'null')`));
  assert.ok(m, "members row");
  assert.equal(m.host, mast.domain);
  assert.equal(m.follow_id, f.id);
  assert.equal(m.acct, `bob@${mast.domain}`);
  assert.equal(m.state, "joined");
  const rec = await delivered(mast, "/users/bob/inbox", (j) => j.type === "Accept" && j.object?.id === f.id, "the bridge's Accept");
  assertAcceptOf(rec.json, { actor: bridgeId(), followId: f.id, follower: bob.id, object: bridgeId() }, "bridge Accept");
  await assertVerified(mast, rec, `${bridgeId()}#main-key`, "bridge Accept");
  // The relay's subscription state is not touched by a person following the bridge.
  assert.equal((await instance(mast.domain)).relay_state, "unsubscribed");
  const undo = { "@context": AS, id: newId(mast), type: "Undo", actor: bob.id, object: { id: f.id, type: "Follow", actor: bob.id, object: bridgeId() } };
  assert.equal((await post("/users/passerelle/inbox", undo, { actor: bob })).status, 202);
  count("accepted");
  assert.equal(await s.psql(`SELECT count(*) FROM members WHERE actor_uri = '${bob.id}'`), "0");
});

test("Delete of the actor itself: subscription ended, member removed, cached actor dropped", async () => {
  const h = await host([{ name: "carol", type: "Application" }]);
  const carol = h.actor("carol");
  assert.equal((await post("/inbox", follow(carol, PUBLIC), { actor: carol })).status, 202);
  assert.equal((await post("/users/passerelle/inbox", follow(carol, bridgeId()), { actor: carol })).status, 202);
  count("accepted");
  count("accepted");
  assert.equal((await instance(h.domain)).relay_state, "accepted");
  assert.equal(await s.psql(`SELECT count(*) FROM members WHERE actor_uri = '${carol.id}'`), "1");
  assert.equal(await s.psql(`SELECT count(*) FROM remote_actors WHERE uri = '${carol.id}'`), "1");
  await quiesce();
  h.deleteActor("carol"); // as Mastodon does: the document is gone (410) when the Delete goes out
  const del = { "@context": AS, id: `${carol.id}#delete`, type: "Delete", actor: carol.id, object: carol.id, to: [PUBLIC] };
  const r = await post("/inbox", del, { actor: carol });
  assert.equal(r.status, 202, r.body);
  count("accepted");
  assert.equal((await instance(h.domain)).relay_state, "unsubscribed");
  assert.equal(await s.psql(`SELECT count(*) FROM members WHERE actor_uri = '${carol.id}'`), "0");
  assert.equal(await s.psql(`SELECT count(*) FROM remote_actors WHERE uri = '${carol.id}'`), "0");
});

test("Delete of an actor whose own server answers 410, key no longer cached: 202 without a usable key, its rows go", async () => {
  const h = await host([{ name: "gone", type: "Application" }]);
  const g = h.actor("gone");
  assert.equal((await post("/inbox", follow(g, PUBLIC), { actor: g })).status, 202);
  assert.equal((await post("/users/passerelle/inbox", follow(g, bridgeId()), { actor: g })).status, 202);
  count("accepted");
  count("accepted");
  await quiesce();
  // The cached key expired long ago (TTL one day), and the account is gone at its origin.
  await s.psql(`UPDATE remote_actors SET fetched_at = now() - interval '3 days' WHERE uri = '${g.id}'`);
  h.deleteActor("gone");
  const del = { "@context": AS, id: `${g.id}#delete`, type: "Delete", actor: g.id, object: g.id, to: [PUBLIC] };
  const r = await post("/inbox", del, { actor: g, privateKey: newKeyPair().privateKey });
  assert.equal(r.status, 202, r.body);
  count("accepted");
  assert.equal((await instance(h.domain)).relay_state, "unsubscribed");
  assert.equal(await s.psql(`SELECT count(*) FROM members WHERE actor_uri = '${g.id}'`), "0");
  assert.equal(await s.psql(`SELECT count(*) FROM remote_actors WHERE uri = '${g.id}'`), "0");
});

test("Delete of an actor that still exists, signed with a wrong key: 401, nothing changes", async () => {
  const alice = mast.actor("alice");
  const del = { "@context": AS, id: `${alice.id}#delete`, type: "Delete", actor: alice.id, object: alice.id, to: [PUBLIC] };
  await refused("forged Delete", () => post("/inbox", del, { actor: alice, privateKey: newKeyPair().privateKey }), 401);
  count("unauthorized", "bad_signature");
});

test("admin block of a subscriber: a Reject it can verify reaches it, its next Follow gets 403 unfetched; unblock lets it back", async () => {
  const h = await host([{ name: "admin", type: "Application" }]);
  const a = h.actor("admin");
  const f = follow(a, PUBLIC);
  assert.equal((await post("/inbox", f, { actor: a })).status, 202);
  count("accepted");
  await delivered(h, "/users/admin/inbox", (j) => j.type === "Accept", "the Accept");
  await quiesce();
  const out = await admin(s, "instances", "block", h.domain);
  assert.match(out, /blocked/);
  const rej = await delivered(h, "/", (j) => j.type === "Reject", "the Reject");
  assert.equal(rej.json.actor, relayId());
  assert.equal(rej.json.object?.id, f.id, "the Reject embeds the Follow");
  assert.equal(rej.json.object?.type, "Follow");
  assert.equal(rej.json.object?.actor, a.id);
  assert.equal(rej.json.object?.object, PUBLIC);
  await assertVerified(h, rej, `${relayId()}#main-key`, "Reject");
  const row = await instance(h.domain);
  assert.equal(row.blocked, true);
  assert.equal(row.relay_state, "rejected");
  await refused("blocked after admin block", () => post("/inbox", follow(a, PUBLIC), { actor: a }), 403, { noFetch: [h] });
  count("blocked");
  const list = await admin(s, "instances", "list");
  assert.match(list, new RegExp(`^${h.domain.replace(/\./g, "\\.")}\\s+rejected\\s+mastodon\\s+yes`, "m"), list);
  await admin(s, "instances", "unblock", h.domain);
  const f2 = follow(a, PUBLIC);
  assert.equal((await post("/inbox", f2, { actor: a })).status, 202);
  count("accepted");
  assert.equal((await instance(h.domain)).relay_state, "accepted");
  await delivered(h, "/users/admin/inbox", (j) => j.type === "Accept" && j.object?.id === f2.id, "the Accept after unblock");
});

test("an activity whose id is on another host than its actor is refused and cannot spend that id", async () => {
  const evil = await host([{ name: "mallory" }]);
  const victim = await host([{ name: "relay", type: "Application" }]);
  const m = evil.actor("mallory");
  const stolen = `${victim.url}/activities/follow-relay/9abc`;
  const forged = { "@context": AS, id: stolen, type: "Create", actor: m.id, object: { id: `${evil.url}/notes/1`, type: "Note", content: "x" }, to: [PUBLIC] };
  await refused("foreign activity id", () => post("/inbox", forged, { actor: m }), 400);
  count("bad_request");
  const v = victim.actor("relay");
  const f = { "@context": AS, id: stolen, type: "Follow", actor: v.id, object: PUBLIC };
  assert.equal((await post("/inbox", f, { actor: v })).status, 202);
  count("accepted");
  assert.equal((await instance(victim.domain)).relay_state, "accepted", "the real Follow with that id is not a duplicate");
  await delivered(victim, "/users/relay/inbox", (j) => j.type === "Accept" && j.object?.id === stolen, "the Accept");
});

test("an admin block of a host without a port covers every port of it, like relay_block", async () => {
  const h = await host([{ name: "someone" }]);
  const a = h.actor("someone");
  const bare = h.domain.replace(/:\d+$/, "");
  await admin(s, "instances", "block", bare);
  try {
    await refused("blocked by host, any port", () => post("/inbox", follow(a, PUBLIC), { actor: a }), 403, { noFetch: [h] });
    count("blocked");
  } finally {
    await admin(s, "instances", "unblock", bare);
  }
});

test("/metrics: inbox results and signature failure reasons, as counted", async () => {
  await quiesce();
  const m = parseMetrics((await get(`${s.url}/metrics`)).body);
  assert.equal(m.types.passerelle_inbox_requests_total, "counter");
  assert.equal(m.types.passerelle_signature_failures_total, "counter");
  const results = {};
  for (const x of m.samples.filter((x) => x.name === "passerelle_inbox_requests_total")) results[x.labels.result] = x.value;
  const reasons = {};
  for (const x of m.samples.filter((x) => x.name === "passerelle_signature_failures_total")) reasons[x.labels.reason] = x.value;
  assert.deepEqual(results, expect.results, "passerelle_inbox_requests_total by result");
  assert.deepEqual(reasons, expect.sigfail, "passerelle_signature_failures_total by reason");
  assert.ok(metricSum(m, "passerelle_deliveries_total", (l) => l.result === "delivered") >= 10, "deliveries counted");
  assert.ok(m.samples.some((x) => x.name === "passerelle_queue_depth"), "passerelle_queue_depth is exported");
});

// --- allowlist mode ------------------------------------------------------------------------

test("relay_mode=allowlist: an unlisted domain is pending with no Accept; a listed one is accepted", async (t) => {
  const listed = await host([{ name: "ok", type: "Application" }]);
  const other = await host([{ name: "wait", type: "Application" }]);
  const s2 = await startServer({ config: { ...CFG, relay_mode: "allowlist", relay_allow: listed.domain } });
  t.defer(() => s2.stop());
  const w = other.actor("wait");
  const f = follow(w, PUBLIC);
  const r = await signedPost(`${s2.url}/inbox`, f, { actor: w });
  assert.equal(r.status, 202, r.body);
  const row = await instance(other.domain, s2);
  assert.equal(row.relay_state, "pending");
  assert.equal(row.follow_id, f.id);
  const ok = listed.actor("ok");
  const f2 = follow(ok, PUBLIC);
  assert.equal((await signedPost(`${s2.url}/inbox`, f2, { actor: ok })).status, 202);
  assert.equal((await instance(listed.domain, s2)).relay_state, "accepted");
  const acc = await delivered(listed, "/users/ok/inbox", (j) => j.type === "Accept" && j.object?.id === f2.id, "the listed domain's Accept");
  assertAcceptOf(acc.json, { actor: `${s2.url}/actor`, followId: f2.id, follower: ok.id, object: PUBLIC }, "Accept");
  await quiesce(s2);
  assert.deepEqual(other.posts().map((p) => p.json?.type), [], "nothing sent to the pending domain");
  const m = parseMetrics((await get(`${s2.url}/metrics`)).body);
  assert.equal(metricSum(m, "passerelle_inbox_requests_total", (l) => l.result === "pending"), 1);
  // The operator allows it: the running server delivers the Accept of the pending Follow.
  const out = await admin(s2, "instances", "allow", other.domain);
  assert.match(out, /accepted/, out);
  const late = await delivered(other, "/", (j) => j.type === "Accept" && j.object?.id === f.id, "the Accept after admin allow");
  assertAcceptOf(late.json, { actor: `${s2.url}/actor`, followId: f.id, follower: w.id, object: PUBLIC }, "late Accept");
  await assertVerified(other, late, `${s2.url}/actor#main-key`, "late Accept");
  const row2 = await instance(other.domain, s2);
  assert.equal(row2.relay_state, "accepted");
  assert.equal(row2.allowed, true);
  // A pending LitePub subscription: allowing it sends the Accept and the Follow back.
  const lph = await host([{ name: "relay", type: "Application" }]);
  const lp = lph.actor("relay");
  const f3 = follow(lp, `${s2.url}/actor`);
  assert.equal((await signedPost(`${s2.url}/inbox`, f3, { actor: lp })).status, 202);
  assert.equal((await instance(lph.domain, s2)).relay_state, "pending");
  await quiesce(s2);
  assert.deepEqual(lph.posts().map((p) => p.json?.type), [], "nothing sent while pending");
  await admin(s2, "instances", "allow", lph.domain);
  const acc3 = await delivered(lph, "/", (j) => j.type === "Accept" && j.object?.id === f3.id, "the LitePub Accept after allow");
  assertAcceptOf(acc3.json, { actor: `${s2.url}/actor`, followId: f3.id, follower: lp.id, object: `${s2.url}/actor` }, "LitePub Accept");
  const back = await delivered(lph, "/", (j) => j.type === "Follow" && j.actor === `${s2.url}/actor`, "the Follow back after allow");
  assert.equal(back.json.object, lp.id);
  await assertVerified(lph, back, `${s2.url}/actor#main-key`, "Follow back");
  const row3 = await instance(lph.domain, s2);
  assert.equal(row3.relay_state, "accepted");
  assert.equal(row3.our_follow_id, back.json.id);
  assert.equal(row3.our_follow_state, "pending");
});

// Last: it restarts the server, which resets the counters the /metrics test checks.
test("a rotated key: the cached one fails, the key is fetched again once, the request accepted; the old key then gets 401 without a fetch", async () => {
  const dave = mast.actor("dave"); // cached during setup
  // The key was cached by an earlier run of the server, five minutes ago: past the refresh
  // floor (one minute, remembered in the database and in the process), inside the TTL.
  await s.stop({ keepDb: true });
  await s.psql(`UPDATE remote_actors SET fetched_at = now() - interval '5 minutes' WHERE uri = '${dave.id}'`);
  await s.start();
  mast.rotateKey("dave");
  let mark = mast.mark;
  const r = await post("/inbox", create(dave), { actor: dave });
  assert.equal(r.status, 202, r.body);
  assert.equal(mast.since(mark).filter((x) => x.method === "GET" && x.path === "/users/dave").length, 1, "exactly one refetch");
  const pem = await s.psql(`SELECT public_key_pem FROM remote_actors WHERE uri = '${dave.id}'`);
  assert.equal(pem.trim(), dave.publicKeyPem.trim(), "the new key is cached");
  // The old key no longer verifies: refused without another fetch (the refresh floor).
  mark = mast.mark;
  const old = await post("/inbox", create(dave), { actor: dave, privateKey: dave.oldKeys[0].privateKey });
  assertJsonError(old, 401, "old key");
  assert.equal(mast.since(mark).filter((x) => x.method === "GET").length, 0, "no fetch within the floor");
});
