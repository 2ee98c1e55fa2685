-- 005_member_edges: a member's X graph goes with the member, whoever deletes the row.

-- x_edges is keyed by X id with no foreign key (it is the big table and shards by X id), so
-- the cascade cannot reach it. Unfollowing, an actor's Delete, the "delete" command and
-- "admin members delete" all just delete the members row; this trigger takes the edges of
-- the X account that member held. A member without an X id (a frozen second claimant) has
-- none, so a dispute's other side keeps its graph.
CREATE FUNCTION members_forget_edges() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM x_edges WHERE follower_x_id = OLD.x_id OR followee_x_id = OLD.x_id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER members_forget_edges AFTER DELETE ON members
    FOR EACH ROW WHEN (OLD.x_id IS NOT NULL) EXECUTE FUNCTION members_forget_edges();
