// Process lifecycle: key created on first start (0600) and reused, graceful SIGTERM/SIGINT
// with a request in flight, schema version checks, idempotent migrate, start-up failures.
import assert from "node:assert/strict";
import { existsSync, statSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { spawn } from "node:child_process";
import { test, SLOW, sleep } from "../lib/harness.mjs";
import { createServer, startServer, runBin, withDbname } from "../lib/server.mjs";
import { get, request } from "../lib/http.mjs";
import { spki } from "../lib/checks.mjs";

const AP = { accept: "application/activity+json" };

function keyDer(file) {
  return createPublicKey(createPrivateKey(readFileSync(file))).export({ type: "spki", format: "der" }).toString("base64");
}

test("the key is created on first start with mode 0600 and reused after a restart", async (t) => {
  const s = await createServer();
  t.defer(() => s.stop());
  assert.ok(!existsSync(s.config.key_file), "no key before the first start");
  const m = await s.migrate();
  assert.equal(m.code, 0, m.stderr);
  await s.start();
  assert.ok(existsSync(s.config.key_file), "key file created");
  const st = statSync(s.config.key_file);
  assert.equal(st.mode & 0o777, 0o600, `key file mode ${(st.mode & 0o777).toString(8)}`);
  const pemFile = readFileSync(s.config.key_file, "utf8");
  assert.match(pemFile, /-----BEGIN (RSA )?PRIVATE KEY-----/);
  const first = (await get(`${s.url}/actor`, AP)).json().publicKey.publicKeyPem;
  assert.equal(spki(first).der, keyDer(s.config.key_file), "the actor's key is the key file's");
  assert.equal(spki(first).bits, 2048, "RSA-2048");
  assert.ok(!s.stderr().includes(pemFile.split("\n")[1]), "the private key must never reach the log");

  assert.equal(await s.stop({ keepDb: true }), 0);
  await s.start();
  const second = (await get(`${s.url}/actor`, AP)).json().publicKey.publicKeyPem;
  assert.equal(spki(second).der, spki(first).der, "same public key after restart");
  assert.equal(readFileSync(s.config.key_file, "utf8"), pemFile, "key file untouched");
  assert.equal(statSync(s.config.key_file).mode & 0o777, 0o600);
});

test("an unusable key_file stops the start with a message", async (t) => {
  const s = await createServer({ config: { key_file: "/nonexistent-dir/sub/key.pem" } });
  t.defer(() => s.stop());
  assert.equal((await s.migrate()).code, 0);
  await assert.rejects(s.start({ timeout: 10000 }), /exited before listening/);
  assert.notEqual(s.exitCode, 0);
  assert.match(s.stderr(), /key_file|\/nonexistent-dir\/sub\/key\.pem/);
});

test("SIGTERM: a request in flight is answered, new connections are refused, exit 0", async (t) => {
  const s = await startServer({ config: { shutdown_timeout: 10 * SLOW } });
  t.defer(() => s.stop());
  // Hold an exclusive lock on every table so that a DB-backed request waits in flight.
  const tables = (await s.psql("SELECT string_agg(quote_ident(tablename), ',') FROM pg_tables WHERE schemaname='public'")).trim();
  assert.ok(tables.length > 0, "the migrated database has tables");
  const lockMs = 2500 * SLOW;
  const locker = spawn("psql", [s.db, "-X", "-v", "ON_ERROR_STOP=1", "-c", `BEGIN; LOCK TABLE ${tables} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(${lockMs / 1000}); COMMIT;`], { stdio: "ignore" });
  t.defer(() => locker.kill("SIGKILL"));
  await sleep(400); // the lock is taken
  const t0 = Date.now();
  const inflight = get(`${s.url}/nodeinfo/2.0`, {}, { timeout: 20000 * SLOW });
  await sleep(300);
  s.proc.kill("SIGTERM");
  await sleep(300);
  assert.ok(s.alive(), "the server exited while a request was still in flight");
  await assert.rejects(
    get(`${s.url}/actor`, AP, { timeout: 2000 }).then((r) => {
      if (r.status === 503) throw new Error("ECONNREFUSED-equivalent 503");
      return r;
    }),
    /ECONNREFUSED|ECONNRESET|503|socket hang up/,
    "a new request after SIGTERM must not be served normally",
  );
  const r = await inflight;
  assert.ok(Date.now() - t0 >= lockMs - 1000, `the in-flight request did wait for the lock (${Date.now() - t0} ms)`);
  assert.equal(r.status, 200, `in-flight request answered ${r.status}: ${r.body.slice(0, 200)}`);
  assert.equal(r.json().software.name, "passerelle");
  const { code, signal } = await Promise.race([s.exited(), sleep(15000 * SLOW).then(() => ({ code: "timeout" }))]);
  assert.equal(code, 0, `exit code ${code} signal ${signal}`);
});

test("SIGTERM with a request stuck past shutdown_timeout: the server still exits, cleanly", async (t) => {
  const s = await startServer({ config: { shutdown_timeout: 1 } });
  t.defer(() => s.stop());
  const tables = (await s.psql("SELECT string_agg(quote_ident(tablename), ',') FROM pg_tables WHERE schemaname='public'")).trim();
  const lockS = 8 * SLOW;
  const locker = spawn("psql", [s.db, "-X", "-c", `BEGIN; LOCK TABLE ${tables} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(${lockS}); COMMIT;`], { stdio: "ignore" });
  t.defer(() => locker.kill("SIGKILL"));
  await sleep(400);
  const inflight = get(`${s.url}/nodeinfo/2.0`, {}, { timeout: 30000 * SLOW }).then(
    (r) => ({ status: r.status }),
    (e) => ({ error: e.message }),
  );
  await sleep(300);
  const t0 = Date.now();
  s.proc.kill("SIGTERM");
  const res = await Promise.race([s.exited(), sleep((lockS - 1) * 1000).then(() => null)]);
  assert.ok(res !== null, "the server waited for the stuck request beyond shutdown_timeout");
  assert.equal(res.signal, null, `killed by ${res.signal}`);
  assert.notEqual(res.code, 99, "valgrind found memory errors or leaks on the forced shutdown path");
  assert.ok(Date.now() - t0 < (1 + 4) * 1000 * SLOW, `exit took ${Date.now() - t0} ms with shutdown_timeout 1`);
  const r = await inflight;
  // The stuck client gets a 503 or a closed connection, never a hang.
  assert.ok(r.status === 503 || r.error !== undefined, `stuck request got ${JSON.stringify(r)}`);
});

test("SIGINT also stops the server with exit 0", async (t) => {
  const s = await startServer();
  t.defer(() => s.stop());
  assert.equal((await get(`${s.url}/actor`, AP)).status, 200);
  assert.equal(await s.stop({ signal: "SIGINT" }), 0);
});

test("SIGTERM on an idle server exits 0 promptly", async (t) => {
  const s = await startServer();
  t.defer(() => s.stop());
  const t0 = Date.now();
  assert.equal(await s.stop(), 0);
  assert.ok(Date.now() - t0 < 3000 * SLOW, `took ${Date.now() - t0} ms`);
});

// Inserts a schema_migrations row with a version above anything the binary knows, filling
// whatever other NOT NULL columns the table has.
async function addFutureMigration(s, version = 999999) {
  const cols = (await s.psql("SELECT column_name || '|' || data_type || '|' || is_nullable || '|' || (column_default IS NOT NULL) FROM information_schema.columns WHERE table_schema='public' AND table_name='schema_migrations' ORDER BY ordinal_position"))
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [name, type, nullable, hasDefault] = l.split("|");
      return { name, type, required: nullable === "NO" && hasDefault === "false" };
    });
  assert.ok(cols.some((c) => c.name === "version"), `schema_migrations has a version column: ${JSON.stringify(cols)}`);
  const names = [];
  const values = [];
  for (const c of cols) {
    if (c.name === "version") {
      names.push("version");
      values.push(String(version));
    } else if (c.required) {
      names.push(c.name);
      values.push(/time|date/.test(c.type) ? "now()" : /int|numeric/.test(c.type) ? "0" : /bool/.test(c.type) ? "false" : "'from-the-future'");
    }
  }
  await s.psql(`INSERT INTO schema_migrations (${names.join(",")}) VALUES (${values.join(",")})`);
}

test("serve refuses a database whose schema is newer, and says so", async (t) => {
  const s = await createServer();
  t.defer(() => s.stop());
  assert.equal((await s.migrate()).code, 0);
  await addFutureMigration(s);
  // It may bind before it reads the schema; what matters is that it exits non-zero soon.
  await s.start({ waitListening: false });
  const res = await Promise.race([s.exited(), sleep(10000 * SLOW).then(() => null)]);
  assert.ok(res !== null, "serve kept running on a newer schema");
  assert.notEqual(res.code, 0, "exit status");
  assert.equal(res.signal, null, `killed by ${res.signal}`);
  assert.match(s.stderr(), /newer/i);
});

test("migrate refuses a database whose schema is newer too", async (t) => {
  const s = await createServer();
  t.defer(() => s.stop());
  assert.equal((await s.migrate()).code, 0);
  await addFutureMigration(s);
  const r = await s.migrate();
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /newer/i);
});

test("serve on a fresh, unmigrated database refuses and points at migrate", async (t) => {
  const s = await createServer();
  t.defer(() => s.stop());
  await s.start({ waitListening: false });
  const res = await Promise.race([s.exited(), sleep(10000 * SLOW).then(() => null)]);
  assert.ok(res !== null, "serve kept running on an unmigrated database");
  assert.notEqual(res.code, 0);
  assert.equal(res.signal, null, `killed by ${res.signal}`);
  assert.match(s.stderr(), /migrat/i);
});

test("migrate is idempotent", async (t) => {
  const s = await createServer();
  t.defer(() => s.stop());
  const a = await s.migrate();
  assert.equal(a.code, 0, a.stderr);
  const rows1 = await s.psql("SELECT version FROM schema_migrations ORDER BY version");
  assert.ok(rows1.length > 0, "migrations recorded");
  const schema1 = await s.psql("SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, column_name) FROM information_schema.columns WHERE table_schema='public'");
  const b = await s.migrate();
  assert.equal(b.code, 0, b.stderr);
  assert.equal(await s.psql("SELECT version FROM schema_migrations ORDER BY version"), rows1, "no version applied twice");
  assert.equal(await s.psql("SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, column_name) FROM information_schema.columns WHERE table_schema='public'"), schema1, "schema unchanged");
  // And the server starts on it.
  await s.start();
  assert.equal((await get(`${s.url}/nodeinfo/2.0`)).status, 200);
});

test("two migrate runs at once both succeed and apply each version once", async (t) => {
  const s = await createServer();
  t.defer(() => s.stop());
  const [a, b] = await Promise.all([s.migrate(), s.migrate()]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const dup = await s.psql("SELECT count(*) - count(DISTINCT version) FROM schema_migrations");
  assert.equal(dup, "0");
});

test("a port already in use makes serve exit non-zero (not hang)", async (t) => {
  const blocker = net.createServer();
  await new Promise((r) => blocker.listen(0, "127.0.0.1", r));
  t.defer(() => new Promise((r) => blocker.close(r)));
  const port = blocker.address().port;
  const s = await createServer({ config: { listen_port: port, base_url: `http://127.0.0.1:${port}` } });
  t.defer(() => s.stop());
  assert.equal((await s.migrate()).code, 0);
  s.start({ waitListening: false });
  const res = await Promise.race([s.exited(), sleep(10000 * SLOW).then(() => null)]);
  assert.ok(res !== null, "serve kept running on a port it could not bind");
  assert.notEqual(res.code, 0);
  assert.ok(s.stderr().includes(String(port)) || /address|bind|listen/i.test(s.stderr()), "the message says why");
});

test("reuse_port: a second serve shares a busy port only when both say so", async (t) => {
  const a = await startServer({ config: { reuse_port: "true" } });
  t.defer(() => a.stop());
  const port = a.port;
  // Without reuse_port the second process must refuse the port, not take half the traffic.
  const b = await createServer({ config: { listen_port: port, base_url: `http://127.0.0.1:${port}` } });
  t.defer(() => b.stop());
  assert.equal((await b.migrate()).code, 0);
  b.start({ waitListening: false });
  const res = await Promise.race([b.exited(), sleep(10000 * SLOW).then(() => null)]);
  assert.ok(res !== null, "serve without reuse_port kept running on a port another serve holds");
  assert.notEqual(res.code, 0);
  assert.match(b.stderr(), /listen_port: cannot listen/);
  // With reuse_port on both, the second starts and the port keeps answering.
  const c = await createServer({ config: { listen_port: port, base_url: `http://127.0.0.1:${port}`, reuse_port: "true" } });
  t.defer(() => c.stop());
  assert.equal((await c.migrate()).code, 0);
  await c.start({ waitListening: false });
  const deadline = Date.now() + 10000 * SLOW;
  while (!c.events("listening").length && c.alive() && Date.now() < deadline) await sleep(50);
  assert.ok(c.alive(), `the second serve exited: ${c.stderr().slice(-500)}`);
  assert.equal(c.events("listening").length, 1, "the second serve logged listening");
  assert.equal((await get(`http://127.0.0.1:${port}/actor`, AP)).status, 200);
});

test("listen_port = 0: the kernel picks a free port and the log says which", async (t) => {
  const s = await createServer({ config: { listen_port: 0 } });
  t.defer(() => s.stop());
  assert.equal((await s.migrate()).code, 0);
  await s.start({ waitListening: false });
  const deadline = Date.now() + 10000 * SLOW;
  while (!s.events("listening").length && s.alive() && Date.now() < deadline) await sleep(50);
  assert.ok(s.alive(), `serve exited: ${s.stderr().slice(-500)}`);
  const port = Number(s.events("listening")[0]?.port);
  assert.ok(port > 0, `the log names the chosen port: ${JSON.stringify(s.events("listening"))}`);
  assert.equal((await get(`http://127.0.0.1:${port}/actor`, AP)).status, 200);
});

test("a database that cannot be reached at start does not crash serve", async (t) => {
  // database_url points at a socket folder with no server: serve must not crash; either it
  // refuses with a message or it keeps running and answers the DB-free endpoints.
  const s = await createServer();
  t.defer(() => s.stop());
  assert.equal((await s.migrate()).code, 0);
  const badDb = withDbname("host=/nonexistent-socket-dir port=5432 user=passerelle", s.dbName);
  s.env = { DATABASE_URL: badDb };
  s.start({ waitListening: false });
  await sleep(2500 * SLOW);
  if (!s.alive()) {
    assert.notEqual(s.exitCode, 0, "exited with 0 although it could not serve");
    assert.equal(s.exitSignal, null, `killed by ${s.exitSignal}`);
    assert.ok(s.stderr().length > 0, "a message");
  } else {
    const r = await get(`${s.url}/actor`, AP);
    assert.equal(r.status, 200);
    assert.equal((await get(`${s.url}/`)).status, 503, "/ needs the database");
  }
});
