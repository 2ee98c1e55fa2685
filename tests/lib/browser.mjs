// Debian's Chromium driven by playwright-core, for the browser tests of the link page.
//
//   const browser = await launchBrowser();           // once per file; teardown: browser.close()
//   const p = await browser.newPage(t, { locale: "fr-FR" });   // a fresh context per test
//   await p.page.goto(url); ...
//   p.requests        every URL the page asked for (to check nothing left the origin)
//   p.problems()      console errors, CSP violations and uncaught exceptions, as strings
//   assertOnlyOrigin(p, origin); assertNoProblems(p)
//
// playwright-core comes from tests/interop/node_modules (pinned in its package.json and
// lockfile; tests/run.sh runs npm ci there). Chromium is /usr/bin/chromium, installed by
// scripts/deps.sh; it is never downloaded. Contexts are closed through t.defer.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { SLOW } from "./harness.mjs";

export const CHROMIUM = process.env.PASSERELLE_CHROMIUM ?? "/usr/bin/chromium";

function playwright() {
  const require = createRequire(new URL("../interop/package.json", import.meta.url));
  try {
    require.resolve("playwright-core");
  } catch {
    throw new Error("playwright-core is not installed: run `npm ci` in tests/interop (tests/run.sh does)");
  }
  return require("playwright-core");
}

// Collects CSP violations inside the page; Playwright injects it before the page's own
// scripts, and such injected scripts are not subject to the page's CSP.
function watchCsp() {
  window.__cspViolations = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
  });
}

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it with scripts/deps.sh (make deps), package "chromium"`);
  }
  const { chromium } = playwright();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Chromium's sandbox cannot start as root (CI containers).
    args: process.getuid?.() === 0 ? ["--no-sandbox"] : [],
    timeout: 30000 * SLOW,
  });
  return {
    browser,
    async newPage(t, contextOptions = {}) {
      const context = await browser.newContext({ locale: "en-GB", ...contextOptions });
      t.defer(() => context.close());
      context.setDefaultTimeout(10000 * SLOW);
      const page = await context.newPage();
      await page.addInitScript(watchCsp);
      const p = { context, page, requests: [], console: [], errors: [] };
      context.on("request", (r) => p.requests.push({ method: r.method(), url: r.url() }));
      page.on("console", (m) => {
        const where = m.location()?.url ? ` (${m.location().url})` : "";
        if (m.type() === "error" || /Content Security Policy/i.test(m.text())) p.console.push(m.text() + where);
      });
      page.on("pageerror", (e) => p.errors.push(String(e?.stack ?? e)));
      p.problems = async () => {
        const csp = await page.evaluate(() => window.__cspViolations ?? []).catch(() => []);
        return [...csp.map((v) => `CSP: ${v}`), ...p.console.map((c) => `console: ${c}`), ...p.errors];
      };
      return p;
    },
    close: () => browser.close(),
  };
}

// Every request the page made went to origin (data: and blob: never leave the browser).
export function assertOnlyOrigin(p, origin) {
  const away = p.requests.filter((r) => !r.url.startsWith(`${origin}/`) && !/^(data|blob):/.test(r.url));
  assert.deepEqual(away, [], `requests that left ${origin}`);
}

// No CSP violation, no uncaught exception, no console error other than those allowed
// (regular expressions, e.g. an endpoint the server does not have yet).
export async function assertNoProblems(p, allowed = []) {
  const problems = (await p.problems()).filter((x) => !allowed.some((re) => re.test(x)));
  assert.deepEqual(problems, [], "CSP violations, console errors or exceptions in the page");
}

// GET /link/state for a member who has just opened their link (the page's API contract).
export const NEW_MEMBER = Object.freeze({
  csrf: "csrf-token-0123456789",
  member: "acct:alice@mastodon.example",
  handle: null,
  followers: 0,
  following: 0,
  consents: { findable: true, notify: true, autofollow: false, relay: false },
  lang: "en",
});

// Answers the page's API paths (/link/<name>) from Playwright instead of the server:
// answers = {state: {status, json}, archive: (call) => ({status, json}), ...}; a missing or
// undefined answer is a 404. Returns calls: {name: [{method, headers, body (Buffer)}]}.
export async function stubLinkApi(page, base, answers) {
  const calls = {};
  for (const [name, answer] of Object.entries(answers)) {
    calls[name] = [];
    await page.route(`${base}/link/${name}`, async (route) => {
      const req = route.request();
      const call = { method: req.method(), headers: await req.allHeaders(), body: req.postDataBuffer() };
      calls[name].push(call);
      const a = typeof answer === "function" ? answer(call) : answer;
      return route.fulfill(a ? { status: a.status, json: a.json } : { status: 404, json: { error: "not found" } });
    });
  }
  return calls;
}
