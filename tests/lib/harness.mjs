// A tiny TAP test harness for the integration and interop tests.
//
//   import { test, setup } from "../lib/harness.mjs";
//   test("name", async (t) => { ... assert ... }, { timeout: 10000 });
//
// Tests are registered at module top level (before any top-level await) and run one after
// another, starting on the next turn of the event loop. Each test has a timeout (default
// 20 s, or PASSERELLE_TEST_TIMEOUT_MS; multiplied by 10 under valgrind). Output:
//   ok N - name / not ok N - name, "#" lines with the failure and the last 30 lines of the
//   stderr of every server that ran during the test, then "1..N". Exit 1 if any failed.
//
// t.defer(fn) registers a cleanup that runs after the test (pass or fail), newest first.
// t.log(msg) prints a "#" diagnostic line.
// setup(fn) runs once before the first test; if it throws, every test fails with its error.
// teardown(fn) runs once after the last test.
// Servers started through tests/lib/server.mjs register themselves here (trackServer) so
// that their stderr is shown when a test fails, and are killed when the process exits.

import { inspect } from "node:util";

const tests = [];
const setups = [];
const teardowns = [];
const servers = new Set(); // {name, stderr(), alive(), startedAt, stoppedAt}
const exitHooks = new Set();
let scheduled = false;
let running = false;

export const VALGRIND = process.env.PASSERELLE_VALGRIND === "1";
export const SLOW = VALGRIND ? 10 : 1;
const DEFAULT_TIMEOUT = Number(process.env.PASSERELLE_TEST_TIMEOUT_MS || 20000) * SLOW;
// The whole file must finish well under the runner's limit.
const FILE_TIMEOUT = Number(process.env.PASSERELLE_FILE_TIMEOUT_MS || 55000) * SLOW;

function schedule() {
  if (scheduled) return;
  scheduled = true;
  setTimeout(() => {
    run().catch((e) => {
      console.log(`# harness error: ${e?.stack ?? e}`);
      runExitHooks();
      process.exit(1);
    });
  }, 0);
}

export function test(name, fn, opts = {}) {
  if (running) throw new Error(`test "${name}" registered after the run started`);
  tests.push({ name, fn, timeout: (opts.timeout ?? DEFAULT_TIMEOUT / SLOW) * SLOW });
  schedule();
}

export function setup(fn) {
  setups.push(fn);
  schedule();
}

export function teardown(fn) {
  teardowns.push(fn);
}

export function trackServer(s) {
  servers.add(s);
}

// fn runs synchronously when the process exits for any reason (kill leftover children).
export function onExit(fn) {
  exitHooks.add(fn);
  return () => exitHooks.delete(fn);
}

function runExitHooks() {
  for (const fn of [...exitHooks].reverse()) {
    try {
      fn();
    } catch {
      /* nothing more can be done at exit */
    }
  }
  exitHooks.clear();
}

process.on("exit", runExitHooks);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    console.log(`# interrupted by ${sig}`);
    runExitHooks();
    process.exit(1);
  });
}
process.on("uncaughtException", (e) => {
  console.log(`# uncaught exception: ${String(e?.stack ?? e).split("\n").join("\n# ")}`);
  runExitHooks();
  process.exit(1);
});
process.on("unhandledRejection", (e) => {
  // A rejection left behind by a test that already timed out: report it, keep going.
  console.log(`# unhandled rejection: ${String(e?.stack ?? e).split("\n")[0]}`);
});

function diag(text) {
  for (const line of String(text).split("\n")) console.log(`# ${line}`);
}

function describeError(e) {
  if (e == null) return String(e);
  if (e.name === "AssertionError" || e.code === "ERR_ASSERTION") {
    let s = e.message;
    if (e.generatedMessage === false && e.actual !== undefined) {
      s += `\nactual:   ${inspect(e.actual, { depth: 4, breakLength: 120 })}`;
      s += `\nexpected: ${inspect(e.expected, { depth: 4, breakLength: 120 })}`;
    }
    const where = (e.stack ?? "").split("\n").find((l) => l.includes(".test.mjs"));
    if (where) s += `\n${where.trim()}`;
    return s;
  }
  return e.stack ?? String(e);
}

function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls fn until it returns a truthy value (returned) or the time is up (throws with the
// last value or error in the message).
export async function eventually(fn, { timeout = 5000, interval = 100, what = "condition" } = {}) {
  const end = Date.now() + timeout * SLOW;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`${what} not reached within ${timeout * SLOW} ms; last: ${last instanceof Error ? last.message : inspect(last, { depth: 3 })}`);
    }
    await sleep(interval);
  }
}

async function run() {
  running = true;
  const fileStart = Date.now();
  let current = 0; // index of the test running now
  const watchdog = setTimeout(() => {
    // Report the test that was running and every one after it, so the counts stay honest.
    for (let i = current; i < tests.length; i++) {
      console.log(`not ok ${i + 1} - ${tests[i].name}`);
      diag(i === current ? `the whole file exceeded ${FILE_TIMEOUT} ms during this test` : "not run: the file ran out of time");
    }
    let plan = tests.length;
    if (current >= tests.length) {
      console.log(`not ok ${++plan} - teardown finished in time`);
      diag(`the whole file exceeded ${FILE_TIMEOUT} ms during teardown`);
    }
    console.log(`1..${plan}`);
    runExitHooks();
    process.exit(1);
  }, FILE_TIMEOUT);
  watchdog.unref();

  let setupError = null;
  for (const fn of setups) {
    try {
      await withTimeout(Promise.resolve().then(fn), 60000 * SLOW, "setup");
    } catch (e) {
      setupError = e;
      break;
    }
  }

  let failed = 0;
  let n = 0;
  for (const t of tests) {
    current = n;
    n++;
    const started = Date.now();
    const cleanups = [];
    const ctx = {
      defer: (fn) => cleanups.push(fn),
      log: (msg) => diag(msg),
      name: t.name,
    };
    let error = setupError ? new Error(`setup failed: ${describeError(setupError)}`) : null;
    if (!error) {
      try {
        await withTimeout(Promise.resolve().then(() => t.fn(ctx)), t.timeout, `test "${t.name}"`);
      } catch (e) {
        error = e ?? new Error("test threw a nullish value");
      }
    }
    for (const fn of cleanups.reverse()) {
      try {
        await withTimeout(Promise.resolve().then(fn), 30000 * SLOW, "cleanup");
      } catch (e) {
        if (!error) error = new Error(`cleanup failed: ${describeError(e)}`);
        else diag(`cleanup also failed: ${describeError(e)}`);
      }
    }
    const ms = Date.now() - started;
    if (error) {
      failed++;
      console.log(`not ok ${n} - ${t.name}`);
      diag(describeError(error));
      // After a failed setup, show the servers' logs once, not under every test.
      if (!setupError || n === 1) for (const s of servers) {
        const during = s.startedAt <= Date.now() && (s.stoppedAt == null || s.stoppedAt >= started);
        if (!during) continue;
        const lines = s.stderr().split("\n").filter((l) => l !== "").slice(-30);
        diag(`--- last ${lines.length} stderr lines of ${s.name}:`);
        diag(lines.join("\n"));
      }
    } else {
      console.log(`ok ${n} - ${t.name}${ms > 2000 ? ` # ${ms} ms` : ""}`);
    }
  }

  current = tests.length;
  for (const fn of teardowns) {
    try {
      await withTimeout(Promise.resolve().then(fn), 30000 * SLOW, "teardown");
    } catch (e) {
      failed++;
      n++;
      console.log(`not ok ${n} - teardown`);
      diag(describeError(e));
    }
  }
  console.log(`1..${n}`);
  diag(`${n - failed} passed, ${failed} failed in ${Date.now() - fileStart} ms`);
  clearTimeout(watchdog);
  runExitHooks();
  process.exit(failed > 0 ? 1 : 0);
}
