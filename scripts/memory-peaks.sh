#!/usr/bin/env bash
# Peak resident memory (/usr/bin/time -v, "Maximum resident set size") of
# each step of the README's main job (scripts/main-job.sh) and of a float
# `sqsim ppl` of two 2048-token windows, one line per step:
#   step  peak_MiB  wall_s
# Outputs go to $SQSIM_OUT_DIR (default: a temporary folder); the binary is
# $SQSIM_BUILD_DIR/sqsim (default build/). STEPS picks steps (default all):
# ppl2 trace outliers sweep fp sq-o1 sqplus-g128. docs/memory.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SQSIM_BUILD_DIR:-$root/build}"
out="${SQSIM_OUT_DIR:-$(mktemp -d)}"
model="${SQSIM_MODEL:-${SQSIM_MODELS:-$root/models}/SmolLM2-135M-Instruct.Q4_1.gguf}"
data="${SQSIM_DATA:-$root/../shared/data}"
threads="${SQSIM_THREADS:-$(nproc)}"
steps="${STEPS:-ppl2 trace outliers sweep fp sq-o1 sqplus-g128}"
mkdir -p "$out"
peak() {  # name, command...: runs it, prints name, peak MiB, wall seconds
  local name="$1"; shift
  /usr/bin/time -v -o "$out/$name.time" "$@" > "$out/$name.out" 2> "$out/$name.err"
  awk -v n="$name" '/Maximum resident/ {kb=$6} /Elapsed \(wall/ {split($8,t,":"); s=(length(t)==3)?t[1]*3600+t[2]*60+t[3]:t[1]*60+t[2]}
    END {printf "%-12s %8.1f MiB %8.1f s\n", n, kb/1024, s}' "$out/$name.time"
}
for s in $steps; do
  case "$s" in
    ppl2) peak ppl2 "$build/sqsim" ppl --model "$model" --text "$data/wikitext-2-raw/wiki.test.raw" --seq-len 2048 \
            --max-tokens 4096 --threads "$threads" ;;
    trace) peak trace "$build/sqsim" trace --model "$model" --text "$data/ptb/ptb.valid.txt" --tokens 256 --windows 8 \
             --seq-len 512 --out "$out/smollm2-ptb-valid.h5" --force --threads "$threads" ;;
    outliers) peak outliers "$build/sqsim" outliers --traces "$out/smollm2-ptb-valid.h5" --out "$out/outliers" --force ;;
    sweep) peak sweep "$build/sqsim" sweep --config "$root/experiments/configs/real-sweep.cfg" \
             --traces "$out/smollm2-ptb-valid.h5" --out "$out/sweep" --force --threads "$threads" ;;
    fp|sq-o1|sqplus-g128) peak "$s" "$build/sqsim" ppl --model "$model" --text "$data/wikitext-2-raw/wiki.test.raw" \
             --seq-len 2048 --max-tokens 8192 --quant "$s" --calib-text "$data/ptb/ptb.valid.txt" --calib-samples 32 \
             --threads "$threads" --json ;;
    *) echo "memory-peaks.sh: unknown step '$s' (expected ppl2 trace outliers sweep fp sq-o1 sqplus-g128)" >&2; exit 2 ;;
  esac
done
