// The link page's server side against the real server and PostgreSQL: a person follows the
// bridge, gets the one-time link by direct message, spends it for a session, uploads an X
// archive (parsed in C, edges stored by COPY), re-uploads a newer one, sets consents; a second
// person claiming the same X account freezes both; refusals change nothing.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost, signedPost, newId, AS } from "../lib/actorhost.mjs";
import { request } from "../lib/http.mjs";
import { xArchive, zipBuffer } from "../lib/xarchive.mjs";
import { continueLink, continuePage, sqlSession } from "../lib/linkcode.mjs";
import { linkCode, welcomeCode } from "../lib/members.mjs";

let s, h;
const sessions = {};

setup(async () => {
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: "100", queue_backoff_unit_ms: "10" } });
  h = await startActorHost({ actors: [{ name: "alice" }, { name: "bob" }, { name: "carol" }, { name: "dave" }, { name: "erin" }, { name: "fanny" }] });
});
teardown(async () => {
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const bridge = () => `${s.url}/users/passerelle`;
const q = async (sql) => (await s.psql(sql)).trim();

// Follows the bridge as name and returns the code from the welcome message.
async function join(name) {
  const a = h.actor(name);
  const mark = h.mark;
  const f = { "@context": AS, id: newId(h), type: "Follow", actor: a.id, object: bridge() };
  const r = await signedPost(`${bridge()}/inbox`, f, { actor: a });
  assert.equal(r.status, 202, r.body);
  const dm = await eventually(
    () => h.since(mark).find((x) => x.method === "POST" && x.path === `/users/${name}/inbox` && /\/link\/[0-9a-f]{32}/.test(x.body)),
    { timeout: 10000, what: `welcome message to ${name}` },
  );
  return dm.body.match(/\/link\/([0-9a-f]{32})/)[1];
}

// The person's click on "Continue": the page's same-origin POST of the code.
async function open(code) {
  const r = await continueLink(s, code);
  assert.equal(r.status, 303);
  assert.equal(r.headers.location, "/link");
  const c = r.headers["set-cookie"]?.[0];
  return c ? c.split(";")[0] : null;
}

const codeState = (code) => q(`SELECT CASE WHEN used_at IS NULL THEN 'unused' ELSE 'used' END FROM link_codes WHERE hash = sha256('${code}'::bytea)`);

async function state(cookie) {
  return request(`${s.url}/link/state`, { headers: cookie ? { cookie } : {} });
}

function upload(sess, body, { csrf = sess.csrf, type = "application/zip" } = {}) {
  const headers = { cookie: sess.cookie, "content-type": type };
  if (csrf) headers["x-csrf-token"] = csrf;
  return request(`${s.url}/link/archive`, { method: "POST", headers, body });
}

async function snapshot() {
  return q(
    "SELECT (SELECT string_agg(id || ':' || coalesce(x_id::text,'-') || ':' || state || ':' || findable || autofollow || notify || relay, ',' ORDER BY id) FROM members)" +
      " || '|' || (SELECT count(*) FROM x_edges) || '|' || (SELECT count(*) FROM x_claims) || '|' || (SELECT count(*) FROM consent_ledger)",
  );
}

test("the welcome link opens a session once; the session shows the member and the default consents", async () => {
  const code = await join("alice");
  const page = await continuePage(s, code);
  assert.match(page.body, new RegExp(`Continue as @alice@${new URL(h.url).host.replace(/[.]/g, "\\.")}<`), "the page names the account");
  const cookie = await open(code);
  assert.match(cookie ?? "", /^passerelle_link=[0-9a-f]{64}$/, "a session cookie");
  assert.equal(await open(code), null, "a spent code opens nothing");
  const again = await request(`${s.url}/link/${code}`);
  assert.equal(again.status, 303, "a spent code's page is the link page (which says it expired)");
  assert.equal(again.headers.location, "/link");
  assert.equal(again.headers["set-cookie"], undefined);
  assert.equal(await open("0".repeat(32)), null, "an unknown code opens nothing");
  const raw = (await request(`${s.url}/link/${"0".repeat(32)}`)).headers["set-cookie"];
  assert.equal(raw, undefined, "an unknown code's GET opens nothing");
  const st = await state(cookie);
  assert.equal(st.status, 200, st.body);
  const j = st.json();
  assert.equal(j.member, `acct:alice@${new URL(h.url).host}`);
  assert.equal(j.handle, null);
  assert.deepEqual(j.consents, { findable: true, autofollow: false, notify: true, relay: false });
  assert.match(j.csrf, /^[0-9a-f]{64}$/);
  // follow_members off (the tests' default): the bridge follows nobody, and says nothing of it.
  assert.equal(j.bridge_follow, null);
  const welcome = h.since(0).find((x) => x.method === "POST" && x.path === "/users/alice/inbox" && x.body.includes(code));
  assert.ok(!welcome.body.includes("only to hear it if you move"), "the welcome says nothing of a follow");
  const setCookie = (await continueLink(s, await linkCode(s, h, "alice"))).headers["set-cookie"][0];
  assert.match(setCookie, /HttpOnly/);
  assert.match(setCookie, /SameSite=Lax/);
  assert.match(setCookie, /Path=\/;/, "the session also serves /me/following.csv");
  sessions.alice = { cookie, csrf: j.csrf };
  assert.equal((await state(null)).status, 401, "no cookie: 401");
  assert.equal((await state(`passerelle_link=${"a".repeat(64)}`)).status, 401, "unknown session: 401");
});

// Mastodon's FetchLinkCardService GETs the first link of every status it receives, direct
// messages included, within a minute; other servers fetch previews when a message is shown.
test("a link preview's GET and HEAD spend nothing; the person's POST then opens the session", async () => {
  const code = await join("dave");
  const sessionsOf = () => q(`SELECT count(*) FROM sessions s JOIN members m ON m.id = s.member_id WHERE m.actor_uri = '${h.actor("dave").id}'`);
  const crawler = { "user-agent": "http.rb/5.2.0 (Mastodon/4.3.2; +https://mastodon.example/) Bot", accept: "text/html" };
  for (const method of ["GET", "HEAD", "GET"]) {
    const r = await request(`${s.url}/link/${code}`, { method, headers: crawler });
    assert.equal(r.status, 200, `${method} by a crawler: ${r.status}`);
    assert.equal(r.headers["set-cookie"], undefined, `${method} by a crawler set a cookie`);
    assert.equal(await codeState(code), "unused", `the crawler's ${method} left the code valid`);
  }
  const page = await continuePage(s, code);
  assert.match(page.headers["content-security-policy"], /default-src 'none'/);
  assert.doesNotMatch(page.headers["content-security-policy"], /script-src/, "the continue page runs no script");
  assert.match(page.headers["content-security-policy"], /form-action 'self'/);
  assert.equal(page.headers["x-frame-options"], "DENY");
  assert.equal(page.headers["referrer-policy"], "same-origin", "the form's POST carries its Origin");
  assert.equal(page.headers["cache-control"], "no-store");
  assert.doesNotMatch(page.body, /<script/);
  assert.equal(await sessionsOf(), "0");
  // Chromium and Firefox send Sec-Fetch-Site with the form; the Origin check is for the rest.
  const r = await continueLink(s, code, { "sec-fetch-site": "same-origin" });
  assert.equal(r.status, 303, r.body);
  assert.match(r.headers["set-cookie"]?.[0] ?? "", /^passerelle_link=[0-9a-f]{64};/);
  assert.equal(await codeState(code), "used");
  assert.equal(await sessionsOf(), "1");
  assert.equal((await state(r.headers["set-cookie"][0].split(";")[0])).status, 200);
});

test("a cross-site POST of a code is refused (403) and spends nothing, as is one that shows no origin", async () => {
  const code = await join("erin");
  const before = await snapshot();
  const sessionsBefore = await q("SELECT count(*) FROM sessions");
  for (const [what, headers] of [
    ["another site's form (Origin)", { origin: "https://attacker.example" }],
    ["another site's form (Sec-Fetch-Site)", { "sec-fetch-site": "cross-site", origin: "https://attacker.example" }],
    ["a sibling subdomain", { "sec-fetch-site": "same-site", origin: s.url }],
    ["an opaque origin", { origin: "null" }],
    ["our host on another scheme", { origin: s.url.replace(/^http:/, "https:") }],
    ["no Origin, no Sec-Fetch-Site", {}],
  ]) {
    const r = await continueLink(s, code, headers);
    assert.equal(r.status, 403, `${what}: ${r.status} ${r.body}`);
    assert.equal(r.headers["set-cookie"], undefined, `${what}: a cookie`);
    assert.equal(await codeState(code), "unused", `${what}: the code was spent`);
  }
  assert.equal(await q("SELECT count(*) FROM sessions"), sessionsBefore, "no session was opened");
  assert.equal(await snapshot(), before);
  assert.ok(await open(code), "the person's own click still works");
});

test("at log_level debug the request lines name /link/<secret>, never the code", async (t) => {
  const d = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: "100", queue_backoff_unit_ms: "10", log_level: "debug" } });
  t.defer(async () => assert.equal(await d.stop(), 0));
  const code = await welcomeCode(d, h, "alice");
  await continuePage(d, code);
  assert.equal((await request(`${d.url}/link/${code}`, { method: "HEAD" })).status, 200);
  assert.equal((await continueLink(d, code)).status, 303);
  const lines = d.stderr().split("\n").filter((l) => l.includes("event=http_request") && l.includes("/link/<secret>"));
  assert.equal(lines.length, 3, `GET, HEAD and POST logged, redacted:\n${lines.join("\n")}`);
  assert.equal(d.stderr().includes(code), false, "the code is nowhere in the log");
});

test("refused uploads change nothing: no CSRF, wrong type, not a zip, not an X archive", async () => {
  const before = await snapshot();
  const good = zipBuffer(xArchive({ username: "alice", followers: 4, following: 2 }).entries);
  assert.equal((await upload(sessions.alice, good, { csrf: null })).status, 403);
  assert.equal((await upload(sessions.alice, good, { csrf: "0".repeat(64) })).status, 403);
  assert.equal((await upload(sessions.alice, good, { type: "application/json" })).status, 415);
  const notzip = await upload(sessions.alice, Buffer.from("hello"));
  assert.equal(notzip.status, 400);
  const notx = await upload(sessions.alice, zipBuffer([{ name: "readme.txt", data: Buffer.from("hi") }]));
  assert.equal(notx.status, 400);
  assert.match(notx.json().error, /account/i, "the reason names what is missing");
  const bad = xArchive({ username: "alice", followers: 3, manifestCounts: { follower: 5 } });
  const mismatch = await upload(sessions.alice, zipBuffer(bad.entries));
  assert.equal(mismatch.status, 400, mismatch.body);
  assert.equal(await snapshot(), before);
});

test("an archive links the member: X id, handle, edges by COPY, claim; a newer one replaces the edges", async () => {
  const a = xArchive({ username: "alice_x", accountId: "9223372036854775000", followers: 5, following: 3, followerParts: 2 });
  const r = await upload(sessions.alice, zipBuffer(a.entries));
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json(), { status: "linked", handle: "alice_x", x_id: "9223372036854775000", followers: 5, following: 3, blocked: 0, muted: 0 });
  const id = await q(`SELECT id FROM members WHERE actor_uri = '${h.actor("alice").id}'`);
  assert.equal(await q(`SELECT x_id || ':' || x_handle || ':' || state FROM members WHERE id = ${id}`), "9223372036854775000:alice_x:linked");
  assert.equal(await q("SELECT count(*) FROM x_edges WHERE followee_x_id = 9223372036854775000"), "5");
  assert.equal(await q("SELECT count(*) FROM x_edges WHERE follower_x_id = 9223372036854775000"), "3");
  assert.equal(await q(`SELECT string_agg(follower_x_id::text, ',' ORDER BY follower_x_id) FROM x_edges WHERE followee_x_id = 9223372036854775000`), a.followers.join(","));
  assert.equal(await q(`SELECT count(*) FROM x_claims WHERE member_id = ${id}`), "1");
  const st = (await state(sessions.alice.cookie)).json();
  assert.equal(st.handle, "alice_x");
  assert.equal(st.followers, 5);
  assert.equal(st.following, 3);

  const newer = xArchive({ username: "alice_x", accountId: "9223372036854775000", followers: 2, following: 7 });
  const r2 = await upload(sessions.alice, zipBuffer(newer.entries));
  assert.equal(r2.status, 200, r2.body);
  assert.equal(await q("SELECT count(*) FROM x_edges"), "9", "the newer archive replaced the edges");
});

test("consents: saved with a ledger line per change and the client address; bad values change nothing", async () => {
  const post = (body, csrf = sessions.alice.csrf) =>
    request(`${s.url}/link/consents`, {
      method: "POST",
      headers: { cookie: sessions.alice.cookie, "content-type": "application/json", ...(csrf ? { "x-csrf-token": csrf } : {}) },
      body: JSON.stringify(body),
    });
  const before = await snapshot();
  assert.equal((await post({ relay: true }, null)).status, 403, "no CSRF token");
  assert.equal((await post({ relay: "yes" })).status, 400, "not a boolean");
  assert.equal((await post({ nothing: true })).status, 400, "no consent named");
  assert.equal(await snapshot(), before);
  const r = await post({ findable: true, autofollow: true, notify: true, relay: true });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json().consents, { findable: true, autofollow: true, notify: true, relay: true });
  const rows = await q(
    `SELECT string_agg(consent || '=' || value || '@' || source || '/' || host(client_addr), ',' ORDER BY consent) FROM consent_ledger l JOIN members m ON m.id = l.member_id WHERE m.actor_uri = '${h.actor("alice").id}' AND source = 'page'`,
  );
  assert.equal(rows, "autofollow=true@page/127.0.0.1,relay=true@page/127.0.0.1", "only the two that changed");
});

test("a second member claiming the same X account freezes both and tells both", async () => {
  const bobCookie = await open(await join("bob"));
  const bob = { cookie: bobCookie, csrf: (await state(bobCookie)).json().csrf };
  const mark = h.mark;
  const edges = await q("SELECT count(*) FROM x_edges");
  const same = xArchive({ username: "alice_x", accountId: "9223372036854775000", followers: 50, following: 50 });
  const r = await upload(bob, zipBuffer(same.entries));
  assert.equal(r.status, 409, r.body);
  assert.equal(r.json().status, "disputed");
  assert.equal(await q("SELECT string_agg(state, ',' ORDER BY id) FROM members WHERE actor_uri LIKE '%/users/alice' OR actor_uri LIKE '%/users/bob'"), "disputed,disputed");
  assert.equal(await q("SELECT count(*) FROM x_edges"), edges, "no edges from a disputed claim");
  for (const who of ["alice", "bob"]) {
    await eventually(() => h.since(mark).find((x) => x.method === "POST" && x.path === `/users/${who}/inbox` && /frozen/.test(x.body)), {
      timeout: 10000,
      what: `dispute message to ${who}`,
    });
  }
});

test("leaving (Undo Follow) removes the member, sessions, claims and edges", async () => {
  const carolCookie = await open(await join("carol"));
  const carol = { cookie: carolCookie, csrf: (await state(carolCookie)).json().csrf };
  const a = xArchive({ username: "carol_x", accountId: "42", followers: 3, following: 3 });
  assert.equal((await upload(carol, zipBuffer(a.entries))).status, 200);
  const c = h.actor("carol");
  const followId = await q(`SELECT follow_id FROM members WHERE actor_uri = '${c.id}'`);
  const undo = { "@context": AS, id: newId(h), type: "Undo", actor: c.id, object: { id: followId, type: "Follow", actor: c.id, object: bridge() } };
  assert.equal((await signedPost(`${bridge()}/inbox`, undo, { actor: c })).status, 202);
  assert.equal(await q(`SELECT count(*) FROM members WHERE actor_uri = '${c.id}'`), "0");
  assert.equal(await q("SELECT count(*) FROM x_edges WHERE follower_x_id = 42 OR followee_x_id = 42"), "0");
  assert.equal(await q("SELECT count(*) FROM x_claims WHERE x_id = 42"), "0");
  assert.equal((await state(carol.cookie)).status, 401, "the session went with the member");
});

test("the 401 names the bridge account to ask; max_archive_bytes holds uploads even below max_body_bytes", async () => {
  const r = await state(null);
  assert.equal(r.status, 401);
  assert.equal(r.json().bridge, `@passerelle@${new URL(s.url).host}`);
  const small = await startServer({ config: { max_archive_bytes: "4096" } });
  try {
    await small.psql("INSERT INTO members (id, actor_uri, acct, host, inbox) VALUES (1, 'https://m.example/users/sam', 'sam@m.example', 'm.example', 'https://m.example/users/sam/inbox')");
    const sess = await sqlSession(small, 1);
    const headers = { "content-type": "application/zip", cookie: sess.cookie, "x-csrf-token": sess.csrf };
    const big = await request(`${small.url}/link/archive`, { method: "POST", headers, body: Buffer.alloc(5000) });
    assert.equal(big.status, 413, "over max_archive_bytes (4 KiB) though under max_body_bytes (1 MiB)");
    const fits = await request(`${small.url}/link/archive`, { method: "POST", headers, body: Buffer.alloc(3000) });
    assert.equal(fits.status, 400, "under it: on to the parser (no zip)");
    const none = await request(`${small.url}/link/archive`, { method: "POST", headers: { "content-type": "application/zip" }, body: Buffer.alloc(5000) });
    assert.equal(none.status, 401, "without a session: answered from the head, size aside");
    assert.equal(none.json().bridge, `@passerelle@${new URL(small.url).host}`, "the same 401 as the page's other endpoints");
  } finally {
    assert.equal(await small.stop(), 0);
  }
});

// One rule picks the language (server/core/texts.c): Accept-Language by q, then the member's
// choice, then English; the texts come from the catalogues (server/core/texts/<lang>.txt).
test("languages: the continue page, the state and the refusals follow Accept-Language, then the member's choice", async () => {
  const host = new URL(h.url).host;
  const code = await join("fanny");
  const fr = await continuePage(s, code, { "accept-language": "sv-FI, fr;q=0.8, en;q=0.5" });
  assert.match(fr.body, /<html lang="fr">/, "the first language with a catalogue, by q");
  assert.ok(fr.body.includes(`>Continuer en tant que @fanny@${host}<`), "the French button");
  assert.ok(fr.body.includes("Ce n\u2019est pas votre compte\u00a0? Fermez cette page\u00a0: rien n\u2019a \u00e9t\u00e9 modifi\u00e9."), "the French note, byte for byte");
  const en = await continuePage(s, code, { "accept-language": "sv" });
  assert.match(en.body, /<html lang="en">/, "no catalogue for sv and no choice: English");
  assert.ok(en.body.includes(`>Continue as @fanny@${host}<`));
  const de = await continuePage(s, code, { "accept-language": "de-AT, fr;q=0.8" });
  assert.match(de.body, /<html lang="de">/, "German, from Austria");
  assert.ok(de.body.includes(`>Weiter als @fanny@${host}<`), "the German button");
  await q(`UPDATE members SET lang = 'fr' WHERE actor_uri = '${h.actor("fanny").id}'`);
  assert.match((await continuePage(s, code, { "accept-language": "sv" })).body, /<html lang="fr">/, "then the member's choice");
  assert.match((await continuePage(s, code)).body, /<html lang="fr">/, "no Accept-Language: the member's choice");
  assert.match((await continuePage(s, code, { "accept-language": "en-GB" })).body, /<html lang="en">/, "the browser's language before the member's");
  const cookie = await open(code);
  const st = (headers) => request(`${s.url}/link/state`, { headers: { cookie, ...headers } });
  assert.equal((await st({ "accept-language": "en" })).json().lang, "en");
  assert.equal((await st({ "accept-language": "sv, *;q=0.1" })).json().lang, "fr", "no catalogue: the member's choice");
  const csrf = (await st({})).json().csrf;
  const wrongType = (lang) =>
    request(`${s.url}/link/archive`, { method: "POST", headers: { cookie, "x-csrf-token": csrf, "content-type": "text/plain", "accept-language": lang }, body: "x" });
  const refusedFr = await wrongType("fr-CH");
  assert.equal(refusedFr.status, 415);
  assert.equal(refusedFr.json().error, "envoyez l'archive au format application/zip", "a refusal in the browser's language");
  assert.equal((await wrongType("en")).json().error, "send the archive as application/zip");
  const other = { "de-AT": "senden Sie das Archiv als application/zip", "es-MX": "envíe el archivo como application/zip", it: "invii l'archivio come application/zip", "pt-BR": "envie o arquivo como application/zip", "nl-BE": "stuur het archief als application/zip" };
  for (const [lang, reason] of Object.entries(other)) assert.equal((await wrongType(lang)).json().error, reason, lang);
});
