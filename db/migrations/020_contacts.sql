-- 020_contacts: the member's page lists their found contacts both ways, lets them ignore,
-- restore and undo the follows made for them, and tells them which former followers came back.

-- A member's former X contacts who are members now, as the member's own archive says: dir
-- 'following' (the member followed them on X) or 'followers' (they followed the member). The
-- matcher keeps it (found_sql, in each matching transaction, from both sides), so the page
-- reads a page of it by its primary key whatever the size of the archive. A row says only
-- that the pair was found; contacts_visible says who may be shown now.
CREATE TABLE contacts (
    member_id  bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    dir        text NOT NULL CHECK (dir IN ('following', 'followers')),
    contact_id bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    found_at   timestamptz NOT NULL DEFAULT now(),
    -- For 'followers': when the daily notice counted this arrival ("who came back").
    told_at    timestamptz,
    PRIMARY KEY (member_id, dir, contact_id),
    CHECK (member_id <> contact_id)
);
CREATE INDEX contacts_contact ON contacts (contact_id);

-- Who may be shown to the member now: both linked and not held by reports, the contact
-- findable, the edge still in the member's own archive, and nobody keeping the other out
-- (either side's member_excludes), except the member's own 'ignored', shown so that they
-- can restore it.
CREATE VIEW contacts_visible AS
SELECT c.member_id, c.dir, c.contact_id, c.found_at, c.told_at,
       o.x_id, o.x_handle, o.acct, o.actor_uri, o.network,
       EXISTS (SELECT 1 FROM member_excludes x
               WHERE x.member_id = c.member_id AND x.x_id = o.x_id AND x.reason = 'ignored')
           AS ignored
FROM contacts c
JOIN members me ON me.id = c.member_id
JOIN members o ON o.id = c.contact_id
WHERE me.state = 'linked' AND me.reports_held_at IS NULL
  AND o.state = 'linked' AND o.findable AND o.reports_held_at IS NULL
  -- One EXISTS whose keys depend on the way (not a CASE of two EXISTS, which PostgreSQL
  -- plans as hashed subplans over every edge): a primary-key probe per row.
  AND EXISTS (SELECT 1 FROM x_edges e WHERE e.member_id = me.id
              AND e.follower_x_id = CASE c.dir WHEN 'following' THEN me.x_id ELSE o.x_id END
              AND e.followee_x_id = CASE c.dir WHEN 'following' THEN o.x_id ELSE me.x_id END)
  AND NOT EXISTS (SELECT 1 FROM member_excludes x
                  WHERE x.member_id = me.id AND x.x_id = o.x_id AND x.reason <> 'ignored')
  AND NOT EXISTS (SELECT 1 FROM member_excludes x WHERE x.member_id = o.id AND x.x_id = me.x_id);

-- Who came back: the member's former followers (by the member's own archive) who are here and
-- not ignored, and whether each follows the member again (a follow made for them is done).
-- The page counts them; the daily notice counts them and the ones not told yet.
CREATE VIEW contacts_came_back AS
SELECT v.member_id, v.contact_id, v.told_at,
       EXISTS (SELECT 1 FROM follow_actions f WHERE f.follower_id = v.contact_id
               AND f.followee_id = v.member_id AND f.state = 'done') AS again
FROM contacts_visible v
WHERE v.dir = 'followers' AND NOT v.ignored;

-- Ignore, restore and undo from the page: consent_ledger's CHECK names the four consents
-- only and has no place for the contact, so these go here, as append-only.
CREATE TABLE contact_ledger (
    id          bigserial PRIMARY KEY,
    member_id   bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    action      text NOT NULL CHECK (action IN ('ignore', 'restore', 'undo', 'undo_all')),
    x_id        bigint CHECK (x_id > 0),
    rows        integer NOT NULL DEFAULT 0 CHECK (rows >= 0),
    source      text NOT NULL CHECK (source IN ('page')),
    client_addr inet,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((action = 'undo_all') = (x_id IS NULL))
);
CREATE INDEX contact_ledger_member ON contact_ledger (member_id, created_at);

-- Undo: 'unfollow' is queued for the unfollow worker (next_attempt_at, attempts as for a
-- follow), 'unfollowed' is final. The matcher changes only planned, held and undone rows, so an
-- undone follow is never made again until the member restores the contact, which turns the
-- row back into 'undone' for the matcher to judge.
ALTER TABLE follow_actions DROP CONSTRAINT follow_actions_state_check;
ALTER TABLE follow_actions ADD CONSTRAINT follow_actions_state_check
    CHECK (state IN ('planned', 'held', 'done', 'failed', 'undone', 'unfollow', 'unfollowed'));
ALTER TABLE follow_actions ADD COLUMN unfollowed_at timestamptz;
CREATE INDEX follow_actions_unfollow_due ON follow_actions (next_attempt_at)
    WHERE state = 'unfollow';

-- The both-sides rule when the follow is made: an excluded pair (ignored on the page, blocked
-- or muted on X, by either side) is never followed, even when the matcher has not yet undone
-- its row.
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
  AND NOT EXISTS (SELECT 1 FROM member_excludes x WHERE x.member_id = b.id AND x.x_id = a.x_id)
  AND NOT EXISTS (SELECT 1 FROM member_excludes x WHERE x.member_id = a.id AND x.x_id = b.x_id)
  AND NOT host_blocked(b.host) AND NOT host_blocked(a.host);

-- The contacts of members already linked, found once here; the matcher keeps them from now on.
-- told_at is set: they arrived before the page could say so, and are not news.
INSERT INTO contacts (member_id, dir, contact_id, told_at)
SELECT DISTINCT me.id, 'following', o.id, now()
FROM members me JOIN x_edges e ON e.follower_x_id = me.x_id AND e.member_id = me.id
JOIN members o ON o.x_id = e.followee_x_id
UNION
SELECT me.id, 'followers', o.id, now()
FROM members me JOIN x_edges e ON e.followee_x_id = me.x_id AND e.member_id = me.id
JOIN members o ON o.x_id = e.follower_x_id;
