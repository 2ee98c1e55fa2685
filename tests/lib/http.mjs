// HTTP helpers for tests: one request per fresh connection (no keep-alive pooling, so a
// test never reuses a socket another test broke), and raw sockets for malformed input.
import http from "node:http";
import https from "node:https";
import net from "node:net";
import tls from "node:tls";

// request(url, {method, headers, body, ca, lookup, timeout, close, localAddress}) -> {status, headers, body, json()}
// headers are lower-cased by node. body is a string (utf-8) or Buffer; the response body
// is returned as a string (and as bodyBuffer).
// Each request gets a new connection of its own. By default it is a keep-alive connection
// (as undici/Fedify and most fediverse clients send); close: true sends
// "Connection: close" instead (tested separately).
export function request(url, opts = {}) {
  const u = new URL(url);
  const mod = u.protocol === "https:" ? https : http;
  const timeout = opts.timeout ?? 10000;
  const agent = opts.close ? false : new mod.Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise((resolve, reject) => {
    const req = mod.request(
      u,
      {
        method: opts.method ?? "GET",
        headers: opts.headers ?? {},
        agent,
        ca: opts.ca,
        servername: opts.servername,
        lookup: opts.lookup,
        localAddress: opts.localAddress, // e.g. 127.0.0.2: a peer that is not the loopback proxy
        rejectUnauthorized: opts.rejectUnauthorized ?? true,
      },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          if (agent) agent.destroy();
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
    req.on("error", (e) => {
      if (agent) agent.destroy();
      reject(e);
    });
    if (opts.body !== undefined) req.end(opts.body);
    else req.end();
  });
}

export const get = (url, headers = {}, opts = {}) => request(url, { ...opts, headers });

// The media type of a Content-Type header, lower-cased, without parameters.
export function mediaType(ct) {
  return (ct ?? "").split(";")[0].trim().toLowerCase();
}

// How many complete HTTP/1.x responses are at the start of data (Content-Length or
// chunked bodies; HEAD answers have none when head is true).
export function completeResponses(data, { head = false } = {}) {
  let n = 0;
  let rest = data;
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0 || !/^HTTP\/1\.[01] \d{3}/.test(rest)) return n;
    const headText = rest.slice(0, end);
    let body = rest.slice(end + 4);
    const cl = /\r\ncontent-length:\s*(\d+)/i.exec(headText);
    const status = Number(headText.slice(9, 12));
    if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) {
      rest = body;
    } else if (cl) {
      if (Buffer.byteLength(body, "latin1") < Number(cl[1])) return n;
      rest = body.slice(Number(cl[1]));
    } else if (/\r\ntransfer-encoding:\s*chunked/i.test(headText)) {
      const term = body.indexOf("\r\n0\r\n\r\n");
      if (term < 0 && !body.startsWith("0\r\n\r\n")) return n;
      rest = body.startsWith("0\r\n\r\n") ? body.slice(5) : body.slice(term + 7);
    } else {
      return n; // body until close
    }
    n++;
  }
}

// Sends raw bytes on a new connection and collects everything the server sends until it
// closes the connection, `timeout` ms pass, or (with responses: N) N complete responses
// have arrived. `chunks` may be a list of {data, delay} to write with pauses.
// Returns {data, closed, error, elapsed, status, responses}.
export function rawExchange(port, chunks, { timeout = 5000, host = "127.0.0.1", tlsOpts = null, endWrite = false, responses = 0, head = false } = {}) {
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
      resolve({ data, closed, error, elapsed: Date.now() - start, status: m ? Number(m[1]) : null, responses: completeResponses(data, { head }) });
    };
    const timer = setTimeout(finish, timeout);
    sock.on("data", (d) => {
      out.push(d);
      if (responses > 0 && completeResponses(Buffer.concat(out).toString("latin1"), { head }) >= responses) finish();
    });
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
