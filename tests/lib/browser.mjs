// Debian's Chromium driven by playwright-core, for the browser tests of the link page.
//
//   const browser = await launchBrowser();           // once per file; teardown: browser.close()
//   const p = await browser.newPage(t, { locale: "fr-FR" });   // a fresh context per test
//   await p.page.goto(url); ...
//   p.requests        every URL the page asked for (to check nothing left the origin)
//   p.problems()      console errors, CSP violations and uncaught exceptions, as strings
//   assertOnlyOrigin(p, origin); assertNoProblems(p)
//
// Members are real: a server started with MEMBER_CONFIG, an actor host (tests/lib/actorhost.mjs)
//   const m = await member(s, h, "alice");   // joins (signed Follow), continues (POST): a session
//   await useSession(p, s, m);               // the page's context gets the session cookie
//   await api(s, m, "/link/consents", {...}); await leave(s, h, "alice", m.follow);
//   const sent = await watchSent(p);         // what the page POSTs, bodies included, untouched
//
// Nothing of the server is stubbed here: the page talks to the real server only.
//
// playwright-core comes from tests/interop/node_modules (pinned in its package.json and
// lockfile; tests/run.sh runs npm ci there). Chromium is /usr/bin/chromium, installed by
// scripts/deps.sh; it is never downloaded. Contexts are closed through t.defer.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { SLOW, eventually } from "./harness.mjs";
import { signedPost, newId, AS } from "./actorhost.mjs";
import { request } from "./http.mjs";
import { openLink } from "./linkcode.mjs";

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

// extraArgs: more Chromium flags (the Bluesky test maps its public-looking name to loopback).
export async function launchBrowser({ extraArgs = [] } = {}) {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it with scripts/deps.sh (make deps), package "chromium"`);
  }
  const { chromium } = playwright();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Chromium's sandbox cannot start as root (CI containers).
    args: [...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), ...extraArgs],
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

// ---- members: a real join, a real session --------------------------------------------------

// What a server needs for members to join from a loopback actor host (tests/lib/actorhost.mjs)
// and get their welcome message quickly.
export const MEMBER_CONFIG = Object.freeze({ allow_private_fetch: "true", queue_poll_ms: "100", queue_backoff_unit_ms: "10" });

const bridgeUrl = (s) => `${s.url}/users/${s.config.bridge_username ?? "passerelle"}`;

// name (an actor of h) follows the bridge account of s with a signed Follow; resolves with
// {code, follow}: the one-time code from the welcome direct message, and the Follow (to undo).
export async function join(s, h, name) {
  const a = h.actor(name);
  const mark = h.mark;
  const follow = { "@context": AS, id: newId(h), type: "Follow", actor: a.id, object: bridgeUrl(s) };
  const r = await signedPost(`${bridgeUrl(s)}/inbox`, follow, { actor: a });
  assert.equal(r.status, 202, `Follow from ${name}: ${r.body}`);
  const link = new RegExp(`${s.url.replace(/[.]/g, "\\.")}/link/([0-9a-f]{32})`);
  const dm = await eventually(
    () => h.since(mark).find((x) => x.method === "POST" && x.path === `/users/${name}/inbox` && link.test(x.body)),
    { timeout: 10000, what: `the welcome message to ${name}` },
  );
  return { code: dm.body.match(link)[1], follow };
}

// name leaves: a signed Undo of their Follow. The server removes the member and their sessions.
export async function leave(s, h, name, follow) {
  const a = h.actor(name);
  const undo = { "@context": AS, id: newId(h), type: "Undo", actor: a.id, object: follow };
  const r = await signedPost(`${bridgeUrl(s)}/inbox`, undo, { actor: a });
  assert.equal(r.status, 202, `Undo from ${name}: ${r.body}`);
}

// Spends the one-time code the way the link's page does (GET /link/<code> shows it, its form
// POSTs it from the same origin, 303 to /link) and resolves with the session: {cookie:
// "name=value", cookieName, cookieValue, csrf (from GET /link/state)}.
export async function openSession(s, code) {
  const cookie = await openLink(s, code);
  const [cookieName, cookieValue] = cookie.split("=");
  const st = await request(`${s.url}/link/state`, { headers: { cookie } });
  assert.equal(st.status, 200, `GET /link/state: ${st.status} ${st.body}`);
  return { cookie, cookieName, cookieValue, csrf: st.json().csrf };
}

// join + openSession: {cookie, cookieName, cookieValue, csrf, code, follow, actor (its name)}.
export async function member(s, h, name) {
  const { code, follow } = await join(s, h, name);
  return { ...(await openSession(s, code)), code, follow, actor: name };
}

// Gives the page's browser context the session, as if it had opened the link itself.
export async function useSession(p, s, session) {
  await p.context.addCookies([
    { name: session.cookieName, value: session.cookieValue, domain: new URL(s.url).hostname, path: "/link", httpOnly: true, sameSite: "Lax" },
  ]);
}

// Calls the page's API from Node with a session (to set a member up, or to check).
export function api(s, session, path, body, { type = "application/json" } = {}) {
  if (body === undefined) return request(`${s.url}${path}`, { headers: { cookie: session.cookie } });
  return request(`${s.url}${path}`, {
    method: "POST",
    headers: { cookie: session.cookie, "content-type": type, "x-csrf-token": session.csrf },
    body: Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
}

// ---- what the page sends ------------------------------------------------------------------

// Records every request other than GET the page sends, with its body, by watching Chromium's
// DevTools network events. Nothing is intercepted: the requests reach the server untouched
// and the server answers them. (Playwright's request.postDataBuffer() is null for a Blob
// body, which is what the page uploads, so the body is asked from Chromium itself with
// Network.getRequestPostData.) Resolves with {list: [{method, url, path, headers}], body(rec)}.
export async function watchSent(p) {
  const cdp = await p.context.newCDPSession(p.page);
  await cdp.send("Network.enable");
  const list = [];
  cdp.on("Network.requestWillBeSent", (e) => {
    if (e.request.method === "GET") return;
    const headers = Object.fromEntries(Object.entries(e.request.headers).map(([k, v]) => [k.toLowerCase(), v]));
    list.push({ id: e.requestId, method: e.request.method, url: e.request.url, path: new URL(e.request.url).pathname, headers });
  });
  return {
    list,
    async body(rec) {
      const d = await cdp.send("Network.getRequestPostData", { requestId: rec.id });
      return Buffer.from(d.postData, d.base64Encoded ? "base64" : "utf8");
    },
  };
}
