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
Five of them are also written as GGUF files as llama.cpp's converter lays
them out (the `gguf` package's writer and tensor-name map; Mistral as arch
"llama" with its Q/K rows permuted) and must give the same logits.
Exits 77 (skipped) when torch/transformers/tokenizers/gguf are absent.
"""
import json
import math
import os
import sys
import tempfile

try:
    import numpy as np
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    import gguf  # noqa: F401  (write_gguf)
except ImportError as e:  # optional dependencies
    print(f"skipped: {e}")
    sys.exit(77)

from sqsim_checks import BIN, SRC, check, failures, sqsim  # noqa: E402 (after the optional imports)
VOCAB = 272


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


# The cases also written as GGUF, with the architecture llama.cpp's
# convert_hf_to_gguf.py gives them (Mistral: "llama", Q/K rows permuted).
GGUF_ARCH = {"mistral no window, head_dim 32": "llama", "qwen2 q/k/v biases, tied": "qwen2",
             "qwen3 q/k norm, head_dim 24": "qwen3", "phi3 fused qkv/gate_up": "phi3",
             "phi3 sliding window 6": "phi3", "phi3 longrope (long factors: 20 > 16 positions)": "phi3",
             "phi3 longrope (short factors)": "phi3"}


def interleave_rows(w, heads):
    """llama.cpp's Q/K row order for "llama": each head's halves interleaved (adjacent-pair RoPE)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_gguf(path, model, arch):
    """The model as a GGUF file: metadata keys and tensor names as the converter writes them
    (names from the gguf package's tensor map, the one the converter uses)."""
    import gguf
    cfg = model.config
    w = gguf.GGUFWriter(path, arch)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    w.add_vocab_size(cfg.vocab_size)
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    if head_dim != cfg.hidden_size // cfg.num_attention_heads:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_rope_dimension_count(head_dim)
    if arch == "phi3":
        w.add_rope_scaling_orig_ctx_len(cfg.rope_parameters.get("original_max_position_embeddings",
                                                                cfg.max_position_embeddings))
        w.add_sliding_window(cfg.sliding_window or 0)
        rope = cfg.rope_parameters
        if rope.get("long_factor"):  # longrope: factors as tensors, the attention factor as a key
            orig = rope["original_max_position_embeddings"]
            scale = cfg.max_position_embeddings / orig
            w.add_rope_scaling_attn_factors(math.sqrt(1 + math.log(scale) / math.log(orig)) if scale > 1 else 1.0)
            for key, factors in ((gguf.MODEL_TENSOR.ROPE_FACTORS_LONG, rope["long_factor"]),
                                 (gguf.MODEL_TENSOR.ROPE_FACTORS_SHORT, rope["short_factor"])):
                w.add_tensor(gguf.TENSOR_NAMES[key] + ".weight", np.array(factors, dtype=np.float32))
    w.add_tokenizer_model("gpt2")
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    w.add_token_list(alphabet)
    w.add_token_types([1] * len(alphabet))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], cfg.num_hidden_layers)
    for name, t in model.state_dict().items():
        if name == "lm_head.weight" and cfg.tie_word_embeddings:
            continue
        data = t.detach().float().numpy().copy()
        if arch == "llama" and name.endswith(("q_proj.weight", "k_proj.weight")):
            data = interleave_rows(data, cfg.num_attention_heads if "q_proj" in name
                                   else cfg.num_key_value_heads).copy()
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise SystemExit(f"no GGUF name for {name}")
        w.add_tensor(new, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


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
            if name in GGUF_ARCH:
                g = os.path.join(tmp, f"m{n}.gguf")
                write_gguf(g, model, GGUF_ARCH[name])
                sqsim("logits", "--model", g, "--tokens", ",".join(map(str, ids)), "--out", out)
                got = np.loadtxt(out, delimiter=",", ndmin=2)
                err = np.max(np.abs(got - want) / (1 + np.abs(want))) if got.shape == want.shape else float("inf")
                check(err < 1e-4, f"{name}: GGUF ({GGUF_ARCH[name]}) logits {got.shape}, max rel err {err:.2e}")
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
