#!/usr/bin/env bash
# tokenize.sh: `dsac tokenize` on the bundled byte-level tokenizer gives the
# reference ids (examples/reference/test_ids.json) for the opening of
# kjv.test.raw, from a file and from an argument; --pieces and --no-special
# work; bad input exits 1 (error) or 2 (usage) with a message.
set -euo pipefail
m="$ALC_SOURCE_DIR/examples/tiny-llama"
tmp="$ALC_BINARY_DIR/testtmp/cli_tokenize"
rm -rf "$tmp" && mkdir -p "$tmp"
# the opening through "Noah," (the split there is the same as in the file)
head -c 38 "$ALC_SOURCE_DIR/examples/corpus/kjv.test.raw" > "$tmp/open.txt"
test "$(tail -c 5 "$tmp/open.txt")" = "Noah,"
"$DSAC" tokenize --model "$m" -f "$tmp/open.txt" > "$tmp/out.txt"
got=$(head -n 1 "$tmp/out.txt")
n=$(echo "$got" | wc -w)
want=$(grep -o '"ids": \[[0-9, ]*' "$ALC_SOURCE_DIR/examples/reference/test_ids.json" |
       sed 's/"ids": \[//' | tr -d ',' | cut -d' ' -f"1-$n")
test "$got" = "$want"
test "$(tail -n 1 "$tmp/out.txt")" = "$n tokens"
# an argument works the same; --no-special drops <s> (id 0)
text=$(cat "$tmp/open.txt"; printf x)
got2=$("$DSAC" tokenize --model "$m" --no-special "${text%x}" | head -n 1)
test "0 $got2" = "$got"
# --pieces: one "id<TAB>piece" line per token, pieces as in the vocabulary
# (the leading newline is the byte-level character U+010A)
"$DSAC" tokenize --model "$m" --pieces -f "$tmp/open.txt" > "$tmp/p.txt"
test "$(head -n 1 "$tmp/p.txt")" = "$(printf '0\t<s>')"
test "$(sed -n 2p "$tmp/p.txt")" = "$(printf '12\t\xc4\x8a')"
test "$(wc -l < "$tmp/p.txt")" -eq $((n + 1))
# errors
set +e
"$DSAC" tokenize --model "$tmp/none" x 2> "$tmp/err.txt"; rc=$?
set -e
test $rc -eq 1
grep -q "tokenizer.json: cannot open" "$tmp/err.txt"
set +e
"$DSAC" tokenize --model "$m" 2> "$tmp/err.txt"; rc=$?
set -e
test $rc -eq 2
grep -q "give either TEXT or -f FILE" "$tmp/err.txt"
echo "cli tokenize: ok ($n ids match the reference)"
