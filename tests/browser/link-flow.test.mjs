// The whole member flow through the real page in Chromium, against the real server and
// PostgreSQL: a person follows the bridge (from a Node ActivityPub actor host), opens the
// one-time link from the direct message, picks a generated X archive, sees the counts,
// sends, sets consents; a reload shows what was stored; a spent link says it has expired;
// another site's form cannot spend a link (login CSRF).
import assert from "node:assert/strict";
import http from "node:http";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { launchBrowser, assertOnlyOrigin, assertNoProblems, MEMBER_CONFIG, join } from "../lib/browser.mjs";
import { xArchive, zipBuffer } from "../lib/xarchive.mjs";

let s;
let h;
let browser;

setup(async () => {
  s = await startServer({ config: MEMBER_CONFIG });
  h = await startActorHost({ actors: [{ name: "alice" }, { name: "mallory" }] });
  browser = await launchBrowser();
});
teardown(async () => {
  if (browser) await browser.close();
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const digits = (text) => text.replace(/\D/g, "");
let code;

test("follow, open the link, pick the archive, see the counts, send, choose; a reload shows it all", async (t) => {
  ({ code } = await join(s, h, "alice"));
  // fr-FR: the browser says Accept-Language: fr-FR, and the server picks French from it.
  const p = await browser.newPage(t, { locale: "fr-FR" });
  const { page } = p;
  await page.goto(`${s.url}/link/${code}`);
  // The link only names the account (a preview crawler's GET spends nothing); the click does.
  assert.equal(new URL(page.url()).pathname, `/link/${code}`, "the link shows a page of its own first");
  assert.deepEqual(await p.context.cookies(), [], "no session before Continue");
  await page.getByRole("button", { name: `Continuer en tant que @alice@${new URL(h.url).host}` }).click();
  await page.waitForURL(`${s.url}/link`);
  assert.equal(new URL(page.url()).pathname, "/link", "the code is exchanged, then /link");
  assert.deepEqual(p.requests.filter((r) => r.method !== "GET").map((r) => `${r.method} ${new URL(r.url).pathname}`), [`POST /link/${code}`], "the click posts the code");
  const opened = p.requests.length;
  await page.locator("#member:not([hidden])").waitFor();
  assert.equal(await page.locator("h1").innerText(), "Reliez votre archive X");
  assert.equal(await page.locator("#member").innerText(), `Compte du fédivers\u00a0: @alice@${new URL(h.url).host}`);

  const a = xArchive({ username: "alrocar", accountId: "52338276", followers: 1333, following: 80, followerParts: 2 });
  await page.locator("#file").setInputFiles({ name: "twitter-2024-11-16.zip", mimeType: "application/zip", buffer: zipBuffer(a.entries) });
  await page.locator("#summary:not([hidden])").waitFor();
  assert.equal(await page.locator("#s-handle").innerText(), "@alrocar");
  assert.equal(digits(await page.locator("#s-followers").innerText()), "1333");
  assert.equal(await page.locator("#s-following").innerText(), "80");
  assert.equal(p.requests.slice(opened).filter((r) => r.method !== "GET").length, 0, "nothing sent before Send");

  await page.getByRole("button", { name: "Envoyer ces listes" }).click();
  await page.locator("#send-status", { hasText: "C'est fait." }).waitFor();
  const done = await page.locator("#send-status").innerText();
  assert.match(done, /^C'est fait\. passerelle a relié @alrocar\u00a0: 1\s?333 abonnés, 80 abonnements\.$/, done);
  assert.equal(await s.psql("SELECT x_id || ' ' || x_handle FROM members"), "52338276 alrocar");
  assert.equal(await s.psql("SELECT count(*) FROM x_edges"), String(1333 + 80));

  await page.getByLabel("On peut me trouver par mon ancien nom X").uncheck();
  await page.getByLabel("Relayez mes publications publiques").check();
  await page.getByRole("button", { name: "Enregistrer mes choix" }).click();
  await page.locator("#consent-status", { hasText: "Enregistré." }).waitFor();
  assert.equal(await s.psql("SELECT findable || ' ' || notify || ' ' || autofollow || ' ' || relay FROM members"), "false true false true");

  await page.reload();
  await page.locator("#linked:not([hidden])").waitFor();
  assert.match(await page.locator("#linked").innerText(), /^Déjà relié\u00a0: @alrocar \(1\s?333 abonnés, 80 abonnements\)/);
  assert.equal(await page.locator("#c-findable").isChecked(), false, "findable as saved");
  assert.equal(await page.locator("#c-relay").isChecked(), true, "relay as saved");
  assertOnlyOrigin(p, s.url);
  await assertNoProblems(p);
});

test("the same link a second time: the page says it has expired and offers nothing", async (t) => {
  assert.ok(code, "the first test got a code");
  const p = await browser.newPage(t);
  await p.page.goto(`${s.url}/link/${code}`);
  assert.equal(new URL(p.page.url()).pathname, "/link", "a spent code leads straight to the page");
  await p.page.locator("#notice:not(:empty)").waitFor();
  assert.match(await p.page.locator("#notice").innerText(), /^This link has expired or was already used\. Send “link” to @passerelle@/);
  assert.equal(await p.page.locator("#archive").isVisible(), false);
  assert.equal(await p.page.locator("#consents").isVisible(), false);
  assertOnlyOrigin(p, s.url);
  // Chromium logs the 401 of GET /link/state; that is the expected answer here.
  await assertNoProblems(p, [/status of 401 .*\/link\/state/]);
});

// Mallory sends the victim a page of her own site whose form posts Mallory's fresh code: had
// it worked, the victim's browser would hold Mallory's session, and the X archive the victim
// then drops would be linked to Mallory's member.
test("another site's form posting a fresh code: 403, no session, the code still valid", async (t) => {
  const { code } = await join(s, h, "mallory");
  const site = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><title>win</title><form method="post" action="${s.url}/link/${code}"><button>Claim your prize</button></form>`);
  });
  await new Promise((r) => site.listen(0, "127.0.0.1", r));
  t.defer(() => new Promise((r) => site.close(r)));
  const p = await browser.newPage(t);
  // localhost is another site than 127.0.0.1 for the browser (and its port another origin).
  await p.page.goto(`http://localhost:${site.address().port}/`);
  const answer = p.page.waitForResponse((r) => r.url() === `${s.url}/link/${code}`);
  await p.page.getByRole("button", { name: "Claim your prize" }).click();
  const r = await answer;
  assert.equal(r.status(), 403, "the cross-site POST is refused");
  assert.equal((await r.request().allHeaders())["sec-fetch-site"], "cross-site", "Chromium said where the form came from");
  assert.deepEqual(await p.context.cookies(s.url), [], "no session cookie");
  assert.equal(await s.psql(`SELECT used_at IS NULL FROM link_codes WHERE hash = sha256('${code}'::bytea)`), "t", "the code is still valid");
  // Mallory's own click, on the page her link shows, still works.
  const own = await browser.newPage(t);
  await own.page.goto(`${s.url}/link/${code}`);
  await own.page.getByRole("button", { name: /^Continue as @mallory@/ }).click();
  await own.page.locator("#member:not([hidden])").waitFor();
  assert.equal((await own.context.cookies(s.url)).length, 1);
});
