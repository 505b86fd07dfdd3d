#!/usr/bin/env bash
# Issue 6's goal rows of gemm_bench, side by side in one process, then the goal
# tables computed from the JSON (scripts/kernel-goals.py):
#   bash scripts/kernel-bench.sh OUT_DIR     # writes OUT_DIR/gemm_bench.json, goals.md
# The full grid is `gemm_bench` without a filter (much longer).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: kernel-bench.sh OUT_DIR}"
mkdir -p "$out"
shapes='M:(1|16|128|512)/K:(576/N:1536|1536/N:576|4096/N:4096)'
filter="peak/"
filter+="|gemm_s8s8s32/(sqsim|onednn)/${shapes}/threads:1"
filter+="|gemm_s8s8s32/(sqsim|onednn)/M:(1|128)/K:4096/N:(4096|11008)/threads:2"
filter+="|gemm_s8s8s32/(sqsim|onednn)/M:1/K:4096/N:11008/threads:1"
filter+="|linear_s8s8_f32/(sqsim|onednn)/M:128/K:4096/N:4096/threads:1"
filter+="|gemm_f32/onednn/M:1/K:4096/N:11008/threads:(1|2)"
filter+="|linear_f32s4/sqsim/M:1/K:4096/N:11008/g:(64|128|256)/threads:(1|2)"
filter+="|linear_(f32|bf16)s4/sqsim/M:(1|16|128)/K:4096/N:4096/g:128/threads:1"
"$root/build/experiments/benchmarks/gemm_bench" --benchmark_min_time=0.1 --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_filter="$filter" \
  --benchmark_format=json --benchmark_out="$out/gemm_bench.json" --benchmark_out_format=json >/dev/null
python3 "$root/scripts/kernel-goals.py" "$out/gemm_bench.json" | tee "$out/goals.md"
