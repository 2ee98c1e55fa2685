-- 002_queue: what the delivery queue needs beyond 001 (additive only).

-- A worker's claim on a row: who holds it and until when. The claim also pushes
-- next_attempt_at to claimed_until, so a row whose worker died becomes due again by itself;
-- claimed_by lets a late answer from a worker that lost its claim change nothing.
ALTER TABLE deliveries ADD COLUMN claimed_until timestamptz;
ALTER TABLE deliveries ADD COLUMN claimed_by text;

-- Distinct UTC days with at least one failed delivery since the host's last success
-- (Mastodon's DeliveryFailureTracker counts days too); enough of them mark the host dead.
ALTER TABLE instances ADD COLUMN failure_days integer NOT NULL DEFAULT 0
    CHECK (failure_days >= 0);

-- The admin view and the sweep look rows up by host and state, and finished rows by age.
CREATE INDEX deliveries_host_state ON deliveries (host, state);
CREATE INDEX deliveries_finished ON deliveries (updated_at) WHERE state <> 'pending';
CREATE INDEX instances_unavailable ON instances (domain) WHERE dead OR paused_until IS NOT NULL;
