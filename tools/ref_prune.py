#!/usr/bin/python3
"""ref_prune.py: independent PyTorch reference for dsac's pruning kernels.

Written from the reference repositories' semantics (methods.md §1.4, §4, §5,
§6.1): Wanda's WrappedGPT.add_batch and prune_wanda / prune_magnitude
(locuslab/wanda lib/layerwrapper.py, lib/prune.py), SparseGPT's add_batch and
fasterprune (IST-DASLab/sparsegpt sparsegpt.py), AlphaPruning's
net_esd_estimator (haiquanlu/AlphaPruning lib/esd_utils.py). It uses the
same torch operations as those files (float32 throughout, stable sort, topk,
cholesky / cholesky_inverse), including their quirks: magnitude and
SparseGPT prune every metric <= sorted[int(numel*s)], so s = 0 still prunes
the minimum (dsac's C kernels leave W untouched at s = 0 on purpose).

Used by tests/test_prune.c, tests/test_esd.c and bench/bench_prune.c:

    /usr/bin/python3 tools/ref_prune.py SPEC.json

SPEC.json (all paths relative to the spec's directory; raw little-endian
binary files, row-major):
    rows, cols                matrix shape
    W                         float32 (rows, cols)
    X                         optional list of {"file", "tokens", "nseqs"}:
                              float32 (tokens, cols) calibration batches
    stats                     true: write scaler_row.f32 and H.f32 (from X)
    jobs                      list of {"name", "method" (magnitude | wanda |
                              sparsegpt), "sparsity", "n", "m", "blocksize",
                              "percdamp", optional "scaler_row_in" / "H_in":
                              float32 (cols) / (cols, cols) files to use
                              instead of the statistics from X, optional
                              "dump_metric": true}: writes <name>.W.f32
                              (pruned float32), <name>.mask.u8 (1 = pruned)
                              and, for SparseGPT with dump_metric,
                              <name>.metric.f32 (rows, cols: w^2/d^2 when
                              the mask was chosen) and <name>.thresh.f32
                              (one threshold per block, unstructured)
    esd                       true: fits W's spectrum (float32 svdvals^2),
                              writes eigs.f32 (ascending) and result.json
                              "esd": alpha_peak, D_peak, alpha_hill, D_hill,
                              spectral_norm
    eigs_in                   optional float64 eigenvalues: result.json
                              "esd_eigs" with both fits run on them in float64
                              (isolates the estimator from the SVD)
    threads                   torch.set_num_threads (default 1)
Every job also reports its loss and seconds in result.json.
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch


# ---- Calibration statistics ----

class ScalerRow:
    """Wanda's WrappedGPT.add_batch: scaler_row = mean over sequences of
    sum over tokens of x_j^2, with the repository's running update."""

    def __init__(self, cols):
        self.scaler_row = torch.zeros(cols, dtype=torch.float32)
        self.nsamples = 0

    def add_batch(self, inp, nseqs):
        inp = inp.t().type(torch.float32)          # (cols, tokens)
        self.scaler_row *= self.nsamples / (self.nsamples + nseqs)
        self.nsamples += nseqs
        self.scaler_row += torch.norm(inp, p=2, dim=1) ** 2 / self.nsamples


class Hessian:
    """SparseGPT's add_batch: H = (2/n) sum X^T X, running update."""

    def __init__(self, cols):
        self.H = torch.zeros((cols, cols), dtype=torch.float32)
        self.nsamples = 0

    def add_batch(self, inp, nseqs):
        inp = inp.t()                              # (cols, tokens)
        self.H *= self.nsamples / (self.nsamples + nseqs)
        self.nsamples += nseqs
        inp = math.sqrt(2 / self.nsamples) * inp.float()
        self.H += inp.matmul(inp.t())


# ---- Pruners (each returns the pruned copy and the boolean mask) ----

def nm_mask(metric, prune_n, prune_m):
    """Wanda's N:M: in every group of m columns the n smallest per row."""
    mask = torch.zeros_like(metric) == 1
    for ii in range(metric.shape[1]):
        if ii % prune_m == 0:
            tmp = metric[:, ii:(ii + prune_m)].float()
            idx = torch.topk(tmp, prune_n, dim=1, largest=False)[1]
            mask.scatter_(1, ii + idx, True)
    return mask


def prune_magnitude(W, sparsity, prune_n=0, prune_m=0):
    W = W.clone()
    metric = torch.abs(W)
    if prune_n != 0:
        mask = nm_mask(metric, prune_n, prune_m)
    else:
        thresh = torch.sort(metric.flatten())[0][int(W.numel() * sparsity)]
        mask = metric <= thresh
    W[mask] = 0
    return W, mask


def prune_wanda(W, scaler_row, sparsity, prune_n=0, prune_m=0):
    W = W.clone()
    metric = torch.abs(W) * torch.sqrt(scaler_row.reshape((1, -1)))
    mask = torch.zeros_like(metric) == 1
    if prune_n != 0:
        mask = nm_mask(metric, prune_n, prune_m)
    else:
        sort_res = torch.sort(metric, dim=-1, stable=True)
        indices = sort_res[1][:, :int(metric.shape[1] * sparsity)]
        mask.scatter_(1, indices, True)
    W[mask] = 0
    return W, mask


def prune_sparsegpt(W, H, sparsity, prune_n=0, prune_m=0, blocksize=128,
                    percdamp=0.01, dump=None):
    """fasterprune: returns (pruned W, mask, sum of losses). With dump a
    dict, also dump["metric"] (rows, cols) = the mask metric w^2/d^2 when
    the mask was chosen (block start, or the N:M group's first column) and
    dump["thresh"] = each block's threshold (unstructured)."""
    W = W.clone().float()
    H = H.clone()
    rows, columns = W.shape
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    losses = torch.zeros(rows)
    damp = percdamp * torch.mean(torch.diag(H))
    diag = torch.arange(columns)
    H[diag, diag] += damp
    H = torch.linalg.cholesky(H)
    H = torch.cholesky_inverse(H)
    H = torch.linalg.cholesky(H, upper=True)
    Hinv = H
    full_mask = torch.zeros_like(W) == 1
    metric, threshs = torch.zeros_like(W), []
    for i1 in range(0, columns, blocksize):
        i2 = min(i1 + blocksize, columns)
        count = i2 - i1
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Losses1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        if prune_n == 0:
            tmp = W1 ** 2 / (torch.diag(Hinv1).reshape((1, -1))) ** 2
            thresh = torch.sort(tmp.flatten())[0][int(tmp.numel() * sparsity)]
            mask1 = tmp <= thresh
            metric[:, i1:i2] = tmp
            threshs.append(float(thresh))
        else:
            mask1 = torch.zeros_like(W1) == 1
        for i in range(count):
            w = W1[:, i]
            d = Hinv1[i, i]
            if prune_n != 0 and i % prune_m == 0:
                tmp = (W1[:, i:(i + prune_m)] ** 2 /
                       (torch.diag(Hinv1)[i:(i + prune_m)].reshape((1, -1)))
                       ** 2)
                idx = torch.topk(tmp, prune_n, dim=1, largest=False)[1]
                mask1.scatter_(1, i + idx, True)
                metric[:, i1 + i:i1 + i + prune_m] = tmp
            q = w.clone()
            q[mask1[:, i]] = 0
            Q1[:, i] = q
            Losses1[:, i] = (w - q) ** 2 / d ** 2
            err1 = (w - q) / d
            W1[:, i:] -= err1.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Err1[:, i] = err1
        W[:, i1:i2] = Q1
        full_mask[:, i1:i2] = mask1
        losses += torch.sum(Losses1, 1) / 2
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    if dump is not None:
        dump["metric"] = metric
        dump["thresh"] = torch.tensor(threshs, dtype=torch.float32)
    return W, full_mask, float(torch.sum(losses).item())


# ---- AlphaPruning's ESD estimators ----

def esd_eigs(W):
    """Eigenvalues of W^T W as the reference gets them: svdvals^2, float32,
    ascending."""
    eigs = torch.square(torch.linalg.svdvals(W.to(torch.float32)).flatten())
    eigs, _ = torch.sort(eigs, descending=False)
    return eigs


def esd_fit(eigs, fix_fingers, bins=100, xmin_pos=2):
    """net_esd_estimator's fit of one matrix (filter_zeros=False)."""
    nz_eigs = eigs
    N = len(nz_eigs)
    log_nz_eigs = torch.log(nz_eigs)
    if fix_fingers == 'xmin_mid':
        i = int(len(nz_eigs) / xmin_pos)
        xmin = nz_eigs[i]
        n = float(N - i)
        seq = torch.arange(n)
        alpha = 1 + n / (torch.sum(log_nz_eigs[i:]) - n * log_nz_eigs[i])
        D = torch.max(torch.abs(
            1 - (nz_eigs[i:] / xmin) ** (-alpha + 1) - seq / n))
        return float(alpha.item()), float(D.item())
    alphas = torch.zeros(N - 1)
    Ds = torch.ones(N - 1)
    hist_nz_eigs = torch.log10(nz_eigs)
    min_e, max_e = hist_nz_eigs.min(), hist_nz_eigs.max()
    counts = torch.histc(hist_nz_eigs, bins, min=min_e, max=max_e)
    boundaries = torch.linspace(min_e, max_e, bins + 1)
    ih = torch.argmax(counts)
    xmin2 = 10 ** boundaries[ih]
    xmin_min = torch.log10(0.95 * xmin2)   # sic: log10 vs linear below
    xmin_max = 1.5 * xmin2
    for i, xmin in enumerate(nz_eigs[:-1]):
        if xmin < xmin_min:
            continue
        if xmin > xmin_max:
            break
        n = float(N - i)
        seq = torch.arange(n)
        alpha = 1 + n / (torch.sum(log_nz_eigs[i:]) - n * log_nz_eigs[i])
        alphas[i] = alpha
        if alpha > 1:
            Ds[i] = torch.max(torch.abs(
                1 - (nz_eigs[i:] / xmin) ** (-alpha + 1) - seq / n))
    idx = torch.argmin(Ds)
    return float(alphas[idx].item()), float(Ds[idx].item())


def esd_all(eigs):
    ap, dp = esd_fit(eigs, 'xmin_peak')
    ah, dh = esd_fit(eigs, 'xmin_mid')
    return {"alpha_peak": ap, "D_peak": dp, "alpha_hill": ah, "D_hill": dh,
            "spectral_norm": float(eigs[-1].item())}


# ---- Driver ----

def load(base, name, dtype, shape):
    a = np.fromfile(os.path.join(base, name), dtype=dtype)
    return torch.from_numpy(a.reshape(shape).copy())


def save(base, name, t):
    t.contiguous().numpy().tofile(os.path.join(base, name))


def collect_stats(spec, base, cols):
    scaler, hess = ScalerRow(cols), Hessian(cols)
    for b in spec.get("X", []):
        X = load(base, b["file"], np.float32, (b["tokens"], cols))
        scaler.add_batch(X, b["nseqs"])
        hess.add_batch(X, b["nseqs"])
    return scaler.scaler_row, hess.H


def run_job(job, base, W, scaler_row, H):
    method, s = job["method"], job.get("sparsity", 0.0)
    n, m = job.get("n", 0), job.get("m", 0)
    cols = W.shape[1]
    if "scaler_row_in" in job:
        scaler_row = load(base, job["scaler_row_in"], np.float32, (cols,))
    if "H_in" in job:
        H = load(base, job["H_in"], np.float32, (cols, cols))
    dump = {} if job.get("dump_metric") else None
    t0 = time.perf_counter()
    loss = 0.0
    if method == "magnitude":
        Wp, mask = prune_magnitude(W, s, n, m)
    elif method == "wanda":
        Wp, mask = prune_wanda(W, scaler_row, s, n, m)
    elif method == "sparsegpt":
        Wp, mask, loss = prune_sparsegpt(W, H, s, n, m,
                                         job.get("blocksize", 128),
                                         job.get("percdamp", 0.01), dump)
    else:
        raise SystemExit("ref_prune: unknown method " + method)
    sec = time.perf_counter() - t0
    if dump:
        save(base, job["name"] + ".metric.f32", dump["metric"])
        save(base, job["name"] + ".thresh.f32", dump["thresh"])
    return Wp, mask, loss, sec


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: ref_prune.py SPEC.json")
    spec_path = sys.argv[1]
    base = os.path.dirname(os.path.abspath(spec_path))
    with open(spec_path) as f:
        spec = json.load(f)
    torch.set_num_threads(spec.get("threads", 1))
    rows, cols = spec["rows"], spec["cols"]
    W = load(base, spec["W"], np.float32, (rows, cols))
    scaler_row, H = collect_stats(spec, base, cols)
    if spec.get("stats"):
        save(base, "scaler_row.f32", scaler_row)
        save(base, "H.f32", H)
    summary = {}
    for job in spec.get("jobs", []):
        Wp, mask, loss, sec = run_job(job, base, W, scaler_row, H)
        save(base, job["name"] + ".W.f32", Wp)
        save(base, job["name"] + ".mask.u8", mask.to(torch.uint8))
        summary[job["name"]] = {"loss": loss, "seconds": sec}
    if spec.get("esd"):
        eigs = esd_eigs(W)
        save(base, "eigs.f32", eigs)
        summary["esd"] = esd_all(eigs)
    if "eigs_in" in spec:
        e = torch.from_numpy(np.fromfile(os.path.join(base, spec["eigs_in"]),
                                         dtype=np.float64))
        summary["esd_eigs"] = esd_all(e)
    with open(os.path.join(base, "result.json"), "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
