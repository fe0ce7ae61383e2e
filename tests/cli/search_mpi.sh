#!/usr/bin/env bash
# search_mpi.sh: `mpirun -np 2 dsac search` (rank 0 coordinates, rank 1
# evaluates) and -np 3 give the same history and best.alloc as one
# process, synthetic and on the bundled model. Skipped (exit 77) when
# mpirun is not installed or dsac was built without MPI; CI installs
# openmpi-bin. As root, Open MPI needs --allow-run-as-root; this machine
# has 2 cores, hence --oversubscribe.
set -euo pipefail
if ! command -v mpirun > /dev/null; then
    echo "SKIP: mpirun not installed"; exit 77
fi
if ! "$DSAC" version | grep -q "MPI: *yes"; then
    echo "SKIP: dsac built without MPI"; exit 77
fi
m="$ALC_SOURCE_DIR/examples/tiny-llama"
c="$ALC_SOURCE_DIR/examples/corpus"
tmp="$ALC_BINARY_DIR/testtmp/cli_search_mpi"
rm -rf "$tmp" && mkdir -p "$tmp"
strip() { sed 's/,[^,]*,[^,]*,[^,]*,[^,]*$//' "$1/history.csv"; }
best() { grep -v -e '^#   date ' -e '^#   reproduce: ' "$1/best.alloc"; }
mpi=(mpirun --oversubscribe --allow-run-as-root)

syn=(--synthetic --evals 40 --population 8 --batch 4 --quiet)
"$DSAC" search "${syn[@]}" --state "$tmp/one" > /dev/null
for np in 2 3; do
    "${mpi[@]}" -np $np "$DSAC" search "${syn[@]}" --state "$tmp/np$np" > "$tmp/np$np.txt"
    cmp <(strip "$tmp/one") <(strip "$tmp/np$np")
    diff <(best "$tmp/one") <(best "$tmp/np$np")
done
echo "synthetic: -np 2 and -np 3 give the history of one process"

real=(--model "$m" --calib "$c/kjv.train.raw" --nsamples 8 --seqlen 128
      --valid "$c/kjv.valid.raw" --valid-chunks 4 --evals 6 --population 4
      --batch 2 --quiet)
"$DSAC" search "${real[@]}" --state "$tmp/mone" > /dev/null
"${mpi[@]}" -np 2 "$DSAC" search "${real[@]}" --state "$tmp/mnp2" > "$tmp/mnp2.txt"
cat "$tmp/mnp2.txt"
cmp <(strip "$tmp/mone") <(strip "$tmp/mnp2")
diff <(best "$tmp/mone") <(best "$tmp/mnp2")
echo "bundled model: -np 2 gives the history of one process"

# a worker rank's error reaches rank 0 and every rank exits
set +e
"${mpi[@]}" -np 2 "$DSAC" search --model "$tmp/nonexistent" --calib "$c/kjv.train.raw" \
    --valid "$c/kjv.valid.raw" --state "$tmp/bad" --quiet > "$tmp/bad.txt" 2>&1
rc=$?
set -e
test $rc -ne 0
grep -q "rank 1" "$tmp/bad.txt"
echo "a worker's error stops the run: ok"
