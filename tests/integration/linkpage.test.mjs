// The link page as served by the binary: GET /link with its CSP and framing headers, every
// script and stylesheet the HTML names served with the right type and cache headers (ETag,
// 304), nothing inline for the CSP to refuse, and no external URL in any of them.
import assert from "node:assert/strict";
import { test, setup, teardown } from "../lib/harness.mjs";
import { startServer } from "../lib/server.mjs";
import { request, get, mediaType } from "../lib/http.mjs";
import { assertJsonError } from "../lib/checks.mjs";

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const TYPES = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };

let s;
let page; // the GET /link response

setup(async () => {
  s = await startServer();
  page = await get(`${s.url}/link`);
});
teardown(async () => {
  if (s) assert.equal(await s.stop(), 0, "serve exit code after SIGTERM");
});

// The src of every script and the href of every stylesheet (and icon) in the HTML.
function references(html) {
  const out = [];
  for (const m of html.matchAll(/<(script|link)\b[^>]*>/gi)) {
    const attr = /\b(src|href)="([^"]*)"/i.exec(m[0]);
    out.push({ tag: m[1].toLowerCase(), url: attr ? attr[2] : null, text: m[0] });
  }
  return out;
}

// An absolute or protocol-relative URL to another host.
const EXTERNAL = /(?:\b[a-z][a-z0-9+.-]*:)?\/\/[a-z0-9-]+(?:\.[a-z0-9-]+)+/i;

test("GET /link: the page with its CSP, referrer and framing headers", async () => {
  assert.equal(page.status, 200, page.body.slice(0, 200));
  assert.equal(page.headers["content-type"], "text/html; charset=utf-8");
  assert.equal(page.headers["content-security-policy"], CSP);
  assert.equal(page.headers["referrer-policy"], "no-referrer");
  assert.equal(page.headers["x-frame-options"], "DENY");
  assert.equal(page.headers["x-content-type-options"], "nosniff");
  assert.match(page.headers.etag ?? "", /^"[0-9a-f]{32}"$/, "strong ETag");
  assert.match(page.body, /^<!doctype html>/i);
  const again = await get(`${s.url}/link?from=dm`);
  assert.equal(again.status, 200, "a query string does not change the page");
  assert.equal(again.body, page.body);
});

test("the page has nothing inline: no script without src, no style element or attribute, no handlers", () => {
  const html = page.body;
  for (const r of references(html).filter((x) => x.tag === "script")) {
    assert.ok(r.url, `script without src: ${r.text}`);
  }
  assert.doesNotMatch(html, /<style\b/i, "style element");
  assert.doesNotMatch(html, /\sstyle\s*=/i, "style attribute");
  assert.doesNotMatch(html, /\son[a-z]+\s*=/i, "inline event handler");
  assert.doesNotMatch(html, /javascript:/i, "javascript: URL");
});

test("every script and stylesheet the page names is served, same origin, right type, cacheable", async () => {
  const refs = references(page.body).filter((r) => r.url && !r.url.startsWith("data:"));
  const scripts = refs.filter((r) => r.tag === "script");
  assert.ok(scripts.length >= 1 && refs.length >= 2, `found ${refs.map((r) => r.url).join(", ")}`);
  for (const r of refs) {
    assert.match(r.url, /^\/link\/assets\/[a-z.-]+$/, `a path on this server: ${r.url}`);
    const res = await get(`${s.url}${r.url}`);
    assert.equal(res.status, 200, `${r.url}: ${res.status}`);
    const ext = r.url.slice(r.url.lastIndexOf("."));
    assert.equal(res.headers["content-type"], TYPES[ext], `${r.url} content type`);
    assert.equal(res.headers["cache-control"], "public, max-age=3600", `${r.url} cache-control`);
    assert.equal(res.headers["x-content-type-options"], "nosniff", `${r.url} nosniff`);
    assert.match(res.headers.etag ?? "", /^"[0-9a-f]{32}"$/, `${r.url} strong ETag`);
    assert.ok(res.bodyBuffer.length > 100, `${r.url} has a body`);
  }
});

test("no external URL in the page, its CSS or its JS", async () => {
  const bodies = { "/link": page.body };
  for (const name of ["link.css", "link.js"]) bodies[name] = (await get(`${s.url}/link/assets/${name}`)).body;
  for (const [name, text] of Object.entries(bodies)) {
    const m = EXTERNAL.exec(text);
    assert.equal(m, null, `${name} names ${m?.[0]}`);
    assert.doesNotMatch(text, /@import/i, `${name}: @import`);
  }
  assert.doesNotMatch(bodies["link.css"], /url\(\s*['"]?(?!data:)/i, "CSS loads nothing by url()");
});

test("ETag: If-None-Match answers 304 without a body, weak form and lists included", async () => {
  for (const url of [`${s.url}/link/assets/link.js`, `${s.url}/link/assets/link.css`, `${s.url}/link`]) {
    const first = await get(url);
    const etag = first.headers.etag;
    for (const inm of [etag, `W/${etag}`, `"nope", ${etag}`, "*"]) {
      const r = await get(url, { "If-None-Match": inm });
      assert.equal(r.status, 304, `${url} If-None-Match: ${inm}`);
      assert.equal(r.body, "", `${url}: a 304 has no body`);
      assert.equal(r.headers.etag, etag, `${url}: the 304 repeats the ETag`);
      assert.ok(r.headers["cache-control"], `${url}: the 304 repeats Cache-Control`);
    }
    const other = await get(url, { "If-None-Match": '"0123456789abcdef0123456789abcdef"' });
    assert.equal(other.status, 200, `${url}: another ETag gets the file`);
    assert.equal(other.body, first.body);
  }
});

test("HEAD: the headers and Content-Length of the GET, no body", async () => {
  for (const path of ["/link", "/link/assets/link.js"]) {
    const g = await get(`${s.url}${path}`);
    const h = await request(`${s.url}${path}`, { method: "HEAD" });
    assert.equal(h.status, 200, path);
    assert.equal(h.body, "", `${path}: HEAD has no body`);
    assert.equal(Number(h.headers["content-length"]), g.bodyBuffer.length, `${path}: Content-Length`);
    assert.equal(h.headers.etag, g.headers.etag, `${path}: ETag`);
  }
});

test("only the CSS and JS are served under /link/assets; the page never without its CSP", async () => {
  for (const path of [
    "/link/assets/link.html",
    "/link/assets/nope.js",
    "/link/assets/",
    "/link/assets",
    "/link/assets/link.js/",
    "/link/assets/link.js%00",
  ]) {
    const r = await get(`${s.url}${path}`);
    assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
    assert.notEqual(mediaType(r.headers["content-type"]), "text/html", `${path} is not the page`);
  }
  assertJsonError(await request(`${s.url}/link`, { method: "POST", body: "" }), 405, "POST /link");
  assertJsonError(await request(`${s.url}/link/assets/link.js`, { method: "POST", body: "" }), 405, "POST asset");
});
