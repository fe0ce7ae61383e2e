#!/usr/bin/env bash
# test.sh: the README's test command. Installs the test dependencies, builds
# with warnings as errors, and runs every test (ctest), then a short fuzzing
# pass over every parser of outside input.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh --test
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DALC_WERROR=ON >/dev/null
cmake --build build -j"$(nproc)"
(cd build && ctest --output-on-failure -j"$(nproc)")
if [[ "${ALC_SKIP_FUZZ:-0}" != 1 ]]; then
  bash tools/fuzz.sh "${ALC_FUZZ_SECONDS:-20}"
fi
