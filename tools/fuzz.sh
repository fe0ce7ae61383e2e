#!/usr/bin/env bash
# fuzz.sh [seconds]: builds the libFuzzer targets under fuzz/ with clang-16,
# ASan and UBSan, and runs each for the given time (default 20 s) on its
# seed corpus. Any crash, leak or UB report fails the script; crash inputs
# are kept under build-fuzz/artifacts/ and the log tail is printed.
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
mkdir -p build-fuzz/artifacts build-fuzz/logs
fail=0
for t in $targets; do
  corpus="build-fuzz/corpus/$t"
  mkdir -p "$corpus"
  seeds="fuzz/seeds/${t#fuzz_}"
  [[ -d "$seeds" ]] || seeds=""
  log="build-fuzz/logs/$t.log"
  st=0
  ./build-fuzz/fuzz/$t -max_total_time="$secs" -print_final_stats=1 \
      -max_len=65536 -artifact_prefix=build-fuzz/artifacts/"$t"- \
      "$corpus" $seeds >"$log" 2>&1 || st=$?
  execs=$(grep -o "stat::number_of_executed_units: *[0-9]*" "$log" | grep -o "[0-9]*$" || echo "?")
  if [[ $st -ne 0 ]] || grep -qE "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:" "$log"; then
    echo "fuzz.sh: $t FAILED (exit $st) after $execs runs; log: $log"
    tail -n 40 "$log"
    fail=1
  else
    echo "fuzz.sh: $t ok, $execs runs in ${secs}s"
  fi
done
exit $fail
