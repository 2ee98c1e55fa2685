#!/bin/sh
# make run: a throwaway PostgreSQL under var/ (unless a database is configured), migrate, serve.
# Ctrl-C stops the server gracefully, then the throwaway PostgreSQL.
set -eu
bin=${1:-build/passerelle}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mkdir -p var
conf=${PASSERELLE_CONFIG:-}
[ -z "$conf" ] && [ -f passerelle.conf ] && conf=passerelle.conf
set --
[ -n "$conf" ] && set -- -c "$conf"

own_pg=0
if [ -z "${DATABASE_URL:-}" ] && [ -z "${PASSERELLE_DATABASE_URL:-}" ] &&
    ! { [ -n "$conf" ] && grep -Eq '^[[:space:]]*database_url[[:space:]]*=[[:space:]]*[^[:space:]]' "$conf"; }; then
    echo "run: starting a throwaway PostgreSQL in var/pg"
    PASSERELLE_DATABASE_URL=$(sh scripts/pg.sh start var/pg)
    export PASSERELLE_DATABASE_URL
    own_pg=1
fi
stop_pg() {
    if [ "$own_pg" = 1 ]; then
        echo "run: stopping the throwaway PostgreSQL"
        sh scripts/pg.sh stop var/pg
        own_pg=0
    fi
}
trap stop_pg EXIT
trap 'exit 130' INT TERM

# The key that seals the tokens members grant (following in their name), made once like the
# RSA key; a configured token_key_file wins.
if [ -z "${PASSERELLE_TOKEN_KEY_FILE:-}" ] &&
    ! { [ -n "$conf" ] && grep -Eq '^[[:space:]]*token_key_file[[:space:]]*=' "$conf"; }; then
    if [ ! -s var/token.key ]; then
        echo "run: creating var/token.key (seals OAuth tokens: keep it with the database)"
        (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >var/token.key)
    fi
    PASSERELLE_TOKEN_KEY_FILE=var/token.key
    export PASSERELLE_TOKEN_KEY_FILE
fi

"$bin" migrate "$@"
echo "run: serving on ${PASSERELLE_BASE_URL:-http://127.0.0.1:${PASSERELLE_LISTEN_PORT:-8080}} (Ctrl-C stops)"
# Not exec: the trap must still stop PostgreSQL after the server exits.
"$bin" serve "$@" || true
