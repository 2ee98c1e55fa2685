// Every public GET endpoint of a fresh server: actors, collections, WebFinger, host-meta,
// NodeInfo, the status page, /metrics; HEAD, content types, unknown paths, wrong methods.
import assert from "node:assert/strict";
import os from "node:os";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer, runBin } from "../lib/server.mjs";
import { request, get, mediaType } from "../lib/http.mjs";
import {
  AS,
  SEC,
  assertJsonError,
  assertActivityJson,
  spki,
  parseMetrics,
  metricSum,
  makefileVersion,
  assertUnder,
} from "../lib/checks.mjs";

const AP = "application/activity+json";
const LD = 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"';
// Characters that must be escaped in HTML and survive JSON intact.
const INSTANCE_NAME = "Pont <b>&</b> test";
const INSTANCE_DESCRIPTION = "Un pont pour quitter X";

let s; // the shared server
let base;
let host;

setup(async () => {
  s = await startServer({
    config: {
      instance_name: INSTANCE_NAME,
      instance_description: INSTANCE_DESCRIPTION,
      admin_contact: "admin@example.org",
    },
  });
  base = s.url;
  host = new URL(base).host; // 127.0.0.1:PORT
});
teardown(async () => {
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

function checkActor(j, { id, type, username, inbox }) {
  assert.ok(Array.isArray(j["@context"]), `@context is an array: ${JSON.stringify(j["@context"])}`);
  assert.ok(j["@context"].includes(AS), "@context has ActivityStreams");
  assert.ok(j["@context"].includes(SEC), "@context has security/v1 (else Fedify/Mastodon drop publicKey)");
  assert.equal(j.id, id);
  assert.equal(j.type, type);
  assert.equal(j.preferredUsername, username);
  assert.equal(j.inbox, inbox, "inbox byte for byte");
  assert.equal(typeof j.endpoints, "object", "endpoints");
  assert.equal(j.endpoints.sharedInbox, `${base}/inbox`, "endpoints.sharedInbox");
  assert.equal(j.followers, `${id}/followers`);
  assert.equal(j.following, `${id}/following`);
  assert.equal(j.outbox, `${id}/outbox`);
  assert.equal(typeof j.publicKey, "object", "publicKey");
  assert.equal(j.publicKey.id, `${id}#main-key`);
  assert.equal(j.publicKey.owner, id);
  assert.match(j.publicKey.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+-----END PUBLIC KEY-----\n?$/);
  const k = spki(j.publicKey.publicKeyPem);
  assert.equal(k.type, "rsa");
  assert.ok(k.bits >= 2048, `RSA key of ${k.bits} bits`);
  return k;
}

test("GET /actor: relay actor (Application) with exact fields", async () => {
  const j = assertActivityJson(await get(`${base}/actor`, { accept: AP }), "/actor");
  checkActor(j, { id: `${base}/actor`, type: "Application", username: "relay", inbox: `${base}/inbox` });
});

test("GET /users/passerelle: bridge account (Service) with exact fields", async () => {
  const j = assertActivityJson(await get(`${base}/users/passerelle`, { accept: AP }), "/users/passerelle");
  checkActor(j, {
    id: `${base}/users/passerelle`,
    type: "Service",
    username: "passerelle",
    inbox: `${base}/users/passerelle/inbox`,
  });
});

test("actors answer application/activity+json whatever the Accept header", async () => {
  for (const path of ["/actor", "/users/passerelle"]) {
    for (const accept of [AP, LD, "application/json", "*/*", undefined, `${AP}, ${LD}`]) {
      const r = await get(base + path, accept === undefined ? {} : { accept });
      const j = assertActivityJson(r, `${path} Accept=${accept}`);
      assert.equal(j.id, base + path, `${path} Accept=${accept}`);
    }
  }
});

test("actor documents are stable and the query string is ignored", async () => {
  const a = (await get(`${base}/actor`, { accept: AP })).json();
  const b = assertActivityJson(await get(`${base}/actor?foo=bar`, { accept: AP }), "/actor?foo=bar");
  assert.deepEqual(b, a);
});

test("both actors' public keys match one persisted key file", async () => {
  const relay = (await get(`${base}/actor`, { accept: AP })).json();
  const bridge = (await get(`${base}/users/passerelle`, { accept: AP })).json();
  const { createPrivateKey, createPublicKey } = await import("node:crypto");
  const { readFileSync } = await import("node:fs");
  const priv = createPrivateKey(readFileSync(s.config.key_file));
  const fromFile = createPublicKey(priv).export({ type: "spki", format: "der" }).toString("base64");
  assert.equal(spki(relay.publicKey.publicKeyPem).der, fromFile, "relay key = key_file");
  assert.equal(spki(bridge.publicKey.publicKeyPem).der, fromFile, "bridge key = key_file");
});

for (const [actorPath, label] of [
  ["/actor", "relay"],
  ["/users/passerelle", "bridge"],
]) {
  test(`${label} followers/following/outbox are empty OrderedCollections`, async () => {
    for (const c of ["followers", "following", "outbox"]) {
      const url = `${base}${actorPath}/${c}`;
      const j = assertActivityJson(await get(url, { accept: AP }), url);
      const ctx = Array.isArray(j["@context"]) ? j["@context"] : [j["@context"]];
      assert.ok(ctx.includes(AS), `${url} @context`);
      assert.equal(j.id, url, `${url} id`);
      assert.equal(j.type, "OrderedCollection", `${url} type`);
      assert.equal(j.totalItems, 0, `${url} totalItems on a fresh database`);
      if (j.orderedItems !== undefined) assert.deepEqual(j.orderedItems, [], `${url} orderedItems`);
    }
  });
}

test("unknown user and unknown actor sub-path are 404 JSON", async () => {
  assertJsonError(await get(`${base}/users/nobody`, { accept: AP }), 404, "/users/nobody");
  assertJsonError(await get(`${base}/users/relay`, { accept: AP }), 404, "/users/relay");
  assertJsonError(await get(`${base}/actor/nothing`, { accept: AP }), 404, "/actor/nothing");
  assertJsonError(await get(`${base}/users/passerelle/nothing`, { accept: AP }), 404, "/users/passerelle/nothing");
});

function checkJrd(r, { subject, href, what }) {
  assert.equal(r.status, 200, `${what}: status ${r.status}: ${r.body.slice(0, 200)}`);
  assert.equal(mediaType(r.headers["content-type"]), "application/jrd+json", `${what}: content type`);
  const j = r.json();
  if (subject !== undefined) {
    if (Array.isArray(subject)) assert.ok(subject.includes(j.subject), `${what}: subject ${j.subject} not one of ${subject}`);
    else assert.equal(j.subject, subject, `${what}: subject`);
  }
  assert.ok(Array.isArray(j.aliases), `${what}: aliases is an array`);
  assert.ok(j.aliases.includes(href), `${what}: aliases ${JSON.stringify(j.aliases)} lack ${href}`);
  assert.ok(Array.isArray(j.links), `${what}: links`);
  const self = j.links.filter((l) => l.rel === "self");
  assert.equal(self.length, 1, `${what}: exactly one self link: ${JSON.stringify(j.links)}`);
  assert.equal(self[0].type, AP, `${what}: self type`);
  assert.equal(self[0].href, href, `${what}: self href`);
  return j;
}

test("WebFinger acct:relay@HOST:PORT, raw and percent-encoded", async () => {
  const res = `acct:relay@${host}`;
  for (const q of [res, encodeURIComponent(res)]) {
    checkJrd(await get(`${base}/.well-known/webfinger?resource=${q}`, { accept: "application/jrd+json, application/json" }), {
      subject: res,
      href: `${base}/actor`,
      what: `resource=${q}`,
    });
  }
});

test("WebFinger acct:passerelle@HOST:PORT, raw and percent-encoded", async () => {
  const res = `acct:passerelle@${host}`;
  for (const q of [res, encodeURIComponent(res)]) {
    checkJrd(await get(`${base}/.well-known/webfinger?resource=${q}`), {
      subject: res,
      href: `${base}/users/passerelle`,
      what: `resource=${q}`,
    });
  }
});

test("WebFinger by actor URL, raw and percent-encoded", async () => {
  for (const [path, user] of [
    ["/actor", "relay"],
    ["/users/passerelle", "passerelle"],
  ]) {
    const res = base + path;
    for (const q of [res, encodeURIComponent(res)]) {
      checkJrd(await get(`${base}/.well-known/webfinger?resource=${q}`), {
        subject: [`acct:${user}@${host}`, res],
        href: res,
        what: `resource=${q}`,
      });
    }
  }
});

test("WebFinger user@host without acct: (as webfinger.h documents)", async () => {
  for (const q of [`relay@${host}`, encodeURIComponent(`@relay@${host}`)]) {
    checkJrd(await get(`${base}/.well-known/webfinger?resource=${q}`), { href: `${base}/actor`, what: `resource=${q}` });
  }
});

test("WebFinger: unknown user, foreign host, other port, foreign URL -> 404", async () => {
  const port = new URL(base).port;
  const cases = [
    `acct:nobody@${host}`,
    `acct:relay@example.com`,
    `acct:passerelle@example.com:${port}`,
    `acct:relay@127.0.0.1`,
    `acct:relay@127.0.0.1:${Number(port) === 65535 ? 1 : Number(port) + 1}`,
    `https://example.com/actor`,
    `${base}/users/nobody`,
  ];
  for (const res of cases) {
    assertJsonError(await get(`${base}/.well-known/webfinger?resource=${encodeURIComponent(res)}`), 404, `resource=${res}`);
  }
});

test("WebFinger: missing or malformed resource -> 400", async () => {
  const queries = ["", "?", "?resource=", "?rel=self", "?resource=acct%3A", "?resource=acct%3A%40", "?resource=acct%3Arelay", "?resource=nonsense", "?resource=acct%3A%40" + encodeURIComponent(host)];
  for (const q of queries) {
    assertJsonError(await get(`${base}/.well-known/webfinger${q}`), 400, `webfinger${q}`);
  }
});

test("host-meta: XRD with the lrdd template", async () => {
  const r = await get(`${base}/.well-known/host-meta`, { accept: "application/xrd+xml, application/xml, text/xml" });
  assert.equal(r.status, 200);
  assert.equal(mediaType(r.headers["content-type"]), "application/xrd+xml");
  assert.match(r.body, /^<\?xml version="1\.0"( encoding="UTF-8")?\?>/i);
  assert.match(r.body, /<XRD\s+xmlns="http:\/\/docs\.oasis-open\.org\/ns\/xri\/xrd-1\.0"\s*>/);
  const links = [...r.body.matchAll(/<Link\b([^>]*)\/?>/g)].map((m) => {
    const attrs = {};
    for (const a of m[1].matchAll(/([a-zA-Z]+)="([^"]*)"/g)) attrs[a[1]] = a[2].replace(/&amp;/g, "&");
    return attrs;
  });
  const lrdd = links.filter((l) => l.rel === "lrdd");
  assert.equal(lrdd.length, 1, `one lrdd link: ${r.body}`);
  assert.equal(lrdd[0].template, `${base}/.well-known/webfinger?resource={uri}`);
  assert.match(r.body, /<\/XRD>\s*$/);
});

test("host-meta.json: the same lrdd template as JSON", async () => {
  const r = await get(`${base}/.well-known/host-meta.json`);
  assert.equal(r.status, 200);
  assert.match(mediaType(r.headers["content-type"]), /^application\/(jrd\+)?json$/);
  const j = r.json();
  const lrdd = j.links.filter((l) => l.rel === "lrdd");
  assert.equal(lrdd.length, 1);
  assert.equal(lrdd[0].template, `${base}/.well-known/webfinger?resource={uri}`);
});

test("/.well-known/nodeinfo links to 2.0 and 2.1", async () => {
  const r = await get(`${base}/.well-known/nodeinfo`);
  assert.equal(r.status, 200);
  assert.match(mediaType(r.headers["content-type"]), /^application\/(jrd\+)?json$/);
  const links = r.json().links;
  assert.ok(Array.isArray(links));
  const href = (v) => links.find((l) => l.rel === `http://nodeinfo.diaspora.software/ns/schema/${v}`)?.href;
  assert.equal(href("2.0"), `${base}/nodeinfo/2.0`);
  assert.equal(href("2.1"), `${base}/nodeinfo/2.1`);
});

async function userCount() {
  // What the server should report: the members it knows, read straight from the database.
  const tables = (await s.psql("SELECT table_name FROM information_schema.tables WHERE table_schema='public'")).split("\n");
  assert.ok(tables.includes("members"), `no members table in ${tables.join(",")}`);
  return Number(await s.psql("SELECT count(*) FROM members"));
}

for (const v of ["2.0", "2.1"]) {
  test(`/nodeinfo/${v}: schema fields, software passerelle, users from the database`, async () => {
    const r = await get(`${base}/nodeinfo/${v}`);
    assert.equal(r.status, 200, r.body);
    assert.equal(mediaType(r.headers["content-type"]), "application/json");
    const ct = r.headers["content-type"];
    if (/profile=/.test(ct)) assert.ok(ct.includes(`http://nodeinfo.diaspora.software/ns/schema/${v}#`), `profile in ${ct}`);
    const j = r.json();
    assert.equal(j.version, v);
    assert.equal(j.software.name, "passerelle");
    assert.match(j.software.name, /^[a-z0-9-]+$/);
    assert.equal(j.software.version, makefileVersion());
    assert.ok(Array.isArray(j.protocols) && j.protocols.includes("activitypub"), "protocols");
    assert.ok(Array.isArray(j.services.inbound) && Array.isArray(j.services.outbound), "services");
    assert.equal(typeof j.openRegistrations, "boolean");
    assert.equal(typeof j.usage, "object");
    assert.ok(Number.isInteger(j.usage.users.total) && j.usage.users.total >= 0, "usage.users.total");
    assert.equal(j.usage.users.total, await userCount(), "usage.users.total = members in the database");
    assert.equal(typeof j.metadata, "object");
    assert.equal(j.metadata.nodeName, INSTANCE_NAME, "metadata.nodeName = instance_name");
    if (v === "2.1" && j.software.repository !== undefined) assert.match(j.software.repository, /^https?:\/\//);
  });
}

test("GET /: HTML status page with the instance name escaped", async () => {
  const r = await get(`${base}/`, { accept: "text/html" });
  assert.equal(r.status, 200, r.body.slice(0, 300));
  assert.equal(mediaType(r.headers["content-type"]), "text/html");
  assert.match(r.headers["content-type"], /charset=utf-8/i);
  assert.match(r.body, /<!doctype html>/i);
  assert.ok(r.body.includes("Pont &lt;b&gt;&amp;&lt;/b&gt; test"), "escaped instance_name on the page");
  assert.ok(!r.body.includes("<b>&</b>"), "instance_name must not be inserted raw into HTML");
});

test("GET /metrics: Prometheus text with TYPE lines, db up, counters that move", async () => {
  const r1 = await get(`${base}/metrics`);
  assert.equal(r1.status, 200);
  assert.equal(mediaType(r1.headers["content-type"]), "text/plain");
  const m1 = parseMetrics(r1.body);
  assert.equal(m1.types.passerelle_http_requests_total, "counter");
  assert.equal(m1.types.passerelle_db_up, "gauge");
  const up = m1.samples.filter((x) => x.name === "passerelle_db_up");
  assert.equal(up.length, 1, "one passerelle_db_up sample");
  assert.equal(up[0].value, 1, "database up");
  for (const sample of m1.samples) {
    const family = Object.keys(m1.types).find((t) => sample.name === t || sample.name.startsWith(t + "_"));
    assert.ok(family, `sample ${sample.name} has a # TYPE line`);
  }
  const before = metricSum(m1, "passerelle_http_requests_total");
  for (let i = 0; i < 3; i++) assert.equal((await get(`${base}/actor`)).status, 200);
  assert.equal((await get(`${base}/no-such-page`)).status, 404);
  const after = metricSum(parseMetrics((await get(`${base}/metrics`)).body), "passerelle_http_requests_total");
  // The 4 requests above and the first /metrics (counted once answered) at least.
  assert.ok(after - before >= 4, `passerelle_http_requests_total went from ${before} to ${after}`);
});

test("HEAD answers like GET without a body", async () => {
  const paths = [
    "/actor",
    "/users/passerelle",
    `/.well-known/webfinger?resource=${encodeURIComponent(`acct:relay@${host}`)}`,
    "/.well-known/host-meta",
    "/.well-known/nodeinfo",
    "/nodeinfo/2.0",
    "/",
  ];
  for (const p of paths) {
    const headers = p === "/" ? {} : { accept: AP };
    const g = await get(base + p, headers);
    const h = await request(base + p, { method: "HEAD", headers });
    assert.equal(h.status, g.status, `HEAD ${p} status`);
    assert.equal(h.headers["content-type"], g.headers["content-type"], `HEAD ${p} content type`);
    assert.equal(h.bodyBuffer.length, 0, `HEAD ${p} has no body`);
    if (h.headers["content-length"] !== undefined && p !== "/") {
      assert.equal(Number(h.headers["content-length"]), g.bodyBuffer.length, `HEAD ${p} content-length`);
    }
  }
  const h404 = await request(`${base}/no-such-page`, { method: "HEAD" });
  assert.equal(h404.status, 404);
  assert.equal(h404.bodyBuffer.length, 0);
});

test("unknown paths are 404 with a JSON error", async () => {
  for (const p of ["/nope", "/.well-known/nope", "/nodeinfo/3.0", "/actorx", "/users", "/users/", "/inbox/x", "/..%2f..%2fetc%2fpasswd"]) {
    assertJsonError(await get(base + p), 404, p);
  }
});

test("wrong methods are 405 with Allow", async () => {
  const cases = [
    ["PUT", "/actor"],
    ["DELETE", "/actor"],
    ["POST", "/.well-known/webfinger?resource=x"],
    ["PUT", "/.well-known/host-meta"],
    ["POST", "/nodeinfo/2.0"],
    ["POST", "/metrics"],
    ["DELETE", "/users/passerelle"],
    ["PATCH", "/"],
  ];
  for (const [method, p] of cases) {
    const r = await request(base + p, { method, headers: { "content-type": "application/json" }, body: method === "DELETE" ? undefined : "{}" });
    assertJsonError(r, 405, `${method} ${p}`);
    assert.ok(r.headers.allow, `${method} ${p}: 405 without an Allow header`);
    assert.match(r.headers.allow, /\bGET\b/, `${method} ${p}: Allow ${r.headers.allow}`);
  }
  const g = await request(`${base}/inbox`, { method: "GET", headers: { accept: AP } });
  assert.ok(g.status === 405 || g.status === 404, `GET /inbox: ${g.status}`);
});

test("metrics_token: /metrics needs the bearer token", async (t) => {
  const token = "s3cret-" + Math.random().toString(36).slice(2);
  const m = await startServer({ config: { metrics_token: token } });
  t.defer(() => m.stop());
  const none = await get(`${m.url}/metrics`);
  assert.equal(none.status, 401, "no token");
  assert.ok(!none.body.includes("passerelle_http_requests_total"), "no metrics leak without token");
  assert.equal((await get(`${m.url}/metrics`, { authorization: "Bearer wrong" })).status, 401, "wrong token");
  assert.equal((await get(`${m.url}/metrics`, { authorization: `Bearer ${token}x` })).status, 401, "token with a suffix");
  assert.equal((await get(`${m.url}/metrics`, { authorization: `Basic ${token}` })).status, 401, "wrong scheme");
  const ok = await get(`${m.url}/metrics`, { authorization: `Bearer ${token}` });
  assert.equal(ok.status, 200);
  assert.ok(parseMetrics(ok.body).types.passerelle_http_requests_total, "metrics with token");
  // The other endpoints do not need it.
  assert.equal((await get(`${m.url}/actor`)).status, 200);
});

// The machine's first address that is not loopback (a container's eth0): requests to a server
// listening on every address arrive from it, not from 127.0.0.1.
function outsideAddress() {
  const a = Object.values(os.networkInterfaces()).flat().find((i) => i && !i.internal && i.family === "IPv4");
  assert.ok(a, "this test needs one IPv4 address other than loopback on the machine");
  return a.address;
}

test("without metrics_token /metrics is for this machine only: loopback, not forwarded by a proxy", async (t) => {
  const r = await get(`${base}/metrics`);
  assert.equal(r.status, 200, "from loopback");
  for (const [name, value] of [["x-forwarded-for", "203.0.113.9"], ["forwarded", "for=203.0.113.9"], ["x-real-ip", "203.0.113.9"]]) {
    const p = await get(`${base}/metrics`, { [name]: value });
    assert.equal(p.status, 403, `through a proxy (${name})`);
    assert.ok(!p.body.includes("passerelle_http_requests_total"), "no metrics leak");
    assert.match(p.json().error, /metrics_token/);
  }
  const wide = await startServer({ config: { listen_addr: "0.0.0.0" } });
  t.defer(() => wide.stop());
  const far = `http://${outsideAddress()}:${wide.port}`;
  const o = await get(`${far}/metrics`);
  assert.equal(o.status, 403, `from ${far}: ${o.status}`);
  assert.ok(!o.body.includes("passerelle_http_requests_total"));
  assert.equal((await get(`${far}/actor`)).status, 200, "the rest is served to everyone");
  assert.equal((await get(`http://127.0.0.1:${wide.port}/metrics`)).status, 200, "the same server, from loopback");
  // metrics_token still opens it from anywhere.
  const token = "s3cret-" + Math.random().toString(36).slice(2);
  const open = await startServer({ config: { listen_addr: "0.0.0.0", metrics_token: token } });
  t.defer(() => open.stop());
  const far2 = `http://${outsideAddress()}:${open.port}`;
  assert.equal((await get(`${far2}/metrics`, { authorization: `Bearer ${token}` })).status, 200, "token from outside");
  assert.equal((await get(`${far2}/metrics`)).status, 401, "no token from outside");
});

test("bridge_username renames the bridge account everywhere", async (t) => {
  const m = await startServer({ config: { bridge_username: "pont", bridge_display_name: "Le Pont" } });
  t.defer(() => m.stop());
  const h = new URL(m.url).host;
  const j = assertActivityJson(await get(`${m.url}/users/pont`, { accept: AP }), "/users/pont");
  assert.equal(j.type, "Service");
  assert.equal(j.preferredUsername, "pont");
  assert.equal(j.name, "Le Pont");
  assert.equal(j.inbox, `${m.url}/users/pont/inbox`);
  assertJsonError(await get(`${m.url}/users/passerelle`, { accept: AP }), 404, "old name");
  checkJrd(await get(`${m.url}/.well-known/webfinger?resource=acct:pont@${h}`), {
    subject: `acct:pont@${h}`,
    href: `${m.url}/users/pont`,
    what: "acct:pont",
  });
  assertJsonError(await get(`${m.url}/.well-known/webfinger?resource=acct:passerelle@${h}`), 404, "acct:passerelle after rename");
});

test("the version in NodeInfo is what `passerelle version` prints", async () => {
  const v = await runBin(["version"]);
  assert.equal(v.code, 0);
  const j = (await get(`${base}/nodeinfo/2.0`)).json();
  assert.ok(v.stdout.includes(j.software.version), `version output ${JSON.stringify(v.stdout)} vs ${j.software.version}`);
});

test("requests sent with Connection: close are answered before the close", async () => {
  for (const p of ["/actor", "/users/passerelle", "/.well-known/nodeinfo", "/nodeinfo/2.0", "/metrics", "/no-such-page"]) {
    const r = await request(base + p, { close: true, headers: { accept: AP } });
    assert.equal(r.status, p === "/no-such-page" ? 404 : 200, `${p} with Connection: close`);
    assert.ok(r.bodyBuffer.length > 0, `${p}: empty body with Connection: close`);
  }
});

test("HTTP/1.0 requests are answered", async () => {
  const { rawExchange } = await import("../lib/http.mjs");
  const r = await rawExchange(Number(new URL(base).port), `GET /actor HTTP/1.0\r\nHost: ${host}\r\nAccept: ${AP}\r\n\r\n`, { timeout: 5000 });
  assert.equal(r.status, 200, `HTTP/1.0: ${JSON.stringify(r.data.slice(0, 200))}`);
  const body = r.data.slice(r.data.indexOf("\r\n\r\n") + 4);
  assert.equal(JSON.parse(body).id, `${base}/actor`);
});

test("the server is still running after all of the above", async () => {
  assert.ok(s.alive(), "server process alive");
  assertUnder((await get(`${base}/actor`)).json().inbox, base, "inbox");
});
