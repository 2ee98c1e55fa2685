-- 022_moves: a member's account moves (an ActivityPub Move the new actor's alsoKnownAs
-- confirms): the membership keeps its row and everything tied to it, under the new actor.

-- The ledger notes the move: one row per consent, its value carried over unchanged.
ALTER TABLE consent_ledger DROP CONSTRAINT consent_ledger_source_check;
ALTER TABLE consent_ledger ADD CONSTRAINT consent_ledger_source_check
    CHECK (source IN ('default', 'page', 'message', 'cli', 'move'));

-- Every move carried over: from which actor to which, by which Move, and when the new actor
-- was a member already, the id its row had before it was merged into this one.
CREATE TABLE member_moves (
    id               bigserial PRIMARY KEY,
    member_id        bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    from_actor       text NOT NULL,
    to_actor         text NOT NULL CHECK (to_actor <> from_actor),
    activity_id      text NOT NULL,
    merged_member_id bigint,
    moved_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX member_moves_member ON member_moves (member_id, moved_at);
