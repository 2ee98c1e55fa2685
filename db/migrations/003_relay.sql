-- 003_relay: relay subscriptions and admin blocks (additive only).

-- Nothing reaches a blocked host, except the Reject that tells it so: the admin's block
-- queues that Reject and marks the domain blocked in one transaction.
ALTER TABLE activities ADD COLUMN despite_block boolean NOT NULL DEFAULT false;

-- LitePub subscribers are followed back; their Accept or Reject of our Follow is tracked.
ALTER TABLE instances ADD COLUMN our_follow_state text NOT NULL DEFAULT 'none'
    CHECK (our_follow_state IN ('none', 'pending', 'accepted', 'rejected'));

-- When the subscription last changed state (for the admin list).
ALTER TABLE instances ADD COLUMN subscribed_at timestamptz;
