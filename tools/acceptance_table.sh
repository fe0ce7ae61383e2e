#!/usr/bin/env bash
# acceptance_table.sh: every configuration of Runtime II's acceptance on the
# bundled model, run with dsac, printed as a Markdown table (method,
# allocation, params, ratio range, achieved sparsity, test perplexity).
#
#   calibration  examples/corpus/kjv.train.raw, 32 windows of 256 tokens,
#                evenly spaced (dsac prune's defaults, given explicitly)
#   evaluation   examples/corpus/kjv.test.raw at seqlen 256 (243 windows)
#   tuning       kjv.valid.raw (ATP's beta; AlphaPruning's eps, whose
#                default 0.3 is invalid on this model)
#
# Rows: dense; uniform magnitude / Wanda / SparseGPT at 50 % and 70 %;
# OWL, ATP (beta tuned), DSA (dsa_atan), AlphaPruning (eps default and
# tuned) with Wanda at 70 %; and, informatively, DSA's README genome
# (dsa.alloc), undefined (asin) on 7 of the 8 blocks.
#
#   tools/acceptance_table.sh [--torch] [OUTDIR]
# --torch adds a column: the perplexity of tools/ref_prune_model.py (the
# independent PyTorch pipeline, the Wanda repository's batch-1 loop, all
# test windows) on the same windows and ratios, for every row that prunes.
# DSAC (default build/tools/dsac/dsac) selects the binary. Every number
# printed comes from the runs; the commands are printed before the table.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dsac="${DSAC:-$root/build/tools/dsac/dsac}"
torch=0
if [ "${1:-}" = "--torch" ]; then
    torch=1
    shift
fi
out="${1:-$root/build/acceptance}"
rm -rf "$out" && mkdir -p "$out"
m="$root/examples/tiny-llama"
c="$root/examples/corpus"
lib="$root/stdlib"
py=/usr/bin/python3
common=(--model "$m" --calib "$c/kjv.train.raw" --nsamples 32 --seqlen 256
        --calib-mode even --quiet)
rows="$out/rows.tsv"
: > "$rows"

say() { printf '$ %s\n' "$*" | sed "s|$root/||g" >> "$out/commands.txt"; }

# row NAME METHOD ALLOC_LABEL [dsac prune args...]: prunes, evaluates on
# the test split, appends a row (or the error, when the allocation is
# invalid).
row() {
    local name="$1" method="$2" label="$3"
    shift 3
    say dsac prune "${common[@]}" --eval "$c/kjv.test.raw" "$@" \
        --report "$out/$name.json"
    if "$dsac" prune "${common[@]}" --eval "$c/kjv.test.raw" "$@" \
        --report "$out/$name.json" > "$out/$name.txt" 2> "$out/$name.err"; then
        local tp=""
        if [ $torch -eq 1 ]; then
            "$dsac" prune "${common[@]}" "$@" --dump-calib "$out/calib.json" \
                > /dev/null 2>&1
            local nm
            nm=$("$py" -c 'import json,sys; m=json.load(open(sys.argv[1]))["method"]; print("%d:%d" % (m["n"], m["m"]))' "$out/$name.json")
            say python3 tools/ref_prune_model.py --model "$m" --calib-ids "$out/calib.json" \
                --ratios "$out/$name.json" --method "$method" --nm "$nm" --batch 1 \
                --eval-ids examples/reference/test_ids.json --seqlen 256 --threads 2
            "$py" "$root/tools/ref_prune_model.py" --model "$m" \
                --calib-ids "$out/calib.json" --ratios "$out/$name.json" \
                --method "$method" --nm "$nm" --batch 1 --threads 2 \
                --eval-ids "$root/examples/reference/test_ids.json" --seqlen 256 \
                --out "$out/$name.torch.json"
            tp=$("$py" -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["ppl"])' "$out/$name.torch.json")
        fi
        "$py" - "$out/$name.json" "$method" "$label" "$tp" "$root/" >> "$rows" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
method, label, tp, root = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
a = r["allocation"]
ratios = [u["asked"] for u in r["units"]]
if max(ratios) - min(ratios) < 1e-12:
    rr = "%.4f (all)" % ratios[0]
else:
    rr = "%.4f .. %.4f: %s" % (min(ratios), max(ratios),
                               " ".join("%.3f" % x for x in ratios))
params = ", ".join("%s = %g" % kv for kv in a["params"].items()) or "-"
if r["method"]["n"]:
    method += " %d:%d" % (r["method"]["n"], r["method"]["m"])
note = " (warning: %s)" % a["warning"].split("\n")[1].strip().replace(
    root, "") if a["warning"] else ""
print("\t".join([method, label + note, params, rr,
                 "%.4f" % r["overall"]["sparsity"],
                 "%.4f" % r["ppl"]["ppl"], tp]))
PY
    else
        local why
        why=$(head -c 300 "$out/$name.err" | tr '\n\t' '  ' | sed "s|$root/||g")
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$method" "$label" "-" \
            "invalid: $why" "-" "-" "" >> "$rows"
    fi
}

# dense
say dsac eval --model "$m" --data "$c/kjv.test.raw" --seqlen 256 --json
"$dsac" eval --model "$m" --data "$c/kjv.test.raw" --seqlen 256 --json --quiet \
    > "$out/dense.json"
"$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); print("dense\t-\t-\t0 (all)\t0\t%.4f\t" % r["ppl"])' \
    "$out/dense.json" >> "$rows"

# uniform at 50 % and 70 %
for s in 0.5 0.7; do
    for meth in magnitude wanda sparsegpt; do
        row "uniform_${meth}_$s" "$meth" "uniform (S = $s)" --method "$meth" --sparsity "$s"
    done
done

# allocations with Wanda at 70 %
row owl wanda "owl.alloc" --method wanda --sparsity 0.7 --alloc "$lib/owl.alloc"

say dsac tune stdlib/atp.alloc "${common[@]}" --method wanda --sparsity 0.7 \
    --param beta=0:0.05:0.005 --eval "$c/kjv.valid.raw" -o "$out/atp_tuned.alloc"
"$dsac" tune "$lib/atp.alloc" "${common[@]}" --method wanda --sparsity 0.7 \
    --param beta=0:0.05:0.005 --eval "$c/kjv.valid.raw" \
    -o "$out/atp_tuned.alloc" --report "$out/atp_tune.json" > "$out/atp_tune.txt"
row atp wanda "atp.alloc, beta tuned on kjv.valid.raw" --method wanda --sparsity 0.7 \
    --alloc "$out/atp_tuned.alloc"

row dsa_atan wanda "dsa_atan.alloc" --method wanda --sparsity 0.7 --alloc "$lib/dsa_atan.alloc"

row alpha_default wanda "alphapruning.alloc (eps = 0.3, its default)" --method wanda \
    --sparsity 0.7 --alloc "$lib/alphapruning.alloc"
say dsac tune stdlib/alphapruning.alloc "${common[@]}" --method wanda --sparsity 0.7 \
    --param eps=0.05:0.3:0.05 --eval "$c/kjv.valid.raw" -o "$out/alpha_tuned.alloc"
set +e
"$dsac" tune "$lib/alphapruning.alloc" "${common[@]}" --method wanda --sparsity 0.7 \
    --param eps=0.05:0.3:0.05 --eval "$c/kjv.valid.raw" \
    -o "$out/alpha_tuned.alloc" --report "$out/alpha_tune.json" > "$out/alpha_tune.txt"
set -e
row alpha_tuned wanda "alphapruning.alloc, eps tuned on kjv.valid.raw" --method wanda \
    --sparsity 0.7 --alloc "$out/alpha_tuned.alloc"

row dsa wanda "dsa.alloc (DSA README genome)" --method wanda --sparsity 0.7 \
    --alloc "$lib/dsa.alloc"

# the table
cat "$out/commands.txt"
echo
echo "ATP tuning (kjv.valid.raw):"
sed -n '/^beta/,$p' "$out/atp_tune.txt"
echo
echo "AlphaPruning eps tuning (kjv.valid.raw):"
sed -n '/^eps/,$p' "$out/alpha_tune.txt"
echo
if [ $torch -eq 1 ]; then
    echo "| method | allocation | params | per-block ratios | achieved sparsity | test PPL (dsac) | test PPL (PyTorch) |"
    echo "|---|---|---|---|---|---|---|"
    awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7}' "$rows"
else
    echo "| method | allocation | params | per-block ratios | achieved sparsity | test PPL |"
    echo "|---|---|---|---|---|---|"
    awk -F'\t' '{printf "| %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6}' "$rows"
fi
