// Notices to Bluesky members as direct messages (issue 13, item 5): from the bridge's own
// Bluesky account, configured by the operator (handle, app password in a file, its PDS),
// through that account's PDS (the reference PDS on loopback) with the atproto-proxy header,
// to a test double of the chat service (tests/lib/chatdouble.mjs: its code is not public),
// which the PDS reaches by resolving its did:web. A member who takes no messages from the
// bridge gets a refusal: the message fails, final.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startPds } from "../lib/pds.mjs";
import { startChatDouble } from "../lib/chatdouble.mjs";
import { MEMBER_CONFIG } from "../lib/browser.mjs";
import { blueskyMember, sealedGrant, followsOf } from "../lib/atmembers.mjs";

let s, pds, chat;
const A = {};
const M = {};

setup(async () => {
  [pds, chat] = await Promise.all([startPds({ rateLimits: false }), startChatDouble()]);
  const names = ["bridge", "carol", "dan", "bob", "erin"];
  const made = await Promise.all(names.map((n) => pds.createAccount(n)));
  names.forEach((n, i) => (A[n] = made[i]));
  const file = `${process.env.TMPDIR ?? "/tmp"}/passerelle-dm-${process.pid}`;
  writeFileSync(file, `${A.bridge.password}\n`, { mode: 0o600 });
  s = await startServer({
    config: {
      ...MEMBER_CONFIG,
      plc_url: pds.plcUrl,
      bluesky_dm_handle: A.bridge.handle,
      bluesky_dm_password_file: file,
      bluesky_dm_pds: pds.url,
      bluesky_chat_service: chat.proxy,
      bluesky_dm_poll_ms: "50",
      notice_poll_ms: "100",
      match_poll_ms: "50",
      atproto_follow_poll_ms: "50",
    },
  });
  for (const n of ["carol", "dan", "bob", "erin"]) M[n] = await blueskyMember(s, pds, n, A[n], { autofollow: false });
  await s.psql(`UPDATE members SET notify = true WHERE id IN (${M.carol.id}, ${M.dan.id})`);
});
teardown(async () => {
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
  await pds?.stop();
  await chat?.stop();
});

const dm = (member) => s.psql(`SELECT coalesce(string_agg(state || '|' || attempts || '|' || coalesce(last_error, ''), ','), '') FROM atproto_dms WHERE member_id = ${member.id}`);

test("a Bluesky member's notice goes as a direct message from the bridge's Bluesky account, through its PDS", async () => {
  await s.psql(`INSERT INTO x_edges VALUES (${M.carol.xId}, ${M.bob.xId}, ${M.carol.id})`);
  await s.psql(`UPDATE members SET match_due_at = now() WHERE id = ${M.carol.id}`);
  await eventually(async () => (await dm(M.carol)).startsWith("sent|"), { timeout: 15000, what: "carol's message sent" });
  assert.equal(chat.messages.length, 1, "one message");
  const m = chat.messages[0];
  assert.equal(m.from, A.bridge.did, "from the bridge's account (the PDS's service auth says so)");
  assert.deepEqual(m.members, [A.bridge.did, A.carol.did].sort(), "in a conversation of the bridge and carol");
  assert.match(m.text, /@bob_x on X is @bob\.test now\./, "the notice: who arrived");
  // In Bluesky's words: her network named, bob's profile to follow him (no automatic follows).
  assert.match(m.text, /^Someone you followed on X is on Bluesky or the fediverse now:\n/);
  assert.match(m.text, /now\. Follow them on Bluesky: https:\/\/bsky\.app\/profile\/bob\.test$/);
  assert.doesNotMatch(m.text, /server|report @|following\.csv/, "no fediverse server, command or CSV");
  const convo = chat.requests.find((r) => r.path === "/xrpc/chat.bsky.convo.getConvoForMembers");
  assert.equal(convo.query.members, A.carol.did, "the conversation asked for carol");
  assert.equal(await s.psql(`SELECT notified_at IS NOT NULL FROM follow_actions WHERE follower_id = ${M.carol.id}`), "t", "the row told");
  assert.equal(s.stderr().includes(A.bridge.password), false, "the app password is never logged");
});

test("a member who takes no messages from the bridge: the message fails, final, and is not sent again", async () => {
  chat.refuse(A.dan.did);
  await s.psql(`INSERT INTO x_edges VALUES (${M.dan.xId}, ${M.bob.xId}, ${M.dan.id})`);
  await s.psql(`UPDATE members SET match_due_at = now() WHERE id = ${M.dan.id}`);
  const r = await eventually(async () => ((await dm(M.dan)).startsWith("failed|") ? await dm(M.dan) : false), { timeout: 15000, what: "dan's message failed" });
  assert.match(r, /^failed\|1\|getConvoForMembers: HTTP 400 InvalidRequest recipient has disabled incoming messages$/);
  assert.equal(chat.messages.filter((x) => x.members.includes(A.dan.did)).length, 0, "nothing sent to dan");
  const asked = chat.requests.filter((x) => x.query.members === A.dan.did).length;
  await new Promise((res) => setTimeout(res, 400));
  assert.equal(chat.requests.filter((x) => x.query.members === A.dan.did).length, asked, "not asked again");
});

test("a follow written in the member's repository: the message says so, with the contact's profile", async () => {
  // erin follows automatically with her grant; told once her follow of bob is written.
  await s.psql(`UPDATE members SET autofollow = true WHERE id = ${M.erin.id}`);
  await sealedGrant(s, pds, M.erin, A.erin);
  await s.psql(`INSERT INTO x_edges VALUES (${M.erin.xId}, ${M.bob.xId}, ${M.erin.id})`);
  await s.psql(`UPDATE members SET match_due_at = now() WHERE id = ${M.erin.id}`);
  await eventually(async () => (await s.psql(`SELECT state FROM follow_actions WHERE follower_id = ${M.erin.id}`)) === "done", { timeout: 15000, what: "erin's follow of bob written" });
  assert.equal((await followsOf(pds, A.erin))[A.bob.did]?.length, 1, "the record is in her repository");
  await s.psql(`UPDATE members SET notify = true WHERE id = ${M.erin.id}; INSERT INTO notice_due (member_id) VALUES (${M.erin.id})`);
  await eventually(async () => (await dm(M.erin)).startsWith("sent|"), { timeout: 15000, what: "erin's message sent" });
  const m = chat.messages.find((x) => x.members.includes(A.erin.did));
  assert.match(m.text, /@bob_x on X is @bob\.test now\. You follow them on Bluesky now, followed in your name: https:\/\/bsky\.app\/profile\/bob\.test\n/);
  assert.match(m.text, /\n\nAutomatic follows are written in your Bluesky account in your name: /);
  assert.doesNotMatch(m.text, /server/, "no fediverse server");
});
