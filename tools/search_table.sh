#!/usr/bin/env bash
# search_table.sh [OUT_DIR] [EVALS] [K]: the acceptance table of `dsac
# search` on the bundled model at 70 % sparsity with Wanda.
#
#  1. `dsac search` with --strategy evolution and --strategy random, the
#     same budget (EVALS evaluations, default 200) and seed 0, fitness =
#     perplexity on the first K (default 64) windows of 256 tokens of
#     kjv.valid.raw; calibration kjv.train.raw, 32 x 256 (even windows).
#     Rerunning the script resumes unfinished searches.
#  2. ATP's beta chosen by `dsac tune` on the same validation windows
#     (grid 0 .. 0.05 step 0.002, ATP's step).
#  3. `dsac prune` of every allocation: uniform, OWL (M = 5, lambda 0.08),
#     ATP (tuned beta), DSA's README function (stdlib/dsa.alloc), its
#     ATAN-only variant (stdlib/dsa_atan.alloc), and the two searches'
#     best.alloc, each scored on the validation windows and on the whole
#     of kjv.test.raw (243 windows of 256; never seen by the searches).
#  4. A Markdown table on stdout (also OUT_DIR/table.md), and the plot
#     OUT_DIR/compare.svg of both searches.
#
# Run from anywhere after building (cmake --build build); DSAC overrides
# the binary. Takes about 20 minutes on 2 cores with the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${DSAC:-build/tools/dsac/dsac}
out=${1:-build/search_table}
evals=${2:-200}
k=${3:-64}
m=examples/tiny-llama
c=examples/corpus
common=(--model "$m" --calib "$c/kjv.train.raw" --nsamples 32 --seqlen 256
        --sparsity 0.7 --method wanda)
mkdir -p "$out"

# ---- 1. the searches
for strat in evolution random; do
    resume=()
    if [ -f "$out/$strat/state.json" ]; then resume=(--resume); fi
    start=$(date +%s)
    "$D" search "${common[@]}" --valid "$c/kjv.valid.raw" --valid-chunks "$k" \
        --strategy "$strat" --evals "$evals" --seed 0 --state "$out/$strat" \
        "${resume[@]}" 2> "$out/$strat.log" | tee "$out/$strat.txt"
    echo "$strat: $(( $(date +%s) - start )) s" | tee -a "$out/times.txt"
done
"$D" search --plot "$out/evolution" "$out/random" -o "$out/compare.svg"

# ---- 2. ATP's beta on the validation windows
"$D" tune stdlib/atp.alloc "${common[@]}" --param beta=0:0.05:0.002 \
    --eval "$c/kjv.valid.raw" --eval-max-chunks "$k" -o "$out/atp_best.alloc" \
    --quiet > "$out/atp_tune.txt"
beta=$(sed -n 's/^best: beta = \([0-9.e-]*\).*/\1/p' "$out/atp_tune.txt")

# ---- 3. every allocation on validation and test
ppl_of() { sed -n 's/^pruned *PPL = \([0-9.]*\).*/\1/p' "$1"; }
ratios_of() {
    awk '/^[0-9]+ +block/ { v = $(NF - 4); if (min == "" || v < min) min = v;
         if (max == "" || v > max) max = v } END { printf "%.3f .. %.3f", min, max }' "$1"
}
row() { # row NAME FILE-or-empty
    local name=$1 file=$2 alloc=()
    if [ -n "$file" ]; then alloc=(--alloc "$file"); fi
    local base="$out/prune_$(echo "$name" | tr -c 'a-zA-Z0-9' '_')"
    "$D" prune "${common[@]}" "${alloc[@]}" --eval "$c/kjv.valid.raw" \
        --eval-max-chunks "$k" --quiet > "$base.valid.txt" 2>&1
    "$D" prune "${common[@]}" "${alloc[@]}" --eval "$c/kjv.test.raw" \
        --quiet > "$base.test.txt" 2>&1
    local note=""
    if grep -q "^WARNING" "$base.test.txt"; then
        note="NaN on $(grep -o 'units [0-9-]*' "$base.test.txt" | head -1), mapped to score 0"
    fi
    printf '| %s | %s | %s | %s | %s |\n' "$name" "$(ratios_of "$base.test.txt")" \
        "$(ppl_of "$base.valid.txt")" "$(ppl_of "$base.test.txt")" "$note"
}
dense=$("$D" eval --model "$m" --data "$c/kjv.test.raw" --seqlen 256 --quiet |
        sed -n 's/^Final estimate: PPL = \([0-9.]*\).*/\1/p')
{
    echo "Bundled model (examples/tiny-llama), 70 % unstructured sparsity, Wanda,"
    echo "calibration kjv.train.raw 32 x 256; validation = first $k windows of 256"
    echo "tokens of kjv.valid.raw (the searches' fitness); test = all 243 windows of"
    echo "256 tokens of kjv.test.raw (never used by the searches). Dense test PPL $dense."
    echo
    echo "| allocation | ratios | valid PPL ($k x 256) | test PPL (243 x 256) | note |"
    echo "| --- | --- | --- | --- | --- |"
    row "uniform" ""
    row "OWL (M = 5, lambda = 0.08)" stdlib/owl.alloc
    row "ATP (beta = $beta, tuned on valid)" "$out/atp_best.alloc"
    row "DSA README W:(ABSLOG)-(VAR)-(ATAN,ASIN)" stdlib/dsa.alloc
    row "DSA W:(ABSLOG)-(VAR)-(ATAN)" stdlib/dsa_atan.alloc
    for strat in evolution random; do
        chain=$(sed -n 's/^#   chain: //p' "$out/$strat/best.alloc")
        row "dsac search, $strat ($evals evals): $chain" "$out/$strat/best.alloc"
    done
    echo
    for strat in evolution random; do
        echo "$strat: $(grep '^search:' "$out/$strat.txt" | tail -1)"
    done
} | tee "$out/table.md"
