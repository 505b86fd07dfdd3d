#!/usr/bin/env python3
"""Cross-checks sqsim's Hugging Face checkpoint support against transformers.

1. Tiny random LlamaForCausalLM and OPTForCausalLM are saved with
   save_pretrained (safetensors; F32, and BF16 for one of them); sqsim's logits
   (`sqsim logits`) must match the HF model's float32 logits.
2. The SmolLM2 GGUF is converted to a Hugging Face folder here (dequantized
   to F32, Q/K rows un-permuted back to HF order, config.json from the GGUF
   metadata); its logits must equal the GGUF's (rotate-half vs adjacent RoPE).
3. A tokenizer.json is built with the `tokenizers` library from the SmolLM2
   GGUF's vocabulary and merges; sqsim's ids (`sqsim tokenize`, from that
   tokenizer.json and from the GGUF) must equal HF's on WikiText-2 lines.
Exits 77 (skipped) when torch/transformers/tokenizers/gguf or the data are absent.
"""
import json
import os
import sys
import tempfile

try:
    import numpy as np
    import torch
    import transformers
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from gguf import GGUFReader
except ImportError as e:  # optional dependencies
    print(f"skipped: {e}")
    sys.exit(77)

from sqsim_checks import BIN, SRC, check, failures, sqsim  # noqa: E402 (after the optional imports)
GGUF = os.path.join(SRC, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
WIKI = os.path.join(SRC, "..", "shared", "data", "wikitext-2-raw", "wiki.test.raw")
if not os.path.exists(GGUF) or not os.path.exists(WIKI):
    print("skipped: SmolLM2 GGUF or WikiText-2 absent")
    sys.exit(77)



def gguf_tokenizer_json(path):
    """tokenizer.json equivalent to the GGUF's tokenizer, built with `tokenizers`."""
    r = GGUFReader(GGUF)

    def strings(key):
        f = r.fields[key]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]

    tokens = strings("tokenizer.ggml.tokens")
    merges = [tuple(m.split(" ", 1)) for m in strings("tokenizer.ggml.merges")]
    f = r.fields["tokenizer.ggml.token_type"]
    types = [int(f.parts[i][0]) for i in f.data]
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([t for t, ty in zip(tokens, types) if ty in (3, 4)])
    tok.save(path)
    return tok, len(tokens)


def gguf_to_hf_folder(d, tokenizer_json):
    """SmolLM2 GGUF -> HF llama folder (F32 safetensors), undoing llama.cpp's Q/K permutation."""
    from gguf.quants import dequantize
    from safetensors.numpy import save_file
    r = GGUFReader(GGUF)

    def meta(key):
        f = r.fields[key]
        return f.parts[f.data[0]][0].item()

    heads, kv = int(meta("llama.attention.head_count")), int(meta("llama.attention.head_count_kv"))
    names = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head",
             "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
             "ffn_down": "mlp.down_proj", "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm"}
    out = {}
    for t in r.tensors:
        parts = t.name.split(".")
        if parts[0] == "blk":
            hf = f"model.layers.{parts[1]}.{names[parts[2]]}.weight"
        else:
            hf = names[parts[0]] + ".weight"
        w = np.ascontiguousarray(dequantize(t.data, t.tensor_type).astype(np.float32))
        if parts[0] == "blk" and parts[2] in ("attn_q", "attn_k"):
            n = heads if parts[2] == "attn_q" else kv
            w = w.reshape(n, w.shape[0] // n // 2, 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape).copy()
        out[hf] = w
    os.makedirs(d)
    save_file(out, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"],
           "hidden_size": int(meta("llama.embedding_length")), "num_hidden_layers": int(meta("llama.block_count")),
           "num_attention_heads": heads, "num_key_value_heads": kv,
           "intermediate_size": int(meta("llama.feed_forward_length")),
           "vocab_size": out["model.embed_tokens.weight"].shape[0],
           "rms_norm_eps": float(meta("llama.attention.layer_norm_rms_epsilon")),
           "rope_theta": float(meta("llama.rope.freq_base")), "tie_word_embeddings": "lm_head.weight" not in out}
    with open(os.path.join(d, "config.json"), "w") as fh:
        json.dump(cfg, fh)
    with open(tokenizer_json) as src, open(os.path.join(d, "tokenizer.json"), "w") as dst:
        dst.write(src.read())


def compare_logits(model_dir, hf_model, ids, what, tol):
    out = os.path.join(model_dir, "logits.csv")
    sqsim("logits", "--model", model_dir, "--tokens", ",".join(map(str, ids)), "--out", out)
    got = np.loadtxt(out, delimiter=",", ndmin=2)
    with torch.no_grad():
        want = hf_model(torch.tensor([ids])).logits[0].double().numpy()
    err = np.max(np.abs(got - want) / (1 + np.abs(want)))
    check(got.shape == want.shape and err < tol, f"{what}: logits shape {got.shape}, max rel err {err:.2e}")


def main():
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        tok_path = os.path.join(tmp, "tokenizer.json")
        hf_tok, vocab = gguf_tokenizer_json(tok_path)

        # --- tokenizer: HF tokenizers vs sqsim (tokenizer.json and GGUF)
        with open(WIKI, encoding="utf-8") as fh:
            lines = [l.rstrip("\n") for l in fh][:400]
        lines = [l for l in lines if l.strip()]
        text = os.path.join(tmp, "lines.txt")
        with open(text, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        tok_dir = os.path.join(tmp, "llama")
        os.makedirs(tok_dir)

        # --- Llama (GQA, untied head, rope_theta from the config), F32
        cfg = transformers.LlamaConfig(
            vocab_size=vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
            rms_norm_eps=1e-5, rope_theta=5000.0, tie_word_embeddings=False)
        llama = transformers.LlamaForCausalLM(cfg).eval()
        with torch.no_grad():  # non-trivial norms
            for n, p in llama.named_parameters():
                if "norm" in n:
                    p.add_(0.1 * torch.randn_like(p))
        llama.save_pretrained(tok_dir, safe_serialization=True)
        os.replace(tok_path, os.path.join(tok_dir, "tokenizer.json"))
        ids_hf = [hf_tok.encode(l).ids for l in lines]
        got = [list(map(int, l.split())) for l in sqsim("tokenize", "--model", tok_dir, "--text-file", text,
                                                        "--lines").splitlines()]
        check(got == ids_hf, f"tokenizer.json ids equal HF tokenizers' on {len(lines)} WikiText-2 lines "
                             f"({sum(map(len, ids_hf))} tokens)")
        got_gguf = [list(map(int, l.split())) for l in sqsim("tokenize", "--model", GGUF, "--text-file", text,
                                                             "--lines").splitlines()]
        check(got_gguf == ids_hf, "GGUF tokenizer ids equal HF tokenizers' on the same lines")

        ids = ids_hf[1][:40]
        compare_logits(tok_dir, llama, ids, "llama F32", 1e-4)

        # --- OPT (tied head, learned positions), F32 and BF16
        ocfg = transformers.OPTConfig(
            vocab_size=vocab, hidden_size=64, ffn_dim=128, num_hidden_layers=2, num_attention_heads=4,
            max_position_embeddings=128, word_embed_proj_dim=64, do_layer_norm_before=True)
        opt = transformers.OPTForCausalLM(ocfg).eval()
        with torch.no_grad():
            for n, p in opt.named_parameters():
                if "norm" in n or "bias" in n:
                    p.add_(0.1 * torch.randn_like(p))
        for dtype in ("F32", "BF16"):
            d = os.path.join(tmp, "opt_" + dtype)
            m = opt if dtype == "F32" else opt.to(torch.bfloat16)
            m.save_pretrained(d, safe_serialization=True)
            with open(os.path.join(tok_dir, "tokenizer.json")) as src, \
                    open(os.path.join(d, "tokenizer.json"), "w") as dst:
                dst.write(src.read())
            ref = m.float().eval()  # the BF16 weights, computed in float32
            compare_logits(d, ref, ids, f"opt {dtype}", 1e-4)

        # --- the real SmolLM2 weights through both loaders
        conv = os.path.join(tmp, "smollm2_hf")
        gguf_to_hf_folder(conv, os.path.join(tok_dir, "tokenizer.json"))
        toks = ",".join(map(str, sum(ids_hf[:10], [])[:48]))
        a, b = os.path.join(tmp, "gguf.csv"), os.path.join(tmp, "hf.csv")
        sqsim("logits", "--model", GGUF, "--tokens", toks, "--out", a)
        sqsim("logits", "--model", conv, "--tokens", toks, "--out", b)
        la, lb = np.loadtxt(a, delimiter=",", ndmin=2), np.loadtxt(b, delimiter=",", ndmin=2)
        err = np.max(np.abs(la - lb) / (1 + np.abs(la)))
        check(la.shape == lb.shape and err < 1e-4,
              f"SmolLM2: GGUF (adjacent RoPE) vs converted HF folder (rotate-half RoPE) logits {la.shape}, "
              f"max rel err {err:.2e}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print(f"all checks passed (transformers {transformers.__version__}, torch {torch.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
