// The list worker (issue 14, item 6) against the real server and PostgreSQL, with grants made
// through the real OAuth flow on the Mastodon client-API test double: each account followed
// for a member also goes into "Former X contacts" on their server, a list made once
// (POST /api/v1/lists, in the member's language) or found again by its title (GET
// /api/v1/lists), each account added with POST /api/v1/lists/:id/accounts (account_ids[]),
// under the grant's lease and request budget. A grant from before the list scopes still
// follows, skips the list, and the page says to connect again; connecting again fills the
// list with the follows made meanwhile. A list the member deleted is not made again until they
// connect anew; "already in the list" counts as done.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { MEMBER_CONFIG } from "../lib/browser.mjs";
import { request } from "../lib/http.mjs";
import { connect, linkedMember, plannedPair } from "../lib/oauthflow.mjs";
import { sqlSession } from "../lib/linkcode.mjs";

const FOLLOWERS = ["alice", "bob", "carol", "dave", "erin"];
const FOLLOWEES = Array.from({ length: 12 }, (_, i) => `f${i}`);
const OLD_SCOPES = "read:accounts read:search write:follows";

let s, h, far;
const people = {};
const followees = {};

setup(async () => {
  [h, far] = await Promise.all([
    startActorHost({ actors: FOLLOWERS.map((name) => ({ name })), mastodon: true }),
    startActorHost({ actors: FOLLOWEES.map((name) => ({ name })) }),
  ]);
  s = await startServer({ config: { ...MEMBER_CONFIG, follow_poll_ms: "50" } });
  for (const name of FOLLOWEES) {
    const actor = far.actor(name).id;
    followees[name] = { ...(await linkedMember(s, { actor, acct: `${name}@${far.domain}`, host: far.domain })), actor };
  }
});
teardown(async () => {
  await h?.stop();
  await far?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

// A linked member at home on the double, with autofollow, who connected their server.
async function follower(name, { lang = "en", edit } = {}) {
  const m = await linkedMember(s, { actor: h.actor(name).id, acct: `${name}@${h.domain}`, host: h.domain });
  await s.psql(`UPDATE members SET lang = '${lang}' WHERE id = ${m.id}`);
  m.session = await sqlSession(s, m.id);
  h.mastodon.control({ loggedIn: name });
  const r = await connect(s, m.session, edit ? { edit } : {});
  assert.equal(r.result, "granted");
  return m;
}

const tokenOf = (name) => h.mastodon.snapshot().tokens.filter((t) => t.user === name && !t.revoked).at(-1).token;
const listsOf = (name) => h.mastodon.snapshot().lists.filter((l) => l.user === name);
const followedIds = (name) => h.mastodon.snapshot().follows.filter((f) => f.user === name).map((f) => f.accountId).sort();
// The list calls made with name's tokens: "METHOD path".
const listCalls = (name) => {
  const tokens = new Set(h.mastodon.snapshot().tokens.filter((t) => t.user === name).map((t) => `Bearer ${t.token}`));
  return h.requests.filter((r) => r.path.startsWith("/api/v1/lists") && tokens.has(r.headers.authorization)).map((r) => `${r.method} ${r.path}`);
};
const listed = (pair) => s.psql(`SELECT (listed_at IS NOT NULL) || ' ' || coalesce(list_error, '-') FROM follow_actions WHERE id = ${pair}`);
const untilListed = (pair, what = `pair ${pair} in the list`) =>
  eventually(async () => (await listed(pair)).startsWith("true") || false, { timeout: 8000, what });
const untilDone = (pair) =>
  eventually(async () => (await s.psql(`SELECT state FROM follow_actions WHERE id = ${pair}`)) === "done", { timeout: 8000, what: `pair ${pair} followed` });
const state = async (m) => (await request(`${s.url}/link/state`, { headers: { cookie: m.session.cookie } })).json();

test("the follows go into one list, made once in the member's language, each account added with account_ids[]", async () => {
  people.alice = await follower("alice");
  assert.deepEqual(h.mastodon.snapshot().tokens.find((t) => t.user === "alice").scopes, ["read:accounts", "read:search", "write:follows", "read:lists", "write:lists"], "the grant asks for the list scopes");
  const pairs = [await plannedPair(s, people.alice, followees.f0), await plannedPair(s, people.alice, followees.f1)];
  for (const p of pairs) await untilListed(p);
  const [list] = listsOf("alice");
  assert.equal(listsOf("alice").length, 1, "one list");
  assert.equal(list.title, "Former X contacts");
  assert.equal(list.replies_policy, "list");
  assert.deepEqual([...list.accounts].sort(), followedIds("alice"), "every account followed, in the list");
  const calls = listCalls("alice");
  assert.equal(calls.filter((c) => c === "GET /api/v1/lists").length, 1, "looked for once");
  assert.equal(calls.filter((c) => c === "POST /api/v1/lists").length, 1, "made once");
  assert.equal(calls.filter((c) => c === `POST /api/v1/lists/${list.id}/accounts`).length, 2, "one add per account");
  const add = h.requests.find((r) => r.path === `/api/v1/lists/${list.id}/accounts`);
  assert.equal(add.headers["content-type"], "application/x-www-form-urlencoded");
  assert.match(add.body, /^account_ids(\[\]|%5B%5D)=\d+$/);
  assert.equal(await s.psql(`SELECT state || ' ' || list_id || ' ' || host FROM member_lists WHERE member_id = ${people.alice.id}`), `ready ${list.id} ${h.domain}`);

  // A later follow goes into the same list: its id is kept, nothing looked up again.
  const third = await plannedPair(s, people.alice, followees.f2);
  await untilListed(third);
  assert.equal(listsOf("alice").length, 1);
  assert.equal(listsOf("alice")[0].accounts.length, 3);
  assert.equal(listCalls("alice").filter((c) => !c.endsWith("/accounts")).length, 2, "no second look, no second list");
  const st = await state(people.alice);
  assert.equal(st.oauth.lists, true);
  assert.equal(st.oauth.list, "ready");
  assert.equal(st.oauth.listed, 3);
  // The requests count in the grant's 5-minute window with the follows'.
  assert.ok(Number(await s.psql(`SELECT api_requests FROM oauth_grants WHERE member_id = ${people.alice.id}`)) >= 3 * 2 + 2);
  assert.ok(s.events("list_added").filter((e) => e.member === people.alice.id).length === 3);
});

test("French for a French member; a list of that title already on the server is used, not made again", async () => {
  people.bob = await follower("bob", { lang: "fr" });
  const p = await plannedPair(s, people.bob, followees.f3);
  await untilListed(p);
  assert.deepEqual(listsOf("bob").map((l) => l.title), ["Anciens contacts X"]);

  people.carol = await follower("carol");
  // carol made it herself earlier (or her last grant did): same title, in another language.
  const made = await request(`${h.url}/api/v1/lists`, {
    method: "POST",
    headers: { authorization: `Bearer ${tokenOf("carol")}`, "content-type": "application/x-www-form-urlencoded" },
    body: "title=Anciens+contacts+X",
  });
  assert.equal(made.status, 200, made.body);
  const q = await plannedPair(s, people.carol, followees.f4);
  await untilListed(q);
  assert.equal(listsOf("carol").length, 1, "found by its title, not made again");
  assert.deepEqual(listsOf("carol")[0].accounts, followedIds("carol"));
  assert.equal(listCalls("carol").filter((c) => c === "POST /api/v1/lists").length, 1, "only carol's own");
});

test("a grant from before the list scopes: follows go on, the list is skipped, the page asks to connect again; then the list fills", async () => {
  people.dave = await follower("dave", {
    edit: (u) => {
      u.searchParams.set("scope", OLD_SCOPES);
      return u;
    },
  });
  assert.equal(await s.psql(`SELECT scopes FROM oauth_grants WHERE member_id = ${people.dave.id}`), OLD_SCOPES);
  const pairs = [await plannedPair(s, people.dave, followees.f5), await plannedPair(s, people.dave, followees.f6)];
  for (const p of pairs) await untilDone(p);
  await sleep(500);
  assert.deepEqual(listCalls("dave"), [], "no list call with a token that cannot make lists");
  for (const p of pairs) assert.equal(await listed(p), "false -");
  const st = await state(people.dave);
  assert.equal(st.oauth.granted, true);
  assert.equal(st.oauth.lists, false, "the page is told the grant cannot make lists");

  const again = await connect(s, people.dave.session);
  assert.equal(again.result, "granted");
  for (const p of pairs) await untilListed(p);
  assert.equal(listsOf("dave").length, 1);
  assert.deepEqual([...listsOf("dave")[0].accounts].sort(), followedIds("dave"), "the follows made meanwhile are in it");
  assert.equal((await state(people.dave)).oauth.lists, true);
});

test("a list the member deleted is not made again until they connect anew; 'already in the list' counts as done", async () => {
  people.erin = await follower("erin");
  const first = await plannedPair(s, people.erin, followees.f7);
  await untilListed(first);
  const [list] = listsOf("erin");
  h.mastodon.deleteList("erin", list.id);
  const second = await plannedPair(s, people.erin, followees.f8);
  await untilDone(second);
  await eventually(async () => (await s.psql(`SELECT state FROM member_lists WHERE member_id = ${people.erin.id}`)) === "gone", { timeout: 8000, what: "the list known as gone" });
  await sleep(500);
  assert.deepEqual(listsOf("erin"), [], "not made again");
  assert.equal(await listed(second), "false -", "the follow waits");
  assert.equal((await state(people.erin)).oauth.list, "gone", "the page says so");
  const calls = listCalls("erin");
  assert.deepEqual(calls.slice(-2), [`POST /api/v1/lists/${list.id}/accounts`, "GET /api/v1/lists"], "a 404, then a look that tells the list from the account");

  const again = await connect(s, people.erin.session);
  assert.equal(again.result, "granted");
  await untilListed(second);
  assert.equal(listsOf("erin").length, 1, "made anew after the new grant");
  assert.notEqual(listsOf("erin")[0].id, list.id);

  // The server says the account is in the list already (added by hand): done, no error.
  h.mastodon.control({ failNext: [{ path: "^/api/v1/lists/[^/]+/accounts$", method: "POST", status: 422, body: { error: "Validation failed: Account has already been taken" } }] });
  const third = await plannedPair(s, people.erin, followees.f9);
  await untilListed(third);
  assert.equal(await listed(third), "true -");
  // Not followed any more (unfollowed by hand): given up, with the reason.
  h.mastodon.control({ failNext: [{ path: "^/api/v1/lists/[^/]+/accounts$", method: "POST", status: 422, body: { error: "Validation failed: Account must be a followed account" } }] });
  const fourth = await plannedPair(s, people.erin, followees.f10);
  await untilListed(fourth);
  assert.equal(await listed(fourth), "true add to list: HTTP 422");
});
