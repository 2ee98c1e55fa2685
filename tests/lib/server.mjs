// Starts the passerelle binary for a test: a fresh database, a config file in a temp
// folder, `migrate`, then `serve` on a free loopback port.
//
// Needs PASSERELLE_BIN (the binary) and PASSERELLE_TEST_PG (libpq conninfo of the test
// cluster, trust auth), both exported by tests/run.sh.
//
//   const s = await startServer({ config: {metrics_token: "x"}, env: {}, migrate: true });
//   s.url, s.port, s.proc, s.stderr(), await s.stop() (exit code), s.kill(), s.db, await s.psql(sql)
//   await s.stop({ keepDb: true }); await s.start();   // restart on the same config and database
//   const b = await startServer({ share: s, config: { reuse_port: "true" } });
//     // scale-out: another process on s's database, key, port and base_url (the config given
//     // is merged over s's); s owns the database, b never drops it
//
// Under PASSERELLE_VALGRIND=1 serve runs under valgrind; stop() then asserts exit code 0
// (valgrind exits 99 on memory errors or definite/indirect leaks).
import { spawn, execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, existsSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { trackServer, onExit, VALGRIND, SLOW, sleep } from "./harness.mjs";
import { request } from "./http.mjs";
import { newKeyPair } from "./keypool.mjs";

export const BIN = process.env.PASSERELLE_BIN ?? path.resolve(new URL("../../build/passerelle", import.meta.url).pathname);
export const TEST_PG = process.env.PASSERELLE_TEST_PG ?? "";
export const TEST_PGDIR = process.env.PASSERELLE_TEST_PGDIR ?? "";
const VALGRIND_ARGS = [
  "--error-exitcode=99",
  // Without it one busy thread holds valgrind's lock for long stretches and the loop stalls.
  "--fair-sched=yes",
  "--leak-check=full",
  "--errors-for-leak-kinds=definite,indirect",
  "--show-leak-kinds=definite,indirect",
];

export function requireEnv() {
  if (!TEST_PG) throw new Error("PASSERELLE_TEST_PG is not set (run through tests/run.sh)");
  if (!existsSync(BIN)) throw new Error(`PASSERELLE_BIN ${BIN} does not exist (build it first)`);
}

// The environment for the binary: ours minus anything it would read as configuration
// (PASSERELLE_* and DATABASE_URL), plus extra.
export function binEnv(extra = {}) {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith("PASSERELLE_") || k === "DATABASE_URL") continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

// A port that was free a moment ago on 127.0.0.1, and that nobody else in this run is
// handed: each lane of tests/run.sh (TEST_LANE) draws from its own thousand ports below the
// kernel's ephemeral range (32768 and up), so neither another lane's freePort nor an outgoing
// connection's source port can take it between this check and the server's bind. Port 0
// (the kernel's choice, as before) only if a lane's thousand are all taken.
const handedOut = new Set();
const LANE_PORTS = 1000;
export async function freePort() {
  const lane = Number.parseInt(process.env.TEST_LANE ?? "", 10);
  const base = 20000 + (Number.isInteger(lane) && lane >= 0 ? lane % 12 : 0) * LANE_PORTS;
  const start = Math.floor(Math.random() * LANE_PORTS);
  for (let i = 0; i < LANE_PORTS; i++) {
    const port = base + ((start + i) % LANE_PORTS);
    if (handedOut.has(port)) continue;
    if (await portFree(port)) {
      handedOut.add(port);
      return port;
    }
  }
  return portFree(0);
}

// Binds port (0: any) on 127.0.0.1 and lets it go; resolves with the port, or false when taken.
function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => {
      const got = srv.address().port;
      srv.close(() => resolve(got));
    });
  });
}

// The same conninfo with another dbname.
export function withDbname(conninfo, dbname) {
  if (/(^|\s)dbname=\S+/.test(conninfo)) return conninfo.replace(/(^|\s)dbname=\S+/, `$1dbname=${dbname}`);
  return `${conninfo} dbname=${dbname}`;
}

// Runs SQL with psql against a conninfo; resolves with stdout (unaligned, tuples only).
export function psql(conninfo, sql, { timeout = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      "psql",
      [conninfo, "-X", "-v", "ON_ERROR_STOP=1", "-tAq", "-c", sql],
      { timeout, env: { ...process.env, PGCONNECT_TIMEOUT: "5" } },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`psql failed (${sql.slice(0, 80)}): ${stderr || err.message}`));
        else resolve(stdout.trim());
      },
    );
  });
}

// A new database, empty or a copy of the database named template.
export async function createDatabase({ template = null } = {}) {
  const name = `t_${randomBytes(6).toString("hex")}`;
  await psql(TEST_PG, `CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ""}`);
  return { name, conninfo: withDbname(TEST_PG, name) };
}

// A database migrated once per test process by `passerelle migrate` (and dropped at exit),
// which startServer copies (CREATE DATABASE ... TEMPLATE: the cost of an empty database)
// instead of running migrate again for every server: a process and every migration's DDL,
// a second or more a server on a loaded machine.
let template = null;
function migratedTemplate() {
  template ??= (async () => {
    const db = await createDatabase();
    onExit(() => dropDatabaseSync(db.name));
    const dir = mkdtempSync(path.join(os.tmpdir(), "passerelle-it-"));
    const conf = path.join(dir, "passerelle.conf");
    writeFileSync(conf, configText({ database_url: db.conninfo, key_file: path.join(dir, "key.pem") }));
    const r = await runBin(["migrate", "-c", conf]);
    rmSync(dir, { recursive: true, force: true });
    if (r.code !== 0) throw new Error(`passerelle migrate (the template database) exited ${r.code}: ${r.stderr.slice(-1500)}`);
    return db.name;
  })();
  return template;
}

export async function dropDatabase(name) {
  await psql(withDbname(TEST_PG, "postgres"), `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

function dropDatabaseSync(name) {
  try {
    execFileSync("psql", [withDbname(TEST_PG, "postgres"), "-X", "-qc", `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`], {
      stdio: "ignore",
      timeout: 5000,
    });
  } catch {
    /* the cluster may be stopped; run.sh removes it anyway */
  }
}

// Config file text from an object; values null/undefined are left out.
export function configText(cfg) {
  return (
    "# written by tests/lib/server.mjs\n" +
    Object.entries(cfg)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${k} = ${v}`)
      .join("\n") +
    "\n"
  );
}

// Runs the binary with args to completion. Resolves {code, signal, stdout, stderr}.
export function runBin(args, { env = {}, timeout = 20000, cwd } = {}) {
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { env: binEnv(env), cwd, stdio: ["ignore", "pipe", "pipe"] });
    const kill = onExit(() => child.kill("SIGKILL"));
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      stderr += `\n[test: killed after ${timeout * SLOW} ms]`;
      child.kill("SIGKILL");
    }, timeout * SLOW);
    child.on("error", (e) => {
      stderr += `\n[test: spawn failed: ${e.message}]`;
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      kill();
      resolve({ code, signal, stdout, stderr });
    });
  });
}

let serial = 0;

// Prepares (database, temp folder, config) without starting. See startServer. With migrated,
// the database is a copy of one `passerelle migrate` made for this process.
export async function createServer({ config = {}, env = {}, valgrind = VALGRIND, name, share = null, migrated = false } = {}) {
  requireEnv();
  const db = share ? { name: share.dbName, conninfo: share.db } : await createDatabase({ template: migrated ? await migratedTemplate() : null });
  const dir = mkdtempSync(path.join(os.tmpdir(), "passerelle-it-"));
  const tlsOn = config.tls_cert != null && config.tls_key != null;
  const port = share ? share.port : config.listen_port ?? (await freePort());
  const scheme = tlsOn ? "https" : "http";
  // The key that seals OAuth tokens, made as `make run` makes it; token_key_file: null
  // in config leaves it out (following in members' names is then off).
  const tokenKey = path.join(dir, "token.key");
  writeFileSync(tokenKey, randomBytes(32).toString("hex") + "\n", { mode: 0o600 });
  const cfg = share
    ? { ...share.config, ...config }
    : {
        listen_addr: "127.0.0.1",
        listen_port: port,
        // Port 0 is the kernel's choice: no URL names it, so the server's default applies.
        ...(String(port) === "0" ? {} : { base_url: `${scheme}://127.0.0.1:${port}` }),
        database_url: db.conninfo,
        key_file: path.join(dir, "key.pem"),
        token_key_file: tokenKey,
        log_level: "info",
        // The bridge account's follows of members (memberfollow.c) go out on their own tick,
        // at any moment of a test that counts what reached an inbox or changed a row: off
        // unless a test is about them (memberfollow, moves, relay, hostile, move_followers).
        follow_members: "false",
        ...config,
      };
  const configFile = path.join(dir, "passerelle.conf");
  writeFileSync(configFile, configText(cfg));

  const s = {
    name: name ?? `passerelle#${++serial}`,
    dir,
    db: db.conninfo,
    dbName: db.name,
    config: cfg,
    configFile,
    port,
    url: cfg.base_url,
    env,
    valgrind,
    proc: null,
    startedAt: Infinity,
    stoppedAt: null,
    exitCode: undefined,
    exitSignal: undefined,
    log: [],
    dropped: share != null, // the database is share's to drop
    shared: share != null, // the port answers for share too: only our log says we listen
    stderr() {
      return this.log.join("");
    },
    alive() {
      return this.proc != null && this.exitCode === undefined;
    },
    psql(sql) {
      return psql(this.db, sql);
    },
    // Runs `passerelle migrate -c FILE`; resolves {code, stdout, stderr}.
    migrate(extraEnv = {}) {
      return runBin(["migrate", "-c", this.configFile], { env: { ...this.env, ...extraEnv } });
    },
    start: (opts) => startProcess(s, opts),
    stop: (opts) => stopProcess(s, opts),
    kill() {
      if (this.alive()) this.proc.kill("SIGKILL");
    },
    // Resolves with {code, signal} when the process exits (or at once if it has).
    exited() {
      return this._exited ?? Promise.resolve({ code: this.exitCode, signal: this.exitSignal });
    },
    async dropDb() {
      if (this.dropped) return;
      this.dropped = true;
      await dropDatabase(this.dbName);
    },
    // Log lines (parsed key=value) whose event matches.
    events(event) {
      return parseLog(this.stderr()).filter((e) => e.event === event);
    },
  };
  s._unexit = onExit(() => {
    if (s.alive()) s.proc.kill("SIGKILL");
    if (!s.dropped) dropDatabaseSync(s.dbName);
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  });
  trackServer(s);
  return s;
}

// Parses "ts=... level=... event=... k=v k2="quoted \"v\"" lines.
export function parseLog(text) {
  const out = [];
  for (const line of text.split("\n")) {
    if (!line.includes("event=")) continue;
    const rec = { _line: line };
    const re = /([A-Za-z0-9_.-]+)=("(?:[^"\\]|\\.)*"|\S*)/g;
    let m;
    while ((m = re.exec(line)) !== null) {
      let v = m[2];
      if (v.startsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, "$1");
      rec[m[1]] = v;
    }
    out.push(rec);
  }
  return out;
}

async function startProcess(s, { waitListening = true, timeout = 10000 } = {}) {
  if (s.alive()) throw new Error(`${s.name} is already running`);
  const args = ["serve", "-c", s.configFile];
  const [cmd, argv] = s.valgrind ?? VALGRIND ? ["valgrind", [...VALGRIND_ARGS, BIN, ...args]] : [BIN, args];
  s.log.push(`[test: start ${cmd} ${argv.join(" ")}]\n`);
  const proc = spawn(cmd, argv, { env: binEnv(s.env), stdio: ["ignore", "pipe", "pipe"] });
  s.proc = proc;
  s.exitCode = undefined;
  s.exitSignal = undefined;
  s.startedAt = Date.now();
  s.stoppedAt = null;
  s._exited = new Promise((resolve) => {
    proc.on("error", (e) => {
      s.log.push(`[test: spawn failed: ${e.message}]\n`);
    });
    proc.on("exit", (code, signal) => {
      s.exitCode = code;
      s.exitSignal = signal;
      s.stoppedAt = Date.now();
      s.log.push(`[test: exited code=${code} signal=${signal}]\n`);
      resolve({ code, signal });
    });
  });
  let stderrBuf = "";
  proc.stderr.on("data", (d) => {
    const text = d.toString("utf8");
    s.log.push(text);
    stderrBuf += text;
    if (s.log.length > 20000) s.log.splice(0, 10000);
  });
  proc.stdout.on("data", (d) => s.log.push(`[stdout] ${d}`));
  if (!waitListening) return s;

  const deadline = Date.now() + timeout * SLOW;
  for (;;) {
    if (!s.alive()) {
      throw new Error(`${s.name} exited before listening (code ${s.exitCode}, signal ${s.exitSignal}):\n${s.stderr().split("\n").slice(-15).join("\n")}`);
    }
    const m = /event=listening\b[^\n]*\bport=(\d+)/.exec(stderrBuf);
    if (m && Number(m[1]) === Number(s.port)) return s;
    if (m && Number(m[1]) !== Number(s.port)) {
      throw new Error(`${s.name} logged listening on port ${m[1]}, expected ${s.port}`);
    }
    if (!s.shared) {
      try {
        const r = await request(`${s.url}/metrics`, { timeout: 1000 * SLOW, ca: s.ca, headers: s.config.metrics_token ? { authorization: `Bearer ${s.config.metrics_token}` } : {} });
        if (r.status > 0) return s;
      } catch {
        /* not yet */
      }
    }
    if (Date.now() > deadline) {
      throw new Error(`${s.name} did not start listening within ${timeout * SLOW} ms:\n${s.stderr().split("\n").slice(-15).join("\n")}`);
    }
    await sleep(100);
  }
}

// SIGTERM, wait for the exit, return the exit code (or "signal:NAME"). Under valgrind the
// exit code must be 0. keepDb leaves the database for a restart.
async function stopProcess(s, { keepDb = false, signal = "SIGTERM", timeout = 15000 } = {}) {
  let result = null;
  let stoppedByUs = false;
  if (s.proc != null) {
    if (s.alive()) {
      stoppedByUs = true;
      s.proc.kill(signal);
    }
    const timer = new Promise((r) => setTimeout(() => r(null), timeout * SLOW));
    const done = await Promise.race([s._exited, timer]);
    if (done == null) {
      s.kill();
      await s._exited;
      if (!keepDb) await s.dropDb().catch(() => {});
      throw new Error(`${s.name} did not exit within ${timeout * SLOW} ms of ${signal}; killed`);
    }
    result = done.code ?? `signal:${done.signal}`;
  }
  if (!keepDb) {
    await s.dropDb().catch(() => {});
    try {
      rmSync(s.dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
  // Under valgrind: a server we stopped must exit 0; one that had already exited by itself
  // (an expected refusal) may have any status except valgrind's 99 or a signal.
  if ((s.valgrind ?? VALGRIND) && result !== null && (stoppedByUs ? result !== 0 : result === 99 || typeof result === "string")) {
    throw new Error(`${s.name} under valgrind exited with ${result} (99 = memory errors or leaks):\n${s.stderr().split("\n").slice(-40).join("\n")}`);
  }
  return result;
}

// createServer + start, on a migrated database unless migrate=false: a copy of the process's
// migrated template, or with share, migrate run on share's database.
export async function startServer({ config = {}, env = {}, migrate = true, valgrind = VALGRIND, name, ca, waitListening = true, share = null } = {}) {
  const s = await createServer({ config, env, valgrind, name, share, migrated: migrate && share == null });
  s.ca = ca;
  // The server's RSA key from the run's pool unless the test names a key_file: serve would
  // make one at its first start, about 120 ms of CPU, and more than the 100 s a start may
  // take under valgrind on a loaded machine. Making it is it/lifecycle's test (createServer,
  // then start).
  if (share == null && config.key_file == null) writeFileSync(s.config.key_file, newKeyPair().privatePem, { mode: 0o600 });
  try {
    if (migrate && share != null) {
      const r = await s.migrate();
      s.log.push(`[test: migrate exit ${r.code}]\n${r.stderr}`);
      if (r.code !== 0) throw new Error(`passerelle migrate exited ${r.code} (signal ${r.signal}): ${r.stderr.slice(-1500)}`);
    }
    await s.start({ waitListening });
  } catch (e) {
    await s.stop().catch(() => {});
    throw e;
  }
  return s;
}
