#!/usr/bin/python3
"""ref_forward.py: an independent fp32 PyTorch forward pass for Hugging Face
LLaMA / Mistral / Qwen2 / OPT directories, written from the math of the
transformers modeling files (no transformers, no safetensors package: the
files are read with json + struct + torch.frombuffer). It cross-checks the C
runtime (tests/test_forward.c, tests/test_eval.c) and is the PyTorch side of
bench/bench_eval.c. Needs Debian's python3-torch (/usr/bin/python3).

  ref_forward.py logits --model DIR --ids IDS.json --out OUT.f32
      logits of each sequence of IDS.json ({"ids": [[...], ...]} or
      {"ids": [...]}) as raw little-endian float32, shape (B, T, V)
  ref_forward.py ppl --model DIR --ids IDS.json --seqlen T
      [--max-chunks K] [--batch B] [--threads N]
      perplexity under the GPTQ/Wanda window protocol; prints one JSON line
      {"ppl", "windows", "seconds", "tokens_per_s", "mean_nll"}
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

ST_DTYPES = {"F32": (torch.float32, 4), "F16": (torch.float16, 2),
             "BF16": (torch.bfloat16, 2)}


# ---- safetensors ----

def read_safetensors(path):
    """All tensors of one file as fp32 torch tensors, by name."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dt, size = ST_DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        buf = bytearray(data[base + b:base + e])
        if dt == torch.bfloat16:
            t = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(buf, dtype=dt)
        out[name] = t.reshape(info["shape"]).float()
    return out


def load_model(d):
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    index = os.path.join(d, "model.safetensors.index.json")
    w = {}
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        for fn in files:
            w.update(read_safetensors(os.path.join(d, fn)))
    else:
        w = read_safetensors(os.path.join(d, "model.safetensors"))
    return cfg, w


# ---- LLaMA / Mistral / Qwen2 ----

def rope_inv_freq(cfg, D):
    base = cfg.get("rope_theta", 10000.0)
    inv = 1.0 / (base ** (torch.arange(0, D, 2, dtype=torch.int64).float() / D))
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "linear":
        inv = inv / rs["factor"]
    elif kind == "llama3":
        factor, lo, hi = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        lo_wl, hi_wl = old / lo, old / hi
        wl = 2 * math.pi / inv
        scaled = torch.where(wl > lo_wl, inv / factor, inv)
        smooth = (old / wl - lo) / (hi - lo)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wl < hi_wl) * ~(wl > lo_wl)
        inv = torch.where(medium, smoothed, scaled)
    return inv


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rms_norm(x, w, eps):
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps))


def causal_mask(T, window):
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    keep = j <= i
    if window:
        keep = keep & (j > i - window)
    m = torch.zeros(T, T)
    return m.masked_fill(~keep, float("-inf"))


def lin(x, w, name):
    y = x @ w[name + ".weight"].t()
    b = w.get(name + ".bias")
    return y + b if b is not None else y


def attend(q, k, v, H, KV, D, mask):
    B, T = q.shape[0], q.shape[2]
    k = k.repeat_interleave(H // KV, dim=1)
    v = v.repeat_interleave(H // KV, dim=1)
    s = (q @ k.transpose(2, 3)) * (D ** -0.5) + mask
    p = torch.softmax(s, dim=-1)
    return (p @ v).transpose(1, 2).reshape(B, T, H * D)


def llama_forward(cfg, w, ids):
    B, T = ids.shape
    C = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    KV = cfg.get("num_key_value_heads") or H
    D = cfg.get("head_dim") or C // H
    eps = cfg.get("rms_norm_eps", 1e-6)
    window = cfg.get("sliding_window") if cfg["model_type"] == "mistral" else None
    pos = torch.arange(T).float()
    freqs = pos[:, None] * rope_inv_freq(cfg, D)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = causal_mask(T, window)
    x = w["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = lin(h, w, p + "self_attn.q_proj").view(B, T, H, D).transpose(1, 2)
        k = lin(h, w, p + "self_attn.k_proj").view(B, T, KV, D).transpose(1, 2)
        v = lin(h, w, p + "self_attn.v_proj").view(B, T, KV, D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        x = x + lin(attend(q, k, v, H, KV, D, mask), w, p + "self_attn.o_proj")
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = F.silu(lin(h, w, p + "mlp.gate_proj")) * lin(h, w, p + "mlp.up_proj")
        x = x + lin(g, w, p + "mlp.down_proj")
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") \
        else w["lm_head.weight"]
    return x @ head.t()


# ---- OPT ----

def opt_forward(cfg, w, ids):
    B, T = ids.shape
    C = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    D = C // H
    pre = cfg.get("do_layer_norm_before", True)
    pfx = "model." if "model.decoder.embed_tokens.weight" in w else ""
    dec = pfx + "decoder."
    ln = lambda x, n: F.layer_norm(x, (C,), w[n + ".weight"], w[n + ".bias"], 1e-5)
    act = {"relu": F.relu, "gelu": F.gelu}[cfg.get("activation_function", "relu")]
    x = w[dec + "embed_tokens.weight"][ids]
    if dec + "project_in.weight" in w:
        x = x @ w[dec + "project_in.weight"].t()
    x = x + w[dec + "embed_positions.weight"][torch.arange(T) + 2]
    mask = causal_mask(T, None)
    for l in range(cfg["num_hidden_layers"]):
        p = f"{dec}layers.{l}."
        res = x
        h = ln(x, p + "self_attn_layer_norm") if pre else x
        q = lin(h, w, p + "self_attn.q_proj").view(B, T, H, D).transpose(1, 2)
        k = lin(h, w, p + "self_attn.k_proj").view(B, T, H, D).transpose(1, 2)
        v = lin(h, w, p + "self_attn.v_proj").view(B, T, H, D).transpose(1, 2)
        x = res + lin(attend(q, k, v, H, H, D, mask), w, p + "self_attn.out_proj")
        if not pre:
            x = ln(x, p + "self_attn_layer_norm")
        res = x
        h = ln(x, p + "final_layer_norm") if pre else x
        x = res + lin(act(lin(h, w, p + "fc1")), w, p + "fc2")
        if not pre:
            x = ln(x, p + "final_layer_norm")
    if pre and not cfg.get("_remove_final_layer_norm", False):
        x = ln(x, dec + "final_layer_norm")
    if dec + "project_out.weight" in w:
        x = x @ w[dec + "project_out.weight"].t()
    head = w.get("lm_head.weight") if not cfg.get("tie_word_embeddings", True) \
        else None
    if head is None:
        head = w[dec + "embed_tokens.weight"]
    return x @ head.t()


def forward(cfg, w, ids):
    if cfg["model_type"] == "opt":
        return opt_forward(cfg, w, ids)
    return llama_forward(cfg, w, ids)


# ---- Commands ----

def read_ids(path):
    with open(path) as f:
        j = json.load(f)
    ids = j["ids"] if isinstance(j, dict) else j
    if ids and isinstance(ids[0], int):
        ids = [ids]
    return torch.tensor(ids, dtype=torch.int64)


def cmd_logits(a):
    cfg, w = load_model(a.model)
    ids = read_ids(a.ids)
    with torch.no_grad():
        logits = forward(cfg, w, ids).contiguous()
    with open(a.out, "wb") as f:
        f.write(logits.numpy().astype("<f4").tobytes())


def cmd_ppl(a):
    torch.set_num_threads(a.threads)
    cfg, w = load_model(a.model)
    ids = read_ids(a.ids).reshape(-1)
    T = a.seqlen
    n = ids.numel() // T
    if a.max_chunks:
        n = min(n, a.max_chunks)
    windows = ids[: n * T].view(n, T)
    losses = []
    t0 = time.time()
    with torch.no_grad():
        for i in range(0, n, a.batch):
            x = windows[i:i + a.batch]
            logits = forward(cfg, w, x)
            V = logits.shape[-1]
            nll = F.cross_entropy(logits[:, :-1].reshape(-1, V),
                                  x[:, 1:].reshape(-1), reduction="none")
            losses += nll.view(x.shape[0], T - 1).double().mean(1).tolist()
    sec = time.time() - t0
    mean = sum(losses) / len(losses)
    print(json.dumps({"ppl": math.exp(mean), "mean_nll": mean, "windows": n,
                      "seconds": sec, "tokens_per_s": n * T / sec,
                      "threads": a.threads}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    lg = sub.add_parser("logits")
    lg.add_argument("--model", required=True)
    lg.add_argument("--ids", required=True)
    lg.add_argument("--out", required=True)
    pp = sub.add_parser("ppl")
    pp.add_argument("--model", required=True)
    pp.add_argument("--ids", required=True)
    pp.add_argument("--seqlen", type=int, required=True)
    pp.add_argument("--max-chunks", type=int, default=0)
    pp.add_argument("--batch", type=int, default=1)
    pp.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    {"logits": cmd_logits, "ppl": cmd_ppl}[a.cmd](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
