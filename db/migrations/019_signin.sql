-- 019_signin: joining from the web, signed in through one's own fediverse server (additive).

-- A sign-in in progress, from the home page's form to the callback. Like oauth_states, but
-- there is no member or page session yet: the state is bound to a pre-session cookie set by
-- the form's POST (only its SHA-256 is kept), so that a callback brought to another browser
-- is refused (login CSRF). The address was resolved before the redirect: the actor the token's
-- account must be, its inbox and acct are kept here until the callback. Spent (deleted) by the
-- first callback that names it, worthless after expires_at.
CREATE TABLE signin_states (
    hash           bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
    presession     bytea NOT NULL CHECK (octet_length(presession) = 32),
    host           text NOT NULL REFERENCES oauth_apps (host) ON DELETE CASCADE,
    actor_uri      text NOT NULL,
    acct           text NOT NULL,
    inbox          text NOT NULL,
    -- The person ticked "follow my former contacts for me": the follow scopes were asked too.
    follows        boolean NOT NULL,
    lang           text NOT NULL CHECK (lang ~ '^[a-z]{2,3}$'),
    verifier       bytea NOT NULL,
    verifier_nonce bytea NOT NULL CHECK (octet_length(verifier_nonce) = 12),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX signin_states_expires ON signin_states (expires_at);
