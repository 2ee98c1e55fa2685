-- 021_blocks_lists: X blocks and mutes are honoured when a follow is made, not only when it is
-- planned; the contacts followed for a member also go into a list on their server.

-- The both-sides rule of 013, plus member_excludes (018) from either side: a pair one member
-- put out of reach (ignored on the page, blocked or muted on X) is never followed, even when
-- its row was planned before the exclusion and the matcher has not run since.
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

-- "Former X contacts": the list on the member's server that the accounts followed for them
-- go into (POST /api/v1/lists, once; found again by its title when we lost its id). One row
-- per member, for the server it was made on (host): a grant for another server starts over.
-- 'ready': list_id is the list. 'gone': the member deleted it (404), so it is not made again
-- until they connect their server anew (a grant newer than updated_at). 'refused': the server
-- refused the list calls (403, or another final error), likewise until a new grant.
CREATE TABLE member_lists (
    member_id  bigint PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    host       text NOT NULL CHECK (host <> ''),
    list_id    text CHECK (list_id ~ '^[A-Za-z0-9_-]{1,128}$'),
    state      text NOT NULL CHECK (state IN ('ready', 'gone', 'refused')),
    last_error text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((state = 'ready') = (list_id IS NOT NULL))
);

-- When the followed account was added to that list (or found already in it), or given up on:
-- list_error then says why (the member no longer follows it, the account is gone). NULL: not
-- yet.
ALTER TABLE follow_actions ADD COLUMN listed_at timestamptz;
ALTER TABLE follow_actions ADD COLUMN list_error text;
-- The list worker's look: follows made through a grant and not yet in the list.
CREATE INDEX follow_actions_unlisted ON follow_actions (follower_id)
    WHERE state = 'done' AND method = 'api' AND listed_at IS NULL AND remote_account_id IS NOT NULL;
