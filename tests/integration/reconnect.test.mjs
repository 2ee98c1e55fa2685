// Reconnection against the real server and PostgreSQL: people join, link archives that follow
// each other and change their consents the way members do (page, direct messages, admin
// commands), and the matcher plans exactly the pairs the both-sides rule allows. Each rule has
// a case here that fails if the rule is broken. Also the notices for each method, notify off,
// and GET /me/following.csv.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer, runBin, configText } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { request } from "../lib/http.mjs";
import { joinMember, linkArchive, setConsents, sendCommand, leave } from "../lib/members.mjs";

let s, h, h2;
const M = {}; // members by name
const X = {}; // their X ids
const onH = ["ann", "ben", "cat", "dora", "ed", "mo", "fay", "gus", "hal", "ivy"];
const onH2 = ["jay", "kim"];
// Who followed whom on X (follower, followee).
const FOLLOWS = [
  ["ben", "ann"],
  ["ben", "jay"],
  ["cat", "ann"],
  ["mo", "ann"],
  ["ann", "ben"],
  ["ed", "dora"],
  ["gus", "fay"],
  ["ivy", "fay"],
  ["jay", "ann"],
  ["kim", "ann"],
];

setup(async () => {
  s = await startServer({
    config: {
      allow_private_fetch: "true",
      queue_poll_ms: "100",
      queue_backoff_unit_ms: "10",
      match_poll_ms: "50",
      notice_poll_ms: "100",
      follow_hold_hours: "0",
    },
  });
  h = await startActorHost({ actors: onH.map((name) => ({ name })) });
  h2 = await startActorHost({ actors: onH2.map((name) => ({ name })) });
  [...onH, ...onH2].forEach((n, i) => (X[n] = String(5000 + i)));
});
teardown(async () => {
  if (h) await h.stop();
  if (h2) await h2.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const q = async (sql) => (await s.psql(sql)).trim();
const join = async (name, host = h) => (M[name] = await joinMember(s, host, name));
// Each archive says what its owner followed and who followed them, from FOLLOWS.
const link = (name) =>
  linkArchive(s, M[name], {
    xId: X[name],
    followers: FOLLOWS.filter(([, b]) => b === name).map(([a]) => X[a]),
    following: FOLLOWS.filter(([a]) => a === name).map(([, b]) => X[b]),
  });
const linked = async (name) => {
  const r = await link(name);
  assert.equal(r.status, 200, r.body);
};
// Every change sets match_due_at in its own transaction; the matcher clears it.
const settled = () =>
  eventually(async () => (await q("SELECT count(*) FROM members WHERE match_due_at IS NOT NULL")) === "0", {
    timeout: 10000,
    what: "every member matched",
  });
// "method state[ reason]" of the pair's row, "" when there is none.
const pair = (b, a) =>
  q(`SELECT method || ' ' || state || coalesce(' ' || last_error, '') FROM follow_actions WHERE follower_id = ${M[b].id} AND followee_id = ${M[a].id}`);
const notices = (host, name) =>
  host.posts(`/users/${name}/inbox`).filter((r) => /on the fediverse now|sur le fédivers/.test(JSON.parse(r.body).object?.content ?? ""));
const csv = (m, cookie = m.cookie) => request(`${s.url}/me/following.csv`, { headers: cookie ? { cookie } : {} });
const HEADER = "Account address,Show boosts,Notify on new posts,Languages\n";
const admin = (...args) => runBin(["admin", "-c", s.configFile, ...args]);

test("pairs are planned as both sides allow: api with autofollow, notice without, none toward a member who is not findable or without an X edge", async () => {
  for (const n of ["ann", "ben", "cat", "dora", "ed", "mo"]) await join(n);
  await setConsents(s, M.ben, { autofollow: true });
  await setConsents(s, M.ed, { autofollow: true });
  await setConsents(s, M.dora, { findable: false });
  await setConsents(s, M.mo, { notify: false });
  // ben links before ann: the pair appears when ann arrives (ann's matching plans both sides).
  await linked("ben");
  await settled();
  assert.equal(await pair("ben", "ann"), "");
  for (const n of ["ann", "cat", "dora", "ed", "mo"]) await linked(n);
  await settled();
  assert.equal(await pair("ben", "ann"), "api planned", "B with autofollow: through the API");
  assert.equal(await pair("cat", "ann"), "notice planned", "B without autofollow: a notice, not the API");
  assert.equal(await pair("mo", "ann"), "notice planned");
  assert.equal(await pair("ann", "ben"), "notice planned", "the other direction, from ann's own archive");
  assert.equal(await pair("ed", "dora"), "", "A not findable: no row at all");
  assert.equal(await q("SELECT count(*) FROM follow_actions"), "4", "no row without an X edge");
  assert.equal(
    await q(`SELECT hold_until IS NULL AND next_attempt_at <= now() FROM follow_actions WHERE follower_id = ${M.ben.id}`),
    "t",
    "follow_hold_hours = 0: due at once, not held",
  );
  assert.equal(await q(`SELECT next_attempt_at IS NULL FROM follow_actions WHERE follower_id = ${M.cat.id}`), "t", "nothing for the follow worker in a notice row");
});

test("notices: a follow link for notice rows, the automatic wording for api rows, nothing with notify off; one message each", async () => {
  const catMsg = await eventually(() => notices(h, "cat")[0], { timeout: 10000, what: "cat's notice" });
  const body = JSON.parse(catMsg.body);
  assert.equal(body.actor, `${s.url}/users/passerelle`);
  assert.deepEqual(body.object.to, [M.cat.actor.id], "a direct message: to the member only");
  const html = body.object.content;
  assert.ok(html.includes(`@ann_x on X is @ann@${h.domain} now.`), html);
  const link = `${h.url}/authorize_interaction?uri=${encodeURIComponent(M.ann.actor.id)}`;
  assert.ok(html.includes(`href="${link}"`), `the follow link opens cat's own server: ${html}`);
  assert.ok(!/automatic/i.test(html), "no automatic wording in a notice row's message");

  const benMsg = await eventually(() => notices(h, "ben")[0], { timeout: 10000, what: "ben's notice" });
  const benHtml = JSON.parse(benMsg.body).object.content;
  assert.ok(benHtml.includes("Connect your server on your link page and it will follow them for you."), benHtml);
  assert.ok(benHtml.includes("to undo one, unfollow the account"), "automatic follows say how to undo");
  assert.ok(!benHtml.includes("authorize_interaction"), "no link for an automatic follow");
  await eventually(() => notices(h, "ann")[0], { timeout: 10000, what: "ann's notice (she followed ben)" });

  // mo has notify off: the others were told, mo never is, and its row stays untold.
  await sleep(500);
  assert.equal(notices(h, "mo").length, 0, "notify off: no message");
  assert.equal(await q(`SELECT count(*) FROM notice_due WHERE member_id = ${M.mo.id}`), "0");
  assert.equal(await q(`SELECT notified_at IS NULL FROM follow_actions WHERE follower_id = ${M.mo.id}`), "t");
  assert.equal(await q(`SELECT notified_at IS NOT NULL FROM follow_actions WHERE follower_id = ${M.cat.id}`), "t");
  assert.equal(await q(`SELECT last_notified_at IS NOT NULL FROM members WHERE id = ${M.cat.id}`), "t");
  for (const n of ["ann", "ben", "cat"]) assert.equal(notices(h, n).length, 1, `${n}: one message`);
  assert.equal(notices(h, "ed").length, 0, "nothing found, nothing said");
});

test("GET /me/following.csv: Mastodon's import format, found contacts only, 401 without a session", async () => {
  const r = await csv(M.cat);
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers["content-type"], "text/csv; charset=utf-8");
  assert.equal(r.headers["content-disposition"], 'attachment; filename="following.csv"');
  assert.equal(r.headers["cache-control"], "no-store");
  assert.equal(r.body, `${HEADER}ann@${h.domain},true,false,\n`);
  assert.equal((await csv(M.ed)).body, HEADER, "dora is not findable: not in ed's file");
  assert.equal((await csv(M.ann)).body, `${HEADER}ben@${h.domain},true,false,\n`);
  assert.equal((await csv(M.cat, null)).status, 401, "no session");
  assert.equal((await csv(M.cat, `passerelle_link=${"b".repeat(64)}`)).status, 401, "unknown session");
});

test("a disputed claim gets nothing: rows toward it are undone, new ones never made", async () => {
  for (const n of ["fay", "gus", "hal", "ivy"]) await join(n);
  await setConsents(s, M.gus, { autofollow: true });
  await setConsents(s, M.ivy, { autofollow: true });
  await linked("gus");
  await linked("fay");
  await settled();
  assert.equal(await pair("gus", "fay"), "api planned");
  // hal says he is fay's X account. With follow_hold_hours 0 fay's claim is settled at once,
  // so hal is refused and fay is not frozen (issue 12: README "Claims")...
  const r = await linkArchive(s, M.hal, { xId: X.fay, following: [X.gus] });
  assert.equal(r.status, 409, r.body);
  assert.equal(r.json().status, "refused");
  await settled();
  assert.equal(await pair("gus", "fay"), "api planned", "a refused claim freezes nobody");
  // ...so the two claims are frozen as a claim within its hold is (import.c's sql_freeze).
  await q(`INSERT INTO x_claims (x_id, member_id) VALUES (${X.fay}, ${M.hal.id});
           UPDATE members SET state = 'disputed', match_due_at = now() WHERE id IN (${M.fay.id}, ${M.hal.id})`);
  await settled();
  assert.equal(await pair("gus", "fay"), "api undone followee disputed");
  await linked("ivy");
  await settled();
  assert.equal(await pair("ivy", "fay"), "", "no row toward a disputed claim");
  assert.equal(await q(`SELECT count(*) FROM follow_actions WHERE ${M.hal.id} IN (follower_id, followee_id)`), "0");
});

test("pause undoes what is planned in the member's name; resume plans the same row again", async () => {
  const rowId = await q(`SELECT id FROM follow_actions WHERE follower_id = ${M.ben.id} AND followee_id = ${M.ann.id}`);
  await sendCommand(s, h, M.ben, "pause", /Paused/);
  await settled();
  assert.equal(await pair("ben", "ann"), "api undone follower paused");
  assert.equal(await pair("ann", "ben"), "notice planned", "being followed is not done in ben's name");
  await sendCommand(s, h, M.ben, "resume", /Resumed/);
  await settled();
  assert.equal(await pair("ben", "ann"), "api planned", "never executed, so planned again");
  assert.equal(await q(`SELECT id FROM follow_actions WHERE follower_id = ${M.ben.id} AND followee_id = ${M.ann.id}`), rowId);
});

test("an excluded contact (ignored, blocked or muted) is never planned, from either side; restored, the same row comes back", async () => {
  const due = (name) => q(`UPDATE members SET match_due_at = now() WHERE id = ${M[name].id}`);
  const rowId = await q(`SELECT id FROM follow_actions WHERE follower_id = ${M.ben.id} AND followee_id = ${M.ann.id}`);
  await q(`INSERT INTO member_excludes (member_id, x_id, reason) VALUES (${M.ben.id}, ${X.ann}, 'ignored')`);
  await due("ben");
  await settled();
  assert.equal(await pair("ben", "ann"), "api undone excluded by follower");
  assert.equal(await pair("ann", "ben"), "notice undone excluded by followee", "either direction: ann is not told about ben");
  await q(`DELETE FROM member_excludes WHERE member_id = ${M.ben.id}`);
  await due("ben");
  await settled();
  assert.equal(await pair("ben", "ann"), "api planned");
  assert.equal(await pair("ann", "ben"), "notice planned");
  // From the other side: ann blocked ben on X, so ben does not follow her through the bridge
  // (ann's matching judges the pair too).
  await q(`INSERT INTO member_excludes (member_id, x_id, reason) VALUES (${M.ann.id}, ${X.ben}, 'blocked')`);
  await due("ann");
  await settled();
  assert.equal(await pair("ben", "ann"), "api undone excluded by followee");
  await q(`DELETE FROM member_excludes WHERE member_id = ${M.ann.id}`);
  await due("ann");
  await settled();
  assert.equal(await pair("ben", "ann"), "api planned");
  assert.equal(await q(`SELECT id FROM follow_actions WHERE follower_id = ${M.ben.id} AND followee_id = ${M.ann.id}`), rowId);
});

test("withdrawal: findable off undoes the rows toward the member, autofollow off turns api into notice; both come back", async () => {
  await setConsents(s, M.ann, { findable: false });
  await settled();
  assert.equal(await pair("ben", "ann"), "api undone followee not findable");
  assert.equal(await pair("cat", "ann"), "notice undone followee not findable");
  assert.equal(await pair("ann", "ben"), "notice planned", "ann still follows ben");
  assert.equal((await csv(M.cat)).body, HEADER, "ann is gone from cat's file");
  await setConsents(s, M.ann, { findable: true });
  await settled();
  assert.equal(await pair("ben", "ann"), "api planned");
  assert.equal(await pair("cat", "ann"), "notice planned");
  await setConsents(s, M.ben, { autofollow: false });
  await settled();
  assert.equal(await pair("ben", "ann"), "notice planned");
  assert.equal(await q(`SELECT next_attempt_at IS NULL FROM follow_actions WHERE follower_id = ${M.ben.id}`), "t");
  await setConsents(s, M.ben, { autofollow: true });
  await settled();
  assert.equal(await pair("ben", "ann"), "api planned");
  assert.equal(notices(h, "cat").length, 1, "a row planned again after an undo is not told twice");
});

test("blocked instances and suspended members get nothing; unblocking plans again", async () => {
  await join("jay", h2);
  await join("kim", h2);
  await setConsents(s, M.jay, { autofollow: true });
  await linked("jay");
  await settled();
  assert.equal(await pair("jay", "ann"), "api planned");
  assert.equal(await pair("ben", "jay"), "api planned");
  const b = await admin("instances", "block", h2.domain);
  assert.equal(b.code, 0, b.stderr);
  await settled();
  assert.equal(await pair("jay", "ann"), "api undone follower instance blocked");
  assert.equal(await pair("ben", "jay"), "api undone followee instance blocked");
  await linked("kim");
  await settled();
  assert.equal(await pair("kim", "ann"), "", "a new pair from a blocked instance gets no row");
  const u = await admin("instances", "unblock", h2.domain);
  assert.equal(u.code, 0, u.stderr);
  await settled();
  assert.equal(await pair("jay", "ann"), "api planned");
  assert.equal(await pair("ben", "jay"), "api planned");
  assert.equal(await pair("kim", "ann"), "notice planned");

  const mb = await admin("members", "block", M.ann.id);
  assert.equal(mb.code, 0, mb.stderr);
  await settled();
  assert.equal(await pair("ben", "ann"), "api undone followee suspended");
  assert.equal(await pair("ann", "ben"), "notice undone follower suspended");
  const mu = await admin("members", "unblock", M.ann.id);
  assert.equal(mu.code, 0, mu.stderr);
  await settled();
  assert.equal(await pair("ben", "ann"), "api planned");
  assert.equal(await pair("ann", "ben"), "notice planned");
  // ann's block deleted her sessions: a new one for the tests that follow.
  M.ann = await joinMember(s, h, "ann");
});

test("relay_block in the configuration counts as a block at the next matching", async () => {
  assert.equal(await s.stop({ keepDb: true }), 0);
  writeFileSync(s.configFile, configText({ ...s.config, relay_block: h2.domain }));
  await s.start();
  await setConsents(s, M.jay, { relay: false }); // any change re-matches the member
  await settled();
  assert.equal(await pair("jay", "ann"), "api undone follower instance blocked");
  assert.equal(await pair("ben", "ann"), "api planned", "other hosts are untouched");
});

test("a member locked by another transaction is left for later, not judged from a stale row", async () => {
  // Another transaction holds ann's row (as a consent change or her own matching would).
  const lock = spawn("psql", [s.db, "-X", "-qc", `BEGIN; SELECT 1 FROM members WHERE id = ${M.ann.id} FOR UPDATE; SELECT pg_sleep(2); COMMIT;`], { stdio: "ignore" });
  const released = new Promise((r) => lock.on("close", r));
  await sleep(300);
  await setConsents(s, M.cat, { autofollow: true });
  await eventually(() => s.events("match").some((e) => e.member === M.cat.id && e.skipped === "1"), { timeout: 5000, what: "cat matched with ann skipped" });
  assert.equal(await pair("cat", "ann"), "notice planned", "not changed while ann was locked");
  assert.equal(await q(`SELECT match_due_at IS NOT NULL FROM members WHERE id = ${M.cat.id}`), "t", "cat stays due until ann can be judged");
  await released;
  await settled();
  assert.equal(await pair("cat", "ann"), "api planned", "done once the lock was gone");
});

test("leaving removes every row of the member, both sides", async () => {
  assert.ok(Number(await q(`SELECT count(*) FROM follow_actions WHERE ${M.ann.id} IN (follower_id, followee_id)`)) >= 4);
  await leave(s, M.ann);
  await eventually(async () => (await q(`SELECT count(*) FROM members WHERE id = ${M.ann.id}`)) === "0", { what: "ann gone" });
  assert.equal(await q(`SELECT count(*) FROM follow_actions WHERE ${M.ann.id} IN (follower_id, followee_id)`), "0");
  assert.equal((await csv(M.ben)).body, HEADER, "ann is gone from ben's file");
});

test("a block covers the domain's subdomains and every port, not look-alike names; an IP has no subdomains", async () => {
  // Members seeded on hosts the actor hosts cannot have (names, ports), as a link leaves them.
  const seed = [
    ["t", "good.example", 8000],
    ["f1", "sub.evil.example", 8001],
    ["f2", "evil.example:8443", 8002],
    ["f3", "notevil.example", 8003],
    ["f4", "10.0.0.1:8080", 8004],
  ];
  const ids = {};
  for (const [n, host, x] of seed) {
    ids[n] = await q(
      `INSERT INTO members (actor_uri, acct, host, x_id, x_handle, state, linked_at, autofollow) VALUES ('https://${host}/users/${n}', '${n}@${host}', '${host}', ${x}, '${n}_x', 'linked', now() - interval '2 days', true) RETURNING id`,
    );
  }
  await q(`INSERT INTO x_edges VALUES (8001, 8000, ${ids.f1}), (8002, 8000, ${ids.f2}), (8003, 8000, ${ids.f3}), (8004, 8000, ${ids.f4})`);
  await q(`UPDATE members SET match_due_at = now() WHERE id = ${ids.t}`);
  await settled();
  const row = (f) => q(`SELECT state || coalesce(' ' || last_error, '') FROM follow_actions WHERE follower_id = ${ids[f]} AND followee_id = ${ids.t}`);
  for (const f of ["f1", "f2", "f3", "f4"]) assert.equal(await row(f), "planned", f);
  assert.equal((await admin("instances", "block", "evil.example")).code, 0);
  await settled();
  assert.equal(await row("f1"), "undone follower instance blocked", "a subdomain");
  assert.equal(await row("f2"), "undone follower instance blocked", "another port");
  assert.equal(await row("f3"), "planned", "notevil.example is not under evil.example");
  assert.equal(await row("f4"), "planned");
  assert.equal((await admin("instances", "block", "10.0.0.1")).code, 0);
  await settled();
  assert.equal(await row("f4"), "undone follower instance blocked", "an IP on any port");
  assert.equal((await admin("instances", "unblock", "evil.example")).code, 0);
  await settled();
  assert.equal(await row("f1"), "planned");
  assert.equal(await row("f2"), "planned");
});
