// A test double of a Mastodon instance's client API, speaking the real protocol: app
// registration, OAuth 2 authorization with PKCE (S256) (at once, or through Mastodon's consent
// screen with its Authorize and Deny forms), token exchange and revocation,
// whose token it is (verify_credentials), search with resolve, follow, unfollow, lists (GET and
// POST /api/v1/lists, DELETE /api/v1/lists/:id, POST /api/v1/lists/:id/accounts). JSON shapes,
// status codes and rate-limit headers are Mastodon's (4.3): Application, Token, Account,
// CredentialAccount, Relationship, List, {"error": ...} bodies,
// X-RateLimit-Limit/Remaining/Reset (ISO 8601, windows aligned on the epoch as Rack::Attack
// counts them) on authenticated API answers, 429 "Too many requests" over a limit.
//
// It is mounted inside another loopback HTTP server (a Fedify peer in tests/interop/peer.mjs,
// or tests/lib/actorhost.mjs), so that one origin is both the member's ActivityPub home and
// their Mastodon API, as on a real instance. It has no dependencies; the host gives:
//   localUser(name)       -> {id (actor URL), username, url} or null: accounts of this server
//   resolve(url)          -> Promise<actor JSON object or null>: a remote account by URL
//   follow(user, account) -> Promise<void>: what the server does when `user` follows
//                            `account` (the Fedify peer sends a real ActivityPub Follow)
//   unfollow(user, account) -> Promise<void>, optional: the same for an unfollow (Undo)
//
//   software: "mastodon" (default) or "pleroma": Pleroma's and Akkoma's Account has no "uri"
//             (its "url" is the actor id), and their Token names its owner in "me".
//
//   const api = createMastodonApi({ origin, localUser, resolve, follow });
//   if (await api.handle(req, res, url, bodyBuffer)) return;    // in the host's handler
//   api.control({loggedIn: "alice", deny: false, consentPage: false, limits: {...}, failNext: [...], clearFailNext})
//   api.snapshot()  -> {apps, tokens (hashes only), follows, unfollows, following, searches, requests, lists}
//   api.deleteList(user, id)  the member deletes a list in their client
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

// Mastodon's scope list (config/initializers/doorkeeper.rb), enough to refuse unknown ones.
const SCOPES = new Set([
  "read", "write", "follow", "push", "profile",
  "read:accounts", "read:blocks", "read:bookmarks", "read:favourites", "read:filters",
  "read:follows", "read:lists", "read:mutes", "read:notifications", "read:search",
  "read:statuses",
  "write:accounts", "write:blocks", "write:bookmarks", "write:conversations",
  "write:favourites", "write:filters", "write:follows", "write:lists", "write:media",
  "write:mutes", "write:notifications", "write:reports", "write:statuses",
]);

// Doorkeeper's wording for a refused code.
const INVALID_GRANT =
  "The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.";

const b64url = (buf) => buf.toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const sha256 = (s) => createHash("sha256").update(s).digest();
const token = () => b64url(randomBytes(32));

// PKCE S256 (RFC 7636 4.6): base64url(SHA-256(verifier)) must equal the challenge. Exported
// so that its own test can show it refuses what it should.
export function pkceVerify(challenge, method, verifier) {
  if (challenge == null) return true; // no PKCE in the authorization: nothing to check
  if (method !== "S256") return false;
  if (typeof verifier !== "string" || !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return false;
  const a = Buffer.from(b64url(sha256(verifier)));
  const b = Buffer.from(String(challenge));
  return a.length === b.length && timingSafeEqual(a, b);
}

// "2024-05-01T12:05:00.000000Z": Ruby's iso8601(6), as Mastodon sends the reset.
function iso6(ms) {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

function parseBody(req, body) {
  const type = String(req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
  const text = body?.toString("utf8") ?? "";
  if (type === "application/json") {
    try {
      const o = JSON.parse(text || "{}");
      return o && typeof o === "object" && !Array.isArray(o) ? o : {};
    } catch {
      return null;
    }
  }
  return Object.fromEntries(new URLSearchParams(text));
}

export function createMastodonApi({ origin, localUser, resolve, follow, unfollow = async () => {}, software = "mastodon" }) {
  const host = new URL(origin).host;
  const apps = new Map(); // client_id -> {id, name, website, scopes[], redirectUris[], secret}
  const codes = new Map(); // code -> {clientId, user, redirectUri, scopes, challenge, method, expires, used}
  const tokens = new Map(); // token -> {clientId, user, scopes[], revoked, created}
  const accounts = new Map(); // id -> {account JSON, actorId, local}
  const byActor = new Map(); // actor id -> account id
  const follows = []; // {user, accountId, actorId, at}: every follow made, in order
  const unfollows = []; // {user, accountId, actorId, at}: every unfollow that ended a follow
  const following = new Set(); // "user accountId" while user follows the account
  const searches = []; // {user, q, resolve, type, limit, found}
  const requests = []; // {method, path, status, at, auth}
  const lists = new Map(); // id -> {id, user, title, replies_policy, exclusive, accounts: [account id]}
  let nextListId = 1;
  const authorizations = []; // {user, clientId, scopes}: each consent given (one code each)
  const windows = new Map(); // "token:<t>" or "follows:<user>" -> {start, count}
  let nextId = 109000000000000000n;
  const settings = {
    loggedIn: null, // the user signed in to the web UI, who approves authorizations
    deny: false, // the user refuses instead (error=access_denied)
    consentPage: false, // GET /oauth/authorize shows Mastodon's consent screen (else approves at once)
    limits: { perToken: 300, period: 300, followsPerDay: 400 },
    failNext: [], // [{path: regexp source, method, status, headers, body, times}]
  };

  function send(res, status, body, headers = {}) {
    const text = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers });
    res.end(text);
    return status;
  }

  // Rack::Attack's fixed window, aligned on the epoch: reset = now + period - now % period.
  function count(key, limit, periodSec) {
    const now = Date.now();
    const start = now - (now % (periodSec * 1000));
    let w = windows.get(key);
    if (!w || w.start !== start) w = { start, count: 0 };
    w.count += 1;
    windows.set(key, w);
    const reset = start + periodSec * 1000;
    return {
      over: w.count > limit,
      headers: {
        "x-ratelimit-limit": String(limit),
        "x-ratelimit-remaining": String(Math.max(0, limit - w.count)),
        "x-ratelimit-reset": iso6(reset),
      },
    };
  }

  function bearer(req) {
    const m = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ""));
    if (!m) return null;
    const t = tokens.get(m[1]);
    return t && !t.revoked ? { token: m[1], ...t } : null;
  }

  const allows = (t, ...wanted) => wanted.some((w) => t.scopes.includes(w));

  function accountJson(a) {
    return a.json;
  }

  function remember(actor, local) {
    const actorId = String(actor.id);
    if (byActor.has(actorId)) return accounts.get(byActor.get(actorId));
    const id = String(nextId++);
    const username = String(actor.preferredUsername ?? actorId.split("/").pop());
    const actorHost = new URL(actorId).host;
    const json = {
      id,
      username,
      acct: local ? username : `${username}@${actorHost}`,
      display_name: String(actor.name ?? ""),
      locked: Boolean(actor.manuallyApprovesFollowers),
      bot: actor.type === "Service" || actor.type === "Application",
      discoverable: true,
      group: actor.type === "Group",
      created_at: new Date().toISOString().slice(0, 10) + "T00:00:00.000Z",
      note: "",
      url: String(actor.url?.href ?? actor.url ?? actorId),
      uri: actorId,
      avatar: `${origin}/avatars/original/missing.png`,
      avatar_static: `${origin}/avatars/original/missing.png`,
      header: `${origin}/headers/original/missing.png`,
      header_static: `${origin}/headers/original/missing.png`,
      followers_count: 0,
      following_count: 0,
      statuses_count: 0,
      last_status_at: null,
      emojis: [],
      fields: [],
    };
    const a = { id, json, actorId, local };
    accounts.set(id, a);
    byActor.set(actorId, id);
    return a;
  }

  // A local, unlocked account is followed at once; anything else is a request until accepted.
  function relationship(a) {
    const direct = a.local && !a.json.locked;
    return {
      id: a.id,
      following: direct,
      showing_reblogs: true,
      notifying: false,
      languages: null,
      followed_by: false,
      blocking: false,
      blocked_by: false,
      muting: false,
      muting_notifications: false,
      requested: !direct,
      requested_by: false,
      domain_blocking: false,
      endorsed: false,
      note: "",
    };
  }

  function injected(method, path) {
    const i = settings.failNext.findIndex((f) => (f.method ?? method) === method && new RegExp(f.path).test(path));
    if (i < 0) return null;
    const f = settings.failNext[i];
    f.times = (f.times ?? 1) - 1;
    if (f.times <= 0) settings.failNext.splice(i, 1);
    return f;
  }

  // --- endpoints ---------------------------------------------------------------------------

  function createApp(req, res, p) {
    if (p === null) return send(res, 400, { error: "Invalid JSON" });
    const name = String(p.client_name ?? "").trim();
    const redirect = p.redirect_uris;
    const redirectUris = (Array.isArray(redirect) ? redirect : String(redirect ?? "").split(/\s+/)).filter(Boolean);
    const scopes = String(p.scopes ?? "read").split(/\s+/).filter(Boolean);
    if (!name) return send(res, 422, { error: "Validation failed: Application name can't be blank" });
    if (redirectUris.length === 0) return send(res, 422, { error: "Validation failed: Redirect URI can't be blank" });
    for (const u of redirectUris) {
      if (u === "urn:ietf:wg:oauth:2.0:oob") continue;
      try {
        const x = new URL(u);
        if (x.hash) throw new Error("fragment");
      } catch {
        return send(res, 422, { error: "Validation failed: Redirect URI must be an absolute URI." });
      }
    }
    const bad = scopes.find((s) => !SCOPES.has(s));
    if (bad) return send(res, 422, { error: `Validation failed: Scopes must be a subset of the available scopes (${bad})` });
    const clientId = token();
    const app = {
      id: String(apps.size + 1),
      name,
      website: p.website ? String(p.website) : null,
      scopes,
      redirectUris,
      secret: token(),
    };
    apps.set(clientId, app);
    return send(res, 200, {
      id: app.id,
      name: app.name,
      website: app.website,
      scopes: app.scopes,
      redirect_uri: app.redirectUris.join("\n"),
      redirect_uris: app.redirectUris,
      vapid_key: b64url(randomBytes(65)),
      client_id: clientId,
      client_secret: app.secret,
      client_secret_expires_at: 0,
    });
  }

  // The checks Doorkeeper makes of an authorization request (GET shows it, POST answers it):
  // {app, redirectUri, scopes, challenge, method, state, back} or null once it has answered.
  function authorizeRequest(res, q) {
    const app = apps.get(q.get("client_id") ?? "");
    const redirectUri = q.get("redirect_uri") ?? "";
    // Doorkeeper shows an error page (no redirect) when the client or the redirect is wrong.
    if (!app) {
      send(res, 401, { error: "invalid_client", error_description: "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method." });
      return null;
    }
    if (!app.redirectUris.includes(redirectUri)) {
      send(res, 400, { error: "invalid_redirect_uri", error_description: "The requested redirect uri is malformed or doesn't match client redirect URI." });
      return null;
    }
    const back = (params) => {
      const to = new URL(redirectUri);
      for (const [k, v] of Object.entries(params)) if (v != null) to.searchParams.set(k, v);
      res.writeHead(302, { location: to.href, "cache-control": "no-store" });
      res.end();
      return 302;
    };
    const state = q.get("state");
    if (q.get("response_type") !== "code") {
      back({ error: "unsupported_response_type", error_description: "The authorization server does not support this response type.", state });
      return null;
    }
    // Mastodon's default when scope is left out is "read" (GoToSocial's too).
    const scopes = (q.get("scope") ?? "read").split(/[\s+]+/).filter(Boolean);
    if (scopes.some((s) => !app.scopes.includes(s))) {
      back({ error: "invalid_scope", error_description: "The requested scope is invalid, unknown, or malformed.", state });
      return null;
    }
    const challenge = q.get("code_challenge");
    const method = q.get("code_challenge_method") ?? (challenge ? "plain" : null);
    if (challenge != null && method !== "S256") {
      back({ error: "invalid_request", error_description: "Code challenge method must be S256.", state });
      return null;
    }
    if (!settings.loggedIn) {
      res.writeHead(302, { location: `${origin}/auth/sign_in`, "cache-control": "no-store" });
      res.end();
      return null;
    }
    return { app, clientId: q.get("client_id"), redirectUri, scopes, challenge, method, state, back };
  }

  function approve(a) {
    const code = token();
    codes.set(code, { clientId: a.clientId, user: settings.loggedIn, redirectUri: a.redirectUri, scopes: a.scopes, challenge: a.challenge, method: a.method, expires: Date.now() + 600000, used: false });
    authorizations.push({ user: settings.loggedIn, clientId: a.clientId, scopes: a.scopes });
    return a.back({ code, state: a.state });
  }

  const deny = (a) => a.back({ error: "access_denied", error_description: "The resource owner or authorization server denied the request.", state: a.state });

  const esc = (v) => String(v).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  // Mastodon's consent screen (app/views/oauth/authorizations/new): the app's name, the
  // scopes asked, "Authorize" (POST /oauth/authorize) and "Deny" (the same with _method=delete),
  // each form carrying the request's parameters.
  function consentPage(res, a, q) {
    const hidden = [...q.entries()].map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`).join("");
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Authorization required</title></head><body>
<h1>Authorization required</h1><p><strong>${esc(a.app.name)}</strong> would like permission to access your account <strong>@${esc(settings.loggedIn)}</strong>. It is a third-party application.</p>
<h2>Review permissions</h2><ul id="scopes">${a.scopes.map((s) => `<li>${esc(s)}</li>`).join("")}</ul>
<form method="post" action="/oauth/authorize">${hidden}<button type="submit">Authorize</button></form>
<form method="post" action="/oauth/authorize"><input type="hidden" name="_method" value="delete">${hidden}<button type="submit">Deny</button></form>
</body></html>`;
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(html);
    return 200;
  }

  function authorize(req, res, url) {
    const q = url.searchParams;
    const a = authorizeRequest(res, q);
    if (!a) return res.statusCode;
    if (settings.deny) return deny(a);
    if (settings.consentPage) return consentPage(res, a, q);
    return approve(a);
  }

  // The consent screen's answer: approve, or deny with _method=delete.
  function authorizePost(req, res, p) {
    if (p === null) return send(res, 400, { error: "invalid_request" });
    const q = new URLSearchParams(Object.entries(p).filter(([k]) => k !== "_method"));
    const a = authorizeRequest(res, q);
    if (!a) return res.statusCode;
    return p._method === "delete" || settings.deny ? deny(a) : approve(a);
  }

  function clientOf(req, p) {
    let id = p.client_id;
    let secret = p.client_secret;
    const basic = /^Basic\s+(\S+)$/i.exec(String(req.headers.authorization ?? ""));
    if (basic) [id, secret] = Buffer.from(basic[1], "base64").toString("utf8").split(":");
    const app = apps.get(String(id ?? ""));
    return app && app.secret === secret ? { id, app } : null;
  }

  function tokenExchange(req, res, p) {
    if (p === null) return send(res, 400, { error: "invalid_request" });
    const client = clientOf(req, p);
    if (!client) return send(res, 401, { error: "invalid_client", error_description: "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method." });
    if (p.grant_type !== "authorization_code") return send(res, 400, { error: "unsupported_grant_type", error_description: "The authorization grant type is not supported by the authorization server." });
    const c = codes.get(String(p.code ?? ""));
    if (!c || c.used || c.expires < Date.now() || c.clientId !== client.id || c.redirectUri !== p.redirect_uri) {
      if (c) c.used = true; // a replayed code is dead either way
      return send(res, 400, { error: "invalid_grant", error_description: INVALID_GRANT });
    }
    c.used = true;
    if (!pkceVerify(c.challenge, c.method, p.code_verifier)) return send(res, 400, { error: "invalid_grant", error_description: INVALID_GRANT });
    const t = token();
    tokens.set(t, { clientId: client.id, user: c.user, scopes: c.scopes, revoked: false, created: Math.floor(Date.now() / 1000) });
    const answer = { access_token: t, token_type: "Bearer", scope: c.scopes.join(" "), created_at: Math.floor(Date.now() / 1000) };
    if (software === "pleroma") answer.me = localUser(c.user)?.id ?? null;
    return send(res, 200, answer);
  }

  function revoke(req, res, p) {
    if (p === null) return send(res, 400, { error: "invalid_request" });
    const client = clientOf(req, p);
    if (!client) return send(res, 403, { error: "unauthorized_client", error_description: "You are not authorized to revoke this token" });
    const t = tokens.get(String(p.token ?? ""));
    if (t && t.clientId === client.id) t.revoked = true;
    return send(res, 200, {}); // RFC 7009: an unknown token is not an error
  }

  async function search(req, res, url, t, rl) {
    if (!allows(t, "read", "read:search")) return send(res, 403, { error: "This action is outside the authorized scopes" }, rl);
    const q = url.searchParams.get("q");
    if (q == null || q === "") return send(res, 400, { error: "param is missing or the value is empty: q" }, rl);
    const type = url.searchParams.get("type");
    const limit = Math.min(Math.max(Number(url.searchParams.get("limit") ?? 20) || 20, 1), 40);
    const doResolve = ["true", "1"].includes(url.searchParams.get("resolve") ?? "");
    const out = { accounts: [], statuses: [], hashtags: [] };
    let found = null;
    if (type == null || type === "accounts") {
      let known = byActor.has(q) ? accounts.get(byActor.get(q)) : null;
      if (!known) {
        const local = localUser(new URL(q, origin).pathname.split("/").pop());
        if (local && local.id === q) known = remember({ id: local.id, preferredUsername: local.username, url: local.url }, true);
      }
      if (!known && doResolve && /^https?:\/\//.test(q)) {
        const actor = await resolve(q).catch(() => null);
        if (actor && actor.id && ["Person", "Service", "Application", "Group", "Organization"].includes(actor.type)) known = remember(actor, false);
      }
      if (known) {
        out.accounts.push(accountJson(known));
        found = known.actorId;
      }
    }
    out.accounts = out.accounts.slice(0, limit);
    searches.push({ user: t.user, q, resolve: doResolve, type, limit, found });
    return send(res, 200, out, rl);
  }

  // GET /api/v1/accounts/verify_credentials: the token's own account, as a CredentialAccount
  // (Account plus source and role). Mastodon asks for read, read:accounts or profile.
  function verifyCredentials(req, res, t, rl) {
    if (!allows(t, "read", "read:accounts", "profile")) return send(res, 403, { error: "This action is outside the authorized scopes" }, rl);
    const user = localUser(t.user);
    if (!user) return send(res, 404, { error: "Record not found" }, rl);
    const a = remember({ id: user.id, preferredUsername: user.username, url: user.url }, true);
    const json = {
      ...accountJson(a),
      source: { privacy: "public", sensitive: false, language: null, note: "", fields: [], follow_requests_count: 0 },
      role: { id: "-99", name: "", permissions: "0", color: "", highlighted: false },
    };
    if (software === "pleroma") {
      delete json.uri;
      json.url = user.id;
    }
    return send(res, 200, json, rl);
  }

  async function followAccount(req, res, id, t, rl) {
    if (!allows(t, "write", "write:follows", "follow")) return send(res, 403, { error: "This action is outside the authorized scopes" }, rl);
    const a = accounts.get(id);
    if (!a) return send(res, 404, { error: "Record not found" }, rl);
    // Mastodon's RateLimiter family :follows, per account, headers of its own.
    const fl = count(`follows:${t.user}`, settings.limits.followsPerDay, 86400);
    if (fl.over) return send(res, 429, { error: "Too many requests" }, fl.headers);
    if (a.actorId === localUser(t.user)?.id) return send(res, 403, { error: "This action is not allowed" }, rl);
    if (!following.has(`${t.user} ${id}`)) {
      await follow(t.user, { id: a.actorId, account: a.json });
      follows.push({ user: t.user, accountId: id, actorId: a.actorId, at: new Date().toISOString() });
      following.add(`${t.user} ${id}`);
    }
    // A remote account is a follow request until its server accepts (Mastodon's own answer).
    return send(res, 200, relationship(a), { ...rl, ...fl.headers });
  }

  // POST /api/v1/accounts/:id/unfollow (Api::V1::AccountsController#unfollow): the same
  // scopes as follow, no :follows rate limit (Mastodon counts follows made, not ended), and
  // the Relationship afterwards, following and requested false, also when nothing was followed.
  async function unfollowAccount(req, res, id, t, rl) {
    if (!allows(t, "write", "write:follows", "follow")) return send(res, 403, { error: "This action is outside the authorized scopes" }, rl);
    const a = accounts.get(id);
    if (!a) return send(res, 404, { error: "Record not found" }, rl);
    if (following.delete(`${t.user} ${id}`)) {
      // Mastodon destroys the ListAccount rows with the Follow: the account leaves every list.
      for (const l of lists.values()) if (l.user === t.user) l.accounts = l.accounts.filter((x) => x !== id);
      await unfollow(t.user, { id: a.actorId, account: a.json });
      unfollows.push({ user: t.user, accountId: id, actorId: a.actorId, at: new Date().toISOString() });
    }
    return send(res, 200, { ...relationship(a), following: false, requested: false, showing_reblogs: false }, rl);
  }

  // --- lists (app/controllers/api/v1/lists_controller.rb, lists/accounts_controller.rb) ---

  const LIST_LIMIT = 50; // List::PER_ACCOUNT_LIMIT
  const listJson = (l) => ({ id: l.id, title: l.title, replies_policy: l.replies_policy, exclusive: l.exclusive });
  const listOf = (t, id) => {
    const l = lists.get(id);
    return l && l.user === t.user ? l : null;
  };

  function getLists(req, res, t, rl) {
    if (!allows(t, "read", "read:lists")) return send(res, 403, { error: "This action is outside the authorized scopes" }, rl);
    return send(res, 200, [...lists.values()].filter((l) => l.user === t.user).map(listJson), rl);
  }

  function createList(req, res, p, t, rl) {
    if (!allows(t, "write", "write:lists")) return send(res, 403, { error: "This action is outside the authorized scopes" }, rl);
    if (p === null) return send(res, 400, { error: "Invalid JSON" }, rl);
    const title = String(p.title ?? "").trim();
    const policy = p.replies_policy ?? "list";
    if (!title) return send(res, 422, { error: "Validation failed: Title can't be blank" }, rl);
    if (!["list", "followed", "none"].includes(policy)) return send(res, 422, { error: "Validation failed: Replies policy is not included in the list" }, rl);
    if ([...lists.values()].filter((l) => l.user === t.user).length >= LIST_LIMIT) {
      return send(res, 422, { error: "Validation failed: You have reached the maximum number of lists" }, rl);
    }
    const l = { id: String(nextListId++), user: t.user, title, replies_policy: policy, exclusive: ["true", "1", true].includes(p.exclusive), accounts: [] };
    lists.set(l.id, l);
    return send(res, 200, listJson(l), rl);
  }

  function deleteListCall(req, res, id, t, rl) {
    if (!allows(t, "write", "write:lists")) return send(res, 403, { error: "This action is outside the authorized scopes" }, rl);
    if (!listOf(t, id)) return send(res, 404, { error: "Record not found" }, rl);
    lists.delete(id);
    return send(res, 200, {}, rl);
  }

  // account_ids[] from a form (repeated) or a JSON array; the whole batch in one transaction.
  function addToList(req, res, id, body, t, rl) {
    if (!allows(t, "write", "write:lists")) return send(res, 403, { error: "This action is outside the authorized scopes" }, rl);
    const l = listOf(t, id);
    if (!l) return send(res, 404, { error: "Record not found" }, rl);
    const type = String(req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
    let ids;
    if (type === "application/json") {
      const p = parseBody(req, body);
      if (p === null) return send(res, 400, { error: "Invalid JSON" }, rl);
      ids = Array.isArray(p.account_ids) ? p.account_ids.map(String) : [];
    } else {
      ids = new URLSearchParams(body?.toString("utf8") ?? "").getAll("account_ids[]");
    }
    // Account.find(ids): one unknown id is a 404 for all.
    if (ids.some((a) => !accounts.has(a))) return send(res, 404, { error: "Record not found" }, rl);
    for (const a of ids) {
      if (l.accounts.includes(a)) return send(res, 422, { error: "Validation failed: Account has already been taken" }, rl);
      // A follow or a follow request (Mastodon 4.1 and later) must exist.
      if (!following.has(`${t.user} ${a}`)) {
        return send(res, 422, { error: "Validation failed: Account must be a followed account" }, rl);
      }
    }
    l.accounts.push(...ids);
    return send(res, 200, {}, rl);
  }

  async function api(req, res, url, body) {
    const t = bearer(req);
    if (!t) return send(res, 401, { error: "The access token is invalid" });
    const perToken = count(`token:${t.token}`, settings.limits.perToken, settings.limits.period);
    if (perToken.over) return send(res, 429, { error: "Too many requests" }, perToken.headers);
    const rl = perToken.headers;
    if (req.method === "GET" && url.pathname === "/api/v2/search") return search(req, res, url, t, rl);
    if (req.method === "GET" && url.pathname === "/api/v1/accounts/verify_credentials") return verifyCredentials(req, res, t, rl);
    if (url.pathname === "/api/v1/lists") {
      if (req.method === "GET") return getLists(req, res, t, rl);
      if (req.method === "POST") return createList(req, res, parseBody(req, body), t, rl);
    }
    const lm = /^\/api\/v1\/lists\/([^/]+)(\/accounts)?$/.exec(url.pathname);
    if (lm && req.method === "POST" && lm[2]) return addToList(req, res, decodeURIComponent(lm[1]), body, t, rl);
    if (lm && req.method === "DELETE" && !lm[2]) return deleteListCall(req, res, decodeURIComponent(lm[1]), t, rl);
    const m = /^\/api\/v1\/accounts\/([^/]+)\/(follow|unfollow)$/.exec(url.pathname);
    if (req.method === "POST" && m) {
      if (parseBody(req, body) === null) return send(res, 400, { error: "Invalid JSON" }, rl);
      return (m[2] === "follow" ? followAccount : unfollowAccount)(req, res, decodeURIComponent(m[1]), t, rl);
    }
    return send(res, 404, { error: "Record not found" }, rl);
  }

  // Answers the request if it is ours; resolves true then, false otherwise.
  async function handle(req, res, url, body) {
    const path = url.pathname;
    const ours = path.startsWith("/api/") || path.startsWith("/oauth/") || path === "/auth/sign_in";
    if (!ours) return false;
    const rec = { method: req.method, path, status: 0, at: new Date().toISOString(), auth: Boolean(req.headers.authorization) };
    requests.push(rec);
    const inj = injected(req.method, path);
    if (inj) {
      rec.status = send(res, inj.status, inj.body ?? { error: "injected" }, inj.headers ?? {});
      return true;
    }
    if (req.method === "POST" && path === "/api/v1/apps") rec.status = createApp(req, res, parseBody(req, body));
    else if (req.method === "GET" && path === "/oauth/authorize") rec.status = authorize(req, res, url);
    else if (req.method === "POST" && path === "/oauth/authorize") rec.status = authorizePost(req, res, parseBody(req, body));
    else if (req.method === "POST" && path === "/oauth/token") rec.status = tokenExchange(req, res, parseBody(req, body));
    else if (req.method === "POST" && path === "/oauth/revoke") rec.status = revoke(req, res, parseBody(req, body));
    else if (req.method === "GET" && path === "/auth/sign_in") rec.status = send(res, 200, { page: "sign in" });
    else if (path.startsWith("/api/")) rec.status = await api(req, res, url, body);
    else rec.status = send(res, 404, { error: "Record not found" });
    return true;
  }

  return {
    host,
    software,
    handle,
    // Test settings: loggedIn, deny, limits (merged), failNext (appended after clearFailNext
    // empties it), revokeAll; returns them.
    control(input = {}) {
      if ("loggedIn" in input) settings.loggedIn = input.loggedIn;
      if ("deny" in input) settings.deny = Boolean(input.deny);
      if ("consentPage" in input) settings.consentPage = Boolean(input.consentPage);
      if (input.limits) settings.limits = { ...settings.limits, ...input.limits };
      if (input.clearFailNext) settings.failNext.length = 0;
      if (Array.isArray(input.failNext)) settings.failNext.push(...input.failNext);
      if (input.revokeAll) for (const t of tokens.values()) t.revoked = true;
      return { loggedIn: settings.loggedIn, deny: settings.deny, consentPage: settings.consentPage, limits: settings.limits, failNext: settings.failNext };
    },
    // What happened, for assertions (secrets included: the tests look for them elsewhere).
    snapshot() {
      return {
        apps: [...apps.entries()].map(([clientId, a]) => ({ clientId, secret: a.secret, name: a.name, website: a.website, scopes: a.scopes, redirectUris: a.redirectUris })),
        tokens: [...tokens.entries()].map(([t, x]) => ({ token: t, user: x.user, scopes: x.scopes, revoked: x.revoked, clientId: x.clientId })),
        codes: [...codes.values()].map((c) => ({ user: c.user, used: c.used, pkce: c.challenge != null, method: c.method, scopes: c.scopes })),
        authorizations: [...authorizations],
        follows: [...follows],
        unfollows: [...unfollows],
        following: [...following],
        searches: [...searches],
        requests: [...requests],
        lists: [...lists.values()].map((l) => ({ ...listJson(l), user: l.user, accounts: [...l.accounts] })),
      };
    },
    deleteList(user, id) {
      const l = lists.get(id);
      if (l && l.user === user) lists.delete(id);
    },
  };
}
