// Joining from the web as a browser does it, from Node: the start page's form (POST /signin from
// our own origin), the person's server's authorize step (the Mastodon client-API test double
// approves for its logged-in user), and the callback with the pre-session cookie.
//
//   const r = await post(s, "alice@127.0.0.1:8080", { follows: true });   // POST /signin
//   const x = await signIn(s, h, "alice", { follows: true });  // the whole way to /link
//   x.session ("name=value" of the page session), x.authorizeUrl, x.callback, x.presession
import assert from "node:assert/strict";
import { request } from "./http.mjs";

// POST /signin as the start page's form sends it (Origin: ours unless headers say otherwise).
export function post(s, address, { follows = false, headers = {} } = {}) {
  const body = new URLSearchParams({ address });
  if (follows) body.set("follows", "1");
  return request(`${s.url}/signin`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: s.url, ...headers },
    body: body.toString(),
  });
}

// The value of cookie name among a response's Set-Cookie headers ("" when it clears it), or
// undefined when it sets none of that name.
export function setCookie(r, name) {
  for (const c of [r.headers["set-cookie"] ?? []].flat()) {
    const m = new RegExp(`^${name}=([^;]*)`).exec(c);
    if (m) return m[1];
  }
  return undefined;
}

// The callback as the person's server sends the browser back, with the cookies it holds.
export function callback(s, query, cookie) {
  return request(`${s.url}/link/oauth/callback?${query}`, { headers: cookie ? { cookie } : {} });
}

// POST /signin for name@<h's host>, then the authorize step: {start, presession, authorizeUrl,
// authorize, back (the redirect to our callback)}.
export async function begin(s, h, name, { follows = false, headers = {} } = {}) {
  const start = await post(s, `${name}@${h.domain ?? new URL(h.url).host}`, { follows, headers });
  assert.equal(start.status, 303, `POST /signin: ${start.status} ${start.body.slice(0, 300)}`);
  const presession = setCookie(start, "passerelle_signin");
  assert.match(presession ?? "", /^[0-9a-f]{64}$/, "POST /signin sets the pre-session cookie");
  const authorizeUrl = new URL(start.headers.location);
  const authorize = await request(authorizeUrl.href);
  assert.equal(authorize.status, 302, `GET ${authorizeUrl.pathname}: ${authorize.status} ${authorize.body}`);
  const back = new URL(authorize.headers.location);
  assert.equal(`${back.origin}${back.pathname}`, `${s.url}/link/oauth/callback`, "back to our one callback");
  return { start, presession, authorizeUrl, authorize, back };
}

// begin, then the callback in the same browser: {..., callback, session ("name=value")}.
export async function signIn(s, h, name, opts = {}) {
  const b = await begin(s, h, name, opts);
  const cb = await callback(s, b.back.search.slice(1), `passerelle_signin=${b.presession}`);
  assert.equal(cb.status, 303, `callback: ${cb.status} ${cb.body.slice(0, 300)}`);
  assert.equal(cb.headers.location, "/link");
  const token = setCookie(cb, "passerelle_link");
  assert.match(token ?? "", /^[0-9a-f]{64}$/, "the callback opens a page session");
  return { ...b, callback: cb, session: `passerelle_link=${token}` };
}
