#!/bin/sh
# make bench: passerelle measured against this machine's own limits, printed as one table.
# Every limit is measured in the same run as the figure it divides, so a ratio stays
# meaningful on a busy or a small machine. BENCH_QUICK=1 (make bench-quick, run by make
# test) does the same with tiny sizes as a smoke test, prints TAP lines, and fails when a
# bench program breaks. See docs/BENCHMARKS.md for what each row means.
#
# Environment: BENCH_SECONDS (load per figure, default 10), BENCH_CONNS (64),
# BENCH_DATA (the matching database, default /work/benchdata), BENCH_MEMBERS (1000000),
# BENCH_SKIP (sections left out, any of: fedify import matching http; for a quicker look;
# http is the GETs, the inbox, scale-out and RSS, so "fedify import matching http" leaves the
# deliveries alone), BENCH_PROFILE (a folder: a system-wide `perf record -g` of each fan-out,
# and its report by process and by library, written there).
set -eu
BUILD=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
B=$BUILD/bench
QUICK=${BENCH_QUICK:-0}
CONNS=${BENCH_CONNS:-64}
if [ "$QUICK" = 1 ]; then
    SECS=1 SPEED=1 IDLE=200 HOLD=1 FANOUT=500 EDGES=20000 MATCH_N=100 WARM=100 FWARM=20
    NMIN=200 FNMIN=40 NMAX=2000
else
    SECS=${BENCH_SECONDS:-10} SPEED=${BENCH_SPEED_SECONDS:-5} IDLE=10000 HOLD=5 FANOUT=100000
    EDGES=1000000 MATCH_N=2000 WARM=2000 FWARM=300 NMIN=2000 FNMIN=500 NMAX=200000
fi
SINK_PORTS=25
SKIP=" ${BENCH_SKIP:-} "
skipped() { case "$SKIP" in *" $1 "*) return 0 ;; esac; return 1; }

tmp=$(mktemp -d /tmp/passerelle-bench.XXXXXX)
chmod 755 "$tmp"
pids=""
graph_up=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    sh scripts/pg.sh stop "$tmp/pg" >/dev/null 2>&1 || true
    [ -n "$graph_up" ] && sh bench/graph.sh stop "$graph_up" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

say() { echo "bench: $*" >&2; }
fail() {
    say "$*"
    [ "$QUICK" = 1 ] && echo "not ok - $*"
    exit 1
}
# Every server may hold 10,000 connections.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -gt $((IDLE + 200)) ] || fail "ulimit -n is $(ulimit -n); $IDLE connections need more"
if [ "$QUICK" != 1 ] && ! command -v wrk >/dev/null 2>&1; then
    sh scripts/deps.sh bench || fail "needs wrk (apt-get install wrk)"
fi

# --- helpers ------------------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-0}f\", $1 }"; }
# 1234567 -> 1,234,567
num() { awk -v n="$1" 'BEGIN { s = sprintf("%.0f", n); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'; }
ge() { awk "BEGIN { exit !($1 >= $2) }"; }
verdict() { if ge "$1" "$2"; then echo pass; else echo miss; fi; }
# key=value from a bench_load or bench_match line
field() { echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2 }'; }
tck=$(getconf CLK_TCK)
# CPU milliseconds (user + system) used so far by the given processes.
cpu_ms() {
    for p in "$@"; do [ -r "/proc/$p/stat" ] && cat "/proc/$p/stat"; done |
        awk -v t="$tck" '{ s += $14 + $15 } END { printf "%.0f", s * 1000 / t }'
}
kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
mib() { calc "$1 / 1024" 1; }
# CPU milliseconds used so far by the throwaway PostgreSQL: the postmaster, its live
# children, and (cutime, cstime) the children that have exited.
pg_cpu_ms() {
    pm=$(head -1 "$tmp/pg/data/postmaster.pid")
    { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat"
      for c in $(ps -o pid= --ppid "$pm"); do
          [ -r "/proc/$c/stat" ] && awk '{ print $14 + $15 }' "/proc/$c/stat"
      done; } | awk -v t="$tck" '{ s += $1 } END { printf "%.0f", s * 1000 / t }'
}

rows=$tmp/rows
: >"$rows"
nrow=0
# row FIGURE VALUE LIMIT RATIO TARGET RESULT
row() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$rows"
    nrow=$((nrow + 1))
    [ "$QUICK" = 1 ] && echo "ok $nrow - $1: $2 (limit $3)"
    return 0
}
notes=$tmp/notes
: >"$notes"
note() { echo "$*" >>"$notes"; }

wait_log() { # FILE PATTERN PID: until the log has PATTERN (the process must stay alive)
    i=0
    until grep -q "$2" "$1" 2>/dev/null; do
        kill -0 "$3" 2>/dev/null || { tail -5 "$1" >&2; fail "process $3 exited"; }
        i=$((i + 1))
        [ "$i" -gt 300 ] && fail "$1 never showed $2"
        sleep 0.1
    done
}
wait_http() { # URL: until it answers 200
    i=0
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ]; do
        i=$((i + 1))
        [ "$i" -gt 300 ] && fail "$1 did not come up"
        sleep 0.1
    done
}

# --- the machine and its limits -------------------------------------------------------------
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$(now)
cores=$(nproc)
# RSA-2048 on every core, measured just before the figure it bounds (the load of a shared
# machine changes during a run): sets $sign_limit and $verify_limit.
rsa_limits() {
    say "RSA-2048 on $cores cores (openssl speed, ${SPEED} s each)"
    speed=$(openssl speed -multi "$cores" -seconds "$SPEED" rsa2048 2>/dev/null |
        awk '/^rsa 2048 bits/ { print $6, $7 }')
    sign_limit=${speed% *}
    verify_limit=${speed#* }
    [ -n "$sign_limit" ] && ge "$sign_limit" 1 || fail "openssl speed gave nothing"
}

PASSERELLE_DATABASE_URL=$(PG_FSYNC=off sh scripts/pg.sh start "$tmp/pg")
export PASSERELLE_DATABASE_URL
pgdir=$tmp/pg
psql_() { psql "$PASSERELLE_DATABASE_URL" -X -q -t -A -v ON_ERROR_STOP=1 "$@"; }
"$BUILD/passerelle" migrate >/dev/null 2>&1 || fail "migrate failed"

port=$(free_port)
base="http://127.0.0.1:$port"
export PASSERELLE_LISTEN_PORT=$port PASSERELLE_KEY_FILE="$tmp/server.pem" \
    PASSERELLE_REUSE_PORT=true PASSERELLE_ALLOW_PRIVATE_FETCH=true
# serve NAME [VAR=VALUE...]: starts a server (its log in $tmp/NAME.log), waits until it
# listens and its database pool is up; its pid goes in $spid.
serve() {
    name=$1
    shift
    env "$@" "$BUILD/passerelle" serve 2>"$tmp/$name.log" &
    spid=$!
    pids="$pids $spid"
    wait_log "$tmp/$name.log" "event=listening" "$spid"
    wait_http "$base/"
}
# PID...: SIGTERM and wait. They leave the cleanup's list: once a stopped process is reaped its
# PID is free, and on a busy machine (pid_max 32768, a process per psql) the kernel soon hands
# it to someone else, whom the cleanup's kill would then stop (other tests' servers got a
# SIGTERM from it).
stop() {
    for p in "$@"; do kill "$p" 2>/dev/null || true; done
    for p in "$@"; do
        i=0
        while kill -0 "$p" 2>/dev/null && [ "$i" -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
        pids=$(for q in $pids; do [ "$q" = "$p" ] || printf '%s ' "$q"; done)
    done
}

# The sink: answers deliveries (several ports stand for several hosts) and serves the
# sending actor whose key Fedify fetches.
# The sink takes free ports itself; the actor's URL names the first (the sink reads the
# document at each GET, so it is written once the port is known).
pub=$("$B/bench_sign" -k "$tmp/sender.pem" -P)
# shellcheck disable=SC2046
"$B/bench_sink" -g /users/bench "$tmp/actor.json" $(seq "$SINK_PORTS" | sed 's/.*/0/') \
    >"$tmp/sink.out" &
sinkpid=$!
pids="$pids $sinkpid"
wait_log "$tmp/sink.out" "^ports" "$sinkpid"
sink_ports=$(sed -n 's/^ports //p' "$tmp/sink.out")
sink1=${sink_ports%% *}
sender="http://127.0.0.1:$sink1/users/bench"
python3 - "$sender" "$tmp/actor.json" <<EOF
import json, sys
a = sys.argv[1]
doc = {"@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
       "id": a, "type": "Person", "preferredUsername": "bench", "inbox": a + "/inbox",
       "publicKey": {"id": a + "#main-key", "owner": a, "publicKeyPem": """$pub"""}}
open(sys.argv[2], "w").write(json.dumps(doc))
EOF
wait_http "http://127.0.0.1:$sink1/users/bench"

# --- GETs: WebFinger and the actor beside the minimal libevent responder --------------------
# rps PORT PATH: requests per second (wrk, or bench_load in the quick run); non-2xx fails.
rps() {
    if [ "$QUICK" = 1 ]; then
        out=$("$B/bench_load" -u "$2" -c "$CONNS" -d "$SECS" 127.0.0.1 "$1") || fail "GET $2: $out"
        field "$out" rps
        return
    fi
    out=$(wrk -t2 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$1$2")
    echo "$out" | grep -q "Non-2xx" && fail "non-2xx answers from $2: $out"
    echo "$out" | awk '/^Requests\/sec/ { printf "%d", $2 }'
}
if ! skipped http; then
serve main
mainpid=$spid
lport=$(free_port)
"$B/bench_responder" "$lport" &
pids="$pids $!"
wait_http "http://127.0.0.1:$lport/"
say "GETs (${SECS} s each)"
limit=$(rps "$lport" /)
wf=$(rps "$port" "/.well-known/webfinger?resource=acct:relay@127.0.0.1:$port")
actor=$(rps "$port" /actor)
row "WebFinger GET/s" "$(num "$wf")" "$(num "$limit") (minimal libevent responder)" \
    "$(calc "100 * $wf / $limit") %" ">= 50 %" "$(verdict "100 * $wf / $limit" 50)"
row "actor GET/s" "$(num "$actor")" "$(num "$limit") (same)" \
    "$(calc "100 * $actor / $limit") %" ">= 50 %" "$(verdict "100 * $actor / $limit" 50)"

# --- inbox: verified signed POSTs with the key cached -----------------------------------------
echo "INSERT INTO remote_actors (uri, key_id, public_key_pem, inbox, type, preferred_username)
      VALUES (:'a', :'a' || '#main-key', :'pem', :'a' || '/inbox', 'Person', 'bench')" |
    psql_ -v a="$sender" -v pem="$pub"
batch=0
# sign HOSTPORT N: N distinct signed Creates for that host's /inbox in $tmp/req.txt
sign() {
    batch=$((batch + 1))
    "$B/bench_sign" -k "$tmp/sender.pem" -i "$sender#main-key" -a "$sender" -H "127.0.0.1:$1" \
        -t /inbox -n "$2" -o "$tmp/req.txt" -s "r$$-$batch" || fail "bench_sign failed"
}
# inbox_run PORT WARM MIN: a warm-up of WARM requests gives the rate; then as many requests
# as SECS seconds take at that rate (at least MIN) are signed and sent, each once. $out holds the line of
# the measured run; $cpu the CPU ms used meanwhile by the processes in $watch and PostgreSQL.
inbox_run() {
    sign "$1" "$2"
    out=$("$B/bench_load" -f "$tmp/req.txt" -c "$CONNS" -x 202 127.0.0.1 "$1") ||
        fail "inbox warm-up on $1: $out"
    n=$(calc "$(field "$out" rps) * $SECS")
    n=$(awk -v n="$n" -v lo="$3" -v hi="$NMAX" 'BEGIN { print (n < lo ? lo : n > hi ? hi : n) }')
    sign "$1" "$n"
    cpu0=""
    for p in $watch; do cpu0="$cpu0 $(cpu_ms "$p")"; done
    pg0=$(pg_cpu_ms)
    out=$("$B/bench_load" -f "$tmp/req.txt" -c "$CONNS" -x 202 127.0.0.1 "$1") ||
        fail "inbox load on $1: $out"
    cpu=""
    set -- $cpu0
    for p in $watch; do
        cpu="$cpu $(($(cpu_ms "$p") - $1))"
        shift
    done
    pgcpu=$(($(pg_cpu_ms) - pg0))
}
rsa_limits
say "inbox (signed Creates, key cached)"
watch=$mainpid
inbox_run "$port" "$WARM" "$NMIN"
inbox=$out
n_in=$(field "$inbox" requests)
in_rps=$(field "$inbox" rps)
row "inbox POST/s (signed, key cached)" "$(num "$in_rps")" \
    "$(num "$verify_limit") RSA-2048 verify/s" "$(calc "100 * $in_rps / $verify_limit" 1) %" \
    ">= 10,000/s" "$(verdict "$in_rps" 10000)"
row "inbox latency p50 / p99" "$(field "$inbox" p50_ms) / $(field "$inbox" p99_ms) ms" "-" "-" \
    "p99 <= 20 ms" "$(verdict 20 "$(field "$inbox" p99_ms)")"
in_us=$(calc "1000 * ($cpu + $pgcpu) / $n_in")
note "inbox: $(num "$n_in") distinct Creates over $CONNS connections; CPU per POST: passerelle $(calc "1000 * $cpu / $n_in") us, PostgreSQL $(calc "1000 * $pgcpu / $n_in") us; at that cost $cores cores serve at most $(num "$(calc "1000000 * $cores / $in_us")")/s; one RSA-2048 verify costs $(calc "1000000 * $cores / $verify_limit" 1) us of one core in this run"
rss_after=$(kib "$mainpid" VmRSS)
tx=$(curl -s "$base/metrics" | awk '$1 == "passerelle_inbox_transactions_total" { t = $2 } $1 == "passerelle_inbox_transaction_activities_total" { a = $2 } END { if (t > 0) printf "%.1f", a / t; else print "-" }')
note "inbox group commit: $tx activities per transaction on average over the run (warm-ups included)"

# The same requests to a Fedify inbox (its own host in the signature).
if ! skipped fedify; then
if [ ! -d tests/interop/node_modules/@fedify/fedify ]; then
    (cd tests/interop && npm ci --no-audit --no-fund --loglevel=error) >"$tmp/npm.log" 2>&1 ||
        { cat "$tmp/npm.log" >&2; fail "npm ci in tests/interop failed"; }
fi
fport=$(free_port)
node bench/fedify_inbox.mjs "$fport" >"$tmp/fedify.log" 2>&1 &
fpid=$!
pids="$pids $fpid"
wait_log "$tmp/fedify.log" ready "$fpid"
say "Fedify inbox"
watch=$fpid
inbox_run "$fport" "$FWARM" "$FNMIN"
fed=$out
fed_rps=$(field "$fed" rps)
fed_us=$(calc "1000 * $cpu / $(field "$fed" requests)")
note "Fedify: $(num "$(field "$fed" requests)") Creates, CPU per POST $fed_us us (node); passerelle and its PostgreSQL together $in_us us, $(calc "$fed_us / $in_us" 1) times less"
stop "$fpid"
row "inbox beside Fedify 2.3.6 (POST/s)" "$(num "$in_rps")" "$(num "$fed_rps") (Fedify, p99 $(field "$fed" p99_ms) ms)" \
    "$(calc "$in_rps / $fed_rps" 1) x" ">= 10 x" "$(verdict "$in_rps / $fed_rps" 10)"
fi

# --- scale-out: a second process on the same port and database ----------------------------------
say "scale-out: a second serve process"
serve second
secondpid=$spid
sleep 0.5
watch="$mainpid $secondpid"
inbox_run "$port" "$WARM" "$NMIN"
two=$out
two_rps=$(field "$two" rps)
row "scale-out: inbox POST/s, 2 processes" "$(num "$two_rps")" "$(num "$in_rps") (1 process)" \
    "$(calc "$two_rps / $in_rps" 2) x" ">= 1.0 x" "$(verdict "$two_rps / $in_rps" 1)"
note "scale-out: CPU ms of the two processes during the run:$cpu, PostgreSQL $pgcpu; they share the $cores cores with PostgreSQL and the load generator"
stop "$mainpid" "$secondpid"

# --- memory: idle, then 10,000 open connections ----------------------------------------------
say "memory: idle, then $(num $IDLE) open connections"
serve idle
idlepid=$spid
sleep 1
rss_idle=$(kib "$idlepid" VmRSS)
"$B/bench_load" -i "$HOLD" -u /actor -c "$IDLE" 127.0.0.1 "$port" >"$tmp/idle.out" 2>&1 &
lpid=$!
pids="$pids $lpid"
wait_log "$tmp/idle.out" "^ready" "$lpid"
rss_conn=$(kib "$idlepid" VmRSS)
open=$(sed -n 's/^ready open=//p' "$tmp/idle.out")
wait "$lpid" || true
[ "$open" = "$IDLE" ] || fail "only $open of $IDLE connections stayed open"
stop "$idlepid"
row "RSS idle" "$(mib "$rss_idle") MiB" "-" "-" "<= 30 MiB" "$(verdict 30720 "$rss_idle")"
row "RSS with $(num "$IDLE") open connections" "$(mib "$rss_conn") MiB" "-" "-" "<= 200 MiB" \
    "$(verdict 204800 "$rss_conn")"
note "RSS after the GET and inbox loads (first process): $(mib "$rss_after") MiB"
fi

# --- delivery: a fan-out through the real queue to the loopback sink -------------------------------
# fanout N RUN: queues one notice to every subscriber (admin notice), starts N fresh serve
# processes on the port (reuse_port) to deliver it, and waits until the sink has every POST.
# Sets $del_rps, $posts, $span, $dcpu (ms, the servers), $dpg (ms, PostgreSQL), $hwm (KiB,
# the peak RSS of the first server).
fanout() {
    curl -s -o /dev/null "http://127.0.0.1:$sink1/_reset"
    t0=$(now)
    queued=$("$BUILD/passerelle" admin notice "bench fan-out" 2>/dev/null |
        sed -n 's/^notice queued for \([0-9]*\) inboxes/\1/p')
    t_enq=$(calc "$(now) - $t0" 2)
    [ "$queued" = "$FANOUT" ] || fail "admin notice queued $queued rows, not $FANOUT"
    # Each fan-out starts from the same tables: the rows the last one deleted vacuumed away,
    # statistics fresh. Without this the second fan-out ran on the first one's dead rows and
    # an autovacuum came at a different moment in each run (the two-process figure moved by
    # up to 8 % between runs minutes apart).
    psql_ -c "VACUUM (ANALYZE) deliveries, activities, instances" >/dev/null
    p0=$(pg_cpu_ms)
    dpids=""
    for k in $(seq "$1"); do
        serve "delivery$1-$k"
        dpids="$dpids $spid"
    done
    perfpid=""
    if [ -n "${BENCH_PROFILE:-}" ]; then
        mkdir -p "$BENCH_PROFILE"
        perf record -a -g -F 499 -o "$BENCH_PROFILE/fanout-$2-${1}p.data" \
            2>"$BENCH_PROFILE/fanout-$2-${1}p.err" &
        perfpid=$!
    fi
    # The sink answers a wait when it has every POST or after 2 s, whichever comes first.
    i=0
    while :; do
        posts=$(curl -s -m 10 "http://127.0.0.1:$sink1/_wait?posts=$FANOUT" |
            sed 's/.*"posts":\([0-9]*\).*/\1/')
        [ "${posts:-0}" -ge "$FANOUT" ] && break
        for p in $dpids; do kill -0 "$p" 2>/dev/null || fail "a delivering server exited"; done
        i=$((i + 1))
        [ "$i" -gt 300 ] && fail "only $posts of $FANOUT deliveries after 600 s"
    done
    if [ -n "$perfpid" ]; then
        kill -INT "$perfpid"
        wait "$perfpid" || true
        profile_report "$BENCH_PROFILE/fanout-$2-${1}p"
    fi
    sleep 0.5
    hwm=$(kib "$(echo $dpids | cut -d' ' -f1)" VmHWM)
    dcpu=$(cpu_ms $dpids)
    dpg=$(($(pg_cpu_ms) - p0))
    st=$(curl -s "http://127.0.0.1:$sink1/_stats")
    posts=$(echo "$st" | sed 's/.*"posts":\([0-9]*\).*/\1/')
    span=$(echo "$st" | sed 's/.*"first":\([0-9.]*\),"last":\([0-9.]*\).*/\2 - \1/')
    del_rps=$(calc "$posts / ($span)")
    left=$(psql_ -c "SELECT count(*) FROM deliveries")
    stop $dpids
    [ "$posts" = "$FANOUT" ] || fail "the sink got $posts POSTs for $FANOUT deliveries (double delivery)"
    [ "$left" = 0 ] || fail "$left delivery rows left after the fan-out"
}
# profile_report BASE: BASE.data's samples by process, by process and library, and the top
# symbols, as text beside it (what docs/BENCHMARKS.md quotes).
profile_report() {
    {
        echo "# by command"
        perf report -i "$1.data" --no-children --sort comm --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -20
        echo "# by command and library"
        perf report -i "$1.data" --no-children --sort comm,dso --stdio 2>/dev/null | grep -v '^#' | grep '%' | head -40
        echo "# by symbol"
        perf report -i "$1.data" --no-children --sort comm,dso,sym --stdio -g none 2>/dev/null | grep -v '^#' | grep '%' | head -60
    } >"$1.txt"
    say "profile: $1.txt"
}
echo "INSERT INTO instances (domain, actor_uri, inbox, relay_state, style)
      SELECT 'd' || i || '.bench', 'http://d' || i || '.bench/actor',
             'http://127.0.0.1:' || (string_to_array(:'ports', ' '))[1 + i % $SINK_PORTS] || '/inbox/' || i,
             'accepted', 'mastodon'
      FROM generate_series(1, $FANOUT) i" | psql_ -v ports="$sink_ports"
rsa_limits
# One process, then two, then two, then one (ABBA): both figures are means of two fan-outs
# placed so that a drift of the machine over the minutes of the runs (another VM's load on
# the host, an autovacuum) weighs on both alike. On this machine one fan-out's rate moved by
# up to 8 % between runs minutes apart, as much as the difference being measured.
if [ "$cores" = 1 ]; then order="1 1"; else order="1 $cores $cores 1"; fi
one_sum=0 two_sum=0 runs_one="" runs_two="" run=0
for nproc in $order; do
    run=$((run + 1))
    say "delivery: $(num $FANOUT)-inbox fan-out, $nproc serve process(es), run $run"
    fanout "$nproc" "$run"
    note "delivery run $run, $nproc process(es): $(num "$posts") POSTs in $(calc "$span" 2) s = $(num "$del_rps")/s, none left or twice; admin notice queued them in $t_enq s; CPU per delivery: passerelle $(calc "1000 * $dcpu / $posts") us (start to end), PostgreSQL $(calc "1000 * $dpg / $posts") us"
    if [ "$nproc" = 1 ]; then
        one_sum=$(calc "$one_sum + $del_rps")
        runs_one="$runs_one $(num "$del_rps")"
        [ "$run" = 1 ] && one_hwm=$hwm
    else
        two_sum=$(calc "$two_sum + $del_rps")
        runs_two="$runs_two $(num "$del_rps")"
    fi
done
one_rps=$(calc "$one_sum / 2")
row "deliveries/s, 1 process (mean of 2)" "$(num "$one_rps")" \
    "$(num "$sign_limit") RSA-2048 sign/s (all cores)" \
    "$(calc "100 * $one_rps / $sign_limit" 1) %" ">= 50 %" \
    "$(verdict "100 * $one_rps / $sign_limit" 50)"
row "RSS peak in the $(num "$FANOUT")-delivery fan-out" "$(mib "$one_hwm") MiB" "-" "-" \
    "<= 200 MiB" "$(verdict 204800 "$one_hwm")"
if [ "$cores" != 1 ]; then
    two_rps=$(calc "$two_sum / 2")
    row "deliveries/s, $cores processes (mean of 2)" "$(num "$two_rps")" \
        "$(num "$one_rps") (1 process)" "$(calc "$two_rps / $one_rps" 2) x" ">= 1.0 x" \
        "$(verdict "$two_rps / $one_rps" 1)"
fi
note "deliveries: one process$runs_one/s (runs 1 and 4), $cores processes$runs_two/s (runs 2 and 3); one RSA-2048 signature costs $(calc "1000000 * $cores / $sign_limit") us of one core in this run"

# --- archive import: passerelle import and the page's upload, beside COPY ------------------------
if ! skipped import; then
say "archive import: $(num $EDGES) edges"
"$B/bench_archive" -w "$tmp/archive.zip" "$tmp/edges.copy" "$EDGES" || fail "bench_archive -w failed"
# fresh NAME: an empty, migrated database; its conninfo in $fresh
fresh() {
    psql "$(sh scripts/pg.sh url "$pgdir" | sed 's/dbname=passerelle/dbname=postgres/')" -X -q \
        -c "CREATE DATABASE $1" >/dev/null
    fresh=$(sh scripts/pg.sh url "$pgdir" | sed "s/dbname=passerelle/dbname=$1/")
    PASSERELLE_DATABASE_URL=$fresh "$BUILD/passerelle" migrate >/dev/null 2>&1 || fail "migrate $1"
    psql "$fresh" -X -q -c "INSERT INTO members (actor_uri, acct, host)
        VALUES ('https://bench.example/users/big', 'big@bench.example', 'bench.example')"
}
fresh imp_copy
t0=$(now)
psql "$fresh" -X -q -v ON_ERROR_STOP=1 -c "\\copy x_edges FROM '$tmp/edges.copy'" ||
    fail "COPY failed"
t_copy=$(calc "$(now) - $t0" 3)
fresh imp_cli
t0=$(now)
PASSERELLE_DATABASE_URL=$fresh "$BUILD/passerelle" import --member acct:big@bench.example \
    "$tmp/archive.zip" >"$tmp/import.out" 2>&1 || { cat "$tmp/import.out" >&2; fail "import failed"; }
t_cli=$(calc "$(now) - $t0" 3)
n_cli=$(psql "$fresh" -X -t -A -c "SELECT count(*) FROM x_edges")
[ "$n_cli" = "$EDGES" ] || fail "import stored $n_cli edges, not $EDGES"
copy_eps=$(calc "$EDGES / $t_copy")
cli_eps=$(calc "$EDGES / $t_cli")
row "import edges/s (passerelle import)" "$(num "$cli_eps")" "$(num "$copy_eps") (COPY, same rows)" \
    "$(calc "100 * $cli_eps / $copy_eps") %" ">= 80 %" "$(verdict "100 * $cli_eps / $copy_eps" 80)"
# The page's path: a one-time code, its session, the CSRF token, then the upload.
fresh imp_page
code=$(openssl rand -hex 16)
psql "$fresh" -X -q -c "INSERT INTO link_codes (hash, member_id, expires_at)
    VALUES ('\\x$(printf %s "$code" | sha256sum | cut -d' ' -f1)', 1, now() + interval '1 hour')"
serve page PASSERELLE_DATABASE_URL="$fresh" PASSERELLE_MAX_ARCHIVE_BYTES=1073741824
pagepid=$spid
jar=$tmp/cookies
# The link's page spends nothing; its same-origin POST opens the session.
curl -s -o /dev/null -c "$jar" -X POST -H "Origin: $base" \
    -H "Content-Type: application/x-www-form-urlencoded" --data "" "$base/link/$code"
csrf=$(curl -s -b "$jar" "$base/link/state" | sed -n 's/.*"csrf": *"\([0-9a-f]*\)".*/\1/p')
[ -n "$csrf" ] || fail "the link page gave no session"
t0=$(now)
st=$(curl -s -o "$tmp/upload.out" -w '%{http_code}' -b "$jar" -H "X-CSRF-Token: $csrf" \
    -H "Content-Type: application/zip" --data-binary "@$tmp/archive.zip" "$base/link/archive")
t_page=$(calc "$(now) - $t0" 3)
stop "$pagepid"
[ "$st" = 200 ] || { cat "$tmp/upload.out" >&2; fail "upload answered $st"; }
n_page=$(psql "$fresh" -X -t -A -c "SELECT count(*) FROM x_edges")
[ "$n_page" = "$EDGES" ] || fail "the upload stored $n_page edges, not $EDGES"
page_eps=$(calc "$EDGES / $t_page")
row "import edges/s (link page upload)" "$(num "$page_eps")" "$(num "$copy_eps") (same)" \
    "$(calc "100 * $page_eps / $copy_eps") %" ">= 80 %" "$(verdict "100 * $page_eps / $copy_eps" 80)"
note "import: $(num "$EDGES") edges, a $(calc "$(stat -c %s "$tmp/archive.zip") / 1048576" 1) MiB zip; COPY $t_copy s, passerelle import $t_cli s, upload $t_page s (each into a fresh database)"
fi

# --- matching: the matcher's statement per member on a generated graph ---------------------------
if skipped matching; then
    :
elif [ "$QUICK" = 1 ]; then
    fresh graph
    psql "$fresh" -X -q -v ON_ERROR_STOP=1 -v members=2000 -f bench/graph.sql >/dev/null 2>&1 ||
        fail "bench/graph.sql failed"
    gurl=$fresh
    gen="quick: 2,000 members generated"
else
    gdata=${BENCH_DATA:-/work/benchdata}
    graph_up=$gdata
    gurl=$(sh bench/graph.sh "$BUILD" "$gdata" 2>"$tmp/graph.err") ||
        { cat "$tmp/graph.err" >&2; fail "bench/graph.sh failed"; }
    gen=$(sed -n 's/^bench: //p' "$tmp/graph.err" | tail -1)
fi
if ! skipped matching; then
say "matching ($MATCH_N members)"
gsize=$(psql "$gurl" -X -t -A -c "SELECT (SELECT count(*) FROM members) || ' members, ' || (SELECT count(*) FROM x_edges) || ' edges'")
m=$("$B/bench_match" "$gurl" "$MATCH_N" 2>/dev/null) || fail "bench_match failed"
row "matching p50 / p99 per member" "$(field "$m" match_p50_ms) / $(field "$m" match_p99_ms) ms" \
    "$(field "$m" read_p50_ms) / $(field "$m" read_p99_ms) ms (read its edges)" \
    "$(calc "100 * $(field "$m" read_p99_ms) / $(field "$m" match_p99_ms)") % (p99)" \
    "p99 <= 20 ms" "$(verdict 20 "$(field "$m" match_p99_ms)")"
note "matching: $gsize ($gen); $(field "$m" members) members timed after a warm-up pass, $(field "$m" rows_avg) rows written and $(field "$m" edges_avg) edges each on average, the slowest $(field "$m" max_ms) ms; PostgreSQL's own CPU per match p50 $(field "$m" cpu_p50_ms) ms, p99 $(field "$m" cpu_p99_ms) ms (the rest of the wall time is waiting for a core)"
fi

# --- the table ----------------------------------------------------------------------------------
t_all=$(calc "$(now) - $t_start")
if [ "$QUICK" = 1 ]; then
    sed 's/^/# /' "$notes"
    echo "1..$nrow"
    exit 0
fi
{
    echo "passerelle bench, $(date -u +%Y-%m-%dT%H:%MZ), ${SECS} s per load, $CONNS connections, $t_all s in all"
    echo
    hv=$(lscpu | sed -n 's/^Hypervisor vendor: *//p')
    echo "- machine: $(lscpu | sed -n 's/^Model name: *//p'), $cores cores (${hv:+$hv guest}${hv:-bare metal}), $(free -g | awk '/^Mem:/ { print $2 }') GiB, $(uname -srm)"
    echo "- software: $(psql -V | sed 's/psql (PostgreSQL) /PostgreSQL /'), $(openssl version | cut -d' ' -f1-2), libevent $(pkg-config --modversion libevent), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), Node $(node --version)"
    echo "- load average: $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end"
    echo
    awk -F'\t' 'BEGIN { print "figure\tvalue\tlimit (same run)\tratio\ttarget\tresult" } { print }' "$rows" |
        awk -F'\t' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } n = NR }
            END { for (r = 1; r <= n; r++) { line = "|"; for (i = 1; i <= 6; i++) line = line sprintf(" %-" w[i] "s |", c[r, i]); print line
                  if (r == 1) { line = "|"; for (i = 1; i <= 6; i++) { d = ""; for (k = 0; k < w[i] + 2; k++) d = d "-"; line = line d "|" } print line } } }'
    echo
    sed 's/^/- /' "$notes"
} | tee "$B/latest.md"
echo
echo "(also in $B/latest.md)"
