#!/usr/bin/env python3
"""sqsim's attention BMM schemes against mit-han-lab/smoothquant's own code.

Runs the reference's `smooth_lm` and `quantize_llama_like` (fake quantization:
per-channel int8 weights, per-token int8 activations, and with
quantize_bmm_input=True the q/k/v projection outputs quantized per token) on
SmolLM2-135M in transformers (float32, CPU, loaded from the same GGUF), with
sqsim's tokens:
  * calibration: the windows `sqsim tokenize --calib-windows` prints (the ones
    `sqsim ppl` calibrates on), activation scales = per-channel max |x| of every
    nn.Linear input over them (what the reference's get_act_scales records);
  * evaluation: the first --windows x --seq-len tokens of the text as
    `sqsim tokenize --bos` encodes it; ppl = exp(mean over windows of the mean
    NLL of positions 1..L-1), log-softmax in float64 (as sqsim ppl).
Then runs `sqsim ppl` with --bmm off and --bmm mit-fake on the same settings and
writes both into --out as JSON.

The reference is not part of sqsim: fetch it yourself and pass its folder,
  git clone https://github.com/mit-han-lab/smoothquant /tmp/smoothquant-ref
  .venv/bin/python scripts/smoothquant-reference.py --smoothquant /tmp/smoothquant-ref
Needs torch, transformers, gguf, accelerate (scripts/install-python-refs.sh).
"""
import argparse
import copy
import functools
import json
import math
import os
import platform
import subprocess
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def log(msg):
    print(f"[smoothquant-reference {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def ids_lines(text):
    return [[int(t) for t in line.split()] for line in text.splitlines() if line.strip()]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


@torch.no_grad()
def act_scales(model, windows):
    """Per input channel max |x| of every nn.Linear over all calibration tokens."""
    scales = {}

    def hook(m, x, y, name):
        x = x[0] if isinstance(x, tuple) else x
        cur = x.reshape(-1, x.shape[-1]).abs().max(dim=0)[0].float()
        scales[name] = torch.maximum(scales[name], cur) if name in scales else cur

    hooks = [m.register_forward_hook(functools.partial(hook, name=n))
             for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    for w in windows:
        model(torch.tensor([w], dtype=torch.long), use_cache=False)
    for h in hooks:
        h.remove()
    return scales


@torch.no_grad()
def perplexity(model, ids, seq_len, windows):
    nlls = []
    for i in range(windows):
        w = ids[i * seq_len:(i + 1) * seq_len]
        logits = model(torch.tensor([w], dtype=torch.long), use_cache=False).logits[0]
        lp = torch.log_softmax(logits[:-1].double(), dim=-1)
        nlls.append(-lp.gather(1, torch.tensor(w[1:])[:, None]).mean().item())
    return math.exp(sum(nlls) / len(nlls))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoothquant", required=True, help="folder of a mit-han-lab/smoothquant checkout")
    p.add_argument("--model", default=os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--text", default=os.path.join(ROOT, "..", "shared", "data", "wikitext-2-raw", "wiki.test.raw"))
    p.add_argument("--calib-text", default=os.path.join(ROOT, "..", "shared", "data", "ptb", "ptb.valid.txt"))
    p.add_argument("--calib-samples", type=int, default=32)
    p.add_argument("--calib-seq-len", type=int, default=512)
    p.add_argument("--holdout-tokens", type=int, default=16384)
    p.add_argument("--alpha", type=float, default=0.85)
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--windows", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--attn", default="eager", help="transformers attention implementation (eager, sdpa)")
    p.add_argument("--sqsim", default=os.environ.get("SQSIM_BINARY", os.path.join(ROOT, "build", "sqsim")))
    p.add_argument("--skip-sqsim", action="store_true", help="only the reference")
    p.add_argument("--out", default=os.path.join(ROOT, "results", "bmm-schemes", "reference.json"))
    a = p.parse_args()
    sys.path.insert(0, os.path.abspath(a.smoothquant))
    from smoothquant.fake_quant import quantize_llama_like
    from smoothquant.smooth import smooth_lm
    torch.set_num_threads(a.threads)

    ids = ids_lines(run([a.sqsim, "tokenize", "--bos", "--model", a.model, "--text-file", a.text]))[0]
    ids = ids[:a.windows * a.seq_len]
    calib = ids_lines(run([a.sqsim, "tokenize", "--calib-windows", "--model", a.model, "--text-file", a.calib_text,
                           "--calib-samples", str(a.calib_samples), "--calib-seq-len", str(a.calib_seq_len),
                           "--holdout-tokens", str(a.holdout_tokens)]))
    log(f"{len(ids)} evaluation tokens, {len(calib)} calibration windows of {len(calib[0])}")

    d, name = os.path.split(os.path.abspath(a.model))
    base = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32, attn_implementation=a.attn)
    base.eval()
    t0 = time.time()
    scales = act_scales(base, calib)
    log(f"activation scales of {len(scales)} layers, {time.time() - t0:.0f} s")

    result = {"cpu": cpu_model(), "torch": torch.__version__, "transformers": transformers.__version__,
              "attn_implementation": a.attn, "alpha": a.alpha, "tokens": len(ids), "seq_len": a.seq_len,
              "calibration": f"{a.calib_samples} x {a.calib_seq_len} of {os.path.basename(a.calib_text)}, "
                             f"holdout {a.holdout_tokens} (sqsim tokenize --calib-windows)",
              "reference": {}, "sqsim": {}}
    for bmm in (False, True):
        model = copy.deepcopy(base)
        smooth_lm(model, scales, a.alpha)
        quantize_llama_like(model, weight_quant="per_channel", act_quant="per_token", quantize_bmm_input=bmm)
        t0 = time.time()
        ppl = perplexity(model, ids, a.seq_len, a.windows)
        key = "quantize_bmm_input=" + str(bmm)
        result["reference"][key] = ppl
        log(f"reference {key}: ppl {ppl:.6f} ({time.time() - t0:.0f} s)")
        del model

    if not a.skip_sqsim:
        for scheme in ("off", "mit-fake"):
            cmd = [a.sqsim, "ppl", "--model", a.model, "--text", a.text, "--quant", "sq-w8a8-pc", "--alpha",
                   str(a.alpha), "--bmm", scheme, "--max-tokens", str(len(ids)), "--seq-len", str(a.seq_len),
                   "--calib-text", a.calib_text, "--calib-samples", str(a.calib_samples), "--calib-seq-len",
                   str(a.calib_seq_len), "--holdout-tokens", str(a.holdout_tokens), "--threads", str(a.threads),
                   "--json"]
            r = json.loads(run(cmd).strip().splitlines()[-1])
            result["sqsim"]["--bmm " + scheme] = r["ppl"]
            log(f"sqsim --bmm {scheme}: ppl {r['ppl']:.6f}")
        for ref_key, sq_key in (("quantize_bmm_input=False", "--bmm off"), ("quantize_bmm_input=True", "--bmm mit-fake")):
            result.setdefault("relative_difference", {})[sq_key] = \
                result["sqsim"][sq_key] / result["reference"][ref_key] - 1
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    log(f"wrote {a.out}")


if __name__ == "__main__":
    main()
