#!/usr/bin/env python3
"""Float forward time per parameter-token: Gemma 3 against Llama, side by side.

Makes two random Hugging Face folders of the same widths (hidden, heads,
head_dim = hidden / heads, ffn, layers, vocab) with transformers, then runs
`sqsim ppl` (float) on the same text with each, alternating, and prints the
best wall time of each and time / (parameters x tokens). Gemma 3 has four
norms per block and two small q/k norms: its parameter count is the Llama
one's plus those. Usage (from the repository root, after a Release build):

    .venv/bin/python scripts/family-speed.py [--tokens 2048] [--repeats 3] [--window 512]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

ap = argparse.ArgumentParser()
ap.add_argument("--bin", default="build/sqsim")
ap.add_argument("--text", default="../shared/data/wikitext-2-raw/wiki.test.raw")
ap.add_argument("--tokens", type=int, default=2048)
ap.add_argument("--seq-len", type=int, default=512)
ap.add_argument("--window", type=int, default=128, help="Gemma's sliding window")
ap.add_argument("--repeats", type=int, default=3)
ap.add_argument("--threads", type=int, default=0)
a = ap.parse_args()

H, L, HEADS, F, V = 512, 8, 8, 1536, 4096
common = dict(vocab_size=V, hidden_size=H, intermediate_size=F, num_hidden_layers=L, num_attention_heads=HEADS,
              num_key_value_heads=HEADS, max_position_embeddings=4096, tie_word_embeddings=True)


def tokenizer(path):
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.save(path)


with tempfile.TemporaryDirectory() as tmp:
    torch.manual_seed(0)
    dirs = {}
    for name, model in (
            ("llama", transformers.LlamaForCausalLM(transformers.LlamaConfig(**common))),
            ("gemma3", transformers.Gemma3ForCausalLM(transformers.Gemma3TextConfig(
                **common, head_dim=H // HEADS, query_pre_attn_scalar=H // HEADS, sliding_window=a.window,
                sliding_window_pattern=6)))):
        d = os.path.join(tmp, name)
        model.save_pretrained(d, safe_serialization=True)
        tokenizer(os.path.join(d, "tokenizer.json"))
        dirs[name] = (d, sum(p.numel() for p in model.parameters()))
    best = {n: float("inf") for n in dirs}
    for r in range(a.repeats):
        for name, (d, _) in dirs.items():
            cmd = [a.bin, "ppl", "--model", d, "--text", a.text, "--max-tokens", str(a.tokens), "--seq-len",
                   str(a.seq_len), "--threads", str(a.threads)]
            t0 = time.perf_counter()
            p = subprocess.run(cmd, capture_output=True, text=True)
            dt = time.perf_counter() - t0
            if p.returncode != 0:
                sys.exit(f"{' '.join(cmd)} failed: {p.stdout}{p.stderr}")
            best[name] = min(best[name], dt)
            print(f"run {r} {name}: {dt:.3f} s", file=sys.stderr)
    base = best["llama"] / (dirs["llama"][1] * a.tokens)
    for name, (d, params) in dirs.items():
        per = best[name] / (params * a.tokens)
        print(f"{name:7s} params {params:>10,d}  best {best[name]:.3f} s  {per * 1e12:.3f} ps/(param*token)  "
              f"x{per / base:.2f} of llama")
