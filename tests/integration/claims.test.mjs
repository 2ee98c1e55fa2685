// Claims (issue 12, item 2): an archive is a claim, not a proof. "Verify with X" against a
// test double of X's OAuth 2.0 and users/me (tests/lib/xapi.mjs) binds an X id for certain
// and wins every dispute; a new unverified claim against a settled one is refused and its
// holder told; a disputed member claims nothing else; claims are rate-limited per member and
// per instance; stand-ins of unverified claims wait for the hold, hide while a report is
// open and say "not verified"; reports from several members hold a member until an admin
// decides. Real members join by a signed Follow and upload archives through the link page.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer, runBin } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { request } from "../lib/http.mjs";
import { joinMember, linkArchive, sendCommand } from "../lib/members.mjs";
import { snapshot, closeSessions, QUEUE_SETTLED_SQL } from "../lib/dbsnap.mjs";
import { startXApi } from "../lib/xapi.mjs";

const NAMES = ["alice", "bob", "carol", "dan", "erin", "fay", "gus", "mallory", "mal2", "mal3", "r1", "r2", "r3"];
let s, plain, strictStandins, h, x;
const m = {};

setup(async () => {
  x = await startXApi({ clientId: "passerelle-x", clientSecret: "x-secret" });
  h = await startActorHost({ actors: NAMES.map((name) => ({ name })) });
  const base = { allow_private_fetch: "true", queue_poll_ms: "100", queue_backoff_unit_ms: "10", match_poll_ms: "100" };
  s = await startServer({
    config: { ...base, x_client_id: "passerelle-x", x_client_secret: "x-secret", x_authorize_url: x.authorizeUrl, x_api_base: x.apiBase, claims_per_member: "3", claims_per_instance: "100" },
  });
  x.control({ redirectUri: `${s.url}/link/x/callback` });
  plain = await startServer({ config: { ...base, claims_per_member: "2", claims_per_instance: "3" } });
  strictStandins = await startServer({ config: { ...base, standin_requires_verification: "true", x_client_id: "passerelle-x", x_authorize_url: x.authorizeUrl, x_api_base: x.apiBase } });
  for (const name of NAMES) m[name] = await joinMember(s, h, name);
  s.admin = (...args) => runBin(["admin", "-c", s.configFile, ...args]);
});

teardown(async () => {
  closeSessions();
  await h?.stop();
  await x?.stop();
  for (const srv of [s, plain, strictStandins]) if (srv) assert.equal(await srv.stop(), 0, "serve exits 0");
});

const q = (sql, srv = s) => srv.psql(sql);
const row = (who, srv = s) => q(`SELECT state || '|' || coalesce(x_id::text, '-') || '|' || coalesce(x_handle, '-') || '|' || (x_verified_at IS NOT NULL) FROM members WHERE id = ${who.id}`, srv);
const backdate = (who, srv = s) => q(`UPDATE members SET linked_at = now() - interval '2 days' WHERE id = ${who.id}`, srv);
const dmsTo = (mark, name) => h.since(mark).filter((r) => r.method === "POST" && r.path === `/users/${name}/inbox`).map((r) => JSON.parse(r.body).object?.content ?? "");
const acctOf = (name) => `${name}@${h.domain}`;
const finger = (handle, srv = s) => request(`${srv.url}/.well-known/webfinger?resource=acct:${handle}@${new URL(srv.url).host}`);
// Which tables differ between two snapshots (tests/lib/dbsnap.mjs), for a readable failure.
const changed = (a, b) => Object.keys(b).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
const quiet = () => eventually(async () => (await q(QUEUE_SETTLED_SQL)) === "t", { timeout: 10000, what: "the queue to drain" });

// The page's "Verify with X": start, X's authorize page (the double approves for its
// signed-in user), the browser back to our callback. Returns the result and what was seen.
async function verify(who, { srv = s, cookie = who.cookie, edit = (u) => u } = {}) {
  const st = await request(`${srv.url}/link/x/start`, { method: "POST", headers: { cookie: who.cookie, "x-csrf-token": who.csrf, "content-type": "application/json" }, body: "{}" });
  assert.equal(st.status, 200, st.body);
  const url = edit(new URL(st.json().authorize_url));
  const a = await request(url.href);
  assert.equal(a.status, 302, `X's authorize page: ${a.status} ${a.body}`);
  const back = new URL(a.headers.location);
  const cb = await request(`${srv.url}/link/x/callback${back.search}`, { headers: cookie ? { cookie } : {} });
  assert.equal(cb.status, 303);
  return { url, back, result: new URL(cb.headers.location, srv.url).searchParams.get("x") };
}

test("Verify with X is offered only when an X app is configured: the state says so, start is 404 without", async () => {
  const st = (await request(`${s.url}/link/state`, { headers: { cookie: m.alice.cookie } })).json();
  assert.deepEqual(st.x_verify, { offered: true, verified: false });
  const p = await joinMember(plain, h, "alice");
  const ps = (await request(`${plain.url}/link/state`, { headers: { cookie: p.cookie } })).json();
  assert.deepEqual(ps.x_verify, { offered: false, verified: false });
  const before = await snapshot(plain.db);
  const r = await request(`${plain.url}/link/x/start`, { method: "POST", headers: { cookie: p.cookie, "x-csrf-token": p.csrf, "content-type": "application/json" }, body: "{}" });
  assert.equal(r.status, 404, r.body);
  assert.deepEqual(changed(before, await snapshot(plain.db)), [], "a refused start changed the database");
  // The page shows the button only when offered (the script reads state.x_verify).
  const js = (await request(`${s.url}/link/assets/link.js`)).body;
  assert.match(js, /\$\("xverify-btn"\)\.hidden = !x\.offered/);
});

test("verify: PKCE S256 with tweet.read users.read; X's id and username bound as verified; nothing of X's kept", async () => {
  x.control({ user: { id: "1110000000000000001", name: "Bob", username: "bob_x" }, deny: false });
  const v = await verify(m.bob);
  assert.equal(v.result, "verified");
  const p = v.url.searchParams;
  assert.deepEqual(
    [p.get("response_type"), p.get("client_id"), p.get("redirect_uri"), p.get("scope"), p.get("code_challenge_method")],
    ["code", "passerelle-x", `${s.url}/link/x/callback`, "tweet.read users.read", "S256"],
  );
  assert.match(p.get("code_challenge"), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(await row(m.bob), "linked|1110000000000000001|bob_x|true");
  const reqs = x.snapshot().requests;
  assert.deepEqual(reqs.filter((r) => r.path !== "/i/oauth2/authorize").map((r) => [r.method, r.path, r.status, r.auth]), [
    ["POST", "/2/oauth2/token", 200, "Basic"],
    ["GET", "/2/users/me", 200, "Bearer"],
  ]);
  assert.match(reqs.find((r) => r.path === "/2/oauth2/token").body, /code_verifier=[A-Za-z0-9]{64}/);
  assert.equal(await q("SELECT count(*) FROM x_verify_states"), "0", "the state is spent");
  assert.equal(await q(`SELECT outcome FROM claim_log WHERE member_id = ${m.bob.id}`), "verified");
  const st = (await request(`${s.url}/link/state`, { headers: { cookie: m.bob.cookie } })).json();
  assert.deepEqual(st.x_verify, { offered: true, verified: true });
  // A verified claim shows its stand-in at once (no hold), without "not verified".
  const wf = await finger("bob_x");
  assert.equal(wf.status, 200, wf.body);
  const actor = (await request(`${s.url}/x/1110000000000000001`, { headers: { accept: "application/activity+json" } })).json();
  assert.equal(actor.name, "bob_x (moved)");
  assert.doesNotMatch(actor.summary, /verified/i);
});

test("the callback refuses a replayed state, another session's, a refusal on X, and X's 401, 429 and token errors", async () => {
  x.control({ user: { id: "7770000000000000001", name: "Erin", username: "erin_x" } });
  const same = () => row(m.erin);
  const before = await same();
  // Another member's session brings the answer back: refused, and the state is spent.
  const other = await verify(m.erin, { cookie: m.dan.cookie });
  assert.equal(other.result, "invalid");
  const replay = await request(`${s.url}/link/x/callback${other.back.search}`, { headers: { cookie: m.erin.cookie } });
  assert.equal(new URL(replay.headers.location, s.url).searchParams.get("x"), "invalid", "a spent state");
  x.control({ deny: true });
  assert.equal((await verify(m.erin)).result, "denied");
  x.control({ deny: false, failNext: [{ path: "/2/users/me", status: 401, body: { title: "Unauthorized", type: "about:blank", status: 401, detail: "Unauthorized" } }] });
  assert.equal((await verify(m.erin)).result, "failed");
  const reset = String(Math.floor(Date.now() / 1000) + 900);
  x.control({ failNext: [{ path: "/2/users/me", status: 429, body: { title: "Too Many Requests", detail: "Too Many Requests", type: "about:blank", status: 429 }, headers: { "x-rate-limit-limit": "75", "x-rate-limit-remaining": "0", "x-rate-limit-reset": reset } }] });
  assert.equal((await verify(m.erin)).result, "rate_limited");
  x.control({ failNext: [{ path: "/2/oauth2/token", status: 400, body: { error: "invalid_request", error_description: "Value passed for the authorization code was invalid." } }] });
  assert.equal((await verify(m.erin)).result, "failed");
  // The double's own checks: a wrong verifier or client secret would be refused by X too.
  assert.equal((await verify(m.erin, { edit: (u) => (u.searchParams.set("code_challenge", "A".repeat(43)), u) })).result, "failed", "a code whose challenge is not the verifier's");
  assert.equal(await same(), before, "a refused verification changed the member");
  assert.equal(await q(`SELECT count(*) FROM claim_log WHERE member_id = ${m.erin.id}`), "0");
});

test("a verified claim wins over an earlier unverified one; the loser's rows go and both sides are told; the loser's new claim is refused", async () => {
  const CAROL_X = "2220000000000000001";
  const r = await linkArchive(s, m.mallory, { xId: CAROL_X, username: "carol_x", following: ["1990000000000000001"], followers: ["1990000000000000002"] });
  assert.equal(r.status, 200, r.body);
  await backdate(m.mallory); // past its hold: an unverified newcomer would be refused now
  const mark = h.mark;
  x.control({ user: { id: CAROL_X, name: "Carol", username: "carol_x" } });
  assert.equal((await verify(m.carol)).result, "verified");
  assert.equal(await row(m.carol), `linked|${CAROL_X}|carol_x|true`);
  assert.equal(await row(m.mallory), "joined|-|-|false", "Mallory lost the X id");
  assert.equal(await q(`SELECT count(*) FROM x_edges WHERE member_id = ${m.mallory.id}`), "0", "and what her archive said");
  assert.equal(await q(`SELECT count(*) FROM x_claims WHERE member_id = ${m.mallory.id}`), "0");
  await eventually(() => dmsTo(mark, "mallory").some((t) => /X confirmed that @carol_x belongs to another member/.test(t)), { what: "Mallory told" });

  // Mallory tries again: refused, Carol is not frozen, and Carol is told who tried.
  const mark2 = h.mark;
  const again = await linkArchive(s, m.mallory, { xId: CAROL_X, username: "carol_x" });
  assert.equal(again.status, 409, again.body);
  assert.equal(again.json().status, "refused");
  assert.equal(await row(m.carol), `linked|${CAROL_X}|carol_x|true`, "a verified claim is never frozen");
  assert.equal(await row(m.mallory), "joined|-|-|false");
  await eventually(() => dmsTo(mark2, "carol").some((t) => t.includes(acctOf("mallory")) && /refused/.test(t)), { what: "Carol told" });
  assert.equal(await q(`SELECT outcome || ':' || incumbent_id FROM claim_log WHERE member_id = ${m.mallory.id} ORDER BY id DESC LIMIT 1`), `refused:${m.carol.id}`);
  // Carol's verification also fixed her X id: an archive of another account is refused.
  const other = await linkArchive(s, m.carol, { xId: "2220000000000000002", username: "not_carol" });
  assert.equal(other.status, 409);
  assert.equal(other.json().status, "verified_other");
});

test("past its hold an unverified claim is not frozen by a newcomer: refused, the holder told; the admin sees it", async () => {
  const ALICE_X = "3330000000000000001";
  assert.equal((await linkArchive(s, m.alice, { xId: ALICE_X, username: "alice_x" })).status, 200);
  await backdate(m.alice);
  const mark = h.mark;
  const r = await linkArchive(s, m.mal2, { xId: ALICE_X, username: "alice_x" });
  assert.equal(r.status, 409, r.body);
  assert.equal(r.json().status, "refused");
  assert.equal(await row(m.alice), `linked|${ALICE_X}|alice_x|false`);
  assert.equal(await row(m.mal2), "joined|-|-|false");
  assert.equal(await q(`SELECT count(*) FROM x_claims WHERE member_id = ${m.mal2.id}`), "0");
  await eventually(() => dmsTo(mark, "alice").some((t) => t.includes(acctOf("mal2"))), { what: "Alice told" });
  assert.deepEqual(dmsTo(mark, "mal2"), [], "the refused claimant gets no message (the page said it)");
  assert.equal(await q(`SELECT outcome || ':' || incumbent_id || ':' || x_id FROM claim_log WHERE member_id = ${m.mal2.id}`), `refused:${m.alice.id}:${ALICE_X}`);
  const list = await s.admin("members", "list");
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`^refused claim of X id ${ALICE_X} by member ${m.mal2.id} \\(${acctOf("mal2")}\\) against member ${m.alice.id} \\(${acctOf("alice")}\\), 20\\d\\d-`, "m"));
  const show = await s.admin("members", "show", m.alice.id);
  assert.match(show.stdout, /^refused_challenges:\s+1$/m);
  assert.match(show.stdout, /^x_verified:\s+no$/m);
});

test("within the hold both are frozen; a disputed member can claim no other X id and sends no second round of messages", async () => {
  const DAN_X = "4440000000000000001";
  assert.equal((await linkArchive(s, m.dan, { xId: DAN_X, username: "dan_x" })).status, 200);
  const r = await linkArchive(s, m.mal3, { xId: DAN_X, username: "dan_x" });
  assert.equal(r.status, 409);
  assert.equal(r.json().status, "disputed");
  assert.equal((await row(m.dan)).split("|")[0], "disputed");
  assert.equal((await row(m.mal3)).split("|")[0], "disputed");
  await quiet();
  for (const [xId, status] of [["5550000000000000001", "locked"], [DAN_X, "disputed"]]) {
    const before = await snapshot(s.db);
    const mark = h.mark;
    const again = await linkArchive(s, m.mal3, { xId, username: "whoever" });
    assert.equal(again.status, 409, again.body);
    assert.equal(again.json().status, status);
    await sleep(300);
    assert.deepEqual(changed(before, await snapshot(s.db)), [], `${status}: the database changed`);
    assert.deepEqual(h.since(mark).filter((x) => x.method === "POST"), [], `${status}: someone was messaged`);
  }
});

test("claims are rate-limited per member and per home instance; a re-upload of the X id held is free", async () => {
  const e = await joinMember(plain, h, "erin");
  const f = await joinMember(plain, h, "fay");
  assert.equal((await linkArchive(plain, e, { xId: "6010000000000000001" })).status, 200);
  assert.equal((await linkArchive(plain, e, { xId: "6020000000000000001" })).status, 200);
  await eventually(async () => (await q("SELECT count(*) FROM members WHERE match_due_at IS NOT NULL", plain)) === "0", { what: "matching to settle" });
  const before = await snapshot(plain.db);
  const third = await linkArchive(plain, e, { xId: "6030000000000000001" });
  assert.equal(third.status, 429, third.body);
  assert.equal(third.json().status, "rate_limited");
  assert.deepEqual(changed(before, await snapshot(plain.db)), [], "a refused claim changed the database");
  assert.equal((await linkArchive(plain, e, { xId: "6020000000000000001" })).status, 200, "the X id it holds");
  // The instance (claims_per_instance 3): erin's two claims, fay's, then nobody's from there.
  assert.equal(await q(`SELECT count(*) FROM claim_log WHERE host = '${h.domain}'`, plain), "2");
  assert.equal((await linkArchive(plain, f, { xId: "6040000000000000001" })).status, 200);
  const g = await joinMember(plain, h, "gus");
  const over = await linkArchive(plain, g, { xId: "6050000000000000001" });
  assert.equal(over.status, 429, over.body);
});

const FAY_X = "6660000000000000001";
// Gus's follow of Fay, once matching has settled: its state and why. One statement reads both,
// so a match that commits between two reads cannot pass a stale state as settled.
const pair = () =>
  eventually(async () => {
    const v = await q(`SELECT CASE WHEN EXISTS (SELECT 1 FROM members WHERE match_due_at IS NOT NULL) THEN NULL
      ELSE (SELECT state || coalesce(' ' || last_error, '') FROM follow_actions WHERE follower_id = ${m.gus.id} AND followee_id = ${m.fay.id}) END`);
    return v || false;
  }, { timeout: 10000, what: "matching" });

test("stand-ins: an unverified claim shows only after the hold, says \"not verified\", and hides while a report is open", async () => {
  assert.equal((await linkArchive(s, m.fay, { xId: FAY_X, username: "fay_x" })).status, 200);
  assert.equal((await finger("fay_x")).status, 404, "within the hold");
  assert.equal((await request(`${s.url}/x/${FAY_X}`, { headers: { accept: "application/activity+json" } })).status, 404);
  await backdate(m.fay);
  assert.equal((await finger("fay_x")).status, 200, "after the hold");
  const actor = (await request(`${s.url}/x/${FAY_X}`, { headers: { accept: "application/activity+json" } })).json();
  assert.equal(actor.name, "fay_x (moved, not verified)");
  assert.match(actor.summary, /Not verified/);
  await sendCommand(s, h, m.gus, `report @${acctOf("fay")}`, /report/i);
  assert.equal((await finger("fay_x")).status, 404, "a report is open");
  // standin_requires_verification: only X's word shows one.
  const sf = await joinMember(strictStandins, h, "fay");
  assert.equal((await linkArchive(strictStandins, sf, { xId: FAY_X, username: "fay_x" })).status, 200);
  await backdate(sf, strictStandins);
  assert.equal((await finger("fay_x", strictStandins)).status, 404, "unverified, past the hold");
  await q(`UPDATE members SET x_verified_at = now() WHERE id = ${sf.id}`, strictStandins);
  assert.equal((await finger("fay_x", strictStandins)).status, 200, "verified");
});

test("reports from three distinct members hold the member's follows and stand-in until an admin decides", async () => {
  const GUS_X = "8880000000000000001";
  // Gus followed Fay on X (his own archive says so); Fay is past her hold: the pair is planned
  // (Gus's report of the previous test is open: it hides her stand-in, it holds nothing).
  assert.equal((await linkArchive(s, m.gus, { xId: GUS_X, username: "gus_x", following: [FAY_X] })).status, 200);
  assert.equal(await pair(), "planned");
  await sendCommand(s, h, m.r1, `report @${acctOf("fay")}`, /report/i);
  await sendCommand(s, h, m.r1, `report @${acctOf("fay")}`, /report/i); // the same reporter twice counts once
  assert.equal(await q(`SELECT reports_held_at IS NULL FROM members WHERE id = ${m.fay.id}`), "t", "two distinct reporters");
  await sendCommand(s, h, m.r2, `report @${acctOf("fay")}`, /report/i);
  assert.equal(await q(`SELECT reports_held_at IS NOT NULL FROM members WHERE id = ${m.fay.id}`), "t", "three distinct reporters");
  assert.equal(await pair(), "undone followee held by reports");
  await q(`UPDATE members SET x_verified_at = now() WHERE id = ${m.fay.id}`);
  assert.equal((await finger("fay_x")).status, 404, "held: not even a verified stand-in shows");
  // The admin sees it...
  const show = await s.admin("members", "show", m.fay.id);
  assert.match(show.stdout, /^held_by_reports:\s+yes, 4 open reports from 3 members$/m);
  const list = await s.admin("members", "list");
  assert.match(list.stdout, new RegExp(`^held by reports: member ${m.fay.id} \\(${acctOf("fay")}\\) since 20\\d\\d-.*, 4 open reports from 3 members$`, "m"));
  // ...and clears the reports: the pair and the stand-in come back.
  const clear = await s.admin("members", "clear-reports", acctOf("fay"));
  assert.equal(clear.code, 0, clear.stderr);
  assert.match(clear.stdout, /4 open report\(s\) cleared/);
  assert.equal(await q(`SELECT (reports_held_at IS NULL) || ',' || (SELECT count(*) FROM reports WHERE target_member_id = ${m.fay.id} AND decided_at IS NULL) FROM members WHERE id = ${m.fay.id}`), "true,0");
  assert.equal(await pair(), "planned");
  assert.equal((await finger("fay_x")).status, 200);
  // Reported again and confirmed: the claim is dropped, with what her archive said, and she is told.
  for (const r of ["r1", "r2", "r3"]) await sendCommand(s, h, m[r], `report @${acctOf("fay")}`, /report/i);
  const mark = h.mark;
  const confirm = await s.admin("members", "confirm-reports", String(m.fay.id));
  assert.equal(confirm.code, 0, confirm.stderr);
  assert.match(confirm.stdout, new RegExp(`its claim of X id ${FAY_X} dropped`));
  assert.equal(await row(m.fay), "joined|-|-|false");
  assert.match(await pair(), /^undone /, "nothing toward a dropped claim");
  assert.equal(await q(`SELECT count(*) FROM follow_actions_allowed WHERE followee_id = ${m.fay.id}`), "0");
  assert.equal(await q(`SELECT string_agg(DISTINCT decision, ',' ORDER BY decision) FROM reports WHERE target_member_id = ${m.fay.id}`), "cleared,confirmed");
  await eventually(() => dmsTo(mark, "fay").some((t) => /removed your claim of the X account @fay_x/.test(t)), { what: "Fay told" });
});
