// Reflection (issue 12, item 4; threats.md M3): a stranger must not make the bridge send
// signed POSTs wherever they like, nor make it pause a host for everyone. An actor's inbox
// and sharedInbox must be on the actor's own origin: an actor whose inbox is elsewhere is
// refused (its signatures get 401), a sharedInbox elsewhere is ignored. The recipe of
// threats.md: mallory's inbox is a path of a victim host that answers 401; mallory's Follows
// and messages queue nothing toward the victim host, the victim host is not paused, and a
// member who lives there still gets their answers.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost, signedPost, newId, AS, PUBLIC } from "../lib/actorhost.mjs";
import { joinMember, sendCommand } from "../lib/members.mjs";

let s;
let victim; // a fediverse server: vera is a member there; /fail answers 401
let evil; // the attacker's server: mallory's inbox is on the victim host, sam's sharedInbox is
let vera;

setup(async () => {
  victim = await startActorHost({ actors: [{ name: "vera" }], answers: { "/fail": { status: 401 } } });
  evil = await startActorHost({
    actors: [
      { name: "mallory", document: (d) => ({ ...d, inbox: `${victim.url}/fail`, endpoints: {} }) },
      { name: "sam", document: (d) => ({ ...d, endpoints: { sharedInbox: `${victim.url}/fail` } }) },
    ],
  });
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10 } });
  vera = await joinMember(s, victim, "vera");
});

teardown(async () => {
  if (evil) await evil.stop();
  if (victim) await victim.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code");
});

const bridge = () => `${s.url}/users/passerelle`;
const follow = (h, a, object) => ({ "@context": AS, id: newId(h), type: "Follow", actor: a.id, object });
const dm = (h, a, text) => {
  const note = { id: newId(h, "notes"), type: "Note", attributedTo: a.id, content: `<p>${text}</p>`, to: [bridge()], cc: [] };
  return { "@context": AS, id: newId(h), type: "Create", actor: a.id, object: note, to: [bridge()], cc: [] };
};
const victimRow = async () => {
  const [pending, row] = await Promise.all([
    s.psql(`SELECT count(*) FROM deliveries WHERE host = '${victim.domain}' AND inbox LIKE '%/fail'`),
    s.psql(`SELECT consecutive_failures || ' ' || (paused_until IS NOT NULL) FROM instances WHERE domain = '${victim.domain}'`),
  ]);
  return { toFail: Number(pending), breaker: row };
};

test("an actor whose inbox is on another host is refused: nothing is queued toward that host", async () => {
  const mallory = evil.actor("mallory");
  const mark = victim.mark;
  const sent = [];
  for (let i = 0; i < 20; i++) {
    const body = i % 3 === 0 ? follow(evil, mallory, PUBLIC) : i % 3 === 1 ? follow(evil, mallory, bridge()) : dm(evil, mallory, "help");
    sent.push((await signedPost(`${i % 3 === 0 ? s.url : bridge()}/inbox`, body, { actor: mallory })).status);
  }
  assert.deepEqual([...new Set(sent)], [401], `every one refused: ${sent}`);
  await sleep(500);
  assert.deepEqual(await victimRow(), { toFail: 0, breaker: "0 false" }, "no delivery toward the victim host, which is not paused");
  assert.deepEqual(victim.since(mark).filter((x) => x.path === "/fail"), [], "nothing posted to the victim's path");
  assert.equal(await s.psql(`SELECT count(*) FROM remote_actors WHERE uri = '${mallory.id}'`), "0", "the actor is not cached");
  assert.equal(await s.psql(`SELECT count(*) FROM members WHERE actor_uri = '${mallory.id}'`), "0", "nor a member");
  assert.ok(s.events("remote_key_failed").some((e) => e.why === "inbox_origin"), "the refusal says why");
  // The member who lives on the victim host still gets their answers.
  assert.match(await sendCommand(s, victim, vera, "status"), /./);
});

test("a sharedInbox on another host is ignored: the actor's own inbox is used", async () => {
  const sam = evil.actor("sam");
  const mark = victim.mark;
  const r = await signedPost(`${bridge()}/inbox`, follow(evil, sam, bridge()), { actor: sam });
  assert.equal(r.status, 202, r.body);
  await eventually(() => evil.posts(`/users/sam/inbox`).length >= 2, { timeout: 10000, what: "sam's Accept and welcome" });
  assert.equal(await s.psql(`SELECT coalesce(shared_inbox, 'none') FROM remote_actors WHERE uri = '${sam.id}'`), "none");
  assert.deepEqual(victim.since(mark).filter((x) => x.method === "POST"), [], "nothing posted to the victim host");
  assert.deepEqual(await victimRow(), { toFail: 0, breaker: "0 false" });
  assert.ok(s.events("remote_shared_inbox_ignored").some((e) => e.actor === sam.id));
});
