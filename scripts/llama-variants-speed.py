#!/usr/bin/env python3
"""Float forward speed of the Llama-like families beside Llama's, per parameter-token.

Writes one random checkpoint per family (transformers save_pretrained, F32, the
same sizes: hidden 512, 4 layers, 8 heads / 4 kv heads, ffn 1536, vocab 272,
a byte-level tokenizer.json) into OUT, then times `sqsim ppl` (float) on the
first --tokens tokens of WikiText-2's first 32 kB for each (one thread), in interleaved
rounds in one run, so the ratios compare like with like. Prints a Markdown table: seconds, parameters (from the
safetensors), ns per parameter-token and the ratio to Llama.

usage: scripts/llama-variants-speed.py --sqsim build/sqsim --out DIR [--tokens 2048] [--repeat 3]
Needs torch, transformers and tokenizers (scripts/install-python-refs.sh).
"""
import argparse
import os
import subprocess
import sys
import time

import torch
import transformers
from safetensors import safe_open
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIKI = os.path.join(SRC, "..", "shared", "data", "wikitext-2-raw", "wiki.test.raw")
DIMS = dict(vocab_size=272, hidden_size=512, intermediate_size=1536, num_hidden_layers=4, num_attention_heads=8,
            num_key_value_heads=4, max_position_embeddings=4096, rms_norm_eps=1e-5, pad_token_id=0,
            bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)


def families():
    T = transformers
    return [("llama", T.LlamaForCausalLM, T.LlamaConfig(**DIMS)),
            ("mistral (window 256)", T.MistralForCausalLM, T.MistralConfig(**DIMS, sliding_window=256)),
            ("qwen2", T.Qwen2ForCausalLM, T.Qwen2Config(**DIMS)),
            ("qwen3", T.Qwen3ForCausalLM, T.Qwen3Config(**DIMS, head_dim=64)),
            ("phi3", T.Phi3ForCausalLM, T.Phi3Config(**DIMS))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sqsim", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))},
                               merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    torch.manual_seed(0)
    # the first 32 kB of WikiText-2: more than --tokens byte tokens, quick to tokenize
    text = os.path.join(a.out, "text.txt")
    with open(WIKI, encoding="utf-8") as src, open(text, "w", encoding="utf-8") as dst:
        dst.write(src.read(32768))
    runs = []
    for name, cls, cfg in families():
        d = os.path.join(a.out, name.split()[0])
        if not os.path.exists(os.path.join(d, "config.json")):
            cls(cfg).save_pretrained(d, safe_serialization=True)
            tok.save(os.path.join(d, "tokenizer.json"))
        with safe_open(os.path.join(d, "model.safetensors"), "np") as f:
            params = sum(f.get_slice(k).get_shape()[0] * (f.get_slice(k).get_shape() + [1])[1] for k in f.keys())
        runs.append((name, params, [a.sqsim, "ppl", "--model", d, "--text", text, "--seq-len", "512",
                                    "--max-tokens", str(a.tokens), "--threads", "1"]))
    best = {name: float("inf") for name, _, _ in runs}
    for _ in range(a.repeat):  # rounds over the families, best of N each: the machine is shared
        for name, params, cmd in runs:
            t0 = time.perf_counter()
            r = subprocess.run(cmd, capture_output=True, text=True)
            best[name] = min(best[name], time.perf_counter() - t0)
            if r.returncode != 0:
                sys.exit(f"{' '.join(cmd)} failed: {r.stderr}")
            print(f"{name}: {best[name]:.3f} s, {params} parameters", file=sys.stderr)
    rows = [(name, best[name], params) for name, params, _ in runs]
    base = rows[0][1] / rows[0][2]
    print(f"command per family: {a.sqsim} ppl --model DIR --text OUT/text.txt --seq-len 512 --max-tokens {a.tokens}"
          f" --threads 1 (best of {a.repeat} interleaved rounds)\n")
    print("| family | seconds | parameters | ns / parameter-token | ratio to llama |")
    print("|---|---|---|---|---|")
    for name, sec, params in rows:
        per = sec / params / a.tokens * 1e9
        print(f"| {name} | {sec:.3f} | {params} | {per:.4f} | {sec / params / base:.3f} |")


if __name__ == "__main__":
    main()
