#!/usr/bin/env bash
# The main job on the defaults, writing into out/ (git-ignored).
# Until the model loader lands (issue "Real models"), the traces are synthetic,
# shaped like two SmolLM2-135M blocks (q/k/v 576->576/192, o, gate/up 576->1536,
# down 1536->576) with planted outlier channels; the sweep runs them through the
# integer GEMM (AVX-512 VNNI where the CPU has it, else the reference path).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SQSIM_BUILD_DIR:-$root/build}"
out="${SQSIM_OUT_DIR:-$root/out}"
mkdir -p "$out"
"$build/sqsim" info
"$build/sqsim" make-traces --out "$out/smollm2-shaped-traces.h5" --blocks 2 --tokens 128 --seed 1 --force
"$build/sqsim" outliers --traces "$out/smollm2-shaped-traces.h5" --out "$out/outliers" --force
"$build/sqsim" sweep --config "$root/experiments/configs/synthetic-sweep.cfg" \
  --traces "$out/smollm2-shaped-traces.h5" --out "$out/sweep" --force --threads "$(nproc)"
echo "main job: reports in $out/sweep (summary.md, results.csv, *.svg) and $out/outliers"
