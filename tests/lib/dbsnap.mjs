// Database snapshots for the tests that check a refusal changed nothing: every row of every
// table (or of the tables named), as JSON, through one psql process per database (a psql
// per query costs a fork and a connection each; these tests take hundreds of snapshots).
//
//   const snap = await snapshot(s.db);                                  // every table
//   await snapshot(s.db, { tables: ["instances", "deliveries"] });
//   await snapshot(s.db, { drop: { remote_actors: ["fetched_at"] } });  // columns left out
//   closeSessions();                                                    // at teardown
import { spawn } from "node:child_process";
import { onExit } from "./harness.mjs";

// Columns that change without any request asking: a cached key may be refreshed (once a
// minute) by any signed request, refusals included.
export const VOLATILE = Object.freeze({ remote_actors: ["fetched_at"] });

const sessions = new Map();

// A psql session on conninfo: query(sql) resolves with its unaligned, tuples-only output.
export function psqlSession(conninfo) {
  if (sessions.has(conninfo)) return sessions.get(conninfo);
  const proc = spawn("psql", [conninfo, "-X", "-tAq", "-v", "ON_ERROR_STOP=0"], { stdio: ["pipe", "pipe", "pipe"] });
  const unexit = onExit(() => proc.kill("SIGKILL"));
  let out = "";
  let err = "";
  let serial = 0;
  let chain = Promise.resolve();
  let waiting = null;
  proc.stdout.on("data", (d) => {
    out += d;
    waiting?.();
  });
  proc.stderr.on("data", (d) => (err += d));
  proc.stdin.on("error", () => {}); // the database may be dropped under it at the end
  let failing = null;
  proc.on("exit", (code) => failing?.(new Error(`psql exited (${code}): ${err.trim()}`)));
  const sess = {
    query(sql) {
      const run = () =>
        new Promise((resolve, reject) => {
          const marker = `__end_${++serial}__`;
          out = "";
          err = "";
          failing = reject;
          if (proc.exitCode !== null) return reject(new Error(`psql exited (${proc.exitCode}): ${err.trim()}`));
          waiting = () => {
            const i = out.indexOf(`${marker}\n`);
            if (i < 0) return;
            waiting = null;
            failing = null;
            const text = out.slice(0, i).trim();
            if (err) reject(new Error(`psql: ${err.trim()} (${sql.slice(0, 80)})`));
            else resolve(text);
          };
          proc.stdin.write(`${sql.trim().replace(/;$/, "")};\n\\echo ${marker}\n`);
        });
      const p = chain.then(run);
      chain = p.catch(() => {});
      return p;
    },
    close() {
      unexit();
      sessions.delete(conninfo);
      proc.stdin.end();
    },
  };
  sessions.set(conninfo, sess);
  return sess;
}

export function closeSessions() {
  for (const sess of [...sessions.values()]) sess.close();
}

const tableLists = new Map();
const ident = (name) => `"${name.replaceAll('"', '""')}"`;
const literal = (s) => `'${s.replaceAll("'", "''")}'`;

// {table: [rows as JSON objects]}, rows in a fixed order (by their text), columns in drop
// left out. Without tables, every table of the public schema.
export async function snapshot(conninfo, { tables = null, drop = VOLATILE } = {}) {
  const sess = psqlSession(conninfo);
  let list = tables;
  if (list === null) {
    if (!tableLists.has(conninfo)) {
      const names = await sess.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename");
      tableLists.set(conninfo, names.split("\n").filter(Boolean));
    }
    list = tableLists.get(conninfo);
  }
  const parts = list.map((t) => {
    const row = (drop[t] ?? []).reduce((e, c) => `(${e} - ${literal(c)})`, "to_jsonb(r)");
    return `${literal(t)}, (SELECT coalesce(jsonb_agg(${row} ORDER BY r::text), '[]') FROM ${ident(t)} r)`;
  });
  // json_build_object takes at most 100 arguments: one object per 50 tables, merged.
  const chunks = [];
  for (let i = 0; i < parts.length; i += 50) chunks.push(`jsonb_build_object(${parts.slice(i, i + 50).join(", ")})`);
  return JSON.parse(await sess.query(`SELECT ${chunks.join(" || ")}`));
}

// True when a snapshot holding "activities" and "deliveries" shows the delivery queue at
// rest: nothing pending, and no activity left without a row. The queue removes an activity
// whose last row went at most a second after that row (queue.c, QUEUE_UNREF_MS), so two
// equal snapshots a few milliseconds apart are not enough to call the database quiet.
export function queueSettled(snap) {
  const held = new Set(snap.deliveries.map((d) => d.activity_id));
  return !snap.deliveries.some((d) => d.state === "pending") && snap.activities.every((a) => held.has(a.id));
}

// The same, asked of the database directly (for tests that do not take snapshots).
export const QUEUE_SETTLED_SQL =
  "SELECT NOT EXISTS (SELECT 1 FROM deliveries WHERE state = 'pending')" +
  " AND NOT EXISTS (SELECT 1 FROM activities a WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.activity_id = a.id))";
