#!/usr/bin/python3
"""ref_prune_model.py: independent PyTorch reference of dsac's whole pruning
pipeline (pass 2 of `dsac prune`), for tests/test_pipeline.c and
bench/bench_prune_model.c. Needs Debian's python3-torch (/usr/bin/python3).

It follows the Wanda repository's prune_wanda / prune_sparsegpt /
prune_magnitude (methods.md §1.3): the calibration windows are embedded,
then for each decoder block, every sample goes through the still-dense block
one at a time (batch 1, as the reference) with hooks that feed Wanda's
scaler_row or SparseGPT's Hessian (tools/ref_prune.py, written from
WrappedGPT.add_batch and sparsegpt.py); every linear is pruned with its
ratio by the reference kernels (ref_prune.py); the pruned weights are
rounded to the stored dtype (as the saved model holds them); and the pruned
block's outputs become the next block's inputs. Magnitude needs no data.
The model is read with json + struct + torch (ref_forward.py); the forward
pass is ref_forward.py's LLaMA / Mistral / Qwen2 one, block by block.

What it is given, so that the pruning is compared and nothing else:
  --calib-ids FILE   the windows (dsac prune --dump-calib: {"ids": [[..]]})
  --ratios FILE      dsac's JSON report (--report): the "linears" array's
                     asked ratio per linear (the allocation is the
                     compiler's business, tested elsewhere)
Options:
  --model DIR --method magnitude|wanda|sparsegpt [--nm N:M]
  --blocksize 128 --percdamp 0.01 --threads N
  --batch B          calibration samples per forward (default 1, as the
                     reference's loop; the bench uses dsac's batch)
  --eval-ids FILE --seqlen T [--max-chunks K]
                     perplexity of the pruned model (first K windows)
  --compare DIR      a model saved by dsac prune: per linear, the positions
                     where the zero patterns differ, and for each the
                     reference metric's distance to the selection boundary
  --out FILE         the JSON result (else stdout)
Timings: "seconds_prune" covers embedding, every statistics forward, the
kernels and the pruned forward (what bench_prune_model compares), not
loading the model nor evaluating.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ref_forward as rf  # noqa: E402
import ref_prune as rp    # noqa: E402

LINEARS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
           "down_proj"]
MODULE = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn",
          "o_proj": "self_attn", "gate_proj": "mlp", "up_proj": "mlp",
          "down_proj": "mlp"}


def lin_name(l, n):
    return f"model.layers.{l}.{MODULE[n]}.{n}.weight"


# ---- One LLaMA block with hooks on the linears' inputs ----

class Block:
    """ref_forward.llama_forward's loop body for block l; hook(name, x) is
    called with each linear's input (B, T, in) before its matmul."""

    def __init__(self, cfg, w, T):
        self.cfg, self.w = cfg, w
        C = cfg["hidden_size"]
        self.H = cfg["num_attention_heads"]
        self.KV = cfg.get("num_key_value_heads") or self.H
        self.D = cfg.get("head_dim") or C // self.H
        self.eps = cfg.get("rms_norm_eps", 1e-6)
        pos = torch.arange(T).float()
        freqs = pos[:, None] * rf.rope_inv_freq(cfg, self.D)[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()
        window = cfg.get("sliding_window") \
            if cfg["model_type"] == "mistral" else None
        self.mask = rf.causal_mask(T, window)

    def __call__(self, l, x, hook=None):
        w, H, KV, D = self.w, self.H, self.KV, self.D
        B, T = x.shape[0], x.shape[1]
        p = f"model.layers.{l}."
        h = rf.rms_norm(x, w[p + "input_layernorm.weight"], self.eps)
        if hook:
            hook("q_proj", h)
            hook("k_proj", h)
            hook("v_proj", h)
        q = rf.lin(h, w, p + "self_attn.q_proj").view(B, T, H, D).transpose(1, 2)
        k = rf.lin(h, w, p + "self_attn.k_proj").view(B, T, KV, D).transpose(1, 2)
        v = rf.lin(h, w, p + "self_attn.v_proj").view(B, T, KV, D).transpose(1, 2)
        q = q * self.cos + rf.rotate_half(q) * self.sin
        k = k * self.cos + rf.rotate_half(k) * self.sin
        a = rf.attend(q, k, v, H, KV, D, self.mask)
        if hook:
            hook("o_proj", a)
        x = x + rf.lin(a, w, p + "self_attn.o_proj")
        h = rf.rms_norm(x, w[p + "post_attention_layernorm.weight"], self.eps)
        if hook:
            hook("gate_proj", h)
            hook("up_proj", h)
        g = F.silu(rf.lin(h, w, p + "mlp.gate_proj")) * \
            rf.lin(h, w, p + "mlp.up_proj")
        if hook:
            hook("down_proj", g)
        return x + rf.lin(g, w, p + "mlp.down_proj")


# ---- Pipeline ----

def stored_dtype(model_dir):
    """dtype of the first linear in the safetensors header."""
    files = [f for f in os.listdir(model_dir) if f.endswith(".safetensors")]
    with open(os.path.join(model_dir, sorted(files)[0]), "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        hdr = json.loads(f.read(n))
    for k, v in hdr.items():
        if k.endswith("q_proj.weight"):
            return {"BF16": torch.bfloat16, "F16": torch.float16,
                    "F32": torch.float32}[v["dtype"]]
    return torch.float32


def read_ratios(path):
    with open(path) as f:
        rep = json.load(f)
    return {(r["block"], r["linear"]): r["asked"] for r in rep["linears"]}


def prune_linear(a, W, stats, s):
    n, m = a.nm
    if a.method == "magnitude":
        Wp, mask = rp.prune_magnitude(W, s, n, m)
    elif a.method == "wanda":
        Wp, mask = rp.prune_wanda(W, stats.scaler_row, s, n, m)
    else:
        Wp, mask, _ = rp.prune_sparsegpt(W, stats.H, s, n, m, a.blocksize,
                                         a.percdamp)
    return Wp, mask


def boundary(a, W, stats, s):
    """The reference's selection metric (rows, cols) and the value each
    row's selection stops at (Wanda: the row's k-th smallest metric, k =
    int(cols*s); magnitude: sorted(|W|)[int(numel*s)] of the matrix)."""
    if a.method == "wanda":
        metric = W.abs() * torch.sqrt(stats.scaler_row.reshape(1, -1))
        k = int(W.shape[1] * s)
        srt = torch.sort(metric, dim=-1, stable=True)[0]
        thr = srt[:, max(k - 1, 0)].reshape(-1, 1)
    else:
        metric = W.abs()
        thr = torch.sort(metric.flatten())[0][int(W.numel() * s)]
        thr = thr.reshape(1, 1).expand(W.shape[0], 1)
    return metric, thr


def block_stats(a, blk, l, inps):
    """Statistics of every linear of block l from the dense block, a.batch
    samples at a time (1 = prune_wanda's loop; the running updates give the
    same statistics up to rounding for any batch)."""
    stats = {}
    nb = [0]

    def hook(name, x):
        if name not in stats:
            stats[name] = rp.ScalerRow(x.shape[-1]) if a.method == "wanda" \
                else rp.Hessian(x.shape[-1])
        stats[name].add_batch(x.reshape(-1, x.shape[-1]), nb[0])

    for j in range(0, inps.shape[0], a.batch):
        x = inps[j:j + a.batch]
        nb[0] = x.shape[0]
        blk(l, x, hook)
    return stats


def run_pipeline(a, cfg, w, ids):
    ratios = read_ratios(a.ratios)
    dt = stored_dtype(a.model)
    L = cfg["num_hidden_layers"]
    N, T = ids.shape
    blk = Block(cfg, w, T)
    masks, bounds = {}, {}
    keep = a.compare is not None and a.method != "sparsegpt" and \
        a.nm == (0, 0)
    t0 = time.perf_counter()
    inps = None
    if a.method != "magnitude":
        inps = w["model.embed_tokens.weight"][ids]
    for l in range(L):
        stats = block_stats(a, blk, l, inps) if inps is not None else {}
        for n in LINEARS:
            key = lin_name(l, n)
            W, s = w[key], ratios[(l, n)]
            if keep:
                bounds[key] = boundary(a, W, stats.get(n), s)
            Wp, mask = prune_linear(a, W, stats.get(n), s)
            w[key] = Wp.to(dt).float()     # what the saved model holds
            masks[key] = (w[key] == 0)
        if inps is not None and l + 1 < L:
            inps = blk(l, inps)
    return masks, bounds, time.perf_counter() - t0


# ---- Comparison with a model saved by dsac ----

def compare(a, masks, bounds):
    """Zero patterns of dsac's saved model vs the reference's, per linear.
    For Wanda and magnitude, every position where they differ is measured
    against the selection boundary: gap = |metric - thr| / thr in the
    reference's own metric (thr = where the row's, or the matrix's,
    selection stops). A difference is a tie when gap is at rounding level:
    the two sides computed the statistics in different orders (dsac sums
    scaler_row in double, the reference in float32; the forward passes
    round differently), which moves only metrics that sit on the
    boundary."""
    _, ws = rf.load_model(a.compare)
    out = []
    for key, mask in masks.items():
        theirs = ws[key] == 0
        diff = theirs != mask
        rec = {"name": key, "mismatch": int(diff.sum()),
               "numel": mask.numel(), "zeros_ref": int(mask.sum()),
               "zeros_dsac": int(theirs.sum()), "max_gap": None}
        if rec["mismatch"] and key in bounds:
            metric, thr = bounds[key]
            gap = ((metric - thr).abs() / thr.clamp_min(1e-30))[diff]
            rec["max_gap"] = float(gap.max())
            rec["rows_mismatched"] = int(diff.any(dim=1).sum())
        out.append(rec)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--calib-ids", required=True)
    ap.add_argument("--ratios", required=True)
    ap.add_argument("--method", required=True,
                    choices=["magnitude", "wanda", "sparsegpt"])
    ap.add_argument("--nm", default="0:0")
    ap.add_argument("--blocksize", type=int, default=128)
    ap.add_argument("--percdamp", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--eval-ids")
    ap.add_argument("--seqlen", type=int, default=256)
    ap.add_argument("--max-chunks", type=int, default=0)
    ap.add_argument("--compare")
    ap.add_argument("--out")
    a = ap.parse_args()
    a.nm = tuple(int(x) for x in a.nm.split(":"))
    torch.set_num_threads(a.threads)
    cfg, w = rf.load_model(a.model)
    if cfg["model_type"] not in ("llama", "mistral", "qwen2"):
        raise SystemExit("ref_prune_model: LLaMA-family models only")
    with open(a.calib_ids) as f:
        ids = torch.tensor(json.load(f)["ids"], dtype=torch.int64)
    with torch.no_grad():
        masks, bounds, sec = run_pipeline(a, cfg, w, ids)
    res = {"method": a.method, "nm": list(a.nm), "seconds_prune": sec,
           "threads": a.threads, "batch": a.batch, "nsamples": ids.shape[0],
           "seqlen": ids.shape[1],
           "zeros": int(sum(int(m.sum()) for m in masks.values())),
           "numel": int(sum(m.numel() for m in masks.values()))}
    if a.eval_ids:
        res["ppl"] = perplexity(cfg, w, a.eval_ids, a.seqlen, a.max_chunks)
    if a.compare:
        res["compare"] = compare(a, masks, bounds)
    text = json.dumps(res, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0


def perplexity(cfg, w, ids_path, T, max_chunks=0):
    """dsac eval's protocol (ref_forward.py ppl): floor(n/T) windows, or the
    first max_chunks of them."""
    ids = rf.read_ids(ids_path).reshape(-1)
    n = ids.numel() // T
    if max_chunks:
        n = min(n, max_chunks)
    windows = ids[: n * T].view(n, T)
    losses = []
    with torch.no_grad():
        for i in range(0, n, 16):
            x = windows[i:i + 16]
            logits = rf.forward(cfg, w, x)
            V = logits.shape[-1]
            nll = F.cross_entropy(logits[:, :-1].reshape(-1, V),
                                  x[:, 1:].reshape(-1), reduction="none")
            losses += nll.view(x.shape[0], T - 1).double().mean(1).tolist()
    return math.exp(sum(losses) / len(losses))


if __name__ == "__main__":
    sys.exit(main())
