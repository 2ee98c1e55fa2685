// A test double of X's OAuth 2.0 (authorization code with PKCE) and GET /2/users/me, on
// loopback, speaking X's real shapes: the authorize page at /i/oauth2/authorize (it approves
// or refuses for the signed-in user, as a person would), POST /2/oauth2/token
// (form-encoded; a confidential client authenticates with HTTP Basic, a public one names
// itself with client_id) answering {"token_type": "bearer", "expires_in": 7200,
// "access_token", "scope"} or X's {"error", "error_description"} bodies, and /2/users/me
// answering {"data": {"id", "name", "username"}}, 401 and 429 with X's problem bodies
// ({"title", "type", "status", "detail"}) and x-rate-limit-limit/-remaining/-reset (Unix
// seconds) on every answer. X cannot run here; everything the bridge relies on is checked.
//
//   const x = await startXApi({ clientId: "cid", clientSecret: "sekret", redirectUri });
//   x.control({ user: { id: "111", name: "Bob", username: "bob_x" }, deny: false,
//               meLimit: 75, failNext: [{ path: "/2/users/me", status: 401 }], redirectUri });
//   x.authorizeUrl, x.apiBase            -> for x_authorize_url and x_api_base
//   x.snapshot()  -> {codes (issued), tokens (issued), requests: [{method, path, status, auth}]}
//   await x.stop();
import http from "node:http";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const b64url = (buf) => buf.toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const REQUIRED_SCOPES = ["users.read", "tweet.read"]; // GET /2/users/me needs both
const KNOWN_SCOPES = new Set(["tweet.read", "tweet.write", "tweet.moderate.write", "users.read", "follows.read", "follows.write", "offline.access", "space.read", "mute.read", "mute.write", "like.read", "like.write", "list.read", "list.write", "block.read", "block.write", "bookmark.read", "bookmark.write", "users.email"]);

function pkceOk(challenge, verifier) {
  if (typeof verifier !== "string" || !/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return false;
  const a = Buffer.from(b64url(createHash("sha256").update(verifier).digest()));
  const b = Buffer.from(String(challenge));
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startXApi({ clientId = "x-client", clientSecret = null, redirectUri } = {}) {
  const codes = new Map(); // code -> {challenge, redirectUri, scope, user, expires, used}
  const tokens = new Map(); // token -> {user, scope, expires}
  const requests = [];
  const windows = new Map(); // token -> {start, count}
  const settings = { user: null, deny: false, meLimit: 75, failNext: [], redirectUri };

  const json = (res, status, body, headers = {}) => {
    res.writeHead(status, { "content-type": "application/json;charset=utf-8", "cache-control": "no-cache, no-store", ...headers });
    res.end(JSON.stringify(body));
    return status;
  };
  const oauthError = (res, status, error, description) => json(res, status, { error, error_description: description });
  const problem = (res, status, title, headers) => json(res, status, { title, type: "about:blank", status, detail: title }, headers);

  function injected(method, path) {
    const i = settings.failNext.findIndex((f) => (f.method ?? method) === method && f.path === path);
    if (i < 0) return null;
    const f = settings.failNext[i];
    f.times = (f.times ?? 1) - 1;
    if (f.times <= 0) settings.failNext.splice(i, 1);
    return f;
  }

  // X's user limit on /2/users/me: 75 requests per 15-minute window per user token.
  function limit(token) {
    const now = Date.now();
    let w = windows.get(token);
    if (!w || now >= w.start + 900000) w = { start: now, count: 0 };
    w.count += 1;
    windows.set(token, w);
    return {
      over: w.count > settings.meLimit,
      headers: {
        "x-rate-limit-limit": String(settings.meLimit),
        "x-rate-limit-remaining": String(Math.max(0, settings.meLimit - w.count)),
        "x-rate-limit-reset": String(Math.ceil((w.start + 900000) / 1000)),
      },
    };
  }

  function authorize(res, q) {
    const back = (params) => {
      const u = new URL(q.get("redirect_uri"));
      for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
      res.writeHead(302, { location: u.href });
      res.end();
      return 302;
    };
    // What X shows for a request it cannot honour: its own error page, no redirect.
    const page = (why) => {
      res.writeHead(400, { "content-type": "text/html;charset=utf-8" });
      res.end(`<html><body><h1>Something went wrong</h1><p>${why}</p></body></html>`);
      return 400;
    };
    if (q.get("response_type") !== "code") return page("response_type");
    if (q.get("client_id") !== clientId) return page("client_id");
    if (q.get("redirect_uri") !== settings.redirectUri) return page("redirect_uri");
    if (q.get("code_challenge_method") !== "S256" || !q.get("code_challenge")) return page("code_challenge");
    if (!q.get("state")) return page("state");
    const scopes = String(q.get("scope") ?? "").split(" ").filter(Boolean);
    if (scopes.some((s) => !KNOWN_SCOPES.has(s)) || REQUIRED_SCOPES.some((s) => !scopes.includes(s))) return page("scope");
    if (settings.deny || !settings.user) return back({ error: "access_denied", state: q.get("state") });
    const code = b64url(randomBytes(48));
    codes.set(code, { challenge: q.get("code_challenge"), redirectUri: settings.redirectUri, scope: scopes.join(" "), user: { ...settings.user }, expires: Date.now() + 30000, used: false });
    return back({ state: q.get("state"), code });
  }

  function token(req, res, body) {
    if (String(req.headers["content-type"] ?? "").split(";")[0].trim() !== "application/x-www-form-urlencoded") {
      return oauthError(res, 400, "invalid_request", "Missing required parameter [grant_type].");
    }
    const p = new URLSearchParams(body.toString("utf8"));
    if (clientSecret !== null) {
      const m = /^Basic\s+(\S+)$/i.exec(String(req.headers.authorization ?? ""));
      const pair = m ? Buffer.from(m[1], "base64").toString("utf8") : "";
      const [id, secret] = pair.split(":").map((x) => decodeURIComponent(x ?? ""));
      if (id !== clientId || secret !== clientSecret) return oauthError(res, 401, "unauthorized_client", "Missing valid authorization header");
    } else if (p.get("client_id") !== clientId) {
      return oauthError(res, 400, "invalid_request", "Missing required parameter [client_id].");
    }
    if (p.get("grant_type") !== "authorization_code") return oauthError(res, 400, "invalid_request", "Missing required parameter [grant_type].");
    const c = codes.get(p.get("code") ?? "");
    if (!c || c.used || c.expires < Date.now() || p.get("redirect_uri") !== c.redirectUri) {
      if (c) c.used = true;
      return oauthError(res, 400, "invalid_request", "Value passed for the authorization code was invalid.");
    }
    c.used = true;
    if (!pkceOk(c.challenge, p.get("code_verifier"))) return oauthError(res, 400, "invalid_request", "Value passed for the code verifier did not match the code challenge.");
    const t = b64url(randomBytes(48));
    tokens.set(t, { user: c.user, scope: c.scope, expires: Date.now() + 7200000 });
    return json(res, 200, { token_type: "bearer", expires_in: 7200, access_token: t, scope: c.scope });
  }

  function me(req, res) {
    const m = /^Bearer\s+(\S+)$/.exec(String(req.headers.authorization ?? ""));
    const t = m ? tokens.get(m[1]) : null;
    if (!t || t.expires < Date.now()) return problem(res, 401, "Unauthorized");
    const rl = limit(m[1]);
    if (rl.over) return problem(res, 429, "Too Many Requests", rl.headers);
    if (!REQUIRED_SCOPES.every((s) => t.scope.split(" ").includes(s))) {
      return json(res, 403, { title: "Forbidden", type: "about:blank", status: 403, detail: "Forbidden" }, rl.headers);
    }
    return json(res, 200, { data: { id: t.user.id, name: t.user.name, username: t.user.username } }, rl.headers);
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const u = new URL(req.url, "http://x");
      const body = Buffer.concat(chunks);
      const fail = injected(req.method, u.pathname);
      let status;
      if (fail) {
        status = json(res, fail.status, fail.body ?? { title: "Injected", type: "about:blank", status: fail.status, detail: "Injected" }, fail.headers ?? {});
      } else if (req.method === "GET" && u.pathname === "/i/oauth2/authorize") status = authorize(res, u.searchParams);
      else if (req.method === "POST" && u.pathname === "/2/oauth2/token") status = token(req, res, body);
      else if (req.method === "GET" && u.pathname === "/2/users/me") status = me(req, res);
      else status = problem(res, 404, "Not Found");
      requests.push({ method: req.method, path: u.pathname, status, auth: req.headers.authorization ? req.headers.authorization.split(" ")[0] : null, body: body.toString("utf8") });
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    origin,
    authorizeUrl: `${origin}/i/oauth2/authorize`,
    apiBase: origin,
    control(o) {
      Object.assign(settings, o);
    },
    snapshot() {
      return { codes: codes.size, tokens: tokens.size, requests: requests.map((r) => ({ ...r })) };
    },
    stop: () => new Promise((resolve) => server.close(resolve)),
  };
}
