// `passerelle admin` against a real, migrated database (no server running, so nothing is
// delivered): instances list/allow/block/unblock, queue, notice, members list/show/block/
// unblock/delete, usage errors, bad domains, unknown and ambiguous members.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test, setup, teardown } from "../lib/harness.mjs";
import { createServer, runBin, configText } from "../lib/server.mjs";
import { psqlSession, closeSessions } from "../lib/dbsnap.mjs";

const AS = "https://www.w3.org/ns/activitystreams";
const PUBLIC = `${AS}#Public`;

// One migrated database for the file, emptied before each test: every table but
// schema_migrations truncated, sequences restarted, which is what a new database would be.
// A new database per test wrote 7.5 MB and cost up to 2 s under load (CREATE and DROP
// DATABASE were most of the file's time), and the test's SQL goes through one psql session
// rather than a psql process a query.
let base;
let sess;
setup(async () => {
  base = await createServer();
  const m = await base.migrate();
  assert.equal(m.code, 0, `migrate: ${m.stderr}`);
  sess = psqlSession(base.db);
});
teardown(async () => {
  closeSessions();
  if (base) await base.stop();
});

const EMPTY =
  "DO $$ BEGIN EXECUTE (SELECT 'TRUNCATE ' || string_agg(format('%I', tablename), ', ') || ' RESTART IDENTITY CASCADE'" +
  " FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'schema_migrations'); END $$";

// The emptied database and a config file of its own (config over the defaults); the config
// folder is removed after the test.
async function fresh(t, config = {}) {
  await sess.query(EMPTY);
  const s = await createServer({ share: base, config });
  t.defer(() => s.stop());
  s.psql = (sql) => sess.query(sql);
  s.admin = (...args) => runBin(["admin", "-c", s.configFile, ...args]);
  s.json = async (sql) => JSON.parse((await s.psql(`SELECT coalesce(json_agg(x), '[]') FROM (${sql}) x`)) || "[]");
  return s;
}

// "(cols) VALUES (...)" of one row for INSERT; null is NULL, booleans and the rest quoted.
function sqlRow(row) {
  const cols = Object.keys(row);
  const vals = cols.map((c) => {
    const v = row[c];
    if (v === null) return "NULL";
    if (typeof v === "boolean") return v ? "true" : "false";
    return `'${String(v).replace(/'/g, "''")}'`;
  });
  return `(${cols.join(", ")}) VALUES (${vals.join(", ")})`;
}

// One instances row; fields default to a Mastodon-style subscriber of `domain`.
function seed(s, domain, f = {}) {
  const row = {
    domain,
    actor_uri: `https://${domain}/actor`,
    inbox: `https://${domain}/actor/inbox`,
    shared_inbox: `https://${domain}/inbox`,
    relay_state: "accepted",
    follow_id: `https://${domain}/follow-${domain.length}`,
    style: "mastodon",
    blocked: false,
    allowed: false,
    dead: false,
    ...f,
  };
  return s.psql(`INSERT INTO instances ${sqlRow(row)}`);
}

// INSERT of members row id: user@host, joined, with its own inbox unless f says otherwise.
function memberSql(id, user, host, f = {}) {
  const row = {
    id,
    actor_uri: `https://${host}/users/${user}`,
    acct: `${user}@${host}`,
    host: host.toLowerCase(),
    inbox: `https://${host}/users/${user}/inbox`,
    ...f,
  };
  return `INSERT INTO members ${sqlRow(row)};`;
}

// INSERTs of a session and two link codes (one unused, one used) of member id: hashes only.
const secretsSql = (id, tag) =>
  `INSERT INTO sessions (hash, member_id, csrf_hash, expires_at) VALUES (sha256('sess-${tag}'), ${id}, sha256('csrf-${tag}'), now() + interval '1 hour');` +
  ` INSERT INTO link_codes (hash, member_id, expires_at) VALUES (sha256('code-${tag}'), ${id}, now() + interval '1 day');` +
  ` INSERT INTO link_codes (hash, member_id, expires_at, used_at) VALUES (sha256('used-${tag}'), ${id}, now() + interval '1 day', now());`;

const hex = (s) => createHash("sha256").update(s).digest("hex");

// Every table a members command may touch, in one query (one psql each time counts under
// load): { members: [rows by id], x_edges: [...], ..., sent: [deliveries with payloads] }.
const MEMBER_TABLES = {
  members: "id",
  x_claims: "x_id, member_id",
  x_edges: "follower_x_id, followee_x_id",
  consent_ledger: "id",
  sessions: "t::text",
  link_codes: "t::text",
  reports: "id",
  oauth_grants: "member_id",
  follow_actions: "id",
  activities: "id",
};
async function memberTables(s) {
  const parts = Object.entries(MEMBER_TABLES).map(([t, order]) => `'${t}', (SELECT coalesce(json_agg(t ORDER BY ${order}), '[]') FROM ${t} t)`);
  parts.push(`'sent', (SELECT coalesce(json_agg(x), '[]') FROM (${deliveriesSql()}) x)`);
  return JSON.parse(await s.psql(`SELECT json_build_object(${parts.join(", ")})`));
}

// A pending delivery of a dummy activity to inbox (as the queue would have stored it).
function seedDelivery(s, inbox, host) {
  return s.psql(
    `WITH a AS (INSERT INTO activities (signer, payload) VALUES ('relay', '{"type":"Announce"}') RETURNING id)` +
      ` INSERT INTO deliveries (activity_id, inbox, host) SELECT id, '${inbox}', '${host}' FROM a`,
  );
}

// Everything the admin commands may touch, to prove a refused command changed nothing.
async function snapshot(s) {
  return s.psql(
    "SELECT (SELECT coalesce(json_agg(i ORDER BY domain), '[]') FROM instances i)::text ||" +
      " (SELECT coalesce(json_agg(d ORDER BY id), '[]') FROM deliveries d)::text ||" +
      " (SELECT coalesce(json_agg(a ORDER BY id), '[]') FROM activities a)::text",
  );
}

const deliveriesSql = (where = "true") =>
  `SELECT d.inbox, d.host, d.state, a.despite_block, a.signer, a.payload::json AS payload` +
  ` FROM deliveries d JOIN activities a ON a.id = d.activity_id WHERE ${where} ORDER BY d.id`;

test("admin --help at every level exits 0 and touches no database", async () => {
  const env = { DATABASE_URL: "host=/nonexistent-dir port=1 dbname=x" };
  const top = await runBin(["admin", "--help"], { env });
  assert.equal(top.code, 0, top.stderr);
  for (const w of ["instances list", "instances allow", "instances block", "instances unblock", "queue", "notice", "members list", "members show WHO", "members block WHO", "members unblock WHO", "members delete WHO --yes", "-c"]) {
    assert.ok(top.stdout.includes(w), `admin --help lacks ${w}: ${top.stdout}`);
  }
  const inst = await runBin(["admin", "instances", "--help"], { env });
  assert.equal(inst.code, 0, inst.stderr);
  assert.match(inst.stdout, /instances block DOMAIN/);
  assert.ok(!inst.stdout.includes("notice"), "instances --help lists only instances commands");
  const mem = await runBin(["admin", "members", "--help"], { env });
  assert.equal(mem.code, 0, mem.stderr);
  assert.match(mem.stdout, /usage: passerelle admin \[-c FILE\] members <command>/);
  for (const w of ["list", "show", "block", "unblock", "delete"]) assert.match(mem.stdout, new RegExp(`members ${w}\\b`));
  assert.ok(!mem.stdout.includes("instances"), "members --help lists only members commands");
  const legend = await runBin(["admin", "members", "list", "--help"], { env });
  assert.match(legend.stdout, /F findable, A autofollow, N notify, R relay/, "list --help explains the consent letters");
  assert.match(legend.stdout, /BRIDGE_FOLLOW is the bridge account.s follow of the member/, "and the bridge follow states");
  for (const cmd of [["instances", "list"], ["instances", "allow"], ["instances", "block"], ["instances", "unblock"], ["queue"], ["notice"], ["members", "list"], ["members", "show"], ["members", "block"], ["members", "unblock"], ["members", "delete"]]) {
    const r = await runBin(["admin", ...cmd, "--help"], { env });
    assert.equal(r.code, 0, `${cmd.join(" ")} --help: ${r.stderr}`);
    assert.ok(r.stdout.includes(`usage: passerelle admin [-c FILE] ${cmd.join(" ")}`), `${cmd.join(" ")} --help: ${r.stdout}`);
  }
  // --help never acts, even with a complete command before it.
  const acting = await runBin(["admin", "instances", "block", "x.example", "--help"], { env });
  assert.equal(acting.code, 0, acting.stderr);
  assert.match(acting.stdout, /Blocks DOMAIN/);
  const dry = await runBin(["admin", "members", "delete", "1", "--yes", "--help"], { env });
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /Without --yes/);
  const main = await runBin(["--help"]);
  assert.match(main.stdout, /\badmin\b/, "passerelle --help lists admin");
});

test("usage errors exit 2, say why on stderr and change nothing", async (t) => {
  const s = await fresh(t);
  await seed(s, "pending.example", { relay_state: "pending" });
  await seedDelivery(s, "https://pending.example/inbox", "pending.example");
  const before = await snapshot(s);
  const cases = [
    [[], /usage/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [["instances"], /usage/],
    [["instances", "frob"], /unknown command "instances frob"/],
    [["instances", "allow"], /DOMAIN is required/],
    [["instances", "block", "a.example", "b.example"], /one DOMAIN only/],
    [["instances", "unblock", "--force"], /unknown option "--force"/],
    [["instances", "list", "--every"], /unexpected argument "--every"/],
    [["queue", "now"], /unexpected argument "now"/],
    [["notice"], /empty/],
    [["notice", "  ", ""], /empty/],
    [["notice", "x".repeat(5001)], /5001 characters; the limit is 5000/],
    [["members"], /usage: passerelle admin \[-c FILE\] members/],
    [["members", "frob"], /unknown command "members frob"/],
    [["members", "show"], /WHO is required/],
    [["members", "block", "1", "2"], /one WHO only/],
    [["members", "delete", "1", "2", "--yes"], /one WHO only/],
    [["members", "unblock", "--force"], /unknown option "--force"/],
    [["members", "show", "nobody"], /not a member id, acct:user@host, user@host or an actor URL/],
    [["members", "show", "a@b@c"], /not a member id/],
    [["members", "show", "acct:@x.example"], /not a member id/],
    [["members", "list", "--state", "gone"], /unknown state "gone"/],
    [["members", "list", "--state"], /--state needs a STATE/],
    [["members", "list", "extra"], /unexpected argument "extra"/],
  ];
  // Independent refusals: run at once, checked in order.
  const results = await Promise.all(cases.map(([args]) => s.admin(...args)));
  for (const [i, [args, re]] of cases.entries()) {
    const r = results[i];
    assert.equal(r.code, 2, `admin ${args.join(" ").slice(0, 60)}: exit ${r.code} ${r.stderr}`);
    assert.match(r.stderr, re, `admin ${args.join(" ").slice(0, 60)}: ${r.stderr}`);
    assert.equal(r.stdout.includes("queued"), false);
    if (args[0] === "members" && args.length > 1) assert.equal(r.stdout, "", `admin ${args.join(" ")} printed on stdout`);
  }
  const noFile = await runBin(["admin", "instances", "list", "-c"]);
  assert.equal(noFile.code, 2, noFile.stderr);
  assert.equal(await snapshot(s), before, "a refused command changed the database");
  // Exactly 5000 characters (multi-byte ones count once) is accepted.
  const ok = await s.admin("notice", "é".repeat(5000));
  assert.equal(ok.code, 0, ok.stderr);
});

test("a malformed DOMAIN exits 2 with a clear message and changes nothing", async (t) => {
  const s = await fresh(t);
  await seed(s, "known.example");
  const before = await snapshot(s);
  const cases = ["allow", "block", "unblock"].flatMap((sub) =>
    ["https://known.example", "known.example/inbox", "user@known.example", "known.example:99999", "", "-known.example", "kno wn.example", "known..example"].map((bad) => [sub, bad]),
  );
  const results = await Promise.all(cases.map(([sub, bad]) => s.admin("instances", sub, bad)));
  for (const [i, [sub, bad]] of cases.entries()) {
    const r = results[i];
    assert.equal(r.code, 2, `${sub} "${bad}": exit ${r.code} ${r.stderr}`);
    if (bad !== "" && !bad.startsWith("-")) assert.match(r.stderr, /bad domain/, `${sub} "${bad}": ${r.stderr}`);
  }
  const scheme = await s.admin("instances", "block", "https://known.example");
  assert.match(scheme.stderr, /scheme/, "a URL is told to leave out the scheme");
  assert.equal(await snapshot(s), before);
});

test("instances list: header, aligned columns, default filter and --all", async (t) => {
  const s = await fresh(t);
  await seed(s, "sub.example", { last_success_at: "2026-11-20T10:00:00Z", consecutive_failures: 0 });
  await seed(s, "pending-pleroma.example", { relay_state: "pending", style: "litepub", shared_inbox: null });
  await seed(s, "blocked.example", { relay_state: "rejected", blocked: true });
  await seed(s, "allowed.example", { relay_state: "none", actor_uri: null, follow_id: null, style: null, allowed: true });
  await seed(s, "target.example", { relay_state: "none", actor_uri: null, follow_id: null, style: null, dead: true });
  await s.psql("UPDATE instances SET consecutive_failures = 7 WHERE domain = 'target.example'");

  const r = await s.admin("instances", "list");
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n");
  const head = lines[0].split(/\s+/);
  assert.deepEqual(head, ["DOMAIN", "RELAY_STATE", "STYLE", "BLOCKED", "ALLOWED", "DEAD", "FAILURES", "LAST_SUCCESS"]);
  const rows = Object.fromEntries(lines.slice(1).map((l) => [l.split(/\s+/)[0], l.split(/\s+/)]));
  assert.deepEqual(Object.keys(rows).sort(), ["allowed.example", "blocked.example", "pending-pleroma.example", "sub.example"]);
  assert.deepEqual(rows["sub.example"], ["sub.example", "accepted", "mastodon", "no", "no", "no", "0", "2026-11-20T10:00:00Z"]);
  assert.deepEqual(rows["pending-pleroma.example"], ["pending-pleroma.example", "pending", "litepub", "no", "no", "no", "0", "-"]);
  assert.deepEqual(rows["blocked.example"].slice(1, 5), ["rejected", "mastodon", "yes", "no"]);
  assert.deepEqual(rows["allowed.example"].slice(1, 5), ["none", "-", "no", "yes"]);
  // Aligned: every column starts at the same offset on every line.
  const starts = (l) => [...l.matchAll(/(?:^|\s{2,})(\S+)/g)].map((m) => m.index + m[0].length - m[1].length);
  for (const l of lines) assert.deepEqual(starts(l), starts(lines[0]), `misaligned line: ${l}`);

  const all = await s.admin("instances", "list", "--all");
  assert.equal(all.code, 0, all.stderr);
  const target = all.stdout.split("\n").find((l) => l.startsWith("target.example"));
  assert.ok(target, `--all lists unsubscribed instances: ${all.stdout}`);
  assert.deepEqual(target.split(/\s+/).slice(1), ["none", "-", "no", "no", "yes", "7", "-"]);
  assert.equal(all.stdout.trimEnd().split("\n").length, 6, "header and five instances");
});

test("instances allow accepts a pending Mastodon subscriber: one Accept embedding its Follow", async (t) => {
  const s = await fresh(t, { relay_mode: "allowlist", base_url: "https://relay.test" });
  await seed(s, "masto.example", { relay_state: "pending", follow_id: "https://masto.example/1c9a-uuid" });
  const r = await s.admin("instances", "allow", "Masto.Example");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /masto\.example allowed/);
  assert.match(r.stdout, /Accept queued/);

  const d = await s.json(deliveriesSql());
  assert.equal(d.length, 1, `one delivery: ${JSON.stringify(d)}`);
  assert.equal(d[0].state, "pending");
  assert.equal(d[0].inbox, "https://masto.example/inbox", "to the shared inbox");
  assert.equal(d[0].signer, "relay");
  assert.equal(d[0].despite_block, false);
  const a = d[0].payload;
  assert.equal(a["@context"], AS);
  assert.equal(a.type, "Accept");
  assert.equal(a.actor, "https://relay.test/actor");
  assert.deepEqual(a.to, ["https://masto.example/actor"]);
  assert.match(a.id, /^https:\/\/relay\.test\/activities\/[0-9a-f]{32}$/);
  assert.deepEqual(a.object, { id: "https://masto.example/1c9a-uuid", type: "Follow", actor: "https://masto.example/actor", object: PUBLIC });

  const [i] = await s.json("SELECT relay_state, allowed, blocked, subscribed_at IS NOT NULL AS since, our_follow_state FROM instances WHERE domain = 'masto.example'");
  assert.deepEqual(i, { relay_state: "accepted", allowed: true, blocked: false, since: true, our_follow_state: "none" });

  // Allowing again queues nothing more: the subscription is no longer pending.
  const again = await s.admin("instances", "allow", "masto.example");
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /Accept queued/);
  assert.equal((await s.json(deliveriesSql())).length, 1);
});

test("instances allow of a pending LitePub relay: Accept of the relay Follow, and a Follow back", async (t) => {
  const s = await fresh(t, { relay_mode: "allowlist", base_url: "https://relay.test" });
  await seed(s, "pl.example", { relay_state: "pending", style: "litepub", actor_uri: "https://pl.example/relay", inbox: "https://pl.example/relay/inbox", shared_inbox: null, follow_id: "https://pl.example/activities/f1" });
  const r = await s.admin("instances", "allow", "pl.example");
  assert.equal(r.code, 0, r.stderr);
  const d = await s.json(deliveriesSql());
  assert.equal(d.length, 2, JSON.stringify(d));
  for (const x of d) assert.equal(x.inbox, "https://pl.example/relay/inbox", "the inbox when no shared inbox");
  const accept = d.find((x) => x.payload.type === "Accept").payload;
  const follow = d.find((x) => x.payload.type === "Follow").payload;
  assert.deepEqual(accept.object, { id: "https://pl.example/activities/f1", type: "Follow", actor: "https://pl.example/relay", object: "https://relay.test/actor" });
  assert.equal(follow.actor, "https://relay.test/actor");
  assert.equal(follow.object, "https://pl.example/relay");
  assert.notEqual(follow.id, accept.id);
  const [i] = await s.json("SELECT relay_state, our_follow_id, our_follow_state FROM instances WHERE domain = 'pl.example'");
  assert.deepEqual(i, { relay_state: "accepted", our_follow_id: follow.id, our_follow_state: "pending" });
});

test("instances allow of an unknown or blocked domain marks it allowed and queues nothing", async (t) => {
  const s = await fresh(t);
  await seed(s, "was-blocked.example", { relay_state: "rejected", blocked: true });
  for (const dom of ["new.example", "was-blocked.example"]) {
    const r = await s.admin("instances", "allow", dom);
    assert.equal(r.code, 0, r.stderr);
  }
  const rows = await s.json("SELECT domain, relay_state, allowed, blocked FROM instances ORDER BY domain");
  assert.deepEqual(rows, [
    { domain: "new.example", relay_state: "none", allowed: true, blocked: false },
    { domain: "was-blocked.example", relay_state: "rejected", allowed: true, blocked: false },
  ]);
  assert.equal((await s.json(deliveriesSql())).length, 0);
});

test("instances allow of a pending subscriber with no inbox known keeps it pending and says so", async (t) => {
  const s = await fresh(t, { relay_mode: "allowlist" });
  await seed(s, "noinbox.example", { relay_state: "pending", inbox: null, shared_inbox: null });
  const r = await s.admin("instances", "allow", "noinbox.example");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /stays pending/);
  assert.doesNotMatch(r.stdout, /accepted/);
  const [i] = await s.json("SELECT relay_state, allowed FROM instances WHERE domain = 'noinbox.example'");
  assert.deepEqual(i, { relay_state: "pending", allowed: true });
  assert.equal(await s.psql("SELECT count(*) FROM activities"), "0");
});

test("instances allow refuses a domain relay_block still blocks (exit 1, nothing changed)", async (t) => {
  const s = await fresh(t, { relay_block: "example.net" });
  await seed(s, "sub.example.net", { relay_state: "pending" });
  const before = await snapshot(s);
  const r = await s.admin("instances", "allow", "sub.example.net");
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /relay_block/);
  assert.equal(await snapshot(s), before);
});

test("instances block: a Reject despite the block, the host's other pending rows dropped", async (t) => {
  const s = await fresh(t, { base_url: "https://relay.test" });
  await seed(s, "masto.example", { follow_id: "https://masto.example/f-77", allowed: true });
  await seed(s, "other.example");
  await seedDelivery(s, "https://masto.example/inbox", "masto.example");
  await seedDelivery(s, "https://masto.example/users/a/inbox", "masto.example");
  await seedDelivery(s, "https://other.example/inbox", "other.example");
  // A block covers subdomains and every port (host_blocked), as relay_block does.
  await seedDelivery(s, "https://sub.masto.example/inbox", "sub.masto.example");
  await seedDelivery(s, "https://masto.example:8443/inbox", "masto.example:8443");
  await seedDelivery(s, "https://notmasto.example/inbox", "notmasto.example");
  const r = await s.admin("instances", "block", "masto.example");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /4 pending deliveries dropped/);
  const near = await s.json(deliveriesSql("d.host <> 'masto.example' AND d.host <> 'other.example'"));
  assert.deepEqual(
    near.map((x) => [x.host, x.state]).sort(),
    [["masto.example:8443", "dropped"], ["notmasto.example", "pending"], ["sub.masto.example", "dropped"]],
  );
  assert.match(r.stdout, /Reject queued/);

  const mine = await s.json(deliveriesSql("d.host = 'masto.example'"));
  assert.deepEqual(mine.map((x) => x.state), ["dropped", "dropped", "pending"]);
  const rej = mine[2];
  assert.equal(rej.despite_block, true);
  assert.equal(rej.inbox, "https://masto.example/inbox");
  assert.equal(rej.payload.type, "Reject");
  assert.equal(rej.payload.actor, "https://relay.test/actor");
  assert.deepEqual(rej.payload.to, ["https://masto.example/actor"]);
  assert.deepEqual(rej.payload.object, { id: "https://masto.example/f-77", type: "Follow", actor: "https://masto.example/actor", object: PUBLIC });
  const other = await s.json(deliveriesSql("d.host = 'other.example'"));
  assert.deepEqual(other.map((x) => x.state), ["pending"], "another host's rows are untouched");
  const [i] = await s.json("SELECT relay_state, blocked, allowed FROM instances WHERE domain = 'masto.example'");
  assert.deepEqual(i, { relay_state: "rejected", blocked: true, allowed: false });

  // Blocking again: no second Reject (no subscription left), nothing more dropped.
  const again = await s.admin("instances", "block", "masto.example");
  assert.equal(again.code, 0, again.stderr);
  assert.equal((await s.json(deliveriesSql("a.payload::json->>'type' = 'Reject'"))).length, 1);
});

test("instances block of a pending subscriber rejects it; of an unknown domain, blocks ahead", async (t) => {
  const s = await fresh(t);
  await seed(s, "waiting.example", { relay_state: "pending", style: "litepub", actor_uri: "https://waiting.example/relay", shared_inbox: null });
  const r = await s.admin("instances", "block", "waiting.example");
  assert.equal(r.code, 0, r.stderr);
  const d = await s.json(deliveriesSql());
  assert.equal(d.length, 1);
  assert.equal(d[0].payload.type, "Reject");
  assert.equal(d[0].payload.object.object, `${s.url}/actor`, "LitePub: the embedded Follow's object is the relay");
  assert.equal(d[0].inbox, "https://waiting.example/actor/inbox");

  const u = await s.admin("instances", "block", "Later.Example:8443");
  assert.equal(u.code, 0, u.stderr);
  const rows = await s.json("SELECT domain, relay_state, blocked FROM instances ORDER BY domain");
  assert.deepEqual(rows, [
    { domain: "later.example:8443", relay_state: "none", blocked: true },
    { domain: "waiting.example", relay_state: "rejected", blocked: true },
  ]);
  assert.equal((await s.json(deliveriesSql())).length, 1, "no Reject for a domain that never subscribed");
});

test("instances unblock lifts the block and leaves the subscription state", async (t) => {
  const s = await fresh(t);
  await seed(s, "b.example", { relay_state: "rejected", blocked: true });
  const r = await s.admin("instances", "unblock", "b.example");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /unblocked/);
  const [i] = await s.json("SELECT relay_state, blocked, allowed FROM instances WHERE domain = 'b.example'");
  assert.deepEqual(i, { relay_state: "rejected", blocked: false, allowed: false });
  const again = await s.admin("instances", "unblock", "b.example");
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /not blocked/);
  const unknown = await s.admin("instances", "unblock", "nobody.example");
  assert.equal(unknown.code, 0, unknown.stderr);
  assert.equal(await s.psql("SELECT count(*) FROM instances WHERE domain = 'nobody.example'"), "0", "unblock inserts nothing");
  assert.equal((await s.json(deliveriesSql())).length, 0);
});

test("notice: one Create{Note} queued once per subscriber inbox (shared inboxes merged)", async (t) => {
  const s = await fresh(t, { base_url: "https://relay.test", relay_block: "configblocked.example" });
  await seed(s, "a.example");
  await seed(s, "b.example", { shared_inbox: null });
  await seed(s, "c.example", { shared_inbox: "https://hub.example/inbox" });
  await seed(s, "d.example", { shared_inbox: "https://hub.example/inbox" });
  await seed(s, "pending.example", { relay_state: "pending" });
  await seed(s, "blocked.example", { blocked: true });
  await seed(s, "dead.example", { dead: true });
  await seed(s, "gone.example", { relay_state: "unsubscribed" });
  await seed(s, "configblocked.example");
  const r = await s.admin("notice", "Maintenance", "at", "20:00", "<UTC>", "&", "back", "'soon'");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^notice queued for 3 inboxes$/m);

  const d = await s.json(deliveriesSql());
  assert.deepEqual(d.map((x) => x.inbox).sort(), ["https://a.example/inbox", "https://b.example/actor/inbox", "https://hub.example/inbox"]);
  assert.equal(new Set(d.map((x) => x.payload.id)).size, 1, "one activity for every row");
  assert.equal(await s.psql("SELECT count(*) FROM activities"), "1", "the payload is stored once");
  const c = d[0].payload;
  assert.equal(c.type, "Create");
  assert.equal(c.actor, "https://relay.test/actor");
  assert.deepEqual(c.to, [PUBLIC]);
  assert.deepEqual(c.cc, ["https://relay.test/actor/followers"]);
  assert.equal(c.object.type, "Note");
  assert.equal(c.object.attributedTo, "https://relay.test/actor");
  assert.equal(c.object.content, "<p>Maintenance at 20:00 &lt;UTC&gt; &amp; back &#39;soon&#39;</p>");
  assert.match(c.object.id, /^https:\/\/relay\.test\//);
  assert.match(c.published, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  for (const x of d) assert.equal(x.despite_block, false);
});

test("notice with no subscribers queues nothing and says so", async (t) => {
  const s = await fresh(t);
  const r = await s.admin("notice", "hello");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /notice queued for 0 inboxes/);
  assert.equal(await s.psql("SELECT count(*) FROM activities"), "0", "no payload without rows");
});

test("queue shows depth by host and state", async (t) => {
  const s = await fresh(t);
  await seedDelivery(s, "https://q.example/inbox", "q.example");
  await seedDelivery(s, "https://q.example/inbox2", "q.example");
  const r = await s.admin("queue");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /deliveries by host and state/);
  assert.match(r.stdout, /q\.example"? pending 2\b/);
  assert.match(r.stdout, /dead hosts/);
});

test("database and configuration errors exit 1, name the problem, never show the password", async (t) => {
  const s = await fresh(t);
  const conf = path.join(s.dir, "down.conf");
  writeFileSync(conf, configText({ database_url: "postgresql://admin:s3cretpw@127.0.0.1:1/nodb?connect_timeout=2", key_file: path.join(s.dir, "k.pem") }));
  for (const args of [["instances", "list"], ["instances", "block", "x.example"], ["queue"], ["notice", "hi"], ["members", "list"], ["members", "delete", "1", "--yes"]]) {
    const r = await runBin(["admin", "-c", conf, ...args]);
    assert.equal(r.code, 1, `${args.join(" ")}: exit ${r.code} ${r.stderr}`);
    assert.match(r.stderr, /connect/i, `${args.join(" ")}: ${r.stderr}`);
    assert.ok(!r.stderr.includes("s3cretpw") && !r.stdout.includes("s3cretpw"), `password shown: ${r.stderr}`);
  }
  const badKey = path.join(s.dir, "bad.conf");
  writeFileSync(badKey, configText({ database_url: s.db, relay_mode: "closed" }));
  const r = await runBin(["admin", "-c", badKey, "instances", "list"]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /relay_mode/);
});


// --- members -----------------------------------------------------------------------------

const lines = (out) => out.trimEnd().split("\n");
// Column starts of a table line: runs of two or more spaces separate the columns.
const starts = (l) => [...l.matchAll(/(?:^|\s{2,})(\S+)/g)].map((m) => m.index + m[0].length - m[1].length);
// The "label: value" lines of members show.
const fields = (out) => Object.fromEntries(lines(out).filter((l) => /^[a-z_]+:\s/.test(l)).map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1).trim()]));

test("members list: header, aligned columns, consents as letters, the bridge's follow, --state, escaped network text", async (t) => {
  const s = await fresh(t);
  await s.psql(
    memberSql(11, "alice", "a.example", { x_id: "100", x_handle: "alice_x", state: "linked", linked_at: "2026-03-02T08:00:00Z", autofollow: true, relay: true, created_at: "2026-03-01T12:00:00Z", bridge_follow_id: "https://bridge.example/f/1", bridge_follow_state: "accepted" }) +
      memberSql(12, "bob", "b.example", { paused: true, findable: false, notify: false, created_at: "2026-03-04T23:30:00Z", bridge_follow_id: "https://bridge.example/f/2", bridge_follow_state: "rejected" }) +
      memberSql(13, "carol", "c.example", { acct: null, state: "suspended", bridge_follow_id: "https://bridge.example/f/3", bridge_follow_state: "pending" }) +
      memberSql(14, "dora", "d.example", { acct: "do ra\u001b[31m@d.example" }),
  );
  const r = await s.admin("members", "list");
  assert.equal(r.code, 0, r.stderr);
  const ls = lines(r.stdout);
  assert.deepEqual(ls[0].split(/\s+/), ["ID", "ACCT", "STATE", "X_HANDLE", "PAUSED", "CONSENTS", "BRIDGE_FOLLOW", "JOINED"]);
  assert.equal(ls.length, 5, r.stdout);
  for (const l of ls) assert.deepEqual(starts(l), starts(ls[0]), `misaligned line: ${l}`);
  const row = (id) => ls.find((l) => l.startsWith(`${id} `)).split(/\s{2,}/);
  assert.deepEqual(row(11), ["11", "alice@a.example", "linked", "alice_x", "no", "FANR", "accepted", "2026-03-01"]);
  assert.deepEqual(row(12), ["12", "bob@b.example", "joined", "-", "yes", "----", "rejected", "2026-03-04"]);
  assert.deepEqual(row(13).slice(1, 7), ["https://c.example/users/carol", "suspended", "-", "no", "F-N-", "pending"], "the actor URL when no acct is known");
  assert.equal(row(14)[6], "none", "not followed (yet)");
  // Text from the network can neither forge columns nor reach the terminal raw.
  assert.ok(!r.stdout.includes("\u001b"), "escape character printed raw");
  assert.equal(row(14)[1], '"do ra\\x1b[31m@d.example"');

  const ids = async (...args) => {
    const x = await s.admin("members", "list", ...args);
    assert.equal(x.code, 0, x.stderr);
    return lines(x.stdout).slice(1).map((l) => l.split(/\s+/)[0]);
  };
  assert.deepEqual(await ids("--state", "suspended"), ["13"]);
  assert.deepEqual(await ids("--state=linked"), ["11"]);
  assert.deepEqual(await ids("--state", "disputed"), [], "only the header when no member matches");
});

test("members show: every field, competing claims, reports, ledger newest last, no secrets", async (t) => {
  const s = await fresh(t);
  await s.psql(
    memberSql(11, "alice", "a.example", { x_id: "100", x_handle: "alice_x", state: "disputed", linked_at: "2026-03-02T08:00:00Z", autofollow: true, lang: "fr", created_at: "2026-03-01T12:00:00Z", bridge_follow_id: "https://bridge.example/f/1", bridge_follow_state: "pending" }) +
      memberSql(12, "bob", "b.example", { state: "disputed" }) +
      memberSql(13, "carol", "c.example", { x_id: "300", state: "linked" }) +
      " INSERT INTO x_claims (x_id, member_id) VALUES (100, 11), (100, 12), (300, 13);" +
      " INSERT INTO x_edges VALUES (100, 300, 11), (100, 6, 11), (100, 7, 11), (5, 100, 11), (300, 9, 13);" +
      " INSERT INTO consent_ledger (member_id, consent, value, source, client_addr, created_at) VALUES" +
      "  (11, 'notify', false, 'message', NULL, '2026-03-02T10:00:02Z')," +
      "  (11, 'findable', true, 'default', NULL, '2026-03-02T10:00:00Z')," +
      "  (11, 'autofollow', true, 'page', '192.0.2.7', '2026-03-02T10:00:01Z');" +
      " INSERT INTO reports (member_id, target, created_at) VALUES (11, 'mallory@m.example', '2026-03-03T09:00:00Z');" +
      " INSERT INTO reports (member_id, target) VALUES (13, 'Alice@A.example');" +
      " INSERT INTO follow_actions (follower_id, followee_id, method) VALUES (11, 13, 'notice');" +
      secretsSql(11, "a") +
      // An expired session is not an open one.
      " INSERT INTO sessions (hash, member_id, csrf_hash, created_at, expires_at) VALUES (sha256('old'), 11, sha256('oldc'), now() - interval '2 days', now() - interval '1 day')",
  );
  const r = await s.admin("members", "show", "11");
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(fields(r.stdout), {
    id: "11",
    actor: "https://a.example/users/alice",
    acct: "alice@a.example",
    inbox: "https://a.example/users/alice/inbox",
    state: "disputed",
    x_id: "100",
    x_handle: "alice_x",
    linked_at: "2026-03-02T08:00:00Z",
    joined_at: "2026-03-01T12:00:00Z",
    language: "fr",
    paused: "no",
    consents: "findable yes, autofollow yes, notify yes, relay no",
    relay_follow: "none",
    bridge_follow: "pending",
    delete_asked: "-",
    sessions: "1 open",
    link_codes: "1 unused",
    oauth_grant: "no",
    follow_actions: "1 in its name, 0 toward it",
    reports_about: "1 naming its acct",
    x_edges: "1 followers, 3 following",
    claims: "100",
    // Claims (issue 12): X's word, a hold by reports, challenges refused against it.
    x_verified: "no",
    held_by_reports: "no, 1 open reports from 1 members",
    refused_challenges: "0",
    competing: "1 other member",
    reports_filed: "1",
    consent_ledger: "3 lines, newest last",
  });
  const ls = lines(r.stdout);
  const at = (re) => ls.findIndex((l) => re.test(l));
  const table = (from, n) => ls.slice(from, from + n).map((l) => l.trim().split(/\s+/));
  assert.deepEqual(table(at(/^competing:/) + 1, 2), [
    ["ID", "ACCT", "STATE", "X_ID", "OTHER_RIVALS"],
    ["12", "bob@b.example", "disputed", "100", "0"],
  ]);
  assert.deepEqual(table(at(/^reports_filed:/) + 1, 2), [
    ["FILED", "TARGET"],
    ["2026-03-03T09:00:00Z", "mallory@m.example"],
  ]);
  assert.deepEqual(table(at(/^consent_ledger:/) + 1, 9), [
    ["TIME", "CONSENT", "VALUE", "SOURCE", "CLIENT"],
    ["2026-03-02T10:00:00Z", "findable", "yes", "default", "-"],
    ["2026-03-02T10:00:01Z", "autofollow", "yes", "page", "192.0.2.7"],
    ["2026-03-02T10:00:02Z", "notify", "no", "message", "-"],
  ]);
  for (const secret of ["sess-a", "csrf-a", "code-a", "used-a"]) {
    assert.ok(!r.stdout.includes(hex(secret)), `show printed the hash of ${secret}`);
  }
  assert.doesNotMatch(r.stdout, /\\x[0-9a-f]{16}/, "no bytea printed");

  // The second claimant: no X id bound, its claim names alice as the rival.
  const rb = await s.admin("members", "show", "bob@b.example");
  assert.equal(rb.code, 0, rb.stderr);
  const fb = fields(rb.stdout);
  assert.deepEqual([fb.x_id, fb.claims, fb.x_edges, fb.consent_ledger], ["-", "100", "0 followers, 0 following", "0 lines, newest last"]);
  assert.match(rb.stdout, /^\s+11\s+alice@a\.example\s+disputed\s+100\s+0$/m);
  const rc = await s.admin("members", "show", "13");
  assert.equal(fields(rc.stdout).competing, "0 other members");
});

test("members WHO: id, acct:, user@host, @user@host, actor URL, any case; unknown exits 2; ambiguity refused", async (t) => {
  const s = await fresh(t);
  await s.psql(
    memberSql(11, "other", "a.example") +
      memberSql(12, "Alice", "A.example", { actor_uri: "https://a.example/@Alice" }) +
      memberSql(21, "dup", "h.example") +
      memberSql(22, "Dup", "H.example", { actor_uri: "https://h.example/@dup" }) +
      secretsSql(21, "x"),
  );
  for (const who of ["12", "acct:alice@a.example", "Alice@A.example", "@alice@a.example", "https://a.example/@Alice"]) {
    const r = await s.admin("members", "show", who);
    assert.equal(r.code, 0, `${who}: ${r.stderr}`);
    assert.equal(fields(r.stdout).id, "12", `${who} names member 12`);
  }
  const before = await memberTables(s);
  const refused = [
    [["show", "999"], /no member is 999/],
    [["show", "nobody@h.example"], /no member is nobody@h\.example/],
    [["show", "https://h.example/users/nobody"], /no member is/],
    [["block", "acct:nobody@h.example"], /no member is/],
    [["unblock", "998"], /no member is/],
    [["delete", "997", "--yes"], /no member is/],
  ];
  for (const sub of ["show", "block", "unblock", "delete"]) refused.push([[sub, "dup@h.example", "--yes"].slice(0, sub === "delete" ? 3 : 2), /names several members \(ids 21, 22\); give the id/]);
  for (const [args, re] of refused) {
    const r = await s.admin("members", ...args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit ${r.code} ${r.stderr}`);
    assert.match(r.stderr, re, `${args.join(" ")}: ${r.stderr}`);
    assert.equal(r.stdout, "", `${args.join(" ")} printed on stdout`);
  }
  assert.deepEqual(await memberTables(s), before, "a refused members command changed the database");
  const r = await s.admin("members", "show", "https://h.example/@dup");
  assert.equal(fields(r.stdout).id, "22", "the actor URL tells them apart");
});

test("members block: suspended, sessions and unused codes gone, a direct message from the bridge; unblock", async (t) => {
  const s = await fresh(t, { base_url: "https://relay.test", admin_contact: "admin@relay.test" });
  await s.psql(
    memberSql(11, "alice", "a.example", { x_id: "100", state: "disputed" }) +
      memberSql(12, "fanny", "f.example", { lang: "fr" }) +
      memberSql(13, "other", "o.example") +
      memberSql(14, "bob", "b.example", { state: "disputed" }) +
      memberSql(15, "nobox", "n.example", { inbox: null }) +
      " INSERT INTO x_claims VALUES (100, 11), (100, 14);" +
      secretsSql(11, "a") +
      secretsSql(13, "o"),
  );
  const r = await s.admin("members", "block", "alice@a.example");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^member 11 \(alice@a\.example\) suspended \(was disputed\); deleted: 1 session\(s\), 1 unused link code\(s\)$/m);
  assert.match(r.stdout, /^message queued to its inbox$/m);
  // Blocking again changes nothing and sends nothing.
  const again = await s.admin("members", "block", "11");
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, /already suspended; nothing changed/);
  // In the member's language; and a member with no inbox known is suspended all the same.
  assert.equal((await s.admin("members", "block", "https://f.example/users/fanny")).code, 0);
  const nb = await s.admin("members", "block", "15");
  assert.equal(nb.code, 0, nb.stderr);
  assert.match(nb.stdout, /no message queued/);

  const db = await memberTables(s);
  assert.deepEqual(db.members.map((m) => [m.id, m.state]), [[11, "suspended"], [12, "suspended"], [13, "joined"], [14, "disputed"], [15, "suspended"]]);
  assert.deepEqual(db.sessions.map((x) => x.member_id), [13], "alice's session went, the other member's stays");
  assert.deepEqual(db.link_codes.map((x) => [x.member_id, x.used_at !== null]).sort(), [[11, true], [13, false], [13, true]], "alice's unused code went, her used one is history");
  assert.equal(db.sent.length, 2, JSON.stringify(db.sent));
  const [dm, fr] = db.sent;
  assert.deepEqual([dm.inbox, dm.state, dm.signer, dm.despite_block], ["https://a.example/users/alice/inbox", "pending", "bridge", false]);
  const c = dm.payload;
  assert.equal(c.type, "Create");
  assert.equal(c.actor, "https://relay.test/users/passerelle");
  assert.deepEqual(c.to, ["https://a.example/users/alice"]);
  assert.ok(!JSON.stringify(c).includes(PUBLIC), "a direct message is not public");
  assert.equal(c.object.type, "Note");
  assert.deepEqual(c.object.to, ["https://a.example/users/alice"]);
  assert.deepEqual(c.object.tag, [{ type: "Mention", href: "https://a.example/users/alice", name: "@alice@a.example" }]);
  assert.match(c.object.content, /suspended by its admin/);
  assert.match(c.object.content, /Contact: admin@relay\.test/);
  assert.equal(fr.inbox, "https://f.example/users/fanny/inbox");
  assert.match(fr.payload.object.content, /suspendu par son administrateur/);

  // Unblock: linked when an X id is bound, joined otherwise; it settles no dispute, and says so.
  const u = await s.admin("members", "unblock", "11");
  assert.equal(u.code, 0, u.stderr);
  assert.match(u.stdout, /^member 11 \(alice@a\.example\) unblocked: linked$/m);
  assert.match(u.stdout, /^note: member 14 \(bob@b\.example, disputed\) claims X id 100 too$/m);
  const uf = await s.admin("members", "unblock", "fanny@f.example");
  assert.match(uf.stdout, /unblocked: joined/);
  const not = await s.admin("members", "unblock", "13");
  assert.equal(not.code, 0, not.stderr);
  assert.match(not.stdout, /is not suspended \(joined\); nothing changed/);
  const after = await memberTables(s);
  assert.deepEqual(after.members.map((m) => m.state), ["linked", "joined", "joined", "disputed", "suspended"]);
  assert.equal(after.sent.length, 2, "unblock sends nothing");
});

// Alice (11) is bound to X id 100 with edges, sessions, codes, a grant, follow actions, a
// report and a message waiting; bob (12) claims 100 too, frozen with her; carol (13) has 300.
async function deleteScene(s) {
  await s.psql(
    memberSql(11, "alice", "a.example", { x_id: "100", x_handle: "alice_x", state: "disputed" }) +
      memberSql(12, "bob", "b.example", { state: "disputed" }) +
      memberSql(13, "carol", "c.example", { x_id: "300", state: "linked" }) +
      " INSERT INTO x_claims (x_id, member_id) VALUES (100, 11), (100, 12), (300, 13);" +
      " INSERT INTO x_edges VALUES (100, 300, 11), (5, 100, 11), (100, 6, 11), (300, 9, 13), (7, 8, 13);" +
      " INSERT INTO consent_ledger (member_id, consent, value, source) VALUES (11, 'findable', true, 'default'), (11, 'notify', true, 'default'), (13, 'findable', true, 'default');" +
      " INSERT INTO reports (member_id, target) VALUES (11, 'bob@b.example');" +
      " INSERT INTO follow_actions (follower_id, followee_id, method) VALUES (11, 13, 'notice'), (13, 11, 'api');" +
      " INSERT INTO oauth_apps (host, client_id, client_secret, client_secret_nonce, redirect_uri, scopes)" +
      "  VALUES ('a.example', 'cid', '\\x00', '\\x000000000000000000000000', 'https://a.example/cb', 'follow');" +
      " INSERT INTO oauth_grants (member_id, host, ciphertext, nonce, scopes) VALUES (11, 'a.example', '\\x01', '\\x000000000000000000000000', 'follow');" +
      secretsSql(11, "a") +
      secretsSql(13, "c") +
      // A message from the bridge to alice still waiting, and a relay activity to her server.
      ` WITH x AS (INSERT INTO activities (signer, payload) VALUES ('bridge', '{"type":"Create"}') RETURNING id)` +
      "  INSERT INTO deliveries (activity_id, inbox, host) SELECT id, 'https://a.example/users/alice/inbox', 'a.example' FROM x;" +
      ` WITH x AS (INSERT INTO activities (signer, payload) VALUES ('relay', '{"type":"Announce"}') RETURNING id)` +
      "  INSERT INTO deliveries (activity_id, inbox, host) SELECT id, 'https://a.example/inbox', 'a.example' FROM x",
  );
}

test("members delete: without --yes prints what would go, exits 2, changes nothing; --yes forgets all of it", async (t) => {
  const s = await fresh(t);
  await deleteScene(s);
  const before = await memberTables(s);
  const dry = await s.admin("members", "delete", "acct:alice@a.example");
  assert.equal(dry.code, 2, dry.stderr);
  assert.match(dry.stderr, /nothing deleted: add --yes/);
  assert.match(dry.stdout, /^member 11 \(alice@a\.example\) would be deleted, with:$/m);
  const count = (out, what) => out.match(new RegExp(`^  ${what}\\s+(\\d+)$`, "m"))?.[1];
  const counts = (out) =>
    ["X edges of its X id", "claims", "consent ledger lines", "sessions", "link codes", "OAuth grants", "follow actions", "messages to it waiting for delivery \\(dropped\\)", "reports it filed \\(kept, without author\\)"].map((w) => count(out, w));
  assert.deepEqual(counts(dry.stdout), ["3", "1", "2", "1", "2", "1", "2", "1", "1"]);
  assert.match(dry.stdout, /^member 12 \(bob@b\.example\) would stay disputed although this member's claim on X id 100 was its only rival/m);
  assert.deepEqual(await memberTables(s), before, "delete without --yes changed the database");

  const r = await s.admin("members", "delete", "--yes", "alice@a.example");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^member 11 \(alice@a\.example\) deleted, with:$/m);
  assert.deepEqual(counts(r.stdout), counts(dry.stdout));
  assert.match(r.stdout, /^member 12 \(bob@b\.example\) stays disputed although this member's claim on X id 100 was its only rival: an admin decides/m);

  const db = await memberTables(s);
  assert.deepEqual(db.members.map((m) => [m.id, m.state]), [[12, "disputed"], [13, "linked"]], "bob stays disputed: an admin decides");
  assert.deepEqual(db.x_edges, [{ follower_x_id: 7, followee_x_id: 8, member_id: 13 }, { follower_x_id: 300, followee_x_id: 9, member_id: 13 }], "every edge of X id 100 went, no other");
  assert.deepEqual(db.x_claims.map((c) => [c.x_id, c.member_id]), [[100, 12], [300, 13]]);
  for (const tbl of ["consent_ledger", "sessions", "link_codes"]) {
    assert.deepEqual([...new Set(db[tbl].map((x) => x.member_id))], [13], `${tbl}: alice's rows went, carol's stay`);
  }
  assert.deepEqual(db.oauth_grants, []);
  assert.deepEqual(db.follow_actions, [], "follow actions both ways went");
  assert.deepEqual(db.reports.map((x) => [x.member_id, x.target]), [[null, "bob@b.example"]], "reports are kept without author");
  assert.deepEqual(db.sent.map((x) => [x.inbox, x.signer, x.state]), [
    ["https://a.example/users/alice/inbox", "bridge", "dropped"],
    ["https://a.example/inbox", "relay", "pending"],
  ]);
  assert.equal((await s.admin("members", "show", "11")).code, 2, "a deleted member is unknown");
});

test("members delete of the claimant with no X id keeps the bound member's edges; a three-way dispute names nobody", async (t) => {
  const s = await fresh(t);
  await deleteScene(s);
  await s.psql(memberSql(14, "dan", "d.example", { state: "disputed" }) + " INSERT INTO x_claims VALUES (100, 14)");
  const before = await memberTables(s);
  const r = await s.admin("members", "delete", "12", "--yes");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {2}X edges of its X id\s+0$/m);
  assert.doesNotMatch(r.stdout, /disputed/, "alice and dan still compete with each other");
  // Dan goes too: alice is left disputed with no rival, and is named.
  const r2 = await s.admin("members", "delete", "14", "--yes");
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, /^member 11 \(alice@a\.example\) stays disputed/m);
  const db = await memberTables(s);
  assert.deepEqual(db.x_edges, before.x_edges, "no edge of alice's X id went");
  assert.deepEqual(db.members.map((m) => [m.id, m.state]), [[11, "disputed"], [13, "linked"]]);
  assert.deepEqual(db.x_claims.map((c) => [c.x_id, c.member_id]), [[100, 11], [300, 13]]);
});
