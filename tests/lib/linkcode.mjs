// The one-time link as a person uses it from Node: GET /link/<code> shows a page naming the
// account and spends nothing; the page's form POSTs the code back from the same origin, which
// opens the session (Set-Cookie, 303 to /link).
//
//   const r = await continueLink(s, code);        // the POST's answer: {status, headers, ...}
//   const cookie = await openLink(s, code);       // "name=value" of the session, asserted
//   const page = await continuePage(s, code);     // the GET's answer, asserted to be the page
//   const sess = await sqlSession(s, memberId);   // {cookie, csrf} written straight in SQL
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { request } from "./http.mjs";

// GET /link/<code>: 200, the HTML page with the "Continue" form posting to the same path.
export async function continuePage(s, code, headers = {}) {
  const page = await request(`${s.url}/link/${code}`, { headers });
  assert.equal(page.status, 200, `GET /link/<code>: ${page.status} ${page.body.slice(0, 200)}`);
  assert.match(page.headers["content-type"] ?? "", /^text\/html/);
  assert.equal(page.headers["set-cookie"], undefined, "GET /link/<code> set a cookie");
  assert.match(page.body, new RegExp(`<form method="post" action="/link/${code}">`), "the page's form posts the code back");
  return page;
}

// POST /link/<code> as the page's form sends it from s's own origin (the Origin header of a
// browser; headers may replace it, e.g. with a cross-site one).
export function continueLink(s, code, headers = { origin: s.url }) {
  return request(`${s.url}/link/${code}`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: "",
  });
}

// A session for member id made in SQL, exactly as the POST of a code makes one (plain http's
// cookie name): {cookie: "passerelle_link=...", csrf}.
export async function sqlSession(srv, id) {
  const token = randomBytes(32).toString("hex");
  const csrf = createHmac("sha256", token).update("passerelle link page csrf").digest("hex");
  const sha = (x) => `'\\x${createHash("sha256").update(x).digest("hex")}'`;
  await srv.psql(`INSERT INTO sessions (hash, member_id, csrf_hash, expires_at) VALUES (${sha(token)}, ${id}, ${sha(csrf)}, now() + interval '1 hour')`);
  return { cookie: `passerelle_link=${token}`, csrf };
}

// GET then POST, the way a person clicks "Continue": resolves with the session cookie
// ("name=value"), asserting the 303 to /link that carries it.
export async function openLink(s, code) {
  await continuePage(s, code);
  const r = await continueLink(s, code);
  assert.equal(r.status, 303, `POST /link/<code>: ${r.status} ${r.body}`);
  assert.equal(r.headers.location, "/link");
  const set = r.headers["set-cookie"]?.[0];
  assert.ok(set, "POST /link/<code> set no session cookie");
  return set.split(";")[0];
}
