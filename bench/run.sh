#!/bin/sh
# make bench: measures passerelle against this machine's own limits and prints one table.
# Each figure comes with its limit measured in the same run and the ratio between them.
# Today: WebFinger and actor GETs per second against a minimal libevent responder, and the
# idle RSS. The rest of the table (inbox, delivery, import, matching) comes with issue 6.
set -eu
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
DURATION=${BENCH_SECONDS:-10}
THREADS=2
CONNS=${BENCH_CONNS:-64}
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
    else
        echo "bench: needs wrk (apt-get install wrk)" >&2
        exit 1
    fi
fi
tmp=$(mktemp -d /tmp/passerelle-bench.XXXXXX)
chmod 755 "$tmp"
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    sh scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_http() {
    i=0
    until curl -s -o /dev/null "$1"; do
        i=$((i + 1))
        [ "$i" -gt 100 ] && { echo "bench: $1 did not come up" >&2; exit 1; }
        sleep 0.1
    done
}
# rps URL: requests per second that wrk sustained (non-2xx answers make it fail).
rps() {
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency "$1")
    if echo "$out" | grep -q "Non-2xx"; then
        echo "bench: non-2xx answers from $1" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "$out" | awk '/^Requests\/sec/ {printf "%d", $2}'
}

PASSERELLE_DATABASE_URL=$(PG_FSYNC=off sh scripts/pg.sh start "$tmp/pg")
export PASSERELLE_DATABASE_URL
port=$(free_port)
export PASSERELLE_LISTEN_PORT=$port PASSERELLE_KEY_FILE="$tmp/key.pem" PASSERELLE_LOG_LEVEL=warn
"$BUILD/passerelle" migrate >/dev/null
"$BUILD/passerelle" serve 2>"$tmp/serve.log" &
pids="$pids $!"
spid=$!
base="http://127.0.0.1:$port"
wait_http "$base/actor"
rss_idle=$(awk '/VmRSS/ {print $2}' /proc/$spid/status)

lport=$(free_port)
"$BUILD/bench/bench_responder" "$lport" &
pids="$pids $!"
wait_http "http://127.0.0.1:$lport/"

limit=$(rps "http://127.0.0.1:$lport/")
wf=$(rps "$base/.well-known/webfinger?resource=acct:relay@127.0.0.1:$port")
actor=$(rps "$base/actor")
rss_load=$(awk '/VmRSS/ {print $2}' /proc/$spid/status)

echo
echo "passerelle bench on $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); wrk -t$THREADS -c$CONNS -d${DURATION}s, loopback"
printf '%-34s %14s %22s %8s %8s\n' figure value limit ratio target
printf '%-34s %14s %22s %8s %8s\n' "WebFinger GET/s" "$wf" "$limit (libevent min.)" \
    "$(awk "BEGIN {printf \"%.0f%%\", 100*$wf/$limit}")" ">=50%"
printf '%-34s %14s %22s %8s %8s\n' "actor GET/s" "$actor" "$limit (libevent min.)" \
    "$(awk "BEGIN {printf \"%.0f%%\", 100*$actor/$limit}")" ">=50%"
printf '%-34s %14s %22s %8s %8s\n' "RSS idle (KiB)" "$rss_idle" "30720 (target)" \
    "$(awk "BEGIN {printf \"%.0f%%\", 100*$rss_idle/30720}")" "<=100%"
printf '%-34s %14s %22s %8s %8s\n' "RSS after GET load (KiB)" "$rss_load" "204800 (target)" \
    "$(awk "BEGIN {printf \"%.0f%%\", 100*$rss_load/204800}")" "<=100%"
