// "Verify with X" on the link page, in Chromium, against the real server and PostgreSQL, with
// X played by its test double (tests/lib/xapi.mjs) on another loopback origin: the card and
// its button appear only when the bridge has an X app; the button goes to X's authorize page,
// which sends the browser back; the page says X confirmed the account and hides the button.
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { launchBrowser, member, useSession, MEMBER_CONFIG } from "../lib/browser.mjs";
import { startXApi } from "../lib/xapi.mjs";

let s, plain, h, x, browser;

setup(async () => {
  x = await startXApi({ clientId: "page-x" });
  s = await startServer({ config: { ...MEMBER_CONFIG, x_client_id: "page-x", x_authorize_url: x.authorizeUrl, x_api_base: x.apiBase } });
  x.control({ redirectUri: `${s.url}/link/x/callback`, user: { id: "5150000000000000001", name: "Alice", username: "alice_on_x" } });
  plain = await startServer({ config: { ...MEMBER_CONFIG } });
  h = await startActorHost({ actors: [{ name: "alice" }, { name: "bob" }] });
  browser = await launchBrowser();
});
teardown(async () => {
  if (browser) await browser.close();
  await h?.stop();
  await x?.stop();
  for (const srv of [s, plain]) if (srv) assert.equal(await srv.stop(), 0, "serve exit code after SIGTERM");
});

test("offered: the button goes to X and back; the page says the account is verified", async (t) => {
  const m = await member(s, h, "alice");
  const p = await browser.newPage(t);
  const { page } = p;
  await useSession(p, s, m);
  await page.goto(`${s.url}/link`);
  await page.locator("#xverify:not([hidden])").waitFor();
  assert.equal(await page.locator("#xverify h2").innerText(), "Verify with X");
  await page.getByRole("button", { name: "Verify with X" }).click();
  await page.locator("#xverify-result", { hasText: "X confirmed your account: your claim is verified." }).waitFor();
  assert.equal(new URL(page.url()).pathname, "/link");
  assert.equal(new URL(page.url()).search, "", "?x= is taken off the address");
  assert.equal(await page.locator("#xverify-btn").isVisible(), false, "no button once verified");
  assert.equal(await page.locator("#xverify-state").innerText(), "X confirmed that this X account is yours.");
  assert.equal(await s.psql(`SELECT x_id || ':' || x_handle || ':' || (x_verified_at IS NOT NULL) FROM members WHERE actor_uri = '${h.actor("alice").id}'`), "5150000000000000001:alice_on_x:true");
});

test("not offered: no card, no button", async (t) => {
  const m = await member(plain, h, "bob");
  const p = await browser.newPage(t);
  const { page } = p;
  await useSession(p, plain, m);
  await page.goto(`${plain.url}/link`);
  await page.locator("#consents:not([hidden])").waitFor();
  await page.waitForFunction(() => document.getElementById("member")?.hidden === false);
  assert.equal(await page.locator("#xverify").isVisible(), false);
  assert.equal(await page.locator("#xverify-btn").isVisible(), false);
});
