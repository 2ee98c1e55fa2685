// A test double of Bridgy Fed (bsky.brid.gy and ap.brid.gy), which cannot run here: plain
// node:http on 127.0.0.1, its host:port standing for the bridge's domain (the server's
// bridge_bsky_domain). Its Bluesky-to-fediverse side answers what Bridgy Fed answers, in its
// shapes:
//   - GET /.well-known/webfinger?resource=acct:<handle>@<domain>: for a bridged handle a JRD
//     (application/jrd+json) with the Bluesky profile as alias and profile page, the self link
//     <origin>/ap/<did> (application/activity+json), inbox and sharedInbox links and the
//     subscribe template; 404 for anyone not bridged (Bridgy Fed is opt-in);
//   - GET /ap/<did>: the bridged account's actor, a Person whose id carries the DID, with
//     alsoKnownAs naming the native account (at://<did>), url the bridge's redirect to the
//     profile, inbox, outbox, followers, following, the shared inbox and a public key.
//
//
// Its fediverse-to-Bluesky side (startBridgyFed({ plcUrl, apDomain, dns })) bridges a fediverse
// account user@host as Bridgy Fed does (atproto.py create_for): a did:plc of its own, created
// by a signed genesis operation in the test's PLC directory (@did-plc/lib, from
// tests/atproto/node_modules), whose alsoKnownAs holds at://<handle> and the native actor id,
// whose #atproto_pds is this double (it answers com.atproto.repo.describeRepo for it), and
// whose handle is user.host.<apDomain> ('_' and '~' become '-', ids.translate_handle). The
// handle resolves like Bridgy Fed's: GET /.well-known/atproto-did with that Host (the server's
// atproto_handle_origin pointing here), and a _atproto TXT record in dns (tests/lib/dns.mjs)
// when one is given; any other Host gets 404.
//
//   const b = await startBridgyFed({ plcUrl: pds.plcUrl, apDomain: "ap.brid.test", dns });
//   b.bridge("al.bsky.test", "did:plc:..."); b.unbridge("al.bsky.test");
//   const { did, handle } = await b.bridgeFediverse("gina@social.example", actorId);
//     // { alsoKnownAs: [...] } instead of [at://handle, actorId]: a forged identity
//   b.unbridgeFediverse("gina@social.example"); b.apHandle("gina@social.example")
//   b.domain ("127.0.0.1:PORT"), b.actorId(did), b.requests, await b.stop()
import http from "node:http";
import { createRequire } from "node:module";
import { newKeyPair } from "./keypool.mjs";
import { onExit } from "./harness.mjs";

const AS2 = "application/activity+json";

// Bridgy Fed's ids.translate_handle for a fediverse account: user.host.<domain>.
export const apHandle = (acct, domain) => {
  const [user, host] = acct.replace(/^@/, "").split("@");
  return `${user.replace(/[_~]/g, "-")}.${host}.${domain}`.toLowerCase();
};

export async function startBridgyFed({ plcUrl = null, apDomain = "ap.brid.test", dns = null } = {}) {
  const bridged = new Map(); // lowercased handle -> did
  const fromFediverse = new Map(); // lowercased handle -> { did, handle, acct, doc }
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

  // The handle's DID, for the Host Bridgy Fed serves it on (its handles' own domain).
  function atprotoDid(req, res) {
    const host = String(req.headers.host ?? "").toLowerCase();
    const b = fromFediverse.get(host);
    if (!b) return send(res, 404, "text/plain", "Not found");
    return send(res, 200, "text/plain", b.did);
  }

  // Bridgy Fed's PDS, as much as a follow's subject needs: the repository exists.
  function describeRepo(res, u) {
    const repo = u.searchParams.get("repo") ?? "";
    const b = [...fromFediverse.values()].find((x) => x.did === repo || x.handle === repo.toLowerCase());
    if (!b) return send(res, 400, "application/json", { error: "RepoNotFound", message: `Could not find repo: ${repo}` });
    return send(res, 200, "application/json", { handle: b.handle, did: b.did, didDoc: b.doc, collections: [], handleIsCorrect: true });
  }

  let plcLib;
  async function createPlc(handle, alsoKnownAs) {
    if (!plcUrl) throw new Error("startBridgyFed: plcUrl is needed to bridge fediverse accounts");
    if (!plcLib) {
      const require = createRequire(new URL("../atproto/package.json", import.meta.url));
      plcLib = { plc: require("@did-plc/lib"), crypto: require("@atproto/crypto") };
    }
    const { plc, crypto } = plcLib;
    const key = await crypto.Secp256k1Keypair.create();
    const op = await plc.signOperation(
      {
        type: "plc_operation",
        verificationMethods: { atproto: key.did() },
        rotationKeys: [key.did()],
        alsoKnownAs,
        services: { atproto_pds: { type: "AtprotoPersonalDataServer", endpoint: origin } },
        prev: null,
      },
      key,
    );
    const did = await plc.didForCreateOp(op);
    await new plc.Client(plcUrl).sendOperation(did, op);
    const doc = await (await fetch(`${plcUrl}/${did}`)).json();
    return { did, doc };
  }

  const server = http.createServer((req, res) => {
    const u = new URL(req.url, origin);
    requests.push({ method: req.method, host: req.headers.host, path: u.pathname, target: req.url, headers: req.headers });
    if (req.method === "GET" && u.pathname === "/.well-known/atproto-did") return atprotoDid(req, res);
    if (req.method === "GET" && u.pathname === "/xrpc/com.atproto.repo.describeRepo") return describeRepo(res, u);
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
    apDomain,
    apHandle: (acct) => apHandle(acct, apDomain),
    // Bridges the fediverse account acct (actor its actor id): a did:plc in the PLC
    // directory, its handle resolving here (and in dns). Resolves { did, handle }.
    async bridgeFediverse(acct, actor, { alsoKnownAs = null } = {}) {
      const handle = apHandle(acct, apDomain);
      const { did, doc } = await createPlc(handle, alsoKnownAs ?? [`at://${handle}`, actor]);
      fromFediverse.set(handle, { did, handle, acct, doc });
      dns?.set(`_atproto.${handle}`, [`did=${did}`]);
      return { did, handle };
    },
    // The account opted out: its handle no longer resolves (its DID stays in the directory).
    unbridgeFediverse(acct) {
      const handle = apHandle(acct, apDomain);
      fromFediverse.delete(handle);
      dns?.set(`_atproto.${handle}`, null);
    },
    async stop() {
      unexit();
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
