#!/usr/bin/env bash
# Webhook intake under load: `wrk` on loopback against POST /webhooks/alertmanager of the
# real daemon, side by side in one run: a ceiling server that parses the same payload and
# stores nothing (examples/intake_ceiling.rs), the daemon on SQLite (the embedded default),
# on PostgreSQL with one replica, and three replicas on one PostgreSQL database (three wrk
# processes at once, a third of the connections each, the way a Service spreads them).
# Prints a Markdown table; for three replicas the rate is the sum and the p99 the worst of
# the three. Every acknowledged webhook is checked to be stored once (the database's count).
#
# Usage: bench/intake.sh [CONNECTIONS] [SECONDS]     (default 64 connections, 10 s)
#   BASELINE=path/to/other/postmortemd bench/intake.sh …   adds a row for that binary, in
#   the same run, on its own data directory (before/after back to back on a busy machine).
#   PG=postgres://user@host:port   the PostgreSQL server (default postgres://postgres@127.0.0.1:5432);
#   a database is created for each PostgreSQL row and dropped after. PG=none leaves them out.
#   The PostgreSQL rows connect without TLS (sslmode=disable, as on a private network), plus one
#   row of three replicas with sslmode=require: sqlx 0.9.0 does not set TCP_NODELAY
#   (transact-rs/sqlx#4335, fixed upstream by #4336, unreleased), and TLS's extra small writes
#   then wait on delayed ACKs.
# Needs: wrk (apt-get install -y wrk), psql for the PostgreSQL rows.
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-64}
seconds=${2:-10}
pg=${PG:-postgres://postgres@127.0.0.1:5432}
command -v wrk >/dev/null || { echo "bench: wrk is missing: apt-get install -y wrk" >&2; exit 1; }

cargo build --release --quiet --bin postmortemd --example intake_ceiling
tmp=$(mktemp -d)
pids=()
databases=()
cleanup() {
    kill "${pids[@]}" 2>/dev/null || true
    wait 2>/dev/null || true
    for database in "${databases[@]}"; do psql -q "$pg/postgres" -c "DROP DATABASE IF EXISTS $database" || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

# Every request a distinct notification (its own group and fingerprint), as many alert
# groups firing would send: no request is a duplicate the store could skip.
cat > "$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
local thread_id = 0
local prefix = ""
setup = function(thread) thread:set("id", thread_id); thread_id = thread_id + 1 end
init = function(args) prefix = args[1] or "" end
request = function()
  counter = counter + 1
  local key = string.format("%s%d-%d", prefix, id or 0, counter)
  local body = '{"version":"4","receiver":"postmortemd","status":"firing","groupKey":"{}:{alertname=\\"Load' .. key .. '\\"}",'
    .. '"truncatedAlerts":0,"groupLabels":{"alertname":"Load' .. key .. '"},"commonLabels":{"alertname":"Load' .. key .. '","severity":"warning","namespace":"shop"},'
    .. '"commonAnnotations":{"summary":"synthetic load"},"externalURL":"http://alertmanager:9093",'
    .. '"alerts":[{"status":"firing","labels":{"alertname":"Load' .. key .. '","severity":"warning","namespace":"shop","pod":"api-7d9f8b6c5-x2kqp"},'
    .. '"annotations":{"summary":"synthetic load","description":"a realistic-sized payload with labels and annotations"},'
    .. '"startsAt":"2025-02-09T10:06:15.347Z","endsAt":"0001-01-01T00:00:00Z",'
    .. '"generatorURL":"http://prometheus:9090/graph?g0.expr=up\\u0026g0.tab=1","fingerprint":"' .. string.format("%016x", counter) .. '"}]}'
  return wrk.format(nil, "/webhooks/alertmanager", nil, body)
end
LUA

port_free() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done; return 1; }

# One wrk against URL with CONNECTIONS: "rate p99_ms non2xx requests".
load() { # connections url prefix (keeps the notifications of simultaneous wrk runs distinct)
    local out
    out=$(wrk -t2 -c"$1" -d"${seconds}s" --latency -s "$tmp/post.lua" "$2" -- "$3")
    local rps p99 non2xx requests
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    requests=$(awk '/requests in/ {print $1}' <<<"$out")
    echo "$rps $p99 ${non2xx:-0} $requests"
}

# The connections split over the URLs, one wrk each, at once: a table row; the 2xx answers
# (acknowledged webhooks) are left in $tmp/acknowledged.
run() { # name url...
    local name=$1; shift
    local share=$(( connections / $# )) i=0 loads=()
    for url in "$@"; do load "$share" "$url" "r$i-" > "$tmp/load.$i" & loads+=($!); i=$((i + 1)); done
    wait "${loads[@]}"
    awk -v name="$name" -v c="$connections" '{r+=$1; if ($2>p) p=$2; n+=$3} END {printf "| %s | %s | %.0f | %.2f ms | %d |\n", name, c, r, p, n}' "$tmp"/load.*
    awk '{a+=$4-$3} END {print a}' "$tmp"/load.* > "$tmp/acknowledged"
    rm -f "$tmp"/load.*
}

serve() { # store-url: starts a daemon on a free port, left in $served_port
    served_port=$(port_free)
    target/release/postmortemd serve --listen "127.0.0.1:$served_port" --store "$1" \
        >/dev/null 2>>"$tmp/daemon-$served_port.log" & pids+=($!)
    wait_up "$served_port" || { echo "bench: the daemon on $1 did not start:" >&2; cat "$tmp/daemon-$served_port.log" >&2; exit 1; }
}

# "STORED stored of ACKNOWLEDGED acknowledged": every request is a distinct notification, so
# each acknowledged one is stored once; a request in flight when wrk stopped may be stored
# without its answer being counted (at most one per connection).
count() { # stored
    echo "$1 stored of $(cat "$tmp/acknowledged") acknowledged"
}

ceiling_port=$(port_free)
target/release/examples/intake_ceiling "127.0.0.1:$ceiling_port" & pids+=($!)
wait_up "$ceiling_port"

echo "| Server | Connections | Webhooks/s | p99 latency | Non-2xx |"
echo "|--------|------------:|-----------:|------------:|--------:|"
run "ceiling: parse only, no storage" "http://127.0.0.1:$ceiling_port"
if [[ -n "${BASELINE:-}" ]]; then
    baseline_port=$(port_free)
    "$BASELINE" serve --listen "127.0.0.1:$baseline_port" --store "sqlite://$tmp/baseline/postmortemd.db" 2>"$tmp/baseline.log" & pids+=($!)
    wait_up "$baseline_port"
    run "baseline: $BASELINE" "http://127.0.0.1:$baseline_port"
fi
serve "sqlite://$tmp/data/postmortemd.db"
run "SQLite, one daemon (WAL, synchronous=FULL)" "http://127.0.0.1:$served_port"
counts="SQLite $(count "$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM webhooks").fetchone()[0])' "$tmp/data/postmortemd.db")")"

if [[ "$pg" != none ]]; then
    command -v psql >/dev/null || { echo "bench: psql is missing (or set PG=none)" >&2; exit 1; }
    for setup in "1 disable" "3 disable" "3 require"; do
        read -r replicas sslmode <<<"$setup"
        database="postmortemd_bench_$$_${replicas}_$sslmode"
        psql -q "$pg/postgres" -c "CREATE DATABASE $database" && databases+=("$database")
        urls=()
        for _ in $(seq "$replicas"); do
            serve "$pg/$database?sslmode=$sslmode"
            urls+=("http://127.0.0.1:$served_port")
        done
        label="replica"; [[ $replicas -gt 1 ]] && label="replicas"
        run "PostgreSQL, $replicas $label on one database (sslmode=$sslmode)" "${urls[@]}"
        counts="$counts; PostgreSQL×$replicas $sslmode $(count "$(psql -qtA "$pg/$database" -c 'SELECT count(*) FROM webhooks')")"
    done
fi
echo
echo "stored / acknowledged: $counts; load: $(cut -d' ' -f1-3 /proc/loadavg)"
