// "Following for you" on the link page, in Chromium, against the real server and PostgreSQL,
// with the member's home played by the Mastodon client-API test double on their actor's
// origin: the card appears once autofollow is saved, the button goes to the member's server,
// which sends the browser back; the page says how it ended (English and French), shows the
// grant and its follows, and disconnects. A bridge without token_key_file says it cannot.
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { launchBrowser, assertNoProblems, member, useSession, api, MEMBER_CONFIG } from "../lib/browser.mjs";

let s, h, browser;

setup(async () => {
  s = await startServer({ config: { ...MEMBER_CONFIG, follow_poll_ms: "100" } });
  h = await startActorHost({ actors: [{ name: "alice" }, { name: "bob" }, { name: "carol" }], mastodon: true });
  browser = await launchBrowser();
});
teardown(async () => {
  if (browser) await browser.close();
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const grants = (name) => s.psql(`SELECT count(*) FROM oauth_grants g JOIN members m ON m.id = g.member_id WHERE m.actor_uri = '${h.actor(name).id}'`);

// Every request that left our origin: only the member's own server, and only its authorize page.
function away(p) {
  return p.requests.filter((r) => !r.url.startsWith(`${s.url}/`) && !/^(data|blob):/.test(r.url)).map((r) => `${r.method} ${new URL(r.url).origin}${new URL(r.url).pathname}`);
}

test("choose autofollow, connect the server, come back connected, disconnect", async (t) => {
  const m = await member(s, h, "alice");
  h.mastodon.control({ loggedIn: "alice", deny: false });
  const p = await browser.newPage(t);
  const { page } = p;
  await useSession(p, s, m);
  await page.goto(`${s.url}/link`);
  await page.locator("#follows:not([hidden])").waitFor();
  assert.equal(await page.locator("#follows h2").innerText(), "Following for you");
  assert.equal(await page.locator("#connect").isVisible(), false, "no connect button before autofollow is chosen");
  const csv = page.getByRole("link", { name: "Download the list of people found (Mastodon's import format)" });
  assert.equal(await csv.getAttribute("href"), "/me/following.csv");

  await page.getByLabel("Follow them for me").check();
  await page.getByRole("button", { name: "Save my choices" }).click();
  await page.locator("#consent-status", { hasText: "Saved." }).waitFor();
  await page.locator("#connect:not([hidden])").waitFor();
  assert.match(await page.locator("#connect-state").innerText(), /^Your server is not connected yet\./);
  assert.equal(await page.locator("#revoke-btn").isVisible(), false);

  await page.getByRole("button", { name: "Connect your server to follow for you" }).click();
  await page.locator("#oauth-result", { hasText: "Your server is connected: passerelle will follow for you." }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/link");
  assert.equal(new URL(page.url()).search, "", "?oauth= is taken off the address");
  assert.equal(await page.locator("#connect-state").innerText(), `Connected to ${h.domain}. Follows made: 0; waiting: 0; could not be made: 0.`);
  assert.equal(await page.locator("#connect-btn").isVisible(), false);
  assert.equal(await grants("alice"), "1", "the grant is stored");
  assert.deepEqual(away(p), [`GET ${h.url}/oauth/authorize`], "the page left our origin only for the member's authorize page");

  await page.getByRole("button", { name: "Disconnect my server" }).click();
  await page.locator("#oauth-result", { hasText: "Disconnected. Nothing more will be followed in your name." }).waitFor();
  assert.equal(await grants("alice"), "0", "the grant is gone");
  await page.locator("#connect-btn:not([hidden])").waitFor();
  assert.match(await page.locator("#connect-state").innerText(), /^Your server is not connected yet\./);
  await assertNoProblems(p);
});

test("in French, a refusal on the member's server: the page says so, nothing is stored", async (t) => {
  const m = await member(s, h, "bob");
  assert.equal((await api(s, m, "/link/consents", { autofollow: true })).status, 200);
  h.mastodon.control({ loggedIn: "bob", deny: true });
  t.defer(() => h.mastodon.control({ deny: false }));
  const p = await browser.newPage(t, { locale: "fr-FR" });
  const { page } = p;
  await useSession(p, s, m);
  await page.goto(`${s.url}/link`);
  await page.locator("#connect:not([hidden])").waitFor();
  assert.equal(await page.locator("#follows h2").innerText(), "Suivre pour vous");
  await page.getByRole("button", { name: "Connecter votre serveur pour suivre à votre place" }).click();
  await page.locator("#oauth-result", { hasText: "Vous avez refusé sur votre serveur\u00a0: rien n'a été connecté." }).waitFor();
  assert.equal(await grants("bob"), "0");
  assert.equal(await page.getByRole("link", { name: "Télécharger la liste des personnes retrouvées (format d'import de Mastodon)" }).count(), 1);
  await assertNoProblems(p);
});

test("a bridge without token_key_file says it cannot follow for you, and offers the list", async (t) => {
  const s2 = await startServer({ config: { ...MEMBER_CONFIG, token_key_file: null } });
  t.defer(async () => assert.equal(await s2.stop(), 0));
  const m = await member(s2, h, "carol");
  assert.equal((await api(s2, m, "/link/consents", { autofollow: true })).status, 200);
  const p = await browser.newPage(t);
  await useSession(p, s2, m);
  await p.page.goto(`${s2.url}/link`);
  await p.page.locator("#connect:not([hidden])").waitFor();
  assert.match(await p.page.locator("#connect-state").innerText(), /^This bridge cannot follow in your name: its administrator has not set it up\./);
  assert.equal(await p.page.locator("#connect-btn").isVisible(), false);
  assert.equal(await p.page.locator("#csv-link").isVisible(), true);
  await assertNoProblems(p);
});
