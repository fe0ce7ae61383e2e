#!/usr/bin/python3
"""bench_prune_torch.py: the PyTorch side of bench/bench_prune.c.

Runs the same phases as the C benchmark on the same files, with the
reference implementation of tools/ref_prune.py, and prints one JSON object
of median wall times (seconds) and the process's peak RSS (MB):

    /usr/bin/python3 bench/bench_prune_torch.py DIR THREADS REPS

DIR/bench.json (written by bench_prune.c) lists the matrices, each with its
rows, cols, weight file and input file; the inputs are (tokens, cols)
float32, fed one sequence (seqlen tokens) at a time as the reference
pipeline does.
"""
import json
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
import ref_prune as rp  # noqa: E402


def load(path, shape):
    return torch.from_numpy(np.fromfile(path, dtype=np.float32)
                            .reshape(shape).copy())


def timed(fn, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    base, threads, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(threads)
    with open(os.path.join(base, "bench.json")) as f:
        spec = json.load(f)
    seqlen, nseq = spec["seqlen"], spec["nseq"]
    mats = []
    inputs = {}
    for m in spec["mats"]:
        W = load(os.path.join(base, m["w"]), (m["rows"], m["cols"]))
        if m["x"] not in inputs:
            inputs[m["x"]] = load(os.path.join(base, m["x"]),
                                  (seqlen * nseq, m["cols"]))
        mats.append((W, inputs[m["x"]]))
    stats = {}

    def scaler_all():
        for i, (W, X) in enumerate(mats):
            s = rp.ScalerRow(W.shape[1])
            for q in range(nseq):
                s.add_batch(X[q * seqlen:(q + 1) * seqlen], 1)
            stats.setdefault(i, {})["scaler"] = s.scaler_row

    def hessian_all():
        for i, (W, X) in enumerate(mats):
            h = rp.Hessian(W.shape[1])
            for q in range(nseq):
                h.add_batch(X[q * seqlen:(q + 1) * seqlen], 1)
            stats[i]["H"] = h.H

    def wanda(n, m):
        def run():
            for i, (W, _) in enumerate(mats):
                rp.prune_wanda(W, stats[i]["scaler"], 0.5, n, m)
        return run

    def sparsegpt(n, m):
        def run():
            for i, (W, _) in enumerate(mats):
                rp.prune_sparsegpt(W, stats[i]["H"], 0.5, n, m)
        return run

    def esd_all():
        for W, _ in mats:
            rp.esd_all(rp.esd_eigs(W))

    out = {
        "stats_scaler": timed(scaler_all, 1),
        "stats_hessian": timed(hessian_all, 1),
        "wanda_50": timed(wanda(0, 0), reps),
        "wanda_24": timed(wanda(2, 4), reps),
        "sparsegpt_50": timed(sparsegpt(0, 0), max(1, reps // 2)),
        "sparsegpt_24": timed(sparsegpt(2, 4), 1),
        "esd": timed(esd_all, 1),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        / 1024.0,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
