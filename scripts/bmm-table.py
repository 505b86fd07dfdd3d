#!/usr/bin/env python3
"""The attention BMM table of results/bmm-schemes from the runs of
scripts/bmm-ablation.sh (runs.jsonl) and, when present, the reference numbers
of scripts/smoothquant-reference.py (reference.json): table.md and table.csv.

  python3 scripts/bmm-table.py [results/bmm-schemes]
"""
import csv
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(HERE), "results", "bmm-schemes")
runs = [json.loads(line) for line in open(os.path.join(d, "runs.jsonl")) if line.strip()]
by_label = {r["label"]: r for r in runs}
if "off" not in by_label:
    raise SystemExit(f"{d}/runs.jsonl: no 'off' row to compare with")
off = by_label["off"]["ppl"]
ref = None
ref_path = os.path.join(d, "reference.json")
if os.path.exists(ref_path):
    ref = json.load(open(ref_path))

rows = []
for r in runs:
    rows.append({"row": r["label"], "options": r["options"], "ppl": f"{r['ppl']:.4f}",
                 "vs off": f"{100 * (r['ppl'] / off - 1):+.2f}%", "mode": r["mode"]})
with open(os.path.join(d, "table.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
lines = ["| row | sqsim options (after the common ones) | perplexity | vs off |", "|---|---|---|---|"]
for r in rows:
    lines.append(f"| {r['row']} | `{r['options']}` | {r['ppl']} | {r['vs off']} |")
if ref:
    lines += ["", f"mit-han-lab/smoothquant's own code on the same tokens ({ref['attn_implementation']} attention, "
              f"torch {ref['torch']}, transformers {ref['transformers']}):", "",
              "| reference | perplexity | sqsim | perplexity | difference |", "|---|---|---|---|---|"]
    # sqsim's side: the reference script's own sqsim runs, else this table's rows
    # (the same command: sq-w8a8-pc, alpha 0.85, the same tokens and calibration).
    ours = dict(ref.get("sqsim", {}))
    for label in ("off", "mit-fake"):
        if "--bmm " + label not in ours and label in by_label:
            ours["--bmm " + label] = by_label[label]["ppl"]
    for rk, sk in (("quantize_bmm_input=False", "--bmm off"), ("quantize_bmm_input=True", "--bmm mit-fake")):
        if rk in ref["reference"] and sk in ours:
            a, b = ref["reference"][rk], ours[sk]
            lines.append(f"| `{rk}` | {a:.4f} | `{sk}` | {b:.4f} | {100 * (b / a - 1):+.2f}% |")
with open(os.path.join(d, "table.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
