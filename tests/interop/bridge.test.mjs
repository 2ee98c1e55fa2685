// The bridge account's conversation with a real Fedify account: following it gets a verified
// Accept and a direct message with a one-time link; commands sent as direct messages get
// direct answers (English and French, rate-limited); "delete" twice forgets the member, and
// so does unfollowing, with nothing of theirs left in the database.
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startPeer } from "../lib/peer.mjs";

const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";
const LINK_RE = /\/link\/([0-9a-f]{32})(?![0-9a-f])/;

let s;
let alice;
let bob;

setup(async () => {
  s = await startServer({ config: { allow_private_fetch: "true" } });
  [alice, bob] = await Promise.all([
    startPeer({ user: "alice", firstKnock: "draft-cavage-http-signatures-12" }),
    startPeer({ user: "bob", firstKnock: "rfc9421" }),
  ]);
});
teardown(async () => {
  await alice?.stop();
  await bob?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const bridgeId = () => `${s.url}/users/passerelle`;
const bridgeInbox = () => `${bridgeId()}/inbox`;
const list = (x) => (x == null ? [] : Array.isArray(x) ? x : [x]);
const sq = (v) => `'${String(v).replaceAll("'", "''")}'`;

// The bridge's direct messages a peer has received (verified by Fedify), oldest first.
async function messages(peer) {
  return (await peer.events()).filter((e) => e.type === "Create" && e.actor === bridgeId());
}

// Plain text of a message's HTML, enough for assertions.
function textOf(ev) {
  const html = String(ev.raw?.object?.content ?? "");
  return html
    .replace(/^<p><span class="h-card">.*?<\/span><\/a><\/span> /, "<p>")
    .replace(/<br\s*\/?>/g, "\n")
    .replace(/<\/p><p>/g, "\n\n")
    .replace(/<[^>]*>/g, "")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

async function nextMessage(peer, seen, what) {
  return eventually(async () => (await messages(peer))[seen], { timeout: 10000, what });
}

// A direct message to the bridge the way Mastodon writes one: mention first, in a paragraph.
function dm(peer, words, { to = [bridgeId()], cc = [] } = {}) {
  const host = new URL(s.url).host;
  const note = {
    type: "Note",
    id: `${peer.url}/notes/${randomUUID()}`,
    attributedTo: peer.actorId,
    to,
    cc,
    content: `<p><span class="h-card" translate="no"><a href="${bridgeId()}" class="u-url mention">@<span>passerelle</span></a></span> ${words}</p>`,
    tag: [{ type: "Mention", href: bridgeId(), name: `@passerelle@${host}` }],
  };
  return peer.send(bridgeInbox(), { type: "Create", to, cc, object: note }, bridgeId());
}

// Sends a command and returns the text of the answer.
async function command(peer, words) {
  const seen = (await messages(peer)).length;
  const sent = await dm(peer, words);
  assert.equal(sent.ok, true, `the C inbox refused the message: ${sent.error}`);
  const ev = await nextMessage(peer, seen, `an answer to "${words}"`);
  return textOf(ev);
}

async function follow(peer) {
  const seen = (await messages(peer)).length;
  const sent = await peer.send(bridgeInbox(), { type: "Follow", object: bridgeId() }, bridgeId());
  assert.equal(sent.ok, true, `${sent.error}`);
  await eventually(
    async () => (await peer.events()).find((e) => e.type === "Accept" && e.actor === bridgeId() && (e.object === sent.id || e.raw?.object?.id === sent.id)),
    { timeout: 10000, what: "Accept from the bridge" },
  );
  const welcome = await nextMessage(peer, seen, "the welcome message");
  return { follow: sent, welcome };
}

async function memberId(peer) {
  return s.psql(`SELECT id FROM members WHERE actor_uri = ${sq(peer.actorId)}`);
}

const sha256 = (text) => createHash("sha256").update(text).digest("hex");

let aliceFollow;
let aliceMember;
let welcomeCode;

test("following the bridge: a verified Accept, then a direct message with a one-time link", async () => {
  const { follow: f, welcome } = await follow(alice);
  aliceFollow = f;
  aliceMember = await memberId(alice);
  assert.match(aliceMember, /^\d+$/);

  const raw = welcome.raw;
  assert.equal(welcome.sig, "draft-cavage", "Fedify verified the bridge's signature");
  assert.deepEqual(list(raw.to), [alice.actorId], "the Create is addressed to the member only");
  assert.deepEqual(list(raw.cc), []);
  assert.equal(raw.object.type, "Note");
  assert.deepEqual(list(raw.object.to), [alice.actorId], "the Note is addressed to the member only");
  assert.deepEqual(list(raw.object.cc), []);
  assert.equal(raw.object.attributedTo, bridgeId());
  assert.ok(raw.published && raw.object.published, "published on both");
  const origin = new URL(s.url).origin;
  assert.equal(new URL(raw.id).origin, origin, "activity id on our host");
  assert.equal(new URL(raw.object.id).origin, origin, "note id on our host");
  const tags = list(raw.object.tag);
  assert.equal(tags.length, 1);
  assert.equal(tags[0].type, "Mention");
  assert.equal(tags[0].href, alice.actorId);
  assert.equal(tags[0].name, `@alice@127.0.0.1:${alice.port}`);
  assert.ok(
    raw.object.content.startsWith(`<p><span class="h-card"><a href="${alice.actorId}" class="u-url mention">@<span>alice</span></a></span> `),
    `the mention comes first: ${raw.object.content.slice(0, 200)}`,
  );

  const m = LINK_RE.exec(raw.object.content);
  assert.ok(m, "the message holds /link/<32 hex>");
  welcomeCode = m[1];
  assert.ok(raw.object.content.includes(`${s.url}/link/${welcomeCode}`), "an absolute link on our base URL");
  assert.ok(raw.object.content.includes(`<a href="${s.url}/link/${welcomeCode}"`), "the link is clickable");
  const text = textOf(welcome);
  assert.match(text, /X/);
  assert.match(text, /help/);

  const rows = await s.psql(
    `SELECT encode(hash, 'hex'), extract(epoch FROM expires_at - created_at)::int, used_at IS NULL FROM link_codes WHERE member_id = ${aliceMember}`,
  );
  assert.equal(rows, `${sha256(welcomeCode)}|86400|t`, "only the SHA-256 of the code is stored, valid 24 hours");
  assert.equal(await s.psql(`SELECT count(*) FROM link_codes WHERE encode(hash, 'hex') LIKE ${sq(welcomeCode + "%")}`), "0");
  assert.ok(!s.stderr().includes(welcomeCode), "the code is never logged");

  const consents = await s.psql(
    `SELECT string_agg(consent || '=' || value || '/' || source, ',' ORDER BY consent) FROM consent_ledger WHERE member_id = ${aliceMember}`,
  );
  assert.equal(consents, "autofollow=false/default,findable=true/default,notify=true/default,relay=false/default");
});

test("help, status, link, pause, resume by direct message", async () => {
  const help = await command(alice, "help");
  assert.match(help, /^Commands/);
  assert.match(help, /report @user@host/);

  const status = await command(alice, "status");
  assert.match(status, /X account: nothing linked yet/);
  assert.match(status, /State: joined/);
  assert.match(status, /Findable by former X contacts: yes/);
  assert.match(status, /Messages when they arrive: yes/);
  assert.match(status, /Automatic follows: no/);
  assert.match(status, /Relay of your public posts: no/);
  assert.match(status, /Paused: no/);

  const link = await command(alice, "LINK");
  const m = LINK_RE.exec(link);
  assert.ok(m, `a new link in: ${link}`);
  assert.notEqual(m[1], welcomeCode, "a different code");
  assert.equal(
    await s.psql(`SELECT string_agg(encode(hash, 'hex'), ',') FROM link_codes WHERE member_id = ${aliceMember}`),
    sha256(m[1]),
    "the earlier unused code is gone, only the new one is stored",
  );

  assert.match(await command(alice, "pause"), /^Paused/);
  assert.equal(await s.psql(`SELECT paused FROM members WHERE id = ${aliceMember}`), "t");
  assert.match(await command(alice, "status"), /Paused: yes/);
  assert.match(await command(alice, "resume"), /^Resumed/);
  assert.equal(await s.psql(`SELECT paused FROM members WHERE id = ${aliceMember}`), "f");
});

test("a French command word answers in French and sets the member's language", async () => {
  const aide = await command(alice, "aide");
  assert.match(aide, /^Commandes/);
  assert.match(aide, /signaler @utilisateur@serveur/);
  assert.equal(await s.psql(`SELECT lang FROM members WHERE id = ${aliceMember}`), "fr");
  assert.match(await command(alice, "bonjour ?"), /^Commandes/, "an unknown word gets the help in the member's language");
});

test("a public note is not a command; report @user@host is recorded", async () => {
  const seen = (await messages(alice)).length;
  const pub = await dm(alice, "help", { to: [PUBLIC], cc: [bridgeId()] });
  assert.equal(pub.ok, true, `${pub.error}`);
  // The next answer is the report's: the public note got none (it would have come first).
  const thanks = await command(alice, "report @Mallory@Claims.example");
  assert.match(thanks, /^Thank you: your report about @Mallory@claims\.example/);
  assert.equal((await messages(alice)).length, seen + 1, "one answer for the two notes");
  assert.equal(await s.psql(`SELECT target FROM reports WHERE member_id = ${aliceMember}`), "Mallory@claims.example");
});

test("more than 10 commands an hour: one answer saying so, then silence", async () => {
  // Nine so far: help, status, LINK, pause, status, resume, aide, bonjour, report.
  assert.match(await command(alice, "status"), /^X account/, "the tenth is answered");
  assert.equal(await s.psql(`SELECT commands_in_window FROM members WHERE id = ${aliceMember}`), "10");
  const over = await command(alice, "help");
  assert.match(over, /^Too many commands: I answer at most 10 an hour\. Try again in \d+ minutes\./);
  const seen = (await messages(alice)).length;
  const sent = await dm(alice, "status");
  assert.equal(sent.ok, true, "the message itself is accepted");
  await sleep(1500);
  assert.equal((await messages(alice)).length, seen, "no answer past the first one over the limit");
});

test("the window ends an hour after it started: commands are answered again", async () => {
  await s.psql(`UPDATE members SET commands_window_start = now() - interval '61 minutes' WHERE id = ${aliceMember}`);
  assert.match(await command(alice, "help"), /^Commands/);
  assert.equal(await s.psql(`SELECT commands_in_window FROM members WHERE id = ${aliceMember}`), "1", "a new window");
});

test("unfollowing removes the member and everything of theirs", async () => {
  // A link page session, to see it go too.
  await s.psql(
    `INSERT INTO sessions (hash, member_id, csrf_hash, expires_at) VALUES (sha256('s'), ${aliceMember}, sha256('c'), now() + interval '1 hour')`,
  );
  const undo = await alice.send(
    bridgeInbox(),
    { type: "Undo", object: { id: aliceFollow.id, type: "Follow", actor: alice.actorId, object: bridgeId() } },
    bridgeId(),
  );
  assert.equal(undo.ok, true, `${undo.error}`);
  const left = await s.psql(
    `SELECT (SELECT count(*) FROM members WHERE actor_uri = ${sq(alice.actorId)}) || ',' ||` +
      ` (SELECT count(*) FROM link_codes WHERE member_id = ${aliceMember}) || ',' ||` +
      ` (SELECT count(*) FROM consent_ledger WHERE member_id = ${aliceMember}) || ',' ||` +
      ` (SELECT count(*) FROM sessions WHERE member_id = ${aliceMember}) || ',' ||` +
      ` (SELECT count(*) FROM reports WHERE member_id = ${aliceMember})`,
  );
  assert.equal(left, "0,0,0,0,0", "members, link_codes, consent_ledger, sessions, reports");
});

test("delete asks for a confirmation, a second delete forgets the member; then they are a stranger", async () => {
  const { welcome } = await follow(bob);
  assert.equal(welcome.sig, "draft-cavage");
  assert.ok(LINK_RE.test(welcome.raw.object.content));
  const id = await memberId(bob);
  await s.psql(`UPDATE members SET x_id = 4242, x_handle = 'bob_on_x' WHERE id = ${id}`);
  await s.psql(`INSERT INTO x_edges VALUES (4242, 99, ${id}), (98, 4242, ${id}), (97, 96, ${id} + 1000)`);

  const status = await command(bob, "statut");
  assert.match(status, /Compte X : @bob_on_x/);
  assert.match(status, /Anciens abonnés X : 1/);
  assert.match(status, /Comptes suivis sur X : 1/);

  const ask = await command(bob, "supprimer");
  assert.match(ask, /Envoyez de nouveau « supprimer » dans les 15 minutes/);
  assert.equal(await s.psql(`SELECT delete_requested_at IS NOT NULL FROM members WHERE id = ${id}`), "t");
  assert.equal(await s.psql(`SELECT count(*) FROM members WHERE id = ${id}`), "1", "not yet");

  // A confirmation after the window only asks again.
  await s.psql(`UPDATE members SET delete_requested_at = now() - interval '16 minutes' WHERE id = ${id}`);
  assert.match(await command(bob, "delete"), /Send "delete" again within 15 minutes/, "asked again (and in English now)");
  assert.equal(await s.psql(`SELECT count(*) FROM members WHERE id = ${id}`), "1", "still there");

  const done = await command(bob, "delete");
  assert.match(done, /^Done: passerelle has forgotten you/);
  const left = await s.psql(
    `SELECT (SELECT count(*) FROM members WHERE actor_uri = ${sq(bob.actorId)}) || ',' ||` +
      ` (SELECT count(*) FROM link_codes WHERE member_id = ${id}) || ',' ||` +
      ` (SELECT count(*) FROM consent_ledger WHERE member_id = ${id}) || ',' ||` +
      ` (SELECT count(*) FROM x_edges WHERE 4242 IN (follower_x_id, followee_x_id)) || ',' ||` +
      ` (SELECT count(*) FROM x_edges)`,
  );
  assert.equal(left, "0,0,0,0,1", "member, codes, ledger and their edges gone; others' edges kept");

  const stranger = await command(bob, "help");
  assert.match(stranger, /^To use passerelle, follow me first \(@passerelle@127\.0\.0\.1:\d+\)/);
  assert.match(stranger, /Commands/);
});

test("the server logged no error, and no link code", async () => {
  assert.ok(s.alive());
  const errors = s.stderr().split("\n").filter((l) => /\blevel=error\b/.test(l));
  assert.deepEqual(errors, []);
  assert.ok(!/[0-9a-f]{32}/.test(s.stderr().replace(/activities\/[0-9a-f]{32}/g, "")), "no 32-hex code in the log");
});
