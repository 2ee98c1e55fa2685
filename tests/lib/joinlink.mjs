// A Fedify peer becomes a linked member the way a person does: its actor follows the bridge
// account (signed, verified by the server, which answers Accept), then its X archive is
// linked with `passerelle import --member` (the same parser and transaction as the page).
//
//   const m = await joinAndLink(s, peer, { handle: "Alice_Old", xid: "4242", followerIds: [...] });
//   m.id (members.id), m.acct, m.follow (the Follow activity id, for an Undo later)
//   await m.consents({ relay: true })   // through the link page, with the welcome link
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { eventually } from "./harness.mjs";
import { runBin } from "./server.mjs";
import { request } from "./http.mjs";
import { openLink } from "./linkcode.mjs";
import { xArchive, writeZip } from "./xarchive.mjs";

export async function joinAndLink(s, peer, { handle, xid, followerIds = [], followingIds = [] }) {
  const bridge = `${s.url}/users/passerelle`;
  const sent = await peer.send(`${bridge}/inbox`, { type: "Follow", object: bridge }, bridge);
  assert.equal(sent.ok, true, `the bridge refused the Follow: ${sent.error}`);
  const acct = `${peer.user}@127.0.0.1:${peer.port}`;
  const id = await eventually(async () => (await s.psql(`SELECT id FROM members WHERE acct = '${acct}'`)) || null, {
    timeout: 10000,
    what: `member row for ${acct}`,
  });
  const dir = mkdtempSync(path.join(os.tmpdir(), "passerelle-join-"));
  try {
    const zip = path.join(dir, "archive.zip");
    writeZip(zip, xArchive({ username: handle, accountId: String(xid), followerIds: followerIds.map(String), followingIds: followingIds.map(String) }).entries);
    const r = await runBin(["import", "-c", s.configFile, "--member", `acct:${acct}`, zip], { timeout: 30000 });
    assert.equal(r.code, 0, `import for ${acct}: ${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  let session = null;
  // The link page as the member uses it: the one-time link from the welcome message (as
  // Fedify received it), "Continue" (a same-origin POST of the code), a session cookie, the CSRF token from /link/state, then the POST.
  async function consents(values) {
    if (session === null) {
      const dm = await eventually(
        async () => (await peer.events()).find((e) => e.type === "Create" && e.actor === bridge && /\/link\/[0-9a-f]{32}/.test(String(e.raw?.object?.content))),
        { timeout: 10000, what: `the welcome message to ${acct}` },
      );
      const code = String(dm.raw.object.content).match(/\/link\/([0-9a-f]{32})/)[1];
      const cookie = await openLink(s, code);
      const st = await request(`${s.url}/link/state`, { headers: { cookie } });
      assert.equal(st.status, 200, st.body);
      session = { cookie, csrf: st.json().csrf };
    }
    const r = await request(`${s.url}/link/consents`, {
      method: "POST",
      headers: { cookie: session.cookie, "content-type": "application/json", "x-csrf-token": session.csrf },
      body: JSON.stringify(values),
    });
    assert.equal(r.status, 200, `consents ${JSON.stringify(values)}: ${r.body}`);
    return r.json();
  }
  return { id, acct, follow: sent.id, actor: peer.actorId, consents };
}
