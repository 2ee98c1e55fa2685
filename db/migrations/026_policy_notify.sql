-- 026_policy_notify: every process keeps the admin's domain policy (instances.blocked and
-- allowed) in memory instead of reading it on every inbox POST; this trigger tells them
-- (NOTIFY passerelle_policy, see include/domains.h) whenever it changes, whoever changed it:
-- the admin commands, another process, or an operator in psql.

CREATE FUNCTION instances_policy_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- One notification per transaction: PostgreSQL folds identical ones together.
    PERFORM pg_notify('passerelle_policy', '');
    RETURN NULL;
END;
$$;

-- Only rows that block or allow, or stop doing so: a subscription's INSERT or UPDATE (the
-- inbox's hot path) names neither column with a value that matters and fires nothing.
CREATE TRIGGER instances_policy_insert AFTER INSERT ON instances
    FOR EACH ROW WHEN (NEW.blocked OR NEW.allowed) EXECUTE FUNCTION instances_policy_notify();
CREATE TRIGGER instances_policy_update AFTER UPDATE OF blocked, allowed, domain ON instances
    FOR EACH ROW WHEN (OLD.blocked IS DISTINCT FROM NEW.blocked
                       OR OLD.allowed IS DISTINCT FROM NEW.allowed
                       OR (OLD.domain IS DISTINCT FROM NEW.domain AND (NEW.blocked OR NEW.allowed)))
    EXECUTE FUNCTION instances_policy_notify();
CREATE TRIGGER instances_policy_delete AFTER DELETE ON instances
    FOR EACH ROW WHEN (OLD.blocked OR OLD.allowed) EXECUTE FUNCTION instances_policy_notify();
CREATE TRIGGER instances_policy_truncate AFTER TRUNCATE ON instances
    FOR EACH STATEMENT EXECUTE FUNCTION instances_policy_notify();
