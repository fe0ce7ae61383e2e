#!/usr/bin/env bash
# quickstart.sh: the README's first command. Installs the Debian packages,
# builds dsac (Release, in build/), and runs the main job on the bundled
# model: prune examples/tiny-llama to 70 % with Wanda, each decoder block's
# ratio given by an allocation program (default: the function `dsac search`
# found for this model, examples/searched/tiny-llama-wanda70.alloc),
# calibrated on kjv.train.raw, scored on kjv.test.raw before and after,
# and saved to out/tiny-llama-70 with its report and per-block plot.
#   bash tools/quickstart.sh [ALLOC]
set -euo pipefail
cd "$(dirname "$0")/.."
alloc="${1:-examples/searched/tiny-llama-wanda70.alloc}"
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
mkdir -p out
set -x
./build/tools/dsac/dsac check "$alloc"
./build/tools/dsac/dsac prune --model examples/tiny-llama \
    --alloc "$alloc" --sparsity 0.7 --method wanda \
    --calib examples/corpus/kjv.train.raw --nsamples 32 --seqlen 256 \
    --eval examples/corpus/kjv.test.raw --eval-dense \
    --out out/tiny-llama-70 --force --plot out/tiny-llama-70.svg
