// The link page in a real Chromium against the real server: it opens generated X archives
// in the browser and shows the handle and counts before anything is sent; plain-words
// errors; loose files, parts, ZIP64 and a 4.5 GB archive of which only the small files are
// read; drag and drop; the seven languages and their switch; keyboard; and nothing ever requested outside the server's
// origin, no CSP violation.
//
// The session is real: in setup a member joins (a signed Follow of the bridge from a
// loopback actor host), and the one-time code of their welcome message is spent for the
// session cookie, which each test's fresh browser context gets. The server answers
// GET /link/state; the archives are only read here, never sent (checked at the end, in the
// database too). Sending is in link-contract.test.mjs and link-flow.test.mjs.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test, setup, teardown, onExit } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { launchBrowser, assertOnlyOrigin, assertNoProblems, MEMBER_CONFIG, member, useSession } from "../lib/browser.mjs";
import { xArchive, zipBuffer, writeZip, looseFiles, ytd } from "../lib/xarchive.mjs";

let s;
let h;
let browser;
let tmp;
let session;

setup(async () => {
  // follow_members on, as the product's default: the page then says why the bridge account
  // follows the member, one of the texts the languages test goes through.
  s = await startServer({ config: { ...MEMBER_CONFIG, follow_members: "true" } });
  h = await startActorHost({ actors: [{ name: "reader" }] });
  browser = await launchBrowser();
  session = await member(s, h, "reader");
  tmp = mkdtempSync(path.join(os.tmpdir(), "passerelle-browser-"));
  // Also when the file is cut short (its 4.5 GB zip is sparse, but still a file).
  onExit(() => rmSync(tmp, { recursive: true, force: true }));
});
teardown(async () => {
  if (browser) await browser.close();
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

// /link with the member's session. The browser speaks en-GB; lang "fr" makes it ask the
// server for French (Accept-Language), and the server's state then says "fr".
async function openPage(t, { lang = "en", ...opts } = {}) {
  const headers = lang === "fr" ? { extraHTTPHeaders: { "Accept-Language": "fr" } } : {};
  const p = await browser.newPage(t, { ...headers, ...opts });
  await useSession(p, s, session);
  await p.page.goto(`${s.url}/link`);
  await p.page.locator("#member:not([hidden])").waitFor();
  return p;
}

// What the page shows once it has read the pick: the summary, or the error.
async function shown(page) {
  await page.locator("#summary:not([hidden]), #archive-error:not(:empty)").first().waitFor();
  const text = (sel) => page.locator(sel).innerText();
  if (await page.locator("#summary").isVisible()) {
    return {
      handle: await text("#s-handle"),
      followers: await text("#s-followers"),
      following: await text("#s-following"),
      check: await text("#s-check"),
    };
  }
  return { error: await text("#archive-error") };
}

async function pickZip(p, buffer, name = "twitter-2024-11-16-0123456789abcdef.zip") {
  await p.page.locator("#file").setInputFiles({ name, mimeType: "application/zip", buffer });
  return shown(p.page);
}

// Nothing but GETs: the page sends nothing before the person presses Send.
function assertNothingSent(p) {
  assert.deepEqual(
    p.requests.filter((r) => r.method !== "GET"),
    [],
    "requests other than GET before sending",
  );
}

const en = (n) => n.toLocaleString("en-GB");
const digits = (s) => s.replace(/\D/g, "");
const MANIFEST_OK = "These numbers match the archive's own index.";
// The summary expected for an archive whose counts match its manifest.
const summary = (handle, followers, following) => ({ handle, followers, following, check: MANIFEST_OK });

test("GET /link: the page, its CSS and JS from the server alone; a new member's consents (findable, notify on)", async (t) => {
  const p = await openPage(t);
  const { page } = p;
  assert.equal(await page.locator("h1").innerText(), "Link your X archive");
  assert.equal(await page.locator("#member").innerText(), `Fediverse account: @reader@${h.domain}`);
  assert.equal(await page.locator("#linked").isVisible(), false, "nothing linked yet");
  assert.equal(await page.getAttribute("html", "lang"), "en");
  // The stylesheet applied (CSP allowed it): the cards have their rounded corners.
  assert.equal(await page.locator("#archive").evaluate((el) => getComputedStyle(el).borderTopLeftRadius), "12px");
  assert.equal(await page.getByLabel("People can find me by my old X handle").isChecked(), true, "findable");
  assert.equal(await page.getByLabel("Tell me when people I knew arrive").isChecked(), true, "notify");
  assert.equal(await page.getByLabel("Follow them for me").isChecked(), false, "autofollow");
  assert.equal(await page.getByLabel("Relay my public posts").isChecked(), false, "relay");
  for (const id of ["archive-status", "send-status", "consent-status"]) {
    assert.equal(await page.getAttribute(`#${id}`, "aria-live"), "polite", `#${id} is a live region`);
  }
  assert.equal(await page.getAttribute("#archive-error", "role"), "alert");
  const urls = p.requests.map((r) => new URL(r.url).pathname);
  for (const want of ["/link", "/link/assets/link.css", "/link/assets/link.js", "/link/state"]) {
    assert.ok(urls.includes(want), `the page requested ${want}: ${urls.join(" ")}`);
  }
  assertOnlyOrigin(p, s.url);
  assertNothingSent(p);
  await assertNoProblems(p);
});

test("an archive (deflate, with manifest.js): handle and counts before sending", async (t) => {
  const p = await openPage(t);
  const a = xArchive({ username: "alrocar", followers: 1333, following: 80 });
  await p.page.getByLabel("Choose your archive").setInputFiles({
    name: "twitter-2024-11-16.zip",
    mimeType: "application/zip",
    buffer: zipBuffer(a.entries),
  });
  assert.deepEqual(await shown(p.page), summary("@alrocar", en(1333), "80"));
  assert.equal(await p.page.locator("#send").isEnabled(), true, "Send is offered");
  assertOnlyOrigin(p, s.url);
  assertNothingSent(p);
  await assertNoProblems(p);
});

test("parts, no userLink, a top folder in the zip: the parts add up", async (t) => {
  const p = await openPage(t);
  const a = xArchive({ username: "bob", followers: 2501, following: 333, followerParts: 3, followingParts: 2, userLink: false });
  assert.ok(a.entries.some((e) => e.name === "data/follower-part2.js"), "the archive has follower-part2.js");
  const entries = a.entries.map((e) => ({ ...e, name: `twitter-archive/${e.name}` }));
  assert.deepEqual(await pickZip(p, zipBuffer(entries)), summary("@bob", en(2501), "333"));
  await assertNoProblems(p);
});

test("loose .js files, several picked at once; without account.js, a plain request for it", async (t) => {
  const p = await openPage(t);
  const a = xArchive({ username: "carol", followers: 40, following: 12, followerParts: 2 });
  const files = looseFiles(a.entries); // includes tweets.js, which is left alone
  await p.page.locator("#file").setInputFiles(files);
  assert.deepEqual(await shown(p.page), summary("@carol", "40", "12"));
  await p.page.locator("#file").setInputFiles(files.filter((f) => f.name !== "account.js"));
  assert.deepEqual(await shown(p.page), {
    error: "Add account.js as well: it tells passerelle which X account these lists belong to.",
  });
  const noManifest = files.filter((f) => f.name !== "manifest.js");
  await p.page.locator("#file").setInputFiles(noManifest);
  const r = await shown(p.page);
  assert.equal(r.followers, "40");
  assert.match(r.check, /manifest\.js\) is not here/, "says the counts could not be cross-checked");
  await p.page.locator("#file").setInputFiles(noManifest.filter((f) => !f.name.startsWith("following")));
  assert.deepEqual(await shown(p.page), {
    error: "Some parts of the lists are missing: following.js. Choose them too, or the whole .zip.",
  });
  await assertNoProblems(p);
});

test("a ZIP64 archive with stored entries", async (t) => {
  const p = await openPage(t);
  const a = xArchive({ username: "dan", followers: 7, following: 9 });
  assert.deepEqual(await pickZip(p, zipBuffer(a.entries, { zip64: true, method: 0 })), summary("@dan", "7", "9"));
  await assertNoProblems(p);
});

test("a 4.5 GB archive (sparse media entry first, ZIP64 offsets): only the small files are read", async (t) => {
  const p = await openPage(t);
  const a = xArchive({ username: "erin", followers: 1200, following: 450, followerParts: 2 });
  const file = path.join(tmp, "twitter-huge.zip");
  const size = writeZip(file, [{ name: "data/tweets_media/1234567890-video.mp4", size: 4.5e9 }, ...a.entries]);
  assert.ok(size > 4.5e9, `the zip is ${size} bytes`);
  const started = Date.now();
  await p.page.locator("#file").setInputFiles(file);
  assert.deepEqual(await shown(p.page), summary("@erin", en(1200), "450"));
  const ms = Date.now() - started;
  t.log(`read in ${ms} ms`);
  // Reading 4.5 GB would take far longer than this.
  assert.ok(ms < 5000, `read in ${ms} ms`);
  await assertNoProblems(p);
});

test("lists too large to send: refused before reading them", async (t) => {
  const p = await openPage(t);
  const a = xArchive();
  const file = path.join(tmp, "twitter-too-large.zip");
  // A follower list of 600 MB (stored zeros, sparse): over the page's 512 MiB limit.
  const entries = a.entries.map((e) => (e.name === "data/follower.js" ? { name: e.name, size: 600e6 } : e));
  writeZip(file, entries);
  await p.page.locator("#file").setInputFiles(file);
  const r = await shown(p.page);
  assert.match(r.error ?? "", /^This is too large to send \(600(\.\d)? MB\)\. Follower lists are normally much smaller/, r.error);
  await assertNoProblems(p);
});

test("not an X archive, and not a zip at all: said in plain words", async (t) => {
  const p = await openPage(t);
  const other = zipBuffer([
    { name: "readme.txt", data: "holiday pictures" },
    { name: "photos/1.jpg", data: Buffer.alloc(3000, 7) },
  ]);
  assert.deepEqual(await pickZip(p, other, "holiday.zip"), {
    error: "This does not look like an X archive: there is no data/account.js in it.",
  });
  const png = Buffer.concat([Buffer.from("89504e470d0a1a0a", "hex"), Buffer.alloc(500)]);
  assert.deepEqual(await pickZip(p, png, "picture.zip"), {
    error: "This file is not a .zip archive. Choose the .zip file X sent you, or its .js files.",
  });
  await assertNoProblems(p);
});

test("an archive without follower lists", async (t) => {
  const p = await openPage(t);
  const a = xArchive();
  const entries = a.entries.filter((e) => !/data\/follow/.test(e.name));
  assert.deepEqual(await pickZip(p, zipBuffer(entries)), {
    error:
      "This archive has no follower lists (data/follower.js and data/following.js). " +
      "Ask X for your full archive again.",
  });
  await assertNoProblems(p);
});

test("damaged archives: cut short, one changed byte (CRC), a wrong wrapper", async (t) => {
  const p = await openPage(t);
  const damaged = { error: "This archive is damaged and cannot be read. Download it again from X." };
  const zip = zipBuffer(xArchive({ followers: 30 }).entries);
  assert.deepEqual(await pickZip(p, zip.subarray(0, zip.length - 40)), damaged, "cut short");
  // Stored, so a changed digit keeps the JSON valid: only the CRC can tell.
  const stored = zipBuffer(xArchive({ followers: 30 }).entries, { method: 0 });
  const at = stored.indexOf("1600000000000000000");
  assert.ok(at > 0);
  stored[at + 5] = "9".charCodeAt(0);
  assert.deepEqual(await pickZip(p, stored), damaged, "CRC mismatch");
  const a = xArchive();
  const wrapped = a.entries.map((e) => (e.name === "data/follower.js" ? { ...e, data: Buffer.from("var x = <html>") } : e));
  assert.deepEqual(await pickZip(p, zipBuffer(wrapped)), damaged, "not a window.YTD assignment");
  await assertNoProblems(p);
});

test("manifest.js disagrees: a count that does not match, a part that is missing", async (t) => {
  const p = await openPage(t);
  const a = xArchive({ followers: 1333, manifestCounts: { follower: 1400 } });
  assert.deepEqual(await pickZip(p, zipBuffer(a.entries)), {
    error:
      "The archive's index announces 1,400 followers but the lists hold 1,333. " +
      "The archive may be damaged; download it again from X.",
  });
  const b = xArchive({ following: 20, followingParts: 3 });
  const missing = b.entries.filter((e) => e.name !== "data/following-part1.js");
  assert.deepEqual(await pickZip(p, zipBuffer(missing)), {
    error: "Some parts of the lists are missing: following-part1.js. Choose them too, or the whole .zip.",
  });
  const c = xArchive({ manifestOwner: "999" });
  assert.deepEqual(await pickZip(p, zipBuffer(c.entries)), {
    error: "These files come from two different X accounts.",
  });
  await assertNoProblems(p);
});

// The page's own texts in the seven languages: the switch renders each, and no text falls
// back to English or keeps a "{" (a placeholder left unfilled).
test("the switch goes through the seven languages; no English left, no placeholder unfilled", async (t) => {
  const p = await openPage(t);
  const { page } = p;
  const body = () => page.locator("main").innerText();
  const english = await body();
  assert.ok(await page.locator("#bridge-follows").isVisible(), "the bridge's follow is explained");
  assert.match(await page.locator("#bridge-follows").innerText(), /^@passerelle@\S+ follows your account only to hear it if you move to another one/);
  const titles = { fr: "Reliez votre archive X", de: "Ihr X-Archiv verknüpfen", es: "Vincular su archivo de X", it: "Colleghi il Suo archivio di X", pt: "Vincular o seu arquivo do X", nl: "Uw X-archief koppelen" };
  const own = { fr: "Français", de: "Deutsch", es: "Español", it: "Italiano", pt: "Português", nl: "Nederlands" };
  // Lines of the English page that stay the same in every language (names, numbers).
  const same = new Set(["EN", "FR", "DE", "ES", "IT", "PT", "NL", ""]);
  for (const [l, title] of Object.entries(titles)) {
    await page.getByRole("button", { name: own[l] }).click();
    assert.equal(await page.locator("h1").innerText(), title, l);
    assert.equal(await page.getAttribute("html", "lang"), l);
    assert.equal(await page.getAttribute(`button[data-lang=${l}]`, "aria-pressed"), "true");
    const text = await body();
    assert.equal(text.includes("{"), false, `${l}: no "{" left: ${text}`);
    const englishLines = english.split("\n").map((x) => x.trim()).filter((x) => !same.has(x) && !/@|^\d/.test(x));
    const left = englishLines.filter((x) => text.split("\n").map((y) => y.trim()).includes(x));
    assert.deepEqual(left, [], `${l}: no English line left`);
  }
  await page.getByRole("button", { name: "English" }).click();
  assert.equal(await body(), english, "back to English, the same page");
  await assertNoProblems(p);
});

test("once the member refused the bridge's follow, the page no longer says it follows them", async (t) => {
  await s.psql("UPDATE members SET bridge_follow_state = 'rejected'");
  t.defer(() => s.psql("UPDATE members SET bridge_follow_state = 'none', bridge_follow_id = NULL"));
  const p = await openPage(t);
  assert.equal(await p.page.locator("#bridge-follows").isVisible(), false);
  await assertNoProblems(p);
});

test("without a server guess, the page starts in the browser's language among the seven", async (t) => {
  for (const [locale, l] of [["de-AT", "de"], ["pt-BR", "pt"], ["nl-NL", "nl"], ["sv-SE", "en"]]) {
    const p = await browser.newPage(t, { locale });
    await p.page.goto(`${s.url}/link`); // no session: the state says nothing of a language
    await p.page.locator("h1:not(:empty)").waitFor();
    assert.equal(await p.page.getAttribute("html", "lang"), l, locale);
  }
});

test("French when the server says so, the FR/EN switch re-renders everything", async (t) => {
  const p = await openPage(t, { lang: "fr" });
  const { page } = p;
  assert.equal(await page.evaluate(() => navigator.language), "en-GB", "the browser itself speaks English");
  assert.equal(await page.locator("h1").innerText(), "Reliez votre archive X");
  assert.equal(await page.getAttribute("html", "lang"), "fr");
  assert.equal(await page.getAttribute("button[data-lang=fr]", "aria-pressed"), "true");
  const a = xArchive({ username: "fanny", followers: 1333, following: 80 });
  const r = await pickZip(p, zipBuffer(a.entries));
  assert.equal(r.handle, "@fanny");
  assert.equal(digits(r.followers), "1333");
  assert.notEqual(r.followers, en(1333), "numbers are written the French way");
  assert.equal(r.check, "Ces nombres correspondent à l'index de l'archive.");
  assert.equal(await page.locator("#summary dt").first().innerText(), "Compte X");

  await page.getByRole("button", { name: "English" }).click();
  assert.equal(await page.locator("h1").innerText(), "Link your X archive");
  assert.equal(await page.getAttribute("html", "lang"), "en");
  assert.equal(await page.getAttribute("button[data-lang=en]", "aria-pressed"), "true");
  assert.equal(await page.getAttribute("button[data-lang=fr]", "aria-pressed"), "false");
  assert.equal(await page.locator("#s-followers").innerText(), en(1333), "the summary follows");
  assert.equal(await page.locator("#s-check").innerText(), MANIFEST_OK);
  assert.equal(await page.getByLabel("Relay my public posts").count(), 1, "the consents follow");

  const noLists = zipBuffer(a.entries.filter((e) => !/data\/follow/.test(e.name)));
  assert.match((await pickZip(p, noLists)).error, /^This archive has no follower lists/);
  await page.getByRole("button", { name: "Français" }).click();
  assert.match(await page.locator("#archive-error").innerText(), /^Cette archive ne contient pas de listes d'abonnés/, "the error follows");
  await assertNoProblems(p);
});

test("drag and drop onto the page", async (t) => {
  const p = await openPage(t);
  const a = xArchive({ username: "gus", followers: 5, following: 6 });
  const b64 = zipBuffer(a.entries).toString("base64");
  await p.page.evaluate((data) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], "twitter.zip", { type: "application/zip" }));
    const target = document.getElementById("drop");
    target.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
    target.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, b64);
  assert.deepEqual(await shown(p.page), summary("@gus", "5", "6"));
  await assertNoProblems(p);
});

test("keyboard: Tab reaches the language switch, the file picker and every consent, with a visible focus ring", async (t) => {
  const p = await openPage(t);
  const { page } = p;
  const seen = [];
  for (let i = 0; i < 17; i++) { // seven language buttons, the picker, four consents, save...
    await page.keyboard.press("Tab");
    const f = await page.evaluate(() => {
      const el = document.activeElement;
      return { id: el.id || el.dataset.lang || el.tagName, outline: getComputedStyle(el).outlineStyle };
    });
    seen.push(f.id);
    if (f.id === "file" || f.id === "c-relay") assert.equal(f.outline, "solid", `${f.id} shows its focus`);
  }
  for (const id of ["en", "fr", "de", "es", "it", "pt", "nl", "file", "c-findable", "c-notify", "c-autofollow", "c-relay", "save"]) {
    assert.ok(seen.includes(id), `Tab reaches ${id}: ${seen.join(" ")}`);
  }
  // Space toggles a consent from the keyboard.
  await page.focus("#c-relay");
  await page.keyboard.press("Space");
  assert.equal(await page.locator("#c-relay").isChecked(), true);
  await assertNoProblems(p);
});

test("an X data file that is not one of ours is not taken for a list", async (t) => {
  const p = await openPage(t);
  const a = xArchive({ followers: 3, following: 2 });
  // A data file whose name starts like ours must not be counted.
  const extra = { name: "data/follower-requests.js", data: Buffer.from(ytd("followerRequests", 0, [{ x: 1 }])) };
  const r = await pickZip(p, zipBuffer([...a.entries, extra]));
  assert.equal(r.followers, "3");
  await assertNoProblems(p);
});

test("after all this reading, the server holds nothing of these archives", async () => {
  const id = h.actor("reader").id;
  assert.equal(await s.psql(`SELECT coalesce(x_id::text, '-') || ' ' || state FROM members WHERE actor_uri = '${id}'`), "- joined");
  assert.equal(await s.psql("SELECT count(*) FROM x_edges"), "0");
  assert.equal(await s.psql("SELECT count(*) FROM x_claims"), "0");
  assert.equal(await s.psql("SELECT count(*) FROM consent_ledger WHERE source = 'page'"), "0", "no consent was saved");
});
