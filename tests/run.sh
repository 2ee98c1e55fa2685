#!/bin/sh
# Runs every test (unit, integration, interop) and ends with one line: "N passed, N failed".
# Each test program prints TAP lines ("ok N - name" / "not ok N - name"); this script counts
# them, and counts a program that exits non-zero without a "not ok" line as one failure.
# Environment: BUILD (build folder, default build), TEST_ONLY (unit|integration|interop|browser|install|lint|bench),
# TEST_MATCH (an extended regex over names such as integration/inbox.test.mjs),
# PASSERELLE_VALGRIND=1 (integration servers run under valgrind).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
export PASSERELLE_BIN="$top/$BUILD/passerelle"
only=${TEST_ONLY:-}
tmp=$(mktemp -d /tmp/passerelle-test.XXXXXX)
chmod 755 "$tmp"
passed=0
failed=0
# The test peers' RSA keys, made once per run and shared by the test files (tests/lib/actorhost.mjs).
export PASSERELLE_TEST_KEYDIR="$tmp/keys"
mkdir -p "$PASSERELLE_TEST_KEYDIR"

cleanup() {
    sh scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# run_one NAME COMMAND...: runs it with a time limit, shows its output, counts its lines.
run_one() {
    name=$1
    shift
    # TEST_MATCH=pattern runs only the tests whose name (e.g. integration/inbox.test.mjs) matches.
    if [ -n "${TEST_MATCH:-}" ] && ! printf '%s\n' "$name" | grep -Eq "$TEST_MATCH"; then
        return 0
    fi
    out="$tmp/out.txt"
    t0=$(date +%s)
    timeout -k 5 "${TEST_TIMEOUT:-300}" "$@" >"$out" 2>"$tmp/err.txt"
    rc=$?
    secs=$(($(date +%s) - t0))
    p=$(grep -c '^ok ' "$out")
    f=$(grep -c '^not ok ' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name exited with status $rc" >>"$out"
    fi
    if [ "$f" -gt 0 ] || [ -n "${VERBOSE:-}" ]; then
        echo "== $name"
        cat "$out"
        echo "-- stderr of $name (last 40 lines)"
        tail -40 "$tmp/err.txt"
    else
        echo "== $name: $p passed (${secs} s)"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

if [ -z "$only" ] || [ "$only" = unit ] || [ "$only" = integration ] || [ "$only" = interop ] ||
    [ "$only" = browser ]; then
    PG_FSYNC=off sh scripts/pg.sh start "$tmp/pg" >"$tmp/pgurl" || { echo "0 passed, 1 failed"; exit 1; }
    export PASSERELLE_TEST_PG="$(cat "$tmp/pgurl")"
    export PASSERELLE_TEST_PGDIR="$tmp/pg"
fi

if [ -z "$only" ] || [ "$only" = unit ]; then
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        run_one "unit/$(basename "$t")" "$t"
    done
fi

if [ -z "$only" ] || [ "$only" = integration ]; then
    for t in tests/integration/*.test.mjs; do
        [ -f "$t" ] || continue
        run_one "integration/$(basename "$t")" node "$t"
    done
fi

if [ -z "$only" ] || [ "$only" = interop ]; then
    if [ -n "$(ls tests/interop/*.test.mjs 2>/dev/null)" ]; then
        if [ ! -d tests/interop/node_modules ]; then
            (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error) >"$tmp/npm.log" 2>&1 ||
                { cat "$tmp/npm.log"; failed=$((failed + 1)); }
        fi
        for t in tests/interop/*.test.mjs; do
            run_one "interop/$(basename "$t")" node "$t"
        done
        # make demo's story is an end-to-end test too: each expectation is an "ok" line.
        run_one "demo/demo.mjs" node scripts/demo.mjs
    fi
fi

# The link page in Debian's Chromium (scripts/deps.sh installs it), driven by playwright-core
# from tests/interop's node_modules.
if [ -z "$only" ] || [ "$only" = browser ]; then
    if [ -n "$(ls tests/browser/*.test.mjs 2>/dev/null)" ]; then
        if [ ! -d tests/interop/node_modules/playwright-core ]; then
            (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error) >"$tmp/npm.log" 2>&1 ||
                { cat "$tmp/npm.log"; failed=$((failed + 1)); }
        fi
        for t in tests/browser/*.test.mjs; do
            run_one "browser/$(basename "$t")" node "$t"
        done
    fi
fi

# make install into a temporary DESTDIR: the systemd unit (systemd-analyze), the man page
# (man, groff), make uninstall (tests/install/).
if [ -z "$only" ] || [ "$only" = install ]; then
    for t in tests/install/*.test.sh; do
        [ -f "$t" ] || continue
        run_one "install/$(basename "$t")" env BUILD="$BUILD" sh "$t"
    done
fi

# The checkers make lint runs, on small programs of their own (tests/lint/): they must be able
# to fail.
if [ -z "$only" ] || [ "$only" = lint ]; then
    for t in tests/lint/*.test.sh; do
        [ -f "$t" ] || continue
        run_one "lint/$(basename "$t")" sh "$t"
    done
fi

# The benchmark programs with tiny sizes (make bench-quick): a smoke test that they still
# build, run and agree with the server; the figures themselves mean nothing at this size.
if [ -z "$only" ] || [ "$only" = bench ]; then
    run_one "bench/quick" env BENCH_QUICK=1 sh bench/run.sh "$BUILD"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
