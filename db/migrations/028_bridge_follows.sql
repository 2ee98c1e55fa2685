-- 028_bridge_follows: the bridge account follows each fediverse member, so that their server
-- sends it their Move (servers deliver a Move to the moving account's followers).

-- The bridge actor's follow of the member, kept like the relay actor's (009): its Follow's
-- id and where the member's server stands on it.
ALTER TABLE members ADD COLUMN bridge_follow_id text;
ALTER TABLE members ADD COLUMN bridge_follow_state text NOT NULL DEFAULT 'none'
    CHECK (bridge_follow_state IN ('none', 'pending', 'accepted', 'rejected'));

-- The reconciler's work list (memberfollow.c's predicate): a fediverse member not followed
-- yet, or a follow left on a row that is no longer one (a Bluesky home never is).
CREATE INDEX members_bridge_due ON members (id)
    WHERE (network = 'activitypub' AND bridge_follow_state = 'none')
       OR (network <> 'activitypub' AND bridge_follow_state <> 'none');
-- With follow_members off, every follow still standing is undone.
CREATE INDEX members_bridge_followed ON members (id) WHERE bridge_follow_state <> 'none';

-- One list of follows to undo for members who left (or moved away), whichever actor followed.
ALTER TABLE relay_unfollows ADD COLUMN signer text NOT NULL DEFAULT 'relay'
    CHECK (signer IN ('relay', 'bridge'));

-- One trigger function for both actors: TG_ARGV[0] names the actor, and so its columns.
DROP TRIGGER members_relay_unfollow ON members;
DROP FUNCTION members_relay_unfollow();
CREATE FUNCTION members_unfollow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO relay_unfollows (actor_uri, inbox, follow_id, signer)
    VALUES (OLD.actor_uri, OLD.inbox, to_jsonb(OLD) ->> (TG_ARGV[0] || '_follow_id'), TG_ARGV[0]);
    RETURN NULL;
END;
$$;
CREATE TRIGGER members_relay_unfollow AFTER DELETE ON members
    FOR EACH ROW WHEN (OLD.relay_follow_state IN ('pending', 'accepted')
                       AND OLD.relay_follow_id IS NOT NULL AND OLD.inbox IS NOT NULL)
    EXECUTE FUNCTION members_unfollow('relay');
CREATE TRIGGER members_bridge_unfollow AFTER DELETE ON members
    FOR EACH ROW WHEN (OLD.bridge_follow_state IN ('pending', 'accepted')
                       AND OLD.bridge_follow_id IS NOT NULL AND OLD.inbox IS NOT NULL)
    EXECUTE FUNCTION members_unfollow('bridge');
