#!/usr/bin/env python3
"""Writes a Llama-2-7B-shaped Hugging Face checkpoint with random bf16 weights
(issue 21, "Memory"; docs/memory.md): config.json with Llama-2-7B's config,
model-000NN-of-000MM.safetensors shards (one per transformer block, one for the
embeddings, one for the final norm and the LM head: 13.5 GB in all) with
model.safetensors.index.json, and a byte-level tokenizer.json (256 byte tokens,
no merges: ids 0..255, within Llama-2's vocabulary of 32000) that sqsim's HF
loader reads. Not Llama-2's weights nor its tokenizer: a model of its shape,
for memory and speed.

Each tensor is written in chunks of 32 MiB taken in turn from a pool of 8
random chunks drawn once (the tensors are not independent draws, which matters
neither for memory nor for speed, and writing stays I/O-bound on a loaded
machine), so the script needs about 300 MB whatever the model size. numpy only.

  python3 scripts/make-llama2-7b-shaped.py /tmp/llama7b [--seed 0] [--layers 32]

Weights: bf16 words with a random sign and mantissa and |w| in [2^-7, 2^-5)
(mean |w| about 0.017, close to Llama's init std 0.02); norms are 1.0.
"""
import argparse
import json
import os
import shutil
import struct
import sys

import numpy as np

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 11008,
    "num_attention_heads": 32,
    "num_hidden_layers": 32,
    "num_key_value_heads": 32,
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-05,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "vocab_size": 32000,
    "tie_word_embeddings": False,
    "hidden_act": "silu",
    "attention_bias": False,
    "mlp_bias": False,
    "pretraining_tp": 1,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "bfloat16",
}

CHUNK = 1 << 24  # elements written at a time (32 MiB of bf16)
POOL = 8
ONE_BF16 = 0x3F80


def random_words(rng, n):
    """n bf16 words: random sign, mantissa and lowest exponent bit, exponent 120 or 121."""
    r = np.frombuffer(rng.bytes(2 * n), dtype="<u2")
    return (r & np.uint16(0x80FF)) | np.uint16(120 << 7)


def block_tensors(l, c):
    h, f = c["hidden_size"], c["intermediate_size"]
    kv = c["num_key_value_heads"] * (h // c["num_attention_heads"])
    p = f"model.layers.{l}."
    return [
        (p + "input_layernorm.weight", [h], "one"),
        (p + "self_attn.q_proj.weight", [h, h], "rand"),
        (p + "self_attn.k_proj.weight", [kv, h], "rand"),
        (p + "self_attn.v_proj.weight", [kv, h], "rand"),
        (p + "self_attn.o_proj.weight", [h, h], "rand"),
        (p + "post_attention_layernorm.weight", [h], "one"),
        (p + "mlp.gate_proj.weight", [f, h], "rand"),
        (p + "mlp.up_proj.weight", [f, h], "rand"),
        (p + "mlp.down_proj.weight", [h, f], "rand"),
    ]


class Pool:
    """POOL chunks of CHUNK random words, handed out in turn."""

    def __init__(self, rng):
        self.chunks = [random_words(rng, CHUNK) for _ in range(POOL)]
        self.next = 0

    def take(self, m):
        c = self.chunks[self.next % POOL]
        self.next += 1
        return c[:m]


def write_shard(path, tensors, pool):
    """tensors: (name, shape, 'one'|'rand'); the header first, then the data chunk by chunk."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in tensors:
        n = int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + 2 * n]}
        offset += 2 * n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)  # the data region starts 8-aligned
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text)
        for name, shape, kind in tensors:
            n = int(np.prod(shape))
            for start in range(0, n, CHUNK):
                m = min(CHUNK, n - start)
                words = np.full(m, ONE_BF16, dtype="<u2") if kind == "one" else pool.take(m)
                out.write(words.tobytes())
    return offset


def byte_char(b):
    """GPT-2's byte -> printable code point table."""
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    if b in printable:
        return chr(b)
    return chr(256 + [c for c in range(256) if c not in printable].index(b))


def tokenizer_json():
    vocab = {byte_char(b): b for b in range(256)}
    return {
        "version": "1.0",
        "added_tokens": [],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab, "merges": []},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", help="folder to write (created; must be empty or absent)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=32, help="transformer blocks (32: Llama-2-7B; fewer for a quick try)")
    a = ap.parse_args()
    if a.layers < 1:
        sys.exit(f"--layers {a.layers}: expected a positive number of blocks")
    if os.path.exists(a.out) and os.listdir(a.out):
        sys.exit(f"{a.out}: exists and is not empty (expected an empty or absent folder)")
    c = dict(CONFIG, num_hidden_layers=a.layers)
    h, v = c["hidden_size"], c["vocab_size"]
    shards = [[("model.embed_tokens.weight", [v, h], "rand")]]
    shards += [block_tensors(l, c) for l in range(a.layers)]
    shards += [[("model.norm.weight", [h], "one"), ("lm_head.weight", [v, h], "rand")]]
    need = sum(2 * int(np.prod(s)) for shard in shards for _, s, _ in shard)
    os.makedirs(a.out, exist_ok=True)
    free = shutil.disk_usage(a.out).free
    if need > free:
        sys.exit(f"{a.out}: {need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free")
    pool = Pool(np.random.default_rng(a.seed))
    weight_map, total = {}, 0
    for i, tensors in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        total += write_shard(os.path.join(a.out, file), tensors, pool)
        for name, _, _ in tensors:
            weight_map[name] = file
        print(f"{file}: {len(tensors)} tensors, {total / 1e9:.2f} GB so far", file=sys.stderr)
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(c, f, indent=1)
    with open(os.path.join(a.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(), f, ensure_ascii=False)
    print(f"{a.out}: {total / 1e9:.2f} GB of bf16 weights, {a.layers} blocks", file=sys.stderr)


if __name__ == "__main__":
    main()
