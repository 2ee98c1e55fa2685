// Notices against the real server and PostgreSQL, with the default hold (24 hours) and the
// default interval (one message a day): follows toward a new claim are held and the message
// says who claims the account and how to report it; contacts arriving together make one
// message, one arriving later the same day waits for the next day's; French; at most 20 names.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { request } from "../lib/http.mjs";
import { joinMember, linkArchive, setConsents, sendCommand } from "../lib/members.mjs";

let s, h;
const M = {};
const X = {};
const NAMES = ["lee", "max", "nia", "oli", "qui", "rae", "pia", "sam", "ute"];
const SEEDED = 22; // followees of sam, more than one message lists
const FOLLOWS = [
  ["max", "lee"],
  ["nia", "lee"],
  ["oli", "lee"],
  ["oli", "qui"],
  ["rae", "lee"],
  ["rae", "qui"],
  ["pia", "lee"],
];

setup(async () => {
  s = await startServer({
    config: { allow_private_fetch: "true", queue_poll_ms: "100", queue_backoff_unit_ms: "10", match_poll_ms: "50", notice_poll_ms: "100" },
  });
  h = await startActorHost({ actors: NAMES.map((name) => ({ name })) });
  NAMES.forEach((n, i) => (X[n] = String(7000 + i)));
});
teardown(async () => {
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const q = async (sql) => (await s.psql(sql)).trim();
const join = async (name) => (M[name] = await joinMember(s, h, name));
const linked = async (name, extra = {}) => {
  const r = await linkArchive(s, M[name], {
    xId: X[name],
    followers: FOLLOWS.filter(([, b]) => b === name).map(([a]) => X[a]),
    following: FOLLOWS.filter(([a]) => a === name).map(([, b]) => X[b]),
    ...extra,
  });
  assert.equal(r.status, 200, r.body);
};
const settled = () =>
  eventually(async () => (await q("SELECT count(*) FROM members WHERE match_due_at IS NOT NULL")) === "0", { timeout: 10000, what: "every member matched" });
const pair = (b, a) =>
  q(`SELECT method || ' ' || state FROM follow_actions WHERE follower_id = ${M[b].id} AND followee_id = ${M[a].id}`);
// The notices a member received, as plain text (the note's HTML, tags and entities undone,
// the leading mention of the member dropped).
const text = (html) =>
  html
    .replace(/<br>/g, "\n")
    .replace(/<\/p><p>/g, "\n\n")
    .replace(/<[^>]+>/g, "")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&")
    .replace(/^@\S+ /, "");
const notices = (name) =>
  h
    .posts(`/users/${name}/inbox`)
    .map((r) => text(JSON.parse(r.body).object?.content ?? ""))
    .filter((t) => /on the fediverse now|sur le fédivers/.test(t));
const nth = (name, n) => eventually(() => notices(name)[n], { timeout: 10000, what: `notice ${n + 1} of ${name}` });
const bridgeAcct = () => `passerelle@${new URL(s.url).host}`;

test("held toward a new claim: hold_until is the claim time plus 24 hours, and the notice says who claims it and how to report", async () => {
  for (const n of ["lee", "max", "nia"]) await join(n);
  await setConsents(s, M.max, { autofollow: true });
  await linked("max");
  await linked("nia");
  await linked("lee");
  await settled();
  assert.equal(await pair("max", "lee"), "api held");
  assert.equal(await pair("nia", "lee"), "notice held");
  assert.equal(
    await q(
      `SELECT f.hold_until = m.linked_at + interval '24 hours' AND f.next_attempt_at = f.hold_until FROM follow_actions f JOIN members m ON m.id = f.followee_id WHERE f.follower_id = ${M.max.id}`,
    ),
    "t",
    "held until the claim time plus follow_hold_hours; the follow worker waits as long",
  );
  assert.equal(await q(`SELECT next_attempt_at IS NULL FROM follow_actions WHERE follower_id = ${M.nia.id}`), "t");
  const until = await q(`SELECT to_char(hold_until AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM follow_actions WHERE follower_id = ${M.max.id}`);
  const lee = `lee@${h.domain}`;
  const maxText = await nth("max", 0);
  assert.ok(
    maxText.includes(
      `@lee_x on X is claimed by @${lee}, who arrived recently. The automatic follow waits until ${until} UTC. If that is not the person you knew, send "report @${lee}" to @${bridgeAcct()}.`,
    ),
    maxText,
  );
  assert.ok(maxText.includes("Connect your server on your link page"), "no grant yet: how to let it happen");
  assert.ok(maxText.includes("to undo one, unfollow the account"), maxText);
  const niaText = await nth("nia", 0);
  assert.ok(niaText.includes(`claimed by @${lee}`) && niaText.includes(`"report @${lee}"`), niaText);
  assert.ok(niaText.includes(`Follow: ${h.url}/authorize_interaction?uri=${encodeURIComponent(M.lee.actor.id)}`), niaText);
  assert.ok(!niaText.includes("automatic"), "nothing automatic for nia");
});

test("contacts arriving together make one message; one arriving later the same day waits for the next day's", async () => {
  for (const n of ["oli", "qui", "rae"]) await join(n);
  await linked("oli");
  const first = await nth("oli", 0);
  assert.ok(first.startsWith("Someone you followed on X is on the fediverse now:"), first);
  assert.ok(first.includes("@lee_x") && !first.includes("@qui_x"), first);

  await linked("qui"); // oli's second contact, the same day
  await settled();
  assert.equal(await pair("oli", "qui"), "notice held");
  await sleep(800); // eight notice polls
  assert.equal(notices("oli").length, 1, "one message a day at most");
  assert.equal(
    await q(`SELECT n.due_at = m.last_notified_at + interval '24 hours' FROM notice_due n JOIN members m ON m.id = n.member_id WHERE n.member_id = ${M.oli.id}`),
    "t",
    "due again when the day is over",
  );
  assert.equal(await q(`SELECT notified_at IS NULL FROM follow_actions WHERE follower_id = ${M.oli.id} AND followee_id = ${M.qui.id}`), "t");

  await linked("rae"); // rae followed both: one message naming both
  const raeText = await nth("rae", 0);
  assert.ok(raeText.startsWith("2 people you followed on X are on the fediverse now:"), raeText);
  assert.ok(raeText.includes("@lee_x") && raeText.includes("@qui_x"), raeText);

  // The day is over for oli: the next message names only the one not told yet.
  await q(`UPDATE members SET last_notified_at = last_notified_at - interval '25 hours' WHERE id = ${M.oli.id}`);
  await q(`UPDATE notice_due SET due_at = now() WHERE member_id = ${M.oli.id}`);
  const second = await nth("oli", 1);
  assert.ok(second.startsWith("Someone you followed on X is on the fediverse now:"), second);
  assert.ok(second.includes("@qui_x") && !second.includes("@lee_x"), second);
  await sleep(500);
  assert.equal(notices("oli").length, 2);
  assert.equal(notices("rae").length, 1);
});

test("a member who writes in French gets the notice in French", async () => {
  await join("pia");
  await sendCommand(s, h, M.pia, "aide", /Commandes/);
  await linked("pia");
  const t = await nth("pia", 0);
  const lee = `lee@${h.domain}`;
  assert.ok(t.startsWith("Une personne que vous suiviez sur X est maintenant sur le fédivers :"), t);
  assert.ok(t.includes(`@lee_x sur X est revendiqué par @${lee}, arrivé récemment.`), t);
  assert.ok(t.includes(`envoyez « signaler @${lee} » à @${bridgeAcct()}.`), t);
  assert.ok(t.includes(`Suivre : ${h.url}/authorize_interaction?uri=`), t);
});

test("a command word of German, Italian, Spanish, Portuguese or Dutch is answered in that language, which is remembered", async () => {
  await join("ute");
  await sendCommand(s, h, M.ute, "hilfe", /Befehle, die Sie mir/);
  await sendCommand(s, h, M.ute, "status", /Zustand: beigetreten/); // a shared word: the member's language
  await sendCommand(s, h, M.ute, "stato", /Stato: iscritto/);
  await sendCommand(s, h, M.ute, "ayuda", /Comandos, para enviarme/);
  await sendCommand(s, h, M.ute, "ajuda", /Comandos, para me enviar/);
  await sendCommand(s, h, M.ute, "hulp", /Opdrachten, als direct bericht/);
});

test("one message lists at most 20 names and counts the rest, which the CSV holds", async () => {
  // Followees who linked two days ago (past the hold), seeded as rows the way a link leaves them.
  const values = Array.from({ length: SEEDED }, (_, i) => {
    const n = `s${String(i).padStart(2, "0")}`;
    return `('${h.url}/users/${n}', '${n}@${h.domain}', '${h.domain}', ${9000 + i}, '${n}_x', 'linked', now() - interval '2 days', '${h.url}/users/${n}/inbox')`;
  });
  await q(`INSERT INTO members (actor_uri, acct, host, x_id, x_handle, state, linked_at, inbox) VALUES ${values.join(",")}`);
  await join("sam");
  await linked("sam", { following: Array.from({ length: SEEDED }, (_, i) => String(9000 + i)) });
  const t = await nth("sam", 0);
  assert.ok(t.startsWith(`${SEEDED} people you followed on X are on the fediverse now:`), t);
  const lines = t.split("\n").filter((l) => l.startsWith("- @"));
  assert.equal(lines.length, 20, t);
  assert.ok(lines[0].startsWith(`- @s00_x on X is @s00@${h.domain} now. Follow: `), lines[0]);
  assert.ok(!t.includes("claimed by"), "linked two days ago: not held");
  assert.ok(t.includes(`...and ${SEEDED - 20} more: ${s.url}/me/following.csv has them all`), t);
  assert.equal(await q(`SELECT count(*) FROM follow_actions WHERE follower_id = ${M.sam.id} AND notified_at IS NOT NULL`), String(SEEDED), "all of them told");
  const csv = await request(`${s.url}/me/following.csv`, { headers: { cookie: M.sam.cookie } });
  assert.equal(csv.status, 200);
  assert.equal(csv.body.split("\n").filter((l) => /^s\d\d@/.test(l)).length, SEEDED, "the CSV holds every one");
});
