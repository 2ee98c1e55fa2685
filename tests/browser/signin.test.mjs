// Joining from the web in Chromium, against the real server and PostgreSQL, with the person's
// home played by an actor host carrying the Mastodon client-API test double and its consent
// screen: from the start page's form, through the person's own server's "Authorize", to their
// page, signed in; with "follow for me", that one consent also connects their server. Another
// account signed in on that server gets the refusal page, in the browser's language.
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { launchBrowser, assertNoProblems, MEMBER_CONFIG } from "../lib/browser.mjs";

let s, h, browser;

setup(async () => {
  s = await startServer({ config: { ...MEMBER_CONFIG, follow_poll_ms: "100" } });
  h = await startActorHost({ actors: [{ name: "alice" }, { name: "bob" }, { name: "carol" }], mastodon: true });
  h.mastodon.control({ consentPage: true });
  browser = await launchBrowser();
});
teardown(async () => {
  if (browser) await browser.close();
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const memberRow = (name) => s.psql(`SELECT m.autofollow, g.host IS NOT NULL FROM members m LEFT JOIN oauth_grants g ON g.member_id = m.id WHERE m.actor_uri = '${h.actor(name).id}'`);

// Every page the browser opened away from our origin.
function away(p) {
  return p.requests.filter((r) => !r.url.startsWith(`${s.url}/`) && !/^(data|blob):/.test(r.url)).map((r) => `${r.method} ${new URL(r.url).origin}${new URL(r.url).pathname}`);
}

test("from the start page through the server's consent screen to the member's page", async (t) => {
  h.mastodon.control({ loggedIn: "alice" });
  const p = await browser.newPage(t);
  const { page } = p;
  await page.goto(`${s.url}/`);
  assert.equal(await page.locator("#signin h2").innerText(), "Start with your account");
  assert.equal(await page.locator("#members").count(), 1, "the status is still on the page");
  await page.getByLabel("Your address").fill(`@alice@${h.domain}`);
  await page.getByRole("button", { name: "Continue" }).click();

  // The person's own server asks them.
  await page.waitForURL(`${h.url}/oauth/authorize?**`);
  assert.equal(await page.locator("h1").innerText(), "Authorization required");
  assert.deepEqual(await page.locator("#scopes li").allInnerTexts(), ["read:accounts"], "sign-in only: whose account it is");
  await page.getByRole("button", { name: "Authorize" }).click();

  // Back on passerelle, signed in: their page, naming them.
  await page.waitForURL(`${s.url}/link`);
  await page.locator("#member:not([hidden])").waitFor();
  assert.match(await page.locator("#member").innerText(), new RegExp(`alice@${h.domain.replace(/[.]/g, "\\.")}`));
  await page.locator("#archive:not([hidden])").waitFor();
  assert.equal(await memberRow("alice"), "f|f", "a member, no grant");
  assert.deepEqual(
    [...new Set(away(p))],
    [`GET ${h.url}/oauth/authorize`, `POST ${h.url}/oauth/authorize`],
    "the browser left our origin only for the person's consent screen",
  );
  await assertNoProblems(p);
});

test("follow my former contacts: one consent screen signs in and connects the server", async (t) => {
  h.mastodon.control({ loggedIn: "bob" });
  const before = h.mastodon.snapshot().authorizations.length;
  const p = await browser.newPage(t);
  const { page } = p;
  await page.goto(`${s.url}/`);
  await page.getByLabel("Your address").fill(`bob@${h.domain}`);
  await page.getByLabel("Follow my former X contacts for me").check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${h.url}/oauth/authorize?**`);
  assert.deepEqual(await page.locator("#scopes li").allInnerTexts(), ["read:accounts", "read:search", "write:follows", "read:lists", "write:lists"]);
  await page.getByRole("button", { name: "Authorize" }).click();
  await page.waitForURL(`${s.url}/link`);
  await page.locator("#follows:not([hidden])").waitFor();
  await page.locator("#connect-state", { hasText: `Connected to ${h.domain}.` }).waitFor();
  assert.equal(await page.locator("#c-autofollow").isChecked(), true, "autofollow is on");
  assert.equal(h.mastodon.snapshot().authorizations.length, before + 1, "one authorization");
  assert.equal(await memberRow("bob"), "t|t", "autofollow on, the grant stored");
  await assertNoProblems(p);
});

test("in French, another account signed in on that server: the refusal page, no session", async (t) => {
  h.mastodon.control({ loggedIn: "alice" }); // carol is typed
  const p = await browser.newPage(t, { locale: "fr-FR" });
  const { page } = p;
  await page.goto(`${s.url}/`);
  assert.equal(await page.locator("#signin h2").innerText(), "Commencer avec votre compte");
  await page.getByLabel("Votre adresse").fill(`carol@${h.domain}`);
  await page.getByRole("button", { name: "Continuer" }).click();
  await page.waitForURL(`${h.url}/oauth/authorize?**`);
  await page.getByRole("button", { name: "Authorize" }).click();
  await page.locator("#signin-error").waitFor();
  assert.equal(
    await page.locator("#signin-error").innerText(),
    `Votre serveur vous a connecté avec un autre compte que carol@${h.domain}. Déconnectez-vous-y, ou saisissez l'adresse de ce compte.`,
  );
  assert.equal(await memberRow("carol"), "", "no member for carol");
  const cookies = await p.context.cookies(s.url);
  assert.equal(cookies.some((c) => c.name === "passerelle_link"), false, "no page session");
  await page.getByRole("link", { name: "Retour à la page d'accueil" }).click();
  await page.waitForURL(`${s.url}/`);
  await assertNoProblems(p, [/403/]);
});
