// X blocks and mutes (issue 14, item 4) from the archive to the matcher, against the real
// server and PostgreSQL: an upload's data/block.js and data/mute.js become the uploader's
// 'blocked' and 'muted' member_excludes rows (replaced by the next upload that has the list,
// in the same transaction as its edges; 'ignored' rows stay); the pairs they name are never
// planned, in either direction, whatever the consents, and nobody is told about anybody
// across them; a malformed block.js is refused with a 400 that names it, and changes nothing;
// a follow planned before the block is not made (follow_actions_allowed).
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { request } from "../lib/http.mjs";
import { joinMember, setConsents } from "../lib/members.mjs";
import { xArchive, zipBuffer, ytd } from "../lib/xarchive.mjs";

let s, h;
const M = {};
const X = { ann: "7001", ben: "7002", cat: "7003", dan: "7004", stranger: "7999", ignored: "7555" };
const NAMES = ["ann", "ben", "cat", "dan"];

setup(async () => {
  s = await startServer({
    config: {
      allow_private_fetch: "true",
      queue_poll_ms: "100",
      queue_backoff_unit_ms: "10",
      match_poll_ms: "50",
      notice_poll_ms: "100",
      follow_hold_hours: "0",
      archive_uploads_per_hour: "50",
    },
  });
  h = await startActorHost({ actors: NAMES.map((name) => ({ name })) });
  for (const name of NAMES) M[name] = await joinMember(s, h, name);
});
teardown(async () => {
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const q = async (sql) => (await s.psql(sql)).trim();
const post = (m, body) =>
  request(`${s.url}/link/archive`, {
    method: "POST",
    headers: { cookie: m.cookie, "x-csrf-token": m.csrf, "content-type": "application/zip" },
    body,
  });
// Everyone followed everyone on X: each archive lists the three others both ways.
const others = (name) => NAMES.filter((n) => n !== name).map((n) => X[n]);
const archive = (name, extra = {}) =>
  xArchive({ username: `${name}_x`, accountId: X[name], followerIds: others(name), followingIds: others(name), ...extra });
const upload = async (name, extra) => {
  const r = await post(M[name], zipBuffer(archive(name, extra).entries));
  assert.equal(r.status, 200, r.body);
  return r.json();
};
const excludes = (name) =>
  q(`SELECT string_agg(reason || ':' || x_id, ' ' ORDER BY reason, x_id) FROM member_excludes WHERE member_id = ${M[name].id}`);
const settled = () =>
  eventually(async () => (await q("SELECT count(*) FROM members WHERE match_due_at IS NOT NULL")) === "0", {
    timeout: 10000,
    what: "every member matched",
  });
// "state[ reason]" of the pair's row, "" when there is none.
const pair = (b, a) =>
  q(`SELECT state || coalesce(' ' || last_error, '') FROM follow_actions WHERE follower_id = ${M[b].id} AND followee_id = ${M[a].id}`);
const dms = (name) => h.posts(`/users/${name}/inbox`).map((r) => JSON.parse(r.body).object?.content ?? "");

test("block.js and mute.js become the uploader's blocked and muted rows; the answer counts them; 'ignored' rows stay", async () => {
  await q(`INSERT INTO member_excludes (member_id, x_id, reason) VALUES (${M.ann.id}, ${X.ignored}, 'ignored')`);
  const j = await upload("ann", { blockIds: [X.ben, X.stranger, X.ben], muteIds: [X.cat, X.ann] });
  assert.equal(j.status, "linked");
  assert.equal(j.blocked, 2, "duplicates counted once");
  assert.equal(j.muted, 1, "the owner's own id is dropped");
  assert.equal(await excludes("ann"), `blocked:${X.ben} blocked:${X.stranger} ignored:${X.ignored} muted:${X.cat}`);
  const st = (await request(`${s.url}/link/state`, { headers: { cookie: M.ann.cookie } })).json();
  assert.equal(st.blocked, 2);
  assert.equal(st.muted, 1);
  // Each archive speaks for its uploader only: nobody else's rows.
  assert.equal(await q(`SELECT count(*) FROM member_excludes WHERE member_id <> ${M.ann.id}`), "0");
  assert.ok(s.events("import_stored").some((e) => e.member === M.ann.id && e.blocked === "2" && e.muted === "1"));
});

test("the pairs they name are never planned, either way, whatever the consents, and nobody is told across them", async () => {
  for (const name of NAMES) await setConsents(s, M[name], { findable: true, notify: true, autofollow: true });
  for (const name of ["ben", "cat", "dan"]) await upload(name);
  await settled();
  assert.equal(await pair("ann", "dan"), "planned");
  assert.equal(await pair("dan", "ann"), "planned");
  for (const other of ["ben", "cat"]) {
    assert.equal(await pair("ann", other), "", `ann never follows ${other} (she blocked or muted them)`);
    assert.equal(await pair(other, "ann"), "", `${other} never follows ann`);
  }
  assert.equal(await pair("ben", "cat"), "planned", "pairs between the others are untouched");
  // Notices (one a day at most, so each names whoever was there when it went): ann hears of
  // dan and of nobody she blocked or muted; ben and cat hear of others, never of ann.
  const annMsg = await eventually(() => dms("ann").find((c) => c.includes(`dan@${h.domain}`)), { timeout: 10000, what: "ann's notice" });
  assert.equal(annMsg.includes(`ben@${h.domain}`) || annMsg.includes(`cat@${h.domain}`), false, annMsg);
  for (const name of ["ben", "cat"]) {
    await eventually(() => dms(name).find((c) => /on the fediverse now/.test(c)), { timeout: 10000, what: `${name}'s notice` });
  }
  await eventually(async () => (await q("SELECT count(*) FROM notice_due WHERE due_at <= now()")) === "0", { timeout: 10000, what: "the due notices sent" });
  for (const name of ["ben", "cat"]) {
    assert.equal(dms(name).some((c) => c.includes(`ann@${h.domain}`) || c.includes("ann_x")), false, `${name} is never told about ann`);
  }
});

test("a new upload replaces the blocked and muted rows (an archive without the list keeps them); the pairs follow", async () => {
  await upload("ann", { blockIds: [X.cat], muteIds: [] });
  assert.equal(await excludes("ann"), `blocked:${X.cat} ignored:${X.ignored}`);
  await settled();
  assert.equal(await pair("ann", "ben"), "planned", "ben is no longer blocked");
  assert.equal(await pair("ben", "ann"), "planned");
  assert.equal(await pair("ann", "cat"), "");
  assert.equal(await pair("cat", "ann"), "");
  // Loose files without block.js say nothing of blocks: they stay.
  await upload("ann");
  assert.equal(await excludes("ann"), `blocked:${X.cat} ignored:${X.ignored}`);
  await upload("ann", { muteIds: [X.ben] });
  assert.equal(await excludes("ann"), `blocked:${X.cat} ignored:${X.ignored} muted:${X.ben}`, "only the list the archive has is replaced");
  await settled();
  assert.equal(await pair("ben", "ann"), "undone excluded by followee", "a row planned before the mute is undone");
  assert.equal(await pair("ann", "ben"), "undone excluded by follower");
});

test("a malformed block.js or mute.js: 400 naming the file, and nothing changes", async () => {
  const before = await q(
    `SELECT (SELECT string_agg(reason || ':' || x_id, ' ' ORDER BY reason, x_id) FROM member_excludes WHERE member_id = ${M.ann.id}),` +
      ` (SELECT count(*) FROM x_edges WHERE member_id = ${M.ann.id}), (SELECT linked_at FROM members WHERE id = ${M.ann.id}),` +
      ` (SELECT match_due_at FROM members WHERE id = ${M.ann.id})`,
  );
  const cases = [
    ["an id that is not a number", "block", ytd("block", 0, [{ blocking: { accountId: "12x" } }]), /data\/block\.js: element 1: accountId is not a number/],
    ["no accountId", "mute", ytd("mute", 0, [{ muting: { accountId: "5" } }, { muting: { userLink: "x" } }]), /data\/mute\.js: element 2: no accountId/],
    ["the wrong wrapper", "block", ytd("mute", 0, [{ muting: { accountId: "5" } }]), /data\/block\.js: expected window\.YTD\.block\.partN/],
    ["cut short", "block", `window.YTD.block.part0 = [ { "blocking": { "accountId": "5" } }`, /data\/block\.js: the file ends before the list closes/],
    ["a count the manifest does not announce", "block", null, /the block lists hold 1 accounts but manifest\.js says 2/],
  ];
  for (const [what, kind, text, reason] of cases) {
    const a = archive("ann", { blockIds: [X.ben], muteIds: [X.ben] });
    if (text !== null) a.entries.find((e) => e.name === `data/${kind}.js`).data = Buffer.from(text);
    else {
      const m = a.entries.find((e) => e.name === "data/manifest.js");
      m.data = Buffer.from(m.data.toString().replace(/("globalName": "YTD\.block\.part0",\s*"count": )"1"/, '$1"2"'));
    }
    const r = await post(M.ann, zipBuffer(a.entries));
    assert.equal(r.status, 400, `${what}: ${r.status} ${r.body}`);
    assert.match(r.json().error, reason, what);
  }
  const after = await q(
    `SELECT (SELECT string_agg(reason || ':' || x_id, ' ' ORDER BY reason, x_id) FROM member_excludes WHERE member_id = ${M.ann.id}),` +
      ` (SELECT count(*) FROM x_edges WHERE member_id = ${M.ann.id}), (SELECT linked_at FROM members WHERE id = ${M.ann.id}),` +
      ` (SELECT match_due_at FROM members WHERE id = ${M.ann.id})`,
  );
  assert.equal(after, before, "excludes, edges and the link untouched");
});

test("a follow planned before the block is not made: follow_actions_allowed reads member_excludes from both sides", async () => {
  const row = await q(`SELECT id FROM follow_actions WHERE follower_id = ${M.dan.id} AND followee_id = ${M.ann.id} AND state = 'planned'`);
  assert.notEqual(row, "", "dan's follow of ann is planned");
  const allowed = () => q(`SELECT count(*) FROM follow_actions_allowed WHERE id = ${row}`);
  assert.equal(await allowed(), "1");
  // Stored without marking anyone due: the matcher has not judged the pair again yet.
  await q(`INSERT INTO member_excludes (member_id, x_id, reason) VALUES (${M.ann.id}, ${X.dan}, 'blocked')`);
  assert.equal(await allowed(), "0", "the followee's block");
  await q(`DELETE FROM member_excludes WHERE member_id = ${M.ann.id} AND x_id = ${X.dan}`);
  await q(`INSERT INTO member_excludes (member_id, x_id, reason) VALUES (${M.dan.id}, ${X.ann}, 'muted')`);
  assert.equal(await allowed(), "0", "the follower's mute");
  await q(`DELETE FROM member_excludes WHERE member_id = ${M.dan.id}`);
  assert.equal(await allowed(), "1");
  await sleep(10);
});
