// The inbox benchmark's comparison: a Fedify 2.3.6 shared inbox on 127.0.0.1 (the version
// tests/interop pins), verifying the same kind of signed Creates passerelle receives.
// Signature verification stays on (Fedify's default); keys are cached in its key-value
// store after the first fetch, as passerelle caches them in remote_actors. The listener
// does nothing: what is measured is Fedify receiving and verifying an activity.
//   node bench/fedify_inbox.mjs PORT      prints "ready" once listening
import http from "node:http";
import { createRequire } from "node:module";

const require = createRequire(new URL("../tests/interop/package.json", import.meta.url));
const { createFederation, MemoryKvStore } = require("@fedify/fedify");
const { Create, Service } = require("@fedify/fedify/vocab");

const PORT = Number(process.argv[2]);
const ORIGIN = `http://127.0.0.1:${PORT}`;
const federation = createFederation({
  kv: new MemoryKvStore(),
  origin: ORIGIN,
  allowPrivateAddress: true,
});
// Fedify routes inbox POSTs only when an actor dispatcher exists.
federation.setActorDispatcher("/users/{identifier}", (ctx, identifier) =>
  identifier === "relay"
    ? new Service({ id: ctx.getActorUri(identifier), preferredUsername: identifier, inbox: ctx.getInboxUri(identifier) })
    : null,
);
let received = 0;
federation.setInboxListeners("/users/{identifier}/inbox", "/inbox").on(Create, async () => {
  received++;
});

const server = http.createServer(async (req, res) => {
  if (req.url === "/_stats") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ received }));
    return;
  }
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (Array.isArray(v)) for (const x of v) headers.append(k, x);
    else if (v !== undefined) headers.set(k, v);
  }
  const body = req.method === "GET" || req.method === "HEAD" ? undefined : Buffer.concat(chunks);
  const response = await federation.fetch(new Request(new URL(req.url, ORIGIN), { method: req.method, headers, body }), {
    contextData: undefined,
  });
  const out = Buffer.from(await response.arrayBuffer());
  const h = Object.fromEntries(response.headers);
  h["content-length"] = String(out.length);
  res.writeHead(response.status, h);
  res.end(out);
});
server.keepAliveTimeout = 60000;
server.listen(PORT, "127.0.0.1", () => console.log("ready"));
