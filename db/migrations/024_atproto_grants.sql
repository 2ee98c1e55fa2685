-- 024_atproto_grants: Bluesky sign-in (atproto OAuth, or an app password) and the grant it leaves.

-- passerelle's own OAuth client key (ES256), one row: its private JWK sealed with token_key_file,
-- so that every process and every host serves and signs with the same key, and a backup of the
-- database carries it. The first process that needs it creates it; the others read it back.
CREATE TABLE atproto_client_key (
    id         smallint PRIMARY KEY CHECK (id = 1),
    kid        text NOT NULL CHECK (length(kid) = 43),
    jwk        bytea NOT NULL,
    jwk_nonce  bytea NOT NULL CHECK (octet_length(jwk_nonce) = 12),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A sign-in in progress, from the handle typed to the callback. Only the SHA-256 of the state
-- travels back to us; it is bound to the browser that started it (the SHA-256 of its
-- pre-session cookie), spent by the first callback that names it, and worthless after
-- expires_at. did is what the handle resolved to before the redirect: the token's sub must
-- be it. The PKCE verifier and the session's DPoP private key are sealed to the row.
CREATE TABLE atproto_states (
    hash            bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
    browser_hash    bytea NOT NULL CHECK (octet_length(browser_hash) = 32),
    did             text NOT NULL CHECK (did ~ '^did:(plc|web):'),
    handle          text NOT NULL CHECK (length(handle) BETWEEN 3 AND 253),
    pds_url         text NOT NULL,
    issuer          text NOT NULL,
    token_endpoint  text NOT NULL,
    revocation_endpoint text,
    verifier        bytea NOT NULL,
    verifier_nonce  bytea NOT NULL CHECK (octet_length(verifier_nonce) = 12),
    dpop_key        bytea NOT NULL,
    dpop_key_nonce  bytea NOT NULL CHECK (octet_length(dpop_key_nonce) = 12),
    as_dpop_nonce   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX atproto_states_expires ON atproto_states (expires_at);

-- A Bluesky member's grant: what passerelle may do in their repository. 'oauth': DPoP-bound
-- tokens from their authorization server (issuer), with the session's DPoP key sealed and the
-- last DPoP nonces of the authorization server and of the PDS kept apart. 'app_password': the
-- password was exchanged once (createSession) and never kept; only its refresh token is.
-- Refresh tokens are single use, so a refresh holds the row's lease (refresh_lease, until
-- refresh_until): one refresh per grant at a time, in any process; the others wait and read
-- the new access token.
CREATE TABLE atproto_grants (
    member_id           bigint PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    did                 text NOT NULL UNIQUE CHECK (did ~ '^did:(plc|web):'),
    kind                text NOT NULL CHECK (kind IN ('oauth', 'app_password')),
    pds_url             text NOT NULL,
    issuer              text,
    token_endpoint      text,
    revocation_endpoint text,
    scope               text,
    access_token        bytea,
    access_nonce        bytea CHECK (octet_length(access_nonce) = 12),
    access_expires_at   timestamptz,
    refresh_token       bytea NOT NULL,
    refresh_nonce       bytea NOT NULL CHECK (octet_length(refresh_nonce) = 12),
    dpop_key            bytea,
    dpop_key_nonce      bytea CHECK (octet_length(dpop_key_nonce) = 12),
    as_dpop_nonce       text,
    pds_dpop_nonce      text,
    expires_at          timestamptz,
    refresh_lease       text,
    refresh_until       timestamptz,
    refreshed_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'oauth' OR (issuer IS NOT NULL AND token_endpoint IS NOT NULL
                               AND dpop_key IS NOT NULL AND dpop_key_nonce IS NOT NULL)),
    CHECK ((access_token IS NULL) = (access_nonce IS NULL))
);
