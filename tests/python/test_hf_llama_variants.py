#!/usr/bin/env python3
"""Cross-checks sqsim's Llama-like families against transformers.

Tiny random MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM and
Phi3ForCausalLM (and Llama/Qwen2 with each RoPE scaling variant) are made
from small configs and saved with save_pretrained (F32 safetensors) in a
temporary folder, beside a byte-level tokenizer.json; sqsim's logits
(`sqsim logits`) must equal the HF model's float32 logits within 1e-4
relative. The windows, RoPE lengths and factors are chosen so that every
variant changes the logits (a sliding window shorter than the tokens, a
dynamic/longrope sequence past the original context).
Exits 77 (skipped) when torch/transformers/tokenizers are absent.
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
except ImportError as e:  # optional dependencies
    print(f"skipped: {e}")
    sys.exit(77)

SRC = os.environ.get("SQSIM_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
BIN = os.environ.get("SQSIM_BINARY", os.path.join(SRC, "build", "sqsim"))
VOCAB = 272
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def sqsim(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sqsim {' '.join(args)} failed: {r.stdout}{r.stderr}")
    return r.stdout


def byte_tokenizer(path):
    """A byte-level BPE tokenizer.json of the 256 byte tokens (no merges)."""
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(sorted(alphabet))}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.save(path)


COMMON = dict(vocab_size=VOCAB, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, rms_norm_eps=1e-5,
              pad_token_id=0, bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)


def cases():
    """(name, model class, config) for each family and each RoPE variant."""
    T = transformers
    long_factors = [1.0 + 0.5 * i for i in range(8)]
    short_factors = [1.0 + 0.1 * i for i in range(8)]
    return [
        ("mistral sliding_window 5", T.MistralForCausalLM, T.MistralConfig(**COMMON, sliding_window=5)),
        ("mistral no window, head_dim 32", T.MistralForCausalLM,
         T.MistralConfig(**COMMON, sliding_window=None, head_dim=32)),
        ("qwen2 q/k/v biases, tied", T.Qwen2ForCausalLM, T.Qwen2Config(**{**COMMON, "tie_word_embeddings": True})),
        ("qwen2 sliding window from layer 1", T.Qwen2ForCausalLM,
         T.Qwen2Config(**COMMON, use_sliding_window=True, sliding_window=4, max_window_layers=1)),
        ("qwen3 q/k norm, head_dim 24", T.Qwen3ForCausalLM, T.Qwen3Config(**COMMON, head_dim=24)),
        ("phi3 fused qkv/gate_up", T.Phi3ForCausalLM, T.Phi3Config(**COMMON)),
        ("phi3 sliding window 6", T.Phi3ForCausalLM, T.Phi3Config(**COMMON, sliding_window=6)),
        ("phi3 longrope (long factors: 20 > 16 positions)", T.Phi3ForCausalLM,
         T.Phi3Config(**COMMON, original_max_position_embeddings=16,
                      rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                                       "short_factor": short_factors, "long_factor": long_factors})),
        ("phi3 longrope (short factors)", T.Phi3ForCausalLM,
         T.Phi3Config(**COMMON, original_max_position_embeddings=32,
                      rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                                       "short_factor": short_factors, "long_factor": long_factors})),
        ("llama rope linear", T.LlamaForCausalLM,
         T.LlamaConfig(**COMMON, rope_parameters={"rope_type": "linear", "factor": 2.5, "rope_theta": 10000.0})),
        ("llama rope dynamic (20 > 8 positions)", T.LlamaForCausalLM,
         T.LlamaConfig(**{**COMMON, "max_position_embeddings": 8},
                       rope_parameters={"rope_type": "dynamic", "factor": 3.0, "rope_theta": 10000.0})),
        ("llama rope llama3", T.LlamaForCausalLM,
         T.LlamaConfig(**COMMON, rope_parameters={"rope_type": "llama3", "factor": 8.0, "rope_theta": 10000.0,
                                                  "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                  "original_max_position_embeddings": 48})),
        ("qwen2 rope yarn", T.Qwen2ForCausalLM,
         T.Qwen2Config(**COMMON, rope_parameters={"rope_type": "yarn", "factor": 4.0, "rope_theta": 10000.0,
                                                  "original_max_position_embeddings": 32})),
        ("qwen3 rope yarn, attention_factor given", T.Qwen3ForCausalLM,
         T.Qwen3Config(**COMMON, head_dim=16,
                       rope_parameters={"rope_type": "yarn", "factor": 2.0, "rope_theta": 1000.0,
                                        "original_max_position_embeddings": 16, "attention_factor": 1.3})),
    ]


def without_variant(config):
    """config.json with the sliding window and the RoPE scaling turned off: None when it has neither."""
    off = dict(config)
    if off.get("sliding_window") is not None:
        off["sliding_window"] = None
        off["use_sliding_window"] = False
    rope = off.get("rope_parameters") or {}
    if rope.get("rope_type", "default") != "default":
        off["rope_parameters"] = {"rope_type": "default", "rope_theta": rope["rope_theta"]}
    return None if off == config else off


def main():
    torch.manual_seed(0)
    ids = [int(i) for i in torch.randint(3, 256, (20,))]
    with tempfile.TemporaryDirectory() as tmp:
        tok = os.path.join(tmp, "tokenizer.json")
        byte_tokenizer(tok)
        for n, (name, cls, cfg) in enumerate(cases()):
            cfg._attn_implementation = "eager"
            model = cls(cfg).eval()
            with torch.no_grad():  # non-trivial norms and biases
                for pn, p in model.named_parameters():
                    if "norm" in pn or "bias" in pn:
                        p.add_(0.2 * torch.randn_like(p))
            d = os.path.join(tmp, f"m{n}")
            model.save_pretrained(d, safe_serialization=True)
            with open(tok) as src, open(os.path.join(d, "tokenizer.json"), "w") as dst:
                dst.write(src.read())
            out = os.path.join(d, "logits.csv")
            sqsim("logits", "--model", d, "--tokens", ",".join(map(str, ids)), "--out", out)
            got = np.loadtxt(out, delimiter=",", ndmin=2)
            with torch.no_grad():
                want = model(torch.tensor([ids])).logits[0].double().numpy()
            err = np.max(np.abs(got - want) / (1 + np.abs(want))) if got.shape == want.shape else float("inf")
            check(err < 1e-4, f"{name}: logits {got.shape}, max rel err {err:.2e}")
            # the variant matters: sqsim's logits without it differ
            with open(os.path.join(d, "config.json")) as fh:
                off = without_variant(json.load(fh))
            if off is not None:
                with open(os.path.join(d, "config.json"), "w") as fh:
                    json.dump(off, fh)
                sqsim("logits", "--model", d, "--tokens", ",".join(map(str, ids)), "--out", out)
                plain = np.loadtxt(out, delimiter=",", ndmin=2)
                diff = np.max(np.abs(plain - want) / (1 + np.abs(want)))
                check(diff > 1e-3, f"{name}: without the variant the logits differ by {diff:.2e}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print(f"all checks passed (transformers {transformers.__version__}, torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
