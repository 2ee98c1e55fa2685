// Moves heard through the bridge's follow (issue 14, item 5), with Fedify: a member who did NOT
// allow relaying moves. Her old Fedify instance sends the Move as Mastodon does, to her
// followers (Fedify's sendActivity(..., "followers", ...), through the followers collection,
// shared inboxes preferred), not to passerelle by name. passerelle hears it because the bridge
// account follows every fediverse member (memberfollow.c): its Follow reached her and her
// server accepted it. The membership (X claim included) goes to the new account, and the
// bridge's follow with it: Fedify verifies the Undo on the old account and the Follow on the
// new one. The relay actor never follows her.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startPeer } from "../lib/peer.mjs";
import { joinAndLink } from "../lib/joinlink.mjs";

let s;
let oldHome, newHome; // bea's old account and her new one, on two Fedify instances
let member;
const XID = "5252";
const q = async (sql) => (await s.psql(sql)).trim();
const bridge = () => `${s.url}/users/passerelle`;

setup(async () => {
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10, relay_follow_poll_ms: 100, follow_members: "true" } });
  [oldHome, newHome] = await Promise.all([
    startPeer({ user: "bea", firstKnock: "rfc9421" }),
    startPeer({ user: "bea2", firstKnock: "draft-cavage-http-signatures-12" }),
  ]);
  await oldHome.configure({ autoAccept: true });
  await newHome.configure({ autoAccept: true, aliases: [] });
  member = await joinAndLink(s, oldHome, { handle: "Bea_Moving", xid: XID });
  await s.psql(`UPDATE members SET linked_at = now() - interval '2 days' WHERE id = ${member.id}`);
});
teardown(async () => {
  await oldHome?.stop();
  await newHome?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const row = () => q(`SELECT actor_uri || ' ' || acct || ' ' || x_id || ' ' || relay FROM members WHERE id = ${member.id}`);

test("without relaying, the bridge account follows her and her Fedify server accepts it", async () => {
  assert.equal(await q(`SELECT relay FROM members WHERE id = ${member.id}`), "f", "she did not allow relaying");
  const f = await eventually(async () => (await oldHome.events()).find((e) => e.type === "Follow" && e.actor === bridge()), {
    timeout: 10000,
    what: "the bridge's Follow, verified by Fedify",
  });
  assert.equal(f.object, oldHome.actorId);
  await eventually(async () => (await q(`SELECT bridge_follow_state FROM members WHERE id = ${member.id}`)) === "accepted", {
    timeout: 10000,
    what: "Fedify's Accept recorded",
  });
  const followers = await oldHome.followers();
  assert.deepEqual(followers.map((x) => x.id), [bridge()], "the bridge is her one follower; the relay actor is not one");
  assert.equal(followers[0].sharedInbox, `${s.url}/inbox`);
});

test("Fedify's Move, sent to her followers, carries the membership and the bridge's follow over", async () => {
  await newHome.configure({ aliases: [oldHome.actorId] });
  const sent = await oldHome.sendToFollowers({ type: "Move", object: oldHome.actorId, target: newHome.actorId });
  assert.equal(sent.ok, true, `Fedify could not send the Move: ${sent.error}`);
  assert.deepEqual(
    sent.requests.filter((r) => r.method === "POST").map((r) => [r.url, r.status]),
    [[`${s.url}/inbox`, 202]],
    "one delivery, to the shared inbox the bridge's actor names",
  );
  await eventually(async () => (await row()) === `${newHome.actorId} bea2@127.0.0.1:${newHome.port} ${XID} false`, {
    timeout: 10000,
    what: "the same member, claim and all, at the new account",
  });
  assert.equal(await q(`SELECT from_actor || ' ' || to_actor FROM member_moves WHERE member_id = ${member.id}`), `${oldHome.actorId} ${newHome.actorId}`);
  // The notice reaches the new account.
  await eventually(async () => (await newHome.events()).find((e) => e.type === "Create" && e.actor === bridge() && /\/link\/[0-9a-f]{32}/.test(String(e.raw?.object?.content))), {
    timeout: 10000,
    what: "the notice on the new account",
  });
  // The bridge's follow moves: Undo on the old account, Follow of the new one, both verified.
  await eventually(async () => (await oldHome.events()).find((e) => e.type === "Undo" && e.actor === bridge()), {
    timeout: 10000,
    what: "the Undo of the bridge's follow of the old account",
  });
  await eventually(async () => (await oldHome.followers()).length === 0, { what: "the old account's follower list emptied" });
  const f = await eventually(async () => (await newHome.events()).find((e) => e.type === "Follow" && e.actor === bridge()), {
    timeout: 10000,
    what: "the bridge's Follow of the new account",
  });
  assert.equal(f.object, newHome.actorId);
  await eventually(async () => (await q(`SELECT bridge_follow_state || ' ' || relay_follow_state FROM members WHERE id = ${member.id}`)) === "accepted none", {
    timeout: 10000,
    what: "the new account accepted the bridge's follow; the relay follows nobody",
  });
  for (const h of [oldHome, newHome]) {
    assert.equal((await h.events()).filter((e) => e.actor === `${s.url}/actor`).length, 0, "nothing from the relay actor");
  }
});
