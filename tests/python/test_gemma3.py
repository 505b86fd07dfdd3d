#!/usr/bin/env python3
"""Cross-checks sqsim's Gemma 3 forward against transformers' Gemma3ForCausalLM.

Tiny random checkpoints are saved with save_pretrained in a temp dir (nothing
committed) and `sqsim logits` must match HF's float32 (eager attention) logits
within 1e-4 relative (|a - b| / (1 + |b|)):
  1. F32, untied head, 4 layers alternating sliding (window 5 < 40 tokens) and
     global, own RoPE bases, linear rope scaling on the global layers,
     query_pre_attn_scalar != head_dim, n_heads * head_dim != hidden, GQA,
     final-logit soft-capping;
  2. BF16, tied head, HF's default layer pattern (every 6th global), no capping,
     the model reloaded by from_pretrained (its dtype: the normalizer sqrt(48)
     rounded to bf16, as sqsim rounds it for a bfloat16 config);
  3. case 1 as a multimodal "gemma3" folder: text_config, tensors under
     model.language_model.;
  4. a GGUF written here as llama.cpp's convert_hf_to_gguf.py writes Gemma 3
     (norms + 1, Q/K rows not permuted, gemma3.* metadata), from a model
     whose settings the GGUF can carry (every 6th layer global, local base
     10000, query_pre_attn_scalar = head_dim, no capping).
Exits 77 (skipped) when torch/transformers/tokenizers/safetensors are absent.
"""
import json
import os
import sys
import tempfile

try:
    import numpy as np
    import torch
    import transformers
    from gguf import GGUFWriter
    from safetensors.numpy import load_file, save_file
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
except ImportError as e:  # optional dependencies
    print(f"skipped: {e}")
    sys.exit(77)

from sqsim_checks import BIN, SRC, check, failures, sqsim  # noqa: E402 (after the optional imports)


def byte_tokenizer(path):
    """256 byte-level tokens, no merges: only so the folder has a tokenizer.json."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tok = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.save(path)


def randomized(cfg, seed):
    torch.manual_seed(seed)
    m = transformers.Gemma3ForCausalLM(cfg).eval()
    with torch.no_grad():  # norms start at w = 0 (gain 1): make them matter
        for n, p in m.named_parameters():
            if "norm" in n:
                p.copy_(0.3 * torch.randn_like(p))
    return m


def compare_logits(model_dir, hf_model, ids, what, tol=1e-4):
    out = os.path.join(model_dir, "logits.csv")
    sqsim("logits", "--model", model_dir, "--tokens", ",".join(map(str, ids)), "--out", out)
    got = np.loadtxt(out, delimiter=",", ndmin=2)
    with torch.no_grad():
        want = hf_model(torch.tensor([ids])).logits[0].double().numpy()
    err = np.max(np.abs(got - want) / (1 + np.abs(want)))
    check(got.shape == want.shape and err < tol, f"{what}: logits shape {got.shape}, max rel err {err:.2e}")
    return want


GGUF_NAMES = {"input_layernorm": "attn_norm", "post_attention_layernorm": "post_attention_norm",
              "pre_feedforward_layernorm": "ffn_norm", "post_feedforward_layernorm": "post_ffw_norm",
              "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm", "self_attn.q_proj": "attn_q",
              "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output",
              "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}


def to_gguf(model, cfg, path):
    """The layout llama.cpp's converter writes for Gemma 3 (written here, F32)."""
    w = GGUFWriter(path, "gemma3")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_key_length(cfg.head_dim)
    w.add_value_length(cfg.head_dim)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(cfg.rope_parameters["full_attention"]["rope_theta"])
    w.add_sliding_window(cfg.sliding_window)
    w.add_tokenizer_model("gpt2")
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    w.add_token_list(alphabet + [f"<unused{i}>" for i in range(cfg.vocab_size - len(alphabet))])
    for name, p in model.state_dict().items():
        t = p.float().numpy().copy()
        if name.endswith("norm.weight"):
            t = t + 1.0  # the converter stores the gain 1 + w
        parts = name.split(".")
        if parts[1] == "layers":
            g = f"blk.{parts[2]}.{GGUF_NAMES['.'.join(parts[3:-1])]}.weight"
        else:
            g = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
                 "lm_head.weight": "output.weight"}[name]
        if g == "output.weight" and cfg.tie_word_embeddings:
            continue
        w.add_tensor(g, t)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tok = os.path.join(tmp, "tokenizer.json")
        byte_tokenizer(tok)
        ids = [int(x) for x in np.random.default_rng(1).integers(0, 300, 40)]

        # 1. everything Gemma 3 can configure, F32
        cfg = transformers.Gemma3TextConfig(
            vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=4, num_attention_heads=4,
            num_key_value_heads=2, head_dim=24, sliding_window=5, query_pre_attn_scalar=20,
            final_logit_softcapping=3.0, rope_local_base_freq=1000.0,
            rope_theta=50000.0, rope_scaling={"rope_type": "linear", "factor": 4.0},
            layer_types=["sliding_attention", "full_attention", "sliding_attention", "full_attention"],
            tie_word_embeddings=False, max_position_embeddings=128, attn_implementation="eager")
        m1 = randomized(cfg, 0)
        d1 = os.path.join(tmp, "g1")
        m1.save_pretrained(d1, safe_serialization=True)
        with open(os.path.join(d1, "config.json")) as fh:
            saved = json.load(fh)
        check(saved["rope_parameters"]["full_attention"].get("rope_type") == "linear",
              "config.json carries the linear rope scaling of the global layers")
        os.link(tok, os.path.join(d1, "tokenizer.json"))
        want1 = compare_logits(d1, m1, ids, "gemma3_text F32 (window, capping, linear rope)")
        # the window matters: without it (all layers global) HF's logits differ
        cfg_full = transformers.Gemma3TextConfig(**{**cfg.to_dict(), "layer_types": ["full_attention"] * 4})
        cfg_full._attn_implementation = "eager"
        m1f = transformers.Gemma3ForCausalLM(cfg_full).eval()
        m1f.load_state_dict(m1.state_dict())
        with torch.no_grad():
            full = m1f(torch.tensor([ids])).logits[0].double().numpy()
        check(np.max(np.abs(full - want1)) > 1e-3, "the sliding window changes the logits (the test can fail)")

        # 2. BF16 weights, tied head, default pattern, no capping
        cfg2 = transformers.Gemma3TextConfig(
            vocab_size=300, hidden_size=48, intermediate_size=80, num_hidden_layers=7, num_attention_heads=2,
            num_key_value_heads=1, head_dim=32, sliding_window=7, query_pre_attn_scalar=32,
            tie_word_embeddings=True, max_position_embeddings=128, attn_implementation="eager")
        m2 = randomized(cfg2, 1).to(torch.bfloat16)
        d2 = os.path.join(tmp, "g2")
        m2.save_pretrained(d2, safe_serialization=True)
        os.link(tok, os.path.join(d2, "tokenizer.json"))
        r2 = transformers.AutoModelForCausalLM.from_pretrained(d2, attn_implementation="eager").eval()
        check(r2.dtype == torch.bfloat16 and float(r2.model.embed_tokens.embed_scale) == 6.9375,
              f"from_pretrained keeps bf16 ({r2.dtype}) and the normalizer rounded to bf16 "
              f"({float(r2.model.embed_tokens.embed_scale)})")
        compare_logits(d2, r2.float().eval(), ids, "gemma3_text BF16 (tied, every 6th layer global)")

        # 3. case 1 as a multimodal checkpoint's language model
        d3 = os.path.join(tmp, "g3")
        os.makedirs(d3)
        w = load_file(os.path.join(d1, "model.safetensors"))
        w = {("model.language_model." + k[6:] if k.startswith("model.") else k): v for k, v in w.items()}
        save_file(w, os.path.join(d3, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(d3, "config.json"), "w") as fh:
            json.dump({"model_type": "gemma3", "architectures": ["Gemma3ForConditionalGeneration"],
                       "text_config": saved, "tie_word_embeddings": False}, fh)
        os.link(tok, os.path.join(d3, "tokenizer.json"))
        compare_logits(d3, m1, ids, "gemma3 (text_config, model.language_model.*)")

        # 4. GGUF
        cfg4 = transformers.Gemma3TextConfig(
            vocab_size=300, hidden_size=64, intermediate_size=96, num_hidden_layers=7, num_attention_heads=4,
            num_key_value_heads=1, head_dim=32, sliding_window=6, query_pre_attn_scalar=32, rope_theta=20000.0,
            tie_word_embeddings=True, max_position_embeddings=128, attn_implementation="eager")
        m4 = randomized(cfg4, 2)
        d4 = os.path.join(tmp, "g4")
        os.makedirs(d4)
        path = os.path.join(d4, "tiny-gemma3.gguf")
        to_gguf(m4, cfg4, path)
        out = os.path.join(d4, "logits.csv")
        sqsim("logits", "--model", path, "--tokens", ",".join(map(str, ids)), "--out", out)
        got = np.loadtxt(out, delimiter=",", ndmin=2)
        with torch.no_grad():
            want = m4(torch.tensor([ids])).logits[0].double().numpy()
        err = np.max(np.abs(got - want) / (1 + np.abs(want)))
        check(got.shape == want.shape and err < 1e-4, f"gemma3 GGUF (norms + 1, NEOX RoPE): max rel err {err:.2e}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
