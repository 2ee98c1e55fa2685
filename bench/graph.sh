#!/bin/sh
# The matching benchmark's database: a persistent PostgreSQL holding a generated world of
# BENCH_MEMBERS members (default 1,000,000) and about 100 X edges each. Generated once, at
# the lowest CPU and I/O priority, then reused by every later run.
#   bench/graph.sh BUILD DIR    start it (generating it first if needed); print its conninfo
#   bench/graph.sh stop DIR     stop it
# One line on stderr says whether it was reused or how long the generation took.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
if [ "${1:-}" = stop ]; then
    exec sh scripts/pg.sh stop "${2:?usage: graph.sh stop DIR}/pg"
fi
BUILD=${1:?usage: graph.sh BUILD DIR}
dir=${2:?usage: graph.sh BUILD DIR}
members=${BENCH_MEMBERS:-1000000}
mkdir -p "$dir"
url=$(sh scripts/pg.sh url "$dir/pg")
psqlq() { psql "$url" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }

# The marker row is written last, so a generation cut short is started again.
done_row() {
    psqlq -c "SELECT to_regclass('bench_graph') IS NOT NULL" | grep -q t &&
        psqlq -c "SELECT members, edges, seconds, created_at::date FROM bench_graph WHERE members = $members"
}

PG_FSYNC=off sh scripts/pg.sh start "$dir/pg" >/dev/null
row=$(done_row || true)
if [ -z "$row" ]; then
    # Bulk settings: no WAL for the tables filled in the transaction that emptied them, and
    # room for the index builds. The cluster is restarted niced so every backend inherits it.
    psqlq -c "ALTER SYSTEM SET wal_level = minimal" -c "ALTER SYSTEM SET max_wal_senders = 0" \
        -c "ALTER SYSTEM SET max_wal_size = '8GB'" -c "ALTER SYSTEM SET shared_buffers = '1GB'" \
        -c "ALTER SYSTEM SET checkpoint_timeout = '30min'" >/dev/null
    sh scripts/pg.sh stop "$dir/pg"
    PG_FSYNC=off nice -n 19 ionice -c 3 sh scripts/pg.sh start "$dir/pg" >/dev/null
    echo "bench: generating the matching data ($members members) in $dir: this takes a while" >&2
    t0=$(date +%s)
    PASSERELLE_DATABASE_URL=$url "$BUILD/passerelle" migrate >/dev/null 2>&1
    psqlq -c "SET client_min_messages = warning" -c "DROP TABLE IF EXISTS bench_graph"
    nice -n 19 psql "$url" -X -q -v ON_ERROR_STOP=1 -v members="$members" -f bench/graph.sql \
        >"$dir/generate.log" 2>&1 || { cat "$dir/generate.log" >&2; exit 1; }
    secs=$(($(date +%s) - t0))
    psqlq -c "CREATE TABLE bench_graph (members bigint, edges bigint, seconds bigint,
                  created_at timestamptz DEFAULT now())" \
        -c "INSERT INTO bench_graph (members, edges, seconds)
                SELECT $members, (SELECT count(*) FROM x_edges), $secs"
    sh scripts/pg.sh stop "$dir/pg"
    PG_FSYNC=off sh scripts/pg.sh start "$dir/pg" >/dev/null
    row=$(done_row)
    echo "bench: matching data generated in $secs s" >&2
else
    echo "bench: matching data reused from $dir (generated on $(echo "$row" | cut -d'|' -f4) in $(echo "$row" | cut -d'|' -f3) s)" >&2
fi
# Migrations added since the generation (they are additive) are applied to it.
PASSERELLE_DATABASE_URL=$url "$BUILD/passerelle" migrate >/dev/null 2>&1
echo "$url"
