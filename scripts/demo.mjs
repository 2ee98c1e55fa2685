// make demo: the whole story on loopback, each step printed as it happens, every expectation
// checked. Three people leave X for three fediverse servers (real Fedify instances, each
// with the Mastodon client-API test double on the same origin), join the bridge, link
// archives that follow each other, choose different consents, and are reconnected exactly
// as those consents say; an admin's instance subscribes to the relay and receives a
// member's public post; an old X handle looks up to its new home; Alice moves to another
// account and her membership follows her; Dora joins from the web, signing in on her own server;
// Carol undoes the follow made for her and Bob ignores Alice, from their pages; then across
// the networks: Erin, on Bluesky (the reference PDS), signs in with an app password and
// follows her former X contact Frank there in her own repository, Dora, on the fediverse,
// follows Erin through Bridgy Fed (its test double) from her own server, and Erin follows
// Dora's account bridged to Bluesky by Bridgy Fed, in her repository too.
//
// Run through scripts/demo.sh (which starts a throwaway PostgreSQL under var/demo/); it
// prints "ok N - ..." for each expectation, so tests/run.sh runs it as a test too.
import { randomUUID } from "node:crypto";
import { startServer, freePort } from "../tests/lib/server.mjs";
import { startPeer } from "../tests/lib/peer.mjs";
import { eventually, sleep } from "../tests/lib/harness.mjs";
import { request } from "../tests/lib/http.mjs";
import { openLink } from "../tests/lib/linkcode.mjs";
import { xArchive, zipBuffer } from "../tests/lib/xarchive.mjs";
import { connect } from "../tests/lib/oauthflow.mjs";
import { signIn, setCookie } from "../tests/lib/signin.mjs";
import { startPds } from "../tests/lib/pds.mjs";
import { startBridgyFed } from "../tests/lib/bridgyfed.mjs";
import { startDns } from "../tests/lib/dns.mjs";
import { blueskyMember, followsOf } from "../tests/lib/atmembers.mjs";

const PUBLIC = "https://www.w3.org/ns/activitystreams#Public";
const tty = process.stdout.isTTY;
const bold = (s) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (tty ? `\x1b[2m${s}\x1b[0m` : s);

let checked = 0;
let failed = 0;
const t0 = Date.now();
const at = () => dim(`[${((Date.now() - t0) / 1000).toFixed(1)} s]`);

function say(text) {
  console.log(`# ${text}`);
}
function step(title) {
  console.log(`#\n# ${bold(title)} ${at()}`);
}
function expect(cond, what, detail = "") {
  checked++;
  if (cond) console.log(`ok ${checked} - ${what}`);
  else {
    failed++;
    console.log(`not ok ${checked} - ${what}${detail ? `\n#   ${detail}` : ""}`);
  }
  return cond;
}
// Waits for fn() to be truthy; a timeout is a failed expectation, not a crash.
async function waitFor(fn, what, timeout = 15000) {
  try {
    return await eventually(fn, { timeout, interval: 100, what });
  } catch {
    return null;
  }
}

// People: their X account, what they followed on X, and what they allow.
const X = {
  alice: { handle: "alice_x", id: "1580000000000000101" },
  bob: { handle: "Bob_X", id: "1580000000000000102" },
  carol: { handle: "carol_x", id: "1580000000000000103" },
  dora: { handle: "dora_x", id: "1580000000000000104" },
  erin: { handle: "erin_x", id: "1580000000000000105" },
};
const people = {
  // Alice followed Bob and Carol on X; she lets the bridge follow for her and relay her posts.
  alice: { following: [X.bob.id, X.carol.id], followers: [X.bob.id, X.carol.id], consents: { findable: true, autofollow: true, notify: true, relay: true }, grant: true },
  // Bob followed Alice; he wants to be told, not followed for.
  bob: { following: [X.alice.id], followers: [X.alice.id], consents: { findable: true, autofollow: false, notify: true, relay: false }, grant: false },
  // Carol followed Alice; she follows automatically but does not want to be found.
  carol: { following: [X.alice.id], followers: [X.alice.id], consents: { findable: false, autofollow: true, notify: true, relay: false }, grant: true },
};

let s;
let pds; // the reference atproto PDS with its PLC directory, where Erin and Frank live
let bridgy; // Bridgy Fed's test double (bsky.brid.gy, ap.brid.gy): who is bridged to the other network
let dns; // a DNS double: _atproto TXT records (Bridgy Fed's handles)
// Dora's server is named dora.example where a name without a port is needed: Bridgy Fed gives
// her the Bluesky handle dora.dora.example.<ap domain> (test_host_names; on loopback every
// server has a port, and a handle cannot).
let doraPort;
const DORA_HOST = "dora.example";
const peers = {};
let admin; // an instance admin's server, subscribed to the relay; no former X contact there
let exitCode = 1;

const plain = (html) =>
  String(html ?? "")
    .replace(/<br\s*\/?>/g, "\n")
    .replace(/<\/p><p>/g, "\n")
    .replace(/<[^>]*>/g, "")
    .replace(/&amp;/g, "&")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">");

async function bridgeMessages(p) {
  return (await p.events()).filter((e) => e.type === "Create" && e.actor === `${s.url}/users/passerelle`);
}

// A person's page: their X archive dropped in, then their consents (as the page's buttons do).
async function linkArchive(u, session, person) {
  const { cookie, csrf } = session;
  const zip = zipBuffer(xArchive({ username: X[u].handle, accountId: X[u].id, displayName: u, followerIds: person.followers, followingIds: person.following }).entries);
  const up = await request(`${s.url}/link/archive`, { method: "POST", headers: { cookie, "content-type": "application/zip", "x-csrf-token": csrf }, body: zip });
  expect(up.status === 200 && up.json().status === "linked", `${u} linked @${X[u].handle} (${person.following.length} followed, ${person.followers.length} followers)`, `${up.status} ${up.body}`);
  const c = await request(`${s.url}/link/consents`, { method: "POST", headers: { cookie, "content-type": "application/json", "x-csrf-token": csrf }, body: JSON.stringify(person.consents) });
  expect(c.status === 200, `${u}'s consents saved: ${Object.entries(person.consents).map(([k, v]) => `${k}=${v ? "yes" : "no"}`).join(" ")}`, c.body);
}

async function main() {
  step("1. The bridge starts: PostgreSQL, migrations, passerelle serve on loopback (beside a Bluesky PDS and Bridgy Fed)");
  // The fediverse servers of step 2 start meanwhile: loading the PDS takes seconds. Both load
  // modules at once on a loaded machine, so the peers get more than their usual 15 s.
  const names = Object.keys(people);
  const timeout = 60000;
  const starting = Promise.all([
    ...names.map((u, i) => startPeer({ user: u, mastodon: true, firstKnock: i % 2 ? "rfc9421" : "draft-cavage-http-signatures-12", timeout })),
    startPeer({ user: "admin", firstKnock: "draft-cavage-http-signatures-12", timeout }),
  ]);
  starting.catch(() => {}); // step 2 awaits it; a failure before that is the PDS's to report
  [pds, dns, doraPort] = await Promise.all([startPds(), startDns({}), freePort()]);
  bridgy = await startBridgyFed({ plcUrl: pds.plcUrl, apDomain: "ap.brid.test", dns });
  s = await startServer({
    name: "passerelle",
    config: {
      allow_private_fetch: "true",
      queue_poll_ms: 100,
      queue_backoff_unit_ms: 10,
      match_poll_ms: 100,
      notice_poll_ms: 300,
      follow_poll_ms: 200,
      follow_hold_hours: 0,
      relay_follow_poll_ms: 200,
      follow_members: "true", // the product's default (the test harness turns it off)
      plc_url: pds.plcUrl,
      atproto_handle_origin: pds.url, // the PDS answers its handles' /.well-known/atproto-did
      atproto_follow_poll_ms: 200,
      atproto_dns_server: dns.server, // Bridgy Fed's handles have _atproto TXT records there
      bridge_bsky_domain: bridgy.domain,
      bridge_ap_domain: bridgy.apDomain,
      test_host_names: `${DORA_HOST}=127.0.0.1:${doraPort}`,
      bridge_poll_ms: 200,
    },
  });
  say(`passerelle at ${s.url} (bridge account @passerelle@${new URL(s.url).host})`);
  say(`a Bluesky PDS at ${pds.url} (PLC directory ${pds.plcUrl}); Bridgy Fed's double at ${bridgy.url}`);

  step("2. Four fediverse servers start (Fedify, with the Mastodon client API on the same origin)");
  const started = await starting;
  names.forEach((u, i) => (peers[u] = started[i]));
  admin = started[names.length];
  for (const u of names) {
    await peers[u].configure({ autoAccept: true });
    await peers[u].mastodonControl({ loggedIn: u });
    say(`${u}'s new home: ${peers[u].actorId}`);
  }
  say(`an instance admin's server: ${admin.url}`);

  step("3. The admin adds passerelle as a relay, and so does Bob's server");
  for (const p of [admin, peers.bob]) {
    const r = await p.send(`${s.url}/inbox`, { type: "Follow", object: PUBLIC }, `${s.url}/actor`);
    expect(r.ok, `${p.user}'s server subscribed to the relay`, r.error);
  }
  const subs = await waitFor(async () => (await s.psql("SELECT count(*) FROM instances WHERE relay_state = 'accepted'")) === "2", "two subscriptions");
  expect(subs, "the relay accepted both subscriptions");

  step("4. Each person follows @passerelle from their new account and gets a one-time link");
  const links = {};
  for (const u of names) {
    const bridge = `${s.url}/users/passerelle`;
    const r = await peers[u].send(`${bridge}/inbox`, { type: "Follow", object: bridge }, bridge);
    expect(r.ok, `${u} followed the bridge account (signed, verified)`, r.error);
    const dm = await waitFor(async () => (await bridgeMessages(peers[u])).find((e) => /\/link\/[0-9a-f]{32}/.test(String(e.raw?.object?.content))), `the welcome message to ${u}`);
    if (expect(dm, `${u} received the welcome message with a one-time link (verified by Fedify)`)) {
      links[u] = String(dm.raw.object.content).match(/\/link\/([0-9a-f]{32})/)[1];
      say(`${u}: "${plain(dm.raw.object.content).slice(0, 90)}..."`);
    }
  }

  step("5. Each opens the link, drops their X archive in the page and chooses consents");
  const sessions = {};
  for (const u of names) {
    if (!links[u]) continue;
    // As a person does it: the link shows a page, "Continue" POSTs the code and opens the session.
    const cookie = await openLink(s, links[u]);
    const st = await request(`${s.url}/link/state`, { headers: { cookie } });
    sessions[u] = { cookie, csrf: st.json().csrf };
    await linkArchive(u, sessions[u], people[u]);
  }

  step("6. Alice and Carol let the bridge follow for them: OAuth with PKCE on their own servers");
  for (const u of names.filter((n) => people[n].grant)) {
    const r = await connect(s, sessions[u]);
    expect(r.result === "granted", `${u}'s server granted the follow and list scopes (token stored sealed)`, `result=${r.result}`);
  }

  step("7. The bridge matches former contacts and acts on each pair as both sides allow");
  const aliceFollowedBob = await waitFor(
    async () => (await peers.bob.events()).find((e) => e.type === "Follow" && e.actor === peers.alice.actorId && e.object === peers.bob.actorId),
    "alice's Follow at bob",
  );
  expect(aliceFollowedBob, "Alice now follows Bob: her own server sent the Follow, through its API (she allowed autofollow, Bob is findable)");
  const carolFollowedAlice = await waitFor(
    async () => (await peers.alice.events()).find((e) => e.type === "Follow" && e.actor === peers.carol.actorId && e.object === peers.alice.actorId),
    "carol's Follow at alice",
  );
  expect(carolFollowedAlice, "Carol now follows Alice the same way (Carol allowed autofollow, Alice is findable)");
  const bobNotice = await waitFor(
    async () => (await bridgeMessages(peers.bob)).find((e) => String(e.raw?.object?.content).includes("authorize_interaction")),
    "bob's notice",
  );
  expect(bobNotice, "Bob (no autofollow) got a message instead, with a link that opens the follow on his own server");
  if (bobNotice) {
    const text = plain(bobNotice.raw.object.content);
    say(`to bob: "${text.replace(/\n/g, " / ").slice(0, 220)}"`);
    expect(text.includes(`alice@127.0.0.1:${peers.alice.port}`), "the message names Alice's new handle");
    expect(text.includes(`${peers.bob.url}/authorize_interaction?uri=${encodeURIComponent(peers.alice.actorId)}`), "the link is on Bob's server, for Alice's actor");
  }
  const aliceNotice = await waitFor(async () => (await bridgeMessages(peers.alice)).find((e) => plain(e.raw?.object?.content).includes(`bob@127.0.0.1:${peers.bob.port}`)), "alice's notice");
  if (expect(aliceNotice, "Alice was told too, that the bridge follows Bob for her")) {
    const text = plain(aliceNotice.raw.object.content);
    say(`to alice: "${text.replace(/\n/g, " / ").slice(0, 260)}"`);
    expect(/undo|unfollow/i.test(text), "her message says how to undo an automatic follow");
  }
  await sleep(1000); // give any wrong follow time to show
  const aliceAtCarol = (await peers.carol.events()).filter((e) => e.type === "Follow" && e.actor === peers.alice.actorId);
  expect(aliceAtCarol.length === 0, "Alice does NOT follow Carol: Carol chose not to be findable");
  const bobAtAlice = (await peers.alice.events()).filter((e) => e.type === "Follow" && e.actor === peers.bob.actorId);
  expect(bobAtAlice.length === 0, "Bob does NOT follow Alice automatically: he did not allow it");
  const states = await s.psql(
    "SELECT string_agg(b.acct || ' -> ' || a.acct || ': ' || fa.method || '/' || fa.state, '; ' ORDER BY fa.id) FROM follow_actions fa JOIN members b ON b.id = fa.follower_id JOIN members a ON a.id = fa.followee_id",
  );
  say(`pairs: ${states}`);

  step("8. Alice downloads her found contacts for Mastodon's import");
  const csv = await request(`${s.url}/me/following.csv`, { headers: { cookie: sessions.alice.cookie } });
  say(csv.body.trim().replace(/\n/g, " | "));
  expect(csv.status === 200 && csv.body.startsWith("Account address,Show boosts,Notify on new posts,Languages"), "following.csv is in Mastodon's import format", `${csv.status} ${csv.body.slice(0, 100)}`);
  expect(csv.body.includes(`bob@127.0.0.1:${peers.bob.port}`) && !csv.body.includes("carol@"), "it lists Bob, and not Carol (not findable)");

  step("9. Alice posts in public; the relay announces it where her former followers live");
  await waitFor(async () => (await s.psql(`SELECT relay_follow_state FROM members WHERE acct = 'alice@127.0.0.1:${peers.alice.port}'`)) === "accepted", "the relay follows alice");
  const note = { id: `${peers.alice.url}/notes/${randomUUID()}`, type: "Note", attributedTo: peers.alice.actorId, content: "<p>Hello fediverse, I moved from X!</p>", to: [PUBLIC], cc: [`${peers.alice.actorId}/followers`] };
  const sent = await peers.alice.send(`${s.url}/inbox`, { type: "Create", to: note.to, cc: note.cc, object: note }, `${s.url}/actor`);
  expect(sent.ok, "Alice's server delivered her public post to the relay (she allowed relay)", sent.error);
  const ann = await waitFor(async () => (await peers.bob.events()).find((e) => e.type === "Announce" && e.object === note.id), "the Announce at bob's server");
  expect(ann && ann.sig, "Bob's server (a former follower of Alice lives there) received the relay's Announce, signature verified by Fedify", JSON.stringify(ann)?.slice(0, 200));
  await waitFor(async () => (await s.psql("SELECT count(*) FROM deliveries WHERE state = 'pending'")) === "0", "the queue to drain");
  await sleep(300);
  const adminAnn = (await admin.events()).filter((e) => e.type === "Announce");
  expect(adminAnn.length === 0, "the admin's instance, where none of Alice's former followers lives, received nothing");
  const origin = (await peers.alice.events()).filter((e) => e.type === "Announce");
  expect(origin.length === 0, "and nothing went back to Alice's own server");

  step("10. Anyone looks up an old X handle and finds the new home");
  const host = new URL(s.url).host;
  const found = await admin.lookup(`@${X.alice.handle.toUpperCase()}@${host}`);
  say(`@${X.alice.handle.toUpperCase()}@${host} -> ${found.actor?.id} ("${found.actor?.name}", movedTo ${found.actor?.movedTo})`);
  expect(found.found && found.actor?.movedTo === peers.alice.actorId, "Fedify's own lookup of @ALICE_X (any case) finds a stand-in whose movedTo is Alice's new account", JSON.stringify(found).slice(0, 300));
  const hidden = await admin.lookup(`@${X.carol.handle}@${host}`);
  expect(hidden.found === false, "@carol_x finds nothing: Carol is not findable", JSON.stringify(hidden).slice(0, 200));

  step("11. The public status page");
  await sleep(5100); // its rendering is reused for 5 s
  const page = await request(`${s.url}/`);
  const dd = (id) => page.body.match(new RegExp(`<dd id="${id}">([^<]*)</dd>`))?.[1];
  say(`members ${dd("members")}, linked ${dd("linked")}, instances ${dd("instances")}, follows made ${dd("follows")}, contacts found ${dd("contacts")}`);
  expect(dd("members") === "3" && dd("instances") === "2" && dd("follows") === "2", "it counts 3 members, 2 subscribed instances and 2 follows made");
  expect(/<svg[^>]*>[\s\S]*<rect class="bar"[^>]*data-value="3"/.test(page.body), "its server-drawn chart shows today's 3 arrivals");

  step("12. Alice moves to another server; her membership follows her");
  peers.alice2 = await startPeer({ user: "alice2", firstKnock: "rfc9421" });
  const moved = peers.alice2;
  // As Mastodon's "Moving from a different account": the new account names the old one first.
  await moved.configure({ aliases: [peers.alice.actorId], autoAccept: true });
  say(`alice's new account: ${moved.actorId} (alsoKnownAs ${peers.alice.actorId})`);
  const mv = await peers.alice.send(`${s.url}/inbox`, { type: "Move", object: peers.alice.actorId, target: moved.actorId }, `${s.url}/actor`);
  expect(mv.ok, "Alice's old server sent the Move (signed by Fedify)", mv.error);
  const row = await s.psql(`SELECT acct || ' ' || x_id FROM members WHERE actor_uri = '${moved.actorId}'`);
  expect(row === `alice2@127.0.0.1:${moved.port} ${X.alice.id}`, "the new account holds her membership, X claim included", row);
  const told = await waitFor(async () => (await moved.events()).find((e) => e.type === "Create" && /\/link\/[0-9a-f]{32}/.test(String(e.raw?.object?.content))), "the notice at the new account");
  if (told) say(`to alice2: "${plain(told.raw.object.content).replace(/\n/g, " / ").slice(0, 200)}..."`);
  expect(told, "the new account is told, with a link to connect its server");
  const relayed = await waitFor(async () => (await moved.events()).find((e) => e.type === "Follow" && e.actor === `${s.url}/actor`), "the relay's follow of the new account");
  expect(relayed, "the relay follows the new account (she allowed relaying)");
  const again = await admin.lookup(`@${X.alice.handle}@${host}`);
  say(`@${X.alice.handle}@${host} -> movedTo ${again.actor?.movedTo}`);
  expect(again.actor?.movedTo === moved.actorId, "her old X handle now points to the new account", JSON.stringify(again).slice(0, 300));

  step("13. Dora joins from the web: her address on the start page, one consent on her own server");
  peers.dora = await startPeer({ user: "dora", mastodon: true, firstKnock: "rfc9421", port: doraPort });
  await peers.dora.mastodonControl({ loggedIn: "dora" });
  const home = await request(`${s.url}/`);
  expect(home.body.includes('<form method="post" action="/signin">'), "the start page offers \"Start with your account\"");
  const web = await signIn(s, peers.dora, "dora", { follows: true });
  say(`dora@127.0.0.1:${peers.dora.port} -> ${web.authorizeUrl.origin}/oauth/authorize (scope ${web.authorizeUrl.searchParams.get("scope")}) -> ${web.callback.headers.location}`);
  const drow = await s.psql(`SELECT m.acct || ' ' || m.autofollow || ' ' || (g.member_id IS NOT NULL) FROM members m LEFT JOIN oauth_grants g ON g.member_id = m.id WHERE m.actor_uri = '${peers.dora.actorId}'`);
  expect(drow === `dora@127.0.0.1:${peers.dora.port} true true`, "she is a member, signed in on her page, autofollow on and her server connected, from one consent", drow);

  step("14. From their pages: Carol undoes the follow made for her, Bob ignores Alice");
  const post = (who, path, body) =>
    request(`${s.url}/link/contacts/${path}`, { method: "POST", headers: { cookie: sessions[who].cookie, "content-type": "application/json", "x-csrf-token": sessions[who].csrf }, body: JSON.stringify(body) });
  const list = await request(`${s.url}/link/contacts?dir=following`, { headers: { cookie: sessions.carol.cookie } });
  const listed = list.json()?.contacts ?? [];
  say(`carol's contacts: ${listed.map((c) => `@${c.handle} on X is @${c.acct} (${c.status})`).join(", ")}`);
  expect(listed.length === 1 && listed[0].handle === X.alice.handle && listed[0].status === "followed", "Carol's page lists Alice by her X handle, where she is now, followed for Carol", list.body?.slice(0, 200));
  const undo = await post("carol", "undo", { all: true });
  expect(undo.status === 200 && undo.json().queued === 1, '"Undo every follow made for me" is one request that queues the work', undo.body);
  const undone = await waitFor(async () => (await peers.alice.events()).find((e) => e.type === "Undo" && e.actor === peers.carol.actorId), "carol's Undo at alice");
  expect(undone, "Carol's own server unfollowed Alice (its client API, her grant), and sent the signed Undo");
  const ignored = await post("bob", "ignore", { x_id: X.alice.id });
  expect(ignored.status === 200 && ignored.json().changed === 1, "Bob ignores Alice on his page", ignored.body);
  const bobAlice = await waitFor(
    async () => (await s.psql(`SELECT fa.state || ' ' || fa.last_error FROM follow_actions fa JOIN members b ON b.id = fa.follower_id JOIN members a ON a.id = fa.followee_id WHERE b.acct = 'bob@127.0.0.1:${peers.bob.port}' AND a.x_id = ${X.alice.id}`)).includes("excluded"),
    "bob's pair toward alice undone",
  );
  expect(bobAlice, "the matcher undid his pair toward her: she is never followed, named or told about him again, until he restores her");

  step("15. Across the networks: Erin joins from Bluesky with an app password; Frank is there already; Dora links her archive");
  const [erinAt, frankAt] = await Promise.all([pds.createAccount("erin"), pds.createAccount("frank")]);
  bridgy.bridge(erinAt.handle, erinAt.did); // Erin opted in to Bridgy Fed, and so did Dora
  const doraAt = await bridgy.bridgeFediverse(`dora@${DORA_HOST}`, peers.dora.actorId);
  const frank = await blueskyMember(s, pds, "frank", frankAt); // linked, findable, autofollow
  say(`erin: ${erinAt.handle} (${erinAt.did}) on ${pds.url}, bridged as @${erinAt.handle}@${bridgy.domain}; frank: ${frankAt.handle}, on X @frank_x`);
  say(`dora: bridged to Bluesky as ${doraAt.handle} (${doraAt.did}, its alsoKnownAs naming ${peers.dora.actorId})`);
  // As in her Bluesky app's settings, then on the start page's "app password" form.
  const appPassword = (await pds.xrpc("com.atproto.server.createAppPassword", { body: { name: "passerelle" }, token: erinAt.accessJwt })).json?.password;
  const form = await request(`${s.url}/signin/bluesky/app-password?handle=${erinAt.handle}`);
  const signedIn = await request(`${s.url}/signin/bluesky/app-password`, {
    method: "POST",
    headers: { origin: s.url, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ handle: erinAt.handle, password: appPassword ?? "" }).toString(),
  });
  const erinCookie = `passerelle_link=${setCookie(signedIn, "passerelle_link")}`;
  const erinPage = await request(`${s.url}/link/state`, { headers: { cookie: erinCookie } });
  const erin = { id: await s.psql(`SELECT id FROM members WHERE actor_uri = '${erinAt.did}'`) };
  const grant = erin.id ? await s.psql(`SELECT kind || ' ' || (access_token IS NULL) || ' ' || (refresh_token IS NOT NULL) FROM atproto_grants WHERE member_id = ${erin.id}`) : "";
  expect(
    form.status === 200 && signedIn.status === 303 && erinPage.status === 200 && grant === "app_password true true",
    "Erin signed in with her handle and an app password: her handle resolved, a session opened at her PDS, only its refresh token kept (sealed)",
    `${form.status} ${signedIn.status} ${signedIn.body.slice(0, 200)} grant=${grant}`,
  );
  sessions.erin = { cookie: erinCookie, csrf: erinPage.json()?.csrf ?? "" };
  const doraPage = await request(`${s.url}/link/state`, { headers: { cookie: web.session } });
  sessions.dora = { cookie: web.session, csrf: doraPage.json()?.csrf };
  // Erin followed Dora and Frank on X; Dora followed Erin. Both let the bridge follow for them.
  const both = { findable: true, autofollow: true, notify: true, relay: false };
  await linkArchive("erin", sessions.erin, { following: [X.dora.id, frank.xId], followers: [X.dora.id], consents: both });
  await linkArchive("dora", sessions.dora, { following: [X.erin.id], followers: [X.erin.id], consents: both });

  step("16. Erin follows Frank on Bluesky, in her own repository; Dora's server follows Erin's Bridgy Fed actor; Erin follows Dora's bridged account");
  const pairOf = (b, a) => s.psql(`SELECT fa.method || ' ' || fa.state || ' ' || coalesce(fa.record_uri, '') FROM follow_actions fa WHERE fa.follower_id = ${b} AND fa.followee_id = ${a}`);
  const written = await waitFor(async () => (await followsOf(pds, erinAt))[frankAt.did], "erin's follow record for frank", 30000);
  expect(written?.length === 1, "Erin's PDS holds one app.bsky.graph.follow record for Frank's DID (listRecords, read back from her repository)", JSON.stringify(written));
  const ef = await waitFor(async () => ((await pairOf(erin.id, frank.id)).startsWith("atproto done") ? pairOf(erin.id, frank.id) : null), "erin's pair toward frank done");
  if (ef) say(`erin -> frank: ${ef}`);
  expect(ef === `atproto done ${written?.[0]}`, "her pair is done, with that record's at:// uri kept (an undo can name it)", ef);
  const erinActor = bridgy.actorId(erinAt.did);
  const bridged = await waitFor(async () => (await s.psql(`SELECT bridged_handle FROM members WHERE id = ${erin.id}`)) || null, "erin looked up at Bridgy Fed");
  expect(bridged === `${erinAt.handle}@${bridgy.domain}`, `the bridge found Erin bridged by Bridgy Fed (WebFinger acct:${erinAt.handle}@${bridgy.domain}, self link ${erinActor})`, bridged);
  const doraFollow = await waitFor(async () => (await peers.dora.mastodon()).follows?.find((f) => f.user === "dora" && f.actorId === erinActor), "dora's follow of erin's bridged actor", 30000);
  expect(doraFollow, "Dora's own server followed Erin's Bridgy Fed actor, through its client API (search with resolve, then follow)");
  const delivered = await waitFor(() => bridgy.requests.find((r) => r.method === "POST" && r.path === `/ap/${erinAt.did}/inbox`), "the Follow at bridgy fed");
  expect(delivered && /signature/i.test(JSON.stringify(delivered.headers)), "and her server delivered its signed Follow to that actor's inbox at Bridgy Fed, which carries it to Bluesky");
  const doraId = await s.psql(`SELECT id FROM members WHERE actor_uri = '${peers.dora.actorId}'`);
  const doraBridged = await waitFor(async () => (await s.psql(`SELECT bridged_id || ' ' || bridged_handle FROM members WHERE id = ${doraId}`)) || null, "dora looked up on Bluesky");
  expect(
    doraBridged === `${doraAt.did} ${doraAt.handle}`,
    `the bridge found Dora bridged to Bluesky: ${doraAt.handle} resolved (DNS TXT, then the DID's document in the PLC directory, the handle checked both ways), and the document's alsoKnownAs names her actor`,
    doraBridged,
  );
  const dw = await waitFor(async () => (await followsOf(pds, erinAt))[doraAt.did], "erin's follow record for dora's bridged account", 30000);
  expect(dw?.length === 1, "Erin's PDS holds one app.bsky.graph.follow record for Dora's bridged DID (listRecords): she follows Dora on Bluesky through Bridgy Fed", JSON.stringify(dw));
  const ed = await waitFor(async () => ((await pairOf(erin.id, doraId)).startsWith("atproto done") ? pairOf(erin.id, doraId) : null), "erin's pair toward dora done");
  say(`erin -> dora: ${ed}`);
  expect(ed === `atproto done ${dw?.[0]}`, "her pair toward Dora is done, with that record's uri kept", ed);
  const elist = await request(`${s.url}/link/contacts?dir=following`, { headers: { cookie: sessions.erin.cookie } });
  const econtacts = elist.json()?.contacts ?? [];
  say(`erin's page: ${econtacts.map((c) => `@${c.handle} on X is ${c.acct} (${c.status})`).join(", ")}`);
  expect(
    econtacts.length === 2 && econtacts.some((c) => c.handle === X.dora.handle && c.acct === `dora@127.0.0.1:${peers.dora.port}` && c.status === "followed") && econtacts.some((c) => c.handle === "frank_x" && c.status === "followed"),
    "her page lists both as followed for her: Frank on Bluesky, and Dora by her fediverse address",
    elist.body?.slice(0, 300),
  );
  const everything = await followsOf(pds, erinAt);
  expect(Object.keys(everything).length === 2, "nobody else is followed in Erin's repository", JSON.stringify(everything));

  exitCode = failed === 0 ? 0 : 1;
}

try {
  await main();
} catch (e) {
  failed++;
  console.log(`not ok ${++checked} - the demo stopped: ${e?.stack ?? e}`);
}
for (const p of [...Object.values(peers), admin, bridgy, dns, pds]) await p?.stop().catch(() => {});
if (s) {
  const code = await s.stop();
  expect(code === 0, "passerelle stopped cleanly (exit 0)");
  if (code !== 0) exitCode = 1;
  if (failed > 0) console.log(s.stderr().split("\n").slice(-60).map((l) => `# ${l}`).join("\n"));
}
console.log(`1..${checked}`);
console.log(`# ${checked - failed} of ${checked} expectations met in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
process.exit(failed === 0 ? exitCode : 1);
