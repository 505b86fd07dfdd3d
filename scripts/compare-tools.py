#!/usr/bin/env python3
"""sqsim's forward time per 2048-token window beside the tools a user would
pick instead, on the same model, the same tokens and the same threads, in one
run: llama.cpp's perplexity tool (built from a source package outside the
repository: scripts/build-llama-cpp.sh) on the GGUF as shipped (Q4_1, its
quantized kernels) and on a float32 copy of it, and a PyTorch CPU forward
(transformers, float32, the GGUF dequantized by transformers' loader).

Per tool the median wall seconds of one window's forward over --windows
windows of WikiText-2 test (sqsim: from its per-window progress lines, so
loading and calibration are left out; llama.cpp: its "seconds per pass";
PyTorch: each forward timed here). Each tool runs --rounds times,
alternating, and the best median is kept (the machine is shared).

  .venv/bin/python scripts/compare-tools.py --llama-cpp /tmp/sqsim-ext/llama-build \\
      --windows 4 --threads 2 --report results/forward/tools.md

Exits 77 when torch/transformers or the model are absent; llama.cpp rows are
left out (said in the report) without --llama-cpp.
"""
import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time

try:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GGUF = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
TEXT = os.path.join(os.environ.get("SQSIM_DATA", os.path.join(os.path.dirname(ROOT), "shared", "data")),
                    "wikitext-2-raw", "wiki.test.raw")


def cpu_model():
    with open("/proc/cpuinfo") as f:
        return next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "?")


def sqsim_windows(binary, quant, windows, threads, seq_len):
    """Per-window forward seconds from `sqsim ppl`'s progress lines (cumulative)."""
    cmd = [binary, "ppl", "--model", GGUF, "--text", TEXT, "--quant", quant, "--seq-len", str(seq_len),
           "--max-tokens", str(windows * seq_len), "--threads", str(threads), "--calib-samples", "32", "--json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: {r.stderr}")
    marks = [float(m) for m in re.findall(r": window \d+/\d+ nll [-\d.]+, ([\d.]+) s", r.stderr)]
    return [b - a for a, b in zip([0.0] + marks[:-1], marks)], r.stdout.strip()


def llama_cpp_seconds(build, model, windows, threads, seq_len):
    exe = os.path.join(build, "bin", "llama-perplexity")
    cmd = [exe, "-m", model, "-f", TEXT, "-c", str(seq_len), "-b", str(seq_len), "-ub", str(seq_len),
           "-t", str(threads), "-tb", str(threads), "--chunks", str(windows)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    out = r.stdout + r.stderr
    m = re.search(r"([\d.]+) seconds per pass", out)
    ppl = re.search(r"Final estimate: PPL = ([\d.]+)", out)
    if r.returncode != 0 or not m:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out[-2000:]}")
    return float(m.group(1)), ppl.group(1) if ppl else "?"


def torch_windows(model, ids, windows, seq_len):
    out = []
    with torch.no_grad():
        for w in range(windows):
            x = torch.tensor([ids[w * seq_len:(w + 1) * seq_len]])
            t = time.perf_counter()
            model(x)
            out.append(time.perf_counter() - t)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sqsim", default=os.environ.get("SQSIM_BINARY", os.path.join(ROOT, "build", "sqsim")))
    ap.add_argument("--llama-cpp", help="llama.cpp build folder (bin/llama-perplexity, bin/llama-quantize)")
    ap.add_argument("--windows", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seq-len", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quant", default="fp,sq-o1,w8a8-pc,sqplus-g128", help="sqsim presets to time")
    ap.add_argument("--report", help="write the Markdown report here too")
    a = ap.parse_args()
    for p in (GGUF, TEXT, a.sqsim):
        if not os.path.exists(p):
            print(f"skipped: {p} absent")
            sys.exit(77)
    torch.set_num_threads(a.threads)
    ids = [int(x) for x in subprocess.run([a.sqsim, "tokenize", "--model", GGUF, "--text-file", TEXT],
                                          capture_output=True, text=True, check=True).stdout.split()]
    d, name = os.path.split(GGUF)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=name, dtype=torch.float32).eval()
    f32 = None
    if a.llama_cpp:
        f32 = os.path.join(a.llama_cpp, "smollm2-f32.gguf")
        if not os.path.exists(f32):
            subprocess.run([os.path.join(a.llama_cpp, "bin", "llama-quantize"), "--allow-requantize", GGUF, f32,
                            "F32"], check=True, capture_output=True)
    best = {}

    def keep(label, seconds, note=""):
        if label not in best or seconds < best[label][0]:
            best[label] = (seconds, note)

    load = os.getloadavg()
    for _ in range(a.rounds):
        for q in a.quant.split(","):
            s, js = sqsim_windows(a.sqsim, q, a.windows, a.threads, a.seq_len)
            ppl = re.search(r'"ppl": ([\d.]+)', js)
            keep(f"sqsim {q}", statistics.median(s), f"ppl {ppl.group(1) if ppl else '?'}")
        keep("PyTorch float32 (transformers)", statistics.median(torch_windows(model, ids, a.windows, a.seq_len)))
        if a.llama_cpp:
            for label, m in (("llama.cpp Q4_1 (as shipped)", GGUF), ("llama.cpp F32", f32)):
                s, ppl = llama_cpp_seconds(a.llama_cpp, m, a.windows, a.threads, a.seq_len)
                keep(label, s, f"ppl {ppl} (its own scoring: second half of each window)")
    base = best["sqsim fp"][0]
    lines = [
        f"Command: `scripts/compare-tools.py {' '.join(sys.argv[1:])}`; CPU: {cpu_model()} "
        f"({os.cpu_count()} cores), load average at start {load[0]:.1f}; torch {torch.__version__}, "
        f"transformers {transformers.__version__}, Python {platform.python_version()}.",
        "",
        f"| tool | s / window of {a.seq_len} tokens (best median of {a.rounds} rounds, {a.windows} windows, "
        f"{a.threads} threads) | sqsim fp / tool | note |",
        "|---|---:|---:|---|",
    ]
    for label, (s, note) in best.items():
        lines.append(f"| {label} | {s:.3f} | {base / s:.2f} | {note} |")
    if not a.llama_cpp:
        lines += ["", "llama.cpp not run (no --llama-cpp build folder given)."]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if a.report:
        with open(a.report, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
