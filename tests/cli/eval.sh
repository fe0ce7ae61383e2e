#!/usr/bin/env bash
# eval.sh: `dsac eval` end to end. The bundled model on kjv.test.raw (text
# -> tokenizer -> windows) prints the reference perplexity (dense_ppl.json,
# seqlen 256: 14.5258) with every knob, --json carries the same fields,
# --threads does not change the bytes of the result, --ids scores the
# reference ids, `dsac gen-model` models evaluate, and bad input exits 1
# (error) or 2 (usage) with one message.
set -euo pipefail
m="$ALC_SOURCE_DIR/examples/tiny-llama"
data="$ALC_SOURCE_DIR/examples/corpus/kjv.test.raw"
tmp="$ALC_BINARY_DIR/testtmp/cli_eval"
rm -rf "$tmp" && mkdir -p "$tmp"

"$DSAC" eval --model "$m" --data "$data" --seqlen 256 --quiet > "$tmp/out.txt"
cat "$tmp/out.txt"
test "$(tail -n 1 "$tmp/out.txt" | cut -d' ' -f1-6)" = "Final estimate: PPL = 14.5258 +/-"
grep -q "^data .*194757 bytes, hash [0-9a-f]\{16\}, format raw" "$tmp/out.txt"
grep -q "^tokens     62284 (BOS <s> = 0 added once at the start)" "$tmp/out.txt"
grep -q "^windows    243 of 256 tokens (243 available, 76 tail tokens dropped), 61965 predictions" "$tmp/out.txt"

# --json: same numbers, machine-readable; threads 1 and 2 give the same PPL
"$DSAC" eval --model "$m" --data "$data" --seqlen 256 --max-chunks 40 --threads 1 --json --quiet > "$tmp/a.json"
"$DSAC" eval --model "$m" --data "$data" --seqlen 256 --max-chunks 40 --threads 2 --batch 7 --json --quiet > "$tmp/b.json"
/usr/bin/python3 - "$tmp/a.json" "$tmp/b.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for k in ("model", "dtype", "data", "data_format", "data_bytes", "data_hash",
          "bos", "bos_id", "tokens", "seqlen", "windows", "tail_dropped",
          "threads", "batch", "ppl", "ppl_stderr", "mean_nll"):
    assert k in a, k
assert a["windows"] == 40 and a["threads"] == 1 and b["batch"] == 7
assert a["ppl"] == b["ppl"] and a["mean_nll"] == b["mean_nll"], (a, b)
assert a["bos"] is True and a["bos_id"] == 0 and a["tokens"] == 62284
PY

# --ids: the reference ids give the same result as the text
"$DSAC" eval --model "$m" --ids "$ALC_SOURCE_DIR/examples/reference/test_ids.json" \
    --seqlen 128 --quiet > "$tmp/ids.txt"
test "$(tail -n 1 "$tmp/ids.txt" | cut -d' ' -f1-6)" = "Final estimate: PPL = 15.0187 +/-"

# a random OPT model with the bundled tokenizer evaluates end to end
"$DSAC" gen-model --arch opt --out "$tmp/opt" --hidden 64 --layers 2 --heads 4 \
    --vocab 1024 --max-pos 128 --tokenizer "$m" > /dev/null
"$DSAC" eval --model "$tmp/opt" --data "$data" --seqlen 128 --max-chunks 3 --quiet |
    grep -q "^Final estimate: PPL = "

# errors: one message, exit 1; usage errors exit 2
set +e
"$DSAC" eval --model "$tmp/none" --data "$data" 2> "$tmp/e1.txt"; r1=$?
"$DSAC" eval --model "$m" --data "$tmp/missing.raw" 2> "$tmp/e2.txt"; r2=$?
"$DSAC" eval --model "$tmp/opt" --data "$data" --seqlen 200 2> "$tmp/e3.txt"; r3=$?
"$DSAC" eval --model "$m" 2> "$tmp/e4.txt"; r4=$?
"$DSAC" eval --model "$m" --data "$data" --seqlen x 2> "$tmp/e5.txt"; r5=$?
set -e
test $r1 -eq 1
grep -q "not a model directory" "$tmp/e1.txt"
test $r2 -eq 1
grep -q "missing.raw: cannot open" "$tmp/e2.txt"
test $r3 -eq 1
grep -q "exceeds the model's 128 learned positions" "$tmp/e3.txt"
test $r4 -eq 2
grep -q "one of --data or --ids" "$tmp/e4.txt"
test $r5 -eq 2
grep -q "bad value 'x' for --seqlen" "$tmp/e5.txt"
echo "cli eval: ok"
