#!/usr/bin/env bash
# gen_model.sh: `dsac gen-model` writes loadable random models of the four
# architectures (sharded or not, three dtypes), the same seed gives the same
# bytes, and bad options exit 2 (usage) or 1 (error) with one message and no
# output directory left behind.
set -euo pipefail
tmp="$ALC_BINARY_DIR/testtmp/cli_gen_model"
rm -rf "$tmp" && mkdir -p "$tmp"
ids="$ALC_SOURCE_DIR/examples/reference/test_ids.json"
for arch in llama mistral qwen2 opt; do
  for dt in f32 f16 bf16; do
    "$DSAC" gen-model --arch $arch --out "$tmp/$arch-$dt" --hidden 64 \
        --layers 2 --heads 4 --vocab 1024 --dtype $dt --shards 2 > /dev/null
    grep -q "\"torch_dtype\": \"$(case $dt in f32) echo float32;; f16) echo float16;; *) echo bfloat16;; esac)\"" \
        "$tmp/$arch-$dt/config.json"
    test -f "$tmp/$arch-$dt/model.safetensors.index.json"
    "$DSAC" eval --model "$tmp/$arch-$dt" --ids "$ids" --seqlen 64 \
        --max-chunks 2 --quiet | grep -q "^Final estimate: PPL = "
  done
done
# same seed, same bytes; another seed, other bytes
"$DSAC" gen-model --arch llama --out "$tmp/a" --seed 3 --kv-heads 2 > /dev/null
"$DSAC" gen-model --arch llama --out "$tmp/b" --seed 3 --kv-heads 2 > /dev/null
"$DSAC" gen-model --arch llama --out "$tmp/c" --seed 4 --kv-heads 2 > /dev/null
cmp "$tmp/a/model.safetensors" "$tmp/b/model.safetensors"
if cmp -s "$tmp/a/model.safetensors" "$tmp/c/model.safetensors"; then
  echo "different seeds gave the same weights" >&2; exit 1
fi
# errors
set +e
"$DSAC" gen-model --arch gpt2 --out "$tmp/x" 2> "$tmp/e1"; r1=$?
"$DSAC" gen-model --arch llama 2> "$tmp/e2"; r2=$?
"$DSAC" gen-model --arch llama --out "$tmp/a" 2> "$tmp/e3"; r3=$?
"$DSAC" gen-model --arch llama --out "$tmp/y" --heads 3 --kv-heads 2 2> "$tmp/e4"; r4=$?
"$DSAC" gen-model --arch llama --out "$tmp/z" --vocab 100 \
    --tokenizer "$ALC_SOURCE_DIR/examples/tiny-llama" 2> "$tmp/e5"; r5=$?
set -e
test $r1 -eq 2
grep -q "unknown --arch 'gpt2'" "$tmp/e1"
test $r2 -eq 2
grep -q "arch and --out are required" "$tmp/e2"
test $r3 -eq 1
grep -q "already exists (use --force" "$tmp/e3"
test $r4 -eq 1
grep -q "inconsistent sizes" "$tmp/e4"
test $r5 -eq 1
grep -q "beyond the vocabulary of 100" "$tmp/e5"
test ! -e "$tmp/x"
test ! -e "$tmp/y"
test ! -e "$tmp/z"
test -z "$(ls "$tmp" | grep tmp || true)"
echo "cli gen-model: ok"
