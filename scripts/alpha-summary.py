#!/usr/bin/env python3
"""Summarizes the per-group alphas that `sqsim ppl --alpha per-layer --out DIR`
writes to DIR/alpha_per_layer.csv: for each kind of smoothing group (the norm
name without its layer index), the smallest, largest and mean alpha, and how
often each value was chosen. Usage: alpha-summary.py DIR [DIR ...]"""
import collections
import csv
import re
import sys

for d in sys.argv[1:]:
    rows = list(csv.DictReader(open(f"{d}/alpha_per_layer.csv")))
    by_kind = collections.defaultdict(list)
    for r in rows:
        by_kind[re.sub(r"\.\d+\.", ".N.", r["group"])].append(round(float(r["alpha"]), 4))
    print(f"{d}: {len(rows)} groups")
    for kind, a in by_kind.items():
        print(f"  {kind}: alpha {min(a):g} .. {max(a):g}, mean {sum(a) / len(a):.3f} ({len(a)} groups)")
    counts = collections.Counter(round(float(r["alpha"]), 4) for r in rows)
    print("  chosen: " + ", ".join(f"{a:g} x{n}" for a, n in sorted(counts.items())))
