// POST /signin asks other servers (WebFinger, the actor, maybe an app registration) for
// whoever sends it, so it is capped before anything is fetched: signin_per_address sign-ins per
// client address a minute (behind a proxy on loopback, the address X-Forwarded-For ends with)
// and signin_per_host a minute asking one server. Beyond, 429 with Retry-After and the reason
// in the visitor's language; nothing fetched, nothing written.
// When WebFinger names an actor on another server, that server is counted too, before the actor
// is fetched.
import assert from "node:assert/strict";
import http from "node:http";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { startActorHost } from "../lib/actorhost.mjs";
import { MEMBER_CONFIG } from "../lib/browser.mjs";
import { post } from "../lib/signin.mjs";

let s, h;

setup(async () => {
  s = await startServer({ config: { ...MEMBER_CONFIG, signin_per_address: "3", signin_per_host: "4" } });
  h = await startActorHost({ actors: [{ name: "alice" }], mastodon: true });
});
teardown(async () => {
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0, "serve exits 0 after SIGTERM");
});

const fingers = () => h.fetches("/.well-known/webfinger").length;
const written = async () =>
  (await s.psql("SELECT (SELECT count(*) FROM signin_states) || ',' || (SELECT count(*) FROM members) || ',' || (SELECT count(*) FROM sessions)")).trim();
const from = (addr, lang) => ({ headers: { "x-forwarded-for": `198.51.100.1, ${addr}`, "accept-language": lang } });

test("one client address: signin_per_address sign-ins a minute, then 429 in its language with nothing fetched or written", async () => {
  for (let i = 0; i < 3; i++) {
    const r = await post(s, `alice@${h.domain}`, from("203.0.113.7", "en"));
    assert.equal(r.status, 303, `sign-in ${i + 1}: ${r.status} ${r.body.slice(0, 200)}`);
  }
  const asked = fingers();
  const before = await written();
  const r = await post(s, `alice@${h.domain}`, from("203.0.113.7", "fr-FR"));
  assert.equal(r.status, 429, r.body.slice(0, 300));
  assert.ok(Number(r.headers["retry-after"]) > 0 && Number(r.headers["retry-after"]) <= 60, `Retry-After: ${r.headers["retry-after"]}`);
  assert.match(r.body, /Trop de connexions ont été lancées depuis votre connexion/);
  assert.match(r.body, /<html lang="fr">/);
  assert.equal(fingers(), asked, "nothing was fetched");
  assert.equal(await written(), before, "nothing was written");

  // Another address has its own budget (the first address of X-Forwarded-For is the client's
  // claim, the last the proxy's: only the last counts).
  const other = await post(s, `alice@${h.domain}`, from("203.0.113.8", "en"));
  assert.equal(other.status, 303, other.body.slice(0, 200));
});

test("one target server: signin_per_host sign-ins a minute asking it, whatever the address, then 429 naming it", async () => {
  const asked = fingers();
  const before = await written();
  const r = await post(s, `alice@${h.domain}`, from("203.0.113.9", "de"));
  assert.equal(r.status, 429, r.body.slice(0, 300));
  assert.ok(Number(r.headers["retry-after"]) > 0);
  assert.ok(r.body.includes(`Gerade haben zu viele Anmeldungen ${h.domain} angefragt`), r.body);
  assert.equal(fingers(), asked, "nothing was fetched");
  assert.equal(await written(), before, "nothing was written");
  // A refusal for the host spent nothing of the address's budget: the same address can
  // still sign in on another server (which does not exist here: 400 after its WebFinger).
  const elsewhere = await post(s, "alice@other.invalid", from("203.0.113.9", "en"));
  assert.notEqual(elsewhere.status, 429, elsewhere.body.slice(0, 200));
});

test("an address whose WebFinger names an actor on another server: that server's budget is checked before the actor is fetched", async (t) => {
  // A server that only answers WebFinger, pointing at alice on h (whose budget the test above spent).
  const asked = [];
  const finger = http.createServer((req, res) => {
    asked.push(req.url);
    const jrd = { subject: `acct:zed@127.0.0.1:${finger.address().port}`, links: [{ rel: "self", type: "application/activity+json", href: h.actor("alice").id }] };
    res.writeHead(200, { "content-type": "application/jrd+json" }).end(JSON.stringify(jrd));
  });
  await new Promise((resolve) => finger.listen(0, "127.0.0.1", resolve));
  t.defer(() => new Promise((resolve) => finger.close(resolve)));
  const actorFetches = () => h.fetches("/users/alice").length;
  const before = actorFetches();
  const r = await post(s, `zed@127.0.0.1:${finger.address().port}`, from("203.0.113.10", "en"));
  assert.equal(r.status, 429, r.body.slice(0, 300));
  assert.ok(Number(r.headers["retry-after"]) > 0);
  assert.ok(r.body.includes(`Too many sign-ins asked ${h.domain} just now`), r.body);
  assert.equal(asked.filter((u) => u.startsWith("/.well-known/webfinger")).length, 1, "the server typed was asked");
  assert.equal(actorFetches(), before, "the actor's server was not");
});
