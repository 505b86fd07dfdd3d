#!/usr/bin/env python3
"""Writes random Hugging Face checkpoints of one size per family, for timing
sqsim's float forward per parameter-token across families (docs/hf-checkpoints.md,
"Speed of the families") and for running the quantized presets on them.

usage: tiny-hf-models.py OUT_DIR [--hidden 512] [--layers 4]
Writes OUT_DIR/{llama,bloom,mixtral}, each with a byte-level tokenizer.json.
The sizes match per token: Llama's MLP (3 x hidden x ffn, ffn = 2.6875 hidden),
BLOOM's (2 x hidden x 4 hidden) and Mixtral's two active experts out of 8
(each ffn / 2) have about the same parameters. Needs torch, transformers, tokenizers.
"""
import argparse
import json
import os

import torch
import transformers
from tokenizers import Tokenizer, decoders, models, pre_tokenizers


def byte_tokenizer(path):
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    tok = Tokenizer(models.BPE(vocab={chr(c): b for b, c in zip(bs, cs)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.save(path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=4)
    a = ap.parse_args()
    torch.manual_seed(0)
    h, L, heads = a.hidden, a.layers, a.hidden // 64
    ffn = int(h * 2.6875) // 16 * 16
    cfgs = {
        "llama": transformers.LlamaConfig(vocab_size=300, hidden_size=h, intermediate_size=ffn, num_hidden_layers=L,
                                          num_attention_heads=heads, num_key_value_heads=heads,
                                          max_position_embeddings=4096, tie_word_embeddings=True),
        "bloom": transformers.BloomConfig(vocab_size=300, hidden_size=h, n_layer=L, n_head=heads),
        "mixtral": transformers.MixtralConfig(vocab_size=300, hidden_size=h, intermediate_size=ffn // 2,
                                              num_hidden_layers=L, num_attention_heads=heads,
                                              num_key_value_heads=heads, num_local_experts=8, num_experts_per_tok=2,
                                              max_position_embeddings=4096, tie_word_embeddings=True),
    }
    classes = {"llama": transformers.LlamaForCausalLM, "bloom": transformers.BloomForCausalLM,
               "mixtral": transformers.MixtralForCausalLM}
    tok = os.path.join(a.out, "tokenizer.json")
    os.makedirs(a.out, exist_ok=True)
    byte_tokenizer(tok)
    sizes = {}
    for name, cfg in cfgs.items():
        m = classes[name](cfg).eval()
        with torch.no_grad():
            for n, p in m.named_parameters():
                if p.dim() >= 2:
                    p.normal_(0.0, 0.5 / p.shape[-1] ** 0.5 if "embed" not in n else 0.05)
        d = os.path.join(a.out, name)
        m.save_pretrained(d, safe_serialization=True)
        with open(tok) as src, open(os.path.join(d, "tokenizer.json"), "w") as dst:
            dst.write(src.read())
        total = sum(p.numel() for n, p in m.named_parameters() if "embed" not in n and "lm_head" not in n)
        active = total
        if name == "mixtral":  # per token: 2 of the 8 experts
            expert = sum(p.numel() for n, p in m.named_parameters() if ".experts." in n)
            active = total - expert + expert * 2 // 8
        sizes[name] = {"block_params": total, "active_block_params": active}
    with open(os.path.join(a.out, "sizes.json"), "w") as fh:
        json.dump(sizes, fh, indent=1)
    print(json.dumps(sizes))


if __name__ == "__main__":
    main()
