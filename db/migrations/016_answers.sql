-- 016_answers: what one remote host can make the bridge answer, queue and store (additive).

-- The host (url_authority form) whose actor's activity this activity answers: an Accept, a
-- Reject, a welcome, a reply to a direct message. NULL for what the bridge sends on its own
-- (announces, notices, the relay's follows). An answer goes only to that host; each host has
-- at most queue_max_answers_per_host of them stored at once; and an answer's failures never
-- count toward its host's breaker, so an actor that never subscribed cannot pause a host.
ALTER TABLE activities ADD COLUMN origin text
    CHECK (origin IS NULL OR (origin <> '' AND origin = lower(origin)));
CREATE INDEX activities_origin ON activities (origin) WHERE origin IS NOT NULL;

-- When the member was last sent the welcome message: repeated Follows of the bridge by one
-- actor are each accepted, and welcomed at most once a day.
ALTER TABLE members ADD COLUMN welcomed_at timestamptz;

-- Actors that are not members, and when the bridge last answered a message of theirs with
-- its help: at most once a day each. Rows older than a day have no use and are swept.
CREATE TABLE stranger_replies (
    actor_uri  text PRIMARY KEY,
    replied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stranger_replies_replied_at ON stranger_replies (replied_at);
