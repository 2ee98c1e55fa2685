// Connection-level load for the fault tests: many idle sockets, a process's memory, a body
// streamed without end, a request trickled byte by byte.
//
//   const socks = await openIdle(port, 10000);  // connected, nothing sent; closeAll(socks)
//   rssKb(pid)                                  // resident memory now, in KiB
//   const r = await streamChunked(port, "/inbox", { pid }); // {sent, closed, status, peakKb}
//   const t = await trickle(port, head, { every: 400 });    // {closed, elapsed, status}
import net from "node:net";
import { readFileSync } from "node:fs";

export function rssKb(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

// n sockets connected to 127.0.0.1:port that send nothing. Each records closedAt when the
// server closes it. Connects in batches so the listen backlog never overflows.
export async function openIdle(port, n, { batch = 500 } = {}) {
  const socks = [];
  for (let i = 0; i < n; i += batch) {
    const wave = [];
    for (let j = i; j < Math.min(n, i + batch); j++) {
      const so = net.connect(port, "127.0.0.1");
      so.closedAt = null;
      so.on("error", (e) => (so.error = e.code ?? e.message));
      so.on("close", () => (so.closedAt = Date.now()));
      socks.push(so);
      wave.push(new Promise((resolve) => {
        so.once("connect", resolve);
        so.once("close", resolve);
      }));
    }
    await Promise.all(wave);
  }
  return socks;
}

export function closeAll(socks) {
  for (const so of socks) so.destroy();
}

// Sends one request on a fresh socket and resolves with its status line's code (null when
// the server closed without answering).
export function rawRequest(so, text, { timeout = 5000 } = {}) {
  return new Promise((resolve) => {
    let data = "";
    const done = () => {
      clearTimeout(timer);
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve(m ? Number(m[1]) : null);
    };
    const timer = setTimeout(done, timeout);
    so.on("data", (d) => {
      data += d.toString("latin1");
      if (/\r\n\r\n/.test(data)) done();
    });
    so.once("close", done);
    so.write(text);
  });
}

// POSTs a chunked body of up to `limit` bytes (64 KiB chunks) as fast as the server reads,
// until the server closes the connection. Samples the server's RSS (pid) along the way.
export function streamChunked(port, path, { pid, limit = 1 << 30, timeout = 30000, contentType = "application/activity+json", headers = {} } = {}) {
  return new Promise((resolve) => {
    const so = net.connect(port, "127.0.0.1");
    const chunk = Buffer.alloc(65536, "x");
    const framed = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
    let sent = 0;
    let data = "";
    let done = false;
    let closed = false;
    let peakKb = pid ? rssKb(pid) : 0;
    const t0 = Date.now();
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      so.destroy();
      if (pid) peakKb = Math.max(peakKb, rssKb(pid));
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve({ sent, closed, status: m ? Number(m[1]) : null, peakKb, elapsed: Date.now() - t0 });
    };
    const timer = setTimeout(finish, timeout);
    so.on("data", (d) => (data += d.toString("latin1")));
    so.on("close", () => {
      closed = true;
      finish();
    });
    so.on("error", () => {
      closed = true;
      finish();
    });
    so.on("connect", () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      so.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: ${contentType}\r\n${extra}Transfer-Encoding: chunked\r\n\r\n`);
      const pump = () => {
        while (!done && sent < limit) {
          if (pid && (sent & 0xfffff) === 0) peakKb = Math.max(peakKb, rssKb(pid));
          sent += chunk.length;
          if (!so.write(framed)) {
            so.once("drain", pump);
            return;
          }
        }
        if (!done && sent >= limit) so.write("0\r\n\r\n");
      };
      pump();
    });
  });
}

// Sends prefix at once, then text one byte every `every` ms, until the server closes the
// connection or `timeout` ms have passed. Resolves {closed, elapsed (from the connect),
// sentBytes (of text), status}.
export function trickle(port, text, { prefix = "", every = 400, timeout = 20000 } = {}) {
  return new Promise((resolve) => {
    const so = net.connect(port, "127.0.0.1");
    let data = "";
    let i = 0;
    let done = false;
    const t0 = Date.now();
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearInterval(iv);
      clearTimeout(timer);
      so.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve({ closed, elapsed: Date.now() - t0, sentBytes: i, status: m ? Number(m[1]) : null });
    };
    const timer = setTimeout(() => finish(false), timeout);
    const iv = setInterval(() => {
      if (i < text.length && so.writable) so.write(text[i++]);
    }, every);
    so.on("connect", () => {
      if (prefix) so.write(prefix);
    });
    so.on("data", (d) => (data += d.toString("latin1")));
    so.on("close", () => finish(true));
    so.on("error", () => finish(true));
  });
}
