// Undoing, from the page, a follow passerelle wrote in a Bluesky member's repository (issue 13),
// against the reference PDS and an in-memory PLC directory on loopback (tests/lib/pds.mjs),
// rate limits on, and the real server and PostgreSQL; members made as in atfollow.test.mjs,
// the page's session written in SQL. The record passerelle wrote is deleted (deleteRecord with
// the member's app-password session) and read back gone with listRecords; a follow of the same
// account the member wrote themselves stays, and so does one they had made before passerelle
// (the page offers no undo for it and refuses one); a second undo is a 409; a grant revoked at
// the PDS gives a clear error and deletes nothing.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { blueskyWorld, plannedAtproto, pairRow, followsOf } from "../lib/atmembers.mjs";
import { sqlSession } from "../lib/linkcode.mjs";
import { request } from "../lib/http.mjs";

let s, pds, sess;
let A, M; // name -> PDS account {did, handle, accessJwt, refreshJwt}, member {id, xId, did}

setup(async () => {
  ({ pds, s, A, M } = await blueskyWorld({ names: ["alice", "bob", "carol", "dave", "erin"], granted: ["alice"] }));
  sess = await sqlSession(s, M.alice.id);
});
teardown(async () => {
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
  await pds?.stop();
});

const row = (id) => pairRow(s, id);
const until = (id, state, timeout = 15000) =>
  eventually(async () => ((await row(id)).startsWith(`${state}|`) ? (await row(id)).split("|") : false), { timeout, what: `follow_actions ${id} to become ${state}` });
const undo = (xId) =>
  request(`${s.url}/link/contacts/undo`, {
    method: "POST",
    headers: { cookie: sess.cookie, "x-csrf-token": sess.csrf, "content-type": "application/json" },
    body: JSON.stringify({ x_id: xId }),
  });
const ownFollow = async (acct, subject) => {
  const r = await pds.xrpc("com.atproto.repo.createRecord", {
    token: acct.accessJwt,
    body: { repo: acct.did, collection: "app.bsky.graph.follow", record: { $type: "app.bsky.graph.follow", subject, createdAt: new Date().toISOString() } },
  });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.uri;
};

test("undo deletes exactly the record passerelle wrote; the member's own follow of the same account stays; a second undo is a 409", async () => {
  const pb = await plannedAtproto(s, M.alice, M.bob);
  const [, , , written] = await until(pb, "done");
  // alice's other client follows bob too, with applyWrites (which keeps duplicates).
  const own = await pds.xrpc("com.atproto.repo.applyWrites", {
    token: A.alice.accessJwt,
    body: { repo: A.alice.did, writes: [{ $type: "com.atproto.repo.applyWrites#create", collection: "app.bsky.graph.follow", value: { $type: "app.bsky.graph.follow", subject: A.bob.did, createdAt: new Date().toISOString() } }] },
  });
  assert.equal(own.status, 200, JSON.stringify(own.json));
  const mine = own.json.results[0].uri;
  assert.deepEqual((await followsOf(pds, A.alice))[A.bob.did].sort(), [written, mine].sort(), "two records of bob");
  await s.psql(`INSERT INTO contacts (member_id, dir, contact_id) VALUES (${M.alice.id}, 'following', ${M.bob.id})`);
  const listed = await request(`${s.url}/link/contacts?dir=following`, { headers: { cookie: sess.cookie } });
  assert.equal(listed.json().contacts.find((x) => x.handle === "bob_x")?.undo, true, "her page offers the undo");
  const r = await undo(M.bob.xId);
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json(), { queued: 1, bluesky: 1 });
  const done = await until(pb, "unfollowed");
  assert.equal(done[2], "", "no error");
  assert.deepEqual((await followsOf(pds, A.alice))[A.bob.did], [mine], "passerelle's record gone, hers kept");
  assert.equal(await s.psql(`SELECT count(*) FROM contact_ledger WHERE member_id = ${M.alice.id} AND action = 'undo' AND x_id = ${M.bob.xId}`), "1", "in her ledger");
  const again = await undo(M.bob.xId);
  assert.equal(again.status, 409, again.body);
  assert.match(again.json().error, /^nothing to undo/);
  assert.deepEqual((await followsOf(pds, A.alice))[A.bob.did], [mine], "nothing else deleted");
  assert.ok(s.events("bluesky_unfollows").some((e) => e.member === M.alice.id && e.unfollowed === "1"), "logged");
});

test("a follow the member wrote again in the app replaces passerelle's record (the PDS keeps one): undo leaves hers", async () => {
  const pe = await plannedAtproto(s, M.alice, M.erin);
  const [, , , written] = await until(pe, "done");
  const mine = await ownFollow(A.alice, A.erin.did); // createRecord: the PDS deletes the duplicate
  assert.deepEqual((await followsOf(pds, A.alice))[A.erin.did], [mine], "one record, hers");
  assert.notEqual(mine, written);
  assert.equal((await undo(M.erin.xId)).status, 200);
  await until(pe, "unfollowed");
  assert.deepEqual((await followsOf(pds, A.alice))[A.erin.did], [mine], "hers stays: only the uri passerelle kept was deleted");
});

test("a follow the member made before passerelle is theirs: no undo offered, none done", async () => {
  const before = await ownFollow(A.alice, A.carol.did);
  const pc = await plannedAtproto(s, M.alice, M.carol);
  const [, , , uri] = await until(pc, "done");
  assert.equal(uri, before, "the pair took her record");
  const r = await undo(M.carol.xId);
  assert.equal(r.status, 409, r.body);
  assert.match(r.json().error, /you followed this account on Bluesky yourself/);
  assert.match(await row(pc), /^done\|/);
  assert.deepEqual((await followsOf(pds, A.alice))[A.carol.did], [before], "her follow stays");
  // Her page (contacts as the matcher finds them): no undo offered for her own record.
  await s.psql(`INSERT INTO contacts (member_id, dir, contact_id) VALUES (${M.alice.id}, 'following', ${M.carol.id})`);
  const list = await request(`${s.url}/link/contacts?dir=following`, { headers: { cookie: sess.cookie } });
  assert.equal(list.status, 200, list.body);
  const c = list.json().contacts.find((x) => x.handle === "carol_x");
  assert.equal(c.status, "followed");
  assert.equal(c.undo, false, "no undo button");
  assert.equal(c.bridged, false);
});

test("a grant revoked at the PDS: a clear error, the record stays, and the next undo says to sign in again", async () => {
  const pd = await plannedAtproto(s, M.alice, M.dave);
  const [, , , written] = await until(pd, "done");
  // alice ends passerelle's session at her PDS; its access token has run out.
  const del = await pds.xrpc("com.atproto.server.deleteSession", { token: A.alice.refreshJwt, method: "POST" });
  assert.equal(del.status, 200, JSON.stringify(del.json));
  await s.psql(`UPDATE atproto_grants SET access_expires_at = now() - interval '1 minute' WHERE member_id = ${M.alice.id}`);
  const r = await undo(M.dave.xId);
  assert.equal(r.status, 200, r.body);
  const back = await until(pd, "done");
  assert.match(back[2], /Bluesky grant is gone .*sign in with Bluesky again/);
  assert.deepEqual((await followsOf(pds, A.alice))[A.dave.did], [written], "nothing deleted");
  assert.equal(await s.psql(`SELECT count(*) FROM atproto_grants WHERE member_id = ${M.alice.id}`), "0", "the grant is gone");
  const again = await undo(M.dave.xId);
  assert.equal(again.status, 409, again.body);
  assert.match(again.json().error, /sign in with Bluesky again/);
  assert.match(await row(pd), /^done\|/, "unchanged");
});
