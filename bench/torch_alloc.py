#!/usr/bin/python3
"""torch_alloc.py: the eager-PyTorch baseline of bench/bench_alloc.c.

Evaluates OWL's outlier ratio and DSA's var(ln|wanda|) score the way their
Python code does (per decoder block: Wanda metric |W| * act of each linear,
flattened and concatenated, then eager tensor ops), on the bench's data,
memory-mapped from the file bench_alloc writes. Prints one line per run:
    seconds <function> <dtype> <wall seconds for all units>
Usage: torch_alloc.py DATA META THREADS REPEATS
META is a text file: one line per matrix "unit rows cols w_offset a_offset"
(byte offsets into DATA; weights BF16, act F32).
"""
import sys
import time

import numpy as np
import torch


def load(data_path, meta_path):
    # copy-on-write: torch wants writable arrays; nothing is written back
    raw = np.memmap(data_path, dtype=np.uint8, mode="c")
    units = {}
    with open(meta_path) as f:
        for line in f:
            u, rows, cols, wo, ao = (int(x) for x in line.split())
            w16 = np.frombuffer(raw, dtype=np.int16, count=rows * cols,
                                offset=wo).reshape(rows, cols)
            act = np.frombuffer(raw, dtype=np.float32, count=cols, offset=ao)
            w = torch.from_numpy(w16).view(torch.bfloat16)
            units.setdefault(u, []).append((w, torch.from_numpy(act)))
    return [units[u] for u in sorted(units)]


def metric(mats, dt):
    # lib/prune_all.py: W_metric = |W| * sqrt(scaler_row), flattened and
    # concatenated over the block's linears
    return torch.cat([(w.to(dt).abs() * a.to(dt)).flatten()
                      for w, a in mats])


def owl(mats, dt):
    m = metric(mats, dt)
    return ((m > 5.0 * m.mean()).sum() / m.numel()).item()


def dsa(mats, dt):
    m = metric(mats, dt)
    m[m == 0] = 1  # ABSLOG: zeros read as 1
    v = torch.log(m.abs()).var()
    return torch.asin(torch.atan(v)).item()


def main():
    data, meta, threads, repeats = sys.argv[1:5]
    torch.set_num_threads(int(threads))
    units = load(data, meta)
    for name, fn in (("owl", owl), ("dsa", dsa)):
        for dname, dt in (("f32", torch.float32), ("f64", torch.float64)):
            for _ in range(int(repeats)):
                t0 = time.perf_counter()
                for mats in units:
                    fn(mats, dt)
                print("seconds %s %s %.6f" % (name, dname,
                                               time.perf_counter() - t0),
                      flush=True)


if __name__ == "__main__":
    main()
