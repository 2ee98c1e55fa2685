// A tiny DNS responder on loopback UDP for the tests: TXT records for the names it is given,
// NXDOMAIN for the others (config atproto_dns_server = 127.0.0.1:PORT).
//
//   const dns = await startDns({ "_atproto.alice.test": ["did=did:plc:..."] });
//   dns.server ("127.0.0.1:PORT"), dns.set(name, [txt...] | null), dns.silent = true (drop
//   every query), dns.queries (names asked, in order), await dns.stop()
import dgram from "node:dgram";

function readName(buf, off) {
  const labels = [];
  while (off < buf.length && buf[off] !== 0) {
    const len = buf[off];
    labels.push(buf.subarray(off + 1, off + 1 + len).toString("latin1"));
    off += 1 + len;
  }
  return { name: labels.join("."), end: off + 1 };
}

export async function startDns(records = {}) {
  const table = new Map(Object.entries(records).map(([k, v]) => [k.toLowerCase(), v]));
  const sock = dgram.createSocket("udp4");
  const state = {
    silent: false,
    queries: [],
    set(name, txts) {
      if (txts == null) table.delete(name.toLowerCase());
      else table.set(name.toLowerCase(), txts);
    },
  };
  sock.on("message", (q, rinfo) => {
    if (q.length < 17) return;
    const { name, end } = readName(q, 12);
    state.queries.push(name);
    if (state.silent) return;
    const question = q.subarray(12, end + 4);
    const txts = table.get(name.toLowerCase());
    const answers = [];
    for (const t of txts ?? []) {
      // One character-string per 255 bytes, as a zone file would split a long record.
      const bytes = Buffer.from(t, "utf8");
      const parts = [];
      for (let i = 0; i < bytes.length || i === 0; i += 255) {
        const chunk = bytes.subarray(i, i + 255);
        parts.push(Buffer.from([chunk.length]), chunk);
      }
      const rdata = Buffer.concat(parts);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // owner: the question's name
      rr.writeUInt16BE(16, 2); // TXT
      rr.writeUInt16BE(1, 4); // IN
      rr.writeUInt32BE(60, 6);
      rr.writeUInt16BE(rdata.length, 10);
      answers.push(rr, rdata);
    }
    const head = Buffer.alloc(12);
    q.copy(head, 0, 0, 2); // id
    head.writeUInt16BE(0x8180 | (txts ? 0 : 3), 2); // QR, RD, RA; NXDOMAIN when unknown
    head.writeUInt16BE(1, 4);
    head.writeUInt16BE(txts ? txts.length : 0, 6);
    sock.send(Buffer.concat([head, question, ...answers]), rinfo.port, rinfo.address);
  });
  await new Promise((resolve) => sock.bind(0, "127.0.0.1", resolve));
  state.port = sock.address().port;
  state.server = `127.0.0.1:${state.port}`;
  state.stop = () => new Promise((resolve) => sock.close(resolve));
  return state;
}
