#!/usr/bin/env bash
# emit_backend.sh: `dsac emit --target plan|llvm|asm` on the stdlib's OWL
# (two passes) and DSA (one pass, vectorised log): the schedule is printed,
# the IR is <8 x double> code, and a bad file still gives one clear error.
set -euo pipefail
owl="$ALC_SOURCE_DIR/stdlib/owl.alloc"
dsa="$ALC_SOURCE_DIR/stdlib/dsa.alloc"

out=$("$DSAC" emit --target plan "$owl")
grep -q '^passes 2$' <<<"$out"
grep -q '^pass 2: reads wanda$' <<<"$out"
out=$("$DSAC" emit --target plan "$dsa")
grep -q '^passes 1$' <<<"$out"
grep -q 'acc  #0 = var x(' <<<"$out"

out=$("$DSAC" emit --target llvm "$dsa")
grep -q 'define void @alc_p1_bf16(' <<<"$out"
grep -q 'fdiv <8 x double>' <<<"$out"
if grep -q '@alc_jit_vmap' <<<"$out"; then
  echo "DSA's kernel calls the per-lane fallback: log is not vectorised" >&2
  exit 1
fi
out=$("$DSAC" emit --target asm "$owl")
grep -q "alc_p2_f16:" <<<"$out"

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
printf 'sparsity = mean(wanda\n' >"$tmp"
if "$DSAC" emit --target llvm "$tmp" 2>"$tmp.err"; then
  echo "a syntax error was accepted" >&2
  exit 1
fi
grep -q 'error' "$tmp.err"
rm -f "$tmp.err"
echo ok
