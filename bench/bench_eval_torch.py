#!/usr/bin/python3
"""bench_eval_torch.py: the PyTorch side of bench/bench_eval.c. Evaluates
perplexity with the independent fp32 implementation of tools/ref_forward.py
(same weights, same ids, same window protocol) under torch.no_grad() with
torch.set_num_threads(--threads), and prints one JSON line with tokens/s
(weights loading excluded) and the PPL.

  bench_eval_torch.py --model DIR --ids IDS.json --seqlen T [--max-chunks K]
                      [--batch B] [--threads N]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tools"))
import ref_forward  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True)
    ap.add_argument("--seqlen", type=int, required=True)
    ap.add_argument("--max-chunks", type=int, default=0)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ref_forward.cmd_ppl(ap.parse_args())
    return 0


if __name__ == "__main__":
    sys.exit(main())
