// X blocks and mutes on the link page, in Chromium against the real server and PostgreSQL:
// the page reads data/block.js and data/mute.js (all parts) out of the archive or from loose
// files, shows how many it found and what they mean, and sends them as one file each holding
// only the account ids (no userLink, nothing else); the server stores them as the member's
// blocked and muted rows, and the page shows them again after a reload. A malformed block.js
// is refused on the device: nothing is sent.
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { launchBrowser, assertOnlyOrigin, assertNoProblems, MEMBER_CONFIG, member, useSession, watchSent } from "../lib/browser.mjs";
import { xArchive, zipBuffer, readZip, looseFiles, ytd } from "../lib/xarchive.mjs";

let s, h, browser;

setup(async () => {
  [s, h, browser] = await Promise.all([
    startServer({ config: MEMBER_CONFIG }),
    startActorHost({ actors: ["alice", "bob", "carol"].map((name) => ({ name })) }),
    launchBrowser(),
  ]);
});
teardown(async () => {
  if (browser) await browser.close();
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

async function openPage(t, session) {
  const p = await browser.newPage(t);
  await useSession(p, s, session);
  p.sent = await watchSent(p);
  await p.page.goto(`${s.url}/link`);
  await p.page.locator("#member:not([hidden])").waitFor();
  return p;
}
const zipFile = (buffer) => ({ name: "twitter-2024.zip", mimeType: "application/zip", buffer });
const unwrap = (buf) => JSON.parse(buf.toString("utf8").slice(buf.toString("utf8").indexOf("=") + 1));
const excludes = (x) =>
  s.psql(`SELECT string_agg(reason || ':' || e.x_id, ' ' ORDER BY reason, e.x_id) FROM member_excludes e JOIN members m ON m.id = e.member_id WHERE m.x_id = ${x}`);

const BLOCKED = ["1650000000000000001", "1650000000000000002", "1650000000000000003"];
const MUTED = ["1660000000000000001", "1660000000000000002"];

test("block.js and mute.js: counted and explained on the page, sent as ids only, stored, shown after a reload", async (t) => {
  const alice = await member(s, h, "alice");
  const p = await openPage(t, alice);
  const a = xArchive({ username: "alrocar", accountId: "52338276", followers: 5, following: 4, blockIds: BLOCKED, muteIds: MUTED });
  // X splits long lists into parts: the page reads them all.
  const mutePart = { name: "data/mute-part1.js", data: Buffer.from(ytd("mute", 1, [{ muting: { accountId: "1660000000000000003", userLink: "https://twitter.com/intent/user?user_id=1660000000000000003" } }])) };
  const manifest = a.entries.find((e) => e.name === "data/manifest.js");
  manifest.data = Buffer.from(manifest.data.toString().replace(/("globalName": "YTD\.mute\.part0",\s*"count": )"2"/, '$1"3"'));
  await p.page.locator("#file").setInputFiles(zipFile(zipBuffer([...a.entries, mutePart])));
  await p.page.locator("#summary:not([hidden])").waitFor();
  assert.equal(await p.page.locator("#archive-error").innerText(), "");
  assert.equal(
    await p.page.locator("#s-excludes").innerText(),
    "Blocked on X: 3; muted: 3. Their accounts will never be followed or told about you, and you will never be told about them.",
  );
  assert.equal(await p.page.locator("#s-excludes-privacy").isVisible(), true, "the page says the ids are sent");
  await p.page.getByRole("button", { name: "Français" }).click();
  assert.match(await p.page.locator("#s-excludes").innerText(), /^Bloqués sur X\u00a0: 3\u00a0; masqués\u00a0: 3\. /);
  await p.page.getByRole("button", { name: "English" }).click();
  assert.equal(p.sent.list.length, 0, "nothing sent before the click");

  await p.page.getByRole("button", { name: "Send these lists" }).click();
  await p.page.locator("#send-status", { hasText: "Done." }).waitFor();
  const [up] = p.sent.list.filter((r) => r.path === "/link/archive");
  const sent = readZip(await p.sent.body(up));
  assert.deepEqual(sent.map((e) => e.name).sort(), [
    "data/account.js",
    "data/block.js",
    "data/follower.js",
    "data/following.js",
    "data/manifest.js",
    "data/mute.js",
  ]);
  const block = sent.find((e) => e.name === "data/block.js").data;
  const mute = sent.find((e) => e.name === "data/mute.js").data;
  assert.match(block.toString(), /^window\.YTD\.block\.part0 = \[/);
  assert.deepEqual(unwrap(block), BLOCKED.map((accountId) => ({ blocking: { accountId } })), "block.js: the ids, nothing else");
  assert.deepEqual(unwrap(mute), [...MUTED, "1660000000000000003"].map((accountId) => ({ muting: { accountId } })), "mute.js: both parts, ids only");
  assert.doesNotMatch(block.toString() + mute.toString(), /userLink|twitter\.com/, "no links");

  assert.equal(
    await excludes("52338276"),
    [...BLOCKED.map((x) => `blocked:${x}`), ...MUTED.map((x) => `muted:${x}`), "muted:1660000000000000003"].join(" "),
    "stored for the uploader",
  );
  await p.page.reload();
  await p.page.locator("#excludes:not([hidden])").waitFor();
  assert.equal(
    await p.page.locator("#excludes").innerText(),
    "Blocked on X: 3; muted: 3. Their accounts will never be followed or told about you, and you will never be told about them.",
  );
  assertOnlyOrigin(p, s.url);
  await assertNoProblems(p);
});

test("loose files with block.js: read and sent the same way; without blocks or mutes the page says nothing of them", async (t) => {
  const bob = await member(s, h, "bob");
  const p = await openPage(t, bob);
  const plain = xArchive({ username: "bob_x", accountId: "8801", followers: 2, following: 1, manifest: false });
  await p.page.locator("#file").setInputFiles(looseFiles(plain.entries.filter((e) => e.name !== "data/tweets.js")));
  await p.page.locator("#summary:not([hidden])").waitFor();
  assert.equal(await p.page.locator("#s-excludes").isVisible(), false, "no line without block.js or mute.js");
  assert.equal(await p.page.locator("#s-excludes-privacy").isVisible(), false);

  const a = xArchive({ username: "bob_x", accountId: "8801", followers: 2, following: 1, manifest: false, blockIds: ["77"] });
  await p.page.locator("#file").setInputFiles(looseFiles(a.entries.filter((e) => e.name !== "data/tweets.js")));
  await p.page.locator("#s-excludes:not([hidden])").waitFor();
  assert.match(await p.page.locator("#s-excludes").innerText(), /^Blocked on X: 1; muted: 0\./);
  await p.page.getByRole("button", { name: "Send these lists" }).click();
  await p.page.locator("#send-status", { hasText: "Done." }).waitFor();
  const [up] = p.sent.list.filter((r) => r.path === "/link/archive");
  const sent = readZip(await p.sent.body(up));
  assert.deepEqual(unwrap(sent.find((e) => e.name === "data/block.js").data), [{ blocking: { accountId: "77" } }]);
  assert.equal(sent.some((e) => e.name === "data/mute.js"), false, "no mute.js was picked, none is sent");
  assert.equal(await excludes("8801"), "blocked:77");
  await assertNoProblems(p);
});

test("a malformed block.js: the archive is refused on the device, nothing is sent", async (t) => {
  const carol = await member(s, h, "carol");
  const p = await openPage(t, carol);
  for (const bad of [
    ytd("block", 0, [{ blocking: { accountId: "12x" } }]),
    ytd("block", 0, [{ muting: { accountId: "12" } }]),
    "window.YTD.block.part0 = [ { \"blocking\": ",
  ]) {
    const a = xArchive({ username: "carol_x", accountId: "9901", blockIds: ["5"] });
    a.entries.find((e) => e.name === "data/block.js").data = Buffer.from(bad);
    await p.page.locator("#file").setInputFiles(zipFile(zipBuffer(a.entries)));
    await p.page.locator("#archive-error:not(:empty)").waitFor();
    assert.equal(await p.page.locator("#archive-error").innerText(), "This archive is damaged and cannot be read. Download it again from X.");
    assert.equal(await p.page.locator("#summary").isVisible(), false);
  }
  // A count the index does not announce is a damaged archive too.
  const a = xArchive({ username: "carol_x", accountId: "9901", muteIds: ["5", "6"] });
  const manifest = a.entries.find((e) => e.name === "data/manifest.js");
  manifest.data = Buffer.from(manifest.data.toString().replace(/("globalName": "YTD\.mute\.part0",\s*"count": )"2"/, '$1"7"'));
  await p.page.locator("#file").setInputFiles(zipFile(zipBuffer(a.entries)));
  await p.page.locator("#archive-error:not(:empty)").waitFor();
  assert.equal(p.sent.list.length, 0, "nothing sent");
  assert.equal(await s.psql(`SELECT count(*) FROM members WHERE x_id = 9901`), "0");
  await assertNoProblems(p);
});
