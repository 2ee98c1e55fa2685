// Helpers for following in a member's name: the OAuth grant through the link page, reading
// and writing sealed values as the C server does (AES-256-GCM, ciphertext then 16-byte tag,
// associated data naming the row), and linked members with X edges made straight in SQL.
//
//   const r = await connect(s, session);  // start -> the member's /oauth/authorize -> callback
//   r.start (POST /link/oauth/start), r.authorize (its 302), r.callback (our 303), r.result
//   openSealed(s, "grant:12:host", ctHex, nonceHex) -> plaintext or null
//   const id = await linkedMember(s, {actor, acct, host, xId, autofollow, findable})
import assert from "node:assert/strict";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "./http.mjs";

export const sq = (v) => (v === null || v === undefined ? "NULL" : `'${String(v).replaceAll("'", "''")}'`);

// The server's token key, as its token_key_file holds it.
export function tokenKey(s) {
  return Buffer.from(readFileSync(s.config.token_key_file, "utf8").trim(), "hex");
}

// bytea text ("\x...") to a Buffer.
const unhex = (t) => Buffer.from(String(t).replace(/^\\x/, ""), "hex");

export function openSealed(s, ad, ctText, nonceText) {
  const ct = unhex(ctText);
  const d = createDecipheriv("aes-256-gcm", tokenKey(s), unhex(nonceText));
  d.setAAD(Buffer.from(ad, "utf8"));
  d.setAuthTag(ct.subarray(ct.length - 16));
  try {
    return Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]).toString("utf8");
  } catch {
    return null;
  }
}

// The same sealing the server does, for rows a test writes itself: {ct, nonce} as "\x..".
export function seal(s, ad, plain) {
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", tokenKey(s), nonce);
  c.setAAD(Buffer.from(ad, "utf8"));
  const body = Buffer.concat([c.update(Buffer.from(plain, "utf8")), c.final(), c.getAuthTag()]);
  return { ct: `\\x${body.toString("hex")}`, nonce: `\\x${nonce.toString("hex")}` };
}

// POST /link/oauth/start with the page's session and CSRF token.
export function start(s, session, { csrf = session.csrf } = {}) {
  const headers = { cookie: session.cookie, "content-type": "application/json" };
  if (csrf) headers["x-csrf-token"] = csrf;
  return request(`${s.url}/link/oauth/start`, { method: "POST", headers, body: "{}" });
}

// The callback as a browser comes back to it, with or without a session cookie.
export function callback(s, query, cookie) {
  return request(`${s.url}/link/oauth/callback?${query}`, { headers: cookie ? { cookie } : {} });
}

// The page's whole "connect your server": start, the member's server authorizes (the test
// double approves for its logged-in user), the browser follows the redirect back to us.
// edit(url) may change the authorize URL before it is opened.
export async function connect(s, session, { edit = (u) => u, cookie = session.cookie } = {}) {
  const st = await start(s, session);
  assert.equal(st.status, 200, `POST /link/oauth/start: ${st.status} ${st.body}`);
  const url = edit(new URL(st.json().authorize_url));
  const authorize = await request(url.href);
  assert.equal(authorize.status, 302, `GET ${url.pathname}: ${authorize.status} ${authorize.body}`);
  const back = new URL(authorize.headers.location);
  assert.equal(`${back.origin}${back.pathname}`, `${s.url}/link/oauth/callback`, "the member's server sends the browser back to our callback");
  const cb = await callback(s, back.search.slice(1), cookie);
  assert.equal(cb.status, 303, `GET /link/oauth/callback: ${cb.status} ${cb.body}`);
  const result = new URL(cb.headers.location, s.url).searchParams.get("oauth");
  return { start: st, authorizeUrl: url, authorize, back, callback: cb, result };
}

let nextX = 1900000000000000000n;

// A linked member made in SQL (no archive): {id, xId}. The actor need not exist anywhere
// unless a test resolves it.
export async function linkedMember(s, { actor, acct, host, autofollow = true, findable = true, paused = false, state = "linked" }) {
  const xId = String(nextX++);
  const id = await s.psql(
    `INSERT INTO members (actor_uri, acct, host, x_id, x_handle, state, linked_at, autofollow, findable, paused)
     VALUES (${sq(actor)}, ${sq(acct)}, ${sq(host)}, ${xId}, ${sq(`x${xId.slice(-6)}`)}, ${sq(state)}, now() - interval '2 days',
             ${autofollow}, ${findable}, ${paused}) RETURNING id`,
  );
  return { id, xId };
}

// follower followed followee on X, and the matcher planned the follow in follower's name.
export async function plannedPair(s, follower, followee, { state = "planned", method = "api", due = "now()" } = {}) {
  await s.psql(`INSERT INTO x_edges VALUES (${follower.xId}, ${followee.xId}, ${follower.id}) ON CONFLICT DO NOTHING`);
  return s.psql(
    `INSERT INTO follow_actions (follower_id, followee_id, method, state, next_attempt_at)
     VALUES (${follower.id}, ${followee.id}, ${sq(method)}, ${sq(state)}, ${due}) RETURNING id`,
  );
}
