#!/usr/bin/env bash
# Webhook intake under load: `wrk` on loopback against POST /webhooks/alertmanager of the
# real daemon (durable SQLite store), side by side with a ceiling server that parses the
# same payload and stores nothing (examples/intake_ceiling.rs). Prints a Markdown table.
#
# Usage: bench/intake.sh [CONNECTIONS] [SECONDS]     (default 64 connections, 10 s)
#   BASELINE=path/to/other/postmortemd bench/intake.sh …   adds a row for that binary, in
#   the same run, on its own data directory (before/after back to back on a busy machine).
# Needs: wrk (apt-get install -y wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
connections=${1:-64}
seconds=${2:-10}
command -v wrk >/dev/null || { echo "bench: wrk is missing: apt-get install -y wrk" >&2; exit 1; }

cargo build --release --quiet --bin postmortemd --example intake_ceiling
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# Every request a distinct notification (its own group and fingerprint), as many alert
# groups firing would send: no request is a duplicate the store could skip.
cat > "$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local counter = 0
local thread_id = 0
setup = function(thread) thread:set("id", thread_id); thread_id = thread_id + 1 end
request = function()
  counter = counter + 1
  local key = string.format("%d-%d", id or 0, counter)
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

run() { # name url
    local out
    out=$(wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$tmp/post.lua" "$2")
    local rps p99 non2xx
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {print $2}' <<<"$out")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$out")
    printf '| %s | %s | %s | %s | %s |\n' "$1" "$connections" "$rps" "$p99" "${non2xx:-0}"
}

ceiling_port=$(port_free)
target/release/examples/intake_ceiling "127.0.0.1:$ceiling_port" & pids+=($!)
daemon_port=$(port_free)
target/release/postmortemd serve --listen "127.0.0.1:$daemon_port" --store "sqlite://$tmp/data/postmortemd.db" 2>"$tmp/daemon.log" & pids+=($!)
wait_up "$ceiling_port"; wait_up "$daemon_port"
if [[ -n "${BASELINE:-}" ]]; then
    baseline_port=$(port_free)
    "$BASELINE" serve --listen "127.0.0.1:$baseline_port" --store "sqlite://$tmp/baseline/postmortemd.db" 2>"$tmp/baseline.log" & pids+=($!)
    wait_up "$baseline_port"
fi

echo "| Server | Connections | Webhooks/s | p99 latency | Non-2xx |"
echo "|--------|------------:|-----------:|------------:|--------:|"
run "ceiling: parse only, no storage" "http://127.0.0.1:$ceiling_port"
if [[ -n "${BASELINE:-}" ]]; then
    run "baseline: $BASELINE" "http://127.0.0.1:$baseline_port"
fi
run "postmortemd serve (SQLite, WAL, synchronous=FULL)" "http://127.0.0.1:$daemon_port"
echo
echo "stored: $(curl -s "http://127.0.0.1:$daemon_port/metrics" | awk '/outcome="stored"/ && /alertmanager/ {print $2}') webhooks; load: $(cut -d' ' -f1-3 /proc/loadavg)"
