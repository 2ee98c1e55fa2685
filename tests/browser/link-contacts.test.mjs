// The member's contacts on the link page, in Chromium, against the real server and PostgreSQL:
// mia (at home on the Mastodon client-API test double) linked her archive, allowed automatic
// follows and connected her server, and her server followed her former X contacts. The page
// lists them both ways with where they are and what was done; "Ignore" keeps one out,
// "Restore" lets it back, "Undo the follow" and "Undo every follow made for me" (pressed twice)
// have her server unfollow them, as the double sees. In French too; past 100 contacts, "Show
// more" brings the next page. Nothing leaves the origin, no CSP violation.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { launchBrowser, assertNoProblems, assertOnlyOrigin, member, useSession, api, MEMBER_CONFIG } from "../lib/browser.mjs";
import { connect, sq } from "../lib/oauthflow.mjs";
import { xArchive, zipBuffer } from "../lib/xarchive.mjs";

const PEOPLE = ["f0", "f1", "f2", "b0"];
let s, h, far, browser, mia;
const C = {};
const X = (name) => String(8100 + PEOPLE.indexOf(name));

setup(async () => {
  [h, far] = await Promise.all([
    startActorHost({ actors: [{ name: "mia" }], mastodon: true }),
    startActorHost({ actors: PEOPLE.map((name) => ({ name })) }),
  ]);
  s = await startServer({ config: { ...MEMBER_CONFIG, match_poll_ms: "50", follow_poll_ms: "50", follow_hold_hours: "0" } });
  browser = await launchBrowser();
  for (const name of PEOPLE) {
    const actor = far.actor(name).id;
    C[name] = {
      actor,
      id: await s.psql(
        `INSERT INTO members (actor_uri, acct, host, x_id, x_handle, state, linked_at)
         VALUES (${sq(actor)}, ${sq(`${name}@${far.domain}`)}, ${sq(far.domain)}, ${X(name)}, ${sq(`${name}_x`)}, 'linked', now() - interval '2 days') RETURNING id`,
      ),
    };
  }
  mia = await member(s, h, "mia");
  assert.equal((await api(s, mia, "/link/consents", { autofollow: true })).status, 200);
  h.mastodon.control({ loggedIn: "mia" });
  assert.equal((await connect(s, mia)).result, "granted");
  const a = xArchive({ username: "mia_x", accountId: "8000", followerIds: [X("b0")], followingIds: ["f0", "f1", "f2"].map(X) });
  const r = await api(s, mia, "/link/archive", zipBuffer(a.entries), { type: "application/zip" });
  assert.equal(r.status, 200, r.body);
  await eventually(async () => (await s.psql(`SELECT count(*) FROM follow_actions f JOIN members m ON m.id = f.follower_id WHERE m.actor_uri = ${sq(h.actor("mia").id)} AND f.state = 'done'`)) === "3", {
    timeout: 20000,
    what: "her three follows made",
  });
});
teardown(async () => {
  if (browser) await browser.close();
  await h?.stop();
  await far?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const unfollowsOf = (name) => h.mastodon.snapshot().unfollows.filter((u) => u.user === "mia" && u.actorId === C[name].actor);
const row = (page, name) => page.locator("#contact-list li", { hasText: `@${name}_x` });

async function open(t, opts) {
  const p = await browser.newPage(t, opts);
  await useSession(p, s, mia);
  await p.page.goto(`${s.url}/link`);
  await p.page.locator("#contacts:not([hidden])").waitFor();
  await p.page.locator("#contact-list li").first().waitFor();
  return p;
}

test("the list both ways: each contact's X handle, where they are now, what was done; the counts", async (t) => {
  const p = await open(t);
  const { page } = p;
  assert.equal(await page.locator("#contacts h2").innerText(), "Your former X contacts who are here");
  await page.locator("#contacts-counts", { hasText: "Found: 3 you followed on X, 1 who followed you. Followed for you: 3." }).waitFor();
  assert.equal(await page.locator("#contacts-back").innerText(), "1 of your former X followers are here; 0 follow you again.");
  assert.equal(await page.locator("#contact-list li").count(), 3);
  const f0 = row(page, "f0");
  assert.equal(await f0.locator(".what").innerText(), "followed for you");
  const link = f0.getByRole("link", { name: `@f0@${far.domain}` });
  assert.equal(await link.getAttribute("href"), C.f0.actor, "where they are now");
  assert.equal(await link.getAttribute("rel"), "noopener noreferrer");
  assert.deepEqual(await f0.getByRole("button").allInnerTexts(), ["Ignore", "Undo the follow"]);
  await page.getByRole("button", { name: "They followed you" }).click();
  await row(page, "b0").waitFor();
  assert.equal(await page.locator("#contact-list li").count(), 1);
  assert.equal(await row(page, "b0").locator(".what").innerText(), "here");
  assert.equal(await page.getByRole("button", { name: "They followed you" }).getAttribute("aria-pressed"), "true");
  assert.equal(await page.locator("#contacts-more").isVisible(), false, "one page holds them all");
  assertOnlyOrigin(p, s.url);
  await assertNoProblems(p);
});

test("Ignore keeps a contact out, Restore lets it back; both through the page's API with its CSRF token", async (t) => {
  const p = await open(t);
  const { page } = p;
  const posts = [];
  page.on("request", (r) => r.method() === "POST" && posts.push({ path: new URL(r.url()).pathname, body: r.postData(), csrf: r.headers()["x-csrf-token"] }));
  await row(page, "f1").getByRole("button", { name: "Ignore" }).click();
  await row(page, "f1").locator(".what", { hasText: "ignored" }).waitFor();
  assert.deepEqual(posts, [{ path: "/link/contacts/ignore", body: JSON.stringify({ x_id: X("f1") }), csrf: mia.csrf }]);
  assert.equal(await s.psql(`SELECT count(*) FROM member_excludes WHERE x_id = ${X("f1")} AND reason = 'ignored'`), "1");
  // Reloaded, the page still says so, and offers to restore it.
  await page.reload();
  await row(page, "f1").locator(".what", { hasText: "ignored" }).waitFor();
  await row(page, "f1").getByRole("button", { name: "Restore" }).click();
  await row(page, "f1").getByRole("button", { name: "Ignore" }).waitFor();
  assert.equal(await s.psql(`SELECT count(*) FROM member_excludes WHERE x_id = ${X("f1")}`), "0");
  await assertNoProblems(p);
});

test("the list shows when contacts.js arrives after the state (deferred scripts run apart)", async (t) => {
  const p = await browser.newPage(t);
  await useSession(p, s, mia);
  let stateSent = null;
  p.page.on("requestfinished", (r) => {
    if (new URL(r.url()).pathname === "/link/state") stateSent ??= Date.now();
  });
  // contacts.js is held until the state has been answered, as a slow network can do.
  await p.page.route("**/link/assets/contacts.js", async (route) => {
    const t0 = Date.now();
    while (stateSent === null && Date.now() - t0 < 5000) await new Promise((ok) => setTimeout(ok, 20));
    await new Promise((ok) => setTimeout(ok, 200));
    await route.continue();
  });
  await p.page.goto(`${s.url}/link`);
  await p.page.locator("#contacts:not([hidden])").waitFor({ timeout: 8000 });
  await p.page.locator("#contact-list li").first().waitFor();
  assert.ok(stateSent !== null, "the state was answered before contacts.js ran");
  await assertNoProblems(p);
});

test("Undo the follow, then undo every follow: her server unfollows each once", async (t) => {
  const p = await open(t);
  const { page } = p;
  await row(page, "f0").getByRole("button", { name: "Undo the follow" }).click();
  await row(page, "f0").locator(".what", { hasText: "being undone" }).waitFor();
  await eventually(() => unfollowsOf("f0").length === 1, { timeout: 10000, what: "f0 unfollowed by her server" });
  await page.reload();
  await row(page, "f0").locator(".what", { hasText: "follow undone" }).waitFor();
  await page.locator("#contacts-counts", { hasText: "Followed for you: 2." }).waitFor();

  const all = page.locator("#undo-all");
  assert.equal(await all.innerText(), "Undo every follow made for me");
  await all.click();
  assert.equal(await all.innerText(), "Press again to undo all 2 follows made for you", "asked once more");
  assert.equal(unfollowsOf("f1").length, 0, "nothing undone on the first press");
  await all.click();
  await page.locator("#contacts-status", { hasText: "Your server will undo 2 follows shortly." }).waitFor();
  await eventually(() => unfollowsOf("f1").length === 1 && unfollowsOf("f2").length === 1, { timeout: 10000, what: "f1 and f2 unfollowed" });
  assert.equal(unfollowsOf("f0").length, 1, "f0 not twice");
  await page.reload();
  for (const n of ["f0", "f1", "f2"]) await row(page, n).locator(".what", { hasText: "follow undone" }).waitFor();
  assert.equal(await page.locator("#undo-all").isVisible(), false, "nothing left to undo");
  await assertNoProblems(p);
});

test("in French", async (t) => {
  const p = await open(t, { locale: "fr-FR", extraHTTPHeaders: { "Accept-Language": "fr" } });
  const { page } = p;
  await page.locator("#contacts h2", { hasText: "Vos anciens contacts X qui sont ici" }).waitFor();
  await row(page, "f0").locator(".what", { hasText: "suivi annulé" }).waitFor();
  assert.deepEqual(await row(page, "f0").getByRole("button").allInnerTexts(), ["Rétablir"]);
  await assertNoProblems(p);
});

test("more than a page: the first 100, then the rest with Show more, none twice", async (t) => {
  const miaId = await s.psql(`SELECT id FROM members WHERE actor_uri = ${sq(h.actor("mia").id)}`);
  await s.psql(`INSERT INTO members (actor_uri, acct, host, x_id, x_handle, state, linked_at)
                SELECT 'https://many.example/users/m' || i, 'm' || i || '@many.example', 'many.example', 9100 + i, 'many' || i, 'linked', now() - interval '2 days'
                FROM generate_series(1, 105) i;
                INSERT INTO x_edges SELECT 8000, 9100 + i, ${miaId} FROM generate_series(1, 105) i;
                INSERT INTO contacts (member_id, dir, contact_id) SELECT ${miaId}, 'following', id FROM members WHERE host = 'many.example'`);
  const p = await open(t);
  const { page } = p;
  await page.locator("#contacts-counts", { hasText: "Found: 108 you followed on X" }).waitFor();
  assert.equal(await page.locator("#contact-list li").count(), 100, "a page of 100");
  await page.getByRole("button", { name: "Show more" }).click();
  await page.locator("#contact-list li").nth(107).waitFor();
  assert.equal(await page.locator("#contact-list li").count(), 108);
  const ids = await page.locator("#contact-list li").evaluateAll((els) => els.map((e) => e.dataset.xId));
  assert.equal(new Set(ids).size, 108, "none twice");
  assert.equal(await page.locator("#contacts-more").isVisible(), false, "no more after the last page");
  await assertNoProblems(p);
});
