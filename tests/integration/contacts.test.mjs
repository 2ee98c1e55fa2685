// The member's contacts against the real server and PostgreSQL: mia joins from a home that
// speaks the Mastodon client API (the test double), uploads her archive through the page,
// connects her server and allows automatic follows; her former X contacts are members on
// another host. The page's API lists them both ways in keyset pages; ignore keeps a contact
// out of every follow (the double sees none) until restore; undo, one or all, unfollows
// through her server (the double sees the calls) and the matcher never follows them again
// unless she restores them; the counts and the daily notice say who came back. The pages'
// speed with 50,000 contacts is in contacts_scale.test.mjs.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { request } from "../lib/http.mjs";
import { MEMBER_CONFIG } from "../lib/browser.mjs";
import { joinMember, linkArchive, setConsents } from "../lib/members.mjs";
import { connect, sq } from "../lib/oauthflow.mjs";

const FOLLOWEES = ["f0", "f1", "f2", "f3", "f4", "f5"];
const FOLLOWERS = ["b0", "b1", "b2", "b3"];
let s, h, far, mia;
const C = {}; // contacts by name: {id, xId, actor}
const X = (name) => String(8100 + [...FOLLOWEES, ...FOLLOWERS].indexOf(name));

setup(async () => {
  [h, far] = await Promise.all([
    startActorHost({ actors: [{ name: "mia" }], mastodon: true }),
    startActorHost({ actors: [...FOLLOWEES, ...FOLLOWERS].map((name) => ({ name })) }),
  ]);
  s = await startServer({
    config: {
      ...MEMBER_CONFIG,
      match_poll_ms: "50",
      follow_poll_ms: "50",
      notice_poll_ms: "100",
      follow_hold_hours: "1",
    },
  });
});
teardown(async () => {
  await h?.stop();
  await far?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const q = (sql) => s.psql(sql);
// A member on far with a chosen X id, linked as an upload leaves one (and due for matching).
async function member(name, { linkedAgo = "2 days", due = true } = {}) {
  const actor = far.actor(name).id;
  const id = await q(
    `INSERT INTO members (actor_uri, acct, host, inbox, x_id, x_handle, state, linked_at, autofollow, match_due_at)
     VALUES (${sq(actor)}, ${sq(`${name}@${far.domain}`)}, ${sq(far.domain)}, ${sq(`${actor}/inbox`)}, ${X(name)}, ${sq(`${name}_x`)},
             'linked', now() - interval ${sq(linkedAgo)}, true, ${due ? "now()" : "NULL"}) RETURNING id`,
  );
  C[name] = { id, xId: X(name), actor };
  return C[name];
}
const settled = () =>
  eventually(async () => (await q("SELECT count(*) FROM members WHERE match_due_at IS NOT NULL")) === "0", { timeout: 15000, what: "every member matched" });
const page = (m, query) => request(`${s.url}/link/contacts?${query}`, { headers: { cookie: m.cookie } });
const counts = async (m) => {
  const r = await request(`${s.url}/link/contacts/counts`, { headers: { cookie: m.cookie } });
  assert.equal(r.status, 200, r.body);
  return r.json();
};
const post = (m, path, body, { csrf = m.csrf } = {}) =>
  request(`${s.url}/link/contacts/${path}`, {
    method: "POST",
    headers: { cookie: m.cookie, "content-type": "application/json", ...(csrf ? { "x-csrf-token": csrf } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
// Every contact one way, walking the pages: {handle: status}.
async function all(m, dir, limit = 100) {
  const out = {};
  let after = null;
  for (let i = 0; i < 1000; i++) {
    const r = await page(m, `dir=${dir}&limit=${limit}${after ? `&after=${after}` : ""}`);
    assert.equal(r.status, 200, r.body);
    for (const c of r.json().contacts) out[c.handle] = c.status;
    after = r.json().next;
    if (after === null) return out;
  }
  throw new Error("no end of pages");
}
const followsOf = (name) => h.mastodon.snapshot().follows.filter((f) => f.user === "mia" && f.actorId === C[name].actor);
const unfollowsOf = (name) => h.mastodon.snapshot().unfollows.filter((f) => f.user === "mia" && f.actorId === C[name].actor);
const row = (name) => q(`SELECT state || coalesce(' ' || last_error, '') FROM follow_actions WHERE follower_id = ${mia.id} AND followee_id = ${C[name].id}`);
const miaNotices = () => h.posts("/users/mia/inbox").map((r) => JSON.parse(r.body).object?.content ?? "").filter((c) => /former X followers|on the fediverse now/.test(c));

test("both ways: the contacts of mia's own archive who are members, each with where they are and what was done", async () => {
  for (const n of FOLLOWEES.slice(0, 5)) await member(n);
  await member("f5", { linkedAgo: "1 minute" }); // a new claim: follows toward it are held
  for (const n of ["b0", "b1", "b2"]) await member(n);
  // b0 and b1 followed mia on X (their own archives say so too: they will follow her again).
  await q(`INSERT INTO x_edges VALUES (${X("b0")}, 8000, ${C.b0.id}), (${X("b1")}, 8000, ${C.b1.id})`);
  mia = await joinMember(s, h, "mia");
  await setConsents(s, mia, { autofollow: true });
  h.mastodon.control({ loggedIn: "mia" });
  assert.equal((await connect(s, mia)).result, "granted");
  const r = await linkArchive(s, mia, {
    xId: "8000",
    following: [...FOLLOWEES.map(X), "9001", "9002"], // 9001, 9002: not members
    followers: [...FOLLOWERS.map(X), "9003"], // b3 is not a member yet
  });
  assert.equal(r.status, 200, r.body);
  await settled();
  await eventually(async () => (await q(`SELECT count(*) FROM follow_actions WHERE follower_id = ${mia.id} AND state = 'done'`)) === "5", { timeout: 15000, what: "five follows made" });
  assert.deepEqual(await all(mia, "following"), { f0_x: "followed", f1_x: "followed", f2_x: "followed", f3_x: "followed", f4_x: "followed", f5_x: "held" });
  assert.deepEqual(await all(mia, "followers"), { b0_x: "here", b1_x: "here", b2_x: "here" });
  const one = (await page(mia, "dir=following&limit=1")).json().contacts[0];
  assert.deepEqual(Object.keys(one).sort(), ["acct", "bridged", "handle", "network", "status", "undo", "url", "x_id"]);
  assert.equal(one.undo, true, "a follow made for her: undo offered");
  assert.equal(one.bridged, false, "followed on her own network: no bridge");
  assert.equal(one.acct, `f0@${far.domain}`);
  assert.equal(one.url, C.f0.actor, "where they are now: their actor");
  assert.equal(one.x_id, X("f0"));
  assert.equal(one.network, "activitypub");
  // Their own follows of mia are made in their names; two are done (as their servers would).
  await q(`UPDATE follow_actions SET state = 'done', done_at = now() WHERE followee_id = ${mia.id} AND follower_id IN (${C.b0.id}, ${C.b1.id})`);
  assert.deepEqual(await all(mia, "followers"), { b0_x: "follows_you", b1_x: "follows_you", b2_x: "here" });
  assert.deepEqual(await counts(mia), { following: 6, followers: 3, followed: 5, came_back: { here: 3, again: 2 }, undoing: 0 });
});

test("keyset pages: every contact once, in order, the last page says there is no next", async () => {
  const seen = [];
  let after = null;
  for (;;) {
    const r = await page(mia, `dir=following&limit=4${after ? `&after=${after}` : ""}`);
    assert.equal(r.status, 200, r.body);
    assert.ok(r.json().contacts.length <= 4);
    seen.push(...r.json().contacts.map((c) => c.handle));
    after = r.json().next;
    if (after === null) break;
    assert.match(after, /^\d+$/);
  }
  assert.deepEqual(seen, ["f0_x", "f1_x", "f2_x", "f3_x", "f4_x", "f5_x"], "member ids ascending, none twice");
  assert.deepEqual(Object.keys(await all(mia, "following", 1)), seen, "a page of one");
  assert.equal((await page(mia, `dir=following&after=${C.f5.id}`)).json().contacts.length, 0);
});

test("bad input is refused with a reason, and nothing changes", async () => {
  for (const qs of ["", "dir=both", "dir=following&after=x", "dir=following&limit=101", "dir=following&limit=0"]) {
    const r = await page(mia, qs);
    assert.equal(r.status, 400, `${qs}: ${r.body}`);
    assert.equal(typeof r.json().error, "string");
  }
  assert.equal((await request(`${s.url}/link/contacts?dir=following`)).status, 401, "no session");
  assert.equal((await request(`${s.url}/link/contacts/counts`)).status, 401);
  assert.equal((await post(mia, "ignore", { x_id: X("f1") }, { csrf: null })).status, 403, "no CSRF header");
  assert.equal((await post(mia, "ignore", { x_id: X("f1") }, { csrf: "0".repeat(64) })).status, 403, "a wrong CSRF header");
  for (const body of ["{}", '{"x_id": 8101}', '{"x_id": "8101", "all": true}', "[", '{"all": true}']) {
    const r = await post(mia, "ignore", body);
    assert.equal(r.status, 400, `${body}: ${r.body}`);
  }
  const r = await post(mia, "ignore", { x_id: "12345" });
  assert.equal(r.status, 404, "not in her archive");
  assert.match(r.json().error, /not one of your contacts/);
  assert.equal(await q(`SELECT count(*) FROM member_excludes WHERE member_id = ${mia.id}`), "0");
  assert.equal(await q(`SELECT count(*) FROM contact_ledger WHERE member_id = ${mia.id}`), "0");
});

test("ignore: the held contact is never followed, even once the hold ends; restore follows it", async () => {
  const r = await post(mia, "ignore", { x_id: X("f5") });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json(), { x_id: X("f5"), changed: 1 });
  assert.equal((await post(mia, "ignore", { x_id: X("f5") })).json().changed, 0, "ignoring twice changes nothing");
  await settled();
  assert.equal(await row("f5"), "undone excluded by follower");
  assert.equal((await all(mia, "following")).f5_x, "ignored", "shown as ignored, so that she can restore it");
  const csv = await request(`${s.url}/me/following.csv`, { headers: { cookie: mia.cookie } });
  assert.ok(!csv.body.includes(`f5@${far.domain}`), "an ignored contact is not in the CSV");
  // The hold ends: the pair would be due now, but it stays out.
  await q(`UPDATE members SET linked_at = now() - interval '2 days', match_due_at = now() WHERE id IN (${C.f5.id}, ${mia.id})`);
  await settled();
  await sleep(500);
  assert.equal(await row("f5"), "undone excluded by follower");
  assert.equal(followsOf("f5").length, 0, "her server was never asked to follow f5");
  assert.equal(h.mastodon.snapshot().searches.filter((x) => x.q === C.f5.actor).length, 0, "nor to look f5 up");
  // Even a row the matcher has not judged yet is not followed (follow_actions_allowed).
  await q(`UPDATE follow_actions SET state = 'planned', next_attempt_at = now() WHERE follower_id = ${mia.id} AND followee_id = ${C.f5.id}`);
  await sleep(500);
  assert.equal(followsOf("f5").length, 0, "the follow worker checks the exclusion when the follow is due");
  await q(`UPDATE follow_actions SET state = 'undone' WHERE follower_id = ${mia.id} AND followee_id = ${C.f5.id}`);

  const back = await post(mia, "restore", { x_id: X("f5") });
  assert.equal(back.status, 200, back.body);
  assert.equal(back.json().changed, 1);
  await eventually(() => followsOf("f5").length === 1, { timeout: 10000, what: "f5 followed once restored" });
  await eventually(async () => (await row("f5")) === "done", { what: "f5 done" });
  assert.equal((await all(mia, "following")).f5_x, "followed");
  const ledger = await q(`SELECT action || ' ' || x_id || ' ' || rows || ' ' || (client_addr IS NOT NULL) FROM contact_ledger WHERE member_id = ${mia.id} ORDER BY id`);
  assert.equal(ledger, `ignore ${X("f5")} 1 true\nrestore ${X("f5")} 1 true`, "each change in the ledger, once, with the client address");
});

test("an ignored follower is not counted as come back, and is not told about mia: the pair is out both ways", async () => {
  assert.equal((await post(mia, "ignore", { x_id: X("b1") })).status, 200);
  await settled();
  assert.equal((await all(mia, "followers")).b1_x, "ignored");
  assert.deepEqual((await counts(mia)).came_back, { here: 2, again: 1 });
  assert.equal(await post(mia, "restore", { x_id: X("b1") }).then((r) => r.status), 200);
  await settled();
  assert.deepEqual((await counts(mia)).came_back, { here: 3, again: 2 });
});

test("undo one: her server unfollows f0 with the same grant, and the matcher never follows f0 again", async () => {
  const token = h.mastodon.snapshot().tokens.find((t) => t.user === "mia").token;
  const r = await post(mia, "undo", { x_id: X("f0") });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json(), { queued: 1, bluesky: 0 });
  await eventually(async () => (await row("f0")) === "unfollowed", { timeout: 10000, what: "f0 unfollowed" });
  const u = unfollowsOf("f0");
  assert.equal(u.length, 1, "one unfollow call");
  assert.equal(u[0].accountId, followsOf("f0")[0].accountId, "the account the follow was made to");
  const call = h.requests.find((x) => x.method === "POST" && x.path === `/api/v1/accounts/${u[0].accountId}/unfollow`);
  assert.equal(call.headers.authorization, `Bearer ${token}`, "with her grant");
  assert.equal((await all(mia, "following")).f0_x, "undone");
  assert.equal((await post(mia, "undo", { x_id: X("f0") })).status, 409, "nothing left to undo");
  // Whatever makes the matcher look again, f0 stays unfollowed.
  await setConsents(s, mia, { autofollow: true });
  await q(`UPDATE members SET match_due_at = now() WHERE id IN (${mia.id}, ${C.f0.id})`);
  await settled();
  await sleep(500);
  assert.equal(await row("f0"), "unfollowed");
  assert.equal(followsOf("f0").length, 1, "never followed again");
  assert.equal((await counts(mia)).followed, 5, "f1..f5");
  const csv = await request(`${s.url}/me/following.csv`, { headers: { cookie: mia.cookie } });
  assert.equal(csv.status, 200);
  assert.ok(!csv.body.includes(`f0@${far.domain}`), "nor offered for import in the CSV");
  assert.ok(csv.body.includes(`f1@${far.domain}`));
  assert.ok(s.events("unfollow").some((e) => e.result === "unfollowed" && e.member === mia.id));
  assert.equal(s.stderr().includes(token), false, "the token is never logged");
});

test("undo all: one request queues every follow made for her, each is unfollowed once, none is made again", async () => {
  const r = await post(mia, "undo", { all: true });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json(), { queued: 5, bluesky: 0 });
  await eventually(async () => (await q(`SELECT count(*) FROM follow_actions WHERE follower_id = ${mia.id} AND state = 'unfollowed'`)) === "6", {
    timeout: 15000,
    what: "all six unfollowed",
  });
  for (const n of FOLLOWEES) assert.equal(unfollowsOf(n).length, 1, `${n}: one unfollow`);
  assert.deepEqual(new Set(Object.values(await all(mia, "following"))), new Set(["undone"]));
  assert.equal(await q(`SELECT action || ' ' || coalesce(x_id::text, '-') || ' ' || rows FROM contact_ledger WHERE member_id = ${mia.id} AND action LIKE 'undo%' ORDER BY id`), `undo ${X("f0")} 1\nundo_all - 5`);
  await q(`UPDATE members SET match_due_at = now() WHERE id = ${mia.id}`);
  await settled();
  await sleep(500);
  for (const n of FOLLOWEES) assert.equal(followsOf(n).length, 1, `${n}: not followed again`);
  assert.equal((await post(mia, "undo", { all: true })).status, 409, "nothing left");
  assert.equal((await counts(mia)).followed, 0);
});

test("restore after undo: the matcher judges the pair afresh and her server follows again", async () => {
  const r = await post(mia, "restore", { x_id: X("f2") });
  assert.deepEqual(r.json(), { x_id: X("f2"), changed: 1 });
  await eventually(() => followsOf("f2").length === 2, { timeout: 10000, what: "f2 followed again" });
  await eventually(async () => (await row("f2")) === "done", { what: "f2 done" });
  assert.equal((await all(mia, "following")).f2_x, "followed");
  assert.equal(followsOf("f3").length, 1, "the others stay undone");
});

test("who came back: the daily notice counts them, and a new former follower makes the next one", async () => {
  // The first notice went when she linked: her contacts, and who was here then.
  const first = await eventually(() => miaNotices()[0], { timeout: 10000, what: "mia's first notice" });
  assert.match(first, /3 of your former X followers are here\./, first);
  assert.match(first, /Your link page lists them\./);
  // b3 arrives; his own archive says he followed her too, and his server follows her again.
  await member("b3", { due: false });
  await q(`INSERT INTO x_edges VALUES (${X("b3")}, 8000, ${C.b3.id}); UPDATE members SET match_due_at = now() WHERE id = ${C.b3.id}`);
  await settled();
  await q(`UPDATE follow_actions SET state = 'done', done_at = now() WHERE follower_id = ${C.b3.id} AND followee_id = ${mia.id}`);
  assert.equal(await q(`SELECT count(*) FROM notice_due WHERE member_id = ${mia.id}`), "1", "an arrival makes her notice due");
  assert.deepEqual((await counts(mia)).came_back, { here: 4, again: 3 });
  // A day later.
  await q(`UPDATE members SET last_notified_at = now() - interval '2 days' WHERE id = ${mia.id}; UPDATE notice_due SET due_at = now() WHERE member_id = ${mia.id}`);
  const second = await eventually(() => miaNotices()[1], { timeout: 10000, what: "mia's second notice" });
  assert.equal(second.replace(/<[^>]+>/g, "").replace(/^@mia /, ""), "4 of your former X followers are here. 3 of them follow you again. Your link page lists them.");
  assert.equal(await q(`SELECT count(*) FROM contacts WHERE member_id = ${mia.id} AND dir = 'followers' AND told_at IS NULL`), "0");
  // Nothing new: nothing said.
  await q(`INSERT INTO notice_due (member_id) VALUES (${mia.id}) ON CONFLICT DO NOTHING; UPDATE members SET last_notified_at = NULL WHERE id = ${mia.id}`);
  await eventually(async () => (await q(`SELECT count(*) FROM notice_due WHERE member_id = ${mia.id}`)) === "0", { what: "the empty notice dropped" });
  assert.equal(miaNotices().length, 2);
});
