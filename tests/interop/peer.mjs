// A Fedify 2.3.6 peer on 127.0.0.1: one actor, an inbox that records what Fedify verified,
// and a small control API (/_peer/...) that the interop tests drive.
//
// Environment:
//   PEER_PORT        port to listen on (required: the origin is baked from it)
//   PEER_USER        the actor's identifier (default alice)
//   PEER_FIRST_KNOCK draft-cavage-http-signatures-12 (default) or rfc9421
//   PEER_HTTPS_SHIM  1 (default): rewrite https://127.0.0.1 to http:// in fetch, because
//                    Fedify always asks https:// for the WebFinger of an acct: handle
//   PEER_DEBUG       1: Fedify's own log on stderr (the reason for each 401)
//   PEER_MASTODON    1: also serve the Mastodon client API of tests/lib/mastodon-api.mjs
//                    for this actor (/api/..., /oauth/...), as a Mastodon server does on the
//                    same origin: search with resolve looks the URL up through Fedify, and
//                    a follow sends a real, signed ActivityPub Follow from this actor
//
// Control API (JSON in, JSON out):
//   GET  /_peer/health                 {ok, actor, firstKnock}
//   POST /_peer/lookup {target, signed} what Fedify parsed for an acct: handle or URL
//   POST /_peer/webfinger {resource}   the JRD as Fedify's lookupWebFinger returns it
//   POST /_peer/nodeinfo {url}         /.well-known/nodeinfo then the document, parsed by Fedify
//   GET  /_peer/events                 activities the inbox accepted (after verification)
//   GET  /_peer/requests               outgoing HTTP requests the peer made (for assertions)
//   GET  /_peer/incoming               requests the peer received (not /_peer/): method, path,
//                                      status Fedify answered (an inbox POST that failed
//                                      verification gets 401), scheme and keyId of its signature
//   POST /_peer/send {inbox, activity} signs and POSTs an activity as this peer's actor
//   POST /_peer/send {followers: true, activity}
//                                      sends it to our actor's followers, as Fedify does for
//                                      sendActivity(..., "followers", ...): the inboxes (shared
//                                      preferred) of the followers collection
//   GET  /_peer/followers              our actor's followers: each one whose Follow we accepted
//                                      (autoAccept), until its Undo
//   POST /_peer/config {autoAccept, aliases}
//                                      autoAccept: answer a verified Follow of our actor with
//                                      an Accept embedding it (as Pleroma answers a relay's
//                                      follow back); the Accept's outcome lands in events' accepted.
//                                      aliases: the actor ids our actor's alsoKnownAs names (as
//                                      Mastodon's "Moving from a different account" sets them)
//   GET  /_peer/mastodon               (PEER_MASTODON) the API's snapshot: apps, tokens, codes,
//                                      searches, follows (with the Follow sent for each)
//   POST /_peer/mastodon {...}         (PEER_MASTODON) its control: loggedIn, deny, limits,
//                                      failNext, revokeAll
import http from "node:http";
import { webcrypto as crypto } from "node:crypto";
import { createFederation, getDocumentLoader, MemoryKvStore, exportSpki, parseNodeInfo } from "@fedify/fedify";
import {
  Accept,
  Activity,
  Endpoints,
  Follow,
  Person,
  Undo,
  getActorTypeName,
  isActor,
} from "@fedify/fedify/vocab";
import { lookupWebFinger } from "@fedify/webfinger";

const PORT = Number(process.env.PEER_PORT);
if (!Number.isInteger(PORT) || PORT <= 0) {
  console.error("peer: PEER_PORT must be set to a port number");
  process.exit(2);
}
const USER = process.env.PEER_USER || "alice";
const FIRST_KNOCK = process.env.PEER_FIRST_KNOCK || "draft-cavage-http-signatures-12";
const ORIGIN = `http://127.0.0.1:${PORT}`;
const SHIM = (process.env.PEER_HTTPS_SHIM ?? "1") !== "0";

if (process.env.PEER_DEBUG === "1") {
  const { configure, getConsoleSink } = await import("@logtape/logtape");
  await configure({
    sinks: { console: getConsoleSink({ console: { ...console, log: console.error, info: console.error, debug: console.error } }) },
    loggers: [
      { category: "fedify", lowestLevel: "debug", sinks: ["console"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["console"] },
    ],
  });
}

// Every outgoing request goes through this wrapper: it records method, URL, whether it was
// signed and the answer, and (when SHIM) sends https://127.0.0.1 to http://127.0.0.1.
const outgoing = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async function peerFetch(input, init) {
  let req = input instanceof Request ? input : new Request(input, init);
  if (input instanceof Request && init !== undefined) req = new Request(input, init);
  const original = req.url;
  if (SHIM && original.startsWith("https://127.0.0.1")) {
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
    req = new Request("http://" + original.slice("https://".length), {
      method: req.method,
      headers: req.headers,
      body,
      redirect: req.redirect,
      signal: req.signal,
    });
  }
  const entry = {
    method: req.method,
    url: req.url,
    requestedUrl: original,
    accept: req.headers.get("accept"),
    signature: req.headers.has("signature-input")
      ? "rfc9421"
      : req.headers.has("signature")
        ? "draft-cavage"
        : null,
    status: null,
    contentType: null,
    error: null,
  };
  outgoing.push(entry);
  try {
    const res = await realFetch(req);
    entry.status = res.status;
    entry.contentType = res.headers.get("content-type");
    return res;
  } catch (e) {
    entry.error = String(e?.cause?.message ?? e?.message ?? e);
    throw e;
  }
};

async function makeKeys() {
  const rsa = await crypto.subtle.generateKey(
    { name: "RSASSA-PKCS1-v1_5", modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: "SHA-256" },
    true,
    ["sign", "verify"],
  );
  const ed = await crypto.subtle.generateKey("Ed25519", true, ["sign", "verify"]);
  return [rsa, ed];
}
const keyPairs = await makeKeys();

const federation = createFederation({
  kv: new MemoryKvStore(),
  origin: ORIGIN,
  allowPrivateAddress: true,
  firstKnock: FIRST_KNOCK,
});

federation
  .setActorDispatcher("/users/{identifier}", async (ctx, identifier) => {
    if (identifier !== USER) return null;
    const keys = await ctx.getActorKeyPairs(identifier);
    return new Person({
      id: ctx.getActorUri(identifier),
      preferredUsername: identifier,
      name: `Fedify peer ${identifier}`,
      inbox: ctx.getInboxUri(identifier),
      endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
      url: ctx.getActorUri(identifier),
      publicKey: keys[0].cryptographicKey,
      assertionMethods: keys.map((k) => k.multikey),
      aliases: settings.aliases.map((u) => new URL(u)),
      followers: ctx.getFollowersUri(identifier),
    });
  })
  .setKeyPairsDispatcher(async (_ctx, identifier) => (identifier === USER ? keyPairs : []));

// Our actor's followers, as a server keeps them: added when we accept a Follow, gone on its
// Undo. Fedify's sendActivity(..., "followers", ...) reads them through this dispatcher.
const followers = new Map(); // follower id -> {id, inboxId, sharedInbox, follow}
federation.setFollowersDispatcher("/users/{identifier}/followers", async (_ctx, identifier) => {
  if (identifier !== USER) return null;
  return {
    items: [...followers.values()].map((f) => ({
      id: new URL(f.id),
      inboxId: new URL(f.inboxId),
      endpoints: f.sharedInbox ? { sharedInbox: new URL(f.sharedInbox) } : null,
    })),
  };
});

const events = [];
const settings = { autoAccept: false, aliases: [] };

// The Mastodon client API on this origin (PEER_MASTODON=1).
const sentFollows = []; // {target, id, ok, error}
let mastodon = null;
if (process.env.PEER_MASTODON === "1") {
  const { createMastodonApi } = await import("../lib/mastodon-api.mjs");
  mastodon = createMastodonApi({
    origin: ORIGIN,
    localUser: (name) => (name === USER ? { id: `${ORIGIN}/users/${USER}`, username: USER, url: `${ORIGIN}/users/${USER}` } : null),
    // As Mastodon's ResolveURLService: fetch the URL (signed, like authorized fetch) and keep
    // it if it is an actor.
    async resolve(url) {
      const ctx = requestContext();
      const documentLoader = await ctx.getDocumentLoader({ identifier: USER });
      const obj = await ctx.lookupObject(url, { documentLoader });
      if (obj == null || !isActor(obj)) return null;
      return {
        id: obj.id?.href,
        type: getActorTypeName(obj),
        preferredUsername: obj.preferredUsername?.toString() ?? null,
        name: obj.name?.toString() ?? null,
        url: obj.url?.href ?? obj.id?.href,
        manuallyApprovesFollowers: obj.manuallyApprovesFollowers ?? false,
      };
    },
    // As Mastodon's FollowService for a remote account: a signed Follow to its inbox.
    async follow(_user, account) {
      const ctx = requestContext();
      const documentLoader = await ctx.getDocumentLoader({ identifier: USER });
      const target = await ctx.lookupObject(account.id, { documentLoader });
      if (target == null || !isActor(target)) throw new Error(`cannot look up ${account.id}`);
      const follow = new Follow({ id: new URL(`${ORIGIN}/follows/${crypto.randomUUID()}`), actor: ctx.getActorUri(USER), object: target.id });
      const rec = { target: account.id, id: follow.id.href, ok: false, error: null };
      sentFollows.push(rec);
      try {
        await ctx.sendActivity({ identifier: USER }, target, follow, { immediate: true });
        rec.ok = true;
      } catch (e) {
        rec.error = String(e?.message ?? e);
        throw e;
      }
    },
    // As Mastodon's UnfollowService for a remote account: an Undo of that Follow, signed, to its inbox.
    async unfollow(_user, account) {
      const rec = sentFollows.findLast((f) => f.target === account.id && f.ok);
      if (rec == null) return;
      const ctx = requestContext();
      const documentLoader = await ctx.getDocumentLoader({ identifier: USER });
      const target = await ctx.lookupObject(account.id, { documentLoader });
      if (target == null || !isActor(target)) throw new Error(`cannot look up ${account.id}`);
      const follow = new Follow({ id: new URL(rec.id), actor: ctx.getActorUri(USER), object: target.id });
      const undo = new Undo({ id: new URL(`${ORIGIN}/undos/${crypto.randomUUID()}`), actor: ctx.getActorUri(USER), object: follow });
      await ctx.sendActivity({ identifier: USER }, target, undo, { immediate: true });
    },
  });
}

// Answers a Follow of our actor with an Accept, after the inbox has answered the Follow.
function acceptLater(ctx, follow, ev) {
  setTimeout(async () => {
    try {
      const follower = await follow.getActor({ documentLoader: ctx.documentLoader, contextLoader: ctx.contextLoader });
      if (follower == null) throw new Error("the follower could not be fetched");
      const accept = new Accept({
        id: new URL(`${ORIGIN}/accepts/${crypto.randomUUID()}`),
        actor: ctx.getActorUri(USER),
        object: follow,
      });
      await ctx.sendActivity({ identifier: USER }, follower, accept, { immediate: true });
      followers.set(follower.id.href, {
        id: follower.id.href,
        inboxId: follower.inboxId.href,
        sharedInbox: follower.endpoints?.sharedInbox?.href ?? null,
        follow: follow.id?.href ?? null,
      });
      ev.accepted = { ok: true, id: accept.id.href };
    } catch (e) {
      ev.accepted = { ok: false, error: String(e?.message ?? e) };
      console.error("peer: auto-accept failed:", e);
    }
  }, 0);
}

federation
  .setInboxListeners("/users/{identifier}/inbox", "/inbox")
  .on(Activity, async (ctx, activity) => {
    let raw = null;
    try {
      raw = await activity.toJsonLd({ format: "compact" });
    } catch {
      raw = null;
    }
    const ev = {
      type: raw?.type ?? activity.constructor.name,
      id: activity.id?.href ?? null,
      actor: activity.actorId?.href ?? null,
      object: activity.objectId?.href ?? null,
      recipient: ctx.recipient ?? null,
      sig: ctx.data?.sig ?? null,
      receivedAt: new Date().toISOString(),
      raw,
    };
    events.push(ev);
    // An Undo of a Follow of ours ends that follower.
    if (activity instanceof Undo && raw?.object?.type === "Follow") {
      const f = followers.get(activity.actorId?.href);
      const undone = activity.objectId?.href ?? null;
      if (f && (undone === null || f.follow === null || f.follow === undone)) followers.delete(activity.actorId.href);
    }
    if (settings.autoAccept && activity instanceof Follow && activity.objectId?.href === ctx.getActorUri(USER).href) {
      ev.accepted = { pending: true };
      acceptLater(ctx, activity, ev);
    }
  })
  .onError((_ctx, error) => {
    console.error("peer: inbox error:", error);
  });

function json(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

async function readBody(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

function requestContext() {
  return federation.createContext(new URL(ORIGIN), { sig: null });
}

// What Fedify parsed, in plain JSON, for one actor object.
async function describeActor(obj, documentLoader) {
  const out = {
    class: obj?.constructor?.name ?? null,
    isActor: obj != null && isActor(obj),
    id: obj?.id?.href ?? null,
    type: obj != null && isActor(obj) ? getActorTypeName(obj) : null,
    preferredUsername: obj?.preferredUsername?.toString() ?? null,
    name: obj?.name?.toString() ?? null,
    inbox: obj?.inboxId?.href ?? null,
    sharedInbox: null,
    followers: obj?.followersId?.href ?? null,
    following: obj?.followingId?.href ?? null,
    outbox: obj?.outboxId?.href ?? null,
    // as:movedTo and as:alsoKnownAs, which Fedify names successor and aliases.
    movedTo: obj?.successorId?.href ?? null,
    alsoKnownAs: obj?.aliasIds?.map((u) => u.href) ?? [],
    publicKey: null,
  };
  if (obj == null || !isActor(obj)) return out;
  const endpoints = obj.endpoints;
  out.sharedInbox = endpoints?.sharedInbox?.href ?? null;
  const key = await obj.getPublicKey({ documentLoader });
  if (key != null) {
    out.publicKey = {
      id: key.id?.href ?? null,
      owner: key.ownerId?.href ?? null,
      algorithm: key.publicKey?.algorithm?.name ?? null,
      modulusLength: key.publicKey?.algorithm?.modulusLength ?? null,
      hash: key.publicKey?.algorithm?.hash?.name ?? null,
      type: key.publicKey?.type ?? null,
      spkiPem: key.publicKey != null ? await exportSpki(key.publicKey) : null,
    };
  }
  return out;
}

async function handleControl(req, res, url) {
  const path = url.pathname;
  if (req.method === "GET" && path === "/_peer/health") {
    return json(res, 200, { ok: true, actor: `${ORIGIN}/users/${USER}`, firstKnock: FIRST_KNOCK });
  }
  if (req.method === "GET" && path === "/_peer/events") return json(res, 200, events);
  if (req.method === "GET" && path === "/_peer/followers") return json(res, 200, [...followers.values()]);
  if (req.method === "GET" && path === "/_peer/requests") return json(res, 200, outgoing);
  if (req.method === "GET" && path === "/_peer/incoming") return json(res, 200, incoming);
  if (req.method === "GET" && path === "/_peer/mastodon") {
    if (!mastodon) return json(res, 404, { error: "start the peer with PEER_MASTODON=1" });
    return json(res, 200, { ...mastodon.snapshot(), sentFollows });
  }
  if (req.method !== "POST") return json(res, 404, { error: "no such control endpoint" });
  let input;
  try {
    input = JSON.parse((await readBody(req)).toString("utf8") || "{}");
  } catch (e) {
    return json(res, 400, { error: "bad JSON: " + e.message });
  }
  const ctx = requestContext();
  if (path === "/_peer/lookup") {
    const since = outgoing.length;
    try {
      // Fresh loaders without Fedify's KV cache, so that every lookup really fetches.
      const documentLoader = input.signed
        ? await ctx.getDocumentLoader({ identifier: USER })
        : getDocumentLoader({ allowPrivateAddress: true });
      const obj = await ctx.lookupObject(input.target, { documentLoader });
      const actor = obj == null ? null : await describeActor(obj, documentLoader);
      return json(res, 200, { found: obj != null, actor, requests: outgoing.slice(since) });
    } catch (e) {
      return json(res, 200, { found: false, error: String(e?.message ?? e), requests: outgoing.slice(since) });
    }
  }
  if (path === "/_peer/webfinger") {
    const since = outgoing.length;
    try {
      const jrd = await lookupWebFinger(input.resource, { allowPrivateAddress: true });
      return json(res, 200, { jrd: jrd ?? null, requests: outgoing.slice(since) });
    } catch (e) {
      return json(res, 200, { jrd: null, error: String(e?.message ?? e), requests: outgoing.slice(since) });
    }
  }
  if (path === "/_peer/nodeinfo") {
    // Fedify's getNodeInfo() refuses loopback addresses, so fetch here and parse with Fedify.
    const since = outgoing.length;
    try {
      const wk = await fetch(new URL("/.well-known/nodeinfo", input.url), { headers: { accept: "application/json" } });
      const wkJson = await wk.json();
      const link = (wkJson.links ?? []).find(
        (l) => l?.rel === "http://nodeinfo.diaspora.software/ns/schema/2.0" || l?.rel === "http://nodeinfo.diaspora.software/ns/schema/2.1",
      );
      if (link == null) return json(res, 200, { parsed: null, wellKnown: wkJson, error: "no NodeInfo link" });
      const doc = await fetch(link.href, { headers: { accept: "application/json" } });
      const data = await doc.json();
      const parsed = parseNodeInfo(data);
      const plain = parsed == null ? null : {
        software: {
          name: parsed.software.name,
          version: parsed.software.version?.toString?.() ?? String(parsed.software.version),
          homepage: parsed.software.homepage?.href ?? null,
        },
        protocols: parsed.protocols,
        openRegistrations: parsed.openRegistrations,
        usage: parsed.usage,
        metadata: parsed.metadata ?? null,
      };
      return json(res, 200, { parsed: plain, href: link.href, raw: data, requests: outgoing.slice(since) });
    } catch (e) {
      return json(res, 200, { parsed: null, error: String(e?.message ?? e), requests: outgoing.slice(since) });
    }
  }
  if (path === "/_peer/mastodon") {
    if (!mastodon) return json(res, 404, { error: "start the peer with PEER_MASTODON=1" });
    return json(res, 200, mastodon.control(input));
  }
  if (path === "/_peer/config") {
    if (typeof input.autoAccept === "boolean") settings.autoAccept = input.autoAccept;
    if (Array.isArray(input.aliases)) settings.aliases = input.aliases.map(String);
    return json(res, 200, { ...settings });
  }
  if (path === "/_peer/send") {
    const since = outgoing.length;
    try {
      const body = { "@context": "https://www.w3.org/ns/activitystreams", ...input.activity };
      body.id ??= `${ORIGIN}/activities/${crypto.randomUUID()}`;
      body.actor ??= `${ORIGIN}/users/${USER}`;
      const activity = await Activity.fromJsonLd(body, { documentLoader: ctx.documentLoader, contextLoader: ctx.contextLoader });
      if (input.followers === true) {
        await ctx.sendActivity({ identifier: USER }, "followers", activity, { immediate: true, preferSharedInbox: true });
        return json(res, 200, { ok: true, id: body.id, requests: outgoing.slice(since) });
      }
      const inbox = new URL(input.inbox);
      await ctx.sendActivity({ identifier: USER }, { id: input.recipient ? new URL(input.recipient) : inbox, inboxId: inbox }, activity, { immediate: true });
      return json(res, 200, { ok: true, id: body.id, requests: outgoing.slice(since) });
    } catch (e) {
      return json(res, 200, { ok: false, error: String(e?.message ?? e), requests: outgoing.slice(since) });
    }
  }
  return json(res, 404, { error: "no such control endpoint" });
}

// Requests received outside the control API, with Fedify's answer.
const incoming = [];
function signatureKeyId(headers) {
  const input = headers.get("signature-input");
  if (input) return /keyid="([^"]*)"/.exec(input)?.[1] ?? null;
  const sig = headers.get("signature");
  return sig ? (/keyId="([^"]*)"/.exec(sig)?.[1] ?? null) : null;
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, ORIGIN);
  try {
    if (url.pathname.startsWith("/_peer/")) return await handleControl(req, res, url);
    const body = req.method === "GET" || req.method === "HEAD" ? undefined : await readBody(req);
    if (mastodon && (await mastodon.handle(req, res, url, body))) {
      incoming.push({ method: req.method, path: url.pathname, status: res.statusCode, sig: null, keyId: null, at: new Date().toISOString() });
      return;
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (Array.isArray(v)) for (const x of v) headers.append(k, x);
      else if (v !== undefined) headers.set(k, v);
    }
    const request = new Request(url, { method: req.method, headers, body });
    const sig = headers.has("signature-input") ? "rfc9421" : headers.has("signature") ? "draft-cavage" : null;
    const response = await federation.fetch(request, {
      contextData: { sig },
      onNotFound: () => new Response("Not found", { status: 404 }),
      onNotAcceptable: () => new Response("Not acceptable", { status: 406 }),
    });
    incoming.push({
      method: req.method,
      path: url.pathname,
      status: response.status,
      sig,
      keyId: signatureKeyId(headers),
      at: new Date().toISOString(),
    });
    const out = {};
    response.headers.forEach((v, k) => (out[k] = v));
    res.writeHead(response.status, out);
    res.end(Buffer.from(await response.arrayBuffer()));
    if (process.env.PEER_DEBUG === "1") console.error(`peer: ${req.method} ${req.url} ${response.status} sig=${sig}`);
  } catch (e) {
    console.error("peer: request failed:", e);
    if (!res.headersSent) json(res, 500, { error: String(e?.message ?? e) });
    else res.destroy();
  }
});

server.listen(PORT, "127.0.0.1", () => {
  console.error(`peer: listening ${ORIGIN} user=${USER} firstKnock=${FIRST_KNOCK}`);
});
for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 500).unref();
  });
}
