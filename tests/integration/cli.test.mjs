// The command line: version, --help of each subcommand, usage errors, config file errors
// (the message names the bad key), environment overrides.
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test, teardown, SLOW } from "../lib/harness.mjs";
import { runBin, startServer, freePort, createDatabase, dropDatabase, configText, TEST_PG } from "../lib/server.mjs";
import { get } from "../lib/http.mjs";
import { makefileVersion } from "../lib/checks.mjs";

const tmp = mkdtempSync(path.join(os.tmpdir(), "passerelle-cli-"));
teardown(() => rmSync(tmp, { recursive: true, force: true }));
let nfile = 0;

// A config file that would be valid apart from `overrides`.
async function configFile(overrides = {}, { raw } = {}) {
  const port = await freePort();
  const cfg = {
    listen_addr: "127.0.0.1",
    listen_port: port,
    base_url: `http://127.0.0.1:${port}`,
    database_url: TEST_PG,
    key_file: path.join(tmp, `key${nfile}.pem`),
    ...overrides,
  };
  const file = path.join(tmp, `c${++nfile}.conf`);
  writeFileSync(file, raw ?? configText(cfg));
  return file;
}

test("`passerelle version` prints the version and exits 0", async () => {
  const r = await runBin(["version"]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes(makefileVersion()), `stdout: ${JSON.stringify(r.stdout)}`);
  assert.match(r.stdout, /passerelle/i);
});

test("`passerelle --help` lists the subcommands and exits 0", async () => {
  const r = await runBin(["--help"]);
  assert.equal(r.code, 0, r.stderr);
  for (const word of ["serve", "migrate", "version"]) assert.ok(r.stdout.includes(word), `--help lacks ${word}: ${r.stdout}`);
});

for (const sub of ["serve", "migrate"]) {
  test(`\`passerelle ${sub} --help\` documents -c and exits 0 without doing anything`, async () => {
    // A database_url that cannot work: --help must not touch it.
    const t0 = Date.now();
    const r = await runBin([sub, "--help"], { env: { DATABASE_URL: "host=/nonexistent-dir port=1 dbname=x" } });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Date.now() - t0 < 5000, `${sub} --help took ${Date.now() - t0} ms`);
    assert.match(r.stdout, /-c\b/, `${sub} --help does not mention -c: ${r.stdout}`);
    assert.ok(!/event=listening/.test(r.stderr), `${sub} --help started the server`);
  });
}

test("`passerelle serve --help` lists the config keys", async () => {
  const r = await runBin(["serve", "--help"]);
  assert.equal(r.code, 0, r.stderr);
  for (const key of ["listen_addr", "listen_port", "base_url", "database_url", "key_file", "max_body_bytes", "metrics_token", "tls_cert"]) {
    assert.ok(r.stdout.includes(key), `serve --help lacks ${key}`);
  }
});

test("no subcommand, an unknown subcommand and an unknown option are usage errors (2)", async () => {
  const none = await runBin([]);
  assert.equal(none.code, 2, `no args: ${none.code} ${none.stderr}`);
  assert.ok(none.stderr.length > 0, "usage on stderr");
  const bad = await runBin(["frobnicate"]);
  assert.equal(bad.code, 2, `unknown subcommand: ${bad.code}`);
  assert.match(bad.stderr, /frobnicate/, "names the unknown subcommand");
  const opt = await runBin(["serve", "--no-such-option"]);
  assert.equal(opt.code, 2, `unknown option: ${opt.code} ${opt.stderr}`);
  const noarg = await runBin(["serve", "-c"]);
  assert.equal(noarg.code, 2, `-c without a file: ${noarg.code} ${noarg.stderr}`);
});

for (const sub of ["serve", "migrate"]) {
  test(`${sub}: an unknown key exits 1 and names the key`, async () => {
    const file = await configFile({ no_such_key: "1" });
    const r = await runBin([sub, "-c", file]);
    assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, /no_such_key/);
  });
}

const badValues = [
  ["listen_port", "notanumber"],
  ["listen_port", "70000"],
  ["listen_port", "-1"],
  ["listen_port", "80x"],
  ["db_pool_size", "zero"],
  ["max_body_bytes", "lots"],
  ["max_headers", "-5"],
  ["request_timeout", "abc"],
  ["log_level", "loud"],
  ["base_url", "not a url"],
  ["allow_private_fetch", "perhaps"],
];
test("bad values exit 1 and name the key", async () => {
  for (const [key, value] of badValues) {
    const file = await configFile({ [key]: value });
    const r = await runBin(["serve", "-c", file], { timeout: 10000 });
    assert.equal(r.code, 1, `${key} = ${value}: exit ${r.code} signal ${r.signal}: ${r.stderr.slice(-300)}`);
    assert.ok(r.stderr.includes(key), `${key} = ${value}: stderr does not name the key: ${r.stderr.slice(-300)}`);
    assert.ok(!/event=listening/.test(r.stderr), `${key} = ${value}: started anyway`);
  }
});

test("a line without '=' exits 1 and the message says where", async () => {
  const file = await configFile({}, { raw: "# comment\nlisten_addr = 127.0.0.1\nthis line is wrong\n" });
  const r = await runBin(["serve", "-c", file]);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.stderr.includes(file) || /line 3\b|:3\b/.test(r.stderr), `stderr: ${r.stderr}`);
});

test("a missing config file exits 1 and names it", async () => {
  const file = path.join(tmp, "does-not-exist.conf");
  const r = await runBin(["serve", "-c", file]);
  assert.equal(r.code, 1, r.stderr);
  assert.ok(r.stderr.includes("does-not-exist.conf"), r.stderr);
});

test("a bad environment value exits 1 and names the key", async () => {
  const file = await configFile();
  const r = await runBin(["serve", "-c", file], { env: { PASSERELLE_LISTEN_PORT: "abc" } });
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /listen_port/i);
});

test("comments, blank lines and spaces around '=' are accepted", async (t) => {
  const port = await freePort();
  const db = await createDatabase();
  t.defer(() => dropDatabase(db.name));
  const file = await configFile({}, {
    raw: [
      "# passerelle test config",
      "",
      "   # indented comment",
      `listen_addr=127.0.0.1`,
      `listen_port   =   ${port}`,
      `base_url = http://127.0.0.1:${port}`,
      `database_url = ${db.conninfo}`,
      `key_file = ${path.join(tmp, "key-comments.pem")}`,
      "",
    ].join("\n"),
  });
  const r = await runBin(["migrate", "-c", file]);
  assert.equal(r.code, 0, r.stderr);
});

test("environment overrides win over the file (PASSERELLE_LISTEN_PORT, PASSERELLE_BASE_URL, PASSERELLE_INSTANCE_NAME)", async (t) => {
  const envPort = await freePort();
  const s = await startServer({
    config: { instance_name: "from-file" },
    env: {
      PASSERELLE_LISTEN_PORT: String(envPort),
      PASSERELLE_BASE_URL: `http://127.0.0.1:${envPort}`,
      PASSERELLE_INSTANCE_NAME: "from-env",
    },
    waitListening: false,
  });
  t.defer(() => s.stop());
  // The file's port must stay closed, the environment's must serve.
  const deadline = Date.now() + 10000 * SLOW;
  let r;
  for (;;) {
    try {
      r = await get(`http://127.0.0.1:${envPort}/nodeinfo/2.0`);
      break;
    } catch (e) {
      if (!s.alive()) throw new Error(`server exited: ${s.stderr().slice(-800)}`);
      if (Date.now() > deadline) throw e;
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  assert.equal(r.status, 200, r.body);
  assert.equal(r.json().metadata.nodeName, "from-env");
  assert.match(s.stderr(), new RegExp(`event=listening\\b.*\\bport=${envPort}\\b`));
  await assert.rejects(get(`http://127.0.0.1:${s.port}/actor`, {}, { timeout: 2000 }), /ECONNREFUSED/, "the file's port is not used");
  const actor = (await get(`http://127.0.0.1:${envPort}/actor`)).json();
  assert.equal(actor.id, `http://127.0.0.1:${envPort}/actor`, "base_url from the environment");
});

test("DATABASE_URL overrides database_url from the file", async (t) => {
  const db = await createDatabase();
  t.defer(() => dropDatabase(db.name));
  const file = await configFile({ database_url: "host=/nonexistent-dir port=1 dbname=nope" });
  const bad = await runBin(["migrate", "-c", file]);
  assert.notEqual(bad.code, 0, "migrate against a database that cannot exist must fail");
  const r = await runBin(["migrate", "-c", file], { env: { DATABASE_URL: db.conninfo } });
  assert.equal(r.code, 0, r.stderr);
  const { psql } = await import("../lib/server.mjs");
  const n = Number(await psql(db.conninfo, "SELECT count(*) FROM schema_migrations"));
  assert.ok(n > 0, "migrations recorded in the DATABASE_URL database");
});

test("PASSERELLE_DATABASE_URL also overrides the file", async (t) => {
  const db = await createDatabase();
  t.defer(() => dropDatabase(db.name));
  const file = await configFile({ database_url: "host=/nonexistent-dir port=1 dbname=nope" });
  const r = await runBin(["migrate", "-c", file], { env: { PASSERELLE_DATABASE_URL: db.conninfo } });
  assert.equal(r.code, 0, r.stderr);
});
