// Each archive speaks for its uploader only (issue 12, item 1): an X edge is kept with the
// member whose archive gave it, and anything done in B's name (a follow through B's grant, a
// notice to B) comes from B's own archive. Real members on a loopback actor host with the
// Mastodon client-API double (follows through their grant are recorded there), real
// archives through the link page, the real matcher, follow worker and notices.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { joinMember, linkArchive, setConsents } from "../lib/members.mjs";
import { connect } from "../lib/oauthflow.mjs";

const BOB_X = "1110000000000000001";
const ALICE_X = "3330000000000000001";
const JACK_X = "2220000000000000001"; // a celebrity who followed Bob; Mallory pretends to be him
const DAVE_X = "4440000000000000001"; // followed by Bob on X, joins last
const MAL_X2 = "5550000000000000001";

let s, h;
const m = {};

setup(async () => {
  h = await startActorHost({ actors: ["bob", "alice", "mallory", "dave"].map((name) => ({ name })), mastodon: true });
  s = await startServer({
    config: {
      allow_private_fetch: "true",
      queue_poll_ms: "100",
      queue_backoff_unit_ms: "10",
      follow_hold_hours: "0",
      follow_poll_ms: "100",
      match_poll_ms: "100",
      notice_poll_ms: "200",
    },
  });
  for (const name of ["bob", "alice", "mallory", "dave"]) m[name] = await joinMember(s, h, name);
});

teardown(async () => {
  await h?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0");
});

const q = (sql) => s.psql(sql);
const pairs = () => q("SELECT coalesce(string_agg(follower_id || '>' || followee_id || ':' || method || ':' || state, ' ' ORDER BY follower_id, followee_id), '') FROM follow_actions");
const settled = () => eventually(async () => (await q("SELECT count(*) FROM members WHERE match_due_at IS NOT NULL")) === "0", { timeout: 10000, what: "matching to settle" });
const bobsEdges = () => q(`SELECT coalesce(string_agg(follower_x_id || '>' || followee_x_id, ' ' ORDER BY followee_x_id), '') FROM x_edges WHERE member_id = ${m.bob.id}`);

test("a forged follower list never acts in the listed member's name; the member's own following list does", async () => {
  // Bob followed Alice and Dave on X, @jack followed him; he lets passerelle follow for him.
  const rb = await linkArchive(s, m.bob, { xId: BOB_X, followers: [JACK_X], following: [ALICE_X, DAVE_X] });
  assert.equal(rb.status, 200, rb.body);
  await setConsents(s, m.bob, { autofollow: true });
  h.mastodon.control({ loggedIn: "bob" });
  assert.equal((await connect(s, m.bob)).result, "granted");
  assert.equal((await linkArchive(s, m.alice, { xId: ALICE_X })).status, 200);
  const bobs = `${JACK_X}>${BOB_X} ${BOB_X}>${ALICE_X} ${BOB_X}>${DAVE_X}`;

  // Mallory: an archive she wrote herself, claiming to be @jack, whose follower.js lists Bob.
  const mark = h.mark;
  const r1 = await linkArchive(s, m.mallory, { xId: JACK_X, username: "jack", followers: [BOB_X] });
  assert.equal(r1.status, 200, r1.body);
  await settled();
  assert.match(await pairs(), new RegExp(`^${m.bob.id}>${m.alice.id}:api:(planned|done)$`), "Bob follows Alice (his own list), never Mallory");
  assert.equal(await bobsEdges(), bobs, "Mallory's upload erased what Bob's archive said about @jack");

  // The follow through Bob's server is made for Alice, and Bob's notice names Alice only.
  await eventually(() => h.mastodon.snapshot().follows.some((f) => f.user === "bob" && f.actorId === h.actor("alice").id), { timeout: 10000, what: "Bob's follow of Alice through his server" });
  const notice = await eventually(
    () => h.since(mark).find((x) => x.method === "POST" && x.path === "/users/bob/inbox" && /alice/i.test(JSON.parse(x.body).object?.content ?? "")),
    { timeout: 10000, what: "Bob's notice" },
  );
  assert.doesNotMatch(JSON.parse(notice.body).object.content, /mallory|jack/i, "Bob's notice names Mallory");

  // Mallory moves on to another X id: her second upload replaces her rows, not Bob's.
  assert.equal((await linkArchive(s, m.mallory, { xId: MAL_X2, username: "mal", followers: [BOB_X] })).status, 200);
  assert.equal(await bobsEdges(), bobs, "Mallory's second upload erased Bob's edges");
  assert.equal(await q(`SELECT string_agg(follower_x_id || '>' || followee_x_id, ' ') FROM x_edges WHERE member_id = ${m.mallory.id}`), `${BOB_X}>${MAL_X2}`, "her newest archive replaced her own rows");

  // The real Dave arrives: Bob's own list makes the follow.
  assert.equal((await linkArchive(s, m.dave, { xId: DAVE_X })).status, 200);
  await settled();
  await eventually(() => h.mastodon.snapshot().follows.some((f) => f.user === "bob" && f.actorId === h.actor("dave").id), { timeout: 10000, what: "Bob's follow of Dave" });
  await sleep(300);
  assert.deepEqual(
    h.mastodon.snapshot().follows.filter((f) => f.user === "bob").map((f) => f.actorId).sort(),
    [h.actor("alice").id, h.actor("dave").id].sort(),
    "Bob's server followed exactly the accounts Bob followed on X",
  );
  assert.equal(await q(`SELECT count(*) FROM follow_actions WHERE followee_id = ${m.mallory.id} OR follower_id = ${m.mallory.id}`), "0");
  for (const x of h.since(mark).filter((x) => x.method === "POST" && x.path === "/users/bob/inbox")) {
    assert.doesNotMatch(JSON.parse(x.body).object?.content ?? "", /mallory|jack|\bmal\b/i, "a message to Bob names Mallory");
  }
});
