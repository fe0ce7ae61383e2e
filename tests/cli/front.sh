#!/usr/bin/env bash
# front.sh: the dsac front-end commands from the shell: exit codes and the
# first line of each error for the acceptance cases (misspelled op, level
# error, unterminated expression, binary file), check/fmt/emit/import-dsa
# on the stdlib, and --help of every subcommand.
set -uo pipefail
: "${DSAC:?}" "${ALC_SOURCE_DIR:?}" "${ALC_BINARY_DIR:?}"
tmp="$ALC_BINARY_DIR/testtmp/cli_front"
rm -rf "$tmp" && mkdir -p "$tmp"
fails=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect_error FILE-CONTENT(printf format) EXPECTED-FIRST-STDERR-LINE
expect_error() {
    local f="$tmp/case.alloc"
    printf "$1" > "$f"
    local err rc
    err=$("$DSAC" check "$f" 2>&1 >/dev/null); rc=$?
    [[ $rc -eq 1 ]] || fail "check '$1': exit $rc, want 1"
    local first=${err%%$'\n'*}
    [[ "$first" == "$f:$2" ]] || fail "check '$1': got '$first', want '$f:$2'"
    local n
    n=$(grep -c ': error: ' <<<"$err")
    [[ $n -eq 1 ]] || fail "check '$1': $n errors, want 1"
}

expect_error 'sparsity = mena(wanda)\n' \
    "1:12: error: unknown function 'mena'; did you mean 'mean'?"
expect_error 'sparsity = wanda\n' \
    "1:12: error: sparsity must be layer- or model-level, but \`wanda\` is element-level"
expect_error 'sparsity = S +' \
    "1:15: error: unexpected end of input; expected an expression after '+'"
expect_error 'let x = 1\nsparsity = (S\n' \
    "2:14: error: unexpected end of input"

# a binary file: one error with line:col, no crash
head -c 4096 "$DSAC" > "$tmp/binary.alloc"
err=$("$DSAC" check "$tmp/binary.alloc" 2>&1); rc=$?
[[ $rc -eq 1 ]] || fail "binary: exit $rc"
[[ "$err" == "$tmp/binary.alloc:1:1: error: not a text file: control character 0x7f"* ]] \
    || fail "binary: $err"
[[ $(grep -c ': error: ' <<<"$err") -eq 1 ]] || fail "binary: more than one error"
printf 'let x = 1\n# caf\xe9\n' > "$tmp/latin1.alloc"
err=$("$DSAC" check "$tmp/latin1.alloc" 2>&1); rc=$?
[[ $rc -eq 1 && "$err" == "$tmp/latin1.alloc:2:6: error: not a text file: invalid UTF-8 byte 0xe9"* ]] \
    || fail "latin1: $rc $err"

# missing file, usage errors
"$DSAC" check "$tmp/nope.alloc" 2>/dev/null; [[ $? -eq 1 ]] || fail "missing file"
"$DSAC" check 2>/dev/null; [[ $? -eq 2 ]] || fail "check without files"
"$DSAC" emit --target nope "$tmp/case.alloc" 2>/dev/null; [[ $? -eq 2 ]] || fail "emit bad target"

# the stdlib checks, is formatted, and emits
"$DSAC" check "$ALC_SOURCE_DIR"/stdlib/*.alloc || fail "stdlib check"
out=$("$DSAC" check -v "$ALC_SOURCE_DIR/stdlib/owl.alloc")
[[ "$out" == *"owl.alloc: ok: 5 statements, 2 params"* ]] || fail "check -v: $out"
"$DSAC" fmt --check "$ALC_SOURCE_DIR"/stdlib/*.alloc || fail "stdlib not formatted"
out=$("$DSAC" emit --target ast "$ALC_SOURCE_DIR/stdlib/atp.alloc")
[[ "$out" == *"(out sparsity (+ (- S (/ (* beta (- L 1)) 2)) (* beta layer)))"* ]] \
    || fail "emit ast: $out"
out=$("$DSAC" emit --target ir "$ALC_SOURCE_DIR/stdlib/uniform.alloc")
[[ "$out" == *"input S"*"sparsity = %0"* ]] || fail "emit ir: $out"

# fmt: stdout, --check, -w (atomic rewrite keeps comments)
printf '# keep me\nlet  x=1 # and me\nsparsity=S*x\n' > "$tmp/messy.alloc"
"$DSAC" fmt --check "$tmp/messy.alloc" >/dev/null; [[ $? -eq 1 ]] || fail "fmt --check on messy"
want=$'# keep me\nlet x = 1  # and me\nsparsity = S * x'
[[ "$("$DSAC" fmt "$tmp/messy.alloc")" == "$want" ]] || fail "fmt stdout"
"$DSAC" fmt -w "$tmp/messy.alloc" || fail "fmt -w"
[[ "$(cat "$tmp/messy.alloc")" == "$want" ]] || fail "fmt -w result"
"$DSAC" fmt --check "$tmp/messy.alloc" || fail "fmt --check after -w"
printf 'sparsity = (' > "$tmp/broken.alloc"
"$DSAC" fmt -w "$tmp/broken.alloc" 2>/dev/null; [[ $? -eq 1 ]] || fail "fmt on a syntax error"
[[ "$(cat "$tmp/broken.alloc")" == "sparsity = (" ]] || fail "fmt -w touched a broken file"

# import-dsa: the README genome is stdlib/dsa.alloc (modulo its header)
"$DSAC" import-dsa 'W:(ABSLOG)-(VAR)-(ATAN,ASIN)-(7)' -o "$tmp/dsa.alloc" || fail "import-dsa -o"
"$DSAC" check "$tmp/dsa.alloc" || fail "imported program does not check"
diff <(grep -v '^#' "$tmp/dsa.alloc") <(grep -v '^#' "$ALC_SOURCE_DIR/stdlib/dsa.alloc") \
    >/dev/null || fail "import-dsa differs from stdlib/dsa.alloc"
err=$("$DSAC" import-dsa 'W:(ABSLOG)-(VRA)-(ATAN)' 2>&1); rc=$?
[[ $rc -eq 1 && "$err" == *"unknown reduction op 'VRA'; did you mean 'VAR'?"* ]] \
    || fail "import-dsa bad op: $rc $err"

# every subcommand has --help
for c in check fmt emit import-dsa; do
    "$DSAC" "$c" --help | grep -q "^usage: dsac $c" || fail "$c --help"
done

if [[ $fails -ne 0 ]]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "cli front: all passed"
