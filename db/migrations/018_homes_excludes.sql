-- 018_homes_excludes: a member's home is a fediverse actor or a Bluesky account, and a member
-- can put contacts out of reach (ignored on the page, blocked or muted on X).

-- 'activitypub': actor_uri is the actor's id, host its server, inbox where messages go.
-- 'atproto': actor_uri is the DID (did:plc:… or did:web:…), acct the handle, host the
-- PDS's host (claims are rate-limited per host either way), inbox NULL.
ALTER TABLE members ADD COLUMN network text NOT NULL DEFAULT 'activitypub'
    CHECK (network IN ('activitypub', 'atproto'));
ALTER TABLE members ADD CONSTRAINT members_network_uri
    CHECK (network <> 'atproto' OR actor_uri ~ '^did:(plc|web):');

-- Contacts a member keeps out of reach, by X id: never followed, named or told about, in
-- either direction, whatever the consents. 'ignored' is the member's choice on their page
-- (they can restore it); 'blocked' and 'muted' come from their own archive's block.js and
-- mute.js and are replaced with it.
CREATE TABLE member_excludes (
    member_id  bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    x_id       bigint NOT NULL CHECK (x_id > 0),
    reason     text NOT NULL CHECK (reason IN ('ignored', 'blocked', 'muted')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (member_id, x_id, reason)
);
-- The matcher asks "does anyone exclude this X id" from the other side too.
CREATE INDEX member_excludes_x ON member_excludes (x_id);
