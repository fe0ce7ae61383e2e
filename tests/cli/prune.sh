#!/usr/bin/env bash
# prune.sh: `dsac prune`, `dsac alloc` and `dsac tune` end to end on the
# bundled model (calibration kjv.train.raw, 32 x 256 even):
#  - --threads 1 and 2 save byte-identical models (SparseGPT and Wanda);
#  - the saved model reloads in `dsac eval` with the same perplexity;
#  - the JSON report carries every knob, the SVG plot is written;
#  - an invalid allocation exits 1, names the op, and saves nothing;
#  - `dsac alloc` prints the table (and --json);
#  - `dsac tune` on ATP: a grid with legal and illegal betas (S = 0.95:
#    beta <= 2 (1 - S) / 7 = 0.0143), invalid points reported with the
#    reason, the best instantiation written and loadable; a test split is
#    refused.
set -euo pipefail
m="$ALC_SOURCE_DIR/examples/tiny-llama"
c="$ALC_SOURCE_DIR/examples/corpus"
lib="$ALC_SOURCE_DIR/stdlib"
tmp="$ALC_BINARY_DIR/testtmp/cli_prune"
rm -rf "$tmp" && mkdir -p "$tmp"
common=(--model "$m" --calib "$c/kjv.train.raw" --nsamples 32 --seqlen 256 --quiet)

# threads 1 vs 2: identical bytes (SparseGPT and Wanda, OWL allocation)
for meth in sparsegpt wanda; do
    for t in 1 2; do
        "$DSAC" prune "${common[@]}" --method $meth --sparsity 0.6 \
            --alloc "$lib/owl.alloc" --threads $t --out "$tmp/$meth.t$t" > /dev/null
    done
    cmp "$tmp/$meth.t1/model.safetensors" "$tmp/$meth.t2/model.safetensors"
done
echo "threads 1 and 2: identical saved models"

# prune + eval + save + report + plot; reload in dsac eval: same PPL
"$DSAC" prune "${common[@]}" --method wanda --sparsity 0.7 --alloc "$lib/atp.alloc" \
    --param beta=0.01 --eval "$c/kjv.test.raw" --eval-max-chunks 40 \
    --out "$tmp/atp" --report "$tmp/atp.json" --plot "$tmp/atp.svg" > "$tmp/atp.txt"
cat "$tmp/atp.txt"
grep -q "^method     wanda, unstructured" "$tmp/atp.txt"
grep -q "^allocation .*atp.alloc (ast hash [0-9a-f]\{16\}) on block units, S = 0.7, backend llvm; params beta = 0.01" "$tmp/atp.txt"
test -f "$tmp/atp/dsac_report.json" && test -f "$tmp/atp/tokenizer.json"
grep -q "^<svg " "$tmp/atp.svg" && grep -q "</svg>" "$tmp/atp.svg"
"$DSAC" eval --model "$tmp/atp" --data "$c/kjv.test.raw" --seqlen 256 --max-chunks 40 \
    --json --quiet > "$tmp/reload.json"
/usr/bin/python3 - "$tmp/atp.json" "$tmp/reload.json" "$tmp/atp/dsac_report.json" <<'PY'
import json, sys
rep, ev, inside = (json.load(open(p)) for p in sys.argv[1:4])
assert rep["ppl"]["ppl"] == ev["ppl"], (rep["ppl"]["ppl"], ev["ppl"])
for k in ("model", "calibration", "allocation", "method", "units", "linears",
          "overall", "seconds", "eval", "ppl", "threads"):
    assert k in rep, k
assert rep["model"]["header_hash"] and rep["allocation"]["ast_hash"]
assert rep["allocation"]["params"] == {"beta": 0.01}
assert rep["calibration"]["nsamples"] == 32 and rep["calibration"]["mode"] == "even"
u = rep["units"]
assert len(u) == 8 and abs(u[0]["asked"] - 0.665) < 1e-12
for x in u:   # Wanda: floor(cols * s) per row exactly, cols = 128 or 384
    assert x["pruned"] <= x["zeros"] and abs(x["achieved"] - x["asked"]) < 0.01
assert inside["ppl"]["ppl"] == rep["ppl"]["ppl"] and inside["out"]
print("reload: PPL %.6f == %.6f" % (rep["ppl"]["ppl"], ev["ppl"]))
PY

# --out over an existing non-empty directory: refused; --force replaces
set +e
"$DSAC" prune "${common[@]}" --method magnitude --sparsity 0.5 --out "$tmp/atp" 2> "$tmp/e1.txt"; r1=$?
"$DSAC" prune "${common[@]}" --method magnitude --sparsity 0.5 --out "$m" --force 2> "$tmp/e2.txt"; r2=$?
"$DSAC" prune "${common[@]}" --alloc "$lib/dsa.alloc" --sparsity 0.7 \
    --out "$tmp/none" > "$tmp/w3.txt" 2> "$tmp/e3.txt"; r3=$?
"$DSAC" import-dsa 'W:(ABSLOG)-(VAR)-(EXP,ASIN)' -o "$tmp/dsa_exp.alloc" > /dev/null
"$DSAC" prune "${common[@]}" --alloc "$tmp/dsa_exp.alloc" --sparsity 0.7 \
    --out "$tmp/none2" 2> "$tmp/e4.txt"; r4=$?
"$DSAC" prune "${common[@]}" --method wanda --nm 2:4 --sparsity 0.6 2> "$tmp/e5.txt"; r5=$?
"$DSAC" prune --model "$m" --method wanda --sparsity 0.5 2> "$tmp/e6.txt"; r6=$?
"$DSAC" prune --model "$m" --sparsity 1.5 2> "$tmp/e7.txt"; r7=$?
set -e
test $r1 -eq 1 && grep -q "exists and is not an empty directory" "$tmp/e1.txt"
test $r2 -eq 1 && grep -q "refusing to overwrite the input model directory" "$tmp/e2.txt"
test $r3 -eq 0 && grep -q "^WARNING .*part of the program is not" "$tmp/w3.txt"
grep -q "asin at .*dsa.alloc:.*units 0-6: asin(1.15" "$tmp/w3.txt"
test $r4 -eq 1 && grep -q "invalid allocation" "$tmp/e4.txt"
grep -q "all 8 units: asin(" "$tmp/e4.txt" && grep -q "0/0 (max == min" "$tmp/e4.txt"
test ! -e "$tmp/none2"
test $r5 -eq 1 && grep -q "2:4 sparsity prunes exactly 0.5 of every row" "$tmp/e5.txt"
test $r6 -eq 1 && grep -q "wanda needs calibration data: --calib FILE" "$tmp/e6.txt"
test $r7 -eq 2 && grep -q "bad value '1.5' for --sparsity" "$tmp/e7.txt"
echo "refusals and invalid allocations: ok"

# dsac alloc: table, --json
"$DSAC" alloc "${common[@]}" --sparsity 0.7 --alloc "$lib/owl.alloc" > "$tmp/owl.txt"
grep -q "^7    block 7 " "$tmp/owl.txt"
"$DSAC" alloc --model "$m" --sparsity 0.7 --alloc "$lib/atp.alloc" --json --quiet > "$tmp/a.json"
/usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); assert j['calibration'] is None and abs(j['units'][7]['asked'] - 0.735) < 1e-12" "$tmp/a.json"

# dsac tune on ATP with illegal points
"$DSAC" tune "$lib/atp.alloc" "${common[@]}" --method wanda --sparsity 0.95 \
    --param beta=0:0.03:0.01 --eval "$c/kjv.valid.raw" --eval-max-chunks 8 \
    -o "$tmp/best.alloc" --report "$tmp/tune.json" > "$tmp/tune.txt"
cat "$tmp/tune.txt"
grep -q "^0.02 .*invalid: .*block 7 = 1.02" "$tmp/tune.txt"
grep -q "^0.03 .*invalid:" "$tmp/tune.txt"
grep -q "^best: beta = 0" "$tmp/tune.txt"
grep -q "^# tuned by dsac tune on" "$tmp/best.alloc"
grep -q "^param beta = 0\(.01\)\? in \[0, 0.05\]" "$tmp/best.alloc"
"$DSAC" check "$tmp/best.alloc" > /dev/null
/usr/bin/python3 -c "
import json,sys; j=json.load(open(sys.argv[1])); p=j['points']
assert [x['valid'] for x in p] == [True, True, False, False], p
assert p[2]['reason'] and j['best'] in (0, 1)" "$tmp/tune.json"
set +e
"$DSAC" tune "$lib/atp.alloc" "${common[@]}" --sparsity 0.7 --param beta=0:0.02:0.01 \
    --eval "$c/kjv.test.raw" 2> "$tmp/e8.txt"; r8=$?
"$DSAC" tune "$lib/atp.alloc" "${common[@]}" --sparsity 0.7 --param beta=0:0.2:0.01 \
    --eval "$c/kjv.valid.raw" 2> "$tmp/e9.txt"; r9=$?
set -e
test $r8 -eq 2 && grep -q "refusing to tune on .*test split" "$tmp/e8.txt"
test $r9 -eq 1 && grep -q "leaves the param's declared range \[0, 0.05\]" "$tmp/e9.txt"
echo "cli prune: ok"
