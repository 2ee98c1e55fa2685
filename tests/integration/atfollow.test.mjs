// Following on Bluesky in a member's name (issue 13, item 3), against the reference PDS and an
// in-memory PLC directory on loopback (tests/lib/pds.mjs), rate limits on, and the real server
// and PostgreSQL. Pairs are planned in SQL as the matcher plans them (method 'atproto'); the
// member's grant is an app-password session's tokens, sealed as atgrant.c seals them.
// Follow records are written with applyWrites and read back with listRecords; an account the
// member follows already is not followed twice; a DID nobody holds (which the PDS would
// accept) fails; the hourly budget moves what does not fit to when room comes back. The PDS's
// own 429 is in atfollow_429.test.mjs (a PDS of its own: its budget is spent there).
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { blueskyMember, blueskyWorld, plannedAtproto, pairRow, followsOf } from "../lib/atmembers.mjs";

let s, pds;
let A, M; // name -> PDS account {did, handle, accessJwt, refreshJwt}, member {id, xId, did}

setup(async () => {
  ({ pds, s, A, M } = await blueskyWorld({ names: ["alice", "bob", "carol", "dave", "erin"], granted: ["alice"], config: { atproto_follow_hour_points: "9" } })); // three follows an hour: the fourth waits
});
teardown(async () => {
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
  await pds?.stop();
});

const row = (id) => pairRow(s, id);
const member = (name, acct) => blueskyMember(s, pds, name, acct);
const planned = (b, a) => plannedAtproto(s, b, a);
const follows = (acct) => followsOf(pds, acct);
const until = (id, state, timeout = 15000) =>
  eventually(async () => ((await row(id)).startsWith(`${state}|`) ? (await row(id)).split("|") : false), { timeout, what: `follow_actions ${id} to become ${state}` });

test("follows are written in the member's repository and read back; one already there is not written again; a DID nobody holds fails", async () => {
  // alice follows dave already, from her own app.
  const before = await pds.xrpc("com.atproto.repo.createRecord", {
    token: A.alice.accessJwt,
    body: { repo: A.alice.did, collection: "app.bsky.graph.follow", record: { $type: "app.bsky.graph.follow", subject: A.dave.did, createdAt: new Date().toISOString() } },
  });
  assert.equal(before.status, 200);
  const ghost = await member("ghost", { did: "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa", handle: "ghost.test" });
  const pg = await planned(M.alice, ghost);
  const g = await until(pg, "failed");
  const pb = await planned(M.alice, M.bob);
  const pc = await planned(M.alice, M.carol);
  const pd = await planned(M.alice, M.dave);
  const [b, c, d] = [await until(pb, "done"), await until(pc, "done"), await until(pd, "done")];
  const f = await follows(A.alice);
  assert.deepEqual(f[A.bob.did], [b[3]], "bob followed once, the record's uri kept");
  assert.deepEqual(f[A.carol.did], [c[3]], "carol followed once");
  assert.deepEqual(f[A.dave.did], [before.json.uri], "dave not followed twice: the record already there is the pair's");
  assert.equal(d[3], before.json.uri);
  assert.equal(f[ghost.did], undefined, "no record for a DID nobody holds");
  assert.match(g[2], /does not exist/);
  assert.equal(Object.keys(f).length, 3, "nobody else followed");
  const token = A.alice.accessJwt;
  assert.equal(s.stderr().includes(token), false, "the token is never logged");
});

test("past the hourly budget, the next follow is moved to when the oldest leaves the hour", async () => {
  const pe = await planned(M.alice, M.erin);
  await eventually(async () => (await s.psql(`SELECT next_attempt_at > now() + interval '50 minutes' FROM follow_actions WHERE id = ${pe}`)) === "t", {
    timeout: 10000,
    what: "erin's follow moved an hour ahead",
  });
  assert.equal(
    await s.psql(
      `SELECT abs(extract(epoch FROM f.next_attempt_at - (SELECT min(done_at) + interval '1 hour' FROM follow_actions d WHERE d.follower_id = ${M.alice.id} AND d.done_at IS NOT NULL))) < 2 FROM follow_actions f WHERE f.id = ${pe}`,
    ),
    "t",
    "to the oldest follow of the hour plus an hour",
  );
  assert.match(await row(pe), /^planned\|0\|\|$/, "not tried, not counted");
  assert.equal((await follows(A.alice))[A.erin.did], undefined, "nothing written");
});
