-- 025_bluesky_follows: following across the two networks through Bridgy Fed, and on Bluesky
-- in a member's name (additive).

-- A member's identity on the other network through a bridge, when one exists (Bridgy Fed is
-- opt-in: most people have none). For an 'atproto' member: the bridge's ActivityPub actor id
-- (https://bsky.brid.gy/ap/<did>) and its address (<handle>@bsky.brid.gy). For an
-- 'activitypub' member: the DID of their bridged Bluesky account and its handle
-- (user.host.ap.brid.gy), kept only when that DID's document names their actor.
-- bridge_checked_at: when it was last looked up (NULL: never), found or not.
ALTER TABLE members ADD COLUMN bridged_id text;
ALTER TABLE members ADD COLUMN bridged_handle text;
ALTER TABLE members ADD COLUMN bridge_checked_at timestamptz;
ALTER TABLE members ADD CONSTRAINT members_bridged_pair
    CHECK ((bridged_id IS NULL) = (bridged_handle IS NULL));

-- Members whose bridged identity must be looked up: the matcher adds the followee of a pair
-- across the networks when it was never looked up or not for a day; the bridge worker claims
-- due rows (SKIP LOCKED, pushing due_at ahead as a lease) and deletes them. A table of its
-- own for the reason notice_due is one: the matcher never updates another member's row.
CREATE TABLE bridge_due (
    member_id bigint PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    due_at    timestamptz NOT NULL DEFAULT now(),
    attempts  integer NOT NULL DEFAULT 0 CHECK (attempts >= 0)
);
CREATE INDEX bridge_due_at ON bridge_due (due_at);

-- 'atproto': an app.bsky.graph.follow record written in the follower's Bluesky repository
-- (their grant), toward the followee's DID or their bridged one.
ALTER TABLE follow_actions DROP CONSTRAINT follow_actions_method_check;
ALTER TABLE follow_actions ADD CONSTRAINT follow_actions_method_check
    CHECK (method IN ('api', 'notice', 'csv', 'atproto'));
-- The record written, so that an undo can name it (at://<did>/app.bsky.graph.follow/<rkey>).
ALTER TABLE follow_actions ADD COLUMN record_uri text;

-- The Bluesky follow worker's lease and pause per member: one batch at a time per member in
-- any process, and no write before rate_limited_until (a 429's Retry-After, or a RateLimit-*
-- reset when the PDS says nothing is left). Points are counted from follow_actions.done_at
-- (3 a follow), like the Mastodon worker's daily count.
CREATE TABLE atproto_follow_state (
    member_id          bigint PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    busy_until         timestamptz,
    rate_limited_until timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Notices to Bluesky members, sent as direct messages from the bridge's own Bluesky account
-- (chat.bsky.convo through its PDS) when the operator configured one. One row per message;
-- a leaving member's rows go with them.
CREATE TABLE atproto_dms (
    id              bigserial PRIMARY KEY,
    member_id       bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    did             text NOT NULL CHECK (did ~ '^did:(plc|web):'),
    body            text NOT NULL,
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);
CREATE INDEX atproto_dms_due ON atproto_dms (next_attempt_at) WHERE state = 'pending';
CREATE INDEX atproto_dms_member ON atproto_dms (member_id);
