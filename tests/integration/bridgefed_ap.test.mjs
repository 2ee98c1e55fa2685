// A Bluesky member follows a fediverse contact through their bridged identity (issue 13, item
// 4), against the reference PDS and its in-memory PLC directory (tests/lib/pds.mjs), a test
// double of Bridgy Fed's fediverse-to-Bluesky side (tests/lib/bridgyfed.mjs: a did:plc of its
// own per bridged account, handle user.host.<bridge_ap_domain>, alsoKnownAs naming the native
// actor), a DNS double (tests/lib/dns.mjs), and the real server and PostgreSQL. The bridge
// worker resolves each fediverse contact's Bridgy Fed handle and keeps the DID only when its
// document's alsoKnownAs names the contact's actor; the matcher then plans an 'atproto' pair,
// and the Bluesky follow worker writes app.bsky.graph.follow of that DID in the member's own
// repository, read back with listRecords. A forged identity (alsoKnownAs naming someone
// else), no bridge, or a missing consent: no record.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startPds } from "../lib/pds.mjs";
import { startDns } from "../lib/dns.mjs";
import { startServer } from "../lib/server.mjs";
import { startBridgyFed } from "../lib/bridgyfed.mjs";
import { startChatDouble } from "../lib/chatdouble.mjs";
import { MEMBER_CONFIG } from "../lib/browser.mjs";
import { blueskyMember, sealedGrant, followsOf } from "../lib/atmembers.mjs";
import { sq } from "../lib/oauthflow.mjs";
import { sqlSession } from "../lib/linkcode.mjs";
import { request } from "../lib/http.mjs";

let pds, dns, b, s, chat;
const A = {}; // PDS accounts of the Bluesky members
const M = {}; // name -> member {id, xId, ...}

// Fediverse members, at home on a server with a name without a port (nothing fetches from it:
// they are rows, and their bridged identities live at the Bridgy Fed double).
const FEDI = {
  gina: { bridge: "self" }, // bridged, alsoKnownAs names her actor
  hana: { bridge: "forged" }, // a bridged identity whose alsoKnownAs names another actor
  ivy: { bridge: null }, // not bridged
  jo: { bridge: "self", findable: false }, // bridged, but not findable
};
const actorOf = (name) => `https://social.example/users/${name}`;
const acctOf = (name) => `${name}@social.example`;

setup(async () => {
  [pds, dns, chat] = await Promise.all([startPds({ rateLimits: true }), startDns({}), startChatDouble()]);
  b = await startBridgyFed({ plcUrl: pds.plcUrl, apDomain: "ap.brid.test", dns });
  // The bridge's own Bluesky account: notices to Bluesky members go as its direct messages.
  const dmAccount = await pds.createAccount("bridge");
  const file = `${process.env.TMPDIR ?? "/tmp"}/passerelle-apdm-${process.pid}`;
  writeFileSync(file, `${dmAccount.password}\n`, { mode: 0o600 });
  s = await startServer({
    config: {
      ...MEMBER_CONFIG,
      plc_url: pds.plcUrl,
      atproto_dns_server: dns.server,
      atproto_handle_origin: b.url, // Bridgy Fed answers its handles' /.well-known/atproto-did
      bridge_ap_domain: b.apDomain,
      bridge_bsky_domain: b.domain,
      bridge_poll_ms: "50",
      match_poll_ms: "50",
      atproto_follow_poll_ms: "50",
      notice_poll_ms: "100",
      bluesky_dm_handle: dmAccount.handle,
      bluesky_dm_password_file: file,
      bluesky_dm_pds: pds.url,
      bluesky_chat_service: chat.proxy,
      bluesky_dm_poll_ms: "50",
    },
  });
  let x = 9900000000;
  for (const [name, p] of Object.entries(FEDI)) {
    if (p.bridge === "self") M[name] = await b.bridgeFediverse(acctOf(name), actorOf(name));
    else if (p.bridge === "forged") M[name] = await b.bridgeFediverse(acctOf(name), actorOf("someone-else"));
    else M[name] = {};
    const xId = String(x++);
    M[name].id = await s.psql(
      `INSERT INTO members (actor_uri, acct, host, x_id, x_handle, state, linked_at, findable, notify)
       VALUES (${sq(actorOf(name))}, ${sq(acctOf(name))}, 'social.example', ${xId}, ${sq(`${name}_x`)}, 'linked', now() - interval '2 days', ${p.findable ?? true}, false)
       RETURNING id`,
    );
    M[name].xId = xId;
  }
  // fiona on Bluesky with autofollow and her grant; kim without autofollow.
  const [fiona, kim] = await Promise.all([pds.createAccount("fiona"), pds.createAccount("kim")]);
  Object.assign(A, { fiona, kim });
  M.fiona = await blueskyMember(s, pds, "fiona", fiona);
  M.kim = await blueskyMember(s, pds, "kim", kim, { autofollow: false });
  await sealedGrant(s, pds, M.fiona, fiona);
  await sealedGrant(s, pds, M.kim, kim);
  await s.psql(`UPDATE members SET notify = true WHERE id IN (${M.fiona.id}, ${M.kim.id})`);
  // fiona followed the four on X; kim followed gina. Their own archives say so.
  for (const name of Object.keys(FEDI)) await s.psql(`INSERT INTO x_edges VALUES (${M.fiona.xId}, ${M[name].xId}, ${M.fiona.id})`);
  await s.psql(`INSERT INTO x_edges VALUES (${M.kim.xId}, ${M.gina.xId}, ${M.kim.id})`);
  await s.psql(`UPDATE members SET match_due_at = now() WHERE id IN (${M.fiona.id}, ${M.kim.id})`);
});
teardown(async () => {
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
  await b?.stop();
  await dns?.stop();
  await chat?.stop();
  await pds?.stop();
});

const q = async (sql) => (await s.psql(sql)).trim();
const pair = (follower, followee) =>
  q(`SELECT method || ' ' || state FROM follow_actions WHERE follower_id = ${M[follower].id} AND followee_id = ${M[followee].id}`);
const bridgedOf = (name) =>
  q(`SELECT coalesce(bridged_id, '-') || ' ' || coalesce(bridged_handle, '-') || ' ' || (bridge_checked_at IS NOT NULL) FROM members WHERE id = ${M[name].id}`);
const asked = (name) => b.requests.some((r) => r.path === "/.well-known/atproto-did" && r.host === b.apHandle(acctOf(name))) || dns.queries.includes(`_atproto.${b.apHandle(acctOf(name))}`);
const dmsOf = (name) => q(`SELECT coalesce(string_agg(body, E'\\n---\\n' ORDER BY id), '') FROM atproto_dms WHERE member_id = ${M[name].id}`);

test("a bridged fediverse contact is followed on Bluesky: the bridged DID, written in the member's repository", async () => {
  await eventually(async () => (await pair("fiona", "gina")) === "atproto done", { timeout: 20000, what: "fiona's pair toward gina done" });
  assert.equal(await bridgedOf("gina"), `${M.gina.did} gina.social.example.ap.brid.test true`, "gina's bridged DID and handle kept");
  assert.ok(asked("gina"), "her Bridgy Fed handle was resolved");
  const f = await followsOf(pds, A.fiona);
  assert.equal(f[M.gina.did]?.length, 1, "one follow record of gina's bridged DID");
  assert.equal(
    await q(`SELECT record_uri FROM follow_actions WHERE follower_id = ${M.fiona.id} AND followee_id = ${M.gina.id}`),
    f[M.gina.did][0],
    "the record's at:// uri kept on the pair",
  );
  // fiona's page says the follow went through Bridgy Fed; ivy, not bridged, was not followed.
  const sess = await sqlSession(s, M.fiona.id);
  const r = await request(`${s.url}/link/contacts?dir=following`, { headers: { cookie: sess.cookie } });
  assert.equal(r.status, 200, r.body);
  const by = Object.fromEntries(r.json().contacts.map((c) => [c.handle, c]));
  assert.equal(by.gina_x.status, "followed");
  assert.equal(by.gina_x.bridged, true, "gina: through Bridgy Fed");
  assert.equal(by.ivy_x?.bridged ?? false, false, "ivy: no bridge");
});

test("a bridged identity whose alsoKnownAs names another actor is no bridge: not followed, a notice", async () => {
  await eventually(async () => (await bridgedOf("hana")).endsWith(" true"), { timeout: 10000, what: "hana looked up" });
  assert.ok(asked("hana"), "her Bridgy Fed handle was resolved (it exists, the handle checked both ways)");
  assert.equal(await bridgedOf("hana"), "- - true", "the identity does not name her actor: not hers");
  assert.equal(await pair("fiona", "hana"), "notice planned");
  assert.equal((await followsOf(pds, A.fiona))[M.hana.did], undefined, "the forged identity is not followed");
});

test("a fediverse contact without a bridge: a notice with their fediverse address, no follow", async () => {
  await eventually(async () => (await bridgedOf("ivy")).endsWith(" true"), { timeout: 10000, what: "ivy looked up" });
  assert.equal(await bridgedOf("ivy"), "- - true", "ivy is not bridged");
  assert.ok(asked("ivy"), "her Bridgy Fed handle was asked for, and not found");
  assert.equal(await pair("fiona", "ivy"), "notice planned");
  const dm = await eventually(async () => ((await dmsOf("fiona")).includes("ivy") ? dmsOf("fiona") : false), { timeout: 10000, what: "fiona's notice" });
  assert.match(dm, /@ivy_x on X is @ivy@social\.example now\. They are on the fediverse, not bridged to Bluesky yet: https:\/\/social\.example\/users\/ivy/, "ivy by her fediverse address, with a link");
  assert.match(dm, /@gina_x on X is @gina\.social\.example\.ap\.brid\.test now\./, "gina by her bridged handle");
  assert.match(dm, /Bridgy Fed: https:\/\/bsky\.app\/profile\/gina\.social\.example\.ap\.brid\.test/, "with her bridged profile");
  assert.doesNotMatch(dm, /hana\.social\.example\.ap\.brid\.test/, "hana's forged identity is never named");
});

test("a consent missing on either side: no follow", async () => {
  assert.equal(await pair("fiona", "jo"), "", "jo is not findable: no pair at all");
  assert.equal(await bridgedOf("jo"), "- - false", "and nobody looked him up");
  await eventually(async () => (await pair("kim", "gina")) !== "", { timeout: 10000, what: "kim matched" });
  assert.equal(await pair("kim", "gina"), "notice planned", "kim has no automatic follows: told, not followed");
  assert.deepEqual(await followsOf(pds, A.kim), {}, "nothing in kim's repository");
  const dm = await eventually(async () => ((await dmsOf("kim")).includes("gina") ? dmsOf("kim") : false), { timeout: 10000, what: "kim's notice" });
  assert.match(dm, /bridged to Bluesky by Bridgy Fed: https:\/\/bsky\.app\/profile\/gina\.social\.example\.ap\.brid\.test/, "told where to follow gina on Bluesky");
  const f = await followsOf(pds, A.fiona);
  assert.deepEqual(Object.keys(f), [M.gina.did], "fiona follows gina's bridged identity and nobody else");
});
