#!/bin/sh
# scripts/cycles.sh on small programs built here: it fails on a loop of calls between files
# (two files, and three in a ring), naming the files and the symbols, and passes once the loop
# is cut by a function pointer; a call into a library, a file calling itself and a variable
# read both ways without a call still count as what they are. TAP on stdout; run by tests/run.sh.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
CC=${CC:-cc}
tmp=$(mktemp -d /tmp/passerelle-cycles.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
n=0
failed=0

# ok COND_STATUS NAME [DETAIL_FILE]: one TAP line; the detail file is shown on failure.
ok() {
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=$((failed + 1))
        if [ -n "${3:-}" ] && [ -s "$3" ]; then sed 's/^/#   /' "$3" | head -40; fi
    fi
}

# prog NAME FILE=SOURCE...: compiles each source into $tmp/NAME/build/<dir>/FILE.o.
prog() {
    d="$tmp/$1/build"
    shift
    for spec in "$@"; do
        f=${spec%%=*}
        mkdir -p "$d/$(dirname "$f")"
        printf '%s\n' "${spec#*=}" >"$d/$f.c.src"
        $CC -x c -std=c11 -c -o "$d/${f}.o" "$d/$f.c.src" || return 1
    done
}

# check NAME: runs the checker over NAME's objects; status in $rc, output in $tmp/NAME.out.
check() {
    # shellcheck disable=SC2046
    (cd "$tmp/$1" && sh "$top/scripts/cycles.sh" build $(find build -name '*.o' | sort)) \
        >"$tmp/$1.out" 2>&1
    rc=$?
}

# Two files calling each other.
prog two 'db/pool=int conn_run(int); int done_twice(int);
int pool_run(int x) { return conn_run(done_twice(x)); }
int pool_done(int x) { return x; }' \
    'db/conn=int pool_done(int); int conn_run(int x) { return pool_done(x); }' \
    'db/done=int done_twice(int x) { return 2 * x; }' || ok 1 "the fixtures compile"
check two
[ "$rc" -eq 1 ]
ok $? "a loop of two files fails" "$tmp/two.out"
grep -q '^cycles: 2 files call each other in a loop' "$tmp/two.out" &&
    grep -q '^  db/pool.c$' "$tmp/two.out" && grep -q '^  db/conn.c$' "$tmp/two.out" &&
    ! grep -q '^  db/done.c$' "$tmp/two.out"
ok $? "it names the two files and only them" "$tmp/two.out"
grep -q 'db/pool.c -> db/conn.c: conn_run' "$tmp/two.out"
ok $? "it names the symbols behind each edge" "$tmp/two.out"

# Three files in a ring, the third reached through a variable, beside a chain with no loop.
prog ring 'a/one=int two(void); int one(void) { return two(); }' \
    'a/two=extern int three_count; int two(void) { return three_count; }' \
    'b/three=int one(void); int three_count; int three(void) { return one(); }' \
    'top=int one(void); int main(void) { return one(); }' || ok 1 "the fixtures compile"
check ring
[ "$rc" -eq 1 ] && grep -q '^cycles: 3 files call each other' "$tmp/ring.out" &&
    ! grep -q '^  top.c$' "$tmp/ring.out"
ok $? "a ring of three files fails, the caller above it stays out" "$tmp/ring.out"

# The same loop cut: the pool hands the connection its completion as a function pointer.
prog cut 'db/pool=int conn_run(int (*)(int), int); static int done(int x) { return x; }
int pool_run(int x) { return conn_run(done, x); }' \
    'db/conn=int conn_run(int (*done)(int), int x) { return done(x); }' \
    'lib=#include <string.h>
int lib_len(const char *s) { return (int)strlen(s); }' \
    'self=int self_fact(int n) { return n < 2 ? 1 : n * self_fact(n - 1); }' ||
    ok 1 "the fixtures compile"
check cut
[ "$rc" -eq 0 ] && grep -q '^cycles: ok' "$tmp/cut.out"
ok $? "a callback, a library call and a recursive function pass" "$tmp/cut.out"

# Report-only mode prints the loop and succeeds.
# shellcheck disable=SC2046
(cd "$tmp/two" && CYCLES_REPORT=1 sh "$top/scripts/cycles.sh" build $(find build -name '*.o' | sort)) \
    >"$tmp/report.out" 2>&1
[ $? -eq 0 ] && grep -q '^  db/conn.c$' "$tmp/report.out"
ok $? "CYCLES_REPORT=1 prints the loop and exits 0" "$tmp/report.out"

# A missing object is an error, not a pass.
sh scripts/cycles.sh "$tmp/two/build" "$tmp/two/build/nothing.o" >"$tmp/missing.out" 2>&1
[ $? -eq 2 ]
ok $? "a missing object is an error" "$tmp/missing.out"

echo "1..$n"
[ "$failed" -eq 0 ]
