#!/usr/bin/env bash
# Every cargo-fuzz target of fuzz/ for a bounded time (libFuzzer's -max_total_time), one
# after the other, then a Markdown table: target, runs, seconds, crashes. A crash leaves its
# input under fuzz/artifacts/TARGET/ and the run's log under fuzz/logs/ (both ignored by git).
#
# Usage: bench/fuzz.sh [SECONDS_PER_TARGET] [TARGET…]      (default 60 s, every target)
#   FUZZ_SANITIZER=none|address|…   cargo fuzz's -s (default address)
#   FUZZ_TOOLCHAIN=stable            a toolchain to build with (default: nightly when installed)
# Needs cargo-fuzz (`cargo install cargo-fuzz`). Its builds use nightly-only flags
# (-Zsanitizer, -Cpasses=sancov-module); with no nightly toolchain installed the script sets
# RUSTC_BOOTSTRAP=1 so that the stable compiler takes them.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-60}
shift || true
command -v cargo-fuzz > /dev/null || { echo "bench: cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 1; }
toolchain=()
if [ -n "${FUZZ_TOOLCHAIN:-}" ]; then
    toolchain=("+$FUZZ_TOOLCHAIN")
    [[ "$FUZZ_TOOLCHAIN" == nightly* ]] || export RUSTC_BOOTSTRAP=1
elif rustup toolchain list 2> /dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
sanitizer=${FUZZ_SANITIZER:-address}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
fi
mkdir -p logs
for target in "${targets[@]}"; do
    cargo "${toolchain[@]}" fuzz build -s "$sanitizer" "$target" >> logs/build.log 2>&1 || {
        echo "bench: cargo fuzz build $target failed; see fuzz/logs/build.log" >&2
        tail -20 logs/build.log >&2
        exit 1
    }
done

echo "| Target | Runs | Seconds | Crashes |"
echo "|---|---:|---:|---|"
failed=0
for target in "${targets[@]}"; do
    status=0
    cargo "${toolchain[@]}" fuzz run -s "$sanitizer" "$target" -- \
        -max_total_time="$seconds" -dict=json.dict -print_final_stats=1 > "logs/$target.log" 2>&1 || status=$?
    runs=$(awk '/stat::number_of_executed_units:/ {print $2}' "logs/$target.log" | tail -1)
    took=$(awk '/^Done [0-9]+ runs in/ {print $5}' "logs/$target.log" | tail -1)
    if [ "$status" -eq 0 ]; then
        crashes=0
    else
        crashes="1 (exit $status: fuzz/logs/$target.log, fuzz/artifacts/$target/)"
        failed=1
    fi
    printf '| %s | %s | %s | %s |\n' "$target" "${runs:-?}" "${took:-$seconds}" "$crashes"
done
exit "$failed"
