// Reflection (issue 12, item 4; threats.md M3): a stranger must not make the bridge send
// signed POSTs wherever they like, nor make it pause a host for everyone. An actor's inbox
// and sharedInbox must be on the actor's own origin: an actor whose inbox is elsewhere is
// refused (its signatures get 401), a sharedInbox elsewhere is ignored. The recipe of
// threats.md: mallory's inbox is a path of a victim host that answers 401; mallory's Follows
// and messages queue nothing toward the victim host, the victim host is not paused, and a
// member who lives there still gets their answers. Answers (Accepts, Rejects, welcomes,
// replies) are capped per host (queue_max_answers_per_host), go only to the host they answer,
// and never count toward its breaker; repeated Follows get one welcome a day, a non-member's
// messages one help a day.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost, signedPost, newId, AS, PUBLIC } from "../lib/actorhost.mjs";
import { joinMember, sendCommand } from "../lib/members.mjs";

let s;
let victim; // a fediverse server: vera is a member there; /fail answers 401
let evil; // the attacker's server: mallory's inbox is on the victim host, sam's sharedInbox is
let vera;
let flaky; // a host whose inboxes all answer 500: its answers pile up
let capped; // a second server: queue_max_answers_per_host = 3

setup(async () => {
  victim = await startActorHost({ actors: [{ name: "vera" }, { name: "rita" }, { name: "nina" }], answers: { "/fail": { status: 401 } } });
  flaky = await startActorHost({ actors: [1, 2, 3, 4].map((i) => ({ name: `f${i}` })), answers: { "/users/": { status: 500 }, "/inbox": { status: 500 } } });
  capped = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10, queue_max_answers_per_host: 3 } });
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
  if (flaky) await flaky.stop();
  if (capped) assert.equal(await capped.stop(), 0, "serve exit code");
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

test("an inbox cached before the rule, on another host, is not answered: nothing is queued there", async () => {
  const sam = evil.actor("sam");
  const mark = victim.mark;
  await s.psql(`UPDATE remote_actors SET inbox = '${victim.url}/fail' WHERE uri = '${sam.id}'`);
  const r = await signedPost(`${bridge()}/inbox`, follow(evil, sam, bridge()), { actor: sam });
  assert.equal(r.status, 202, r.body);
  await sleep(500);
  assert.deepEqual(await victimRow(), { toFail: 0, breaker: "0 false" });
  assert.deepEqual(victim.since(mark).filter((x) => x.method === "POST"), []);
  assert.ok(s.events("answer_skipped").some((e) => e.origin === evil.domain && e.reason === "inbox_not_on_origin"));
  await s.psql(`DELETE FROM remote_actors WHERE uri = '${sam.id}'`);
});

const isWelcome = (x) => /\/link\/[0-9a-f]{32}/.test(x.body);
const accepts = (h, name, mark) => h.since(mark).filter((x) => x.path === `/users/${name}/inbox` && JSON.parse(x.body).type === "Accept");
const dms = (h, name, mark) => h.since(mark).filter((x) => x.path === `/users/${name}/inbox` && JSON.parse(x.body).type === "Create");

test("repeated Follows of the bridge are each accepted; the welcome goes out once a day", async () => {
  const rita = victim.actor("rita");
  const mark = victim.mark;
  for (let i = 0; i < 3; i++) {
    const r = await signedPost(`${bridge()}/inbox`, follow(victim, rita, bridge()), { actor: rita });
    assert.equal(r.status, 202, r.body);
  }
  await eventually(() => accepts(victim, "rita", mark).length === 3, { timeout: 10000, what: "three Accepts" });
  await sleep(500);
  assert.equal(dms(victim, "rita", mark).filter(isWelcome).length, 1, "one welcome");
  // A day later, a Follow is welcomed again.
  await s.psql(`UPDATE members SET welcomed_at = now() - interval '25 hours' WHERE actor_uri = '${rita.id}'`);
  const again = victim.mark;
  assert.equal((await signedPost(`${bridge()}/inbox`, follow(victim, rita, bridge()), { actor: rita })).status, 202);
  await eventually(() => dms(victim, "rita", again).filter(isWelcome).length === 1, { timeout: 10000, what: "the next day's welcome" });
});

test("a non-member's messages get the help once a day", async () => {
  const nina = victim.actor("nina");
  const mark = victim.mark;
  for (let i = 0; i < 3; i++) {
    const r = await signedPost(`${bridge()}/inbox`, dm(victim, nina, "hello?"), { actor: nina });
    assert.equal(r.status, 202, r.body);
  }
  await eventually(() => dms(victim, "nina", mark).length >= 1, { timeout: 10000, what: "the help" });
  await sleep(800);
  assert.equal(dms(victim, "nina", mark).length, 1, "one help for three messages");
  assert.equal(s.events("bridge_message_ignored").filter((e) => e.actor === nina.id && e.reason === "helped_today").length, 2);
  await s.psql(`UPDATE stranger_replies SET replied_at = now() - interval '25 hours' WHERE actor_uri = '${nina.id}'`);
  const again = victim.mark;
  assert.equal((await signedPost(`${bridge()}/inbox`, dm(victim, nina, "hello?"), { actor: nina })).status, 202);
  await eventually(() => dms(victim, "nina", again).length === 1, { timeout: 10000, what: "the next day's help" });
});

test("answers to one host are capped (queue_max_answers_per_host) and their failures never pause it", async () => {
  const cbridge = `${capped.url}/users/passerelle`;
  for (const name of ["f1", "f2", "f3"]) {
    const a = flaky.actor(name);
    const r = await signedPost(`${cbridge}/inbox`, { "@context": AS, id: newId(flaky), type: "Follow", actor: a.id, object: cbridge }, { actor: a });
    assert.equal(r.status, 202, `${name}: ${r.body}`);
  }
  // Each Follow is recorded; only three answers (f1's Accept and welcome, f2's Accept) are stored.
  assert.equal(await capped.psql(`SELECT count(*) FROM members WHERE host = '${flaky.domain}'`), "3");
  assert.equal(await capped.psql(`SELECT count(*) FROM activities WHERE origin = '${flaky.domain}'`), "3");
  assert.ok(capped.events("answer_capped").filter((e) => e.origin === flaky.domain).length >= 2, "the cap says so");
  // The answers fail again and again (500): the host is neither paused nor counted failing.
  await eventually(async () => Number(await capped.psql(`SELECT coalesce(sum(attempts), 0) FROM deliveries WHERE host = '${flaky.domain}'`)) >= 12, {
    timeout: 15000,
    what: "a dozen failed attempts",
  });
  assert.equal(
    await capped.psql(`SELECT consecutive_failures || ' ' || failure_days || ' ' || (paused_until IS NOT NULL) || ' ' || dead FROM instances WHERE domain = '${flaky.domain}'`),
    "0 0 false false",
  );
  assert.equal(await capped.psql(`SELECT count(*) FROM activities WHERE origin = '${flaky.domain}'`), "3", "still three: nothing more queued");
});
