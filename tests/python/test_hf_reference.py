#!/usr/bin/env python3
"""sqsim's float32 forward pass on the SmolLM2 GGUF against Hugging Face
transformers loading the same GGUF file (its own GGUF reader, dequantization
and Llama implementation): logits of one short window (64 tokens) must agree
within 1e-2 (max absolute) and have the same argmax on >= 99% of positions.
The long version (512-token window, WikiText-2 perplexity) is
scripts/hf-reference.py; its numbers are in results/hf-reference/.
Exits 77 (skipped) when torch/transformers/gguf/accelerate, the model or the
sqsim binary are absent.
"""
import os
import subprocess
import sys
import tempfile
import time

try:
    import accelerate  # noqa: F401  (transformers asks for it to load a GGUF)
    import gguf  # noqa: F401
    import torch
    from transformers import AutoModelForCausalLM
except ImportError as e:  # optional dependencies
    print(f"skipped: {e}")
    sys.exit(77)

SRC = os.environ.get("SQSIM_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.environ.get("SQSIM_BINARY", os.path.join(SRC, "build", "sqsim"))
GGUF = os.path.join(SRC, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
if not os.path.exists(GGUF) or not os.path.exists(BIN):
    print("skipped: SmolLM2 GGUF or sqsim binary absent")
    sys.exit(77)

TOKENS = 64
TEXT = (
    "The lighthouse keeper climbed the narrow stairs every evening at dusk, counting the 212 steps "
    "as his father had done before him. From the lamp room he could see the fishing boats returning "
    "to the harbour, their wakes drawing white lines across the grey water, and beyond them the "
    "dark shape of the island where, in 1887, a cargo ship carrying tea and porcelain had run aground "
    "during a winter storm. Nobody in the village remembered the names of the sailors any more."
)


def sqsim(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sqsim {' '.join(args)} failed: {r.stdout}{r.stderr}")
    return r.stdout


def main():
    torch.set_num_threads(2)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as td:
        txt = os.path.join(td, "text.txt")
        with open(txt, "w") as f:
            f.write(TEXT)
        ids = [int(x) for x in sqsim("tokenize", "--model", GGUF, "--text-file", txt, "--bos").split()]
        if len(ids) < TOKENS:
            raise SystemExit(f"the text gives only {len(ids)} tokens")
        ids = ids[:TOKENS]
        csv = os.path.join(td, "logits.csv")
        sqsim("logits", "--model", GGUF, "--tokens", ",".join(map(str, ids)), "--out", csv)
        with open(csv) as f:
            sq = torch.tensor([[float(x) for x in line.split(",")] for line in f if line.strip()])
    t1 = time.time()
    d, name = os.path.split(GGUF)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32).eval()
    with torch.no_grad():
        hf = model(torch.tensor([ids]), use_cache=False).logits[0].float()
    t2 = time.time()
    print(f"sqsim {t1 - t0:.1f} s, transformers {t2 - t1:.1f} s")

    failures = []
    if sq.shape != hf.shape:
        print(f"FAIL shapes differ: sqsim {tuple(sq.shape)} vs HF {tuple(hf.shape)}")
        return 1
    max_abs = (sq - hf).abs().max().item()
    agree = (sq.argmax(-1) == hf.argmax(-1)).double().mean().item()
    for ok, what in [(max_abs < 1e-2, f"max |logit difference| {max_abs:.3e} < 1e-2 over {TOKENS} positions"),
                     (agree >= 0.99, f"argmax agreement {agree:.4f} >= 0.99"),
                     (hf.abs().max().item() > 1.0, "HF logits are not degenerate (max |logit| > 1)")]:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)
    print(f"{3 - len(failures)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
