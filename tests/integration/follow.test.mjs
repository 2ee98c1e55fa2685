// The follow worker against the real server and PostgreSQL: pairs planned in SQL (as the
// matcher plans them) for members whose grant was made through the real OAuth flow with the
// Mastodon client-API test double; followees live on another loopback host that the double
// resolves by fetching their actor. Search with resolve then follow; each pair once; 404 and
// 403 final; 5xx retried with backoff; 429 honoured from X-RateLimit-Reset or Retry-After
// (the double's own limiter included); the daily and 5-minute budgets; 401 drops the grant;
// revoking, leaving, turning autofollow off, a held claim, relay_block stop what is pending.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { member, leave, api, MEMBER_CONFIG } from "../lib/browser.mjs";
import { request } from "../lib/http.mjs";
import { connect, linkedMember, plannedPair, sq } from "../lib/oauthflow.mjs";
import { sqlSession } from "../lib/linkcode.mjs";

const FOLLOWERS = ["alice", "bob", "carol", "dave", "erin", "frank", "gina", "hugo"];
const FOLLOWEES = Array.from({ length: 16 }, (_, i) => `f${i}`);

let s, h, far;
const people = {}; // name -> {id, xId, session}
const followees = {}; // name -> {id, xId, actor}

setup(async () => {
  [h, far] = await Promise.all([
    startActorHost({ actors: FOLLOWERS.map((name) => ({ name })), mastodon: true }),
    startActorHost({ actors: FOLLOWEES.map((name) => ({ name })) }),
  ]);
  s = await startServer({
    config: {
      ...MEMBER_CONFIG,
      follow_poll_ms: "50",
      follow_daily_limit: "3",
      relay_block: "blocked.example",
    },
  });
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
async function follower(name, srv = s, host = h) {
  const m = await linkedMember(srv, { actor: host.actor(name).id, acct: `${name}@${host.domain}`, host: host.domain });
  m.session = await sqlSession(srv, m.id);
  host.mastodon.control({ loggedIn: name });
  const r = await connect(srv, m.session);
  assert.equal(r.result, "granted");
  return m;
}

const row = (id) => s.psql(`SELECT state, attempts, coalesce(last_error, ''), coalesce(remote_account_id, '') FROM follow_actions WHERE id = ${id}`);
const searchesFor = (followee) => h.mastodon.snapshot().searches.filter((x) => x.q === followees[followee].actor);
const followsOf = (name) => h.mastodon.snapshot().follows.filter((f) => f.user === name);

async function until(id, state, timeout = 5000) {
  return eventually(async () => {
    const r = await row(id);
    return r.startsWith(`${state}|`) ? r : false;
  }, { timeout, what: `follow_actions ${id} to become ${state}` });
}

test("a due follow is made: search with resolve, then follow, with the member's token", async () => {
  people.alice = await follower("alice");
  const pair = await plannedPair(s, people.alice, followees.f0);
  const r = (await until(pair, "done")).split("|");
  assert.equal(r[1], "1", "one attempt");
  assert.equal(r[2], "", "no error");
  const search = searchesFor("f0");
  assert.equal(search.length, 1);
  assert.equal(search[0].user, "alice");
  assert.equal(search[0].resolve, true);
  assert.equal(search[0].type, "accounts");
  assert.equal(search[0].limit, 1);
  assert.equal(search[0].found, followees.f0.actor, "the double resolved the actor by fetching it");
  const f = followsOf("alice");
  assert.equal(f.length, 1);
  assert.equal(f[0].actorId, followees.f0.actor);
  assert.equal(r[3], f[0].accountId, "remote_account_id is the account id on the member's server");
  const calls = h.requests.filter((x) => x.path === "/api/v2/search" || x.path.startsWith("/api/v1/accounts/"));
  const token = h.mastodon.snapshot().tokens.find((t) => t.user === "alice").token;
  for (const c of calls) assert.equal(c.headers.authorization, `Bearer ${token}`);
  const get = calls.find((c) => c.path === "/api/v2/search");
  const q = new URL(get.target, h.url).searchParams;
  assert.equal(q.get("q"), followees.f0.actor);
  assert.equal(q.get("resolve"), "true");
  const post = calls.find((c) => c.method === "POST");
  assert.equal(post.path, `/api/v1/accounts/${f[0].accountId}/follow`);
  assert.equal(await s.psql(`SELECT done_at IS NOT NULL AND next_attempt_at IS NULL FROM follow_actions WHERE id = ${pair}`), "t");
  assert.ok(s.events("follow_done").some((e) => e.pair === pair));
  assert.equal(s.stderr().includes(token), false, "the token is never logged");
  const metrics = (await request(`${s.url}/metrics`)).body;
  assert.match(metrics, /^passerelle_follows_total\{result="done"\} 1$/m, "the follow is counted in /metrics");
});

test("each pair once: a done row is never taken again", async () => {
  const pair = await s.psql(`SELECT id FROM follow_actions WHERE follower_id = ${people.alice.id} AND followee_id = ${followees.f0.id}`);
  await s.psql(`UPDATE follow_actions SET next_attempt_at = now() - interval '1 hour' WHERE id = ${pair}`);
  await sleep(400);
  assert.equal(searchesFor("f0").length, 1, "no second search");
  assert.equal(followsOf("alice").length, 1, "no second follow");
  assert.match(await row(pair), /^done\|1\|/);
});

test("permanent failures: not found after resolve, 404, 403 mark the row failed", async () => {
  far.deleteActor("f1"); // its server says 410: nothing to resolve
  const gone = await plannedPair(s, people.alice, followees.f1);
  assert.match(await until(gone, "failed"), /^failed\|1\|account not found after resolve\|$/);
  h.mastodon.control({ failNext: [{ path: "^/api/v1/accounts/[^/]+/follow$", method: "POST", status: 404, body: { error: "Record not found" } }] });
  const nf = await plannedPair(s, people.alice, followees.f2);
  assert.match(await until(nf, "failed"), /^failed\|1\|follow: HTTP 404\|/);
  h.mastodon.control({ failNext: [{ path: "^/api/v2/search$", status: 403, body: { error: "This action is outside the authorized scopes" } }] });
  const fb = await plannedPair(s, people.alice, followees.f3);
  assert.match(await until(fb, "failed"), /^failed\|1\|search: HTTP 403\|/);
  await sleep(200);
  assert.equal(searchesFor("f3").length, 0, "a failed row is not retried");
});

test("transient errors are retried with backoff, then the follow is made", async () => {
  h.mastodon.control({ failNext: [{ path: "^/api/v2/search$", status: 503, times: 2 }] });
  const pair = await plannedPair(s, people.alice, followees.f4);
  const r = await until(pair, "done");
  assert.match(r, /^done\|3\|/, "two retries, then done");
  const retries = s.events("follow_retry").filter((e) => e.pair === pair);
  assert.equal(retries.length, 2);
  assert.ok(Number(retries[1].delay_ms) > Number(retries[0].delay_ms), "the backoff grows");
});

test("429 with X-RateLimit-Reset: the grant and the row wait until the reset, uncounted", async () => {
  people.bob = await follower("bob");
  const reset = new Date(Date.now() + 120000);
  h.mastodon.control({ failNext: [{ path: "^/api/v2/search$", status: 429, body: { error: "Too many requests" }, headers: { "x-ratelimit-limit": "300", "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset.toISOString() } }] });
  const pair = await plannedPair(s, people.bob, followees.f5);
  await eventually(() => s.events("follow_wait").find((e) => e.pair === pair), { what: "the 429" });
  const [limited, next] = (await s.psql(
    `SELECT extract(epoch FROM g.rate_limited_until), extract(epoch FROM fa.next_attempt_at)
     FROM oauth_grants g, follow_actions fa WHERE g.member_id = ${people.bob.id} AND fa.id = ${pair}`,
  )).split("|").map(Number);
  assert.ok(Math.abs(limited - reset.getTime() / 1000) < 2, `rate_limited_until ${limited} is the reset ${reset.toISOString()}`);
  assert.ok(Math.abs(next - reset.getTime() / 1000) < 2, "the row waits as long");
  assert.match(await row(pair), /^planned\|0\|search: rate limited \(429\)\|/, "not counted as an attempt");
  const n = h.requests.length;
  await sleep(400);
  assert.equal(h.requests.filter((x, i) => i >= n && x.path.startsWith("/api/")).length, 0, "nothing is asked before the reset");
  // The reset comes (here: the test moves the clock of the rows).
  await s.psql(`UPDATE oauth_grants SET rate_limited_until = now() WHERE member_id = ${people.bob.id}; UPDATE follow_actions SET next_attempt_at = now() WHERE id = ${pair}`);
  await until(pair, "done");
});

test("429 with Retry-After, and the double's own per-token limit", async () => {
  h.mastodon.control({ failNext: [{ path: "^/api/v1/accounts/[^/]+/follow$", method: "POST", status: 429, headers: { "retry-after": "90" } }] });
  const pair = await plannedPair(s, people.bob, followees.f6);
  await eventually(() => s.events("follow_wait").find((e) => e.pair === pair), { what: "the 429 on the follow" });
  const wait = Number(await s.psql(`SELECT extract(epoch FROM rate_limited_until - now()) FROM oauth_grants WHERE member_id = ${people.bob.id}`));
  assert.ok(wait > 80 && wait <= 90, `Retry-After 90 s honoured (${wait})`);
  await s.psql(`UPDATE oauth_grants SET rate_limited_until = NULL WHERE member_id = ${people.bob.id}; UPDATE follow_actions SET next_attempt_at = now() WHERE id = ${pair}`);
  await until(pair, "done");

  // The double counts per token in windows aligned on the epoch, as Mastodon does: with a
  // limit of 1 the search passes and the follow gets 429 with the window's end as reset.
  people.carol = await follower("carol");
  h.mastodon.control({ limits: { perToken: 1 } });
  try {
    const p2 = await plannedPair(s, people.carol, followees.f7);
    await eventually(() => s.events("follow_wait").find((e) => e.pair === p2), { what: "the double's 429" });
    const last = h.requests.filter((x) => x.path.startsWith("/api/v1/accounts/")).at(-1);
    assert.ok(last, "the follow was tried");
    const limited = Number(await s.psql(`SELECT extract(epoch FROM rate_limited_until) FROM oauth_grants WHERE member_id = ${people.carol.id}`));
    const windowEnd = Math.ceil(Date.now() / 300000) * 300;
    assert.ok(Math.abs(limited - windowEnd) < 2, `waits for the double's window end (${limited} vs ${windowEnd})`);
  } finally {
    h.mastodon.control({ limits: { perToken: 300 } });
  }
});

test("the daily budget: at most follow_daily_limit in any 24 hours, the rest moved on", async () => {
  people.dave = await follower("dave");
  for (const f of ["f8", "f9", "f10", "f11", "f12"]) await plannedPair(s, people.dave, followees[f]);
  await eventually(async () => Number(await s.psql(`SELECT count(*) FROM follow_actions WHERE follower_id = ${people.dave.id} AND state = 'done'`)) === 3, { what: "three follows" });
  await eventually(() => s.events("follow_deferred").length > 0, { what: "the deferral" });
  await sleep(300);
  assert.equal(followsOf("dave").length, 3, "no fourth follow today");
  const waiting = (await s.psql(
    `SELECT extract(epoch FROM fa.next_attempt_at - (SELECT min(done_at) FROM follow_actions WHERE follower_id = ${people.dave.id}))
     FROM follow_actions fa WHERE fa.follower_id = ${people.dave.id} AND fa.state = 'planned'`,
  )).split("\n").map(Number);
  assert.equal(waiting.length, 2);
  for (const w of waiting) assert.ok(Math.abs(w - 86400) < 1, `moved to when the oldest follow leaves the 24 hours (${w})`);
  // A day later for the oldest follow: one slot frees, one more follow is made.
  await s.psql(
    `UPDATE follow_actions SET done_at = now() - interval '25 hours' WHERE id =
     (SELECT id FROM follow_actions WHERE follower_id = ${people.dave.id} AND done_at IS NOT NULL ORDER BY done_at LIMIT 1)`,
  );
  await s.psql(`UPDATE follow_actions SET next_attempt_at = now() WHERE follower_id = ${people.dave.id} AND state = 'planned'`);
  await eventually(() => followsOf("dave").length === 4, { what: "the fourth follow" });
  await sleep(300);
  assert.equal(followsOf("dave").length, 4, "and only one");
});

test("401: the member's server dropped our token, so the grant goes and the row waits", async () => {
  people.erin = await follower("erin");
  const token = h.mastodon.snapshot().tokens.find((t) => t.user === "erin").token;
  // Revoked on the member's server (as "Authorized apps" -> revoke does).
  const client = h.mastodon.snapshot().apps[0];
  const rv = await fetch(`${h.url}/oauth/revoke`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ client_id: client.clientId, client_secret: client.secret, token }) });
  assert.equal(rv.status, 200);
  const pair = await plannedPair(s, people.erin, followees.f13);
  await eventually(() => s.events("follow_grant_dropped").find((e) => e.member === people.erin.id), { what: "the grant dropped" });
  assert.equal(await s.psql(`SELECT count(*) FROM oauth_grants WHERE member_id = ${people.erin.id}`), "0");
  assert.match(await row(pair), /^planned\|0\|/, "the pair waits, its attempt uncounted");
  const st = (await api(s, people.erin.session, "/link/state")).json();
  assert.equal(st.oauth.granted, false, "the page says to connect again");
});

test("revoking from the page stops pending follows", async () => {
  people.frank = await follower("frank");
  const pair = await plannedPair(s, people.frank, followees.f14, { due: "now() + interval '1 hour'" });
  const r = await api(s, people.frank.session, "/link/oauth/revoke", {});
  assert.equal(r.status, 200);
  await s.psql(`UPDATE follow_actions SET next_attempt_at = now() WHERE id = ${pair}`);
  await sleep(500);
  assert.equal(searchesFor("f14").length, 0, "no search after the revocation");
  assert.match(await row(pair), /^planned\|0\|/);
});

test("turning autofollow off stops pending follows; a held claim waits for its hold", async () => {
  people.gina = await follower("gina");
  const pair = await plannedPair(s, people.gina, followees.f15, { due: "now() + interval '1 hour'" });
  assert.equal((await api(s, people.gina.session, "/link/consents", { autofollow: false })).status, 200);
  await s.psql(`UPDATE follow_actions SET next_attempt_at = now() WHERE id = ${pair}`);
  await sleep(400);
  assert.equal(searchesFor("f15").length, 0, "nothing while autofollow is off");
  // Held: the followee's claim is new, so the matcher (run by the consent change) holds the
  // follow for follow_hold_hours. Autofollow back on, the hold still in the future.
  await s.psql(`UPDATE members SET linked_at = now() WHERE id = ${followees.f15.id}`);
  assert.equal((await api(s, people.gina.session, "/link/consents", { autofollow: true })).status, 200);
  await eventually(async () => (await s.psql(`SELECT state || ' ' || method || ' ' || (hold_until > now()) FROM follow_actions WHERE id = ${pair}`)) === "held api true", {
    what: "the pair held by the matcher",
  });
  await sleep(400);
  assert.equal(searchesFor("f15").length, 0, "nothing during the hold");
  await s.psql(`UPDATE follow_actions SET hold_until = now(), next_attempt_at = now() WHERE id = ${pair}`);
  await until(pair, "done");
  assert.equal(searchesFor("f15").length, 1);
});

test("at execution: a blocked home is undone, a followee who is no longer findable waits, leaving removes everything", async () => {
  const blocked = await linkedMember(s, { actor: "https://blocked.example/users/x", acct: "x@blocked.example", host: "blocked.example" });
  const b = await plannedPair(s, people.gina, blocked);
  assert.match(await until(b, "undone"), /^undone\|1\|a home server is blocked by relay_block\|/);

  const hidden = await linkedMember(s, { actor: far.actor("f2").id + "/hidden", acct: "hidden@x", host: far.domain, findable: false });
  const hp = await plannedPair(s, people.gina, hidden);
  await sleep(400);
  assert.match(await row(hp), /^planned\|0\|/, "the both-sides rule is checked when the follow is made");

  // hugo joins for real (so that he can leave), is linked, connects, has a follow pending.
  const m = await member(s, h, "hugo");
  const id = await s.psql(`UPDATE members SET x_id = 1990000000000000001, state = 'linked', linked_at = now(), autofollow = true WHERE actor_uri = ${sq(h.actor("hugo").id)} RETURNING id`);
  h.mastodon.control({ loggedIn: "hugo" });
  assert.equal((await connect(s, m)).result, "granted");
  const pair = await plannedPair(s, { id, xId: "1990000000000000001" }, followees.f0, { due: "now() + interval '1 hour'" });
  await leave(s, h, "hugo", m.follow);
  await eventually(async () => (await s.psql(`SELECT count(*) FROM members WHERE id = ${id}`)) === "0", { what: "hugo gone" });
  assert.equal(await s.psql(`SELECT count(*) FROM follow_actions WHERE id = ${pair}`), "0", "nothing pending survives");
  assert.equal(await s.psql(`SELECT count(*) FROM oauth_grants WHERE member_id = ${id}`), "0");
  assert.equal(followsOf("hugo").length, 0);
});

test("the 5-minute request budget (follow_api_limit)", async () => {
  const s2 = await startServer({ config: { ...MEMBER_CONFIG, follow_poll_ms: "50", follow_api_limit: "4" } });
  try {
    // Stay clear of a window's end, so that the whole test sits in one window.
    const left = 300000 - (Date.now() % 300000);
    if (left < 8000) await sleep(left + 200);
    const f = [];
    for (const name of ["f3", "f4", "f5", "f6"]) f.push(await linkedMember(s2, { actor: far.actor(name).id, acct: `${name}@${far.domain}`, host: far.domain }));
    const alice2 = await follower("alice", s2);
    for (const x of f) await plannedPair(s2, alice2, x);
    await eventually(async () => (await s2.psql(`SELECT count(*) FROM follow_actions WHERE follower_id = ${alice2.id} AND state = 'done'`)) === "2", { what: "two follows (four requests)" });
    await eventually(() => s2.events("follow_deferred").length > 0, { what: "the deferral" });
    await sleep(300);
    const rows = (await s2.psql(
      `SELECT state, extract(epoch FROM next_attempt_at)::bigint % 300, extract(epoch FROM next_attempt_at - now()) FROM follow_actions WHERE follower_id = ${alice2.id} ORDER BY id`,
    )).split("\n").map((l) => l.split("|"));
    assert.deepEqual(rows.map((r) => r[0]), ["done", "done", "planned", "planned"]);
    for (const r of rows.slice(2)) {
      assert.equal(r[1], "0", "moved to the start of the next 5-minute window");
      assert.ok(Number(r[2]) > 0 && Number(r[2]) <= 300);
    }
    assert.equal(await s2.psql(`SELECT api_requests FROM oauth_grants WHERE member_id = ${alice2.id}`), "4");
  } finally {
    assert.equal(await s2.stop(), 0);
  }
});
