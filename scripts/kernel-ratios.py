#!/usr/bin/env python3
"""sqsim / oneDNN per shape over several runs of scripts/kernel-bench.sh.

    python3 scripts/kernel-ratios.py results/kernels/goals.md results/kernels/goals-run1.md ...

Reads the M >= 16 rows of each goals.md (scripts/kernel-goals.py's tables) and
prints a Markdown table: the ratio in every run, its median and its minimum.
Standard library only.
"""
import re
import statistics
import sys

ROW = re.compile(r"^\| (M:(\d+) K:\d+ N:\d+) \| (\d) \| ([\d.]+) \| ([\d.]+) \|")


def main(paths):
    ratios = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                m = ROW.match(line)
                if m and int(m.group(2)) >= 16:
                    ratios.setdefault((m.group(1), m.group(3)), []).append(float(m.group(4)) / float(m.group(5)))
    print("| shape | threads | sqsim / oneDNN, run by run | median | min |")
    print("|---|---|---|---|---|")
    for (shape, threads), values in ratios.items():
        runs = " ".join(f"{v:.3f}" for v in values)
        print(f"| {shape} | {threads} | {runs} | {statistics.median(values):.3f} | {min(values):.3f} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: kernel-ratios.py GOALS.md [GOALS.md ...]")
    main(sys.argv[1:])
