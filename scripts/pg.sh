#!/bin/sh
# A throwaway PostgreSQL cluster in a folder: start, stop, url. No system service is touched.
#   scripts/pg.sh start DIR   initdb if needed, start, create database "passerelle", print conninfo
#   scripts/pg.sh stop DIR    stop it (fast shutdown)
#   scripts/pg.sh kill DIR    stop it as a crash would (immediate: no checkpoint, recovery
#                             at the next start); for the fault tests
#   scripts/pg.sh url DIR     print the conninfo
# The server listens only on a Unix socket inside DIR, so clusters never collide on a port.
# PostgreSQL refuses to run as root, so as root the cluster belongs to the "postgres" user.
set -eu
cmd=${1:?usage: pg.sh start|stop|url DIR}
dir=${2:?usage: pg.sh start|stop|url DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$bindir/initdb" ] || { echo "pg.sh: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
url() {
    echo "host=$dir/sock port=5432 user=passerelle dbname=passerelle"
}
case "$cmd" in
start)
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_owner mkdir -p "$dir/data" "$dir/sock"
        as_owner "$bindir/initdb" -D "$dir/data" -U passerelle -A trust -E UTF8 --no-locale \
            >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    as_owner mkdir -p "$dir/sock"
    if ! as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
            -o "-c listen_addresses='' -c unix_socket_directories='$dir/sock' -c port=5432 -c fsync=${PG_FSYNC:-on} -c max_connections=200" \
            start >/dev/null || { tail -20 "$dir/postgres.log" >&2; exit 1; }
    fi
    if ! psql "host=$dir/sock port=5432 user=passerelle dbname=postgres" -tAc \
        "SELECT 1 FROM pg_database WHERE datname='passerelle'" | grep -q 1; then
        psql "host=$dir/sock port=5432 user=passerelle dbname=postgres" -qc "CREATE DATABASE passerelle" >/dev/null
    fi
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
*)
    echo "usage: pg.sh start|stop|kill|url DIR" >&2
    exit 2
    ;;
esac
