// The both-sides rule and the block rule as the database states them (follow_actions_allowed
// and host_blocked, migrations 006 and 012), which the matcher, the follow worker and the
// queue all rely on: each condition of the rule flips one pair in or out.
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { psqlSession, closeSessions } from "../lib/dbsnap.mjs";

let s;

setup(async () => {
  s = await startServer();
  // A hundred statements, one after another: through one psql session, not a psql process
  // each (on a loaded machine the processes alone passed the 20 s a test has).
  const sess = psqlSession(s.db);
  s.psql = (sql) => sess.query(sql);
});
teardown(async () => {
  closeSessions();
  if (s) assert.equal(await s.stop(), 0, "the server exits 0");
});

test("host_blocked: the host, its host without the port, every parent name; never look-alikes or an IP's parents", async () => {
  await s.psql(`INSERT INTO instances (domain, blocked) VALUES ('bad.example', true), ('10.0.0.1', true), ('p.example:8443', true);
                INSERT INTO instances (domain, blocked) VALUES ('ok.example', false)`);
  const cases = [
    ["bad.example", true],
    ["BAD.Example", true],
    ["x.bad.example", true],
    ["a.b.c.bad.example:1", true],
    ["bad.example:443", true],
    ["notbad.example", false],
    ["bad.example.org", false],
    ["ok.example", false],
    ["10.0.0.1:80", true],
    ["0.0.1", false],
    ["p.example:8443", true],
    ["p.example", false],
    ["p.example:80", false],
    ["[::1]:8443", false],
  ];
  for (const [h, want] of cases) {
    assert.equal(await s.psql(`SELECT host_blocked('${h}')`), want ? "t" : "f", h);
  }
  // Many blocked instances: still primary-key lookups, so a call stays cheap.
  await s.psql(`INSERT INTO instances (domain, blocked) SELECT 'blocked' || g || '.example', true FROM generate_series(1, 2000) g`);
  const t0 = Date.now();
  assert.equal(await s.psql(`SELECT count(*) FILTER (WHERE host_blocked('h.blocked' || g || '.example')) FROM generate_series(1, 2000) g`), "2000");
  assert.ok(Date.now() - t0 < 5000, `2,000 calls took ${Date.now() - t0} ms`);
});

test("follow_actions_allowed: every condition of the both-sides rule takes the pair out, and only that pair", async () => {
  await s.psql(`DELETE FROM instances`);
  // B (follower) followed A (followee) on X; each case changes one thing on a fresh pair.
  // edge: whose archive says B followed A ("b": B's following list, "a": A's followers list).
  const pair = async (i, { b = {}, a = {}, edge = "b" } = {}) => {
    const bx = 7000 + 2 * i, ax = 7001 + 2 * i;
    const col = (o, k, d) => (o[k] === undefined ? d : o[k]);
    const ins = (who, x, o) =>
      `INSERT INTO members (actor_uri, host, x_id, state, autofollow, findable, paused, delete_requested_at, reports_held_at)
       VALUES ('https://${col(o, "host", "h.example")}/users/${who}${i}', '${col(o, "host", "h.example")}', ${x}, '${col(o, "state", "linked")}',
               ${col(o, "autofollow", true)}, ${col(o, "findable", true)}, ${col(o, "paused", false)}, ${col(o, "del", "NULL")}, ${col(o, "held", "NULL")}) RETURNING id`;
    const bid = await s.psql(ins("b", bx, b));
    const aid = await s.psql(ins("a", ax, a));
    if (edge) await s.psql(`INSERT INTO x_edges VALUES (${bx}, ${ax}, ${edge === "b" ? bid : aid})`);
    return s.psql(`INSERT INTO follow_actions (follower_id, followee_id, method) VALUES (${bid}, ${aid}, 'api') RETURNING id`);
  };
  const cases = [
    ["both linked, B autofollow, A findable", {}, true],
    ["B did not allow autofollow", { b: { autofollow: false } }, false],
    ["A is not findable", { a: { findable: false } }, false],
    ["B is paused", { b: { paused: true } }, false],
    ["B's claim is disputed", { b: { state: "disputed" } }, false],
    ["A's claim is disputed", { a: { state: "disputed" } }, false],
    ["A is suspended", { a: { state: "suspended" } }, false],
    ["no X edge from B to A", { edge: false }, false],
    ["only A's archive says B followed A (A's followers list)", { edge: "a" }, false],
    ["reports hold A", { a: { held: "now()" } }, false],
    ["reports hold B", { b: { held: "now()" } }, false],
    ["B asked to delete a minute ago", { b: { del: "now() - interval '1 minute'" } }, false],
    ["B asked to delete an hour ago and never confirmed", { b: { del: "now() - interval '1 hour'" } }, true],
    ["B's instance is blocked", { b: { host: "b.blocked.example" } }, false],
    ["A's instance is blocked (a parent name)", { a: { host: "x.blocked.example" } }, false],
  ];
  await s.psql(`INSERT INTO instances (domain, blocked) VALUES ('blocked.example', true)`);
  const ids = [];
  for (const [i, [, opts]] of cases.entries()) ids.push(await pair(i, opts));
  const allowed = new Set((await s.psql(`SELECT string_agg(id::text, ',') FROM follow_actions_allowed`)).split(","));
  for (const [i, [name, , want]] of cases.entries()) assert.equal(allowed.has(ids[i]), want, name);
  // A withdrawn consent takes the pair out at once (the rule is checked when acting).
  await s.psql(`UPDATE members SET findable = false WHERE id = (SELECT followee_id FROM follow_actions WHERE id = ${ids[0]})`);
  assert.equal(await s.psql(`SELECT count(*) FROM follow_actions_allowed WHERE id = ${ids[0]}`), "0", "findable withdrawn");
});
