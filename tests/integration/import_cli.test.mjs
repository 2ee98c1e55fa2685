// passerelle import: the command line links an X archive (zip or loose files) to a member,
// as the link page does, against the real database; refusals change nothing.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { test, setup, teardown, eventually } from "../lib/harness.mjs";
import { startServer, runBin } from "../lib/server.mjs";
import { startActorHost, signedPost, newId, AS } from "../lib/actorhost.mjs";
import { xArchive, writeZip } from "../lib/xarchive.mjs";

let s, h, dir, acct;

setup(async () => {
  s = await startServer({ config: { allow_private_fetch: "true", queue_poll_ms: "100" } });
  h = await startActorHost({ actors: [{ name: "dora" }] });
  dir = mkdtempSync(path.join(os.tmpdir(), "passerelle-import-"));
  const a = h.actor("dora");
  const f = { "@context": AS, id: newId(h), type: "Follow", actor: a.id, object: `${s.url}/users/passerelle` };
  assert.equal((await signedPost(`${s.url}/users/passerelle/inbox`, f, { actor: a })).status, 202);
  acct = `dora@${new URL(h.url).host}`;
  await eventually(async () => (await s.psql(`SELECT count(*) FROM members WHERE acct = '${acct}'`)).trim() === "1", { what: "member row" });
});
teardown(async () => {
  if (h) await h.stop();
  if (s) assert.equal(await s.stop(), 0);
});

const state = async () => (await s.psql("SELECT coalesce(string_agg(x_id || ':' || x_handle || ':' || state, ','), '-') || '|' || (SELECT count(*) FROM x_edges) FROM members")).trim();
const imp = (args) => runBin(["import", "-c", s.configFile, ...args], { timeout: 60000 });

test("usage errors exit 2 and change nothing", async () => {
  const before = await state();
  assert.equal((await imp([])).code, 2);
  assert.equal((await imp(["--member", `acct:${acct}`])).code, 2, "no archive");
  assert.equal((await imp(["--bogus", "x.zip"])).code, 2);
  const help = await imp(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--member/);
  assert.equal(await state(), before);
});

test("an unknown member, a missing file and a non-X zip exit 1 with a reason, nothing changed", async () => {
  const before = await state();
  const zip = path.join(dir, "a.zip");
  writeZip(zip, xArchive({ username: "dora_x", accountId: "777", followers: 3, following: 2 }).entries);
  const nobody = await imp(["--member", "acct:nobody@nowhere.example", zip]);
  assert.equal(nobody.code, 1);
  assert.match(nobody.stderr, /no such member/);
  const missing = await imp(["--member", `acct:${acct}`, path.join(dir, "missing.zip")]);
  assert.equal(missing.code, 1);
  const other = path.join(dir, "other.zip");
  writeZip(other, [{ name: "hello.txt", data: Buffer.from("hi") }]);
  const notx = await imp(["--member", `acct:${acct}`, other]);
  assert.equal(notx.code, 1);
  assert.match(notx.stderr, /not an X archive/);
  assert.equal(await state(), before);
});

test("a zip links the member; loose files of a newer archive replace the edges", async () => {
  const zip = path.join(dir, "dora.zip");
  writeZip(zip, xArchive({ username: "dora_x", accountId: "777", followers: 40, following: 25, followerParts: 3 }).entries);
  const r = await imp(["--member", `acct:${acct}`, zip]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /linked @dora_x \(X id 777\): 40 followers, 25 following/);
  assert.equal(await state(), "777:dora_x:linked|65");

  const newer = xArchive({ username: "dora_x", accountId: "777", followers: 5, following: 1, manifest: false });
  const files = newer.entries.map((e) => {
    const p = path.join(dir, path.basename(e.name));
    writeFileSync(p, e.data);
    return p;
  }).filter((p) => !p.endsWith("tweets.js"));
  const r2 = await imp(["--member", acct, ...files]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(await state(), "777:dora_x:linked|6");
});
