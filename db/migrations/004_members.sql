-- 004_members: what joining, the direct-message commands and the link page need (additive).

-- Where direct messages to a member go (their own inbox, not the shared one).
ALTER TABLE members ADD COLUMN inbox text;
-- "pause": nothing is done in the member's name until "resume".
ALTER TABLE members ADD COLUMN paused boolean NOT NULL DEFAULT false;
-- "delete" asks first; a confirmation within the window forgets the member.
ALTER TABLE members ADD COLUMN delete_requested_at timestamptz;
-- Commands are rate-limited per member: a fixed window and the count inside it.
ALTER TABLE members ADD COLUMN commands_window_start timestamptz;
ALTER TABLE members ADD COLUMN commands_in_window integer NOT NULL DEFAULT 0
    CHECK (commands_in_window >= 0);
-- The language the member's messages and page use ('en' or 'fr').
ALTER TABLE members ADD COLUMN lang text NOT NULL DEFAULT 'en' CHECK (lang IN ('en', 'fr'));

-- Who changed a consent from where (the page's client address; NULL for messages and CLI).
ALTER TABLE consent_ledger ADD COLUMN client_addr inet;

-- "report @user@host": a member says a claim looks wrong; an admin reads these.
CREATE TABLE reports (
    id         bigserial PRIMARY KEY,
    member_id  bigint REFERENCES members (id) ON DELETE SET NULL,
    target     text NOT NULL CHECK (length(target) BETWEEN 3 AND 512),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Link page sessions: the cookie's token and its CSRF token, both stored as SHA-256 only.
CREATE TABLE sessions (
    hash       bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
    member_id  bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    csrf_hash  bytea NOT NULL CHECK (octet_length(csrf_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX sessions_member ON sessions (member_id);
CREATE INDEX sessions_expires ON sessions (expires_at);
