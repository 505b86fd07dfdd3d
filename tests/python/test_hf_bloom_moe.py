#!/usr/bin/env python3
"""Cross-checks sqsim's BLOOM and Mixtral-style MoE against transformers.

Tiny random BloomForCausalLM models (6 heads: ALiBi's slopes for a head count
that is not a power of two) are saved with save_pretrained (safetensors, F32
and BF16), with a byte-level tokenizer.json; `sqsim logits` must match the HF
model's float32 logits within 1e-4 (relative to 1 + |logit|). A tiny
MixtralForCausalLM (4 experts, top 2) likewise; its folder is what
transformers 5 writes (per-expert w1/w2/w3 tensors), which is checked too.
Exits 77 (skipped) when torch/transformers/tokenizers are absent.
"""
import os
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

from sqsim_checks import BIN, SRC, check, failures, sqsim  # noqa: E402 (after the optional imports)


def byte_tokenizer(path):
    """256 byte tokens, no merges: enough for sqsim to load the folder."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    vocab = {chr(c): b for b, c in zip(bs, cs)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.save(path)


def compare_logits(model_dir, hf_model, ids, what, tol=1e-4):
    out = os.path.join(model_dir, "logits.csv")
    sqsim("logits", "--model", model_dir, "--tokens", ",".join(map(str, ids)), "--out", out)
    got = np.loadtxt(out, delimiter=",", ndmin=2)
    with torch.no_grad():
        want = hf_model(torch.tensor([ids])).logits[0].double().numpy()
    err = np.max(np.abs(got - want) / (1 + np.abs(want)))
    check(got.shape == want.shape and err < tol, f"{what}: logits shape {got.shape}, max rel err {err:.2e}")


def perturb(model):
    """Non-trivial norms and biases (HF initialises them to 1 and 0)."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n or "bias" in n:
                p.add_(0.1 * torch.randn_like(p))


def save(model, d, tok):
    model.save_pretrained(d, safe_serialization=True)
    with open(tok) as src, open(os.path.join(d, "tokenizer.json"), "w") as dst:
        dst.write(src.read())


def main():
    torch.manual_seed(0)
    ids = [int(i) for i in torch.randint(0, 300, (40,))]
    with tempfile.TemporaryDirectory() as tmp:
        tok = os.path.join(tmp, "tokenizer.json")
        byte_tokenizer(tok)

        # --- BLOOM: ALiBi with 6 heads, fused per-head qkv, embedding LayerNorm, tied head; F32 and BF16
        cfg = transformers.BloomConfig(vocab_size=300, hidden_size=48, n_layer=2, n_head=6, layer_norm_epsilon=1e-5)
        bloom = transformers.BloomForCausalLM(cfg).eval()
        with torch.no_grad():  # weights of a trained model's size, so that attention is not uniform
            for n, p in bloom.named_parameters():
                if p.dim() == 2:
                    p.normal_(0.0, 0.3 if "word_embeddings" not in n else 1.0)
        perturb(bloom)
        for dtype in ("F32", "BF16"):
            d = os.path.join(tmp, "bloom_" + dtype)
            m = bloom if dtype == "F32" else bloom.to(torch.bfloat16)
            save(m, d, tok)
            compare_logits(d, m.float().eval(), ids, f"bloom {dtype}")

        # --- Mixtral: 4 experts, top 2, GQA; saved by transformers 5 (experts fused in memory,
        # written per expert as block_sparse_moe.experts.E.w1/w2/w3)
        mcfg = transformers.MixtralConfig(
            vocab_size=300, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, max_position_embeddings=128,
            rms_norm_eps=1e-5, tie_word_embeddings=False)
        mix = transformers.MixtralForCausalLM(mcfg).eval()
        with torch.no_grad():  # routers far from uniform, so no two experts are near a tie
            for n, p in mix.named_parameters():
                if p.dim() >= 2:
                    p.normal_(0.0, 0.5 if "gate" in n and "experts" not in n else 0.2)
        perturb(mix)
        d = os.path.join(tmp, "mixtral")
        save(mix, d, tok)
        from safetensors import safe_open
        with safe_open(os.path.join(d, "model.safetensors"), "pt") as f:
            names = list(f.keys())
        check("model.layers.0.block_sparse_moe.experts.3.w2.weight" in names,
              f"save_pretrained writes per-expert tensors ({len(names)} tensors)")
        compare_logits(d, mix, ids, "mixtral F32")

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print(f"all checks passed (transformers {transformers.__version__}, torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
