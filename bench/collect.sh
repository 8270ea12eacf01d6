#!/usr/bin/env bash
# Live collection under load: the tests' fake Kubernetes API server (examples/collect_load.rs)
# serves a Deployment of PODS pods with LINES log lines each over an incident three days ago;
# the real daemon gets the incident's (resolved) Alertmanager notification, collects every
# container's log over the window, stores it, and drafts the timeline. Prints a Markdown row:
# seconds from the webhook to the served timeline, the build alone, and the daemon's peak RSS.
#
# Usage: bench/collect.sh [PODS] [LINES]     (default 20 pods × 200,000 lines)
set -euo pipefail
cd "$(dirname "$0")/.."
pods=${1:-20}
lines=${2:-200000}

cargo build --release --quiet --bin postmortemd --example collect_load
tmp=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$tmp"' EXIT

port_free() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
now() { date +%s.%N; }

target/release/examples/collect_load "$tmp/fake" "$pods" "$lines" >"$tmp/fake.log" 2>&1 & pids+=($!)
for _ in $(seq 600); do [ -f "$tmp/fake/incident.env" ] && break; sleep 0.1; done
# shellcheck disable=SC1091
. "$tmp/fake/incident.env"

port=$(port_free)
cat > "$tmp/postmortemd.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[store]
url = "sqlite://$tmp/data/postmortemd.db"
[kubernetes]
kubeconfig = "$tmp/fake/kubeconfig"
max_pods = $pods
max_bytes_per_container = "64MiB"
TOML
target/release/postmortemd serve --config "$tmp/postmortemd.toml" 2>"$tmp/daemon.log" & daemon=$!; pids+=($daemon)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done

body=$(cat <<JSON
{"version":"4","receiver":"postmortemd","status":"resolved","groupKey":"{}:{alertname=\"CheckoutErrors\"}","truncatedAlerts":0,
 "groupLabels":{"alertname":"CheckoutErrors"},"commonLabels":{"alertname":"CheckoutErrors","namespace":"shop","deployment":"checkout"},
 "commonAnnotations":{"summary":"checkout 5xx above 5%"},"externalURL":"http://am:9093",
 "alerts":[{"status":"resolved","labels":{"alertname":"CheckoutErrors","namespace":"shop","deployment":"checkout"},
  "annotations":{"summary":"checkout 5xx above 5%"},"startsAt":"$FIRED_AT","endsAt":"$RESOLVED_AT",
  "generatorURL":"http://prometheus:9090/graph?g0.expr=up","fingerprint":"c0ffee0000000001"}]}
JSON
)
started=$(now)
curl -sf -o /dev/null -H 'Content-Type: application/json' --data "$body" "http://127.0.0.1:$port/webhooks/alertmanager"
until curl -s "http://127.0.0.1:$port/metrics" | grep -q '^postmortemd_collect_passes_total [1-9]'; do sleep 0.05; done
collected=$(now)
curl -sf "http://127.0.0.1:$port/api/v1/incidents/1/timeline?format=json" -o "$tmp/timeline.json"
drafted=$(now)
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$daemon/status")
entries=$(python3 -c "import json,sys;print(len(json.load(open(sys.argv[1]))['entries']))" "$tmp/timeline.json")
stored=$(sqlite3 "$tmp/data/postmortemd.db" 'SELECT COALESCE(SUM(n_bytes),0) FROM evidence_logs' 2>/dev/null || echo "?")

echo "| Pods × lines | Webhook → collected (s) | Draft (s) | Total (s) | Peak RSS (MiB) | Log bytes stored | Timeline rows |"
echo "|---|---:|---:|---:|---:|---:|---:|"
python3 - "$pods" "$lines" "$started" "$collected" "$drafted" "$rss_kib" "$stored" "$entries" <<'PY'
import sys
pods, lines, started, collected, drafted, rss, stored, entries = sys.argv[1:]
started, collected, drafted = float(started), float(collected), float(drafted)
print(f"| {pods} × {int(lines):,} | {collected - started:.2f} | {drafted - collected:.2f} | {drafted - started:.2f} | {int(rss) / 1024:.0f} | {stored} | {entries} |")
PY
