#!/bin/sh
# Tests mirror the modules (make lint): every .c file under the source folders has its unit
# test, tests/unit/test_<name>.c, or a row below naming the test that covers it. A row is for a
# part of a module that shares the module's header and test, or for what no unit test can
# hold (the program's entry). A new file with neither fails lint; so does a stale row.
set -eu
cd "$(dirname "$0")/.."

# file (path from the top) and the test that covers it (a file that must exist).
table='
activitypub/httpsig/cavage.c     tests/unit/test_httpsig.c
activitypub/httpsig/rfc9421.c    tests/unit/test_httpsig.c
activitypub/httpsig/sfv.c        tests/unit/test_httpsig.c
activitypub/httpsig/httpsig_buf.c    tests/unit/test_httpsig.c
activitypub/httpsig/httpsig_parse.c  tests/unit/test_httpsig.c
db/pool.c                        tests/unit/test_db.c
db/conn.c                        tests/unit/test_db.c
db/conninfo.c                    tests/unit/test_db.c
db/job.c                         tests/unit/test_db.c
server/http/httpc_curl.c         tests/unit/test_httpc.c
server/members/archive_stream.c  tests/unit/test_archive.c
server/members/archive_read.c    tests/unit/test_archive.c
server/admin/admin_instances.c   tests/unit/test_admin.c
server/admin/admin_members.c     tests/unit/test_admin.c
server/admin/admin_sql.c         tests/unit/test_admin.c
server/admin/admin_queue.c       tests/integration/admin.test.mjs
server/main.c                    tests/integration/lifecycle.test.mjs
server/admin/admin_claims.c      tests/integration/claims.test.mjs
server/admin/admin_who.c         tests/integration/admin.test.mjs
server/members/linkhold.c        tests/integration/uploads.test.mjs
'

# Modules that have no unit test yet: each row here is work owed (issue 11, item 5). The list
# only shrinks; a file that is not in it and has no test fails.
owed='
'

bad=0
say() {
    echo "unitmap: $*"
    bad=$((bad + 1))
}
row() { printf '%s\n' "$table" | awk -v f="$1" '$1 == f { print $2 }'; }
owes() { printf '%s\n' "$owed" | awk -v f="$1" '$1 == f { n++ } END { exit n ? 0 : 1 }'; }

for f in $(find server activitypub atproto webfinger db -name '*.c' | sort); do
    t=tests/unit/test_$(basename "$f" .c).c
    r=$(row "$f")
    if [ -f "$t" ]; then
        [ -z "$r" ] || say "$f has $t and a row in scripts/unitmap.sh: remove the row"
        ! owes "$f" || say "$f has $t now: remove it from the owed list of scripts/unitmap.sh"
    elif [ -n "$r" ]; then
        [ -f "$r" ] || say "$f is covered by $r, which does not exist"
    elif ! owes "$f"; then
        say "$f has no unit test: write $t (or, for a part of a module, a row in scripts/unitmap.sh)"
    fi
done
for f in $(printf '%s\n' "$table" "$owed" | awk 'NF { print $1 }'); do
    [ -f "$f" ] || say "scripts/unitmap.sh names $f, which does not exist: remove the row"
done
if [ "$bad" -gt 0 ]; then
    echo "unitmap: $bad problem(s) (README.md, Contributing: tests mirror the modules)"
    exit 1
fi
