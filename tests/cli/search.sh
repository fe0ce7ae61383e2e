#!/usr/bin/env bash
# search.sh: `dsac search` from the command line:
#  - usage errors exit 2; a validation file that is the calibration text,
#    or named like a test split, is refused; a second start over a
#    recorded search, and --resume with other options, are refused;
#  - a synthetic search writes best.alloc (checks, canonical layout),
#    history.csv (one line per candidate), history.json and search.svg;
#    --plot draws evolution and random in one SVG;
#  - the same seed gives the same history with --workers 1 and 2;
#  - on the bundled model (70 % Wanda), `dsac prune --alloc best.alloc`
#    measures exactly the validation perplexity the search recorded for it
#    (an independent path through the pruning CLI), and the README's DSA
#    function seeds the search.
set -euo pipefail
m="$ALC_SOURCE_DIR/examples/tiny-llama"
c="$ALC_SOURCE_DIR/examples/corpus"
tmp="$ALC_BINARY_DIR/testtmp/cli_search"
rm -rf "$tmp" && mkdir -p "$tmp"
strip() { sed 's/,[^,]*,[^,]*,[^,]*,[^,]*$//' "$1/history.csv"; }
expect_fail() { # expect_fail STATUS PATTERN command...
    local want=$1 pat=$2; shift 2
    set +e; "$@" > "$tmp/out.txt" 2>&1; local rc=$?; set -e
    if [ $rc -ne "$want" ] || ! grep -q -- "$pat" "$tmp/out.txt"; then
        echo "expected exit $want and '$pat' from: $*"; cat "$tmp/out.txt"; exit 1
    fi
}

# ---- refusals
expect_fail 2 "state DIR is required" "$DSAC" search --synthetic
expect_fail 2 "are required" "$DSAC" search --state "$tmp/x" --model "$m"
expect_fail 2 "bad value for --evals" "$DSAC" search --synthetic --state "$tmp/x" --evals 0
expect_fail 1 "is the calibration text" "$DSAC" search --model "$m" --state "$tmp/x" \
    --calib "$c/kjv.train.raw" --valid "$c/kjv.train.raw"
expect_fail 1 "looks like a test split" "$DSAC" search --model "$m" --state "$tmp/x" \
    --calib "$c/kjv.train.raw" --valid "$c/kjv.test.raw"
expect_fail 1 "unknown mode 'chian'" "$DSAC" search --synthetic --state "$tmp/x" \
    --space <(printf 'space x\nmode chian\n')
echo "refusals: ok"

# ---- a synthetic search and its outputs
syn=(--synthetic --evals 30 --population 8 --batch 3 --seed 3 --quiet)
"$DSAC" search "${syn[@]}" --state "$tmp/evo" -o "$tmp/best_copy.alloc" > "$tmp/evo.txt"
cat "$tmp/evo.txt"
grep -q "^search: 30 evaluations of" "$tmp/evo.txt"
for f in best.alloc history.csv history.json search.svg state.json; do
    test -s "$tmp/evo/$f"
done
"$DSAC" check "$tmp/evo/best.alloc"
"$DSAC" fmt --check "$tmp/evo/best.alloc"
cmp "$tmp/evo/best.alloc" "$tmp/best_copy.alloc"
grep -q "^#   chain: " "$tmp/evo/best.alloc"
n=$(grep -c '"id":' "$tmp/evo/state.json")
test "$(wc -l < "$tmp/evo/history.csv")" -eq $((n + 1))
expect_fail 1 "already recorded here" "$DSAC" search "${syn[@]}" --state "$tmp/evo"
expect_fail 1 "started with other options" "$DSAC" search "${syn[@]}" --seed 4 \
    --state "$tmp/evo" --resume
"$DSAC" search "${syn[@]}" --state "$tmp/evo" --resume > /dev/null   # done: no-op
echo "outputs: ok ($n candidates)"

# ---- workers 1 vs 2: the same history
"$DSAC" search "${syn[@]}" --state "$tmp/evo2" --workers 2 > /dev/null
cmp <(strip "$tmp/evo") <(strip "$tmp/evo2")
echo "workers 1 and 2: same history"

# ---- evolution vs random in one plot
"$DSAC" search "${syn[@]}" --strategy random --state "$tmp/rnd" > /dev/null
"$DSAC" search --plot "$tmp/evo" "$tmp/rnd" -o "$tmp/compare.svg"
grep -q "^<svg " "$tmp/compare.svg"
test "$(grep -c "<polyline" "$tmp/compare.svg")" -eq 2
grep -q "evolution (" "$tmp/compare.svg" && grep -q "random (" "$tmp/compare.svg"
echo "plot: ok"

# ---- the bundled model: dsac prune reproduces the recorded fitness
real=(--model "$m" --calib "$c/kjv.train.raw" --nsamples 8 --seqlen 128
      --valid "$c/kjv.valid.raw" --valid-chunks 6 --sparsity 0.7 --quiet)
"$DSAC" search "${real[@]}" --evals 4 --population 3 --batch 2 \
    --seed-alloc "$ALC_SOURCE_DIR/stdlib/dsa.alloc" --state "$tmp/model" > "$tmp/model.txt"
cat "$tmp/model.txt"
grep -q '"op": "seed .*stdlib/dsa.alloc"' "$tmp/model/state.json"
"$DSAC" prune --model "$m" --calib "$c/kjv.train.raw" --nsamples 8 --seqlen 128 \
    --sparsity 0.7 --alloc "$tmp/model/best.alloc" --eval "$c/kjv.valid.raw" \
    --eval-max-chunks 6 --quiet --report "$tmp/prune.json" > /dev/null
/usr/bin/python3 - "$tmp/model/history.json" "$tmp/prune.json" <<'PY'
import json, sys
h, p = (json.load(open(f)) for f in sys.argv[1:3])
best = h["best_fitness"]
assert best == p["ppl"]["ppl"], (best, p["ppl"]["ppl"])
assert h["evaluations"] == 4 and h["dense_ppl"] < best
print("dsac prune reproduces the search's fitness: %.6f" % best)
PY
