#!/usr/bin/env bash
# Side-by-side perplexity runs of the float, W8A8 and W4A16 models on the same
# tokens (issue 21's ratios), back to back in one command:
#   experiments/benchmarks/forward_ppl_compare.sh [SQSIM] [THREADS...]
# SQSIM: the sqsim binary (default build/sqsim); THREADS: default "1 2".
# Env: PRESETS (default "fp sq-o1 sqplus-g128"), TOKENS (default 2048: one
# window of 2048), CALIB_SAMPLES (default 16: calibration windows of the
# smoothing presets; calibration is not timed, only the windows are).
# Prints, per thread count and preset, the wall seconds of the windows as sqsim
# reports them ("window i/n nll X, S s" on stderr), the NLL of window 1, and the
# ratio fp / preset (> 1: faster than float). The load average is printed
# first: on a shared machine the ratios are only comparable within one run.
set -euo pipefail
sqsim=${1:-build/sqsim}
shift || true
threads=("$@")
[ ${#threads[@]} -eq 0 ] && threads=(1 2)
presets=${PRESETS:-fp sq-o1 sqplus-g128}
tokens=${TOKENS:-2048}
calib=${CALIB_SAMPLES:-16}
model=${SQSIM_MODELS:-models}/SmolLM2-135M-Instruct.Q4_1.gguf
text=${SQSIM_DATA:-../shared/data}/wikitext-2-raw/wiki.test.raw
[ -x "$sqsim" ] || { echo "forward_ppl_compare: $sqsim: not an executable (expected the sqsim binary)" >&2; exit 2; }
echo "cpu: $(lscpu | grep 'Model name' | sed 's/.*: *//'); $(nproc) cores; $(uptime | sed 's/.*load/load/')"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "${threads[@]}"; do
  fp_s=""
  for q in $presets; do
    "$sqsim" ppl --model "$model" --text "$text" --seq-len 2048 --max-tokens "$tokens" --threads "$t" \
      --quant "$q" --calib-samples "$calib" >/dev/null 2>"$log" || { cat "$log" >&2; exit 1; }
    s=$(grep -o 'window [0-9]*/[0-9]* nll [0-9.]*, [0-9.]* s' "$log" | awk '{sum += $5} END {printf "%.2f", sum}')
    nll=$(grep -o 'window 1/[0-9]* nll [0-9.]*' "$log" | awk '{print $4}')
    [ -z "$fp_s" ] && fp_s=$s
    ratio=$(awk -v a="$fp_s" -v b="$s" 'BEGIN {printf "%.2f", a / b}')
    printf 'threads %s  %-12s windows %7s s  nll(window 1) %s  %s/%s %s\n' "$t" "$q" "$s" "$nll" \
      "$(echo $presets | cut -d' ' -f1)" "$q" "$ratio"
  done
done
echo "after: $(uptime | sed 's/.*load/load/')"
