// Bluesky members for the tests and the bench, made in SQL as sign-in and the matcher leave
// them, against a PDS of tests/lib/pds.mjs:
//   const m = await blueskyMember(s, pds, "alice", acct);   // {id, xId, did}
//   await sealedGrant(s, pds, m, acct);                    // an app-password session's tokens
//   const pair = await plannedAtproto(s, follower, followee); // follow_actions id
//   await followsOf(pds, acct)                             // subject -> [record uri...]
//   await pairRow(s, id)                                    // "state|attempts|error|record"
import assert from "node:assert/strict";
import { seal, sq } from "./oauthflow.mjs";

let nextX = 7700000000;

export async function blueskyMember(s, pds, name, acct, { autofollow = true } = {}) {
  const xId = String(nextX++);
  const id = await s.psql(
    `INSERT INTO members (network, actor_uri, acct, host, x_id, x_handle, state, linked_at, autofollow, findable, notify)
     VALUES ('atproto', ${sq(acct.did)}, ${sq(acct.handle)}, ${sq(new URL(pds.url).host)}, ${xId}, ${sq(`${name}_x`)}, 'linked', now() - interval '2 days', ${autofollow}, true, false)
     RETURNING id`,
  );
  return { id, xId, did: acct.did };
}

// The member's app-password session, sealed to its row as atgrant.c seals it
// (atgrant_ad: atgrant:<member id>:<did>:<what>).
export async function sealedGrant(s, pds, m, acct) {
  const access = seal(s, `atgrant:${m.id}:${acct.did}:access`, acct.accessJwt);
  const refresh = seal(s, `atgrant:${m.id}:${acct.did}:refresh`, acct.refreshJwt);
  await s.psql(
    `INSERT INTO atproto_grants (member_id, did, kind, pds_url, access_token, access_nonce, access_expires_at, refresh_token, refresh_nonce)
     VALUES (${m.id}, ${sq(acct.did)}, 'app_password', ${sq(pds.url)}, ${sq(access.ct)}, ${sq(access.nonce)}, now() + interval '1 hour', ${sq(refresh.ct)}, ${sq(refresh.nonce)})`,
  );
}

// follower followed followee on X (their own archive says so), and the matcher planned a
// Bluesky follow.
export async function plannedAtproto(s, follower, followee) {
  await s.psql(`INSERT INTO x_edges VALUES (${follower.xId}, ${followee.xId}, ${follower.id}) ON CONFLICT DO NOTHING`);
  return s.psql(
    `INSERT INTO follow_actions (follower_id, followee_id, method, state, next_attempt_at)
     VALUES (${follower.id}, ${followee.id}, 'atproto', 'planned', now()) RETURNING id`,
  );
}

export const pairRow = (s, id) =>
  s.psql(`SELECT state || '|' || attempts || '|' || coalesce(last_error, '') || '|' || coalesce(record_uri, '') FROM follow_actions WHERE id = ${id}`);

// Every follow record in acct's repository: subject -> [uri...].
export async function followsOf(pds, acct) {
  const out = {};
  let cursor;
  do {
    const r = await pds.xrpc("com.atproto.repo.listRecords", { query: { repo: acct.did, collection: "app.bsky.graph.follow", limit: "100", ...(cursor ? { cursor } : {}) } });
    assert.equal(r.status, 200);
    for (const rec of r.json.records) (out[rec.value.subject] ??= []).push(rec.uri);
    cursor = r.json.records.length ? r.json.cursor : undefined;
  } while (cursor);
  return out;
}

// A test file's world: a PDS (rate limits on), an account and a member for each name, the
// granted ones with their sealed session, and the server with config added to the member
// settings (pairs planned by the tests: the matcher waits). Resolves {pds, s, A, M}.
export async function blueskyWorld({ names, granted, config = {} }) {
  const { startPds } = await import("./pds.mjs");
  const { startServer } = await import("./server.mjs");
  const { MEMBER_CONFIG } = await import("./browser.mjs");
  const pds = await startPds({ rateLimits: true });
  const made = await Promise.all(names.map((n) => pds.createAccount(n)));
  const A = Object.fromEntries(names.map((n, i) => [n, made[i]]));
  const s = await startServer({
    config: { ...MEMBER_CONFIG, plc_url: pds.plcUrl, atproto_follow_poll_ms: "50", match_poll_ms: "3600000", ...config },
  });
  const M = {};
  for (const n of names) M[n] = await blueskyMember(s, pds, n, A[n]);
  for (const n of granted) await sealedGrant(s, pds, M[n], A[n]);
  return { pds, s, A, M };
}
