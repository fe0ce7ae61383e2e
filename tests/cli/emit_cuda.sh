#!/usr/bin/env bash
# emit_cuda.sh: `dsac emit --target cuda|ptx [--arch sm_XX]` on the stdlib's
# OWL (two passes): CUDA C with one kernel per pass plus alc_combine; PTX
# for the asked architecture with those entry points; a bad --arch is a
# usage error (exit 2). Without the GPU backend the targets do not exist
# and the test says so. `dsac version` names the GPU or says why there is
# none: with the toolkit's libcuda stub as the driver, cuInit's error.
set -euo pipefail
owl="$ALC_SOURCE_DIR/stdlib/owl.alloc"

if ! "$DSAC" emit --help | grep -q ' cuda '; then
  echo "skipped: the GPU backend is not built"
  exit 0
fi

out=$("$DSAC" emit --target cuda "$owl")
test "$(grep -c 'extern "C" __global__' <<<"$out")" -eq 3
grep -q '^alc_p1(const struct alc_args A)$' <<<"$out"
grep -q '^alc_p2(const struct alc_args A)$' <<<"$out"
grep -q '^alc_combine(const struct alc_args A)$' <<<"$out"
grep -q '^#define ALC_THREADS 256$' <<<"$out"

out=$("$DSAC" emit --target ptx "$owl")
grep -q '^\.target sm_80$' <<<"$out"
out=$("$DSAC" emit --target ptx --arch sm_90 "$owl")
grep -q '^\.target sm_90$' <<<"$out"
grep -q '^\.visible \.entry alc_p2(' <<<"$out"
grep -q '^\.visible \.entry alc_combine(' <<<"$out"

set +e
"$DSAC" emit --target ptx --arch sm_x "$owl" >/dev/null 2>&1
rc=$?
set -e
test "$rc" -eq 2

"$DSAC" version | grep -q '^  GPU:   '
stub=/usr/local/cuda/lib64/stubs/libcuda.so
if [[ -e "$stub" ]]; then
  out=$(ALC_CUDA_DRIVER="$stub" "$DSAC" version)
  grep -q 'GPU:   no CUDA GPU found (cuInit: CUDA_ERROR_STUB_LIBRARY' <<<"$out"
fi
out=$(ALC_CUDA_DRIVER=/nonexistent/libcuda.so.1 "$DSAC" version)
grep -q 'GPU:   no CUDA GPU found (/nonexistent/libcuda.so.1: ' <<<"$out"
echo ok
