#!/bin/sh
# make demo: a throwaway PostgreSQL under var/demo/, the test peers' npm packages, then the
# story (scripts/demo.mjs) against the freshly built binary. Stops everything it started.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
if [ ! -d tests/interop/node_modules/@fedify ]; then
    echo "demo: installing the Fedify peers (npm ci in tests/interop)"
    (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error)
fi
mkdir -p var/demo
sh scripts/pg.sh destroy var/demo/pg
PASSERELLE_TEST_PG=$(PG_FSYNC=off sh scripts/pg.sh start var/demo/pg)
PASSERELLE_TEST_PGDIR="$top/var/demo/pg"
PASSERELLE_BIN="$top/$BUILD/passerelle"
export PASSERELLE_TEST_PG PASSERELLE_TEST_PGDIR PASSERELLE_BIN
trap 'sh scripts/pg.sh destroy var/demo/pg >/dev/null 2>&1' EXIT INT TERM
node scripts/demo.mjs
