// Hostile input (issue 6, item 5), one table across every endpoint: malformed JSON, nesting
// bombs, invalid UTF-8, huge headers, forged signatures, replayed ids, keyId/actor mismatch,
// private addresses in actor ids and keyIds, SQL metacharacters, path traversal, zip bombs,
// traversal in archive entry names, oversized archives. Each row: the request, the status it
// must get, and every table of the database byte for byte the same after as before (a dump
// of every row: tests/lib/dbsnap.mjs); nothing delivered to the peers, and where a row says
// so, nothing fetched from the addresses it names.
//
// Not every right answer is a 4xx: a replayed activity id is 202 and changes nothing (a 4xx
// would make an honest peer retry forever), an unknown or spent link code is 303 to the
// page that says the link expired.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { once } from "node:events";
import zlib from "node:zlib";
import { test, setup, teardown, eventually, sleep, SLOW } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { request, rawExchange } from "../lib/http.mjs";
import { mediaType } from "../lib/http.mjs";
import net from "node:net";
import { startActorHost, signedPost, newId, newKeyPair, rsaKeyPair, bigExponentKeyPair, AS, PUBLIC } from "../lib/actorhost.mjs";
import { snapshot, closeSessions, queueSettled } from "../lib/dbsnap.mjs";
import { joinMember, welcomeCode, linkArchive } from "../lib/members.mjs";
import { xArchive, zipBuffer } from "../lib/xarchive.mjs";

const TOKEN = "metrics-sekret";
const MAX_ARCHIVE = 2 * 1024 * 1024;

let s; // the server: loopback fetches allowed (the peers live there)
let strict; // a second one with the default: no fetch to loopback or private addresses
let peer; // alice, bob: a fediverse server on loopback
let m; // a member of s with a link-page session
let evil; // an attacker's server: mallory's inbox is a path of peer (reflection)
let spare; // the unused one-time code of another member (dora)
let tarpit; // accepts connections and never answers
const tarpitSockets = new Set();

setup(async () => {
  peer = await startActorHost({
    actors: [
      ...["alice", "bob", "carol", "dora", "dave", "erin", "frank", "gina"].map((name) => ({ name })),
      { name: "eve", document: (d) => ({ ...d, preferredUsername: "=HYPERLINK(\"https://evil.example\")" }) },
    ],
  });
  const config = { metrics_token: TOKEN, max_archive_bytes: MAX_ARCHIVE, queue_poll_ms: 100, queue_backoff_unit_ms: 10, claims_per_member: 1, relay_follow_poll_ms: 100 };
  s = await startServer({ config: { ...config, allow_private_fetch: "true", key_fetch_timeout: 2 * SLOW, follow_members: "true" } });
  tarpit = net.createServer((sock) => {
    tarpitSockets.add(sock);
    sock.on("error", () => {});
    sock.on("close", () => tarpitSockets.delete(sock));
  });
  await new Promise((r) => tarpit.listen(0, "127.0.0.1", r));
  strict = await startServer({ config });
  evil = await startActorHost({ actors: [{ name: "mallory", document: (d) => ({ ...d, inbox: `${peer.url}/users/alice/inbox`, endpoints: {} }) }] });
  m = await joinMember(s, peer, "carol");
  spare = await welcomeCode(s, peer, "dora");
  await claimants();
  await makeBombs();
  // Keys cached and one activity seen, so the refusals below meet a warm server.
  for (const name of ["alice", "bob", "eve"]) {
    const r = await signedPost(`${s.url}/inbox`, create(peer.actor(name)), { actor: peer.actor(name) });
    assert.equal(r.status, 202, r.body);
  }
  seenOnce = create(peer.actor("alice"));
  assert.equal((await signedPost(`${s.url}/inbox`, seenOnce, { actor: peer.actor("alice") })).status, 202);
  // The bridge account follows every member (memberfollow.c): sent before the snapshots, so
  // that nothing changes in the background while a row is checked.
  await eventually(
    async () =>
      (await s.psql("SELECT count(*) FROM members WHERE bridge_follow_state = 'none' AND inbox IS NOT NULL")).trim() === "0" &&
      (await s.psql("SELECT count(*) FROM deliveries WHERE state = 'pending'")).trim() === "0",
    { timeout: 10000, what: "the bridge's follows of the members sent" },
  );
});

teardown(async () => {
  closeSessions();
  if (peer) await peer.stop();
  if (evil) await evil.stop();
  for (const sock of tarpitSockets) sock.destroy();
  if (tarpit) tarpit.close();
  if (strict) assert.equal(await strict.stop(), 0, "serve exit code");
  if (s) assert.equal(await s.stop(), 0, "serve exit code");
});

let seenOnce; // an activity s has already accepted

function create(actor, extra = {}) {
  return {
    "@context": AS,
    id: newId(peer),
    type: "Create",
    actor: actor.id,
    to: [PUBLIC],
    object: { id: newId(peer, "notes"), type: "Note", attributedTo: actor.id, content: "hello", to: [PUBLIC] },
    ...extra,
  };
}

const alice = () => peer.actor("alice");
// An activity whose actor and id are both on host (and so pass the same-host check).
const onHost = (host) => ({ ...create({ id: `${host}/users/alice` }), id: `${host}/activities/${Date.now()}` });
const bob = () => peer.actor("bob");
// An actor of peer whose document answers 404 (made on first use).
const hidden = (name) => {
  try {
    peer.actor(name);
  } catch {
    peer.addActor({ name });
  }
  peer.hideActor(name);
  return peer.actor(name);
};
// An actor of peer with its own key pair (made on first use).
const keyed = (name, keyPair) => {
  try {
    return peer.actor(name);
  } catch {
    return peer.addActor({ name, key: keyPair() });
  }
};
const tarpitUrl = () => `http://127.0.0.1:${tarpit.address().port}`;
const deleteOf = (a) => ({ "@context": AS, id: `${a.id}#delete`, type: "Delete", actor: a.id, object: a.id, to: [PUBLIC] });
const sign = (path, body, opts = {}) => signedPost(`${(opts.server ?? s).url}${path}`, body, { actor: alice(), ...opts });
const raw = async (text, srv = s) => {
  const r = await rawExchange(srv.port, text, { timeout: 3000, responses: 1 });
  return { status: r.status, body: r.data, headers: {}, raw: true };
};
const get = (path, headers = {}) => request(`${s.url}${path}`, { headers });
const post = (path, body, headers = {}) => request(`${s.url}${path}`, { method: "POST", headers, body });
const page = (path, body, { type = "application/json", csrf = m.csrf, cookie = m.cookie } = {}) =>
  post(path, body, { cookie, "x-csrf-token": csrf, "content-type": type });

// Anyone can compute the CSRF token of a cookie they made up: only the database knows sessions.
function madeUpSession() {
  const token = randomBytes(32).toString("hex");
  return { cookie: `${m.cookie.split("=")[0]}=${token}`, csrf: createHmac("sha256", token).update("passerelle link page csrf").digest("hex") };
}

const nest = (open, close, n) => open.repeat(n) + close.repeat(n);
const badUtf8 = (prefix, bytes, suffix) => Buffer.concat([Buffer.from(prefix), Buffer.from(bytes), Buffer.from(suffix)]);
const SQL = "x' OR '1'='1'; DROP TABLE members; --";

// A zip of the archive's needed files, entries renamed or added.
function archiveZip(edit = (e) => e) {
  const a = xArchive({ username: "carol_x", accountId: "4200000000000000001", followers: 2, following: 2 });
  return zipBuffer(edit(a.entries.filter((e) => !e.name.includes("tweets"))));
}

// Claims (issue 12, item 2): dave and erin claim one X id within its hold (both disputed);
// frank is verified with X; gina has used her one claim of the day (claims_per_member 1).
const claim = {};
async function claimants() {
  for (const name of ["dave", "erin", "frank", "gina"]) claim[name] = await joinMember(s, peer, name);
  const up = async (who, xId) => assert.equal((await linkArchive(s, claim[who], { xId })).status, who === "erin" ? 409 : 200);
  await up("dave", "4100000000000000001");
  await up("erin", "4100000000000000001");
  await up("frank", "4200000000000000002");
  await up("gina", "4300000000000000003");
  await s.psql(`UPDATE members SET x_verified_at = now() WHERE id = ${claim.frank.id}`);
}
const claimAs = (who, xId) => page("/link/archive", zipBuffer(xArchive({ username: `${who}_x`, accountId: xId, followers: 1, following: 1 }).entries), { type: "application/zip", cookie: claim[who].cookie, csrf: claim[who].csrf });

// Rows: [name, send, status, {noFetch: [urls' hosts that must see no GET], json: false}].
const rows = [
  // --- the inbox: malformed JSON, bombs, UTF-8 ------------------------------------------
  ["inbox: malformed JSON (signed)", () => sign("/inbox", '{"type": "Create", "actor": '), 400],
  ["inbox: JSON that is not an object", () => sign("/inbox", "[1, 2, 3]"), 400],
  ["inbox: a JSON string", () => sign("/inbox", '"Create"'), 400],
  ["inbox: trailing garbage after the object", () => sign("/inbox", `${JSON.stringify(create(alice()))} {}`), 400],
  ["inbox: nesting bomb, 100,000 arrays", () => sign("/inbox", `{"a": ${nest("[", "]", 100000)}}`), 400],
  ["inbox: nesting bomb, 30,000 objects", () => sign("/inbox", nest('{"a":', "}", 30000).replace(/:}/, ":1}")), 400],
  ["inbox: invalid UTF-8 in a string", () => sign("/inbox", badUtf8(`{"@context": "${AS}", "id": "${newId(peer)}", "type": "Create", "actor": "${alice().id}", "content": "`, [0xff, 0xfe], '"}')), 400],
  ["inbox: overlong UTF-8 (C0 AF)", () => sign("/inbox", badUtf8(`{"id": "${newId(peer)}", "type": "Create", "actor": "${alice().id}", "x": "`, [0xc0, 0xaf], '"}')), 400],
  ["inbox: UTF-8 surrogate half (ED A0 80)", () => sign("/inbox", badUtf8(`{"id": "${newId(peer)}", "type": "Create", "actor": "${alice().id}", "x": "`, [0xed, 0xa0, 0x80], '"}')), 400],
  ["inbox: a NUL byte in the body", () => sign("/inbox", badUtf8(`{"id": "${newId(peer)}", "type": "Create", "actor": "${alice().id}", "x": "a`, [0], 'b"}')), 400],
  ["inbox: no id", () => sign("/inbox", { "@context": AS, type: "Create", actor: alice().id }), 400],
  ["inbox: actor is an object without id", () => sign("/inbox", { ...create(alice()), actor: { type: "Person" } }), 400],
  ["inbox: type is a number", () => sign("/inbox", { ...create(alice()), type: 42 }), 400],
  ["inbox: the id on another host than its actor", () => sign("/inbox", { ...create(alice()), id: "https://victim.example/activities/1" }), 400],
  ["inbox: empty body", () => sign("/inbox", ""), 400],
  ["inbox: text/plain", () => sign("/inbox", create(alice()), { contentType: "text/plain" }), 415],
  // --- signatures -------------------------------------------------------------------------
  ["inbox: unsigned", () => post("/inbox", JSON.stringify(create(alice())), { "content-type": "application/activity+json" }), 401],
  ["inbox: signed with another key (forged)", () => sign("/inbox", create(alice()), { privateKey: newKeyPair().privateKey }), 401],
  ["inbox: body changed after signing (Digest kept)", () => sign("/inbox", create(alice()), { tamper: (b) => b.replace("hello", "HELLO") }), 401],
  ["inbox: body changed, Digest recomputed, signature old", () => sign("/inbox", create(alice()), { tamper: (b) => b.replace("hello", "HELLO"), tamperDigest: true }), 401],
  ["inbox: no Digest", () => sign("/inbox", create(alice()), { digest: false }), 401],
  ["inbox: Date two hours old", () => sign("/inbox", create(alice()), { dateOffsetMs: -2 * 3600 * 1000 }), 401],
  ["inbox: Date two hours ahead", () => sign("/inbox", create(alice()), { dateOffsetMs: 2 * 3600 * 1000 }), 401],
  ["inbox: Digest sent but not signed", () => sign("/inbox", create(alice()), { signed: "(request-target) host date content-type" }), 401],
  ["inbox: neither Date nor (created) signed", () => sign("/inbox", create(alice()), { signed: "(request-target) host digest content-type" }), 401],
  ["inbox: unknown algorithm", () => sign("/inbox", create(alice()), { algorithm: "hmac-sha256" }), 401],
  ["inbox: a Signature parameter twice", () => sign("/inbox", create(alice()), { duplicate: { keyId: bob().keyId } }), 401],
  ["inbox: signed for another path", () => sign("/inbox", create(alice()), { requestTarget: "/users/passerelle/inbox" }), 401],
  ["inbox: RFC 9421 signed with another key", () => sign("/inbox", create(alice()), { scheme: "rfc9421", privateKey: newKeyPair().privateKey }), 401],
  ["inbox: RFC 9421 Signature-Input, no Signature", () => sign("/inbox", create(alice()), { scheme: "rfc9421", headers: { signature: "" } }), 401],
  ["inbox: keyId/actor mismatch (bob signs alice's activity)", () => sign("/inbox", create(alice()), { actor: bob() }), 401],
  ["inbox: keyId SQL metacharacters", () => sign("/inbox", create(alice()), { keyId: `${peer.url}/users/${encodeURIComponent(SQL)}#main-key` }), 401],
  ["inbox: keyId on a private address (10/8): not fetched", () => sign("/inbox", create(alice()), { keyId: "http://10.1.2.3/actor#main-key" }), 401],
  ["inbox: keyId on the metadata address 169.254.169.254", () => sign("/inbox", create(alice()), { keyId: "http://169.254.169.254/latest/meta-data#k" }), 401],
  ["inbox: keyId on IPv6 link-local", () => sign("/inbox", create(alice()), { keyId: "http://[fe80::1]/actor#main-key" }), 401],
  ["inbox: keyId not a URL", () => sign("/inbox", create(alice()), { keyId: "../../etc/passwd" }), 401],
  // A quote or a backslash in a host once broke the block query's array literal (503).
  ["inbox: keyId whose host holds a quote", () => sign("/inbox", create(alice()), { keyId: 'https://a\\"b.example/k#k' }), 401],
  ["inbox: keyId whose host holds a backslash", () => sign("/inbox", create(alice()), { keyId: "https://a\\\\b.example/k#k" }), 401],
  ["inbox: keyId whose host holds braces and a comma", () => sign("/inbox", create(alice()), { keyId: "https://a},{b.example/k#k" }), 401],
  ["inbox: actor and id on a host holding a quote", () => sign("/inbox", onHost('http://a"b.example')), 400],
  ["strict inbox: keyId on loopback, never fetched", () => sign("/inbox", create(alice()), { server: strict }), 401, { noFetch: true }],
  ["strict inbox: actor and id on a private address, keyId on loopback", () => sign("/inbox", onHost("http://192.168.1.1"), { server: strict }), 401, { noFetch: true }],
  ["inbox: actor and id on a private address, signed by alice", () => sign("/inbox", onHost("http://192.168.1.1")), 401],
  ["inbox: actor and id on localhost, signed by alice", () => sign("/inbox", onHost("http://localhost")), 401],
  ["inbox: actor on a private address, id on alice's host", () => sign("/inbox", create({ id: "http://10.0.0.7/users/alice" })), 400],
  ["inbox: a key with a 3070-bit public exponent (slow to verify)", () => sign("/inbox?x", create(keyed("bige", bigExponentKeyPair)), { actor: keyed("bige", bigExponentKeyPair) }), 401],
  ["inbox: a 1024-bit key", () => sign("/inbox", create(keyed("small", () => rsaKeyPair({ modulusLength: 1024 }))), { actor: keyed("small", () => rsaKeyPair({ modulusLength: 1024 })) }), 401],
  ["inbox: signed for another Host (cavage host)", () => sign("/inbox", create(alice()), { host: "other.example" }), 401],
  ["inbox: signed for another Host (RFC 9421 @authority)", () => sign("/inbox", create(alice()), { host: "other.example", scheme: "rfc9421" }), 401],
  ["inbox: hs2019, Date two days old, a fresh created parameter not signed", () => sign("/inbox", create(alice()), { algorithm: "hs2019", date: new Date(Date.now() - 2 * 86400e3), duplicate: { created: String(Math.floor(Date.now() / 1000)) } }), 401],
  ["inbox: keyId on a host that never answers: 503 at the deadline", () => sign("/inbox", onHost(tarpitUrl()), { keyId: `${tarpitUrl()}/users/alice#main-key` }), 503],
  ["inbox: unsigned Delete of an actor whose server answers 404 (only 410 is believed)", () => sign("/inbox", deleteOf(hidden("ghost")), { actor: hidden("ghost"), privateKey: newKeyPair().privateKey }), 401],
  ["bridge inbox: Follow by an actor whose preferredUsername is a formula", () => sign("/users/passerelle/inbox", { "@context": AS, id: newId(peer), type: "Follow", actor: peer.actor("eve").id, object: `${s.url}/users/passerelle` }, { actor: peer.actor("eve") }), 400],
  // --- reflection: an actor whose inbox is another server's ---------------------------------
  ["inbox: relay Follow by an actor whose inbox is on another host", () => sign("/inbox", { "@context": AS, id: newId(evil), type: "Follow", actor: evil.actor("mallory").id, object: PUBLIC }, { actor: evil.actor("mallory") }), 401],
  ["bridge inbox: Follow by an actor whose inbox is on another host", () => sign("/users/passerelle/inbox", { "@context": AS, id: newId(evil), type: "Follow", actor: evil.actor("mallory").id, object: `${s.url}/users/passerelle` }, { actor: evil.actor("mallory") }), 401],
  // --- replays: 202, nothing changes --------------------------------------------------------
  ["inbox: a replayed activity id", () => sign("/inbox", seenOnce), 202],
  ["inbox: a replayed id with another body", () => sign("/inbox", { ...seenOnce, object: { ...seenOnce.object, content: "changed" } }), 202],
  ["bridge inbox: a replayed id", () => sign("/users/passerelle/inbox", seenOnce), 202],
  // --- the other inbox paths --------------------------------------------------------------
  ["POST /actor: nesting bomb", () => sign("/actor", `{"a": ${nest("[", "]", 100000)}}`), 400],
  ["POST /actor: forged signature", () => sign("/actor", create(alice()), { privateKey: newKeyPair().privateKey }), 401],
  ["bridge inbox: malformed JSON", () => sign("/users/passerelle/inbox", "{{{{"), 400],
  ["bridge inbox: keyId/actor mismatch", () => sign("/users/passerelle/inbox", create(alice()), { actor: bob() }), 401],
  ["bridge inbox: invalid UTF-8", () => sign("/users/passerelle/inbox", badUtf8(`{"id": "${newId(peer)}", "type": "Create", "actor": "${alice().id}", "x": "`, [0xf8, 0x88, 0x80, 0x80, 0x80], '"}')), 400],
  ["another user's inbox", () => sign("/users/nobody/inbox", create(alice())), 404],
  ["DELETE /inbox", () => request(`${s.url}/inbox`, { method: "DELETE" }), 405],
  // --- raw HTTP: huge headers, smuggling ---------------------------------------------------
  ["200 headers", () => raw(`GET /actor HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 200 }, (_, i) => `X-${i}: y\r\n`).join("")}\r\n`), 431, { json: false }],
  ["a 64 KiB header (evhttp refuses the head)", () => raw(`GET /actor HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(65536)}\r\n\r\n`), 400, { json: false }],
  ["a 64 KiB URL (evhttp refuses the head)", () => raw(`GET /actor?${"q".repeat(65536)} HTTP/1.1\r\nHost: x\r\n\r\n`), 400, { json: false }],
  ["Content-Length and Transfer-Encoding both (smuggling)", () => raw("POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Type: application/activity+json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400],
  ["two different Content-Lengths (smuggling)", () => raw("POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Type: application/activity+json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"), 400],
  ["Transfer-Encoding: gzip, chunked (smuggling)", () => raw("POST /inbox HTTP/1.1\r\nHost: x\r\nContent-Type: application/activity+json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"), 400],
  ["a NUL byte in the path", () => get("/link/assets/%00"), 400],
  ["path traversal in /link/assets", () => raw("GET /link/assets/../../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"), 404, { json: false }],
  ["encoded path traversal in /link/assets", () => get("/link/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd"), 404],
  ["SQL metacharacters in an unknown path", () => get(`/users/${encodeURIComponent(SQL)}`), 404],
  // --- discovery ---------------------------------------------------------------------------
  ["webfinger: no resource", () => get("/.well-known/webfinger"), 400],
  ["webfinger: invalid UTF-8 (%FF)", () => get("/.well-known/webfinger?resource=acct:%FF%FE@127.0.0.1"), 400],
  ["webfinger: SQL metacharacters", () => get(`/.well-known/webfinger?resource=${encodeURIComponent(`acct:${SQL}@${new URL(s.url).host}`)}`), 400],
  ["webfinger: quote in a plausible handle", () => get(`/.well-known/webfinger?resource=${encodeURIComponent(`acct:o'brien@${new URL(s.url).host}`)}`), 404],
  ["webfinger: another host", () => get("/.well-known/webfinger?resource=acct:relay@victim.example"), 404],
  ["webfinger: a 4 KiB resource", () => get(`/.well-known/webfinger?resource=acct:${"a".repeat(4096)}@x`), 400],
  ["webfinger: a resource that is a private URL", () => get("/.well-known/webfinger?resource=http://169.254.169.254/latest"), 404],
  ["host-meta: POST", () => post("/.well-known/host-meta", "x"), 405],
  ["nodeinfo: an unknown version", () => get("/nodeinfo/9.9"), 404],
  ["stand-in: not a number", () => get("/x/abc"), 404],
  ["stand-in: SQL metacharacters", () => get(`/x/${encodeURIComponent(SQL)}`), 404],
  ["stand-in: an id over 2^64", () => get("/x/99999999999999999999999"), 404],
  ["metrics: no token", () => get("/metrics"), 401],
  ["metrics: a wrong token", () => get("/metrics", { authorization: "Bearer wrong" }), 401],
  ["metrics: SQL metacharacters as the token", () => get("/metrics", { authorization: `Bearer ${SQL}` }), 401],
  // --- the link page ------------------------------------------------------------------------
  ["link: a code with SQL metacharacters", () => get(`/link/${encodeURIComponent(SQL)}`), 404],
  ["link: a well-formed code nobody was given", () => get(`/link/${"0".repeat(32)}`), 303, { json: false }],
  ["link: a valid code fetched by a link preview (GET)", () => get(`/link/${spare}`, { "user-agent": "http.rb/5.2.0 (Mastodon/4.3.2; +https://m.example/) Bot" }), 200, { json: false }],
  ["link: a valid code fetched by a link preview (HEAD)", () => request(`${s.url}/link/${spare}`, { method: "HEAD" }), 200, { json: false }],
  ["link: a valid code POSTed by another site's form (login CSRF)", () => post(`/link/${spare}`, "", { origin: "https://attacker.example", "content-type": "application/x-www-form-urlencoded" }), 403],
  ["link: a valid code POSTed cross-site (Sec-Fetch-Site)", () => post(`/link/${spare}`, "", { "sec-fetch-site": "cross-site" }), 403],
  ["link: a valid code POSTed with neither Origin nor Sec-Fetch-Site", () => post(`/link/${spare}`, ""), 403],
  ["link: a well-formed code nobody was given, POSTed from the page", () => post(`/link/${"0".repeat(32)}`, "", { origin: s.url }), 303, { json: false }],
  ["link: a code of SQL metacharacters, POSTed", () => post(`/link/${encodeURIComponent(SQL)}`, "", { origin: s.url }), 404],
  ["link: state with a forged cookie", () => get("/link/state", { cookie: `${m.cookie.split("=")[0]}=${"0".repeat(43)}` }), 401],
  ["link: state with SQL metacharacters as the cookie", () => get("/link/state", { cookie: `${m.cookie.split("=")[0]}=${encodeURIComponent(SQL)}` }), 401],
  ["consents: no session", () => page("/link/consents", "{}", { cookie: "" }), 401],
  ["consents: no CSRF token", () => page("/link/consents", '{"findable": false}', { csrf: "" }), 403],
  ["consents: a CSRF token of SQL metacharacters", () => page("/link/consents", '{"findable": false}', { csrf: SQL }), 403],
  ["consents: malformed JSON", () => page("/link/consents", '{"findable": '), 400],
  ["consents: nesting bomb", () => page("/link/consents", nest("[", "]", 2000)), 400],
  ["consents: an unknown key of SQL metacharacters", () => page("/link/consents", JSON.stringify({ [SQL]: true })), 400],
  ["consents: a string where a boolean goes", () => page("/link/consents", '{"findable": "true"}'), 400],
  ["consents: invalid UTF-8", () => page("/link/consents", badUtf8('{"findable": false, "x": "', [0xff], '"}')), 400],
  ["consents: overlong UTF-8", () => page("/link/consents", badUtf8('{"findable": false, "x": "', [0xc0, 0xaf], '"}')), 400],
  ["consents: trailing garbage", () => page("/link/consents", '{"findable": false} {"relay": true}'), 400],
  ["archive: no session", () => page("/link/archive", archiveZip(), { type: "application/zip", cookie: "" }), 401],
  ["archive: no CSRF token", () => page("/link/archive", archiveZip(), { type: "application/zip", csrf: "" }), 403],
  ["archive: a made-up session with its self-made CSRF token (refused from the head)", () => page("/link/archive", archiveZip(), { type: "application/zip", ...madeUpSession() }), 401],
  ["archive: not a zip", () => page("/link/archive", Buffer.from("PK\u0003\u0004 this is not a zip"), { type: "application/zip" }), 400],
  ["archive: a JSON body", () => page("/link/archive", "{}"), 415],
  ["archive: entry names with ../ (traversal)", () => page("/link/archive", archiveZip((es) => es.map((e) => ({ ...e, name: `../../${e.name}` }))), { type: "application/zip" }), 400],
  ["archive: entry names with absolute paths", () => page("/link/archive", archiveZip((es) => es.map((e) => ({ ...e, name: `/etc/${e.name}` }))), { type: "application/zip" }), 400],
  ["archive: zip bomb, a 256 MiB follower file in 256 KiB", () => page("/link/archive", bombs.honest, { type: "application/zip" }), 400],
  ["archive: zip bomb declared as 1 KiB", () => page("/link/archive", bombs.liar, { type: "application/zip" }), 400],
  ["archive: over max_archive_bytes (refused from its Content-Length)", () => raw(`POST /link/archive HTTP/1.1\r\nHost: x\r\nCookie: ${m.cookie}\r\nX-CSRF-Token: ${m.csrf}\r\nContent-Type: application/zip\r\nContent-Length: ${MAX_ARCHIVE + 1}\r\n\r\nPK`), 413, { json: false }],
  ["archive: account.js with SQL metacharacters as the handle", () => page("/link/archive", archiveZip((es) => es.map((e) => (e.name === "data/account.js" ? { ...e, data: Buffer.from(e.data.toString().replace("carol_x", SQL)) } : e))), { type: "application/zip" }), 400],
  ["csv export: no session", () => get("/me/following.csv"), 401],
  ["csv export: a forged session", () => get("/me/following.csv", { cookie: `${m.cookie.split("=")[0]}=${"A".repeat(43)}` }), 401],
  ["oauth start: no session", () => post("/link/oauth/start", "{}", { "content-type": "application/json" }), 401],
  ["oauth start: no CSRF token", () => page("/link/oauth/start", "{}", { csrf: "" }), 403],
  ["oauth revoke: no CSRF token", () => page("/link/oauth/revoke", "{}", { csrf: "" }), 403],
  // --- claims (issue 12, item 2) -------------------------------------------------------------
  ["claims: a disputed member claims another X id", () => claimAs("erin", "4400000000000000004"), 409],
  ["claims: a disputed member sends its disputed X id again (no second round of messages)", () => claimAs("erin", "4100000000000000001"), 409],
  ["claims: a member verified with X sends another X id's archive", () => claimAs("frank", "4500000000000000005"), 409],
  ["claims: past claims_per_member", () => claimAs("gina", "4600000000000000006"), 429],
  ["x verify: start when no X app is configured", () => page("/link/x/start", "{}"), 404],
  ["x verify: start without a CSRF token", () => page("/link/x/start", "{}", { csrf: "" }), 404],
  ["x verify: a callback with a forged state", () => get(`/link/x/callback?state=${"a".repeat(64)}&code=forged`), 303, { json: false }],
  ["x verify: a callback with SQL metacharacters as the state", () => get(`/link/x/callback?state=${encodeURIComponent(SQL)}&code=x`), 303, { json: false }],
];

// Zip bombs: the archive with its follower file replaced by one whose list holds 256 MiB of
// white space, deflated to a few hundred KiB; declared as it is, or as 1 KiB.
const bombs = {};
async function makeBombs() {
  const size = 256 << 20;
  const head = Buffer.from("window.YTD.follower.part0 = [");
  const tail = Buffer.from("]");
  const d = zlib.createDeflateRaw({ level: 9 });
  const out = [];
  d.on("data", (c) => out.push(c));
  const ended = once(d, "end");
  const chunk = Buffer.alloc(1 << 22, 0x20);
  let crc = zlib.crc32(head);
  d.write(head);
  for (let n = 0; n < size; n += chunk.length) {
    crc = zlib.crc32(chunk, crc);
    if (!d.write(chunk)) await once(d, "drain");
  }
  crc = zlib.crc32(tail, crc);
  d.end(tail);
  await ended;
  const deflated = Buffer.concat(out);
  const usize = head.length + size + tail.length;
  for (const [kind, declared] of [["honest", usize], ["liar", 1024]]) {
    bombs[kind] = archiveZip((es) => es.map((e) => (e.name === "data/follower.js" ? { name: e.name, deflated, crc, usize: declared } : e)));
  }
}

for (const [name, send, status, opts = {}] of rows) {
  test(`${name}: ${status}, database unchanged`, async (t) => {
    const before = await quiet();
    const mark = peer.mark;
    const dbFailures = s.events("inbox_db_failed").length;
    const r = await send();
    assert.equal(r.status, status, `${name}: ${r.status} ${String(r.body).slice(0, 160)}`);
    if (!r.raw) t.log(`${r.status} ${String(r.body).slice(0, 100)}`);
    if (status >= 400 && opts.json !== false && !r.raw) {
      assert.equal(mediaType(r.headers["content-type"]), "application/json", `${name}: error content type`);
      assert.ok(typeof JSON.parse(r.body).error === "string", `${name}: {"error": ...}`);
    }
    await sleep(30);
    assert.equal(s.events("inbox_db_failed").length, dbFailures, `${name}: a database error`);
    const after = JSON.stringify(await snapshot(s.db));
    assert.equal(after, before, `${name}: the database changed`);
    const seen = peer.since(mark);
    assert.deepEqual(seen.filter((x) => x.method === "POST").map((x) => x.path), [], `${name}: something was delivered`);
    if (opts.noFetch) assert.deepEqual(seen.filter((x) => x.method === "GET").map((x) => x.path), [], `${name}: the peer was fetched`);
  });
}

test(`the table has at least 60 rows (${rows.length}) across every endpoint`, () => {
  assert.ok(rows.length >= 60);
});

// Every table, once nothing is pending in the queue and two dumps in a row agree.
let last = null;
async function quiet() {
  let text = null;
  await eventually(
    async () => {
      const snap = await snapshot(s.db);
      const t = JSON.stringify(snap);
      const ok = queueSettled(snap) && t === (text ?? last);
      text = t;
      return ok;
    },
    { timeout: 10000, interval: 50, what: "the database to be quiet" },
  );
  last = text;
  return text;
}
