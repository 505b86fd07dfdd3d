#!/usr/bin/env python3
"""sqsim against an independent implementation: Hugging Face transformers
(torch, CPU, float32) loading the same GGUF file.

1. Tokenizes the text (CRLF -> LF) with the tokenizer transformers builds from
   the GGUF and with `sqsim tokenize --bos`; reports whether the ids agree and
   uses sqsim's ids for everything below when they do not.
2. Logits of the first --logits-window tokens: HF vs `sqsim logits` (max
   absolute and relative difference, argmax agreement).
3. Perplexity on the first --windows windows of --seq-len tokens: HF
   (log-softmax in float64, ppl = exp(mean over windows of the mean NLL of
   positions 1..L-1)) vs `sqsim ppl --json` on the same tokens.
Prints both and writes <out>/results.json.

Needs torch, transformers and gguf (transformers' GGUF loader; its
from_pretrained(gguf_file=...) also asks for accelerate).

  python3 scripts/hf-reference.py            # defaults below, from the repo root
"""
import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def log(msg):
    print(f"[hf-reference {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def read_text(path):
    """As sqsim's read_text_file: drop every CR that is followed by LF."""
    with open(path, "rb") as f:
        raw = f.read()
    return raw.replace(b"\r\n", b"\n").decode("utf-8")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout


def read_logits_csv(path):
    rows = []
    with open(path) as f:
        for line in f:
            rows.append(torch.tensor([float(x) for x in line.rstrip("\n").split(",")], dtype=torch.float32))
    return torch.stack(rows)


def load_hf(model_path):
    d, name = os.path.split(os.path.abspath(model_path))
    tok = AutoTokenizer.from_pretrained(d, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
    model.eval()
    return tok, model


def describe_model(model):
    linears = {}
    for n, m in model.named_modules():
        if hasattr(m, "weight") and isinstance(getattr(m, "weight"), torch.Tensor) and m.weight.dim() == 2:
            linears[type(m).__name__ + "/" + str(m.weight.dtype)] = linears.get(
                type(m).__name__ + "/" + str(m.weight.dtype), 0) + 1
    cfg = model.config
    return {
        "class": type(model).__name__,
        "weight_modules": linears,
        "tie_word_embeddings": bool(getattr(cfg, "tie_word_embeddings", False)),
        "lm_head_shares_embedding": model.lm_head.weight.data_ptr() == model.get_input_embeddings().weight.data_ptr(),
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope": getattr(cfg, "rope_parameters", None) or getattr(cfg, "rope_theta", None),
        "attn_implementation": getattr(cfg, "_attn_implementation", None),
    }


def hf_logits(model, ids):
    with torch.no_grad():
        return model(torch.tensor([ids], dtype=torch.long), use_cache=False).logits[0].float()


def mean_nll(logits, ids, chunk=256):
    """Mean NLL of ids[1..L-1] from logits rows 0..L-2, log-softmax in float64."""
    L = len(ids)
    target = torch.tensor(ids[1:], dtype=torch.long)
    total = 0.0
    for s in range(0, L - 1, chunk):
        e = min(L - 1, s + chunk)
        lp = torch.log_softmax(logits[s:e].double(), dim=-1)
        total += -lp.gather(1, target[s:e, None]).sum().item()
    return total / (L - 1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--text", default=os.path.join(ROOT, "..", "shared", "data", "wikitext-2-raw", "wiki.test.raw"))
    p.add_argument("--sqsim", default=os.environ.get("SQSIM_BINARY", os.path.join(ROOT, "build", "sqsim")))
    p.add_argument("--out", default=os.path.join(ROOT, "results", "hf-reference"))
    p.add_argument("--threads", type=int, default=2, help="torch threads and sqsim --threads")
    p.add_argument("--logits-window", type=int, default=512)
    p.add_argument("--seq-len", type=int, default=2048)
    p.add_argument("--windows", type=int, default=16)
    p.add_argument("--sqsim-ppl-json", metavar="FILE",
                   help="take sqsim's perplexity from FILE (the saved output of the `sqsim ppl ... --json` "
                        "command this script would run) instead of running it")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    t_start = time.time()
    res = {
        "command": "python3 " + " ".join([os.path.relpath(__file__, ROOT)] + sys.argv[1:]),
        "model": os.path.basename(a.model),
        "text": os.path.relpath(os.path.abspath(a.text), ROOT),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()},
    }
    try:
        with open("/proc/cpuinfo") as f:
            res["machine"]["cpu"] = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        res["sqsim_commit"] = run(["git", "-C", ROOT, "rev-parse", "HEAD"]).strip()
    except SystemExit:
        pass

    # ---- tokens
    log("loading the GGUF with transformers")
    t = time.time()
    tok, model = load_hf(a.model)
    res["hf_load_seconds"] = round(time.time() - t, 1)
    res["hf_model"] = describe_model(model)
    log(f"loaded in {res['hf_load_seconds']} s: {res['hf_model']}")

    text = read_text(a.text)
    hf_ids = tok(text)["input_ids"]  # the tokenizer's defaults (BOS only if it adds one)
    sq_ids = [int(x) for x in run([a.sqsim, "tokenize", "--model", a.model, "--text-file", a.text, "--bos"]).split()]
    first_diff = next((i for i, (x, y) in enumerate(zip(hf_ids, sq_ids)) if x != y),
                      None if len(hf_ids) == len(sq_ids) else min(len(hf_ids), len(sq_ids)))
    res["tokens"] = {"hf": len(hf_ids), "sqsim": len(sq_ids), "identical": first_diff is None,
                     "first_difference": first_diff, "used": "sqsim"}
    if first_diff is not None:
        res["tokens"]["context"] = {"hf": hf_ids[max(0, first_diff - 3):first_diff + 5],
                                    "sqsim": sq_ids[max(0, first_diff - 3):first_diff + 5]}
    ids = sq_ids
    log(f"tokens: {res['tokens']}")

    # ---- logits of one window
    W = a.logits_window
    win = ids[:W]
    with tempfile.TemporaryDirectory() as td:
        csv = os.path.join(td, "logits.csv")
        t = time.time()
        run([a.sqsim, "logits", "--model", a.model, "--tokens", ",".join(map(str, win)), "--out", csv])
        sq_seconds = time.time() - t
        sq = read_logits_csv(csv)
    t = time.time()
    hf = hf_logits(model, win)
    hf_seconds = time.time() - t
    assert sq.shape == hf.shape, (sq.shape, hf.shape)
    diff = (sq - hf).abs()
    agree = (sq.argmax(-1) == hf.argmax(-1)).double().mean().item()
    res["logits"] = {
        "window_tokens": W,
        "max_abs_diff": diff.max().item(),
        "mean_abs_diff": diff.mean().item(),
        "max_abs_hf_logit": hf.abs().max().item(),
        "max_rel_diff": (diff.max() / hf.abs().max()).item(),  # relative to the largest logit
        "max_rel_diff_elementwise_abs_gt_1": (diff / hf.abs()).masked_fill(hf.abs() <= 1, 0).max().item(),
        "argmax_agreement": agree,
        "per_position_max_abs_diff_max_at": int(diff.max(-1).values.argmax().item()),
        "goal_max_abs": 1e-2,
        "goal_met": diff.max().item() < 1e-2,
        "sqsim_seconds_incl_load": round(sq_seconds, 1),
        "hf_seconds": round(hf_seconds, 1),
    }
    log(f"logits: {res['logits']}")

    # ---- perplexity
    S, N = a.seq_len, a.windows
    if len(ids) < S * N:
        raise SystemExit(f"only {len(ids)} tokens, need {S * N}")
    cmd = [a.sqsim, "ppl", "--model", a.model, "--text", a.text, "--seq-len", str(S),
           "--max-tokens", str(S * N), "--threads", str(a.threads), "--json"]
    sq_proc = None
    if not a.sqsim_ppl_json:  # runs beside the HF windows
        log("running " + " ".join(cmd))
        sq_proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    nlls = []
    t = time.time()
    for w in range(N):
        chunk = ids[w * S:(w + 1) * S]
        nlls.append(mean_nll(hf_logits(model, chunk), chunk))
        log(f"HF window {w + 1}/{N}: mean NLL {nlls[-1]:.6f} ({time.time() - t:.0f} s)")
    hf_seconds = time.time() - t
    hf_mean = sum(nlls) / N
    hf_ppl = math.exp(hf_mean)
    if sq_proc is not None:
        sq_out, sq_err = sq_proc.communicate()
        if sq_proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({sq_proc.returncode}):\n{sq_out}{sq_err}")
    else:
        log(f"waiting for {a.sqsim_ppl_json} to hold sqsim's JSON line")
        for _ in range(3600):  # it may come from a run started beside this one
            sq_out = open(a.sqsim_ppl_json).read() if os.path.exists(a.sqsim_ppl_json) else ""
            if any(l.startswith("{") for l in sq_out.splitlines()):
                break
            time.sleep(1)
    sq_json = json.loads([l for l in sq_out.splitlines() if l.startswith("{")][-1])
    rel = abs(sq_json["ppl"] - hf_ppl) / hf_ppl
    res["perplexity"] = {
        "seq_len": S, "windows": N,
        "hf_ppl": hf_ppl, "hf_mean_nll": hf_mean, "hf_window_mean_nll": nlls,
        "hf_seconds": round(hf_seconds, 1),
        "sqsim_command": " ".join(os.path.relpath(x, ROOT) if os.path.isabs(x) else x for x in cmd),
        "sqsim_output_from": a.sqsim_ppl_json or "run by this script",
        "sqsim": sq_json,
        "sqsim_ppl": sq_json["ppl"],
        "rel_diff": rel,
        "goal_rel": 1e-3,
        "goal_met": rel < 1e-3,
    }
    res["total_seconds"] = round(time.time() - t_start, 1)
    print(json.dumps({k: res[k] for k in ("tokens", "logits")}, indent=1))
    print(f"perplexity: HF {hf_ppl:.6f}  sqsim {sq_json['ppl']:.6f}  relative difference {rel:.3e}")
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    log(f"wrote {os.path.join(a.out, 'results.json')}")
    return 0 if res["logits"]["goal_met"] and res["perplexity"]["goal_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
