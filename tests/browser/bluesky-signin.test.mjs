// Signing in with Bluesky in Chromium, through the reference PDS's own OAuth pages: from
// passerelle's start page (a handle typed), to the PDS's sign-in and consent screens, back to
// the member's page, signed in. passerelle is a confidential client on an https name
// (tests/lib/bluesky.mjs: native TLS, a test CA, the name mapped to 127.0.0.1 for the PDS's
// process and for Chromium).
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startPds } from "../lib/pds.mjs";
import { launchBrowser } from "../lib/browser.mjs";
import { bridgeHosts, makeCa, startBridge, BRIDGE_NAME } from "../lib/bluesky.mjs";

let pds, ca, s, browser, alice, bob;

setup(async () => {
  ca = makeCa();
  pds = await startPds({ hosts: bridgeHosts(), caFile: ca.caFile });
  s = await startBridge(pds, ca);
  [alice, bob] = await Promise.all(["alice", "bob"].map((n) => pds.createAccount(n)));
  browser = await launchBrowser({ extraArgs: [`--host-resolver-rules=MAP ${BRIDGE_NAME} 127.0.0.1`] });
});
teardown(async () => {
  if (browser) await browser.close();
  await s?.stop();
  await pds?.stop();
});

// The page's text, for a failure's message.
const text = async (page) => (await page.locator("body").innerText().catch(() => "")).slice(0, 1500);

async function throughPds(page, account, choice = /^authorize$/i) {
  await page.waitForURL(`${pds.url}/oauth/authorize?**`);
  const password = page.locator('input[type="password"]').first();
  await password.waitFor().catch(async (e) => assert.fail(`no password field on the PDS's page: ${e.message}\n${await text(page)}`));
  const identifier = page.locator('input:not([type="password"]):not([type="checkbox"]):not([type="hidden"])').first();
  if ((await identifier.inputValue()) !== account.handle) await identifier.fill(account.handle);
  await password.fill(account.password);
  await page.getByRole("button", { name: /^(sign in|next)$/i }).first().click();
  // The consent screen: its "Authorize" button, and the choice made there.
  const authorize = page.getByRole("button", { name: /^authorize$/i });
  await authorize.waitFor().catch(async (e) => assert.fail(`no consent screen: ${e.message}\n${await text(page)}`));
  await page.getByRole("button", { name: choice }).last().click();
}

test("a handle typed on the start page, the PDS's own sign-in and consent, the member's page", async (t) => {
  const p = await browser.newPage(t, { ignoreHTTPSErrors: true });
  const { page } = p;
  await page.goto(`${s.url}/`);
  await page.getByLabel("Your address").fill("alice.test");
  await page.getByRole("button", { name: "Continue" }).click();
  await throughPds(page, alice);
  await page.waitForURL(`${s.url}/link`).catch(async (e) => assert.fail(`${e.message}\n${await text(page)}`));
  await page.locator("#member:not([hidden])").waitFor();
  assert.match(await page.locator("#member").innerText(), /alice\.test/);
  assert.equal(
    (await s.psql(`SELECT m.network || ' ' || m.acct || ' ' || g.kind FROM members m JOIN atproto_grants g ON g.member_id = m.id`)).trim(),
    "atproto alice.test oauth",
  );
  // The page's own requests carry the session: the grant works at the PDS.
  const c = await page.evaluate(async () => (await fetch("/link/bluesky")).json());
  assert.equal(c.connected, true);
  assert.equal(c.did, alice.did);
});

test("refused on the PDS's consent screen: back to passerelle's refusal page, nothing kept", async (t) => {
  const p = await browser.newPage(t, { ignoreHTTPSErrors: true });
  const { page } = p;
  await page.goto(`${s.url}/signin/bluesky/start?handle=bob.test`);
  await throughPds(page, bob, /^(deny|decline|cancel|reject|deny access)$/i);
  await page.waitForURL(`${s.url}/signin/bluesky/callback?**`);
  assert.match(await page.locator("#signin-error").innerText(), /did not allow/i);
  assert.equal((await s.psql(`SELECT count(*) FROM members WHERE actor_uri = '${bob.did}'`)).trim(), "0");
  assert.equal((await s.psql(`SELECT count(*) FROM atproto_states`)).trim(), "0", "the state is spent");
});
