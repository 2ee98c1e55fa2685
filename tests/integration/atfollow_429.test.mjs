// Following on Bluesky in a member's name (issue 13, item 3): the PDS's own rate limit, against
// the reference PDS and an in-memory PLC directory on loopback (tests/lib/pds.mjs), rate limits
// on, the real server and PostgreSQL, members made as in atfollow.test.mjs. frank's own app spends his hourly write budget at the PDS; the follow passerelle then writes
// gets a 429 with Retry-After: frank is paused that long, the row waits uncounted, and nothing
// is sent meanwhile.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { blueskyWorld, plannedAtproto, pairRow, followsOf } from "../lib/atmembers.mjs";

let s, pds;
let A, M; // name -> PDS account {did, handle, accessJwt, refreshJwt}, member {id, xId, did}

setup(async () => {
  ({ pds, s, A, M } = await blueskyWorld({ names: ["frank", "bob"], granted: ["frank"] }));
});
teardown(async () => {
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
  await pds?.stop();
});

const row = (id) => pairRow(s, id);

test("a 429 from the PDS pauses the member for its Retry-After; the row waits, uncounted", async () => {
  // frank's own app spends his hourly write budget at the PDS (4,998 of 5,000 points).
  const burn = (n) =>
    pds.xrpc("com.atproto.repo.applyWrites", {
      token: A.frank.accessJwt,
      body: { repo: A.frank.did, validate: false, writes: Array.from({ length: n }, (_, i) => ({ $type: "com.atproto.repo.applyWrites#create", collection: "com.example.burn", value: { $type: "com.example.burn", i } })) },
    });
  for (let i = 0; i < 8; i++) assert.equal((await burn(200)).status, 200);
  assert.equal((await burn(66)).status, 200);
  const pb = await plannedAtproto(s, M.frank, M.bob);
  const r = await eventually(async () => {
    const x = (await row(pb)).split("|");
    return x[2].includes("429") ? x : false;
  }, { timeout: 15000, what: "frank's follow refused with a 429" });
  assert.equal(r[0], "planned", "still to do");
  assert.equal(r[1], "0", "the attempt is not counted");
  assert.match(r[2], /^applyWrites: rate limited \(429\)$/);
  const pause = Number(await s.psql(`SELECT extract(epoch FROM rate_limited_until - now()) FROM atproto_follow_state WHERE member_id = ${M.frank.id}`));
  assert.ok(pause > 3000 && pause <= 3600, `paused for the PDS's Retry-After (about an hour): ${pause}`);
  assert.ok(Number(await s.psql(`SELECT extract(epoch FROM next_attempt_at - now()) FROM follow_actions WHERE id = ${pb}`)) > 3000, "the row waits as long");
  const batches = s.events("bluesky_follows").filter((e) => e.member === M.frank.id).length;
  await sleep(500);
  assert.equal(s.events("bluesky_follows").filter((e) => e.member === M.frank.id).length, batches, "nothing sent meanwhile");
  assert.equal((await followsOf(pds, A.frank))[A.bob.did], undefined, "nothing written");
});
