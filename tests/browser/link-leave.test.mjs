// "Forget me" on the link page, in Chromium against the real server and PostgreSQL: the last
// card offers it in the member's language; a first click only asks, nothing is sent; the second
// sends POST /link/leave with the page's CSRF token, and the member and their session are gone (the page says so, GET /link/state answers 401). The texts in the seven
// languages are checked by link-page's language switch and it/linkpage_texts.
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { launchBrowser, assertNoProblems, member, useSession, api, MEMBER_CONFIG } from "../lib/browser.mjs";

let s, h, browser;

setup(async () => {
  s = await startServer({ config: MEMBER_CONFIG });
  h = await startActorHost({ actors: [{ name: "alice" }, { name: "bob" }, { name: "carol" }] });
  browser = await launchBrowser();
});
teardown(async () => {
  if (browser) await browser.close();
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const rows = async (name) =>
  (await s.psql(`SELECT count(*) FROM members WHERE actor_uri = '${h.actor(name).id}'`)).trim();

test("Forget me: asked once more, then the member is gone and the page says so", async (t) => {
  const m = await member(s, h, "alice");
  const kept = await member(s, h, "bob");
  const p = await browser.newPage(t);
  const { page } = p;
  await useSession(p, s, m);
  await page.goto(`${s.url}/link`);
  await page.locator("#leave:not([hidden])").waitFor();
  assert.equal(await page.locator("#leave h2").innerText(), "Leave passerelle");

  const posts = [];
  page.on("request", (r) => {
    if (r.method() === "POST") posts.push({ path: new URL(r.url()).pathname, csrf: r.headers()["x-csrf-token"] });
  });
  await page.getByRole("button", { name: "Forget me", exact: true }).click();
  await page.locator("#leave-sure:not([hidden])").waitFor();
  assert.match(await page.locator("#leave-sure").innerText(), /Are you sure\?/);
  assert.deepEqual(posts, [], "the first click sends nothing");
  assert.equal(await rows("alice"), "1", "still a member");

  await page.getByRole("button", { name: "Yes, forget me" }).click();
  await page.locator("#notice", { hasText: "passerelle has forgotten you" }).waitFor();
  assert.deepEqual(posts, [{ path: "/link/leave", csrf: m.csrf }], "one POST /link/leave with the page's token");
  assert.equal(await rows("alice"), "0", "the member is forgotten");
  assert.equal(await rows("bob"), "1", "another member stays");
  assert.equal(await page.locator("#archive").isVisible(), false, "the cards are gone");
  assert.equal(await page.locator("#leave").isVisible(), false);
  assert.equal((await api(s, m, "/link/state")).status, 401, "the session went with the member");
  assert.equal((await api(s, kept, "/link/state")).status, 200);
  await assertNoProblems(p);
});

test("in French: the card and both buttons in the member's language", async (t) => {
  const m = await member(s, h, "carol");
  const p = await browser.newPage(t, { locale: "fr-FR", extraHTTPHeaders: { "Accept-Language": "fr" } });
  const { page } = p;
  await useSession(p, s, m);
  await page.goto(`${s.url}/link`);
  await page.locator("#leave:not([hidden])").waitFor();
  assert.equal(await page.locator("#leave h2").innerText(), "Quitter passerelle");
  await page.getByRole("button", { name: "M'oublier", exact: true }).click();
  await page.getByRole("button", { name: "Oui, m'oublier" }).click();
  await page.locator("#notice", { hasText: "passerelle vous a oublié" }).waitFor();
  assert.equal(await rows("carol"), "0");
  await assertNoProblems(p);
});
