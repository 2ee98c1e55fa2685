-- 001_init: instances, members and their X graph, grants and codes, the delivery queue.
-- migrate.c wraps this file in a transaction and records it in schema_migrations.

-- Every instance we know of: relay subscribers, members' home servers, delivery targets.
-- One row per host, so blocking and delivery health live in one place.
CREATE TABLE instances (
    domain               text PRIMARY KEY CHECK (domain <> '' AND domain = lower(domain)),
    actor_uri            text,
    inbox                text,
    shared_inbox         text,
    -- 'none': known, not subscribed to the relay.
    relay_state          text NOT NULL DEFAULT 'none'
                         CHECK (relay_state IN ('none', 'pending', 'accepted', 'rejected',
                                                'unsubscribed')),
    -- The id of their Follow: embedded in our Accept, matched against their Undo.
    follow_id            text,
    -- Mastodon follows as:Public; LitePub servers follow the relay actor and are followed back.
    style                text CHECK (style IN ('mastodon', 'litepub')),
    -- Set when the relay follows a LitePub subscriber back (the id of our Follow).
    our_follow_id        text,
    blocked              boolean NOT NULL DEFAULT false,
    allowed              boolean NOT NULL DEFAULT false,
    consecutive_failures integer NOT NULL DEFAULT 0 CHECK (consecutive_failures >= 0),
    last_success_at      timestamptz,
    last_failure_at      timestamptz,
    paused_until         timestamptz,
    dead                 boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (NOT (blocked AND allowed)),
    CHECK (relay_state IN ('none', 'unsubscribed') OR actor_uri IS NOT NULL)
);
CREATE INDEX instances_relay_accepted ON instances (domain)
    WHERE relay_state = 'accepted' AND NOT blocked;

-- Cache of remote actors and their keys, refreshed when a signature stops verifying.
CREATE TABLE remote_actors (
    uri                text PRIMARY KEY,
    key_id             text,
    public_key_pem     text,
    inbox              text,
    shared_inbox       text,
    type               text,
    preferred_username text,
    fetched_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX remote_actors_key_id ON remote_actors (key_id) WHERE key_id IS NOT NULL;

-- People who followed the bridge account. x_id is the one accepted binding of an X account;
-- competing claims are kept in x_claims. Removing a member removes everything of theirs below.
CREATE TABLE members (
    id                 bigserial PRIMARY KEY,
    actor_uri          text NOT NULL UNIQUE,
    -- user@host, for the Mastodon import CSV and for messages.
    acct               text,
    -- Lower-case host of actor_uri: claims are rate-limited per instance and relayed per instance.
    host               text NOT NULL CHECK (host <> '' AND host = lower(host)),
    -- The id of their Follow of the bridge account, matched against their Undo.
    follow_id          text,
    x_id               bigint UNIQUE CHECK (x_id > 0),
    x_handle           text,
    state              text NOT NULL DEFAULT 'joined'
                       CHECK (state IN ('joined', 'linked', 'disputed', 'suspended')),
    linked_at          timestamptz,
    findable           boolean NOT NULL DEFAULT true,
    autofollow         boolean NOT NULL DEFAULT false,
    notify             boolean NOT NULL DEFAULT true,
    relay              boolean NOT NULL DEFAULT false,
    -- The relay actor follows members who allowed relaying; this is our Follow's progress.
    relay_follow_id    text,
    relay_follow_state text NOT NULL DEFAULT 'none'
                       CHECK (relay_follow_state IN ('none', 'pending', 'accepted', 'rejected')),
    -- Notices are batched into at most one message a day.
    last_notified_at   timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CHECK (x_handle IS NULL OR x_id IS NOT NULL),
    CHECK (state <> 'linked' OR x_id IS NOT NULL)
);
-- WebFinger answers acct:HANDLE@BRIDGE case-insensitively; handles can be reused, so not unique.
CREATE INDEX members_x_handle ON members (lower(x_handle)) WHERE x_handle IS NOT NULL;
CREATE INDEX members_host ON members (host);

-- Every claim of an X account from an uploaded archive; two claims on one x_id freeze both.
CREATE TABLE x_claims (
    x_id       bigint NOT NULL CHECK (x_id > 0),
    member_id  bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (x_id, member_id)
);
CREATE INDEX x_claims_member ON x_claims (member_id);

-- What each member consented to, when, and through which channel. Append-only.
CREATE TABLE consent_ledger (
    id         bigserial PRIMARY KEY,
    member_id  bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    consent    text NOT NULL CHECK (consent IN ('findable', 'autofollow', 'notify', 'relay')),
    value      boolean NOT NULL,
    source     text NOT NULL CHECK (source IN ('default', 'page', 'message', 'cli')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_ledger_member ON consent_ledger (member_id, created_at);

-- The X follow graph from archives, by X id only (no foreign key: it is the big table and
-- shards by X id). The application deletes a leaving member's edges by x_id.
CREATE TABLE x_edges (
    follower_x_id bigint NOT NULL CHECK (follower_x_id > 0),
    followee_x_id bigint NOT NULL CHECK (followee_x_id > 0),
    PRIMARY KEY (follower_x_id, followee_x_id),
    CHECK (follower_x_id <> followee_x_id)
);
CREATE INDEX x_edges_followee ON x_edges (followee_x_id, follower_x_id);

-- Follows made (or offered) in a member's name; each pair at most once.
CREATE TABLE follow_actions (
    id              bigserial PRIMARY KEY,
    follower_id     bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    followee_id     bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    -- api: through the follower's OAuth grant; notice: a link in a message; csv: the import file.
    method          text NOT NULL CHECK (method IN ('api', 'notice', 'csv')),
    state           text NOT NULL DEFAULT 'planned'
                    CHECK (state IN ('planned', 'held', 'done', 'failed', 'undone')),
    -- A follow toward a new claim is held until this time (the dispute grace period).
    hold_until      timestamptz,
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (follower_id, followee_id),
    CHECK (follower_id <> followee_id)
);
CREATE INDEX follow_actions_followee ON follow_actions (followee_id);
CREATE INDEX follow_actions_due ON follow_actions (next_attempt_at)
    WHERE state IN ('planned', 'held');

-- Our client registration on each member's home server (POST /api/v1/apps).
-- The client secret is sealed like the grants (AES-256-GCM with the configured key).
CREATE TABLE oauth_apps (
    host                text PRIMARY KEY CHECK (host <> '' AND host = lower(host)),
    client_id           text NOT NULL,
    client_secret       bytea NOT NULL,
    client_secret_nonce bytea NOT NULL CHECK (octet_length(client_secret_nonce) = 12),
    redirect_uri        text NOT NULL,
    scopes              text NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT now()
);

-- A member's access token on their home server, sealed with AES-256-GCM; never stored in clear.
CREATE TABLE oauth_grants (
    member_id          bigint PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    host               text NOT NULL REFERENCES oauth_apps (host) ON DELETE CASCADE,
    ciphertext         bytea NOT NULL,
    nonce              bytea NOT NULL CHECK (octet_length(nonce) = 12),
    scopes             text NOT NULL,
    -- Set from a 429's reset header: no API call before this time.
    rate_limited_until timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_grants_host ON oauth_grants (host);

-- One-time links sent to members; only a SHA-256 of the code is stored.
CREATE TABLE link_codes (
    hash       bytea PRIMARY KEY CHECK (octet_length(hash) = 32),
    member_id  bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX link_codes_member ON link_codes (member_id);

-- Outgoing activities, each payload stored once whatever the number of targets.
-- member_id ties an activity to the member it concerns, so their leaving drops its deliveries.
CREATE TABLE activities (
    id         bigserial PRIMARY KEY,
    -- Which of our actors signs it.
    signer     text NOT NULL CHECK (signer IN ('relay', 'bridge')),
    member_id  bigint REFERENCES members (id) ON DELETE CASCADE,
    payload    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activities_member ON activities (member_id) WHERE member_id IS NOT NULL;

-- One row per target inbox (shared inboxes merged). Workers claim due rows with
-- FOR UPDATE SKIP LOCKED and push next_attempt_at forward as a lease, so a crash loses nothing.
CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    activity_id     bigint NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    inbox           text NOT NULL,
    host            text NOT NULL CHECK (host <> '' AND host = lower(host)),
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'done', 'dropped', 'dead')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_status     integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (activity_id, inbox)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_host_pending ON deliveries (host) WHERE state = 'pending';

-- Ids of incoming activities already handled, so a redelivery is acknowledged and ignored.
CREATE TABLE seen_activity_ids (
    id      text PRIMARY KEY,
    seen_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX seen_activity_ids_seen_at ON seen_activity_ids (seen_at);
