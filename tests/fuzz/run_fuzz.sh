#!/usr/bin/env bash
# tests/fuzz/run_fuzz.sh [SECONDS]: build every libFuzzer target with clang (build-fuzz) and run
# each one for SECONDS (default 30) over a scratch copy of its seed corpus (corpus_<name>/ when
# present). The library gets ASan+UBSan and fuzzer coverage (-fsanitize=fuzzer-no-link).
# Exits non-zero if any fuzzer finds a crash; artifacts land in build-fuzz/artifacts/.
set -euo pipefail
secs="${1:-30}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="$root/build-fuzz"
jobs="${FUZZ_JOBS:-2}"

CC=clang cmake -S "$root" -B "$build" -DOL_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DOL_SANITIZE=address -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link >/dev/null
cmake --build "$build" -j"$jobs" >/dev/null

rm -rf "$build/artifacts"
mkdir -p "$build/artifacts"
status=0
for src in "$root"/tests/fuzz/fuzz_*.c; do
    name="$(basename "$src" .c)"
    seeds="$root/tests/fuzz/corpus_${name#fuzz_}"
    work="$build/corpus/$name"
    rm -rf "$work"
    mkdir -p "$work"
    if [ -d "$seeds" ]; then cp "$seeds"/* "$work"/ 2>/dev/null || true; fi
    echo "== $name for ${secs}s"
    if ! "$build/$name" "$work" -max_len=65536 -max_total_time="$secs" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$build/artifacts/$name-" 2>"$build/$name.log"; then
        echo "!! $name found a problem; see $build/$name.log and $build/artifacts/"
        tail -40 "$build/$name.log"
        status=1
    else
        grep -E "stat::number_of_executed_units|cov:" "$build/$name.log" | tail -2 || true
    fi
done
exit $status
