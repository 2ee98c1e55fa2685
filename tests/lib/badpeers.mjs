// Remote inboxes that misbehave below HTTP, for the delivery fault tests (plain node:net on
// 127.0.0.1, a random port each):
//   silentPeer()   accepts connections and never reads nor answers
//   tricklePeer()  reads the request, then answers "202 Accepted" one byte every `every` ms
//   closedPorts(n) n ports where nothing listens (connections refused)
// Each peer: {port, url, connections (accepted so far), requests (complete heads seen),
// stop()}.
import net from "node:net";
import { onExit } from "./harness.mjs";
import { freePort } from "./server.mjs";

function peer(onSocket) {
  const sockets = new Set();
  const p = { port: 0, url: "", connections: 0, requests: 0, stop: null };
  const server = net.createServer((so) => {
    p.connections++;
    sockets.add(so);
    so.on("close", () => sockets.delete(so));
    so.on("error", () => {});
    onSocket(so, p);
  });
  const unexit = onExit(() => server.close());
  p.stop = async () => {
    for (const so of sockets) so.destroy();
    await new Promise((r) => server.close(() => r()));
    unexit();
  };
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      p.port = server.address().port;
      p.url = `http://127.0.0.1:${p.port}`;
      resolve(p);
    });
  });
}

export function silentPeer() {
  return peer((so) => so.pause());
}

export function tricklePeer({ every = 200 } = {}) {
  const answer = "HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  return peer((so, p) => {
    let head = "";
    let started = false;
    so.on("data", (d) => {
      head += d.toString("latin1");
      if (started || !head.includes("\r\n\r\n")) return;
      started = true;
      p.requests++;
      let i = 0;
      const iv = setInterval(() => {
        if (i >= answer.length || so.destroyed) {
          clearInterval(iv);
          so.end();
          return;
        }
        so.write(answer[i++]);
      }, every);
      so.on("close", () => clearInterval(iv));
    });
  });
}

// Ports that were free a moment ago and that nobody listens on.
export async function closedPorts(n) {
  const out = new Set();
  while (out.size < n) out.add(await freePort());
  return [...out];
}
