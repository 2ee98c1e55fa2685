// X (Twitter) archives for tests: the data/*.js files in X's format and a small zip writer
// (deflate or stored, ZIP64 on demand, and sparse multi-gigabyte entries written to disk
// without writing their bytes).
//
//   const a = xArchive({ username: "alice", followers: 5, following: 3, followerParts: 2 });
//   xArchive({ username: "bob", accountId: "12", followerIds: ["11"], followingIds: ["11", "13"] })
//   a.entries            [{name: "data/account.js", data: Buffer}, ...]
//   a.followers, a.following   the account ids in the lists (strings, above 2^53)
//   xArchive({ blockIds: ["5"], muteIds: [] })  also data/block.js and data/mute.js (and their
//                        manifest entries); without them the archive has neither file
//   zipBuffer(a.entries, { zip64: true })       -> Buffer
//   writeZip(path, [...a.entries, { name: "data/tweets_media/1.mp4", size: 5e9 }])
//   looseFiles(a.entries)  -> [{name, mimeType, buffer}] for Playwright's setInputFiles
import { closeSync, ftruncateSync, openSync, writeSync } from "node:fs";
import zlib from "node:zlib";

// "window.YTD.<name>.part<n> = [...]", the way X writes every data file.
export function ytd(name, part, list) {
  return `window.YTD.${name}.part${part} = ${JSON.stringify(list, null, 2)}`;
}

// X names the first part follower.js (part0), then follower-part1.js (part1), ...
function partName(kind, i) {
  return i === 0 ? `data/${kind}.js` : `data/${kind}-part${i}.js`;
}

// Splits list into n nearly equal slices.
function split(list, n) {
  const out = [];
  const size = Math.ceil(list.length / n);
  for (let i = 0; i < n; i++) out.push(list.slice(i * size, (i + 1) * size));
  return out;
}

// Snowflake-like ids above 2^53, so a reader that goes through a double loses digits.
export function xIds(n, base = 1600000000000000000n) {
  return Array.from({ length: n }, (_, i) => String(base + BigInt(i) * 7919n));
}

export function xArchive({
  username = "alice",
  accountId = "1580000000000000001",
  displayName = "Alice",
  email = "alice@example.org",
  followers = 3,
  following = 2,
  followerParts = 1,
  followingParts = 1,
  userLink = true,
  manifest = true,
  manifestCounts = {}, // {follower: N}: announce another count than the lists hold
  manifestOwner = accountId,
  followerIds, // explicit lists (strings) instead of generated ones
  followingIds,
  blockIds, // accounts blocked / muted on X (strings); undefined: no block.js / mute.js
  muteIds,
} = {}) {
  const ids = {
    follower: followerIds ?? xIds(followers, 1600000000000000000n),
    following: followingIds ?? xIds(following, 1700000000000000000n),
  };
  const parts = { follower: followerParts, following: followingParts };
  const entries = [];
  const account = [
    {
      account: {
        email,
        createdVia: "web",
        username,
        accountId,
        createdAt: "2009-06-30T07:52:16.000Z",
        accountDisplayName: displayName,
      },
    },
  ];
  entries.push({ name: "data/account.js", data: Buffer.from(ytd("account", 0, account)) });
  const dataTypes = {
    account: { files: [{ fileName: "data/account.js", globalName: "YTD.account.part0", count: "1" }] },
  };
  for (const kind of ["follower", "following"]) {
    const files = [];
    split(ids[kind], parts[kind]).forEach((slice, i) => {
      const list = slice.map((id) => ({
        [kind]: userLink ? { accountId: id, userLink: `https://twitter.com/intent/user?user_id=${id}` } : { accountId: id },
      }));
      const name = partName(kind, i);
      entries.push({ name, data: Buffer.from(ytd(kind, i, list)) });
      files.push({ fileName: name, globalName: `YTD.${kind}.part${i}`, count: String(slice.length) });
    });
    if (manifestCounts[kind] !== undefined) files[0].count = String(Number(files[0].count) + manifestCounts[kind] - ids[kind].length);
    dataTypes[kind] = { files };
  }
  for (const [kind, key, list] of [["block", "blocking", blockIds], ["mute", "muting", muteIds]]) {
    if (list === undefined) continue;
    const items = list.map((id) => ({
      [key]: userLink ? { accountId: id, userLink: `https://twitter.com/intent/user?user_id=${id}` } : { accountId: id },
    }));
    entries.push({ name: `data/${kind}.js`, data: Buffer.from(ytd(kind, 0, items)) });
    dataTypes[kind] = { files: [{ fileName: `data/${kind}.js`, globalName: `YTD.${kind}.part0`, count: String(list.length) }] };
  }
  entries.push({ name: "data/tweets.js", data: Buffer.from(ytd("tweets", 0, [{ tweet: { id_str: "1", full_text: "hello" } }])) });
  dataTypes.tweets = { files: [{ fileName: "data/tweets.js", globalName: "YTD.tweets.part0", count: "1" }] };
  if (manifest) {
    const m = {
      userInfo: { accountId: manifestOwner, userName: username, displayName },
      archiveInfo: { sizeBytes: "1234", generationDate: "2024-11-16T00:00:00.000Z", isPartialArchive: false },
      dataTypes,
    };
    entries.unshift({ name: "data/manifest.js", data: Buffer.from(`window.__THAR_CONFIG = ${JSON.stringify(m, null, 2)}`) });
  }
  return { entries, followers: ids.follower, following: ids.following, username, accountId };
}

// Entries as loose files for setInputFiles (base names, as a person picks them).
export function looseFiles(entries) {
  return entries.map((e) => ({ name: e.name.replace(/^.*\//, ""), mimeType: "text/javascript", buffer: e.data }));
}

// ---- zip writing -------------------------------------------------------------------------

const POLY = 0xedb88320;

// zlib's multmodp: a * b modulo the CRC-32 polynomial (reflected bit order).
function multmodp(a, b) {
  let m = 0x80000000;
  let p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

// CRC-32 of n zero bytes without reading them: the register is multiplied by x^(8n).
export function crc32Zeros(n) {
  let p = 0x80000000; // x^0
  let x2n = 1 << 30; // x^1, then squared: x^(2^k)
  for (let bits = BigInt(n) * 8n; bits > 0n; bits >>= 1n) {
    if (bits & 1n) p = multmodp(x2n, p);
    x2n = multmodp(x2n, x2n);
  }
  return (multmodp(p, 0xffffffff) ^ 0xffffffff) >>> 0;
}

const MAX32 = 0xffffffff;

function u16(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

// The zip as a list of chunks: Buffers, and {skip: n} for the bytes of a sparse entry.
// entry: {name, data: Buffer|string, method: 0|8}, {name, size} (stored zeros, sparse), or
// {name, deflated, usize, crc} (raw deflate data and what the headers are to say of it).
function zipChunks(entries, { zip64 = false, method = 8, comment = "" } = {}) {
  const chunks = [];
  const central = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    let usize, csize, crc, body, m;
    if (e.size !== undefined) {
      [usize, csize, crc, m] = [e.size, e.size, crc32Zeros(e.size), 0];
    } else if (e.deflated !== undefined) {
      // Already deflated (a zip bomb): its sizes and CRC as given, true or not.
      [body, usize, csize, crc, m] = [e.deflated, e.usize, e.deflated.length, e.crc, 8];
    } else {
      const data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data);
      m = e.method ?? method;
      body = m === 8 ? zlib.deflateRawSync(data) : data;
      [usize, csize, crc] = [data.length, body.length, zlib.crc32(data)];
    }
    const big = zip64 || usize >= MAX32 || csize >= MAX32 || offset >= MAX32;
    const fields = (sizes) => [u16(big ? 45 : 20), u16(0x0800), u16(m), u16(0), u16(0x21), u32(crc), ...sizes];
    // Local header: with ZIP64, both sizes move to the extra field.
    const localExtra = big ? Buffer.concat([u16(1), u16(16), u64(usize), u64(csize)]) : Buffer.alloc(0);
    const local = Buffer.concat([
      u32(0x04034b50),
      ...fields(big ? [u32(MAX32), u32(MAX32)] : [u32(csize), u32(usize)]),
      u16(name.length),
      u16(localExtra.length),
      name,
      localExtra,
    ]);
    chunks.push(local, body ?? { skip: csize });
    const dirExtra = big ? Buffer.concat([u16(1), u16(24), u64(usize), u64(csize), u64(offset)]) : Buffer.alloc(0);
    central.push(
      Buffer.concat([
        u32(0x02014b50),
        u16(big ? 45 : 20),
        ...fields(big ? [u32(MAX32), u32(MAX32)] : [u32(csize), u32(usize)]),
        u16(name.length),
        u16(dirExtra.length),
        u16(0),
        u16(0),
        u16(0),
        u32(0),
        u32(big ? MAX32 : offset),
        name,
        dirExtra,
      ]),
    );
    offset += local.length + csize;
  }
  const dir = Buffer.concat(central);
  const big = zip64 || offset >= MAX32 || entries.length >= 0xffff;
  chunks.push(dir);
  if (big) {
    const rec = Buffer.concat([
      u32(0x06064b50),
      u64(44),
      u16(45),
      u16(45),
      u32(0),
      u32(0),
      u64(entries.length),
      u64(entries.length),
      u64(dir.length),
      u64(offset),
    ]);
    chunks.push(rec, Buffer.concat([u32(0x07064b50), u32(0), u64(offset + dir.length), u32(1)]));
  }
  const note = Buffer.from(comment);
  chunks.push(
    Buffer.concat([
      u32(0x06054b50),
      u16(0),
      u16(0),
      u16(big ? 0xffff : entries.length),
      u16(big ? 0xffff : entries.length),
      u32(big ? MAX32 : dir.length),
      u32(big ? MAX32 : offset),
      u16(note.length),
      note,
    ]),
  );
  return chunks;
}

// The zip in memory (no sparse entries).
export function zipBuffer(entries, opts) {
  const chunks = zipChunks(entries, opts);
  if (chunks.some((c) => !Buffer.isBuffer(c))) throw new Error("zipBuffer: sparse entries need writeZip");
  return Buffer.concat(chunks);
}

// The zip on disk; sparse entries become holes (the file system stores no bytes for them).
export function writeZip(path, entries, opts) {
  const fd = openSync(path, "w");
  let pos = 0;
  try {
    for (const c of zipChunks(entries, opts)) {
      if (Buffer.isBuffer(c)) {
        writeSync(fd, c, 0, c.length, pos);
        pos += c.length;
      } else {
        pos += c.skip;
      }
    }
    ftruncateSync(fd, pos);
  } finally {
    closeSync(fd);
  }
  return pos;
}

// ---- zip reading (what the page sends: small, no ZIP64) ----------------------------------

// [{name, method, data}] with every CRC checked; throws on anything unexpected.
export function readZip(buf) {
  const at = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (at < 0 || at + 22 > buf.length) throw new Error("readZip: no end of central directory");
  const count = buf.readUInt16LE(at + 10);
  const dirStart = buf.readUInt32LE(at + 16);
  const out = [];
  for (let p = dirStart, i = 0; i < count; i++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`readZip: bad central header at ${p}`);
    const method = buf.readUInt16LE(p + 10);
    const crc = buf.readUInt32LE(p + 16);
    const csize = buf.readUInt32LE(p + 20);
    const offset = buf.readUInt32LE(p + 42);
    const nameLen = buf.readUInt16LE(p + 28);
    const name = buf.subarray(p + 46, p + 46 + nameLen).toString("utf8");
    if (buf.readUInt32LE(offset) !== 0x04034b50) throw new Error(`readZip: bad local header for ${name}`);
    const start = offset + 30 + buf.readUInt16LE(offset + 26) + buf.readUInt16LE(offset + 28);
    const raw = buf.subarray(start, start + csize);
    const data = method === 8 ? zlib.inflateRawSync(raw) : Buffer.from(raw);
    if (zlib.crc32(data) !== crc) throw new Error(`readZip: CRC of ${name}`);
    out.push({ name, method, data });
    p += 46 + nameLen + buf.readUInt16LE(p + 30) + buf.readUInt16LE(p + 32);
  }
  return out;
}
