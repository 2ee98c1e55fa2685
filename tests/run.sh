#!/bin/sh
# Runs every test (unit, integration, interop) and ends with one line: "N passed, N failed".
# Each test program prints TAP lines ("ok N - name" / "not ok N - name"); this script counts
# them, and counts a program that exits non-zero without a "not ok" line as one failure.
# Environment: BUILD (build folder, default build), TEST_ONLY (unit|integration|interop|browser|install|lint|bench),
# TEST_MATCH (an extended regex over names such as integration/inbox.test.mjs),
# TEST_JOBS (test files run at a time, default the number of cores, at least 2; 1 under
# PASSERELLE_VALGRIND), TEST_TIMEOUT (seconds a file may take, default 300),
# PASSERELLE_VALGRIND=1 (integration servers run under valgrind), VERBOSE=1 (every output).
#
# Lanes: most files spend their time waiting on timers and peers, so the unit, integration,
# interop, demo and browser files run TEST_JOBS at a time (each its own databases, free ports
# and temporary folders; the run's PostgreSQL cluster and key folder are shared). The files in
# SERIAL below measure time or load, or take the shared cluster away; they run afterwards, one
# at a time with nothing else of this run beside them, as do install, lint and bench/quick.
# Output stays in the order of names, each file's whole, whatever the lanes.
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
# The test peers' RSA keys, made once per run and shared by the test files (tests/lib/keypool.mjs).
export PASSERELLE_TEST_KEYDIR="$tmp/keys"
mkdir -p "$PASSERELLE_TEST_KEYDIR"

# The serial lane, with why each file cannot share the machine with others of the run:
SERIAL="
unit/test_db                       stops and starts the shared PostgreSQL cluster (scripts/pg.sh)
integration/crash.test.mjs         delivery rates under kill -9: 'N deliveries in 20 s'
integration/faults_http.test.mjs   asserts header/body timeouts to the second and /actor under 1 s
integration/faults_peers.test.mjs  slow and stalled peers against the server's time limits
integration/faults_pg.test.mjs     stops and kills the shared PostgreSQL cluster (pgCluster)
integration/groupcommit.test.mjs   stops the shared cluster; counts commits per batch under load
integration/keyfetch.test.mjs      asserts a second POST waits under 1 s while a key fetch hangs
integration/lifecycle.test.mjs     asserts shutdown and lock waits in seconds
integration/limits.test.mjs        asserts request_timeout to the second, stalled clients under 1.5 s
integration/outage.test.mjs        stops and restarts the shared PostgreSQL cluster (pgCluster)
integration/scaleout.test.mjs      several server processes on one port, deliveries against time
integration/tls.test.mjs           asserts a stalled TLS client is cut between 2.5 and 8 s
browser/link-contract.test.mjs     stops and starts the shared PostgreSQL cluster (scripts/pg.sh)
"
is_serial() {
    printf '%s\n' "$SERIAL" | grep -q "^$1 "
}

# Lanes: TEST_JOBS, or the cores (at least 2: the files mostly wait); one under valgrind,
# whose servers already use more than a core each: eight integration files took 92 s in one
# lane and 147 s in two (contacts 130 s instead of 9) on the 2-core machine.
cores=$(nproc 2>/dev/null || echo 2)
[ "$cores" -ge 2 ] 2>/dev/null || cores=2
if [ "${PASSERELLE_VALGRIND:-}" = 1 ]; then jobs=${TEST_JOBS:-1}; else jobs=${TEST_JOBS:-$cores}; fi
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1

workers=""
cleanup() {
    for w in $workers; do kill "$w" 2>/dev/null; done
    for p in "$tmp"/q/*/pid "$tmp"/one/pid; do
        [ -f "$p" ] && [ ! -e "${p%pid}done" ] && kill "$(cat "$p")" 2>/dev/null
    done
    sh scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wanted NAME: whether TEST_MATCH (a regex over names such as integration/inbox.test.mjs) selects it.
wanted() {
    [ -z "${TEST_MATCH:-}" ] || printf '%s\n' "$1" | grep -Eq "$TEST_MATCH"
}

# exec_one DIR NAME COMMAND...: runs it with a time limit into DIR/out, DIR/err, then writes
# DIR/secs, DIR/rc and last DIR/done.
exec_one() {
    d=$1
    shift 2
    t0=$(date +%s)
    # In the background so that cleanup can stop it (timeout runs in a process group of its own).
    timeout -k 5 "${TEST_TIMEOUT:-300}" "$@" >"$d/out" 2>"$d/err" </dev/null &
    echo $! >"$d/pid"
    wait $!
    echo $? >"$d/rc"
    echo $(($(date +%s) - t0)) >"$d/secs"
    : >"$d/done"
}

# report DIR NAME: shows a finished file's output (whole if it failed) and counts its lines.
report() {
    d=$1
    name=$2
    rc=$(cat "$d/rc")
    p=$(grep -c '^ok ' "$d/out")
    f=$(grep -c '^not ok ' "$d/out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1
        echo "not ok - $name exited with status $rc" >>"$d/out"
    fi
    if [ "$f" -gt 0 ] || [ -n "${VERBOSE:-}" ]; then
        echo "== $name"
        cat "$d/out"
        echo "-- stderr of $name (last 40 lines)"
        tail -40 "$d/err"
    else
        echo "== $name: $p passed ($(cat "$d/secs") s)"
    fi
    passed=$((passed + p))
    failed=$((failed + f))
}

# run_one NAME COMMAND...: runs it now, alone, and reports it.
run_one() {
    wanted "$1" || return 0
    d="$tmp/one"
    rm -rf "$d"
    mkdir -p "$d"
    exec_one "$d" "$@"
    report "$d" "$1"
}

# queue NAME COMMAND...: the parallel part's next file, or the serial lane's if it is in SERIAL.
# Words only (no spaces inside an argument): the paths here have none.
nq=0
queue() {
    wanted "$1" || return 0
    if is_serial "$1"; then
        echo "$*" >>"$tmp/serial"
        return 0
    fi
    nq=$((nq + 1))
    mkdir -p "$tmp/q/$nq"
    echo "$*" >"$tmp/q/$nq/cmd"
}

# lane: takes the queue's files in order, each claimed by one lane (mkdir is atomic).
lane() {
    i=1
    while [ "$i" -le "$nq" ]; do
        if mkdir "$tmp/q/$i/claim" 2>/dev/null; then
            # shellcheck disable=SC2046
            exec_one "$tmp/q/$i" $(cat "$tmp/q/$i/cmd")
        fi
        i=$((i + 1))
    done
}

lanes_alive() {
    for w in $workers; do kill -0 "$w" 2>/dev/null && return 0; done
    return 1
}

# run_queue: the queued files TEST_JOBS at a time, reported in queue order as each is done;
# then the serial lane's, one at a time.
run_queue() {
    l=0
    while [ "$l" -lt "$jobs" ] && [ "$l" -lt "$nq" ]; do
        (
            TEST_LANE=$l
            export TEST_LANE
            lane
        ) &
        workers="$workers $!"
        l=$((l + 1))
    done
    i=1
    while [ "$i" -le "$nq" ]; do
        while [ ! -e "$tmp/q/$i/done" ]; do
            sleep 0.2
            # A lane gone without finishing its file (killed): the file counts as failed.
            if ! lanes_alive && [ ! -e "$tmp/q/$i/done" ]; then
                echo 1 >"$tmp/q/$i/rc"
                echo 0 >"$tmp/q/$i/secs"
                : >>"$tmp/q/$i/out"
                : >>"$tmp/q/$i/err"
                break
            fi
        done
        # shellcheck disable=SC2046
        set -- $(cat "$tmp/q/$i/cmd")
        report "$tmp/q/$i" "$1"
        i=$((i + 1))
    done
    for w in $workers; do wait "$w"; done
    workers=""
    if [ -f "$tmp/serial" ]; then
        while read -r line; do
            # shellcheck disable=SC2086
            run_one $line
        done <"$tmp/serial"
    fi
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
        queue "unit/$(basename "$t")" "$t"
    done
fi

if [ -z "$only" ] || [ "$only" = integration ]; then
    for t in tests/integration/*.test.mjs; do
        [ -f "$t" ] || continue
        queue "integration/$(basename "$t")" node "$t"
    done
fi

if [ -z "$only" ] || [ "$only" = interop ]; then
    if [ -n "$(ls tests/interop/*.test.mjs 2>/dev/null)" ]; then
        if [ ! -d tests/interop/node_modules ]; then
            (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error) >"$tmp/npm.log" 2>&1 ||
                { cat "$tmp/npm.log"; failed=$((failed + 1)); }
        fi
        for t in tests/interop/*.test.mjs; do
            queue "interop/$(basename "$t")" node "$t"
        done
        # make demo's story is an end-to-end test too: each expectation is an "ok" line.
        queue "demo/demo.mjs" node scripts/demo.mjs
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
            queue "browser/$(basename "$t")" node "$t"
        done
    fi
fi

run_queue

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
# Serial lane: it measures.
if [ -z "$only" ] || [ "$only" = bench ]; then
    run_one "bench/quick" env BENCH_QUICK=1 sh bench/run.sh "$BUILD"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
