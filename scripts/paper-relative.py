#!/usr/bin/env python3
"""Perplexity of every finished preset relative to the float model, from a
paper-tables journal (results/paper-full/journal.csv or results/paper/journal.csv).

    python3 scripts/paper-relative.py results/paper-full/journal.csv

Prints a Markdown table: preset, alpha, and per text the perplexity and its
ratio to the fp row of the same text. Only rows of the tables part are read;
presets without both texts show what they have. Standard library only.
"""
import csv
import sys


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "results/paper-full/journal.csv"
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["part"] == "tables"]
    texts = []
    ppl = {}
    alpha = {}
    order = []
    for r in rows:
        if r["dataset"] not in texts:
            texts.append(r["dataset"])
        if r["preset"] not in order:
            order.append(r["preset"])
        ppl[(r["preset"], r["dataset"])] = float(r["ppl"])
        alpha[r["preset"]] = r["alpha"]
    print("| preset | alpha | " + " | ".join(f"{t} ppl | {t} / fp" for t in texts) + " |")
    print("|---|---:|" + "---:|---:|" * len(texts))
    for p in order:
        cells = []
        for t in texts:
            v, fp = ppl.get((p, t)), ppl.get(("fp", t))
            cells.append(f"{v:g}" if v is not None else "-")
            cells.append(f"{v / fp:.3f}" if v is not None and fp else "-")
        print(f"| {p} | {alpha[p]} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
