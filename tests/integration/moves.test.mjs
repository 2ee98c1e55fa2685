// Moves (issue 14, item 5) against the real server and PostgreSQL: a member's Move, signed by
// the old actor and confirmed by the new actor's alsoKnownAs (fetched fresh), carries the
// membership over: the same row keeps the claim (x_id, verification, hold), the consents and
// their ledger (plus a row per consent noting the move), the follow_actions both ways in their
// states, and the stand-in (now movedTo the new actor); actor_uri, acct, host and inbox become
// the new actor's; the old server's grant is deleted and revoked there; the relay's follow of
// the old actor is undone and the new one followed, and so is the bridge account's (which follows
// every member, to hear their Move); the member is told on the new account, in
// their language, with a one-time link to connect the new server. A Move that fails a check
// (no alsoKnownAs, another signer, another object, an unfetchable target, a blocked target)
// changes nothing and is logged; a replayed Move does nothing; a Move of a non-member is
// acknowledged and its target never fetched; a new actor that is a member already is merged
// (the claimed row is kept, two claims are refused, the older membership wins otherwise).
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { get } from "../lib/http.mjs";
import { startActorHost, signedPost, AS } from "../lib/actorhost.mjs";
import { joinMember } from "../lib/members.mjs";
import { connect } from "../lib/oauthflow.mjs";

let s, O, N, B; // O: the members' old home (Mastodon's API too), N: the new one, B: blocked
const q = async (sql) => (await s.psql(sql)).trim();
const ALIASES = {}; // name on N -> the actor ids its alsoKnownAs names

// A Move as Mastodon sends it: the actor moves itself (object) to target.
let nMove = 0;
const move = (actor, target, extra = {}) => ({
  "@context": AS,
  id: `${actor.id}#moves/${++nMove}`,
  type: "Move",
  actor: actor.id,
  object: actor.id,
  target,
  ...extra,
});
const post = (activity, actor) => signedPost(`${s.url}/inbox`, activity, { actor });

// Everything a move may touch, as one JSON text (updated_at aside).
const snapshot = () =>
  q(`SELECT json_build_object(
       'members', (SELECT json_agg(m ORDER BY id) FROM (SELECT id, actor_uri, acct, host, inbox, follow_id, x_id,
          x_verified_at, state, linked_at, findable, autofollow, notify, relay, lang FROM members) m),
       'ledger', (SELECT json_agg(l ORDER BY id) FROM (SELECT id, member_id, consent, value, source FROM consent_ledger) l),
       'follows', (SELECT json_agg(f ORDER BY id) FROM (SELECT id, follower_id, followee_id, state, remote_account_id, done_at
          FROM follow_actions) f),
       'grants', (SELECT json_agg(member_id ORDER BY member_id) FROM oauth_grants),
       'moves', (SELECT count(*) FROM member_moves),
       'seen_moves', (SELECT count(*) FROM seen_activity_ids WHERE id LIKE '%#moves/%'))`);

let ann; // the member who moves: {id, ...} from joinMember
const XID = { ann: 3001, bob: 3002, cat: 3003, cat2: 3004, dan: 3005, gus2: 3006 };

setup(async () => {
  O = await startActorHost({ actors: ["ann", "bob", "cat", "dan", "gus", "eve"].map((name) => ({ name })), mastodon: true });
  N = await startActorHost();
  B = await startActorHost();
  const withAliases = (name) => ({ name, document: (doc) => (ALIASES[name] ? { ...doc, alsoKnownAs: ALIASES[name] } : doc) });
  for (const name of ["ann2", "noaka", "cat2", "dan2", "gus2", "eve2", "gone"]) N.addActor(withAliases(name));
  B.addActor(withAliases("annb"));
  ALIASES.ann2 = [O.actor("ann").id];
  ALIASES.annb = [O.actor("ann").id];
  ALIASES.noaka = [O.actor("bob").id]; // someone else's alias, not ann's
  ALIASES.cat2 = [O.actor("cat").id];
  ALIASES.dan2 = ["https://elsewhere.example/users/dan", O.actor("dan").id];
  ALIASES.gus2 = [O.actor("gus").id];
  ALIASES.eve2 = [O.actor("eve").id];
  N.hideActor("gone");
  s = await startServer({
    config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10, relay_follow_poll_ms: 100, follow_members: "true" },
  });
  await s.psql(`INSERT INTO instances (domain, blocked) VALUES ('${B.domain}', true)`);

  // ann joins as people do, connects her server (a grant on O), then is linked and verified
  // (in SQL), allows relaying (the relay's follow accepted), speaks French.
  ann = await joinMember(s, O, "ann");
  await s.psql(`UPDATE members SET autofollow = true WHERE id = ${ann.id}`);
  O.mastodon.control({ loggedIn: "ann" });
  assert.equal((await connect(s, ann)).result, "granted");
  await s.psql(`UPDATE members SET x_id = ${XID.ann}, x_handle = 'ann_x', state = 'linked', linked_at = now() - interval '2 days',
                  x_verified_at = now() - interval '1 day', relay = true, autofollow = true, lang = 'fr',
                  relay_follow_id = '${s.url}/activities/oldfollow', relay_follow_state = 'accepted' WHERE id = ${ann.id}`);
  await s.psql(`INSERT INTO consent_ledger (member_id, consent, value, source) VALUES (${ann.id}, 'relay', true, 'page'), (${ann.id}, 'autofollow', true, 'page')`);
  const row = (id, host, name, xid, state = "linked") =>
    `(${id}, '${host.actor(name).id}', '${name}@${host.domain}', '${host.domain}', '${host.actor(name).inbox}', ${xid ?? "NULL"},
      ${xid ? `'${name}_x'` : "NULL"}, '${state}', ${xid ? "now() - interval '2 days'" : "NULL"}, '${host.url}/follows/${name}')`;
  await s.psql(
    `INSERT INTO members (id, actor_uri, acct, host, inbox, x_id, x_handle, state, linked_at, follow_id) VALUES ` +
      [
        row(101, O, "bob", XID.bob),
        row(102, O, "cat", XID.cat),
        row(103, N, "cat2", XID.cat2),
        row(104, O, "dan", XID.dan),
        row(105, N, "dan2", null, "joined"),
        row(106, O, "gus", null, "joined"),
        row(107, N, "gus2", XID.gus2),
      ].join(", "),
  );
  await s.psql(`INSERT INTO consent_ledger (member_id, consent, value, source)
                SELECT id, c, true, 'default' FROM members, unnest(ARRAY['findable', 'notify']) c WHERE id > 100`);
  // Follows both ways, in every state a move must keep.
  await s.psql(`INSERT INTO follow_actions (follower_id, followee_id, method, state, done_at, remote_account_id, next_attempt_at) VALUES
                (${ann.id}, 101, 'api', 'done', now() - interval '1 day', '77', NULL),
                (101, ${ann.id}, 'api', 'done', now() - interval '1 day', '88', NULL),
                (${ann.id}, 102, 'api', 'held', NULL, NULL, now() + interval '1 day'),
                (102, ${ann.id}, 'notice', 'undone', NULL, NULL, NULL)`);
});

teardown(async () => {
  for (const h of [O, N, B]) await h?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const BRIDGE = () => `${s.url}/users/passerelle`;
const bridgeFollowOf = (id) => q(`SELECT coalesce(bridge_follow_id, '-') FROM members WHERE id = ${id}`);
const refusals = (reason) => s.events("move_refused").filter((e) => e.reason === reason);

test("a Move that fails a check changes nothing, and says why in the log", async () => {
  const a = O.actor("ann");
  const before = await snapshot();
  const cases = [
    ["no alsoKnownAs naming her", move(a, N.actor("noaka").id), a, 202, "no_also_known_as"],
    ["another account as object", move(a, N.actor("ann2").id, { object: O.actor("bob").id }), a, 202, "object_not_actor"],
    ["an unfetchable target", move(a, N.actor("gone").id), a, 202, "target_not_found"],
    ["a target on a blocked instance", move(a, B.actor("annb").id), a, 202, "target_blocked"],
    ["no target", move(a, undefined), a, 202, "no_target"],
    // Her own stand-in names her in alsoKnownAs: still never a home.
    ["a target on the bridge itself (her stand-in)", move(a, `${s.url}/x/${XID.ann}`), a, 202, "target_is_ours"],
  ];
  for (const [what, activity, signer, status, reason] of cases) {
    const r = await post(activity, signer);
    assert.equal(r.status, status, `${what}: ${r.body}`);
    // The log line may be read after the answer (two pipes): wait for it, then count it.
    await eventually(() => refusals(reason).length > 0, { timeout: 5000, what: `${what}: move_refused reason=${reason} logged` });
    assert.equal(refusals(reason).length, 1, `${what}: logged once as move_refused reason=${reason}`);
  }
  // Signed by another actor (eve, on the same server): the inbox refuses it before anything.
  const forged = await post(move(a, N.actor("ann2").id), O.actor("eve"));
  assert.equal(forged.status, 401, forged.body);
  assert.equal(N.fetches("/users/annb").length, 0, "a blocked target is never fetched");
  assert.equal(await snapshot(), before, "nothing changed");
});

test("a Move of somebody who is not a member is acknowledged, and its target never fetched", async () => {
  const before = await snapshot();
  const activity = move(O.actor("eve"), N.actor("eve2").id);
  const r = await post(activity, O.actor("eve"));
  assert.equal(r.status, 202, r.body);
  const seen = await eventually(() => s.events("inbox_accepted").find((e) => e.id === activity.id), { timeout: 5000, what: "its inbox_accepted line" });
  assert.equal(seen.result, "ignored", "acknowledged as ignored");
  assert.equal(N.fetches("/users/eve2").length, 0);
  assert.equal(await snapshot(), before);
});

test("a valid Move carries the membership over to the new account", async () => {
  const a = O.actor("ann");
  const n = N.actor("ann2");
  const before = JSON.parse(await snapshot());
  const was = before.members.find((m) => m.id === Number(ann.id));
  const ledgerBefore = before.ledger.filter((l) => l.member_id === Number(ann.id));
  const fetchesBefore = N.fetches("/users/ann2").length;
  // The bridge account follows her (memberfollow.c), so that her server sends it her Move.
  const bridgeFollow = await eventually(
    async () => (await q(`SELECT bridge_follow_id FROM members WHERE id = ${ann.id} AND bridge_follow_state = 'pending'`)) || null,
    { what: "the bridge's follow of the old actor" },
  );
  const mark = N.mark;
  const oMark = O.mark;
  const activity = move(a, n.id);
  const r = await post(activity, a);
  assert.equal(r.status, 202, r.body);
  assert.equal(N.fetches("/users/ann2").length, fetchesBefore + 1, "the target was fetched, fresh");

  const after = JSON.parse(await snapshot());
  const now = after.members.find((m) => m.id === Number(ann.id));
  assert.deepEqual(
    { actor_uri: now.actor_uri, acct: now.acct, host: now.host, inbox: now.inbox },
    { actor_uri: n.id, acct: `ann2@${N.domain}`, host: N.domain, inbox: n.inbox },
    "the same row now names the new actor",
  );
  for (const k of ["x_id", "x_verified_at", "state", "linked_at", "findable", "autofollow", "notify", "relay", "lang"]) {
    assert.deepEqual(now[k], was[k], `${k} unchanged: a move is not a new claim`);
  }
  assert.equal(after.members.filter((m) => m.actor_uri === a.id).length, 0, "no member is left at the old actor");
  const ledger = after.ledger.filter((l) => l.member_id === Number(ann.id));
  assert.deepEqual(ledger.slice(0, ledgerBefore.length), ledgerBefore, "the ledger is kept as it was");
  assert.deepEqual(
    ledger.slice(ledgerBefore.length).map((l) => [l.consent, l.value, l.source]).sort(),
    [["autofollow", true, "move"], ["findable", true, "move"], ["notify", true, "move"], ["relay", true, "move"]],
    "and a row per consent notes the move, its value unchanged",
  );
  const follows = (rows) => rows.filter((f) => f.follower_id === Number(ann.id) || f.followee_id === Number(ann.id));
  assert.deepEqual(
    follows(after.follows).map((f) => [f.follower_id, f.followee_id, f.state, f.done_at]),
    follows(before.follows).map((f) => [f.follower_id, f.followee_id, f.state, f.done_at]),
    "follow_actions both ways keep their state: done stays done",
  );
  assert.equal(follows(after.follows).find((f) => f.follower_id === Number(ann.id) && f.state === "done").remote_account_id, null,
    "an account id on the old server is not used on the new one");
  assert.equal(follows(after.follows).find((f) => f.followee_id === Number(ann.id) && f.state === "done").remote_account_id, "88",
    "the follower's own server's ids are kept");
  assert.equal(after.grants?.includes(Number(ann.id)) ?? false, false, "the old server's grant is deleted");
  assert.equal(await q(`SELECT from_actor || ' ' || to_actor || ' ' || activity_id || ' ' || coalesce(merged_member_id::text, '-')
                        FROM member_moves WHERE member_id = ${ann.id}`), `${a.id} ${n.id} ${activity.id} -`);

  // The old server is asked to revoke the token.
  await eventually(() => O.mastodon.snapshot().tokens.find((t) => t.user === "ann")?.revoked, { what: "the old server revoked ann's token" });
  // The member is told on the new account, in French, with a link to connect the new server.
  const dm = await eventually(
    () => N.since(mark).find((x) => x.method === "POST" && x.path === "/users/ann2/inbox" && x.json?.type === "Create"),
    { what: "the notice to the new account" },
  );
  const content = dm.json.object.content;
  assert.ok(content.includes(`ann@${O.domain}`) && content.includes(`ann2@${N.domain}`), content);
  assert.match(content, /déménagement/, "in the member's language");
  assert.match(content, /connectez-y votre serveur/, "asks to connect the new server");
  const code = content.match(/\/link\/([0-9a-f]{32})/)?.[1];
  assert.ok(code, "with a one-time link");
  assert.equal(await q(`SELECT count(*) FROM link_codes WHERE member_id = ${ann.id} AND used_at IS NULL`), "1");
  assert.deepEqual(dm.json.to, [n.id], "addressed to the new account only");
  assert.ok((await N.verify(dm)).ok, "signed by the bridge");
  // The relay undoes its follow of the old actor and follows the new one.
  const undo = await eventually(
    () => O.since(oMark).find((x) => x.path === "/users/ann/inbox" && x.json?.type === "Undo" && x.json.actor === `${s.url}/actor`),
    { what: "the Undo of the relay's follow of the old actor" },
  );
  assert.equal(undo.json.object.id, `${s.url}/activities/oldfollow`);
  const follow = await eventually(
    () => N.since(mark).find((x) => x.path === "/users/ann2/inbox" && x.json?.type === "Follow" && x.json.actor === `${s.url}/actor`),
    { what: "the relay's Follow of the new actor" },
  );
  assert.equal(follow.json.actor, `${s.url}/actor`);
  assert.equal(follow.json.object, n.id);
  assert.equal(await q(`SELECT relay_follow_state || ' ' || relay_follow_id FROM members WHERE id = ${ann.id}`), `pending ${follow.json.id}`);
  // The bridge's follow moves the same way: an Undo to the old inbox, a Follow of the new actor.
  const bridgeUndo = await eventually(
    () => O.since(oMark).find((x) => x.path === "/users/ann/inbox" && x.json?.type === "Undo" && x.json.actor === BRIDGE()),
    { what: "the Undo of the bridge's follow of the old actor" },
  );
  assert.equal(bridgeUndo.json.object.id, bridgeFollow);
  assert.ok((await O.verify(bridgeUndo)).ok, "signed by the bridge");
  const bridgeNew = await eventually(
    () => N.since(mark).find((x) => x.path === "/users/ann2/inbox" && x.json?.type === "Follow" && x.json.actor === BRIDGE()),
    { what: "the bridge's Follow of the new actor" },
  );
  assert.equal(bridgeNew.json.object, n.id);
  assert.ok((await N.verify(bridgeNew)).ok, "signed by the bridge");
  assert.equal(await q(`SELECT bridge_follow_state || ' ' || bridge_follow_id FROM members WHERE id = ${ann.id}`), `pending ${bridgeNew.json.id}`);
  // The stand-in of her X account now points to the new account.
  const st = await get(`${s.url}/x/${XID.ann}`, { accept: "application/activity+json" });
  assert.equal(st.status, 200, st.body);
  assert.equal(st.json().movedTo, n.id);
  assert.deepEqual(st.json().alsoKnownAs, [n.id]);
});

test("the same Move again, or another Move from the old actor, does nothing", async () => {
  const a = O.actor("ann");
  const moved = `SELECT count(*) FROM member_moves WHERE member_id = ${ann.id}`;
  assert.equal(await q(moved), "1", "moved once before");
  const before = await snapshot();
  const mark = N.mark;
  const first = `${a.id}#moves/${nMove}`; // the one carried over just before
  let r = await post({ ...move(a, N.actor("ann2").id), id: first }, a);
  assert.equal(r.status, 202, r.body);
  r = await post(move(a, N.actor("ann2").id), a);
  assert.equal(r.status, 202, r.body);
  const after = JSON.parse(await snapshot());
  const was = JSON.parse(before);
  was.seen_moves = after.seen_moves; // only the second id is new
  assert.deepEqual(after, was, "nothing changed");
  assert.equal(await q(moved), "1", "still moved once");
  assert.equal(N.since(mark).filter((x) => x.method === "POST" && x.json?.type === "Create").length, 0, "no second notice");
  assert.equal(N.since(mark).filter((x) => x.method === "GET" && x.path === "/users/ann2").length, 0, "nor a fetch: not a member any more");
});

test("a new actor that is a member already: the claimed row is kept and the other merged into it, two claims are refused", async () => {
  // Two claims: refused, nothing changes.
  let before = await snapshot();
  let r = await post(move(O.actor("cat"), N.actor("cat2").id), O.actor("cat"));
  assert.equal(r.status, 202, r.body);
  assert.equal(refusals("two_claims").length, 1, "logged");
  const after = JSON.parse(await snapshot());
  const was = JSON.parse(before);
  was.seen_moves = after.seen_moves;
  assert.deepEqual(after, was, "two claims: nothing changed");

  // The bridge follows each of them (no Accept comes from these hosts: pending).
  for (const id of [104, 105, 106, 107]) {
    await eventually(async () => (await bridgeFollowOf(id)) !== "-", { what: `the bridge's follow of member ${id}` });
  }
  const bf = { 104: await bridgeFollowOf(104), 105: await bridgeFollowOf(105), 106: await bridgeFollowOf(106), 107: await bridgeFollowOf(107) };
  const oMark = O.mark;
  const nMark = N.mark;

  // dan (claimed) moves onto dan2 (joined, unclaimed): dan's row takes dan2's actor and ledger.
  const ledger105 = await q(`SELECT string_agg(consent || ':' || source, ',' ORDER BY id) FROM consent_ledger WHERE member_id = 105`);
  r = await post(move(O.actor("dan"), N.actor("dan2").id), O.actor("dan"));
  assert.equal(r.status, 202, r.body);
  assert.equal(await q(`SELECT id || ' ' || x_id || ' ' || state || ' ' || follow_id FROM members WHERE actor_uri = '${N.actor("dan2").id}'`),
    `104 ${XID.dan} linked ${N.url}/follows/dan2`, "the claimed row is kept, under the new actor, with its Follow of the bridge");
  assert.equal(await q("SELECT count(*) FROM members WHERE id = 105"), "0", "the unclaimed row is merged away");
  assert.equal(await q(`SELECT string_agg(consent || ':' || source, ',' ORDER BY id) FROM consent_ledger WHERE member_id = 104 AND source = 'default'`),
    `findable:default,notify:default,${ledger105}`, "its ledger came along");
  assert.equal(await q("SELECT merged_member_id FROM member_moves WHERE member_id = 104"), "105");

  // gus (unclaimed) moves onto gus2 (claimed): gus2's row stays, gus's ledger goes into it.
  r = await post(move(O.actor("gus"), N.actor("gus2").id), O.actor("gus"));
  assert.equal(r.status, 202, r.body);
  assert.equal(await q(`SELECT count(*) FROM members WHERE actor_uri = '${O.actor("gus").id}'`), "0", "the unclaimed moving row is merged away");
  assert.equal(await q(`SELECT id || ' ' || x_id FROM members WHERE actor_uri = '${N.actor("gus2").id}'`), `107 ${XID.gus2}`);
  assert.equal(await q("SELECT count(*) FROM consent_ledger WHERE member_id = 107 AND source = 'default'"), "4", "both ledgers, in the row kept");
  assert.equal(await q("SELECT from_actor || ' ' || merged_member_id FROM member_moves WHERE member_id = 107"), `${O.actor("gus").id} 106`);

  // The bridge's follows: the kept row takes the new actor's (never undone nor asked twice),
  // the old actors' are undone.
  assert.equal(await bridgeFollowOf(104), bf[105], "dan's row took the bridge's follow of dan2");
  assert.equal(await bridgeFollowOf(107), bf[107], "gus2's row kept its own");
  for (const [name, id] of [["dan", 104], ["gus", 106]]) {
    const undo = await eventually(
      () => O.since(oMark).find((x) => x.path === `/users/${name}/inbox` && x.json?.type === "Undo" && x.json.actor === BRIDGE()),
      { what: `the Undo of the bridge's follow of ${name}` },
    );
    assert.equal(undo.json.object.id, bf[id]);
  }
  await sleep(500); // several reconciler rounds
  assert.deepEqual(
    N.since(nMark).filter((x) => x.json?.actor === BRIDGE() && ["Follow", "Undo"].includes(x.json?.type)).map((x) => `${x.path} ${x.json.type}`),
    [],
    "nothing from the bridge to dan2 or gus2: their follows stand",
  );
});
