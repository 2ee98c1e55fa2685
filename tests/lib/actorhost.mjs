// A small ActivityPub actor host for the integration tests: our own test code standing in
// for a remote server (plain node:http on 127.0.0.1, a random port). It
//   - serves actors at /users/<name> (Person or Application) with inbox /users/<name>/inbox,
//     and their WebFinger (acct:<name>@<host:port>, Mastodon's JRD),
//     endpoints.sharedInbox /inbox and publicKey {id, owner, publicKeyPem}; the keyId is
//     <actor>#main-key, or GoToSocial's <actor>/main-key (served as a key document);
//   - can rotate an actor's key (the old one stays available to sign with);
//   - records every request it receives (so a test can check that nothing was fetched);
//   - answers POSTs as a delivery sink, per path: 202 by default, or a configured status,
//     429 with Retry-After, 410, or a hang; counts distinct deliveries;
//   - verifies the draft-cavage signature of incoming POSTs with the key named by keyId,
//     fetched from the server that signed (the relay's /actor, the bridge's actor);
//   - signs POSTs (signedPost): draft-cavage rsa-sha256 or hs2019, or RFC 9421, with knobs
//     to forge them (wrong key, tampered body, stale or future Date, no Digest, another
//     actor's keyId, duplicate parameters).
//
//   const h = await startActorHost({ actors: [{ name: "admin", type: "Application" }] });
//   const a = h.actor("admin");               // {name, id, inbox, keyId, privateKey, publicKeyPem}
//   const r = await signedPost(`${s.url}/inbox`, {type: "Follow", ...}, { actor: a });
//   h.requests, h.fetches(), h.posts("/users/admin/inbox"), await h.verify(rec), h.stats()
//   h.answer("/inbox/", { status: 500 }); h.rotateKey("admin"); await h.stop();
//
// With { mastodon: true } (or { mastodon: { software: "pleroma" } }) it also serves the
// Mastodon client API of tests/lib/mastodon-api.mjs for its actors (h.mastodon: control(), snapshot()): the actors' home is then one origin
// for ActivityPub and for OAuth, as on a real instance. Follows are recorded, not federated
// (tests/interop/peer.mjs mounts the same API on a Fedify peer, which federates them).
import http from "node:http";
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomUUID, sign as cryptoSign, verify as cryptoVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { newKeyPair } from "./keypool.mjs";
import { onExit, SLOW } from "./harness.mjs";
import { request } from "./http.mjs";
import { createMastodonApi } from "./mastodon-api.mjs";

export const AS = "https://www.w3.org/ns/activitystreams";
export const SEC = "https://w3id.org/security/v1";
export const PUBLIC = `${AS}#Public`;

// newKeyPair (tests/lib/keypool.mjs): an RSA-2048 key pair, made once per run.
export { newKeyPair };

// A key pair of other sizes or exponents (generateKeyPairSync's RSA options): the bridge
// takes 2048 to 8192 bits with a small odd exponent only.
export function rsaKeyPair(options) {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", options);
  return { privateKey, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }) };
}

// A hostile key (threats.md H2): a 3072-bit modulus with a 3070-bit odd public exponent,
// which would make each verification cost about 16 ms, and the private key of the same
// modulus (e = 65537) to sign with. Nothing checks that e fits the modulus' factors.
export function bigExponentKeyPair() {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 3072 });
  const e = randomBytes(384);
  e[0] = (e[0] & 0x3f) | 0x20; // 3070 bits
  e[383] |= 1;
  const jwk = { kty: "RSA", n: publicKey.export({ format: "jwk" }).n, e: e.toString("base64url") };
  return { privateKey, publicKeyPem: createPublicKey({ key: jwk, format: "jwk" }).export({ type: "spki", format: "pem" }) };
}

// The test key in tests/data/httpsig (key-a.pem), for a stable key when one is wanted.
export function fileKeyPair(name = "key-a") {
  const pem = readFileSync(new URL(`../data/httpsig/${name}.pem`, import.meta.url), "utf8");
  const privateKey = createPrivateKey(pem);
  return {
    privateKey,
    privatePem: pem,
    publicKeyPem: createPublicKey(privateKey).export({ type: "spki", format: "pem" }),
  };
}

export const sha256b64 = (buf) => createHash("sha256").update(buf).digest("base64");

// --- signing -------------------------------------------------------------------------------

function cavageLine(name, { method, path, headers, created, expires }) {
  if (name === "(request-target)") return `(request-target): ${method.toLowerCase()} ${path}`;
  if (name === "(created)") return `(created): ${created}`;
  if (name === "(expires)") return `(expires): ${expires}`;
  const v = headers[name];
  if (v === undefined) throw new Error(`signedPost: header ${name} is to be signed but is not sent`);
  return `${name}: ${v}`;
}

// The value of a structured-field string.
const sfString = (s) => `"${String(s).replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/**
 * Signs and sends a POST. body: an object (JSON.stringify'd), a string or a Buffer.
 * opts:
 *   actor        {keyId, privateKey} (an actor of an ActorHost): whose key and keyId sign
 *   keyId        the keyId to put in the header (default actor.keyId)
 *   privateKey   the key that signs (default actor.privateKey): another key forges it
 *   scheme       "cavage" (default) or "rfc9421"
 *   algorithm    cavage: "rsa-sha256" (default), "hs2019", or null to leave it out
 *   signed       the list of signed headers (cavage default
 *                "(request-target) host date digest content-type"; RFC 9421 default
 *                ["@method", "@target-uri", "content-digest", "content-type"])
 *   date         a Date or a string for the Date header (default now); dateOffsetMs shifts now
 *   created      hs2019/RFC 9421: the created parameter (seconds; default now)
 *   digest       false: no Digest header (and "digest" leaves the default list);
 *                a string: that Digest value instead of the body's
 *   contentType  default application/activity+json; null sends none
 *   tamper       fn(bodyString) -> string: the body sent differs from the body signed (the
 *                Digest stays that of the signed body unless tamperDigest is true)
 *   duplicate    {param: value}: the cavage header gets that parameter a second time
 *   headers      extra headers sent (not signed unless listed in signed)
 *   host         the Host header sent and signed (cavage host, RFC 9421 @authority and
 *                @target-uri), default the URL's
 *   requestTarget the path signed as (request-target) (default the URL's path and query;
 *                Fedify signs the path without the query)
 *   omitSignature true: send everything but the Signature header(s)
 *   timeout      ms (default 10000, ten times that under valgrind)
 * Resolves {status, body, headers, json(), sent: {headers, body}}.
 */
export async function signedPost(url, body, opts = {}) {
  const u = new URL(url);
  // A Buffer is sent byte for byte (not necessarily UTF-8); anything else as UTF-8 text.
  const text = Buffer.isBuffer(body) ? body : typeof body === "string" ? body : JSON.stringify(body);
  const actor = opts.actor ?? {};
  const keyId = opts.keyId ?? actor.keyId;
  const privateKey = opts.privateKey ?? actor.privateKey;
  const scheme = opts.scheme ?? "cavage";
  const nowMs = Date.now() + (opts.dateOffsetMs ?? 0);
  const date = opts.date instanceof Date ? opts.date.toUTCString() : (opts.date ?? new Date(nowMs).toUTCString());
  const created = opts.created ?? Math.floor(nowMs / 1000);
  const headers = {};
  headers.host = opts.host ?? u.host;
  headers.date = date;
  if (opts.contentType !== null) headers["content-type"] = opts.contentType ?? "application/activity+json";
  if (scheme === "cavage") {
    if (opts.digest !== false) headers.digest = typeof opts.digest === "string" ? opts.digest : `SHA-256=${sha256b64(text)}`;
  } else if (opts.digest !== false) {
    headers["content-digest"] = typeof opts.digest === "string" ? opts.digest : `sha-256=:${sha256b64(text)}:`;
  }
  const path = opts.requestTarget ?? u.pathname + u.search;
  const sigHeaders = {};
  if (!opts.omitSignature) {
    if (!keyId || !privateKey) throw new Error("signedPost: a keyId and a private key are needed (opts.actor)");
    if (scheme === "cavage") {
      const algorithm = opts.algorithm === undefined ? "rsa-sha256" : opts.algorithm;
      let list = opts.signed ?? "(request-target) host date digest content-type";
      if (opts.signed === undefined && opts.digest === false) list = list.replace(" digest", "");
      if (opts.signed === undefined && opts.contentType === null) list = list.replace(" content-type", "");
      const names = list.split(" ").filter(Boolean);
      const signingString = names.map((n) => cavageLine(n, { method: "POST", path, headers, created, expires: opts.expires })).join("\n");
      const signature = cryptoSign("sha256", Buffer.from(signingString), privateKey).toString("base64");
      const parts = [`keyId="${keyId}"`];
      if (algorithm !== null) parts.push(`algorithm="${algorithm}"`);
      if (names.includes("(created)")) parts.push(`created=${created}`);
      if (opts.expires !== undefined) parts.push(`expires=${opts.expires}`);
      parts.push(`headers="${list}"`, `signature="${signature}"`);
      for (const [k, v] of Object.entries(opts.duplicate ?? {})) parts.push(`${k}="${v}"`);
      sigHeaders.signature = parts.join(",");
    } else if (scheme === "rfc9421") {
      const comps = opts.signed ?? ["@method", "@target-uri", "content-digest", "content-type"];
      const values = {
        "@method": "POST",
        "@target-uri": opts.host ? `${u.protocol}//${opts.host}${u.pathname}${u.search}` : u.href,
        "@authority": headers.host,
        "@scheme": u.protocol.slice(0, -1),
        "@path": u.pathname,
        "@query": u.search || "?",
        "@request-target": path,
      };
      let params = `(${comps.map((c) => sfString(c)).join(" ")});created=${created}`;
      if (opts.expires !== undefined) params += `;expires=${opts.expires}`;
      params += `;keyid=${sfString(keyId)}`;
      if (opts.algorithm !== null) params += `;alg=${sfString(opts.algorithm ?? "rsa-v1_5-sha256")}`;
      const lines = comps.map((c) => {
        const v = c.startsWith("@") ? values[c] : headers[c];
        if (v === undefined) throw new Error(`signedPost: component ${c} has no value`);
        return `${sfString(c)}: ${v}`;
      });
      lines.push(`"@signature-params": ${params}`);
      const signature = cryptoSign("sha256", Buffer.from(lines.join("\n")), privateKey).toString("base64");
      const label = opts.label ?? "sig1";
      sigHeaders["signature-input"] = `${label}=${params}`;
      sigHeaders.signature = `${label}=:${signature}:`;
    } else {
      throw new Error(`signedPost: unknown scheme ${scheme}`);
    }
  }
  let sentBody = text;
  if (opts.tamper) {
    sentBody = opts.tamper(Buffer.isBuffer(text) ? text.toString("utf8") : text);
    if (opts.tamperDigest) {
      if (headers.digest) headers.digest = `SHA-256=${sha256b64(sentBody)}`;
      if (headers["content-digest"]) headers["content-digest"] = `sha-256=:${sha256b64(sentBody)}:`;
    }
  }
  const sent = { ...headers, ...sigHeaders, ...(opts.headers ?? {}) };
  const r = await request(url, { method: "POST", headers: sent, body: sentBody, timeout: opts.timeout ?? 10000 * SLOW });
  r.sent = { headers: sent, body: sentBody };
  return r;
}

// --- verifying what we receive ---------------------------------------------------------------

// Parses a draft-cavage Signature header into {keyId, algorithm, headers, signature, ...};
// throws on a duplicate parameter.
export function parseCavage(value) {
  const out = {};
  const re = /\s*([A-Za-z]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([0-9]+))\s*(?:,|$)/y;
  let m;
  let pos = 0;
  const v = value.replace(/^Signature\s+/, "");
  while (pos < v.length && (m = re.exec(v)) !== null) {
    if (Object.hasOwn(out, m[1])) throw new Error(`duplicate parameter ${m[1]}`);
    out[m[1]] = m[2] !== undefined ? m[2] : Number(m[3]);
    pos = re.lastIndex;
  }
  if (pos !== v.length) throw new Error(`cannot parse Signature header at ${pos}: ${value}`);
  return out;
}

// --- the host --------------------------------------------------------------------------------

function actorDocument(host, a) {
  const doc = {
    "@context": [AS, SEC],
    id: a.id,
    type: a.type,
    preferredUsername: a.name,
    name: `test actor ${a.name}`,
    inbox: a.inbox,
    outbox: `${a.id}/outbox`,
    followers: `${a.id}/followers`,
    following: `${a.id}/following`,
    endpoints: { sharedInbox: `${host.url}/inbox` },
    publicKey: { id: a.keyId, owner: a.id, publicKeyPem: a.publicKeyPem },
  };
  return a.document ? a.document(doc) : doc;
}

/**
 * Starts the host. options:
 *   actors   [{name, type = "Person", keyStyle = "fragment" | "path", key: keyPair}]
 *   record   false: keep only counters for POSTs (fetches are always recorded)
 *   answers  {pathOrPrefix: answer} (see answer())
 */
export async function startActorHost({ actors = [], record = true, answers = {}, mastodon = false } = {}) {
  const actorsByName = new Map();
  const requests = [];
  const counts = new Map(); // path -> Map(activity id -> deliveries)
  const rules = []; // [{match, answer}], newest first
  const hanging = new Set();
  const keyCache = new Map(); // keyId -> Promise<{pem, owner, doc}>
  let totalPosts = 0;
  let open = 0; // POSTs held by a delayMs answer right now
  let maxOpen = 0;

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () =>
      handle(req, res, Buffer.concat(chunks)).catch((e) => {
        if (!res.headersSent) send(res, 500, { "content-type": "application/json" }, JSON.stringify({ error: String(e?.message ?? e) }));
      }),
    );
  });
  server.keepAliveTimeout = 30000;
  server.headersTimeout = 40000;
  const sockets = new Set();
  server.on("connection", (sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const port = server.address().port;
  const url = `http://127.0.0.1:${port}`;

  const host = {
    port,
    url,
    domain: `127.0.0.1:${port}`,
    requests, // every request: {n, at, method, path, headers, body (string), json}
    sharedInbox: `${url}/inbox`,

    addActor({ name, type = "Person", keyStyle = "fragment", key, document } = {}) {
      if (!name) throw new Error("addActor: name");
      const id = `${url}/users/${name}`;
      const kp = key ?? newKeyPair();
      const a = {
        name,
        type,
        keyStyle,
        id,
        inbox: `${id}/inbox`,
        keyId: keyStyle === "path" ? `${id}/main-key` : `${id}#main-key`,
        privateKey: kp.privateKey,
        publicKeyPem: kp.publicKeyPem,
        oldKeys: [],
        gone: false,
        document,
      };
      actorsByName.set(name, a);
      return a;
    },

    actor(name) {
      const a = actorsByName.get(name);
      if (!a) throw new Error(`no actor ${name} on ${url}`);
      return a;
    },

    // A new key pair for the actor; the previous private key is kept in oldKeys.
    rotateKey(name, key = newKeyPair()) {
      const a = host.actor(name);
      a.oldKeys.push({ privateKey: a.privateKey, publicKeyPem: a.publicKeyPem });
      a.privateKey = key.privateKey;
      a.publicKeyPem = key.publicKeyPem;
      return a;
    },

    // The actor's document answers 410 from now on (it was deleted).
    deleteActor(name) {
      host.actor(name).gone = true;
    },

    // The actor's document answers 404 while hidden (a misconfiguration, a migration).
    hideActor(name, hidden = true) {
      host.actor(name).hidden = hidden;
    },

    // An answer for POSTs whose path equals match, or starts with it when match ends in
    // "/": {status, headers, body, delayMs}, "hang", or fn(rec) returning one of those.
    // Newest wins.
    answer(match, ans) {
      rules.unshift({ match, answer: ans });
    },
    clearAnswers() {
      rules.length = 0;
    },

    // Requests by method and path prefix.
    fetches(prefix = "/") {
      return requests.filter((r) => r.method === "GET" && r.path.startsWith(prefix));
    },
    posts(prefix = "/") {
      return requests.filter((r) => r.method === "POST" && r.path.startsWith(prefix));
    },
    since(n) {
      return requests.filter((r) => r.n >= n);
    },
    get mark() {
      return requests.length;
    },

    // Distinct deliveries: {total, distinct, duplicates, paths, perPath: Map(path -> count)}.
    // A delivery is distinct by (path, activity id).
    stats(prefix = "/") {
      let total = 0;
      let distinct = 0;
      const perPath = new Map();
      for (const [p, ids] of counts) {
        if (!p.startsWith(prefix)) continue;
        let n = 0;
        for (const c of ids.values()) {
          total += c;
          distinct++;
          n += c;
        }
        perPath.set(p, n);
      }
      return { total, distinct, duplicates: total - distinct, paths: perPath.size, perPath };
    },
    get totalPosts() {
      return totalPosts;
    },
    // The most POSTs held open at once by delayMs answers (concurrent deliveries).
    get maxOpen() {
      return maxOpen;
    },

    // Verifies a recorded request's draft-cavage signature (a POST must sign its Digest) with the key its keyId names,
    // fetched (unsigned GET) from wherever it lives and cached per keyId. Resolves
    // {ok, reason, keyId, owner, algorithm, headers}.
    verify: (rec) => verifyRecord(rec),

    // Resolves with the public key document behind a keyId (cached).
    fetchKey,

    async stop() {
      for (const res of hanging) res.destroy();
      hanging.clear();
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(() => r()));
      unexit();
    },
  };

  for (const spec of actors) host.addActor(spec);
  for (const [m, a] of Object.entries(answers)) host.answer(m, a);
  if (mastodon) {
    host.mastodon = createMastodonApi({
      origin: url,
      software: mastodon?.software ?? "mastodon",
      localUser(name) {
        const a = actorsByName.get(name);
        return a ? { id: a.id, username: a.name, url: a.id } : null;
      },
      async resolve(target) {
        const r = await request(target, { headers: { accept: "application/activity+json" }, timeout: 5000 });
        return r.status === 200 ? r.json() : null;
      },
      async follow() {
        /* recorded by the API itself (snapshot().follows) */
      },
    });
  }
  const unexit = onExit(() => server.close());

  function send(res, status, headers, body) {
    const buf = Buffer.from(body ?? "");
    res.writeHead(status, { "content-length": buf.length, ...headers });
    res.end(buf);
  }

  async function handle(req, res, body) {
    const u = new URL(req.url, url);
    const rec = {
      n: requests.length,
      at: Date.now(),
      method: req.method,
      path: u.pathname,
      target: req.url,
      headers: req.headers,
      body: body.toString("utf8"),
      json: null,
    };
    if (req.method === "POST") {
      totalPosts++;
      try {
        rec.json = JSON.parse(rec.body);
      } catch {
        rec.json = null;
      }
      const aid = rec.json?.id ?? `sha256:${sha256b64(body)}`;
      let ids = counts.get(rec.path);
      if (!ids) counts.set(rec.path, (ids = new Map()));
      ids.set(aid, (ids.get(aid) ?? 0) + 1);
      if (record) requests.push(rec);
      else rec.n = -1;
    } else {
      requests.push(rec);
    }
    if (host.mastodon && (await host.mastodon.handle(req, res, u, body))) return;

    if ((req.method === "GET" || req.method === "HEAD") && u.pathname === "/.well-known/webfinger") return webfinger(req, res, u);
    if (req.method === "GET" || req.method === "HEAD") {
      const m = /^\/users\/([^/]+)(\/main-key)?$/.exec(u.pathname);
      const a = m ? actorsByName.get(decodeURIComponent(m[1])) : null;
      if (!a || a.hidden) return send(res, 404, { "content-type": "application/json" }, '{"error":"not found"}');
      if (a.gone) return send(res, 410, { "content-type": "application/json" }, '{"error":"gone"}');
      let doc;
      if (m[2]) {
        if (a.keyStyle !== "path") return send(res, 404, {}, "");
        doc = { "@context": [AS, SEC], id: a.keyId, type: "Key", owner: a.id, publicKeyPem: a.publicKeyPem };
      } else {
        doc = actorDocument(host, a);
      }
      return send(res, 200, { "content-type": "application/activity+json" }, req.method === "HEAD" ? "" : JSON.stringify(doc));
    }
    if (req.method !== "POST") return send(res, 405, {}, "");
    let ans = { status: 202 };
    for (const r of rules) {
      if (r.match === rec.path || (r.match.endsWith("/") && rec.path.startsWith(r.match))) {
        ans = typeof r.answer === "function" ? r.answer(rec) : r.answer;
        break;
      }
    }
    if (ans === "hang") {
      hanging.add(res);
      res.on("close", () => hanging.delete(res));
      return;
    }
    if (ans.delayMs > 0) {
      // Held open for a while: lets concurrent deliveries pile up (see maxOpen).
      open++;
      maxOpen = Math.max(maxOpen, open);
      const timer = setTimeout(() => {
        open--;
        send(res, ans.status ?? 202, ans.headers ?? {}, ans.body ?? "");
      }, ans.delayMs);
      res.on("close", () => {
        if (!res.writableEnded) {
          clearTimeout(timer);
          open--;
        }
      });
      return;
    }
    return send(res, ans.status ?? 202, ans.headers ?? {}, ans.body ?? "");
  }

  // Mastodon's JRD (WebfingerSerializer) for acct:<name>@<domain> of a known, visible actor;
  // 400 without a resource, 404 for anyone else (as Mastodon answers).
  function webfinger(req, res, u) {
    const resource = u.searchParams.get("resource");
    if (!resource) return send(res, 400, { "content-type": "application/json" }, '{"error":"resource parameter missing"}');
    const m = /^(?:acct:)?@?([^@]+)@(.+)$/.exec(resource);
    const a = m && m[2].toLowerCase() === host.domain ? actorsByName.get(m[1]) : null;
    if (!a || a.hidden || a.gone) return send(res, 404, {}, "");
    const jrd = {
      subject: `acct:${a.name}@${host.domain}`,
      aliases: [`${url}/@${a.name}`, a.id],
      links: [
        { rel: "http://webfinger.net/rel/profile-page", type: "text/html", href: `${url}/@${a.name}` },
        { rel: "self", type: "application/activity+json", href: a.id },
        { rel: "http://ostatus.org/schema/1.0/subscribe", template: `${url}/authorize_interaction?uri={uri}` },
      ],
    };
    return send(res, 200, { "content-type": "application/jrd+json; charset=utf-8" }, req.method === "HEAD" ? "" : JSON.stringify(jrd));
  }

  function fetchKey(keyId) {
    if (!keyCache.has(keyId)) {
      const p = (async () => {
        const docUrl = keyId.replace(/#.*$/, "");
        const r = await request(docUrl, { headers: { accept: "application/activity+json" }, timeout: 10000 });
        if (r.status !== 200) throw new Error(`GET ${docUrl}: ${r.status}`);
        const doc = r.json();
        const keys = [doc.publicKey].flat().filter(Boolean);
        const k = doc.publicKeyPem && doc.id === keyId ? doc : keys.find((x) => x.id === keyId);
        if (!k) throw new Error(`${docUrl} does not list key ${keyId}`);
        return { pem: k.publicKeyPem, owner: k.owner ?? doc.id, doc };
      })();
      keyCache.set(keyId, p);
      p.catch(() => keyCache.delete(keyId));
    }
    return keyCache.get(keyId);
  }

  async function verifyRecord(rec) {
    if (rec._verified) return rec._verified;
    rec._verified = (async () => {
      const out = { ok: false, reason: null, keyId: null, owner: null, algorithm: null, headers: null };
      const h = rec.headers;
      if (!h.signature) return { ...out, reason: "no Signature header" };
      let p;
      try {
        p = parseCavage(h.signature);
      } catch (e) {
        return { ...out, reason: e.message };
      }
      out.keyId = p.keyId;
      out.algorithm = p.algorithm ?? null;
      out.headers = p.headers ?? null;
      const names = (p.headers ?? "date").split(" ").filter(Boolean);
      const post = rec.method === "POST";
      for (const need of ["(request-target)", "host", "date", ...(post ? ["digest"] : [])]) {
        if (!names.includes(need)) return { ...out, reason: `${need} not signed` };
      }
      if (post) {
        const digest = (h.digest ?? "").split(",").map((x) => x.trim()).find((x) => /^sha-256=/i.test(x));
        if (!digest || digest.slice(8) !== sha256b64(Buffer.from(rec.body, "utf8"))) return { ...out, reason: "digest mismatch" };
      }
      const skew = Math.abs(rec.at - Date.parse(h.date));
      if (!(skew < 5 * 60 * 1000)) return { ...out, reason: `Date ${h.date} is off by ${skew} ms from the arrival` };
      let lines;
      try {
        lines = names.map((n) => {
          if (n === "(request-target)") return `(request-target): ${rec.method.toLowerCase()} ${rec.target}`;
          if (h[n] === undefined) throw new Error(`signed header ${n} absent`);
          return `${n}: ${h[n]}`;
        });
      } catch (e) {
        return { ...out, reason: e.message };
      }
      let key;
      try {
        key = await fetchKey(p.keyId);
      } catch (e) {
        return { ...out, reason: `key: ${e.message}` };
      }
      out.owner = key.owner;
      const good = cryptoVerify("sha256", Buffer.from(lines.join("\n")), key.pem, Buffer.from(p.signature, "base64"));
      if (!good) return { ...out, reason: "bad signature" };
      if (post && rec.json && typeof rec.json.actor === "string" && rec.json.actor !== key.owner) {
        return { ...out, reason: `key owner ${key.owner} is not the activity's actor ${rec.json.actor}` };
      }
      return { ...out, ok: true };
    })();
    return rec._verified;
  }

  return host;
}

// A fresh activity id on a host.
export const newId = (host, kind = "activities") => `${host.url}/${kind}/${randomUUID()}`;
