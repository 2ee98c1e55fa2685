-- The matching benchmark's world, generated in bulk into a migrated, empty database.
-- psql variables: members (default 1000000), universe (X accounts, default 20 x members),
-- xmin (smallest degree, default 34: mean about 100 edges per member).
--
-- X accounts are numbered k = 1..universe; members are accounts 1..members. A member's
-- degree follows a Pareto law (density exponent 2.5: median about 54, mean about 100,
-- p99 about 730, capped at 200,000, the followers of a big account). Each edge goes from or
-- to an account drawn with k = universe * v^2 (v uniform), so popular accounts are drawn more
-- often and about a fifth of the edges join two members. X ids are k scrambled by an odd
-- multiplier modulo 2^40 (a bijection), so neighbouring k are far apart in the indexes as
-- snowflake ids of unrelated people are. Draws use hashint8extended: the same parameters
-- give the same world. Duplicates (one pair drawn twice, or from both members' sides) are
-- stored once, as the primary key wants.
\set ON_ERROR_STOP on
\if :{?members}
\else
\set members 1000000
\endif
\if :{?universe}
\else
\set universe 0
\endif
\if :{?xmin}
\else
\set xmin 34
\endif

SELECT CASE WHEN :universe = 0 THEN 20 * :members ELSE :universe END AS universe \gset
SET maintenance_work_mem = '1GB';
SET work_mem = '1GB';
SET max_parallel_maintenance_workers = 1;
SET synchronous_commit = off;

-- An account's X id; the multiplier is odd and k < 2^25, so the product fits and the map
-- is one to one modulo 2^40.
CREATE FUNCTION pg_temp.xid(k bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS
$$ SELECT 1000000000 + ((k * 159802531663) & 1099511627775) $$;
-- A uniform draw in (0, 1] from (a, salt).
CREATE FUNCTION pg_temp.u(a bigint, salt bigint) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT ((hashint8extended(a, salt) & 4503599627370495)::float8 + 1) / 4503599627370496 $$;

\echo graph: members
-- 5,000 home instances, a few very large: host index = 5000 * v^3.
BEGIN;
TRUNCATE members CASCADE;
INSERT INTO members (id, actor_uri, acct, host, inbox, x_id, x_handle, state, linked_at,
                     findable, autofollow, notify, relay, paused)
SELECT k,
       'https://' || h || '/users/u' || k,
       'u' || k || '@' || h,
       h,
       'https://' || h || '/users/u' || k || '/inbox',
       pg_temp.xid(k),
       'x' || k,
       'linked',
       now() - interval '1 day' * pg_temp.u(k, 7) * 30,
       pg_temp.u(k, 2) < 0.9,
       pg_temp.u(k, 3) < 0.4,
       pg_temp.u(k, 4) < 0.8,
       pg_temp.u(k, 5) < 0.2,
       pg_temp.u(k, 6) < 0.02
FROM generate_series(1::bigint, :members) k,
     LATERAL (SELECT 'i' || floor(5000 * pg_temp.u(k, 1) ^ 3)::int || '.example' AS h) hh;
SELECT setval('members_id_seq', :members);
COMMIT;

\echo graph: edges (generated, sorted, duplicates dropped)
-- The table is emptied and refilled without its indexes in one transaction (no WAL under
-- wal_level = minimal); the migration's primary key and index are built again afterwards.
BEGIN;
TRUNCATE x_edges;
ALTER TABLE x_edges DROP CONSTRAINT x_edges_pkey;
DROP INDEX x_edges_followee;
-- Each edge is said by member m's archive: m followed p (out) or p followed m.
INSERT INTO x_edges (follower_x_id, followee_x_id, member_id)
SELECT DISTINCT
       CASE WHEN out THEN pg_temp.xid(m) ELSE pg_temp.xid(p) END,
       CASE WHEN out THEN pg_temp.xid(p) ELSE pg_temp.xid(m) END,
       m
FROM generate_series(1::bigint, :members) m,
     LATERAL (SELECT least(200000, floor(:xmin * pg_temp.u(m, 11) ^ (-1.0 / 1.5)))::int AS d) dd,
     LATERAL (SELECT m * 1000003 + j AS s FROM generate_series(1, dd.d) j) jj,
     LATERAL (SELECT 1 + floor(:universe * pg_temp.u(jj.s, 12) ^ 2)::bigint AS p,
                     pg_temp.u(jj.s, 13) < 0.5 AS out) pp
WHERE p <> m
ORDER BY 1, 2, 3;
COMMIT;

\echo graph: primary key
ALTER TABLE x_edges ADD CONSTRAINT x_edges_pkey PRIMARY KEY (follower_x_id, followee_x_id, member_id);
\echo graph: followee index
CREATE INDEX x_edges_followee ON x_edges (followee_x_id, follower_x_id, member_id);
\echo graph: vacuum analyze
VACUUM (ANALYZE) members;
VACUUM (ANALYZE) x_edges;
