-- 007_match: which members have news for the daily notice (additive).

-- The matcher adds a member here when it plans a row that member has not been told about;
-- the notice worker claims due rows (SKIP LOCKED), sends at most one message a day, and
-- deletes the row. A table of its own rather than a members column: the matcher holds
-- share locks on the other members of its pairs, and updating their rows from two matchers
-- at once could deadlock, whereas inserts here (sorted, ON CONFLICT DO NOTHING) cannot.
CREATE TABLE notice_due (
    member_id bigint PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    due_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notice_due_at ON notice_due (due_at);
