// The page's side of its API, against the real server and PostgreSQL, with every answer the
// page must handle:
//   GET  /link/state     -> {csrf, bridge, member, handle, followers, following, consents, lang} or 401
//   POST /link/archive   (application/zip, X-CSRF-Token) -> {handle, x_id, followers, following},
//                        413 over max_archive_bytes, 409 when another member claims the X account,
//                        401 once the session is gone, 503 while the database is down
//   POST /link/consents  (JSON {findable, notify, autofollow, relay}, X-CSRF-Token)
// Every member here really joins (a signed Follow of the bridge from a loopback actor host)
// and spends the one-time code of their welcome message for the session. What the page sends
// is watched in Chromium without being touched (watchSent), and the database is checked
// afterwards. The database outage is real too: the test cluster is stopped and started again.
// A 500 cannot be provoked honestly, so it is not here. link-flow.test.mjs is the whole flow
// in one go; link-page.test.mjs the reading of archives.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { test, setup, teardown, eventually, onExit } from "../lib/harness.mjs";
import { startServer, TEST_PGDIR } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import {
  launchBrowser,
  assertOnlyOrigin,
  assertNoProblems,
  MEMBER_CONFIG,
  member,
  leave,
  useSession,
  api,
  watchSent,
} from "../lib/browser.mjs";
import { xArchive, zipBuffer, readZip, looseFiles } from "../lib/xarchive.mjs";

// The server of the 413 test: uploads up to 16 KiB, other bodies up to 1 KiB (a Follow is
// well under that). Its bridge account has another name, which the page learns from the state.
const SMALL_ARCHIVE = 16384;
const SMALL = { ...MEMBER_CONFIG, max_archive_bytes: String(SMALL_ARCHIVE), max_body_bytes: "1024", bridge_username: "pont" };

const PG_SH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../scripts/pg.sh");

let s; // default limits
let small; // SMALL
let h;
let browser;
let pgStopped = false;

function pg(cmd) {
  return new Promise((resolve, reject) => {
    execFile("sh", [PG_SH, cmd, TEST_PGDIR], { timeout: 60000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`pg.sh ${cmd} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}
// Whatever happens (failure, timeout, signal), the runner's cluster is left running.
onExit(() => {
  if (pgStopped) execFileSync("sh", [PG_SH, "start", TEST_PGDIR], { stdio: "ignore", timeout: 60000 });
});

setup(async () => {
  assert.ok(TEST_PGDIR, "PASSERELLE_TEST_PGDIR is not set (run through tests/run.sh)");
  [s, small, h, browser] = await Promise.all([
    startServer({ config: MEMBER_CONFIG }),
    startServer({ config: SMALL }),
    startActorHost({ actors: ["dora", "gus", "alice", "carol", "erin", "frank", "ann", "bea"].map((name) => ({ name })) }),
    launchBrowser(),
  ]);
});
teardown(async () => {
  if (pgStopped) {
    await pg("start");
    pgStopped = false;
  }
  if (browser) await browser.close();
  if (h) await h.stop();
  if (small) assert.equal(await small.stop(), 0, "serve (small) exit code after SIGTERM");
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

// Chromium logs every 4xx/5xx answer as a console error; in the tests that provoke them
// they are expected.
const failedLoad = (...codes) => [new RegExp(`Failed to load resource: the server responded with a status of (${codes.join("|")})`)];

// Opens /link in a fresh context, with the member's session unless session is null; waits
// until the page has the state (or says why not). opts: Playwright context options.
async function openPage(t, server, session, opts = {}) {
  const p = await browser.newPage(t, opts);
  if (session) await useSession(p, server, session);
  p.sent = await watchSent(p);
  await p.page.goto(`${server.url}/link`);
  await p.page.locator("#member:not([hidden]), #notice:not(:empty)").first().waitFor();
  return p;
}

async function pickAndWait(page, files) {
  await page.locator("#file").setInputFiles(files);
  await page.locator("#summary:not([hidden]), #archive-error:not(:empty)").first().waitFor();
  assert.equal(await page.locator("#archive-error").innerText(), "", "the archive was read");
}

const zipFile = (buffer) => ({ name: "twitter-2024.zip", mimeType: "application/zip", buffer });
const names = (entries) => entries.map((e) => e.name).sort();
const uploads = (p) => p.sent.list.filter((r) => r.path === "/link/archive");

// The JSON inside "window.YTD.x.part0 = [...]".
const unwrap = (buf) => JSON.parse(buf.toString("utf8").slice(buf.toString("utf8").indexOf("=") + 1));

// One member's row, as "x_id handle state findable notify autofollow relay" ("-" for null).
async function row(server, actor) {
  return server.psql(
    "SELECT coalesce(x_id::text, '-') || ' ' || coalesce(x_handle, '-') || ' ' || state || ' ' ||" +
      ` findable || ' ' || notify || ' ' || autofollow || ' ' || relay FROM members WHERE actor_uri = '${h.actor(actor).id}'`,
  );
}

test("state: the language, the member, a linked handle and the stored consents", async (t) => {
  const dora = await member(s, h, "dora");
  // Linked and chosen before, through the same API.
  const a = xArchive({ username: "alice_x", accountId: "4242", followers: 12, following: 3 });
  const up = await api(s, dora, "/link/archive", zipBuffer(a.entries), { type: "application/zip" });
  assert.equal(up.status, 200, up.body);
  const c = await api(s, dora, "/link/consents", { findable: false, autofollow: true });
  assert.equal(c.status, 200, c.body);
  // The browser speaks English but asks the server for French: the server's word wins.
  const p = await openPage(t, s, dora, { extraHTTPHeaders: { "Accept-Language": "fr" } });
  const { page } = p;
  await page.locator("#member:not([hidden])").waitFor();
  assert.equal(await page.evaluate(() => navigator.language), "en-GB");
  assert.equal(await page.locator("h1").innerText(), "Reliez votre archive X", "lang from the state wins over the browser's");
  assert.equal(await page.locator("#member").innerText(), `Compte du fédivers\u00a0: @dora@${h.domain}`);
  assert.match(await page.locator("#linked").innerText(), /^Déjà relié\u00a0: @alice_x \(12 abonnés, 3 abonnements\)/);
  const checked = {};
  for (const k of ["findable", "notify", "autofollow", "relay"]) checked[k] = await page.locator(`#c-${k}`).isChecked();
  assert.deepEqual(checked, { findable: false, notify: true, autofollow: true, relay: false });
  await page.getByRole("button", { name: "English" }).click();
  assert.match(await page.locator("#linked").innerText(), /^Already linked: @alice_x \(12 followers, 3 following\)/);
  const states = p.requests.filter((r) => new URL(r.url).pathname === "/link/state");
  assert.deepEqual(states.map((r) => r.method), ["GET"], "the state is asked once");
  assert.deepEqual(p.sent.list, [], "nothing sent");
  assertOnlyOrigin(p, s.url);
  await assertNoProblems(p);
});

test("state 401 (no session, a spent link, an unknown session): the link has expired, said plainly, nothing offered", async (t) => {
  const host = new URL(s.url).host;
  const expired = `This link has expired or was already used. Send “link” to @passerelle@${host} in a direct message to get a new one.`;
  const check = async (p, what) => {
    assert.equal(await p.page.locator("#notice").innerText(), expired, what);
    assert.equal(await p.page.locator("#archive").isVisible(), false, `${what}: no archive picker`);
    assert.equal(await p.page.locator("#consents").isVisible(), false, `${what}: no consents`);
    await assertNoProblems(p, failedLoad(401));
  };
  await check(await openPage(t, s, null), "no session");

  const gus = await member(s, h, "gus"); // its code is spent now
  const p = await browser.newPage(t);
  await p.page.goto(`${s.url}/link/${gus.code}`);
  assert.equal(new URL(p.page.url()).pathname, "/link");
  await p.page.locator("#notice:not(:empty)").waitFor();
  await check(p, "a spent link");

  const forged = { ...gus, cookieValue: "a".repeat(64) };
  await check(await openPage(t, s, forged), "an unknown session");
});

test("sending: a new zip with only account, manifest and the lists, no e-mail, CSRF header; the answer shown and stored", async (t) => {
  const alice = await member(s, h, "alice");
  const p = await openPage(t, s, alice);
  const a = xArchive({ username: "alrocar", accountId: "52338276", followers: 1333, following: 80, followerParts: 2 });
  const extra = [
    { name: "data/direct-messages.js", data: "window.YTD.direct_messages.part0 = []" },
    { name: "data/tweets_media/1-a.jpg", data: Buffer.alloc(5000, 1) },
  ];
  await pickAndWait(p.page, zipFile(zipBuffer([...a.entries, ...extra])));
  assert.equal(uploads(p).length, 0, "nothing sent before the click");
  await p.page.getByRole("button", { name: "Send these lists" }).click();
  await p.page.locator("#send-status", { hasText: "Done." }).waitFor();
  assert.equal(
    await p.page.locator("#send-status").innerText(),
    "Done. passerelle linked @alrocar: 1,333 followers, 80 following.",
  );
  assert.deepEqual(p.sent.list.map((r) => `${r.method} ${r.path}`), ["POST /link/archive"], "one upload, nothing else");
  const up = p.sent.list[0];
  assert.equal(up.headers["content-type"], "application/zip");
  assert.equal(up.headers["x-csrf-token"], alice.csrf, "the CSRF token of the session's state");
  const sent = readZip(await p.sent.body(up));
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

  assert.equal(await row(s, "alice"), "52338276 alrocar linked true true false false");
  assert.equal(
    await s.psql("SELECT string_agg(follower_x_id::text, ',' ORDER BY follower_x_id) FROM x_edges WHERE followee_x_id = 52338276"),
    a.followers.join(","),
    "the followers as they were in the archive",
  );
  assert.equal(await s.psql("SELECT count(*) FROM x_edges WHERE follower_x_id = 52338276"), "80");
  assertOnlyOrigin(p, s.url);
  await assertNoProblems(p);
});

test("sending loose files: the same names under data/", async (t) => {
  const carol = await member(s, h, "carol");
  const p = await openPage(t, s, carol);
  const a = xArchive({ username: "carol", accountId: "777001", followers: 4, following: 2, manifest: false });
  await pickAndWait(p.page, looseFiles(a.entries));
  await p.page.getByRole("button", { name: "Send these lists" }).click();
  await p.page.locator("#send-status", { hasText: "Done." }).waitFor();
  assert.equal(await p.page.locator("#send-status").innerText(), "Done. passerelle linked @carol: 4 followers, 2 following.");
  const [up] = uploads(p);
  const sent = readZip(await p.sent.body(up));
  assert.deepEqual(names(sent), ["data/account.js", "data/follower.js", "data/following.js"]);
  assert.ok(sent.find((e) => e.name === "data/follower.js").data.equals(a.entries.find((e) => e.name === "data/follower.js").data));
  assert.equal(await row(s, "carol"), "777001 carol linked true true false false");
  assert.equal(await s.psql("SELECT count(*) FROM x_edges WHERE followee_x_id = 777001 OR follower_x_id = 777001"), "6");
  await assertNoProblems(p);
});

test("sending refused: 413 over the server's limit, 409 with the server's reason (a real dispute), then 401 once the member has left", async (t) => {
  // ann holds X account 9001 on the small server; bea will claim it too.
  const ann = await member(small, h, "ann");
  const held = await api(small, ann, "/link/archive", zipBuffer(xArchive({ username: "ann_x", accountId: "9001" }).entries), { type: "application/zip" });
  assert.equal(held.status, 200, held.body);
  const bea = await member(small, h, "bea");
  const p = await openPage(t, small, bea);
  const { page } = p;
  await page.locator("#member:not([hidden])").waitFor();
  const send = page.getByRole("button", { name: "Send these lists" });
  const status = page.locator("#send-status");

  // Stored, so what is sent is as large as the lists: well over 16 KiB.
  await pickAndWait(page, zipFile(zipBuffer(xArchive({ username: "bea_x", accountId: "9002", followers: 1000 }).entries, { method: 0 })));
  await send.click();
  const tooLarge = "passerelle refused these lists: they are larger than this server accepts.";
  await page.locator("#send-status", { hasText: tooLarge }).waitFor();
  assert.equal(await status.innerText(), tooLarge);
  assert.equal(await send.isEnabled(), true, "Send can be tried again");
  assert.ok((await p.sent.body(uploads(p)[0])).length > SMALL_ARCHIVE, "the upload was over max_archive_bytes");
  assert.equal(await row(small, "bea"), "- - joined true true false false", "nothing stored");

  // The same X account as ann's: the server freezes both claims and says why.
  await pickAndWait(page, zipFile(zipBuffer(xArchive({ username: "ann_x", accountId: "9001" }).entries)));
  const answer = page.waitForResponse((r) => r.url() === `${small.url}/link/archive`);
  await send.click();
  const reason = (await (await answer).json()).error;
  assert.equal((await answer).status(), 409);
  const refused = `passerelle refused these lists: ${reason}`;
  await page.locator("#send-status", { hasText: refused }).waitFor();
  assert.equal(await status.innerText(), refused);
  assert.match(reason, /another member/, "the server's reason");
  assert.equal(await send.isEnabled(), true, "Send can be tried again");
  assert.equal(
    await small.psql("SELECT string_agg(state, ',' ORDER BY id) FROM members"),
    "disputed,disputed",
    "both claims are frozen",
  );

  // bea unfollows the bridge: her session goes with her membership.
  await leave(small, h, "bea", bea.follow);
  await send.click();
  await page.locator("#notice:not(:empty)").waitFor();
  assert.equal(
    await page.locator("#notice").innerText(),
    `This link has expired or was already used. Send “link” to @pont@${new URL(small.url).host} in a direct message to get a new one.`,
    "the bridge's name as the server's state gave it",
  );
  assert.equal(await page.locator("#archive").isVisible(), false);
  assert.equal(await page.locator("#consents").isVisible(), false);
  assert.equal(uploads(p).length, 3);
  assert.equal(await small.psql(`SELECT count(*) FROM members WHERE actor_uri = '${h.actor("bea").id}'`), "0");
  assertOnlyOrigin(p, small.url);
  await assertNoProblems(p, failedLoad(401, 409, 413));
});

test("consents: saved as JSON with the CSRF token, and recorded", async (t) => {
  const erin = await member(s, h, "erin");
  const p = await openPage(t, s, erin);
  const { page } = p;
  await page.locator("#member:not([hidden])").waitFor();
  await page.getByLabel("People can find me by my old X handle").uncheck();
  await page.getByLabel("Relay my public posts").check();
  await page.getByRole("button", { name: "Save my choices" }).click();
  await page.locator("#consent-status", { hasText: "Saved." }).waitFor();
  assert.deepEqual(p.sent.list.map((r) => `${r.method} ${r.path}`), ["POST /link/consents"]);
  const c = p.sent.list[0];
  assert.equal(c.headers["content-type"], "application/json");
  assert.equal(c.headers["x-csrf-token"], erin.csrf);
  assert.deepEqual(JSON.parse((await p.sent.body(c)).toString("utf8")), { findable: false, notify: true, autofollow: false, relay: true });
  assert.equal(await row(s, "erin"), "- - joined false true false true");
  assert.equal(
    await s.psql(
      `SELECT string_agg(consent || '=' || value, ',' ORDER BY consent) FROM consent_ledger l JOIN members m ON m.id = l.member_id WHERE m.actor_uri = '${h.actor("erin").id}' AND source = 'page'`,
    ),
    "findable=false,relay=true",
    "a ledger line for each change",
  );
  await assertNoProblems(p);
});

test("database down: sending and saving fail and say so; a page that cannot get its state still checks the archive and sends nothing", async (t) => {
  const frank = await member(s, h, "frank");
  const p = await openPage(t, s, frank);
  await p.page.locator("#member:not([hidden])").waitFor();
  await pickAndWait(p.page, zipFile(zipBuffer(xArchive({ username: "frank_x", accountId: "31337", followers: 2 }).entries)));
  const before = await row(s, "frank");

  t.defer(async () => {
    if (pgStopped) {
      await pg("start");
      pgStopped = false;
    }
  });
  await pg("stop");
  pgStopped = true;
  await eventually(async () => (await api(s, frank, "/link/state")).status === 503, { timeout: 5000, what: "GET /link/state answers 503" });

  // The page that has its state: the server answers 503, the page says so and lets them retry.
  const send = p.page.getByRole("button", { name: "Send these lists" });
  await send.click();
  await p.page.locator("#send-status", { hasText: "error 503" }).waitFor();
  assert.equal(await p.page.locator("#send-status").innerText(), "Sending failed (error 503). Please try again.");
  assert.equal(await send.isEnabled(), true, "Send can be tried again");
  await p.page.getByRole("button", { name: "Save my choices" }).click();
  await p.page.locator("#consent-status", { hasText: "error 503" }).waitFor();
  assert.equal(await p.page.locator("#consent-status").innerText(), "Your choices could not be saved (error 503). Please try again.");
  assert.deepEqual(p.sent.list.map((r) => `${r.method} ${r.path}`), ["POST /link/archive", "POST /link/consents"]);
  await assertNoProblems(p, failedLoad(503));

  // A page opened now: the state answers 503.
  const q = await openPage(t, s, frank);
  await q.page.locator("#notice:not(:empty)").waitFor();
  assert.match(await q.page.locator("#notice").innerText(), /^passerelle cannot be reached right now/);
  await pickAndWait(q.page, zipFile(zipBuffer(xArchive({ followers: 2 }).entries)));
  await q.page.getByRole("button", { name: "Send these lists" }).click();
  assert.match(await q.page.locator("#send-status").innerText(), /^To send anything, this page needs the link passerelle sent you/);
  await q.page.getByRole("button", { name: "Save my choices" }).click();
  assert.match(await q.page.locator("#consent-status").innerText(), /^To send anything, this page needs the link/);
  assert.deepEqual(q.sent.list, [], "nothing was sent");
  await assertNoProblems(q, failedLoad(503));

  await pg("start");
  pgStopped = false;
  await eventually(async () => (await api(s, frank, "/link/state")).status === 200, { timeout: 10000, what: "GET /link/state answers 200 again" });
  assert.equal(await row(s, "frank"), before, "nothing changed");
  assert.equal(await s.psql("SELECT count(*) FROM x_edges WHERE followee_x_id = 31337"), "0");
});
