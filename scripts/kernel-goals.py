#!/usr/bin/env python3
"""Issue 6's kernel goals, judged from a gemm_bench JSON file.

    ./build/experiments/benchmarks/gemm_bench --benchmark_format=json \
        --benchmark_repetitions=3 --benchmark_report_aggregates_only=true ... > bench.json
    python3 scripts/kernel-goals.py bench.json > goals.md

Reads the median rows (or the plain rows when there are no aggregates) and
prints Markdown tables: M >= 128 against oneDNN and the measured vpdpbusd peak,
M = 16 against oneDNN, M = 1 against the streaming-read ceiling, and the int4
GEMV against the fp32 GEMV. Only rows present in the file are judged.
Standard library only.
"""
import json
import re
import sys

NAME = re.compile(r"^(?P<op>[^/]+)/(?P<impl>[^/]+)/M:(?P<m>\d+)/K:(?P<k>\d+)/N:(?P<n>\d+)(?:/g:(?P<g>\d+))?"
                  r"/threads:(?P<t>\d+)")


def load(path):
    with open(path) as f:
        data = json.load(f)
    rows, aggregated = {}, any(b.get("run_type") == "aggregate" for b in data["benchmarks"])
    for b in data["benchmarks"]:
        if aggregated and b.get("aggregate_name") != "median":
            continue
        name = b.get("run_name", b["name"]).replace("/real_time", "")
        rows[name] = b
    return data.get("context", {}), rows


def seconds(b):
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
    t = b["real_time"] if "/real_time" in b.get("run_name", b["name"]) else b["cpu_time"]
    return t * scale


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: kernel-goals.py BENCH.json")
    context, rows = load(sys.argv[1])
    parsed = {}
    for name, b in rows.items():
        m = NAME.match(name)
        if m:
            parsed[name] = (m.groupdict(), b)

    def find(op, impl, m, k, n, t, g=None):
        suffix = f"/g:{g}" if g else ""
        return rows.get(f"{op}/{impl}/M:{m}/K:{k}/N:{n}{suffix}/threads:{t}")

    peak = rows.get("peak/vpdpbusd/threads:1")
    peak_rate = peak["items_per_second"] if peak else None
    stream = rows.get("peak/stream_read/threads:1")
    stream_rate = stream["bytes_per_second"] if stream else None
    print(f"Machine: {context.get('num_cpus', '?')} CPUs, load average "
          f"{', '.join(f'{x:.2f}' for x in context.get('load_avg', []))}; "
          f"date {context.get('date', '?')}")
    if peak_rate:
        print(f"\nMeasured ceilings: vpdpbusd {peak_rate / 1e9:.1f} GMAC/s (one core)", end="")
        if stream_rate:
            print(f", streaming read {stream_rate / 1e9:.1f} GB/s (one thread)", end="")
        print()

    shapes = sorted({(int(d["m"]), int(d["k"]), int(d["n"]), int(d["t"])) for d, _ in parsed.values()
                     if d["op"] == "gemm_s8s8s32"})
    print("\n**M >= 128: at least oneDNN, and >= 85% of the vpdpbusd peak (1 thread)**\n")
    print("| shape | threads | sqsim GMAC/s | oneDNN GMAC/s | sqsim / oneDNN | % of peak | met? |")
    print("|---|---|---|---|---|---|---|")
    for m, k, n, t in shapes:
        if m < 128:
            continue
        s, o = find("gemm_s8s8s32", "sqsim", m, k, n, t), find("gemm_s8s8s32", "onednn", m, k, n, t)
        if not s or not o:
            continue
        rs, ro = s["items_per_second"], o["items_per_second"]
        pk = f"{100 * rs / peak_rate:.0f}%" if peak_rate and t == 1 else "-"
        met = rs >= ro and (t != 1 or not peak_rate or rs >= 0.85 * peak_rate)
        print(f"| M:{m} K:{k} N:{n} | {t} | {rs / 1e9:.1f} | {ro / 1e9:.1f} | {rs / ro:.2f} | {pk} | "
              f"{'yes' if met else 'no'} |")

    print("\n**M = 16: at least 0.9x oneDNN**\n")
    print("| shape | threads | sqsim GMAC/s | oneDNN GMAC/s | ratio | met? |")
    print("|---|---|---|---|---|---|")
    for m, k, n, t in shapes:
        if m != 16:
            continue
        s, o = find("gemm_s8s8s32", "sqsim", m, k, n, t), find("gemm_s8s8s32", "onednn", m, k, n, t)
        if s and o:
            r = s["items_per_second"] / o["items_per_second"]
            print(f"| M:{m} K:{k} N:{n} | {t} | {s['items_per_second'] / 1e9:.1f} | "
                  f"{o['items_per_second'] / 1e9:.1f} | {r:.2f} | {'yes' if r >= 0.9 else 'no'} |")

    print("\n**M = 1: at least 80% of the bandwidth ceiling (weight bytes / streaming-read rate)**\n")
    print("| shape | threads | sqsim GB/s | oneDNN GB/s | ceiling GB/s | % of ceiling | met? |")
    print("|---|---|---|---|---|---|---|")
    for m, k, n, t in shapes:
        if m != 1:
            continue
        s, o = find("gemm_s8s8s32", "sqsim", m, k, n, t), find("gemm_s8s8s32", "onednn", m, k, n, t)
        ceiling = rows.get(f"peak/stream_read/threads:{t}")  # the same thread count's streaming read
        if s and "bytes_per_second" in s and ceiling:
            frac = s["bytes_per_second"] / ceiling["bytes_per_second"]
            od = f"{o['bytes_per_second'] / 1e9:.1f}" if o and "bytes_per_second" in o else "-"
            print(f"| M:{m} K:{k} N:{n} | {t} | {s['bytes_per_second'] / 1e9:.1f} | {od} | {ceiling['bytes_per_second'] / 1e9:.1f} | {100 * frac:.0f}% | "
                  f"{'yes' if frac >= 0.8 else 'no'} |")

    print("\n**int4 GEMV at least 3x faster than the fp32 GEMV (K 4096, N 11008)**\n")
    print("| group | threads | int4 time | fp32 (oneDNN) time | speed-up | met? |")
    print("|---|---|---|---|---|---|")
    for t in (1, 2):
        f = find("gemm_f32", "onednn", 1, 4096, 11008, t)
        for g in (64, 128, 256):
            s = find("linear_f32s4", "sqsim", 1, 4096, 11008, t, g)
            if s and f:
                r = seconds(f) / seconds(s)
                print(f"| {g} | {t} | {seconds(s) * 1e3:.2f} ms | {seconds(f) * 1e3:.2f} ms | {r:.2f}x | "
                      f"{'yes' if r >= 3 else 'no'} |")

    bf16 = [(m, k, n) for m in (1, 16, 128) for k, n in ((4096, 4096),)
            if find("linear_bf16s4", "sqsim", m, k, n, 1, 128)]
    if bf16:
        print("\n**W4A16 with bf16 activations against float32 activations (g:128, 1 thread; no goal)**\n")
        print("| shape | float32 x int4 | bf16 x int4 | bf16 / float time |")
        print("|---|---|---|---|")
        for m, k, n in bf16:
            b, f = find("linear_bf16s4", "sqsim", m, k, n, 1, 128), find("linear_f32s4", "sqsim", m, k, n, 1, 128)
            if b and f:
                print(f"| M:{m} K:{k} N:{n} | {seconds(f) * 1e3:.2f} ms | {seconds(b) * 1e3:.2f} ms | "
                      f"{seconds(b) / seconds(f):.2f} |")


if __name__ == "__main__":
    main()
