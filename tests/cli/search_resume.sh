#!/usr/bin/env bash
# search_resume.sh: `dsac search` killed with SIGKILL (kill -9) at three
# random moments and resumed each time ends with the same history (time
# columns aside) and the same best.alloc (date and command line aside) as
# an uninterrupted run with the same seed. Once with the synthetic fitness
# (each evaluation sleeps 40 ms, so kills land anywhere: generation, task
# results, state writes) and once on the bundled model (the real pipeline:
# session, Wanda, perplexity). Each kill comes a random delay after the
# run's next finished evaluation (so it never only interrupts the model's
# loading); the delays are drawn from $RANDOM and printed, so a failure can
# be replayed with ALC_KILL_TIMES="t1 t2 t3".
set -euo pipefail
m="$ALC_SOURCE_DIR/examples/tiny-llama"
c="$ALC_SOURCE_DIR/examples/corpus"
tmp="$ALC_BINARY_DIR/testtmp/cli_search_resume"
rm -rf "$tmp" && mkdir -p "$tmp"
strip() { sed 's/,[^,]*,[^,]*,[^,]*,[^,]*$//' "$1/history.csv"; }
best() { grep -v -e '^#   date ' -e '^#   reproduce: ' "$1/best.alloc"; }

# --resume once a state was written (a kill before that leaves nothing).
resume_flag() { if [ -f "$1/state.json" ]; then echo --resume; fi; }
evals_of() {
    grep -o '"n_evals": [0-9]*' "$1/state.json" 2> /dev/null | grep -o '[0-9]*$' || echo 0
}

# killed DIR JITTER args...: three times, start (or resume) the search,
# wait until it has finished one more evaluation than before, then kill it
# with SIGKILL after a random delay in [0, JITTER) seconds; then run the
# rest to the end.
killed() {
    local dir=$1 jitter=$2; shift 2
    local times=${ALC_KILL_TIMES:-}
    if [ -z "$times" ]; then
        for i in 1 2 3; do
            times="$times $(awk -v r=$RANDOM -v j="$jitter" 'BEGIN{printf "%.2f", r / 32768 * j}')"
        done
    fi
    echo "kill -9 at:$times seconds after the next evaluation"
    for t in $times; do
        local before
        before=$(evals_of "$dir")
        "$DSAC" search "$@" --state "$dir" $(resume_flag "$dir") > /dev/null 2>&1 &
        local pid=$!
        for _ in $(seq 600); do
            [ "$(evals_of "$dir")" -gt "$before" ] && break
            kill -0 $pid 2> /dev/null || break
            sleep 0.05
        done
        sleep "$t"
        kill -9 $pid 2> /dev/null || true
        wait $pid 2> /dev/null || true
        echo "  killed at $(evals_of "$dir") evaluations"
    done
    "$DSAC" search "$@" --state "$dir" $(resume_flag "$dir") > /dev/null
}

check_same() {
    cmp <(strip "$1") <(strip "$2")
    diff <(best "$1") <(best "$2")
    ls "$2" | grep -q '\.tmp\.' && { echo "temporary files left in $2"; exit 1; }
    return 0
}

# ---- synthetic
syn=(--synthetic --synthetic-delay 0.04 --evals 40 --population 8 --batch 3 --quiet)
"$DSAC" search "${syn[@]}" --state "$tmp/ref" > /dev/null
killed "$tmp/syn" 0.4 "${syn[@]}"
check_same "$tmp/ref" "$tmp/syn"
echo "synthetic: same history and best after three kills"

# ---- the bundled model
real=(--model "$m" --calib "$c/kjv.train.raw" --nsamples 8 --seqlen 128
      --valid "$c/kjv.valid.raw" --valid-chunks 4 --evals 8 --population 4
      --batch 2 --no-dense --quiet)
"$DSAC" search "${real[@]}" --state "$tmp/mref" > /dev/null
killed "$tmp/model" 0.6 "${real[@]}"
check_same "$tmp/mref" "$tmp/model"
echo "bundled model: same history and best after three kills"
