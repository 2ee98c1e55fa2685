// `passerelle admin` against a real, migrated database (no server running, so nothing is
// delivered): instances list/allow/block/unblock, queue, notice, usage errors and bad domains.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { test } from "../lib/harness.mjs";
import { createServer, runBin, configText } from "../lib/server.mjs";

const AS = "https://www.w3.org/ns/activitystreams";
const PUBLIC = `${AS}#Public`;

// A migrated database and its config file; dropped after the test.
async function fresh(t, config = {}) {
  const s = await createServer({ config });
  t.defer(() => s.stop());
  const m = await s.migrate();
  assert.equal(m.code, 0, `migrate: ${m.stderr}`);
  s.admin = (...args) => runBin(["admin", "-c", s.configFile, ...args]);
  s.json = async (sql) => JSON.parse((await s.psql(`SELECT coalesce(json_agg(x), '[]') FROM (${sql}) x`)) || "[]");
  return s;
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
  const cols = Object.keys(row);
  const vals = cols.map((c) => {
    const v = row[c];
    if (v === null) return "NULL";
    if (typeof v === "boolean") return v ? "true" : "false";
    return `'${String(v).replace(/'/g, "''")}'`;
  });
  return s.psql(`INSERT INTO instances (${cols.join(", ")}) VALUES (${vals.join(", ")})`);
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
  for (const w of ["instances list", "instances allow", "instances block", "instances unblock", "queue", "notice", "-c"]) {
    assert.ok(top.stdout.includes(w), `admin --help lacks ${w}: ${top.stdout}`);
  }
  const inst = await runBin(["admin", "instances", "--help"], { env });
  assert.equal(inst.code, 0, inst.stderr);
  assert.match(inst.stdout, /instances block DOMAIN/);
  assert.ok(!inst.stdout.includes("notice"), "instances --help lists only instances commands");
  for (const cmd of [["instances", "list"], ["instances", "allow"], ["instances", "block"], ["instances", "unblock"], ["queue"], ["notice"]]) {
    const r = await runBin(["admin", ...cmd, "--help"], { env });
    assert.equal(r.code, 0, `${cmd.join(" ")} --help: ${r.stderr}`);
    assert.ok(r.stdout.includes(`usage: passerelle admin [-c FILE] ${cmd.join(" ")}`), `${cmd.join(" ")} --help: ${r.stdout}`);
  }
  // --help never acts, even with a complete command before it.
  const acting = await runBin(["admin", "instances", "block", "x.example", "--help"], { env });
  assert.equal(acting.code, 0, acting.stderr);
  assert.match(acting.stdout, /Blocks DOMAIN/);
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
  ];
  for (const [args, re] of cases) {
    const r = await s.admin(...args);
    assert.equal(r.code, 2, `admin ${args.join(" ").slice(0, 60)}: exit ${r.code} ${r.stderr}`);
    assert.match(r.stderr, re, `admin ${args.join(" ").slice(0, 60)}: ${r.stderr}`);
    assert.equal(r.stdout.includes("queued"), false);
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
  for (const sub of ["allow", "block", "unblock"]) {
    for (const bad of ["https://known.example", "known.example/inbox", "user@known.example", "known.example:99999", "", "-known.example", "kno wn.example", "known..example"]) {
      const r = await s.admin("instances", sub, bad);
      assert.equal(r.code, 2, `${sub} "${bad}": exit ${r.code} ${r.stderr}`);
      if (bad !== "" && !bad.startsWith("-")) assert.match(r.stderr, /bad domain/, `${sub} "${bad}": ${r.stderr}`);
    }
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
  const r = await s.admin("instances", "block", "masto.example");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /2 pending deliveries dropped/);
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
  for (const args of [["instances", "list"], ["instances", "block", "x.example"], ["queue"], ["notice", "hi"]]) {
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
