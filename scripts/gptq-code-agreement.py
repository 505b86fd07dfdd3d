#!/usr/bin/env python3
"""Block-by-block agreement of sequential GPTQ weights (issue 19, "Session 3").

Compares two or more runs of sequential GPTQ g64 on the same windows, each
either sqsim's saved search (`--search-cache`, a `.search` file) or the
reference driver's `--save-q` output (scripts/awq-gptq-reference.py, a
`.npz` of the reference's dequantized weights, rows in transformers' order).
For every block it prints the share of weights whose values differ by more
than half a quantization step (a different code) between the first run and
each other one, the mean and the largest over the block's 7 layers.

  .venv/bin/python scripts/gptq-code-agreement.py /tmp/s/gptq-g64.search \\
      /tmp/r1/q-gptq-sequential-batch1.npz /tmp/r8/q-gptq-sequential-batch8.npz \\
      --model models/SmolLM2-135M-Instruct.Q4_1.gguf
"""
import argparse
import importlib.util
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def driver():
    spec = importlib.util.spec_from_file_location("awq_gptq_reference", os.path.join(HERE, "awq-gptq-reference.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


class Heads:
    """What sqsim_weight_hf_order reads of the model: its head counts."""

    def __init__(self, heads, kv_heads):
        self.config = type("C", (), {"num_attention_heads": heads, "num_key_value_heads": kv_heads})


def load(path, drv, model):
    """{'<block>.<layer>': (weight [N, K] float64, step [N, K])}; step = the
    scale of sqsim's group (a .search) or None (a .npz: no scales kept)."""
    out = {}
    if path.endswith(".search"):
        for name, entry in drv.read_sqsim_gptq(path).items():
            short = name.split(".", 3)[3]  # model.layers.<l>.<short>
            deq, s = drv.sqsim_weight_hf_order(model, short, entry)
            out[f"{name.split('.')[2]}.{short}"] = (deq.astype(np.float64), s)
    else:
        with np.load(path) as z:
            for k in z.files:
                out[k] = (z[k].astype(np.float64), None)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help=".search (sqsim) or .npz (reference --save-q) files; the first is the base")
    p.add_argument("--heads", type=int, default=9, help="attention heads (SmolLM2-135M: 9)")
    p.add_argument("--kv-heads", type=int, default=3, help="key/value heads (SmolLM2-135M: 3)")
    p.add_argument("--json", default="", help="also write the per-layer shares here")
    a = p.parse_args()
    drv = driver()
    model = Heads(a.heads, a.kv_heads)
    runs = [load(r, drv, model) for r in a.runs]
    base = runs[0]
    # The step of each weight: sqsim's scale where a .search is given, else
    # the group's range / 15 of the base weights (4 bits, groups of 64).
    steps = {}
    for k, (w, s) in base.items():
        if s is None:
            for r in runs[1:]:
                if r.get(k, (None, None))[1] is not None:
                    s = r[k][1]
                    break
        if s is None:
            g = w.reshape(w.shape[0], -1, 64)
            s = np.repeat((g.max(2) - g.min(2)) / 15, 64, axis=1)
        steps[k] = s
    blocks = sorted({int(k.split(".")[0]) for k in base})
    table = {}
    print("block " + " ".join(f"{os.path.basename(r)[:30]:>32s}" for r in a.runs[1:]) + "   (mean / max share of codes differing from "
          + os.path.basename(a.runs[0]) + ")")
    for l in blocks:
        keys = [k for k in base if int(k.split(".")[0]) == l]
        cells = []
        for r in runs[1:]:
            shares = {k: float(np.mean(np.abs(base[k][0] - r[k][0]) > 0.5 * steps[k])) for k in keys}
            table.setdefault(str(l), []).append(shares)
            cells.append(f"{np.mean(list(shares.values())):14.4%} / {max(shares.values()):8.4%}  ")
        print(f"{l:5d} " + " ".join(cells))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"runs": a.runs, "per_block": table}, f, indent=1)


if __name__ == "__main__":
    main()
