// HTTP helpers for tests: one request per fresh connection (no keep-alive pooling, so a
// test never reuses a socket another test broke), and raw sockets for malformed input.
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";

// request(url, {method, headers, body, ca, timeout}) -> {status, headers, body, json()}
// headers are lower-cased by node. body is a string (utf-8) or Buffer; the response body
// is returned as a string (and as bodyBuffer).
export function request(url, opts = {}) {
  const u = new URL(url);
  const mod = u.protocol === "https:" ? https : http;
  const timeout = opts.timeout ?? 10000;
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      {
        method: opts.method ?? "GET",
        headers: opts.headers ?? {},
        agent: false,
        ca: opts.ca,
        servername: opts.servername,
        rejectUnauthorized: opts.rejectUnauthorized ?? true,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const buf = Buffer.concat(chunks);
          const text = buf.toString("utf8");
          resolve({
            status: res.statusCode,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: text,
            bodyBuffer: buf,
            json() {
              try {
                return JSON.parse(text);
              } catch (e) {
                throw new Error(`response of ${opts.method ?? "GET"} ${url} is not JSON (${e.message}): ${text.slice(0, 300)}`);
              }
            },
          });
        });
        res.on("error", reject);
      },
    );
    req.setTimeout(timeout, () => req.destroy(new Error(`${opts.method ?? "GET"} ${url} timed out after ${timeout} ms`)));
    req.on("error", reject);
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

export const get = (url, headers = {}, opts = {}) => request(url, { ...opts, headers });

// The media type of a Content-Type header, lower-cased, without parameters.
export function mediaType(ct) {
  return (ct ?? "").split(";")[0].trim().toLowerCase();
}

// Sends raw bytes on a new connection and collects everything the server sends until it
// closes the connection or `timeout` ms pass. `chunks` may be a list of
// {data, delay} to write with pauses. Returns {data, closed, error, elapsed, status}.
export function rawExchange(port, chunks, { timeout = 5000, host = "127.0.0.1", tlsOpts = null, endWrite = false } = {}) {
  const list = Array.isArray(chunks) ? chunks : [{ data: chunks }];
  return new Promise((resolve) => {
    const start = Date.now();
    const out = [];
    let done = false;
    let closed = false;
    let error = null;
    const sock = tlsOpts ? tls.connect({ port, host, ...tlsOpts }) : net.connect({ port, host });
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const data = Buffer.concat(out).toString("latin1");
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve({ data, closed, error, elapsed: Date.now() - start, status: m ? Number(m[1]) : null });
    };
    const timer = setTimeout(finish, timeout);
    sock.on("data", (d) => out.push(d));
    sock.on("end", () => {
      closed = true;
      finish();
    });
    sock.on("close", () => {
      closed = true;
      finish();
    });
    sock.on("error", (e) => {
      error = e.code ?? e.message;
      closed = true;
      finish();
    });
    sock.once(tlsOpts ? "secureConnect" : "connect", async () => {
      for (const c of list) {
        if (c.delay) await new Promise((r) => setTimeout(r, c.delay));
        if (done) return;
        try {
          sock.write(c.data);
        } catch (e) {
          error = e.message;
        }
      }
      if (endWrite) sock.end();
    });
  });
}
