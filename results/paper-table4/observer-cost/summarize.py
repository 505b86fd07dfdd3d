#!/usr/bin/env python3
"""Summarizes observers.csv (`sqsim observers`, one row per layer and
observer) over the layers: for each observer, the median over layers of
clip / absmax and of the share of values clipped, and the geometric mean over
layers of its MSE divided by the absmax observer's MSE on the same layer,
overall, on the outlier channels (the 1% with the largest absmax) and on the
other channels. Prints a Markdown table.

    python3 results/paper-table4/observer-cost/summarize.py results/paper-table4/observer-cost/observers.csv
"""
import csv
import math
import statistics
import sys


def main(path):
    rows = [r for r in csv.DictReader(line for line in open(path) if not line.startswith("#"))]
    absmax = {r["layer"]: r for r in rows if r["observer"] == "absmax"}
    observers = list(dict.fromkeys(r["observer"] for r in rows))
    cols = [("mse", "MSE"), ("mse outlier ch.", "MSE outlier ch."), ("mse other ch.", "MSE other ch.")]
    print("| observer | layers | median clip / absmax | median clipped share | "
          + " | ".join(f"{name} / absmax's (geo. mean)" for _, name in cols) + " |")
    print("|---" + "|---:" * (3 + len(cols)) + "|")
    for o in observers:
        mine = [r for r in rows if r["observer"] == o]
        cells = [o, str(len(mine)),
                 f"{statistics.median(float(r['clip/absmax']) for r in mine):.4g}",
                 f"{statistics.median(float(r['clipped']) for r in mine):.3g}"]
        for key, _ in cols:
            logs = [math.log(float(r[key]) / float(absmax[r["layer"]][key]))
                    for r in mine if float(absmax[r["layer"]][key]) > 0 and float(r[key]) > 0]
            cells.append(f"{math.exp(sum(logs) / len(logs)):.3g}")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
