// People of an actor host becoming members of a running server the way real people do: a
// signed Follow of the bridge account, the one-time link from the welcome message, a session,
// an X archive uploaded through the link page's endpoint, consents saved from it, commands
// sent by direct message.
//
//   const m = await joinMember(s, h, "alice");          // {name, actor, id, cookie, csrf}
//   const code = await welcomeCode(s, h, "bob");         // joined, the link not yet opened
//   await linkArchive(s, m, { xId: "11", followers: ["12"], following: ["13"] });
//   await setConsents(s, m, { autofollow: true });
//   await sendCommand(s, h, m, "pause", /Paused/);
import assert from "node:assert/strict";
import { eventually } from "./harness.mjs";
import { signedPost, newId, AS } from "./actorhost.mjs";
import { request } from "./http.mjs";
import { openLink } from "./linkcode.mjs";
import { xArchive, zipBuffer } from "./xarchive.mjs";

const bridgeOf = (s) => `${s.url}/users/passerelle`;

// Follows the bridge as h's actor name and returns the one-time code of the welcome message
// (still unused).
export async function welcomeCode(s, h, name) {
  const a = h.actor(name);
  const f = { "@context": AS, id: newId(h), type: "Follow", actor: a.id, object: bridgeOf(s) };
  return sentLink(s, h, name, f, `welcome message to ${name}`);
}

// Posts activity to the bridge as name; resolves with the code of the next link sent to name.
async function sentLink(s, h, name, activity, what) {
  const mark = h.mark;
  const r = await signedPost(`${bridgeOf(s)}/inbox`, activity, { actor: h.actor(name) });
  assert.equal(r.status, 202, r.body);
  const dm = await eventually(
    () => h.since(mark).find((x) => x.method === "POST" && x.path === `/users/${name}/inbox` && /\/link\/[0-9a-f]{32}/.test(x.body)),
    { timeout: 10000, what },
  );
  return dm.body.match(/\/link\/([0-9a-f]{32})/)[1];
}

// Asks for a new link by direct message ("link"), as a member does once the welcome's link has
// been spent (a Follow is welcomed once a day only); returns its code (still unused).
export async function linkCode(s, h, name) {
  const a = h.actor(name);
  const note = { id: newId(h, "notes"), type: "Note", attributedTo: a.id, content: "<p>link</p>", to: [bridgeOf(s)], cc: [] };
  const create = { "@context": AS, id: newId(h), type: "Create", actor: a.id, object: note, to: [bridgeOf(s)], cc: [] };
  return sentLink(s, h, name, create, `new link for ${name}`);
}

// welcomeCode (linkCode for someone already a member), then the link opened and "Continue"
// pressed (the page's POST spends the code): the member with its session.
export async function joinMember(s, h, name) {
  const a = h.actor(name);
  const member = (await s.psql(`SELECT count(*) FROM members WHERE actor_uri = '${a.id}'`)).trim() !== "0";
  const cookie = await openLink(s, await (member ? linkCode : welcomeCode)(s, h, name));
  const st = await request(`${s.url}/link/state`, { headers: { cookie } });
  assert.equal(st.status, 200, st.body);
  const id = (await s.psql(`SELECT id FROM members WHERE actor_uri = '${a.id}'`)).trim();
  return { name, actor: a, host: h, id, cookie, csrf: st.json().csrf };
}

// Uploads an archive for X account xId listing exactly these followers and followees.
export async function linkArchive(s, m, { xId, username = `${m.name}_x`, followers = [], following = [] }) {
  const a = xArchive({ username, accountId: xId, followerIds: followers, followingIds: following });
  return request(`${s.url}/link/archive`, {
    method: "POST",
    headers: { cookie: m.cookie, "x-csrf-token": m.csrf, "content-type": "application/zip" },
    body: zipBuffer(a.entries),
  });
}

export async function setConsents(s, m, consents) {
  const r = await request(`${s.url}/link/consents`, {
    method: "POST",
    headers: { cookie: m.cookie, "x-csrf-token": m.csrf, "content-type": "application/json" },
    body: JSON.stringify(consents),
  });
  assert.equal(r.status, 200, r.body);
  return r.json().consents;
}

// A direct message to the bridge account; resolves with the bridge's answer (its HTML), the
// first message to the member since that matches expect.
export async function sendCommand(s, h, m, text, expect = /./) {
  const a = m.actor;
  const mark = h.mark;
  const note = { id: newId(h, "notes"), type: "Note", attributedTo: a.id, content: `<p>${text}</p>`, to: [bridgeOf(s)], cc: [] };
  const create = { "@context": AS, id: newId(h), type: "Create", actor: a.id, object: note, to: [bridgeOf(s)], cc: [] };
  const r = await signedPost(`${bridgeOf(s)}/inbox`, create, { actor: a });
  assert.equal(r.status, 202, r.body);
  const reply = await eventually(() => h.since(mark).find((x) => x.method === "POST" && x.path === `/users/${m.name}/inbox` && expect.test(JSON.parse(x.body).object?.content ?? "")), {
    timeout: 10000,
    what: `answer to "${text}" for ${m.name}`,
  });
  return JSON.parse(reply.body).object.content;
}

// Unfollows the bridge: the member leaves with everything of theirs.
export async function leave(s, m) {
  const a = m.actor;
  const followId = (await s.psql(`SELECT follow_id FROM members WHERE id = ${m.id}`)).trim();
  const undo = { "@context": AS, id: newId(m.host), type: "Undo", actor: a.id, object: { id: followId, type: "Follow", actor: a.id, object: bridgeOf(s) } };
  const r = await signedPost(`${bridgeOf(s)}/inbox`, undo, { actor: a });
  assert.equal(r.status, 202, r.body);
}
