-- 008_oauth: following in a member's name through their own server (additive).

-- An authorization in progress, from "connect your server" to the callback. Only the
-- SHA-256 of the state travels back to us; the PKCE verifier is sealed like a token. It is
-- bound to the page session that started it, spent (deleted) by the first callback that
-- names it, and worthless after expires_at.
CREATE TABLE oauth_states (
    hash           bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
    member_id      bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    session_hash   bytea NOT NULL REFERENCES sessions (hash) ON DELETE CASCADE,
    host           text NOT NULL REFERENCES oauth_apps (host) ON DELETE CASCADE,
    verifier       bytea NOT NULL,
    verifier_nonce bytea NOT NULL CHECK (octet_length(verifier_nonce) = 12),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX oauth_states_member ON oauth_states (member_id);
CREATE INDEX oauth_states_expires ON oauth_states (expires_at);

-- The follow worker's budget and lease per grant. API requests are counted in 5-minute
-- windows aligned on the epoch, as Mastodon counts its per-token limit, so staying under
-- ours keeps under theirs. Follows per rolling day are counted from follow_actions.done_at.
ALTER TABLE oauth_grants ADD COLUMN api_window_start timestamptz;
ALTER TABLE oauth_grants ADD COLUMN api_requests integer NOT NULL DEFAULT 0
    CHECK (api_requests >= 0);
-- A worker holds the grant until then: one follow at a time per member, in any process.
ALTER TABLE oauth_grants ADD COLUMN busy_until timestamptz;

-- The rolling day's count of follows made for one member.
CREATE INDEX follow_actions_done ON follow_actions (follower_id, done_at)
    WHERE done_at IS NOT NULL;
