// The page's side of its API contract, with every answer the page must handle:
//   GET  /link/state     -> {csrf, member, handle, followers, following, consents, lang} or 401
//   POST /link/archive   (application/zip, X-CSRF-Token) -> {handle, x_id, followers, following}
//   POST /link/consents  (JSON {findable, notify, autofollow, relay}, X-CSRF-Token)
// Those three are answered here by Playwright (page.route), so what is checked is what the
// page sends (only the four kinds of files, no e-mail) and how it shows each answer,
// including those hard to provoke for real (413, 409, 500, a lost session); the page, its
// CSS and JS come from the real server. link-flow.test.mjs runs the real flow end to end.
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { launchBrowser, assertOnlyOrigin, assertNoProblems, stubLinkApi, NEW_MEMBER } from "../lib/browser.mjs";
import { xArchive, zipBuffer, readZip, looseFiles } from "../lib/xarchive.mjs";

let s;
let browser;

setup(async () => {
  s = await startServer();
  browser = await launchBrowser();
});
teardown(async () => {
  if (browser) await browser.close();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const STATE = NEW_MEMBER;
// Chromium logs every 4xx/5xx answer as a console error; the stubbed ones are expected.
const STUBBED_ERRORS = [/Failed to load resource: the server responded with a status of (401|409|413|500)/];

// Opens /link with the three endpoints answered by the given stubs ({status, json} each, or
// a function of the request). calls records what the page sent to them.
async function openStubbed(t, { state = { status: 200, json: STATE }, archive, consents, locale } = {}) {
  const p = await browser.newPage(t, locale ? { locale } : {});
  const calls = await stubLinkApi(p.page, s.url, { state, archive, consents });
  await p.page.goto(`${s.url}/link`);
  await p.page.locator("#archive, #notice:not(:empty)").first().waitFor();
  return { ...p, calls };
}

async function pickAndWait(page, files) {
  await page.locator("#file").setInputFiles(files);
  await page.locator("#summary:not([hidden]), #archive-error:not(:empty)").first().waitFor();
  assert.equal(await page.locator("#archive-error").innerText(), "", "the archive was read");
}

const zipFile = (buffer) => ({ name: "twitter-2024.zip", mimeType: "application/zip", buffer });
const names = (entries) => entries.map((e) => e.name).sort();

// The JSON inside "window.YTD.x.part0 = [...]".
const unwrap = (buf) => JSON.parse(buf.toString("utf8").slice(buf.toString("utf8").indexOf("=") + 1));

test("state: the language, the member, a linked handle and the stored consents", async (t) => {
  const p = await openStubbed(t, {
    state: {
      status: 200,
      json: {
        ...STATE,
        lang: "fr",
        handle: "alice_x",
        followers: 12,
        following: 3,
        consents: { findable: false, notify: true, autofollow: true, relay: false },
      },
    },
  });
  const { page } = p;
  await page.locator("#member:not([hidden])").waitFor();
  assert.equal(await page.locator("h1").innerText(), "Reliez votre archive X", "lang from the state wins over the browser's");
  assert.equal(await page.locator("#member").innerText(), "Compte du fédivers\u00a0: @alice@mastodon.example");
  assert.match(await page.locator("#linked").innerText(), /^Déjà relié\u00a0: @alice_x \(12 abonnés, 3 abonnements\)/);
  const checked = {};
  for (const k of ["findable", "notify", "autofollow", "relay"]) checked[k] = await page.locator(`#c-${k}`).isChecked();
  assert.deepEqual(checked, { findable: false, notify: true, autofollow: true, relay: false });
  await page.getByRole("button", { name: "English" }).click();
  assert.match(await page.locator("#linked").innerText(), /^Already linked: @alice_x \(12 followers, 3 following\)/);
  assert.equal(p.calls.state.length, 1);
  assert.equal(p.calls.state[0].method, "GET");
  assertOnlyOrigin(p, s.url);
  await assertNoProblems(p);
});

test("state 401: the link has expired, said plainly, and nothing is offered", async (t) => {
  const p = await openStubbed(t, { state: { status: 401, json: { error: "expired" } } });
  const host = new URL(s.url).host;
  assert.equal(
    await p.page.locator("#notice").innerText(),
    `This link has expired or was already used. Send “link” to @passerelle@${host} in a direct message to get a new one.`,
  );
  assert.equal(await p.page.locator("#archive").isVisible(), false, "no archive picker");
  assert.equal(await p.page.locator("#consents").isVisible(), false, "no consents");
  const q = await openStubbed(t, { state: { status: 401, json: { error: "expired", bridge: "@pont@bridge.example" } } });
  assert.match(await q.page.locator("#notice").innerText(), /Send “link” to @pont@bridge\.example /, "the bridge's name when the server gives it");
  await assertNoProblems(p, STUBBED_ERRORS);
});

test("sending: a new zip with only account, manifest and the lists, no e-mail, CSRF header; the answer shown", async (t) => {
  const p = await openStubbed(t, {
    archive: { status: 200, json: { handle: "alrocar", x_id: "52338276", followers: 1333, following: 80 } },
  });
  const a = xArchive({ username: "alrocar", accountId: "52338276", followers: 1333, following: 80, followerParts: 2 });
  const extra = [
    { name: "data/direct-messages.js", data: "window.YTD.direct_messages.part0 = []" },
    { name: "data/tweets_media/1-a.jpg", data: Buffer.alloc(5000, 1) },
  ];
  await pickAndWait(p.page, zipFile(zipBuffer([...a.entries, ...extra])));
  assert.equal(p.calls.archive.length, 0, "nothing sent before the click");
  await p.page.getByRole("button", { name: "Send these lists" }).click();
  await p.page.locator("#send-status", { hasText: "Done." }).waitFor();
  assert.equal(
    await p.page.locator("#send-status").innerText(),
    "Done. passerelle linked @alrocar: 1,333 followers, 80 following.",
  );
  assert.equal(p.calls.archive.length, 1, "one upload");
  const up = p.calls.archive[0];
  assert.equal(up.method, "POST");
  assert.equal(up.headers["content-type"], "application/zip");
  assert.equal(up.headers["x-csrf-token"], STATE.csrf);
  const sent = readZip(up.body);
  assert.deepEqual(names(sent), [
    "data/account.js",
    "data/follower-part1.js",
    "data/follower.js",
    "data/following.js",
    "data/manifest.js",
  ]);
  for (const e of sent.filter((x) => x.name !== "data/account.js")) {
    const original = a.entries.find((o) => o.name === e.name);
    assert.ok(original.data.equals(e.data), `${e.name} is sent as it was`);
  }
  const account = sent.find((e) => e.name === "data/account.js").data.toString("utf8");
  assert.match(account, /^window\.YTD\.account\.part0 = \[/);
  assert.deepEqual(unwrap(Buffer.from(account)), [
    { account: { accountId: "52338276", username: "alrocar", accountDisplayName: "Alice" } },
  ]);
  assert.doesNotMatch(account, /example\.org|email/, "the e-mail address stays on the device");
  assert.equal(await p.page.locator("#progress").isVisible(), false, "the progress bar is gone");
  assertOnlyOrigin(p, s.url);
  await assertNoProblems(p);
});

test("sending loose files: the same names under data/", async (t) => {
  const p = await openStubbed(t, {
    archive: { status: 200, json: { handle: "carol", x_id: "1", followers: 4, following: 2 } },
  });
  const a = xArchive({ username: "carol", followers: 4, following: 2, manifest: false });
  await pickAndWait(p.page, looseFiles(a.entries));
  await p.page.getByRole("button", { name: "Send these lists" }).click();
  await p.page.locator("#send-status", { hasText: "Done." }).waitFor();
  const sent = readZip(p.calls.archive[0].body);
  assert.deepEqual(names(sent), ["data/account.js", "data/follower.js", "data/following.js"]);
  assert.ok(sent.find((e) => e.name === "data/follower.js").data.equals(a.entries.find((e) => e.name === "data/follower.js").data));
  await assertNoProblems(p);
});

test("sending refused: 413, 409 with the server's reason, 500, then 401", async (t) => {
  const answers = [
    { status: 413, json: { error: "too large" } },
    { status: 409, json: { error: "this X account is already claimed" } },
    { status: 500, json: { error: "internal" } },
    { status: 401, json: { error: "expired" } },
  ];
  const p = await openStubbed(t, { archive: () => answers.shift() });
  await pickAndWait(p.page, zipFile(zipBuffer(xArchive().entries)));
  const send = p.page.getByRole("button", { name: "Send these lists" });
  const status = p.page.locator("#send-status");
  const expect = [
    "passerelle refused these lists: they are larger than this server accepts.",
    "passerelle refused these lists: this X account is already claimed",
    "Sending failed (error 500). Please try again.",
  ];
  for (const want of expect) {
    await send.click();
    await p.page.locator("#send-status", { hasText: want }).waitFor();
    assert.equal(await status.innerText(), want);
    assert.equal(await send.isEnabled(), true, "Send can be tried again");
  }
  await send.click();
  await p.page.locator("#notice", { hasText: "This link has expired" }).waitFor();
  assert.equal(await p.page.locator("#archive").isVisible(), false);
  assert.equal(p.calls.archive.length, 4);
  await assertNoProblems(p, STUBBED_ERRORS);
});

test("consents: saved as JSON with the CSRF token; a failure is said", async (t) => {
  const answers = [{ status: 200, json: {} }, { status: 500, json: { error: "internal" } }];
  const p = await openStubbed(t, { consents: () => answers.shift() });
  const { page } = p;
  await page.getByLabel("People can find me by my old X handle").uncheck();
  await page.getByLabel("Relay my public posts").check();
  const save = page.getByRole("button", { name: "Save my choices" });
  await save.click();
  await page.locator("#consent-status", { hasText: "Saved." }).waitFor();
  const c = p.calls.consents[0];
  assert.equal(c.method, "POST");
  assert.equal(c.headers["content-type"], "application/json");
  assert.equal(c.headers["x-csrf-token"], STATE.csrf);
  assert.deepEqual(JSON.parse(c.body.toString("utf8")), { findable: false, notify: true, autofollow: false, relay: true });
  await save.click();
  await page.locator("#consent-status", { hasText: "error 500" }).waitFor();
  assert.equal(await page.locator("#consent-status").innerText(), "Your choices could not be saved (error 500). Please try again.");
  await assertNoProblems(p, STUBBED_ERRORS);
});

test("state unreachable: the archive can still be checked; sending asks for the link and sends nothing", async (t) => {
  const p = await openStubbed(t, { state: { status: 500, json: { error: "internal" } } });
  await p.page.locator("#notice:not(:empty)").waitFor();
  assert.match(await p.page.locator("#notice").innerText(), /^passerelle cannot be reached right now/);
  await pickAndWait(p.page, zipFile(zipBuffer(xArchive({ followers: 2 }).entries)));
  await p.page.getByRole("button", { name: "Send these lists" }).click();
  assert.match(await p.page.locator("#send-status").innerText(), /^To send anything, this page needs the link passerelle sent you/);
  await p.page.getByRole("button", { name: "Save my choices" }).click();
  assert.match(await p.page.locator("#consent-status").innerText(), /^To send anything, this page needs the link/);
  assert.equal(p.calls.archive.length + p.calls.consents.length, 0, "nothing was sent");
  await assertNoProblems(p, STUBBED_ERRORS);
});
