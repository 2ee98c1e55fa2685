-- 013_provenance: each X edge is kept with the archive that gave it; claims can be verified
-- with X, are logged and rate-limited, and reports can hold a claim until an admin decides.

-- --- Provenance ------------------------------------------------------------------------------
-- An edge is what one member's archive said: their followers (follower -> them) or the
-- accounts they followed (them -> followee). The same pair may be said by both archives, so
-- the uploader is part of the key. Anything done in B's name comes only from rows that B's own
-- archive gave (member_id = B, follower_x_id = B's X id). Still no foreign key: the big table
-- shards by X id; the member's rows go by trigger, found through their X id.
ALTER TABLE x_edges ADD COLUMN member_id bigint;

-- Until now every upload deleted every edge that named the uploader's X id, then wrote its
-- own: an edge between two members is therefore what the later of the two uploads said
-- (linked_at is set by each upload). An edge that names no member had no source left.
UPDATE x_edges e SET member_id = (
    SELECT m.id FROM members m
    WHERE m.x_id = e.follower_x_id OR m.x_id = e.followee_x_id
    ORDER BY m.linked_at DESC NULLS LAST, m.id DESC LIMIT 1);
DELETE FROM x_edges WHERE member_id IS NULL;
ALTER TABLE x_edges ALTER COLUMN member_id SET NOT NULL;
ALTER TABLE x_edges DROP CONSTRAINT x_edges_pkey;
ALTER TABLE x_edges ADD CONSTRAINT x_edges_pkey PRIMARY KEY (follower_x_id, followee_x_id, member_id);
DROP INDEX x_edges_followee;
CREATE INDEX x_edges_followee ON x_edges (followee_x_id, follower_x_id, member_id);

-- A member who goes takes what their archive said, and nothing another archive said: every
-- row of theirs names the X id they hold (an upload or a lost claim deletes the others).
CREATE OR REPLACE FUNCTION members_forget_edges() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM x_edges
    WHERE (follower_x_id = OLD.x_id OR followee_x_id = OLD.x_id) AND member_id = OLD.id;
    RETURN NULL;
END;
$$;

-- --- Claims ----------------------------------------------------------------------------------
-- Set when X itself said (OAuth 2.0, GET /2/users/me) that this member holds x_id.
ALTER TABLE members ADD COLUMN x_verified_at timestamptz;
ALTER TABLE members ADD CONSTRAINT members_verified_has_x_id
    CHECK (x_verified_at IS NULL OR x_id IS NOT NULL);
-- Set when reports from enough distinct members hold this member's pairs and stand-in; an
-- admin clears it (or confirms the reports, which drops the claim).
ALTER TABLE members ADD COLUMN reports_held_at timestamptz;
-- Reports name a member by user@host.
CREATE INDEX members_acct ON members (lower(acct)) WHERE acct IS NOT NULL;

-- Every new claim of an X id (a re-upload of the X id a member holds is none): linked,
-- disputed (both frozen), refused (the incumbent is past its hold or verified; it was told),
-- verified (X said so). Claims are counted per member and per home host from here.
CREATE TABLE claim_log (
    id           bigserial PRIMARY KEY,
    member_id    bigint REFERENCES members (id) ON DELETE SET NULL,
    host         text NOT NULL CHECK (host <> ''),
    x_id         bigint NOT NULL CHECK (x_id > 0),
    outcome      text NOT NULL CHECK (outcome IN ('linked', 'disputed', 'refused', 'verified')),
    incumbent_id bigint REFERENCES members (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claim_log_member ON claim_log (member_id, created_at);
CREATE INDEX claim_log_host ON claim_log (host, created_at);
CREATE INDEX claim_log_incumbent ON claim_log (incumbent_id) WHERE incumbent_id IS NOT NULL;

-- "Verify with X" in progress: like oauth_states, for X's own OAuth 2.0 (no app row).
CREATE TABLE x_verify_states (
    hash           bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
    member_id      bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    session_hash   bytea NOT NULL REFERENCES sessions (hash) ON DELETE CASCADE,
    verifier       bytea NOT NULL,
    verifier_nonce bytea NOT NULL CHECK (octet_length(verifier_nonce) = 12),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX x_verify_states_member ON x_verify_states (member_id);
CREATE INDEX x_verify_states_expires ON x_verify_states (expires_at);

-- --- Reports ---------------------------------------------------------------------------------
-- Whom a report names (resolved from user@host when it is filed) and what an admin decided.
ALTER TABLE reports ADD COLUMN target_member_id bigint REFERENCES members (id) ON DELETE SET NULL;
ALTER TABLE reports ADD COLUMN decided_at timestamptz;
ALTER TABLE reports ADD COLUMN decision text CHECK (decision IN ('cleared', 'confirmed'));
ALTER TABLE reports ADD CONSTRAINT reports_decided CHECK ((decided_at IS NULL) = (decision IS NULL));
UPDATE reports r SET target_member_id = (
    SELECT m.id FROM members m WHERE lower(m.acct) = lower(r.target) ORDER BY m.id LIMIT 1);
CREATE INDEX reports_open ON reports (target_member_id) WHERE decided_at IS NULL;
-- Reports already filed were never decided: three distinct reporters (the default of
-- report_hold_threshold) hold their member now.
UPDATE members m SET reports_held_at = now(), match_due_at = now()
WHERE (SELECT count(DISTINCT r.member_id) FROM reports r
       WHERE r.target_member_id = m.id AND r.decided_at IS NULL AND r.member_id <> m.id) >= 3;

-- The both-sides rule, checked when a follow is made: B's own archive must say B followed A,
-- and neither member may be held by reports.
CREATE OR REPLACE VIEW follow_actions_allowed AS
SELECT fa.id, fa.follower_id, fa.followee_id
FROM follow_actions fa
JOIN members b ON b.id = fa.follower_id
JOIN members a ON a.id = fa.followee_id
WHERE b.state = 'linked' AND a.state = 'linked'
  AND b.autofollow AND NOT b.paused
  AND (b.delete_requested_at IS NULL OR b.delete_requested_at <= now() - interval '15 minutes')
  AND a.findable
  AND b.reports_held_at IS NULL AND a.reports_held_at IS NULL
  AND EXISTS (SELECT 1 FROM x_edges e
              WHERE e.follower_x_id = b.x_id AND e.followee_x_id = a.x_id AND e.member_id = b.id)
  AND NOT host_blocked(b.host) AND NOT host_blocked(a.host);
