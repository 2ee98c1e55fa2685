#!/bin/sh
# A throwaway PostgreSQL cluster in a folder: start, stop, url. No system service is touched.
#   scripts/pg.sh start DIR   initdb if needed, start, create database "passerelle", print conninfo
#   scripts/pg.sh stop DIR    stop it (fast shutdown)
#   scripts/pg.sh kill DIR    stop it as a crash would (immediate: no checkpoint, recovery
#                             at the next start); for the fault tests
#   scripts/pg.sh url DIR     print the conninfo
#   scripts/pg.sh destroy DIR stop it and remove its files, wherever the cluster lives
# The server listens only on a Unix socket inside DIR, so clusters never collide on a port.
# PostgreSQL refuses to run as root, so as root the cluster belongs to the "postgres" user.
set -eu
cmd=${1:?usage: pg.sh start|stop|kill|url|destroy DIR}
dir=${2:?usage: pg.sh start|stop|kill|url|destroy DIR}
# fail WHAT HINT: the one line a person reads when PostgreSQL cannot start, then exit.
fail() {
    echo "pg.sh: $1; $2" >&2
    exit 1
}
mkdir -p "$dir" 2>/dev/null || fail "cannot create $dir" "run from a folder you can write"
dir=$(cd "$dir" && pwd)
given=$dir
bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$bindir/initdb" ] || fail "no PostgreSQL server binaries" "run make deps (or apt-get install postgresql)"
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}
# As root the cluster belongs to "postgres", who may not be able to enter DIR (a clone in
# /root, mode 0700). Then the cluster lives in /var/tmp under a name derived from DIR, and
# DIR/cluster says where; nothing of the person's own folders changes mode.
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || fail "no postgres user" "run make deps (or apt-get install postgresql)"
    if ! runuser -u postgres -- test -x "$dir" 2>/dev/null; then
        real=/var/tmp/passerelle-pg-$(printf '%s' "$dir" | sha256sum | cut -c1-16)
        mkdir -p "$real" || fail "cannot create $real" "check that /var/tmp is writable"
        echo "$real" >"$dir/cluster"
        dir=$real
    fi
fi
url() {
    echo "host=$dir/sock port=5432 user=passerelle dbname=passerelle"
}
case "$cmd" in
start)
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner mkdir -p "$dir/data" "$dir/sock" ||
            fail "the cluster's owner cannot write $dir" "run from a folder you can write"
        as_owner "$bindir/initdb" -D "$dir/data" -U passerelle -A trust -E UTF8 --no-locale \
            >"$dir/initdb.log" 2>&1 ||
            fail "initdb failed ($(grep -m1 -iE 'error|fatal|cannot' "$dir/initdb.log" || echo 'see the log'))" \
                "read $dir/initdb.log, remove $dir/data and try again"
    fi
    as_owner mkdir -p "$dir/sock"
    if ! as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
            -o "-c listen_addresses='' -c unix_socket_directories='$dir/sock' -c port=5432 -c fsync=${PG_FSYNC:-on} -c max_connections=200" \
            start >/dev/null ||
            fail "PostgreSQL did not start ($(grep -m1 -E 'FATAL|PANIC' "$dir/postgres.log" 2>/dev/null || echo 'no log line'))" \
                "read $dir/postgres.log; a stale $dir/data/postmaster.pid can be removed when no postgres runs"
    fi
    if ! psql "host=$dir/sock port=5432 user=passerelle dbname=postgres" -tAc \
        "SELECT 1 FROM pg_database WHERE datname='passerelle'" 2>/dev/null | grep -q 1; then
        psql "host=$dir/sock port=5432 user=passerelle dbname=postgres" -qc "CREATE DATABASE passerelle" >/dev/null ||
            fail "cannot create the database passerelle" "read $dir/postgres.log"
    fi
    echo "pg.sh: PostgreSQL cluster in $dir/data, socket in $dir/sock" >&2
    url
    ;;
stop)
    if [ -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
kill)
    if [ -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    ;;
url)
    url
    ;;
destroy)
    if [ -f "$dir/data/PG_VERSION" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    [ "$dir" = "$given" ] || rm -rf "$given"
    ;;
*)
    echo "usage: pg.sh start|stop|kill|url|destroy DIR" >&2
    exit 2
    ;;
esac
