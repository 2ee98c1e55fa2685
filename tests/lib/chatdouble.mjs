// A test double of Bluesky's chat service (api.bsky.chat, whose code is not public), reached
// the way the real one is: through the sender's PDS, which proxies chat.bsky.* calls carrying
// "atproto-proxy: <service DID>#bsky_chat" to the #bsky_chat endpoint of that DID's document,
// with a service-auth JWT of the sender (iss, aud = the service DID, lxm = the method).
//
// The double is did:web:localhost%3A<port>: it serves its DID document at
// /.well-known/did.json (the PDS fetches did:web documents over http for localhost), and
// chat.bsky.convo.getConvoForMembers and chat.bsky.convo.sendMessage in the lexicon's shapes
// (convoView, messageView) and errors ({"error":"InvalidRequest","message":...}). It listens on
// "::" so that localhost reaches it over IPv4 and IPv6 alike. The JWT is decoded, not verified.
//
//   const chat = await startChatDouble();
//   chat.did, chat.proxy ("<did>#bsky_chat"), chat.refuse(did) (that member takes no messages
//   from strangers), chat.messages ([{from, convoId, members, text}]), chat.requests, stop()
import http from "node:http";
import { randomUUID } from "node:crypto";
import { onExit } from "./harness.mjs";

export async function startChatDouble() {
  const convos = new Map(); // sorted member DIDs joined -> convo
  const refused = new Set();
  const messages = [];
  const requests = [];
  let did;

  function send(res, status, body) {
    const buf = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { "content-type": "application/json", "content-length": buf.length });
    res.end(buf);
  }
  const error = (res, status, name, message) => send(res, status, { error: name, message });

  // The caller, from the PDS's service-auth JWT: its iss, when aud and lxm are ours.
  function caller(req, lxm) {
    const m = /^Bearer ([^.]+)\.([^.]+)\.([^.]+)$/.exec(req.headers.authorization ?? "");
    if (!m) return null;
    try {
      const p = JSON.parse(Buffer.from(m[2], "base64url").toString());
      return p.aud === did && (p.lxm === undefined || p.lxm === lxm) ? p.iss : null;
    } catch {
      return null;
    }
  }

  async function body(req) {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    try {
      return JSON.parse(Buffer.concat(chunks).toString() || "{}");
    } catch {
      return null;
    }
  }

  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url, "http://localhost");
    const rec = { method: req.method, path: u.pathname, query: Object.fromEntries(u.searchParams), headers: req.headers };
    requests.push(rec);
    if (u.pathname === "/.well-known/did.json") {
      const port = server.address().port;
      return send(res, 200, {
        "@context": ["https://www.w3.org/ns/did/v1"],
        id: did,
        service: [{ id: "#bsky_chat", type: "BskyChatService", serviceEndpoint: `http://localhost:${port}` }],
      });
    }
    if (u.pathname === "/xrpc/chat.bsky.convo.getConvoForMembers" && req.method === "GET") {
      const from = caller(req, "chat.bsky.convo.getConvoForMembers");
      rec.from = from;
      if (!from) return error(res, 401, "AuthMissing", "Authentication Required");
      const members = [...new Set([from, ...u.searchParams.getAll("members")])].sort();
      if (members.length < 2 || members.length > 10) return error(res, 400, "InvalidRequest", "Invalid members");
      const other = members.find((m) => refused.has(m));
      if (other) return error(res, 400, "InvalidRequest", "recipient has disabled incoming messages");
      const key = members.join(" ");
      if (!convos.has(key)) convos.set(key, { id: randomUUID().replaceAll("-", "").slice(0, 13), rev: "1", members });
      const c = convos.get(key);
      return send(res, 200, { convo: { id: c.id, rev: c.rev, members: c.members.map((d) => ({ did: d, handle: "handle.invalid" })), muted: false, unreadCount: 0, status: "accepted" } });
    }
    if (u.pathname === "/xrpc/chat.bsky.convo.sendMessage" && req.method === "POST") {
      const from = caller(req, "chat.bsky.convo.sendMessage");
      rec.from = from;
      if (!from) return error(res, 401, "AuthMissing", "Authentication Required");
      const b = await body(req);
      const c = [...convos.values()].find((x) => x.id === b?.convoId);
      if (!c || !c.members.includes(from)) return error(res, 400, "InvalidRequest", "Convo not found");
      const text = b?.message?.text;
      if (typeof text !== "string" || text.length === 0 || [...text].length > 1000) return error(res, 400, "InvalidRequest", "Invalid message text");
      messages.push({ from, convoId: c.id, members: c.members, text });
      return send(res, 200, { id: randomUUID(), rev: String(messages.length + 1), text, sender: { did: from }, sentAt: new Date().toISOString() });
    }
    return error(res, 404, "MethodNotImplemented", "Method Not Implemented");
  });
  await new Promise((resolve) => server.listen(0, "::", resolve));
  did = `did:web:localhost%3A${server.address().port}`;
  const unexit = onExit(() => server.close());
  return {
    did,
    proxy: `${did}#bsky_chat`,
    messages,
    requests,
    refuse: (d) => refused.add(d),
    async stop() {
      unexit();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
