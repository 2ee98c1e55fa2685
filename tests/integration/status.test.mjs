// The public status page: counts from the database and the server-drawn SVG of arrivals.
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { get } from "../lib/http.mjs";

let s;

setup(async () => {
  s = await startServer();
});
teardown(async () => {
  if (s) assert.equal(await s.stop(), 0, "the server exits 0");
});

// The value of <dd id="ID">.
function dd(html, id) {
  const m = html.match(new RegExp(`<dd id="${id}">([^<]*)</dd>`));
  return m ? m[1] : undefined;
}

// The bars of the chart: [{ value, height, title }], oldest first.
function bars(html) {
  const svg = html.match(/<svg[\s\S]*<\/svg>/);
  assert.ok(svg, "the page holds an inline SVG chart");
  return [...svg[0].matchAll(/<rect class="bar" x="\d+" y="\d+" width="\d+" height="(\d+)" fill="[^"]+" data-value="(\d+)"><title>([^<]*)<\/title><\/rect>/g)].map(
    (m) => ({ height: Number(m[1]), value: Number(m[2]), title: m[3] }),
  );
}

const day = (ago) => new Date(Date.now() - ago * 86400e3).toISOString().slice(0, 10);

test("an empty bridge: zeros and thirty empty days ending today", async () => {
  const r = await get(`${s.url}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers["content-type"], /^text\/html/);
  assert.match(r.headers["content-security-policy"], /default-src 'none'/);
  for (const id of ["members", "linked", "instances", "follows", "contacts"]) assert.equal(dd(r.body, id), "0", id);
  const b = bars(r.body);
  assert.equal(b.length, 30, "thirty days");
  assert.ok(b.every((x) => x.value === 0 && x.height === 0), "no arrivals drawn");
  assert.equal(b[29].title, `${day(0)}: 0`, "the last bar is today (UTC)");
  assert.equal(b[0].title, `${day(29)}: 0`, "the first is 29 days ago");
});

test("counts and arrivals come from the database, drawn to scale", async () => {
  // Members joined: 3 two days ago, 1 today, 1 long ago (outside the chart); two linked.
  await s.psql(`
    INSERT INTO members (actor_uri, host, created_at, x_id, state)
    SELECT 'https://a.example/users/' || g, 'a.example', now() - interval '2 days', 1000 + g, 'linked'
    FROM generate_series(1, 2) g;
    INSERT INTO members (actor_uri, host, created_at) VALUES
      ('https://a.example/users/3', 'a.example', now() - interval '2 days'),
      ('https://b.example/users/4', 'b.example', now()),
      ('https://b.example/users/5', 'b.example', now() - interval '40 days');
    INSERT INTO instances (domain, actor_uri, relay_state) VALUES
      ('sub1.example', 'https://sub1.example/actor', 'accepted'),
      ('sub2.example', 'https://sub2.example/actor', 'accepted'),
      ('gone.example', 'https://gone.example/actor', 'unsubscribed');
    INSERT INTO instances (domain, actor_uri, relay_state, blocked) VALUES
      ('bad.example', 'https://bad.example/actor', 'accepted', true);
    INSERT INTO follow_actions (follower_id, followee_id, method, state)
    SELECT a.id, b.id, 'api', 'done' FROM members a, members b
    WHERE a.actor_uri LIKE '%/1' AND b.actor_uri LIKE '%/2';
    INSERT INTO follow_actions (follower_id, followee_id, method, state)
    SELECT a.id, b.id, 'notice', 'planned' FROM members a, members b
    WHERE a.actor_uri LIKE '%/2' AND b.actor_uri LIKE '%/1';
    INSERT INTO follow_actions (follower_id, followee_id, method, state)
    SELECT a.id, b.id, 'notice', 'undone' FROM members a, members b
    WHERE a.actor_uri LIKE '%/3' AND b.actor_uri LIKE '%/1';`);
  // The page is cached for up to 5 seconds: wait for a rendering that sees the rows.
  let r;
  const t0 = Date.now();
  do {
    r = await get(`${s.url}/`);
    if (dd(r.body, "members") === "5") break;
    await new Promise((ok) => setTimeout(ok, 250));
  } while (Date.now() - t0 < 8000);
  assert.equal(dd(r.body, "members"), "5", "every member");
  assert.equal(dd(r.body, "linked"), "2", "members who linked");
  assert.equal(dd(r.body, "instances"), "2", "accepted, not blocked, subscriptions");
  assert.equal(dd(r.body, "follows"), "1", "follows done");
  assert.equal(dd(r.body, "contacts"), "2", "pairs found, undone ones not counted");
  const b = bars(r.body);
  assert.equal(b.length, 30);
  assert.deepEqual(
    b.map((x) => x.value),
    [...Array(30)].map((_, i) => (i === 27 ? 3 : i === 29 ? 1 : 0)),
    "three arrivals two days ago, one today, the 40-day-old one outside",
  );
  // Integer heights: the tallest bar fills the plot, one arrival is a third of it, rounded down.
  assert.ok(b[27].height > 0 && b[29].height === Math.floor(b[27].height / 3), `heights to scale: ${b[27].height} vs ${b[29].height}`);
  assert.match(r.body, /4 in all over 30 days/, "the text alternative sums the chart");
});

test("the page speaks the visitor's language: labels, sentence, chart and lang attribute", async () => {
  const en = await get(`${s.url}/`);
  for (const [lang, members, arrivals, desc] of [
    ["fr", "Membres", "Arrivées par jour", /\d+ en tout sur 30 jours, du \d{4}-\d\d-\d\d au \d{4}-\d\d-\d\d/],
    ["de", "Mitglieder", "Neue Mitglieder pro Tag", /\d+ insgesamt in 30 Tagen/],
    ["nl", "Leden", "Aankomsten per dag", /\d+ in totaal over 30 dagen/],
  ]) {
    const r = await get(`${s.url}/`, { "accept-language": `${lang};q=0.9, en;q=0.1` });
    assert.equal(r.status, 200);
    assert.match(r.body, new RegExp(`<html lang="${lang}">`), lang);
    assert.match(r.body, new RegExp(`<dt>${members}</dt><dd id="members">`), `${lang}: the count's label`);
    assert.ok(r.body.includes(`<h2>${arrivals}</h2>`), `${lang}: the chart's heading`);
    assert.match(r.body, desc, `${lang}: the chart's text alternative`);
    assert.ok(!r.body.includes("Former contacts found") && !r.body.includes("To join"), `${lang}: no English left`);
    // The sentence keeps the bridge's address and the relay's inbox as markup, in any language.
    assert.match(r.body, /<strong>@[^<]+@[^<]+<\/strong>/, `${lang}: the bridge account`);
    assert.match(r.body, /<code>https?:\/\/[^<]+\/inbox<\/code>/, `${lang}: the relay inbox`);
  }
  assert.match(en.body, /<html lang="en">/);
  assert.match(en.body, /<dt>Members<\/dt>/);
  assert.match(en.body, /To join, sign in above or follow <strong>@/);
});

test("hostile configuration text is escaped on the page", async () => {
  const t = await startServer({ config: { instance_name: "<script>x</script>", instance_description: "a & b" } });
  try {
    const r = await get(`${t.url}/`);
    assert.equal(r.status, 200);
    assert.ok(!r.body.includes("<script>x"), "no markup from the configuration");
    assert.match(r.body, /&lt;script&gt;x&lt;\/script&gt;/);
  } finally {
    assert.equal(await t.stop(), 0);
  }
});
