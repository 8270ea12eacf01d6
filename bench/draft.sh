#!/usr/bin/env bash
# Benchmarks `postmortemd draft` on generated pod logs, side by side with two floors:
# `cat FILES > /dev/null` (what reading the bytes costs) and `sort -m -k1,1 FILES`
# (a merge of pre-sorted files by their kubelet prefix, i.e. the cheapest possible
# "one timeline" tool). Prints a Markdown table for BENCHMARKS.md.
#
# Usage: bench/draft.sh [MILLIONS ...]      (default: 1 10)
# Env:   BENCH_RUNS=3   runs per command; the best (lowest wall time) is reported
#        BENCH_DATA=target/bench-data   where the generated data lives (kept between runs)
#        POSTMORTEMD=target/release/postmortemd   the binary under test (built here unless set)
#
# Data is generated once per size by examples/generate_load.rs and regenerated only when
# that generator changes. Peak RSS comes from /usr/bin/time -f '%M'; wall time from the
# nanosecond clock around it, since `%e` has only 10 ms resolution.
# A command that fails (e.g. `draft` before the pipeline exists) is reported as n/a.
set -euo pipefail

cd "$(dirname "$0")/.."
sizes=("$@")
if [ ${#sizes[@]} -eq 0 ]; then
    sizes=(1 10)
fi
runs=${BENCH_RUNS:-3}
data_root=${BENCH_DATA:-target/bench-data}
containers=20
time_bin=/usr/bin/time

if [ ! -x "$time_bin" ]; then
    echo "bench: $time_bin is missing (GNU time); install it: apt-get install -y time" >&2
    exit 1
fi
for size in "${sizes[@]}"; do
    if ! [[ "$size" =~ ^[0-9]+([.][0-9]+)?$ ]]; then
        echo "bench: size $size is not a number of millions of lines" >&2
        exit 2
    fi
done

echo "bench: building release binaries" >&2
cargo build --release --quiet --example generate_load
generator=target/release/examples/generate_load
if [ -z "${POSTMORTEMD:-}" ]; then
    # The binary may not build yet (or lack `draft`): that must not stop the floors.
    if ! cargo build --release --quiet --bin postmortemd; then
        echo "bench: postmortemd did not build; its rows will read n/a" >&2
    fi
fi
postmortemd=${POSTMORTEMD:-target/release/postmortemd}
generator_sum=$(cksum < examples/generate_load.rs | cut -d' ' -f1)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# measure NAME CMD...: runs CMD $runs times with stdout to /dev/null; sets $wall and $rss
# (KiB) to the best run, or both to "" when a run fails.
measure() {
    local name=$1
    shift
    wall=""
    rss=""
    local run
    for ((run = 1; run <= runs; run++)); do
        local started finished run_wall run_rss
        started=$(date +%s%N)
        if ! "$time_bin" -f '%M' -o "$tmp/time" "$@" > /dev/null 2> "$tmp/stderr"; then
            echo "bench: $name failed: $(head -c 300 "$tmp/stderr" | head -n 3)" >&2
            wall=""
            rss=""
            return 0
        fi
        finished=$(date +%s%N)
        run_wall=$(awk -v nanos=$((finished - started)) 'BEGIN { printf "%.3f", nanos / 1e9 }')
        run_rss=$(tail -n 1 "$tmp/time")
        if [ -z "$wall" ] || awk -v new="$run_wall" -v old="$wall" 'BEGIN { exit !(new < old) }'; then
            wall=$run_wall
            rss=$run_rss
        fi
    done
}

# row SIZE_LABEL COMMAND_LABEL LINES: one Markdown row from $wall and $rss.
row() {
    if [ -z "$wall" ]; then
        printf '| %s | %s | n/a | n/a | n/a |\n' "$1" "$2" >> "$tmp/table"
        return
    fi
    awk -v size="$1" -v command="$2" -v lines="$3" -v wall="$wall" -v rss="$rss" 'BEGIN {
        rate = (wall > 0) ? lines / wall : 0
        if (rate >= 1e6) { rate_text = sprintf("%.2fM", rate / 1e6) }
        else { rate_text = sprintf("%.0fk", rate / 1e3) }
        printf "| %s | %s | %.3f | %s | %.0f |\n", size, command, wall, rate_text, rss / 1024
    }' >> "$tmp/table"
}

{
    echo "| Input | Command | Wall (s) | Lines/s | Peak RSS (MiB) |"
    echo "|-------|---------|---------:|--------:|---------------:|"
} > "$tmp/table"

for size in "${sizes[@]}"; do
    lines=$(awk -v millions="$size" 'BEGIN { printf "%.0f", millions * 1000000 }')
    dir="$data_root/${size}m"
    stamp="lines=$lines containers=$containers generator=$generator_sum"
    if [ ! -f "$dir/.generated" ] || [ "$(cat "$dir/.generated")" != "$stamp" ]; then
        echo "bench: generating $lines lines into $dir" >&2
        rm -rf "$dir"
        mkdir -p "$dir"
        "$generator" --lines "$lines" --containers "$containers" --out "$dir"
        echo "$stamp" > "$dir/.generated"
    fi
    files=("$dir"/*.log)
    bytes=$(cat "${files[@]}" | wc -c)
    megabytes=$(awk -v bytes="$bytes" 'BEGIN { printf "%.0f", bytes / 1e6 }')
    label="${size}M lines, ${#files[@]} files, $megabytes MB"

    # Warm the page cache once so every command reads from memory alike.
    cat "${files[@]}" > /dev/null

    echo "bench: $label: cat" >&2
    measure cat cat "${files[@]}"
    row "$label" '`cat FILES`' "$lines"

    echo "bench: $label: sort -m" >&2
    measure "sort -m" env LC_ALL=C sort -m -k1,1 "${files[@]}"
    row "$label" '`sort -m -k1,1 FILES`' "$lines"

    echo "bench: $label: postmortemd draft" >&2
    if [ -x "$postmortemd" ] && "$postmortemd" draft --help > /dev/null 2>&1; then
        measure "postmortemd draft" "$postmortemd" draft "$dir" --format json -o /dev/null
    else
        echo "bench: $postmortemd has no draft subcommand yet" >&2
        wall=""
        rss=""
    fi
    row "$label" '`postmortemd draft DIR --format json`' "$lines"
done

echo
echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; best of $runs runs; page cache warm."
echo
cat "$tmp/table"
