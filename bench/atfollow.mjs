// Bluesky follows written per second for one member (issue 13, item 8), beside the PDS's own
// limit, on the reference PDS and PLC directory on loopback (tests/lib/pds.mjs) with the real
// server and PostgreSQL. Run by bench/atfollow.sh, which starts PostgreSQL for it.
//
// - passerelle: N pairs planned for one member at once, timed from then until every row is
//   done (listRecords, N DID resolutions at the PLC directory, applyWrites batches of 200);
// - the PDS itself: the same N follows written by a client straight to the PDS (applyWrites
//   batches of 200, nothing resolved), for another member: what the PDS can take;
// - the PDS's rate limit on Bluesky's servers: 5,000 points an hour, 3 a follow.
// Prints one line of key=value.
import { startServer } from "../tests/lib/server.mjs";
import { startPds } from "../tests/lib/pds.mjs";
import { blueskyMember, sealedGrant } from "../tests/lib/atmembers.mjs";

const N = Number(process.argv[2] ?? 200);
const pds = await startPds({ rateLimits: false });
const t0 = Date.now();
const accounts = [];
for (let i = 0; i < N; i += 8) {
  const chunk = await Promise.all(Array.from({ length: Math.min(8, N - i) }, (_, k) => pds.createAccount(`subj${i + k}`)));
  accounts.push(...chunk);
}
const made = (Date.now() - t0) / 1000;
const alice = await pds.createAccount("alice");
const bob = await pds.createAccount("bob");

// The PDS alone: bob's client writes the N follows in batches of 200.
const created = new Date().toISOString();
let t = performance.now();
for (let i = 0; i < N; i += 200) {
  const writes = accounts.slice(i, i + 200).map((a) => ({
    $type: "com.atproto.repo.applyWrites#create",
    collection: "app.bsky.graph.follow",
    value: { $type: "app.bsky.graph.follow", subject: a.did, createdAt: created },
  }));
  const r = await pds.xrpc("com.atproto.repo.applyWrites", { token: bob.accessJwt, body: { repo: bob.did, validate: true, writes } });
  if (r.status !== 200) throw new Error(`applyWrites: ${r.status} ${JSON.stringify(r.json)}`);
}
const rawSecs = (performance.now() - t) / 1000;

// passerelle, for alice.
const s = await startServer({
  config: {
    allow_private_fetch: "true",
    plc_url: pds.plcUrl,
    atproto_follow_poll_ms: "20",
    atproto_follow_hour_points: "10000000",
    atproto_follow_day_points: "100000000",
    match_poll_ms: "3600000",
    log_level: "warn",
  },
});
const me = await blueskyMember(s, pds, "alice", alice);
await sealedGrant(s, pds, me, alice);
for (const [i, a] of accounts.entries()) await blueskyMember(s, pds, `subj${i}`, a);
await s.psql(`INSERT INTO x_edges SELECT b.x_id, a.x_id, b.id FROM members b, members a WHERE b.id = ${me.id} AND a.id <> b.id`);
t = performance.now();
await s.psql(
  `INSERT INTO follow_actions (follower_id, followee_id, method, state, next_attempt_at)
   SELECT ${me.id}, id, 'atproto', 'planned', now() FROM members WHERE id <> ${me.id}`,
);
let done = 0;
while (done < N) {
  done = Number(await s.psql(`SELECT count(*) FROM follow_actions WHERE follower_id = ${me.id} AND state = 'done'`));
  if (performance.now() - t > 600000) throw new Error(`only ${done} of ${N} done in 10 minutes`);
  await new Promise((r) => setTimeout(r, 20));
}
const ourSecs = (performance.now() - t) / 1000;
const failed = await s.psql(`SELECT count(*) FROM follow_actions WHERE state <> 'done'`);
let records = 0,
  cursor;
do {
  const r = await pds.xrpc("com.atproto.repo.listRecords", { query: { repo: alice.did, collection: "app.bsky.graph.follow", limit: "100", ...(cursor ? { cursor } : {}) } });
  records += r.json.records.length;
  cursor = r.json.records.length ? r.json.cursor : undefined;
} while (cursor);
await s.stop();
await pds.stop();

const ours = N / ourSecs;
const raw = N / rawSecs;
const limit = 5000 / 3 / 3600;
console.log(
  [
    `follows=${N}`,
    `records=${records}`,
    `not_done=${failed}`,
    `passerelle_fps=${ours.toFixed(1)}`,
    `pds_direct_fps=${raw.toFixed(1)}`,
    `ratio_pct=${((100 * ours) / raw).toFixed(0)}`,
    `bluesky_limit_fps=${limit.toFixed(3)}`,
    `bluesky_limit_per_hour=${Math.floor(5000 / 3)}`,
    `passerelle_s=${ourSecs.toFixed(2)}`,
    `pds_direct_s=${rawSecs.toFixed(2)}`,
    `accounts_made_s=${made.toFixed(1)}`,
  ].join(" "),
);
process.exit(0);
