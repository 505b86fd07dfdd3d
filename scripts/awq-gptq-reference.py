#!/usr/bin/env python3
"""sqsim's AWQ and GPTQ presets against the authors' code, on the same model and
calibration tokens (issue 19, "Checks").

The reference code is NOT part of this repository: pass checkouts of
mit-han-lab/llm-awq (--llm-awq, for awq/quantize/auto_scale.py, auto_clip.py,
quantizer.py) and IST-DASLab/gptq (--gptq, for gptq.py and quant.py), made
outside the repository (e.g. under /tmp). This script only drives them:

1. Token ids of the calibration and evaluation texts from `sqsim tokenize --bos`
   (so both sides read the same ids), and sqsim's search windows re-drawn here
   (calibration_windows: mt19937_64 seeded 0, starts uniform over the
   calibration part = the text minus its --holdout-tokens tail, sorted).
2. The model in transformers (float32, from the same GGUF file).
3. AWQ: llm-awq's run_awq loop written out (block by block on the float
   model's block inputs, the block's linear inputs hooked, auto_scale_block,
   apply_scale, auto_clip_block, apply_clip, next inputs = the float block's
   outputs), then every block linear pseudo-quantized (llm-awq's
   pseudo_quantize_tensor). The ratio r of each group is recovered by matching
   the returned scales against the 20 candidates. llm-awq's quantizer asserts
   that the group size divides K: SmolLM2's 576 allows groups of 64 only.
4. GPTQ: gptq.py's GPTQ class (asymmetric min/max quantizer of quant.py),
   damping 0.01, blocks of 128, natural order, in two variants: "float"
   (every layer's Hessian from the float model: sqsim --gptq-inputs float) and
   "sequential" (llama.py's block by block, block l fed by the quantized
   blocks < l: sqsim --gptq-inputs sequential, its default).
5. Perplexity of each model on the first --eval-tokens of the evaluation text
   in windows of --eval-seq-len (log-softmax in float64, ppl = exp of the mean
   over windows of the mean NLL of positions 1..L-1, as sqsim ppl), beside
   `sqsim ppl --json` of the same presets and `--search-windows`.
Writes <out>/results.json and prints a summary.

  /work/main/.venv/bin/python scripts/awq-gptq-reference.py \\
      --llm-awq /tmp/refs/llm-awq --gptq /tmp/refs/gptq --out /tmp/awq-gptq-ref
"""
import argparse
import json
import math
import os
import platform
import re
import subprocess
import sys
import time
import types

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cpu_only():
    """The reference code moves modules to the GPU and synchronizes it around
    each step; here everything stays on the CPU (their code unchanged)."""
    nn.Module.cuda = lambda self, device=None: self
    torch.Tensor.cuda = lambda self, device=None, **kw: self
    torch.cuda.empty_cache = lambda: None
    torch.cuda.synchronize = lambda *a, **k: None


def log(msg):
    print(f"[awq-gptq-reference {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r.stdout, r.stderr


class Mt19937_64:
    """std::mt19937_64 (the C++ standard's parameters), for sqsim's window starts."""

    def __init__(self, seed):
        self.mt = [0] * 312
        self.mt[0] = seed & 0xFFFFFFFFFFFFFFFF
        for i in range(1, 312):
            self.mt[i] = (6364136223846793005 * (self.mt[i - 1] ^ (self.mt[i - 1] >> 62)) + i) & 0xFFFFFFFFFFFFFFFF
        self.i = 312

    def __call__(self):
        if self.i >= 312:
            for k in range(312):
                y = (self.mt[k] & 0xFFFFFFFF80000000) | (self.mt[(k + 1) % 312] & 0x7FFFFFFF)
                v = self.mt[(k + 156) % 312] ^ (y >> 1)
                if y & 1:
                    v ^= 0xB5026F5AA96619E9
                self.mt[k] = v
            self.i = 0
        x = self.mt[self.i]
        self.i += 1
        x ^= (x >> 29) & 0x5555555555555555
        x ^= (x << 17) & 0x71D67FFFEDA60000
        x ^= (x << 37) & 0xFFF7EEE000000000
        x ^= x >> 43
        return x & 0xFFFFFFFFFFFFFFFF


def calibration_windows(ids, seq_len, count, seed=0):
    rng = Mt19937_64(seed)
    span = len(ids) - seq_len + 1
    starts = sorted(rng() % span for _ in range(count))
    return [ids[s:s + seq_len] for s in starts]


def perplexity(model, ids, seq_len):
    nlls = []
    with torch.no_grad():
        for w in range(len(ids) // seq_len):
            x = torch.tensor([ids[w * seq_len:(w + 1) * seq_len]])
            logits = model(x).logits[0].double()
            lp = torch.log_softmax(logits[:-1], dim=-1)
            nlls.append(-lp.gather(1, x[0, 1:, None]).mean().item())
    return math.exp(sum(nlls) / len(nlls)), len(nlls)


def block_inputs(model, windows):
    """The first decoder layer's input and keyword arguments (llm-awq's Catcher)."""
    layers = model.model.layers
    caught = {}

    class Stop(Exception):
        pass

    def hook(module, args, kwargs):
        caught["x"] = args[0] if args else kwargs.pop("hidden_states")
        caught["kwargs"] = {k: v for k, v in kwargs.items() if k != "hidden_states"}
        raise Stop

    h = layers[0].register_forward_pre_hook(hook, with_kwargs=True)
    try:
        model(torch.tensor(windows))
    except Stop:
        pass
    h.remove()
    kwargs = caught["kwargs"]
    kwargs["use_cache"] = False
    # No KV cache may travel with the replayed calls: transformers 5 passes the
    # model's cache to each layer as `cache`, and every replay of the layer
    # (per window, per AWQ ratio) would append its keys and values to it and
    # attend over the earlier calls' ones.
    for k in [k for k, v in kwargs.items() if k in ("cache", "past_key_values", "past_key_value")
              or type(v).__name__.endswith("Cache")]:
        kwargs.pop(k)
    return caught["x"], kwargs


def layer_out(layer, x, kwargs):
    y = layer(x, **kwargs)
    return y[0] if isinstance(y, tuple) else y


def linears(module):
    return {n: m for n, m in module.named_modules() if isinstance(m, nn.Linear)}


def run_awq(model, windows, group, llm_awq, blocks):
    sys.modules.setdefault("awq_inference_engine", types.ModuleType("awq_inference_engine"))  # CUDA-only import

    sys.path.insert(0, llm_awq)
    from awq.quantize.auto_scale import auto_scale_block, apply_scale
    from awq.quantize.auto_clip import auto_clip_block, apply_clip
    from awq.quantize.quantizer import pseudo_quantize_tensor

    q_config = {"zero_point": True, "q_group_size": group}
    x, kwargs = block_inputs(model, windows)
    ratios = {}
    t0 = time.time()
    for i, layer in enumerate(model.model.layers[:blocks]):
        feats = {}
        hooks = [m.register_forward_hook(lambda m, a, o, n=n: feats.setdefault(n, []).append(a[0].detach()))
                 for n, m in linears(layer).items()]
        with torch.no_grad():
            out = layer_out(layer, x, kwargs)
        for h in hooks:
            h.remove()
        feats = {k: torch.cat(v, dim=0) for k, v in feats.items()}
        # Each group's input statistics before any scale is applied.
        means = {n: f.abs().view(-1, f.shape[-1]).mean(0) for n, f in feats.items()}
        scales_list = auto_scale_block(layer, dict(kwargs), 4, q_config, feats)
        for prev, names, scales in scales_list:
            a = means[names[0]]
            best = None
            for j in range(20):
                s = a.pow(j / 20).clamp(min=1e-4).view(-1)
                s = s / (s.max() * s.min()).sqrt()
                if torch.equal(s.cpu(), scales.view(-1)):
                    best = j / 20
                    break
            ratios[f"model.layers.{i}.{prev}"] = best
        apply_scale(layer, scales_list, input_feat_dict=feats)
        clip_list = auto_clip_block(layer, 4, q_config, feats)
        apply_clip(layer, clip_list)
        x = out
        log(f"awq block {i}: {time.time() - t0:.0f} s, ratios " +
            " ".join(f"{k}={v}" for k, v in ratios.items() if k.startswith(f"model.layers.{i}.")))
    with torch.no_grad():
        for layer in model.model.layers:
            for n, m in linears(layer).items():
                m.weight.data = pseudo_quantize_tensor(m.weight.data, n_bit=4, **q_config)
    return ratios, time.time() - t0


def make_gptq(gptq_dir, layer_module, group):
    sys.path.insert(0, gptq_dir)
    from gptq import GPTQ
    from quant import Quantizer
    g = GPTQ(layer_module)
    g.quantizer = Quantizer()
    g.quantizer.configure(4, perchannel=True, sym=False, mse=False)
    return g


def gptq_quantize_all(gs, group):
    for n, g in gs.items():
        g.fasterquant(blocksize=128, percdamp=0.01, groupsize=group, actorder=False, static_groups=False)
        g.free()


def run_gptq_float(model, windows, group, gptq_dir):
    t0 = time.time()
    gs, hooks = {}, []
    for i, layer in enumerate(model.model.layers):
        for n, m in linears(layer).items():
            g = make_gptq(gptq_dir, m, group)
            gs[f"{i}.{n}"] = g
            hooks.append(m.register_forward_hook(lambda m, a, o, g=g: g.add_batch(a[0].data, o.data)))
    with torch.no_grad():
        for w in windows:  # one window per batch, as llama.py adds one sample at a time
            model(torch.tensor([w]))
    for h in hooks:
        h.remove()
    gptq_quantize_all(gs, group)
    return time.time() - t0


def run_gptq_sequential(model, windows, group, gptq_dir, batch=1, sqsim=None, feed_sqsim=False, stats=None,
                        save_q=None):
    """llama.py's loop: block l's Hessians from its float forward on the
    output of the quantized blocks < l, `batch` windows per add_batch (1 as
    llama.py). With `sqsim` (a saved sqsim search), each layer's codes are
    compared with sqsim's (stats[block][layer]); with feed_sqsim the block's
    output that feeds block l + 1 is computed with sqsim's weights instead of
    the reference's, so block l + 1's comparison sees the same upstream
    weights on both sides (only the per-block numerics differ)."""
    t0 = time.time()
    x, kwargs = block_inputs(model, windows)
    for l, layer in enumerate(model.model.layers):
        gs, hooks = {}, []
        for n, m in linears(layer).items():
            g = make_gptq(gptq_dir, m, group)
            gs[n] = g
            hooks.append(m.register_forward_hook(lambda m, a, o, g=g: g.add_batch(a[0].data, o.data)))
        with torch.no_grad():
            for j in range(0, x.shape[0], batch):
                layer_out(layer, x[j:j + batch], kwargs_for(kwargs, x[j:j + batch].shape[0]))
        for h in hooks:
            h.remove()
        gptq_quantize_all(gs, group)
        mods = linears(layer)
        if save_q is not None:
            save_q[l] = {n: m.weight.data.to(torch.float16).numpy().copy() for n, m in mods.items()}
        if sqsim is not None:
            stats[l] = {}
            for n, m in mods.items():
                name = f"model.layers.{l}.{n}"
                if name not in sqsim:
                    raise SystemExit(f"--sqsim-search: no GPTQ layer {name} in the saved search")
                deq, scale = sqsim_weight_hf_order(model, n, sqsim[name])
                stats[l][n] = code_agreement(m.weight.data.numpy(), deq, scale)
                if feed_sqsim:
                    m.weight.data = torch.from_numpy(deq.copy())
            worst = max(v["differ"] for v in stats[l].values())
            log(f"block {l}: codes differing from sqsim's: at most {worst:.4%} of a layer "
                f"({time.time() - t0:.0f} s)")
        with torch.no_grad():
            x = torch.cat([layer_out(layer, x[j:j + batch], kwargs_for(kwargs, x[j:j + batch].shape[0]))
                           for j in range(0, x.shape[0], batch)])
    return time.time() - t0


class SearchReader:
    """sqsim's saved weight search (sim/eval/weight_search_file.h): the magic
    line, then u64 lengths and raw little-endian values."""

    def __init__(self, path):
        self.b, self.path = open(path, "rb").read(), path
        magic = b"sqsim-weight-search 1\n"
        if not self.b.startswith(magic):
            raise SystemExit(f"{path}: not a saved sqsim weight search")
        self.pos = len(magic)

    def u64(self):
        v = int.from_bytes(self.b[self.pos:self.pos + 8], "little")
        self.pos += 8
        return v

    def str(self):
        n = self.u64()
        v = self.b[self.pos:self.pos + n].decode()
        self.pos += n
        return v

    def counted(self, dtype):
        import numpy as np
        n, dt = self.u64(), np.dtype(dtype)
        v = np.frombuffer(self.b, dtype=dt, count=n, offset=self.pos)
        self.pos += n * dt.itemsize
        return v


def read_sqsim_gptq(path):
    """{layer: (codes [N, K] int, scale [N, G], zero point [N, G], group)} of a saved GPTQ search."""
    r = SearchReader(path)
    r.str()  # key
    r.u64()  # method
    for _ in range(r.u64()):  # AWQ groups
        r.str(), r.u64()
        for _ in range(r.u64()):
            r.str()
        r.counted("<f4"), r.u64(), r.counted("<f4"), r.counted("<f8")
    for _ in range(r.u64()):  # AWQ clips
        r.str(), r.u64(), r.counted("<f4")
    out = {}
    for _ in range(r.u64()):
        name, rows, cols, _bits, group = r.str(), r.u64(), r.u64(), r.u64(), r.u64()
        groups = -(-cols // group)
        scale = r.counted("<f4").reshape(rows, groups)
        zp = r.counted("<i4").reshape(rows, groups)
        codes = r.counted("u1").reshape(rows, cols).astype("int32")
        r.counted("<f8")  # loss
        out[name] = (codes, scale, zp, group)
    if r.pos != len(r.b):
        raise SystemExit(f"{path}: trailing bytes after the GPTQ layers (another file version?)")
    return out


def sqsim_weight_hf_order(model, short_name, entry):
    """sqsim's dequantized weight (float32 (code - zp) * scale, as sqsim) and
    each weight's scale, rows in transformers' order: sqsim keeps the GGUF
    file's q/k rows, which llama.cpp's converter permuted for its RoPE;
    transformers' GGUF loader undoes that permutation, so the same is done
    here."""
    import numpy as np
    codes, scale, zp, group = entry
    cols = np.arange(codes.shape[1]) // group
    s = scale[:, cols]
    deq = (codes - zp[:, cols]).astype(np.float32) * s
    cfg = model.config
    heads = {"self_attn.q_proj": cfg.num_attention_heads, "self_attn.k_proj": cfg.num_key_value_heads}.get(short_name)
    if heads:
        def unpermute(w):
            half = w.shape[0] // heads // 2
            return w.reshape(heads, half, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)
        deq, s = unpermute(deq), unpermute(s)
    return np.ascontiguousarray(deq), s


def code_agreement(ref_q, deq, scale):
    """Share of weights whose reference value is more than half a step from
    sqsim's (a different code), and the relative Frobenius difference."""
    import numpy as np
    d = np.abs(ref_q.astype(np.float64) - deq)
    return {"differ": float(np.mean(d > 0.5 * scale)),
            "rel_fro": float(np.linalg.norm(d) / max(np.linalg.norm(deq.astype(np.float64)), 1e-30))}


def kwargs_for(kwargs, batch):
    """The caught keyword arguments for a batch of `batch` windows (masks and
    position tensors are per batch row or broadcast)."""
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, torch.Tensor) and v.dim() > 0 and v.shape[0] > 1:
            out[k] = v[:batch]
        elif isinstance(v, tuple):
            out[k] = tuple(t[:batch] if isinstance(t, torch.Tensor) and t.dim() > 0 and t.shape[0] > 1 else t
                           for t in v)
        else:
            out[k] = v
    return out


def sqsim_ppl(a, preset, extra=()):
    cmd = [a.sqsim, "ppl", "--model", a.model, "--text", a.eval_text, "--calib-text", a.calib_text,
           "--quant", preset, "--max-tokens", str(a.eval_tokens), "--seq-len", str(a.eval_seq_len),
           "--search-windows", str(a.windows), "--calib-seq-len", str(a.seq_len),
           "--holdout-tokens", str(a.holdout_tokens), "--json", *extra]
    t0 = time.time()
    out, err = run(cmd)
    res = json.loads(out.strip().splitlines()[-1])
    ratios = {m.group(1): float(m.group(2)) for m in re.finditer(r"awq ratio: (\S+) -> \S+ r=(\S+)", err)}
    return {"command": " ".join(cmd), "ppl": res["ppl"], "seconds": time.time() - t0, "ratios": ratios}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sqsim", default=os.path.join(ROOT, "build", "sqsim"))
    p.add_argument("--model", default=os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--calib-text", default=os.path.join(ROOT, "..", "shared", "data", "ptb", "ptb.valid.txt"))
    p.add_argument("--eval-text", default=os.path.join(ROOT, "..", "shared", "data", "wikitext-2-raw", "wiki.test.raw"))
    p.add_argument("--windows", type=int, default=8, help="search windows (sqsim --search-windows)")
    p.add_argument("--seq-len", type=int, default=512, help="tokens per search window (sqsim --calib-seq-len)")
    p.add_argument("--holdout-tokens", type=int, default=16384)
    p.add_argument("--eval-tokens", type=int, default=8192)
    p.add_argument("--eval-seq-len", type=int, default=2048)
    p.add_argument("--group", type=int, default=64)
    p.add_argument("--methods", default="fp,awq,gptq-float,gptq-sequential")
    p.add_argument("--llm-awq", required=True, help="a checkout of mit-han-lab/llm-awq (outside the repository)")
    p.add_argument("--gptq", required=True, help="a checkout of IST-DASLab/gptq (outside the repository)")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--awq-blocks", type=int, default=0,
                   help="run llm-awq's search on the first N blocks only (ratios compared, no reference ppl)")
    p.add_argument("--awq-objective", default="module", help="sqsim --awq-objective (module: llm-awq's)")
    p.add_argument("--no-sqsim", action="store_true", help="run the reference side only")
    p.add_argument("--gptq-batch", type=int, default=1,
                   help="windows per add_batch in sequential GPTQ (1: llama.py's; more: the same Hessian "
                        "summed in another float32 order)")
    p.add_argument("--sqsim-search", default="",
                   help="sqsim's saved gptq-gNN.search (--search-cache) of the same windows: sequential GPTQ "
                        "compares every layer's codes with it (and gptq-sequential-fed feeds its weights on)")
    p.add_argument("--save-q", action="store_true",
                   help="write the reference's sequential GPTQ weights (float16) to <out>/q-<method>-batch<N>.npz")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    cpu_only()
    if a.threads:
        torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    from transformers import AutoModelForCausalLM

    def load():
        d, name = os.path.split(os.path.abspath(a.model))
        m = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32)
        m.eval()
        return m

    calib = [int(t) for t in run([a.sqsim, "tokenize", "--model", a.model, "--text-file", a.calib_text, "--bos"])[0].split()]
    evals = [int(t) for t in run([a.sqsim, "tokenize", "--model", a.model, "--text-file", a.eval_text, "--bos"])[0].split()]
    evals = evals[:a.eval_tokens]
    windows = calibration_windows(calib[:len(calib) - a.holdout_tokens], a.seq_len, a.windows)
    result = {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
              "threads": torch.get_num_threads(), "args": vars(a), "reference": {}, "sqsim": {}}
    try:
        result["cpu"] = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    g = a.group
    sqsim_codes = read_sqsim_gptq(a.sqsim_search) if a.sqsim_search else None
    for method in a.methods.split(","):
        log(f"reference {method}")
        model = load()
        entry = {}
        if method == "awq":
            blocks = a.awq_blocks or len(model.model.layers)
            entry["ratios"], entry["search_seconds"] = run_awq(model, windows, g, a.llm_awq, blocks)
            entry["blocks"] = blocks
            if blocks < len(model.model.layers):
                # Only the ratios of the first blocks: no quantized model to measure.
                result["reference"][method] = entry
                log(f"reference awq: ratios of {blocks} blocks: {entry['ratios']}")
                if not a.no_sqsim:
                    result["sqsim"][method] = sqsim_ppl(a, f"awq-g{g}", ["--awq-objective", a.awq_objective])
                    log(f"sqsim awq-g{g} ppl {result['sqsim'][method]['ppl']:.4f}")
                with open(os.path.join(a.out, "results.json"), "w") as f:
                    json.dump(result, f, indent=1)
                continue
        elif method == "gptq-float":
            entry["search_seconds"] = run_gptq_float(model, windows, g, a.gptq)
        elif method in ("gptq-sequential", "gptq-sequential-fed"):
            fed = method == "gptq-sequential-fed"
            if fed and sqsim_codes is None:
                raise SystemExit("--methods gptq-sequential-fed needs --sqsim-search (sqsim's saved gptq search)")
            stats, save_q = {}, ({} if a.save_q else None)
            entry["search_seconds"] = run_gptq_sequential(model, windows, g, a.gptq, a.gptq_batch, sqsim_codes, fed,
                                                          stats, save_q)
            entry["gptq_batch"] = a.gptq_batch
            if stats:
                entry["codes_differing_from_sqsim"] = {
                    str(l): {"max": max(v["differ"] for v in st.values()),
                             "mean": sum(v["differ"] for v in st.values()) / len(st),
                             "per_layer": st} for l, st in stats.items()}
            if save_q is not None:
                import numpy as np
                np.savez(os.path.join(a.out, f"q-{method}-batch{a.gptq_batch}.npz"),
                         **{f"{l}.{n}": q for l, qs in save_q.items() for n, q in qs.items()})
        elif method != "fp":
            raise SystemExit(f"--methods: unknown '{method}' (fp, awq, gptq-float, gptq-sequential, "
                             "gptq-sequential-fed)")
        entry["ppl"], entry["windows"] = perplexity(model, evals, a.eval_seq_len)
        result["reference"][method] = entry
        log(f"reference {method}: ppl {entry['ppl']:.4f}")
        preset = {"fp": "fp", "awq": f"awq-g{g}", "gptq-float": f"gptq-g{g}", "gptq-sequential": f"gptq-g{g}"}.get(method)
        if a.gptq_batch != 1 and method.startswith("gptq-sequential"):
            preset = None  # a reference variant: no sqsim run of its own
        extra = {"gptq-float": ["--gptq-inputs", "float"], "gptq-sequential": ["--gptq-inputs", "sequential"]}.get(method, [])
        if preset and not a.no_sqsim:
            result["sqsim"][method] = sqsim_ppl(a, preset, extra)
            log(f"sqsim {preset}: ppl {result['sqsim'][method]['ppl']:.4f}")
        with open(os.path.join(a.out, "results.json"), "w") as f:
            json.dump(result, f, indent=1)
    if "awq" in result["reference"] and "awq" in result["sqsim"]:
        ref, mine = result["reference"]["awq"]["ratios"], result["sqsim"]["awq"]["ratios"]
        same = sum(1 for k in ref if k in mine and ref[k] is not None and abs(ref[k] - mine[k]) < 1e-6)
        result["awq_ratio_agreement_note"] = (
            "llm-awq measures q/k/v on the attention output and gate/up on the MLP output; sqsim too with "
            "--awq-objective module, on the group's own linear outputs with linear (docs/quantization.md, AWQ)")
        result["awq_ratio_agreement"] = {"same": same, "groups": len(ref),
                                         "per_group": {k: [ref[k], mine.get(k)] for k in ref}}
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(result, f, indent=1)
    for side in ("reference", "sqsim"):
        for k, v in result[side].items():
            if "ppl" in v:
                print(f"{side:9s} {k:16s} ppl {v['ppl']:.4f}")
    if "awq_ratio_agreement" in result:
        r = result["awq_ratio_agreement"]
        print(f"AWQ ratios identical in {r['same']} of {r['groups']} groups")


if __name__ == "__main__":
    main()
