-- 009_relay: old X handles (stand-in actors) and the targeted relay (additive).

-- A stand-in actor (<base>/x/<x id>) refuses Follows with a Reject that it signs itself
-- (Mastodon matches a Reject to the follow request by its actor), with the server's key
-- under its own key id. The queue signs a row whose signer is 'x:<x id>' that way.
ALTER TABLE activities DROP CONSTRAINT activities_signer_check;
ALTER TABLE activities ADD CONSTRAINT activities_signer_check
    CHECK (signer IN ('relay', 'bridge') OR signer ~ '^x:[1-9][0-9]{0,18}$');

-- Posts the relay has announced, by object id: one post reaches us by several paths (the
-- relay's follow of its author, a subscribed instance's relay traffic, redeliveries under
-- new activity ids) and is announced once. Forgotten after 14 days, like seen activity ids.
CREATE TABLE relayed_objects (
    object_id    text PRIMARY KEY,
    member_id    bigint NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    announced_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX relayed_objects_announced_at ON relayed_objects (announced_at);

-- The reconciler's work list: members whose relay consent and the relay actor's follow of
-- them disagree (a Follow to send, an Undo to send, a refusal to forget). Kept small by
-- its predicate, so polling it is cheap whatever the number of members.
CREATE INDEX members_relay_due ON members (id)
    WHERE (relay AND state = 'linked' AND NOT paused AND relay_follow_state = 'none')
       OR (NOT (relay AND state = 'linked' AND NOT paused) AND relay_follow_state <> 'none');

-- The target instances of an Announce are found through the members of each host.
CREATE INDEX members_host_x_id ON members (host, x_id) WHERE x_id IS NOT NULL;

-- A member who leaves while the relay follows them is still sent the Undo of that follow:
-- their row is gone, so what the Undo needs waits here until the reconciler queues it.
CREATE TABLE relay_unfollows (
    id         bigserial PRIMARY KEY,
    actor_uri  text NOT NULL,
    inbox      text NOT NULL,
    follow_id  text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION members_relay_unfollow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO relay_unfollows (actor_uri, inbox, follow_id)
    VALUES (OLD.actor_uri, OLD.inbox, OLD.relay_follow_id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER members_relay_unfollow AFTER DELETE ON members
    FOR EACH ROW WHEN (OLD.relay_follow_state IN ('pending', 'accepted')
                       AND OLD.relay_follow_id IS NOT NULL AND OLD.inbox IS NOT NULL)
    EXECUTE FUNCTION members_relay_unfollow();
