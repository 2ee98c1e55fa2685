// The member's contacts at scale, against the real server and PostgreSQL: a member whose own
// archive holds 50,000 members they followed and 25,000 who followed them (seeded in SQL) is
// paged through over HTTP, 100 contacts a page, from the start, from the middle and to the end,
// each page timed; the figure goes to docs/BENCHMARKS.md.
import assert from "node:assert/strict";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { request } from "../lib/http.mjs";
import { sqlSession } from "../lib/linkcode.mjs";

let s;
setup(async () => {
  s = await startServer({ config: { match_poll_ms: "50" } });
});
teardown(async () => {
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const q = (sql) => s.psql(sql);
const page = (m, query) => request(`${s.url}/link/contacts?${query}`, { headers: { cookie: m.cookie } });

test("50,000 found contacts: each keyset page of 100 is read in a few milliseconds", async () => {
  const N = 50000;
  // A member whose own archive says they followed 50,000 members and that 25,000 of them
  // followed them back, and the contacts rows the matcher's found_sql writes for that (made
  // here in bulk: test_found and contacts.test.mjs show the matcher writing them).
  const big = await q(
    `INSERT INTO members (actor_uri, acct, host, x_id, x_handle, state, linked_at, notify)
     VALUES ('https://big.example/users/big', 'big@big.example', 'big.example', 7000000, 'big_x', 'linked', now() - interval '2 days', false) RETURNING id`,
  );
  await q(`INSERT INTO members (actor_uri, acct, host, x_id, x_handle, state, linked_at, notify)
           SELECT 'https://c' || (i % 50) || '.example/users/u' || i, 'u' || i || '@c' || (i % 50) || '.example', 'c' || (i % 50) || '.example',
                  7000000 + i, 'u' || i, 'linked', now() - interval '2 days', false FROM generate_series(1, ${N}) i;
           INSERT INTO x_edges SELECT 7000000, 7000000 + i, ${big} FROM generate_series(1, ${N}) i;
           INSERT INTO x_edges SELECT 7000000 + i, 7000000, ${big} FROM generate_series(1, ${N}, 2) i;
           INSERT INTO contacts (member_id, dir, contact_id) SELECT ${big}, 'following', id FROM members WHERE x_id > 7000000;
           INSERT INTO contacts (member_id, dir, contact_id) SELECT ${big}, 'followers', id FROM members WHERE x_id > 7000000 AND x_id % 2 = 1;
           INSERT INTO follow_actions (follower_id, followee_id, method, state) SELECT ${big}, id, 'notice', 'planned' FROM members WHERE x_id > 7000000;
           INSERT INTO follow_actions (follower_id, followee_id, method, state, done_at) SELECT id, ${big}, 'api', 'done', now() FROM members WHERE x_id > 7000000 AND x_id % 4 = 1;
           ANALYZE members; ANALYZE x_edges; ANALYZE contacts; ANALYZE follow_actions`);
  const sess = await sqlSession(s, big);
  // Walks up to `pages` pages from the cursor `after`, timing each: the keyset makes a page
  // at the 250th cost what the first does, so three stretches stand for the whole walk.
  const walk = async (dir, after, pages) => {
    const times = [];
    const ids = [];
    for (let i = 0; i < pages; i++) {
      const t0 = process.hrtime.bigint();
      const r = await page(sess, `dir=${dir}${after ? `&after=${after}` : ""}`);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      assert.equal(r.status, 200, r.body);
      ids.push(...r.json().contacts.map((c) => Number(c.x_id)));
      after = r.json().next;
      if (after === null) break;
    }
    return { ids, times, next: after };
  };
  const ids = (await q(`SELECT min(id) || ' ' || max(id) FROM members WHERE x_id > 7000000`)).split(" ").map(Number);
  const start = await walk("following", null, 60);
  const middle = await walk("following", String(ids[0] + N / 2 - 2), 60);
  const end = await walk("following", String(ids[1] - 250), 10);
  const back = await walk("followers", null, 60);
  for (const w of [start, middle, end, back]) {
    assert.ok(w.ids.every((x, i) => i === 0 || x > w.ids[i - 1]), "in order, none twice");
  }
  assert.equal(start.ids.length, 6000);
  assert.equal(start.ids[0], 7000001);
  assert.equal(middle.ids[0], 7000000 + N / 2, "a page from the middle starts right after its cursor");
  assert.equal(end.ids.length, 250);
  assert.equal(end.ids.at(-1), 7000000 + N, "the last page ends with the last contact");
  assert.equal(end.next, null, "and says there is no next");
  assert.ok(back.ids.every((x) => x % 2 === 1), "followers: the 25,000 who followed back");
  const times = [...start.times, ...middle.times, ...end.times, ...back.times].sort((a, b) => a - b);
  const pct = (p) => times[Math.min(times.length - 1, Math.floor((times.length * p) / 100))].toFixed(2);
  const t0 = process.hrtime.bigint();
  const c = await request(`${s.url}/link/contacts/counts`, { headers: { cookie: sess.cookie } });
  const countsMs = (Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1);
  assert.deepEqual(c.json(), { following: N, followers: N / 2, followed: 0, came_back: { here: N / 2, again: N / 4 }, undoing: 0 });
  console.log(`# contacts: ${times.length} pages over HTTP: p50 ${pct(50)} ms, p95 ${pct(95)} ms, max ${pct(100)} ms; counts ${countsMs} ms (load ${(await import("node:os")).loadavg()[0].toFixed(1)})`);
  assert.ok(Number(pct(50)) < 25, `a page takes ${pct(50)} ms at the median`);
}, { timeout: 50000 });
