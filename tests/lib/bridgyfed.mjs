// A test double of Bridgy Fed's Bluesky-to-fediverse side (bsky.brid.gy), which cannot run
// here: plain node:http on 127.0.0.1, its host:port standing for the bridge's domain (the
// server's bridge_bsky_domain). It answers what Bridgy Fed answers, in its shapes:
//   - GET /.well-known/webfinger?resource=acct:<handle>@<domain>: for a bridged handle a JRD
//     (application/jrd+json) with the Bluesky profile as alias and profile page, the self link
//     <origin>/ap/<did> (application/activity+json), inbox and sharedInbox links and the
//     subscribe template; 404 for anyone not bridged (Bridgy Fed is opt-in);
//   - GET /ap/<did>: the bridged account's actor, a Person whose id carries the DID, with
//     alsoKnownAs naming the native account (at://<did>), url the bridge's redirect to the
//     profile, inbox, outbox, followers, following, the shared inbox and a public key.
//
//   const b = await startBridgyFed();
//   b.bridge("al.bsky.test", "did:plc:..."); b.unbridge("al.bsky.test");
//   b.domain ("127.0.0.1:PORT"), b.actorId(did), b.requests, await b.stop()
import http from "node:http";
import { newKeyPair } from "./keypool.mjs";
import { onExit } from "./harness.mjs";

const AS2 = "application/activity+json";

export async function startBridgyFed() {
  const bridged = new Map(); // lowercased handle -> did
  const requests = [];
  const { publicKeyPem } = newKeyPair();
  let origin, domain;

  const actorId = (did) => `${origin}/ap/${did}`;
  const profile = (handle) => `https://bsky.app/profile/${handle}`;
  const handleOf = (did) => [...bridged].find(([, d]) => d === did)?.[0];

  function send(res, status, type, body) {
    const buf = Buffer.from(typeof body === "string" ? body : JSON.stringify(body));
    res.writeHead(status, { "content-type": type, "content-length": buf.length });
    res.end(buf);
  }

  function webfinger(res, u) {
    const resource = u.searchParams.get("resource") ?? "";
    const m = /^acct:([^@]+)@(.+)$/.exec(resource.replace(/^@/, "acct:"));
    if (!m) return send(res, 400, "text/plain", "Expected resource of form acct:[handle]@[domain]");
    const handle = m[1].toLowerCase();
    const did = m[2] === domain ? bridged.get(handle) : undefined;
    if (!did) return send(res, 404, "text/plain", `No user found for ${resource}`);
    const id = actorId(did);
    return send(res, 200, "application/jrd+json", {
      subject: `acct:${handle}@${domain}`,
      aliases: [profile(handle), id],
      links: [
        { rel: "http://webfinger.net/rel/profile-page", type: "text/html", href: profile(handle) },
        { rel: "self", type: AS2, href: id },
        { rel: "inbox", type: AS2, href: `${id}/inbox` },
        { rel: "sharedInbox", type: AS2, href: `${origin}/ap/sharedInbox` },
        { rel: "http://ostatus.org/schema/1.0/subscribe", template: `${origin}/ap/${did}?url={uri}` },
      ],
    });
  }

  function actor(res, did) {
    const handle = handleOf(did);
    if (!handle) return send(res, 404, "text/plain", "Not found");
    const id = actorId(did);
    return send(res, 200, AS2, {
      "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
      type: "Person",
      id,
      url: `${origin}/r/${profile(handle)}`,
      preferredUsername: handle,
      name: handle,
      summary: "<p>[bridged from <a href=\"" + profile(handle) + "\">" + handle + "</a> on Bluesky by Bridgy Fed]</p>",
      alsoKnownAs: [`at://${did}`],
      inbox: `${id}/inbox`,
      outbox: `${id}/outbox`,
      followers: `${id}/followers`,
      following: `${id}/following`,
      endpoints: { sharedInbox: `${origin}/ap/sharedInbox` },
      manuallyApprovesFollowers: false,
      publicKey: { id: `${id}#key`, owner: id, publicKeyPem },
    });
  }

  const server = http.createServer((req, res) => {
    const u = new URL(req.url, origin);
    requests.push({ method: req.method, path: u.pathname, target: req.url, headers: req.headers });
    if (req.method === "GET" && u.pathname === "/.well-known/webfinger") return webfinger(res, u);
    const a = /^\/ap\/(did:(?:plc|web):[^/]+)$/.exec(u.pathname);
    if (req.method === "GET" && a) return actor(res, decodeURIComponent(a[1]));
    if (req.method === "POST") return send(res, 202, "text/plain", "");
    return send(res, 404, "text/plain", "Not found");
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  domain = `127.0.0.1:${server.address().port}`;
  origin = `http://${domain}`;
  const unexit = onExit(() => server.close());

  return {
    domain,
    url: origin,
    requests,
    actorId,
    bridge(handle, did) {
      bridged.set(handle.toLowerCase(), did);
    },
    unbridge(handle) {
      bridged.delete(handle.toLowerCase());
    },
    async stop() {
      unexit();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
