// Moves with Fedify (issue 14, item 5): a member on one Fedify instance moves to an account on
// another. The old instance's Fedify signs and sends the Move (actor and object the old
// account, target the new one); the new account's actor document, served by the other Fedify
// instance, names the old one in alsoKnownAs (Fedify's "aliases"). Before it does, the Move
// changes nothing; once it does, the membership is the new account's: the notice reaches the new
// account and Fedify verifies it, the relay's follow moves from the old account to the new one
// (the Undo and the Follow verified by Fedify too), and Fedify's own lookup of the old X handle
// finds a stand-in whose movedTo is the new account.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startPeer } from "../lib/peer.mjs";
import { joinAndLink } from "../lib/joinlink.mjs";

let s;
let oldHome, newHome; // alice's old account and her new one, on two Fedify instances
let member;
const XID = "5151";
const q = async (sql) => (await s.psql(sql)).trim();

setup(async () => {
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10, relay_follow_poll_ms: 100 } });
  [oldHome, newHome] = await Promise.all([
    startPeer({ user: "alice", firstKnock: "draft-cavage-http-signatures-12" }),
    startPeer({ user: "alice2", firstKnock: "rfc9421" }),
  ]);
  await oldHome.configure({ autoAccept: true });
  await newHome.configure({ autoAccept: true });
  member = await joinAndLink(s, oldHome, { handle: "Alice_Moving", xid: XID });
  await s.psql(`UPDATE members SET linked_at = now() - interval '2 days', lang = 'de' WHERE id = ${member.id}`);
  // She allows relaying: the relay actor follows her old account, which accepts.
  await member.consents({ relay: true });
  await eventually(async () => (await q(`SELECT relay_follow_state FROM members WHERE id = ${member.id}`)) === "accepted", {
    timeout: 10000,
    what: "the relay's follow of the old account accepted",
  });
});
teardown(async () => {
  await oldHome?.stop();
  await newHome?.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

const sendMove = () => oldHome.send(`${s.url}/inbox`, { type: "Move", object: oldHome.actorId, target: newHome.actorId }, `${s.url}/actor`);
const row = () => q(`SELECT actor_uri || ' ' || acct || ' ' || x_id FROM members WHERE id = ${member.id}`);

test("a Move Fedify signs, to an account whose alsoKnownAs does not name the old one yet, changes nothing", async () => {
  const before = await row();
  const sent = await sendMove();
  assert.equal(sent.ok, true, `the server refused the Move: ${sent.error}`);
  assert.equal(await row(), before);
  assert.ok(s.events("move_refused").some((e) => e.reason === "no_also_known_as" && e.actor === oldHome.actorId), "logged as refused");
});

test("once the new account names the old one, Fedify's Move carries the membership over", async () => {
  await newHome.configure({ aliases: [oldHome.actorId] });
  const looked = await oldHome.lookup(newHome.actorId);
  assert.deepEqual(looked.actor?.alsoKnownAs, [oldHome.actorId], "Fedify serves alsoKnownAs");
  const sent = await sendMove();
  assert.equal(sent.ok, true, `the server refused the Move: ${sent.error}`);
  assert.equal(await row(), `${newHome.actorId} alice2@127.0.0.1:${newHome.port} ${XID}`, "the same member, claim and all, at the new account");

  // The notice, in her language (German), reaches the new account, and Fedify verified it.
  const dm = await eventually(
    async () => (await newHome.events()).find((e) => e.type === "Create" && e.actor === `${s.url}/users/passerelle` && /Umzug/.test(String(e.raw?.object?.content))),
    { timeout: 10000, what: "the notice on the new account" },
  );
  assert.match(String(dm.raw.object.content), /\/link\/[0-9a-f]{32}/, "with a one-time link to the page");
  // The relay follows the new account and undoes its follow of the old one.
  await eventually(async () => (await newHome.events()).find((e) => e.type === "Follow" && e.actor === `${s.url}/actor`), {
    timeout: 10000,
    what: "the relay's Follow of the new account",
  });
  await eventually(async () => (await oldHome.events()).find((e) => e.type === "Undo" && e.actor === `${s.url}/actor`), {
    timeout: 10000,
    what: "the Undo of the relay's follow of the old account",
  });
  await eventually(async () => (await q(`SELECT relay_follow_state FROM members WHERE id = ${member.id}`)) === "accepted", {
    timeout: 10000,
    what: "the new account accepted the relay's follow",
  });
  // Fedify's own lookup of the old X handle finds the stand-in, now movedTo the new account.
  const found = await oldHome.lookup(`@alice_moving@${new URL(s.url).host}`);
  assert.equal(found.actor?.movedTo, newHome.actorId, JSON.stringify(found).slice(0, 300));
});
