-- 006_reconnect: what matching, notices and follows in a member's name share (additive).

-- Set, in the same transaction, when a member links or changes a consent; the matcher
-- claims due members (FOR UPDATE SKIP LOCKED), re-plans their pairs and clears it. A crash
-- between the change and the matching therefore loses nothing.
ALTER TABLE members ADD COLUMN match_due_at timestamptz;
CREATE INDEX members_match_due ON members (match_due_at) WHERE match_due_at IS NOT NULL;

-- When the follower was told about this pair (the batched daily notice, or the held one).
ALTER TABLE follow_actions ADD COLUMN notified_at timestamptz;
-- When the follow was made, and the followee's account id on the follower's server (from
-- the search), so that an undo can name it.
ALTER TABLE follow_actions ADD COLUMN done_at timestamptz;
ALTER TABLE follow_actions ADD COLUMN remote_account_id text;

-- A host is blocked when an instances row blocks it, its host without the port, or one of
-- its parent names (an IP literal has no parents): the rule policy_listed applies to the
-- configuration's relay_block, for the admin's blocks stored one per row.
CREATE FUNCTION host_blocked(h text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM instances i
        WHERE i.blocked
          AND (i.domain = lower(h)
               OR i.domain = lower(regexp_replace(h, ':[0-9]+$', ''))
               OR (regexp_replace(h, ':[0-9]+$', '') !~ '^[0-9.]+$|^\[|:'
                   AND lower(regexp_replace(h, ':[0-9]+$', '')) LIKE '%.' || i.domain)))
$$;
CREATE INDEX instances_blocked ON instances (domain) WHERE blocked;

-- The both-sides rule of DESIGN.md section 3, for each planned follow: B (follower) followed
-- A (followee) on X, B allows autofollow and is not paused, A is findable, both are linked
-- (a disputed or suspended claim is not), and neither home instance is blocked. It is
-- checked again when the follow is made, not only when it is planned; the configuration's
-- relay_block is checked by the caller (policy_config_blocked).
CREATE VIEW follow_actions_allowed AS
SELECT fa.id, fa.follower_id, fa.followee_id
FROM follow_actions fa
JOIN members b ON b.id = fa.follower_id
JOIN members a ON a.id = fa.followee_id
WHERE b.state = 'linked' AND a.state = 'linked'
  AND b.autofollow AND NOT b.paused AND b.delete_requested_at IS NULL
  AND a.findable
  AND EXISTS (SELECT 1 FROM x_edges e
              WHERE e.follower_x_id = b.x_id AND e.followee_x_id = a.x_id)
  AND NOT host_blocked(b.host) AND NOT host_blocked(a.host);
