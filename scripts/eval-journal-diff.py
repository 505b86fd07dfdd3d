#!/usr/bin/env python3
"""Compares two `sqsim eval` journals (DIR/journal.txt) item by item.

    python3 scripts/eval-journal-diff.py A/journal.txt B/journal.txt

Prints the number of items, the largest difference of any log-likelihood,
every other field that differs (gold, greedy flags, token counts, lengths),
and the items whose chosen answer differs: the argmax of the log-likelihoods
(acc) or of log-likelihood per character (acc_norm), first index on ties, as
sim/eval/zero_shot.cpp chooses. Settings lines ('= ...') that differ are
listed too. Exit status 1 when a chosen answer or a non-log-likelihood field
differs, or the two hold other items. Standard library only.
"""
import sys


def load(path):
    items, settings = {}, []
    try:
        with open(path) as f:
            for number, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if line.startswith("="):
                    settings.append(line)
                elif not line.startswith("sqsim journal"):
                    fields = line.split("\t")
                    try:
                        chosen(fields[1:])
                    except (ValueError, IndexError, ZeroDivisionError):
                        sys.exit(f"eval-journal-diff: {path}:{number}: not an eval journal item line")
                    items[fields[0]] = fields[1:]
    except OSError as e:
        sys.exit(f"eval-journal-diff: {path}: {e.strerror}")
    return items, settings


def chosen(fields):
    # gold, -, n, then (loglik, greedy, tokens) per choice, then m, m lengths
    n = int(fields[2])
    ll = [float(fields[3 + 3 * i]) for i in range(n)]
    rest = fields[3 + 3 * n:]
    lengths = [int(c) for c in rest[1:1 + int(rest[0])]]
    acc = max(range(n), key=lambda i: (ll[i], -i))
    norm = max(range(n), key=lambda i: (ll[i] / lengths[i], -i)) if len(lengths) == n and all(lengths) else None
    return acc, norm


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    (a, sa), (b, sb) = load(sys.argv[1]), load(sys.argv[2])
    bad = 0
    for s in sorted(set(sa) ^ set(sb)):
        print("settings line in one journal only:", s)
    if a.keys() != b.keys():
        print(f"items: {len(a)} vs {len(b)}, {len(a.keys() ^ b.keys())} in one journal only")
        bad = 1
    largest, choice_diff = 0.0, 0
    for key in sorted(a.keys() & b.keys()):
        fa, fb = a[key], b[key]
        if len(fa) != len(fb):
            print("differs in shape:", key)
            bad = 1
            continue
        n = int(fa[2])
        ll_index = {3 + 3 * i for i in range(n)}
        for i, (x, y) in enumerate(zip(fa, fb)):
            if i in ll_index:
                largest = max(largest, abs(float(x) - float(y)))
            elif x != y:
                print(f"differs: {key} field {i}: {x} vs {y}")
                bad = 1
        if chosen(fa) != chosen(fb):
            choice_diff += 1
            print(f"chosen answer differs: {key}: {chosen(fa)} vs {chosen(fb)}")
    print(f"{len(a.keys() & b.keys())} items in both; largest log-likelihood difference {largest:.3g}; "
          f"items whose chosen answer (acc or acc_norm) differs: {choice_diff}")
    sys.exit(1 if bad or choice_diff else 0)


if __name__ == "__main__":
    main()
