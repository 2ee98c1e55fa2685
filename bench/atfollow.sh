#!/bin/sh
# Bluesky follows written per second for one member, beside the PDS's own limit: starts a
# throwaway PostgreSQL and runs bench/atfollow.mjs (the reference PDS from tests/atproto, the
# real server). Usage: sh bench/atfollow.sh [BUILD] [FOLLOWS]   (default build, 200)
set -eu
BUILD=${1:-build}
N=${2:-200}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tmp=$(mktemp -d /tmp/passerelle-atbench.XXXXXX)
cleanup() {
    sh scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
PG_FSYNC=off sh scripts/pg.sh start "$tmp/pg" >/dev/null
PASSERELLE_TEST_PG=$(sh scripts/pg.sh url "$tmp/pg") PASSERELLE_TEST_PGDIR=$tmp/pg \
    PASSERELLE_BIN=$top/$BUILD/passerelle node bench/atfollow.mjs "$N"
