#!/usr/bin/env python3
"""On paper: what N MPI ranks would do to the whole-test-set paper tables.

Reads the measured per-perplexity seconds of results/paper-full/journal.csv
(one process, 2 threads, the shared 2-core machine), spreads each perplexity's
seconds evenly over its windows (the items), splits them contiguously by cost
the way `sqsim paper-tables` / `ppl` assign windows (experiments/work_split.h,
assign_contiguous), and prints the largest rank's load, plus the calibration
every run needs first (rank 0 calibrates once and writes calibration.bin, the
others read it: measured at about 13 minutes in the same README).

  python3 scripts/mpi-projection.py [results/paper-full/journal.csv] [RANKS ...]
"""
import csv
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "results/paper-full/journal.csv"
ranks_list = [int(r) for r in sys.argv[2:]] or [1, 2, 8, 64]
CALIBRATION_S = 13 * 60  # results/paper-full/README.md: 512 x 512 tokens of PTB valid

items = []  # (seconds) per window, in journal order
for row in csv.DictReader(open(path)):
    w = int(row["windows"])
    items += [float(row["seconds"]) / w] * w
total = sum(items)
print(f"{len(items)} windows, {total / 3600:.2f} h of one process; largest window {max(items):.1f} s")
for ranks in ranks_list:
    load = [0.0] * ranks
    before = 0.0
    for c in items:  # the rank whose share of the total holds the item's midpoint
        r = min(ranks - 1, int((before + c / 2) * ranks / total))
        load[r] += c
        before += c
    worst = max(load)
    wall = CALIBRATION_S + worst
    print(f"{ranks:3d} ranks: largest rank {worst / 60:7.1f} min (mean {total / ranks / 60:7.1f}), "
          f"+ calibration {CALIBRATION_S / 60:.0f} min = {wall / 3600:5.2f} h, speed-up {(CALIBRATION_S + total) / wall:5.1f}x")
