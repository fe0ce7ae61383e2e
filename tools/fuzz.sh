#!/usr/bin/env bash
# fuzz.sh [seconds]: builds the libFuzzer targets under fuzz/ with clang-16,
# ASan and UBSan, and runs each for the given time (default 20 s) on its
# seed corpus. Any crash, leak or UB report fails the script.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-20}"
if ! command -v clang-16 >/dev/null; then
  echo "fuzz.sh: clang-16 missing (bash tools/install-deps.sh --test)" >&2
  exit 1
fi
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang-16 -DALC_FUZZ=ON \
      -DALC_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=$(ls fuzz/fuzz_*.c 2>/dev/null | xargs -r -n1 basename | sed 's/\.c$//')
if [[ -z "$targets" ]]; then
  echo "fuzz.sh: no fuzz targets"; exit 0
fi
cmake --build build-fuzz -j"$(nproc)" --target $targets
for t in $targets; do
  corpus="build-fuzz/corpus/$t"
  mkdir -p "$corpus"
  seeds="fuzz/seeds/${t#fuzz_}"
  [[ -d "$seeds" ]] || seeds=""
  echo "fuzz.sh: $t for ${secs}s"
  ./build-fuzz/fuzz/$t -max_total_time="$secs" -print_final_stats=1 \
      -max_len=65536 "$corpus" $seeds 2>&1 | grep -E "stat::number_of_executed_units|ERROR|SUMMARY" || true
  test "${PIPESTATUS[0]}" -eq 0
done
