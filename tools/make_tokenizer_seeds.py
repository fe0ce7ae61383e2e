#!/usr/bin/env python3
"""make_tokenizer_seeds.py: writes the seed corpus of fuzz/fuzz_tokenizer.c
into fuzz/seeds/tokenizer/. Each seed is tokenizer.json, NUL, a text
[, NUL, tokenizer_config.json]. The two bundled tokenizers are trimmed to
small vocabularies (ids below 300, merges among them); the other seeds are
the layouts real models ship (LLaMA-3 / Qwen2 Split + ByteLevel, Metaspace,
merges as pairs, NFC, unk without byte fallback) plus broken files.

    /usr/bin/python3 tools/make_tokenizer_seeds.py
"""
import copy
import json
import os

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "fuzz", "seeds", "tokenizer")

TEXT = ("In the beginning God created the heaven and the earth.\n"
        " = Ge 1 = \n\n  And God said, Let there be light: 1611, "
        "Café — naïve 😀 ＡＢＣ\t12345 I'M we'll <s>x</s>")

LLAMA3_RE = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|"
             r"\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def load(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return json.load(f)


def trim(tok, keep_ids=300, keep_merges=80):
    """Vocabulary ids below keep_ids, and the merges that stay valid."""
    tok = copy.deepcopy(tok)
    model = tok["model"]
    vocab = {k: v for k, v in model["vocab"].items() if v < keep_ids}
    merges = []
    for m in model["merges"]:
        a, b = m.split(" ") if isinstance(m, str) else m
        if a in vocab and b in vocab and a + b in vocab:
            merges.append(m)
        if len(merges) >= keep_merges:
            break
    model["vocab"] = vocab
    model["merges"] = merges
    return tok


def seed(name, tok, text=TEXT, config=None):
    body = tok if isinstance(tok, str) else json.dumps(tok, ensure_ascii=False)
    data = body.encode("utf-8") + b"\0" + text.encode("utf-8")
    if config is not None:
        data += b"\0" + json.dumps(config).encode("utf-8")
    assert len(data) < 65536, name
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    bl = trim(load("examples/tiny-llama/tokenizer.json"))
    sp = trim(load("examples/tokenizer-sp/tokenizer.json"))
    seed("bytelevel", bl, config=load("examples/tiny-llama/tokenizer_config.json"))
    seed("sp", sp, config=load("examples/tokenizer-sp/tokenizer_config.json"))

    pairs = copy.deepcopy(sp)
    pairs["model"]["merges"] = [m.split(" ") for m in sp["model"]["merges"]]
    seed("sp_pairs", pairs)

    meta = copy.deepcopy(sp)
    meta["normalizer"] = None
    meta["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581",
                             "prepend_scheme": "first", "split": False}
    meta["decoder"] = {"type": "Metaspace", "replacement": "\u2581",
                       "prepend_scheme": "first", "split": False}
    seed("sp_metaspace", meta)

    unk = copy.deepcopy(sp)
    unk["model"]["byte_fallback"] = False
    unk["model"]["fuse_unk"] = False
    seed("sp_unk", unk)

    llama3 = copy.deepcopy(bl)
    llama3["model"]["ignore_merges"] = True
    llama3["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": LLAMA3_RE},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False,
         "trim_offsets": True, "use_regex": False}]}
    llama3["post_processor"] = {"type": "Sequence", "processors": [
        {"type": "ByteLevel", "add_prefix_space": True,
         "trim_offsets": False, "use_regex": True},
        {"type": "TemplateProcessing",
         "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                    {"Sequence": {"id": "A", "type_id": 0}}],
         "pair": [],
         "special_tokens": {"<s>": {"id": "<s>", "ids": [0],
                                    "tokens": ["<s>"]}}}]}
    llama3["added_tokens"].append(
        {"id": 300, "content": "<|eot_id|>", "single_word": False,
         "lstrip": True, "rstrip": True, "normalized": False,
         "special": True})
    seed("llama3", llama3, TEXT + "<|eot_id|> tail")

    qwen = copy.deepcopy(llama3)
    qwen["normalizer"] = {"type": "NFC"}
    qwen["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = \
        LLAMA3_RE.replace(r"\p{N}{1,3}", r"\p{N}")
    seed("qwen2", qwen, "e\u0301 \u212b " + TEXT)

    seq = copy.deepcopy(bl)
    seq["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "Strip", "strip_left": True, "strip_right": True},
        {"type": "NFKC"}, {"type": "Lowercase"},
        {"type": "Replace", "pattern": {"Regex": "[0-9]"}, "content": "#"}]}
    seq["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Punctuation"},
        {"type": "Digits", "individual_digits": True},
        {"type": "ByteLevel", "add_prefix_space": True, "use_regex": False}]}
    seed("normalizers", seq)

    seed("broken_json", json.dumps(bl)[:3000])
    bad = copy.deepcopy(bl)
    bad["model"]["merges"] = bad["model"]["merges"][:5] + ["Ġ"]
    seed("bad_merge", bad)
    seed("minimal", '{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},'
                    '"merges":["a b"]}}', "abab ba")


if __name__ == "__main__":
    main()
