#!/usr/bin/env bash
# The main job on the default model (SmolLM2-135M-Instruct), writing into out/
# (git-ignored):
#  1. trace: the float model runs over PTB valid (calibration text, never
#     evaluated); every linear layer's weight, 256 input rows and its input
#     absmax over all 8 x 512 tokens go to out/smollm2-ptb-valid.h5;
#  2. outliers: per-layer activation outlier report of those traces;
#  3. sweep: alpha x bit widths x granularities over the 210 real layers,
#     through the integer GEMM (AVX-512 VNNI where the CPU has it);
#  4. ppl: float and SmoothQuant-O1 / SmoothQuant+ g128 perplexity on the first
#     8192 tokens of WikiText-2 test (calibrated on PTB valid).
# The paper-style tables are `sqsim paper-tables` (results/paper/README.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SQSIM_BUILD_DIR:-$root/build}"
out="${SQSIM_OUT_DIR:-$root/out}"
model="${SQSIM_MODEL:-${SQSIM_MODELS:-$root/models}/SmolLM2-135M-Instruct.Q4_1.gguf}"
data="${SQSIM_DATA:-$root/../shared/data}"
threads="$(nproc)"
mkdir -p "$out"
"$build/sqsim" info
"$build/sqsim" trace --model "$model" --text "$data/ptb/ptb.valid.txt" --tokens 256 --windows 8 --seq-len 512 \
  --out "$out/smollm2-ptb-valid.h5" --force --threads "$threads"
"$build/sqsim" outliers --traces "$out/smollm2-ptb-valid.h5" --out "$out/outliers" --force
"$build/sqsim" sweep --config "$root/experiments/configs/real-sweep.cfg" \
  --traces "$out/smollm2-ptb-valid.h5" --out "$out/sweep" --force --threads "$threads"
for q in fp sq-o1 sqplus-g128; do
  "$build/sqsim" ppl --model "$model" --text "$data/wikitext-2-raw/wiki.test.raw" --seq-len 2048 \
    --max-tokens 8192 --quant "$q" --calib-text "$data/ptb/ptb.valid.txt" --calib-samples 32 \
    --threads "$threads" --json | tee -a "$out/ppl.jsonl"
done
echo "main job: reports in $out/sweep (summary.md, results.csv, *.svg), $out/outliers, $out/ppl.jsonl"
