#!/usr/bin/python3
"""dsa_reference.py: an independent PyTorch implementation of DSA's layer
score, LayerEngine.compute_importance in lib/autolayer.py of
github.com/lliai/DSA (Li et al., NeurIPS 2024), written from the semantics
documented in /work/shared/reference/dsa.md section 1.2, for
tests/test_import_dsa.c to compare `dsac import-dsa` programs with.

usage: /usr/bin/python3 tools/dsa_reference.py INPUT
INPUT lines:
  genome W:(ABSLOG)-(VAR)-(ATAN,ASIN)-(7)     (one or more)
  unit v1 v2 ...                              (the pooled float32 Wanda
                                               vector of each unit)
Prints one line per genome: the scores of the units, space separated,
as Python reprs of doubles. Needs torch (Debian's python3-torch).
"""
import math
import sys

import torch
import torch.nn.functional as F
from torch.distributions import Categorical


def pre_log(x):
    # entries <= 0 read as 1, then ln(x + 1e-6)
    return torch.log(torch.where(x <= 0, torch.ones_like(x), x) + 1e-6)


def pre_abslog(x):
    # zeros read as 1, then ln|x|
    return torch.log(torch.abs(torch.where(x == 0, torch.ones_like(x), x)))


def pre_normalize(x):
    z = (x - torch.mean(x)) / torch.std(x)  # unbiased std, no epsilon
    return torch.where(torch.isnan(z), torch.zeros_like(z), z)


def pre_mms(x):
    return (x - torch.min(x)) / (torch.max(x) - torch.min(x) + 1e-9)


def red_entropy(x):
    # a 1-D input is taken as probabilities, anything else through softmax
    probs = x if x.dim() == 1 else torch.softmax(x, dim=-1)
    keep = probs[~torch.isnan(probs) & (probs >= 0)]
    if keep.numel() == 0:
        return torch.tensor(float("nan"))
    keep = keep / keep.sum(dim=-1, keepdim=True)
    return Categorical(probs=keep).entropy()


PRE = {
    "NO_OP": lambda x: x,
    "ABS": torch.abs,
    "LOG": pre_log,
    "ABSLOG": pre_abslog,
    "POW": lambda x: torch.pow(x, 2),
    "EXP": torch.exp,
    "NORMALIZE": pre_normalize,
    "SIGMOID": torch.sigmoid,
    "TANH": torch.tanh,
    "MMS": pre_mms,
}

REDUCE = {
    "NO_OP": lambda x: x,
    "FROBENIUS_NORM": lambda x: torch.norm(x, p="fro"),
    "L1_NORM": lambda x: torch.sum(torch.abs(x)) / x.numel(),
    "GEOMETRIC_MEAN": lambda x: torch.prod(x).pow(1.0 / x.numel()),
    "MEAN": torch.mean,
    "VAR": torch.var,
    "STD": torch.std,
    "ENTROPY": red_entropy,
}

POST = {
    "NO_OP": lambda x: x,
    "SIN": torch.sin,
    "COS": torch.cos,
    "TAN": torch.tan,
    "ASIN": torch.asin,
    "ACOS": torch.acos,
    "ATAN": torch.atan,
    "EXP": torch.exp,
    "LOG": torch.log,
    "ABS": torch.abs,
    "SIGMOID": torch.sigmoid,
    "TANH": torch.tanh,
    "SOFTPLUS": F.softplus,
}


def parse(genome):
    body = genome[len("W:"):]
    parts = body.split("-")
    stages = []
    for part in parts[:3]:
        inner = part[1:-1]
        stages.append(inner.split(",") if inner else [])
    return stages


def score(genome, values):
    pre, red, post = parse(genome)
    w = torch.tensor(values, dtype=torch.float32)
    for name in pre:
        w = PRE[name](w)
    for name in red:
        w = REDUCE[name](w)
    for name in post:
        w = POST[name](w)
    value = w.item() if w.numel() == 1 else torch.mean(w).item()
    if math.isnan(value):
        return 0.0
    if math.isinf(value):
        return -1.0
    return value


def main():
    genomes, units = [], []
    with open(sys.argv[1]) as f:
        for line in f:
            words = line.split()
            if not words:
                continue
            if words[0] == "genome":
                genomes.append(words[1])
            elif words[0] == "unit":
                units.append([float(v) for v in words[1:]])
    for g in genomes:
        print(" ".join(repr(score(g, u)) for u in units))


if __name__ == "__main__":
    main()
