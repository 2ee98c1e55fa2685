// preferredUsername becomes the member's acct (issue 12, item 5; threats.md L5): other members
// see it in notices and mentions, and it goes into /me/following.csv. Only what Mastodon
// allows in a username is taken (letters, digits and '_', with '.' or '-' between them, at
// most 64 characters); a Follow of the bridge by an actor with any other name is refused
// (400, with the reason) and nothing is stored or sent; such an actor's messages get no help
// reply inviting it to join.
import assert from "node:assert/strict";
import { test, setup, teardown, sleep } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost, signedPost, newId, AS } from "../lib/actorhost.mjs";

const NAMES = {
  formula: '=HYPERLINK("https://evil.example","x")',
  spoof: "jack@twitter.com (official)",
  markup: "<b>jack</b>",
  long65: "a".repeat(65),
  long64: "b".repeat(64),
  dotted: "jean.luc-x",
};

let s;
let h;

setup(async () => {
  h = await startActorHost({
    actors: Object.entries(NAMES).map(([name, preferredUsername]) => ({ name, document: (d) => ({ ...d, preferredUsername }) })),
  });
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: 100, queue_backoff_unit_ms: 10 } });
});

teardown(async () => {
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exit code");
});

const bridge = () => `${s.url}/users/passerelle`;
const join = (name) => {
  const a = h.actor(name);
  return signedPost(`${bridge()}/inbox`, { "@context": AS, id: newId(h), type: "Follow", actor: a.id, object: bridge() }, { actor: a });
};
const member = (name) => s.psql(`SELECT coalesce((SELECT acct FROM members WHERE actor_uri = '${h.actor(name).id}'), 'none')`);
const posted = (name, mark) => h.since(mark).filter((x) => x.method === "POST" && x.path === `/users/${name}/inbox`);

for (const name of ["formula", "spoof", "markup", "long65"]) {
  test(`a Follow of the bridge by "${NAMES[name].slice(0, 30)}": 400, no member, nothing sent`, async () => {
    const mark = h.mark;
    const r = await join(name);
    assert.equal(r.status, 400, r.body);
    assert.match(JSON.parse(r.body).error, /preferredUsername/);
    await sleep(300);
    assert.equal(await member(name), "none");
    assert.equal(await s.psql(`SELECT count(*) FROM seen_activity_ids WHERE id LIKE '${h.url}/%'`), "0", "the id is not spent");
    assert.deepEqual(posted(name, mark), [], "no Accept, no welcome");
    assert.ok(s.events("member_join_refused").some((e) => e.actor === h.actor(name).id && e.reason === "preferred_username"));
  });
}

test("a direct message from an actor whose name makes no acct: acknowledged, no help reply", async () => {
  const a = h.actor("formula");
  const mark = h.mark;
  const note = { id: newId(h, "notes"), type: "Note", attributedTo: a.id, content: "<p>help</p>", to: [bridge()], cc: [] };
  const r = await signedPost(`${bridge()}/inbox`, { "@context": AS, id: newId(h), type: "Create", actor: a.id, object: note, to: [bridge()], cc: [] }, { actor: a });
  assert.equal(r.status, 202, r.body);
  await sleep(800);
  assert.deepEqual(posted("formula", mark), []);
  assert.equal(await s.psql("SELECT count(*) FROM activities"), "0", "nothing queued");
});

test("names Mastodon allows join: dots and dashes between letters, 64 characters", async () => {
  for (const name of ["dotted", "long64"]) {
    const r = await join(name);
    assert.equal(r.status, 202, r.body);
    assert.equal(await member(name), `${NAMES[name]}@${h.domain}`);
  }
});
