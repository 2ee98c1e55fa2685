// Every SQL statement of the program, prepared against a database migrated by the real
// binary: a renamed column or table fails here, not in production (issue 11, item 5).
//
// Each C source under server/ activitypub/ webfinger/ db/ goes through the preprocessor with
// the build's flags (make print-cpp), so macros that hold SQL are expanded; its string
// literals, adjacent ones joined as the compiler joins them, are statements when they begin
// as one (SELECT, INSERT INTO, UPDATE ... SET, DELETE FROM, WITH, COPY ... FROM STDIN).
// Each is PREPAREd (COPY is run on no rows in a transaction rolled back), as libpq's
// PQsendPrepare and PQexecParams do with no parameter types.
// The migrations' own PL/pgSQL functions (triggers, host_blocked) are checked with the
// plpgsql_check extension (scripts/deps.sh installs it), each trigger function against the
// table of each of its triggers: PostgreSQL itself only parses their SQL when they first run.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test, setup } from "../lib/harness.mjs";
import { createServer, psql } from "../lib/server.mjs";

const TOP = path.resolve(new URL("../..", import.meta.url).pathname);
const ROOMS = ["server", "activitypub", "webfinger", "db"];
// Fewer than this means the extractor broke, not that the program lost its SQL (about 110
// today); raise it as statements are added.
const FLOOR = 100;
const START = /^\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\S+(\s+\S+)?\s+SET\s|DELETE\s+FROM\s|WITH\s|COPY\s+\S+\s*\([^)]*\)\s+FROM\s+STDIN)/;

// C escapes in a literal's text.
function unescapeC(s) {
  const simple = { n: "\n", t: "\t", r: "\r", a: "\x07", b: "\b", f: "\f", v: "\v" };
  return s.replace(/\\(x[0-9a-fA-F]+|[0-7]{1,3}|.)/g, (m, e) => {
    if (e[0] === "x") return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return simple[e] ?? e;
  });
}

// The string literals of preprocessed text, adjacent ones joined, each with the file and line
// where its first piece stands (from the preprocessor's line markers).
function literals(text) {
  const out = [];
  let file = "";
  let line = 1;
  let bol = true;
  let cur = null;
  for (let i = 0; i < text.length; ) {
    const c = text[i];
    if (bol && c === "#") {
      const end = text.indexOf("\n", i);
      const m = /^#\s*(\d+)\s+"([^"]*)"/.exec(text.slice(i, end < 0 ? undefined : end));
      if (m) {
        line = Number(m[1]) - 1;
        file = m[2];
      }
      i = end < 0 ? text.length : end;
      continue;
    }
    if (c === "\n") {
      line++;
      bol = true;
      i++;
      continue;
    }
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    bol = false;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const s = unescapeC(text.slice(i + 1, j));
      if (cur) cur.text += s;
      else cur = { file, line, text: s };
      i = j + 1;
      continue;
    }
    if (cur) {
      out.push(cur);
      cur = null;
    }
    if (c === "'") {
      let j = i + 1;
      while (text[j] !== "'") j += text[j] === "\\" ? 2 : 1;
      i = j + 1;
      continue;
    }
    i++;
  }
  if (cur) out.push(cur);
  return out;
}

// "function" or "function, variable": what a reader searches for to find the statement.
function statementName(lines, line) {
  let fn = "file scope";
  for (let i = line - 1; i >= 0; i--) {
    const m = /^([a-z_]\w*)\(/.exec(lines[i]);
    if (m) {
      fn = m[1];
      break;
    }
    if (/^}/.test(lines[i])) break;
  }
  for (let i = line - 1; i >= Math.max(0, line - 3); i--) {
    const v = /(\w+)\s*(\[\w*\])?\s*=\s*("|$)/.exec(lines[i]);
    if (v) return `${fn}, ${v[1]}`;
  }
  return fn;
}

function statements() {
  const cpp = execFileSync("make", ["-s", "--no-print-directory", "print-cpp"], { cwd: TOP, encoding: "utf8" })
    .trim()
    .split(/\s+/);
  const files = execFileSync("find", [...ROOMS, "-name", "*.c"], { cwd: TOP, encoding: "utf8" }).trim().split("\n").sort();
  const found = [];
  for (const f of files) {
    const text = execFileSync(cpp[0], [...cpp.slice(1), f], { cwd: TOP, encoding: "utf8", maxBuffer: 1 << 28 });
    const src = readFileSync(path.join(TOP, f), "utf8").split("\n");
    for (const l of literals(text))
      if (l.file === f && START.test(l.text)) found.push({ ...l, name: `${f}:${l.line} (${statementName(src, l.line)})` });
  }
  return found;
}

// One psql reads every statement; after each, an "@@ N ERROR message" line on stdout says how
// it went (psql's ERROR and LAST_ERROR_MESSAGE variables), so no error is matched to the
// wrong statement. COPY's data (none) comes from the same stream, up to "\\.".
function prepareAll(conninfo, stmts) {
  const script = ["\\set ON_ERROR_STOP 0", "\\set VERBOSITY terse"];
  stmts.forEach((s, i) => {
    if (/^\s*COPY\s/.test(s.text)) script.push("BEGIN;", `${s.text};`, "\\.", `\\echo @@ ${i} :ERROR :LAST_ERROR_MESSAGE`, "ROLLBACK;");
    else script.push(`PREPARE passerelle_stmt_${i} AS ${s.text};`, `\\echo @@ ${i} :ERROR :LAST_ERROR_MESSAGE`);
  });
  return new Promise((resolve, reject) => {
    const child = execFile("psql", [conninfo, "-X", "-q"], { timeout: 30000, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`psql: ${stderr || err.message}`));
      const verdicts = new Map();
      for (const m of stdout.matchAll(/^@@ (\d+) (true|false) ?(.*)$/gm)) verdicts.set(Number(m[1]), m[2] === "true" ? m[3] : null);
      resolve(verdicts);
    });
    child.stdin.end(script.join("\n") + "\n");
  });
}

// Each PL/pgSQL function of the public schema, with the table of each trigger that calls it.
const PLPGSQL = `FROM pg_proc p
  JOIN pg_language l ON l.oid = p.prolang AND l.lanname = 'plpgsql'
  JOIN pg_namespace n ON n.oid = p.pronamespace AND n.nspname = 'public'
  LEFT JOIN pg_trigger t ON t.tgfoid = p.oid AND NOT t.tgisinternal`;

let db = null;
let found = [];

setup(async () => {
  found = statements();
  const s = await createServer();
  const m = await s.migrate();
  assert.equal(m.code, 0, `passerelle migrate: ${m.stderr}`);
  db = s.db;
});

test(`the sources hold at least ${FLOOR} SQL statements (the extractor finds them)`, async (t) => {
  t.log(`${found.length} statements in ${new Set(found.map((s) => s.file)).size} files`);
  assert.ok(found.length >= FLOOR, `only ${found.length} statements found`);
  for (const room of ROOMS) assert.ok(found.some((s) => s.file.startsWith(`${room}/`)), `none found under ${room}/`);
});

test("every statement prepares against the migrated schema", async (t) => {
  const verdicts = await prepareAll(db, found);
  const failures = [];
  found.forEach((s, i) => {
    if (!verdicts.has(i)) failures.push(`${s.name}: no answer from psql`);
    else if (verdicts.get(i) !== null) failures.push(`${s.name}: ${verdicts.get(i)}\n    ${s.text.replace(/\s+/g, " ").slice(0, 300)}`);
  });
  for (const f of failures) t.log(f);
  assert.equal(failures.length, 0, `${failures.length} of ${found.length} statements do not prepare`);
});

test("the migrations' PL/pgSQL functions pass plpgsql_check against the migrated schema", async (t) => {
  await psql(db, "CREATE EXTENSION IF NOT EXISTS plpgsql_check");
  const checked = (await psql(db, `SELECT string_agg(p.proname || coalesce(' on ' || t.tgrelid::regclass::text, ''), ', ') ${PLPGSQL}`)).trim();
  t.log(`checked: ${checked}`);
  assert.ok(checked.split(", ").length >= 3, `only these PL/pgSQL functions were found: ${checked}`);
  const errors = await psql(
    db,
    `SELECT p.proname || coalesce(' on ' || t.tgrelid::regclass::text, '') || ', line ' || coalesce(c.lineno::text, '?')
            || ': ' || c.message || coalesce(' (' || c.statement || ')', '')
     ${PLPGSQL}
     CROSS JOIN LATERAL plpgsql_check_function_tb(p.oid, coalesce(t.tgrelid, 0)) c
     WHERE c.level = 'error'`,
  );
  for (const e of errors.split("\n").filter(Boolean)) t.log(e);
  assert.equal(errors, "", "plpgsql_check found errors");
});

// A language is a catalogue file (server/core/texts/<lang>.txt): the schema takes any code of
// that form for members.lang, and nothing else.
test("members.lang takes any catalogue's code, and only codes", async () => {
  for (const [lang, good] of [["de", true], ["nl", true], ["pt", true], ["fr", true], ["xx-1", false], ["EN", false], ["", false]]) {
    const r = await psql(
      db,
      `BEGIN; INSERT INTO members (actor_uri, acct, host, state, lang)
         VALUES ('https://l.example/users/${lang || "none"}', 'u@l.example', 'l.example', 'joined', '${lang}'); ROLLBACK`,
    ).then(() => true, () => false);
    assert.equal(r, good, `members.lang = '${lang}' ${good ? "refused" : "accepted"}`);
  }
});
