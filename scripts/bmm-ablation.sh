#!/usr/bin/env bash
# Attention BMM schemes and their operands one at a time (issue 24), on the
# tokens of the comparison with mit-han-lab/smoothquant: SmolLM2-135M, the
# first 8 x 2048 tokens of WikiText-2 test, calibration 32 x 512 tokens of PTB
# valid (seed 0, holdout 16384), alpha 0.85, per-channel int8 weights and
# per-token int8 activations (preset sq-w8a8-pc), integer kernels.
# One `sqsim ppl --json` line per row into $out/runs.jsonl; rows already there
# are skipped, so a stopped run continues. Then the table: scripts/bmm-table.py.
#   scripts/bmm-ablation.sh [out-dir]     (default results/bmm-schemes)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SQSIM_BUILD_DIR:-$root/build}"
out="${1:-$root/results/bmm-schemes}"
data="${SQSIM_DATA:-$root/../shared/data}"
mkdir -p "$out"
runs="$out/runs.jsonl"
touch "$runs"
common=(--quant sq-w8a8-pc --alpha 0.85 --text "$data/wikitext-2-raw/wiki.test.raw" --max-tokens 16384
        --seq-len 2048 --calib-text "$data/ptb/ptb.valid.txt" --calib-samples 32 --calib-seq-len 512 --json)
# label | options
rows=(
  "off|--bmm off"
  "mit-fake|--bmm mit-fake"
  "int8-real|--bmm int8-real"
  "Q alone (after RoPE, per head)|--bmm int8-real --bmm-operands q"
  "K alone (after RoPE, per head)|--bmm int8-real --bmm-operands k"
  "V alone (per head)|--bmm int8-real --bmm-operands v"
  "P alone, s8 (1/127)|--bmm int8-real --bmm-operands p"
  "P alone, u8 (1/255)|--bmm int8-real --bmm-operands p --bmm-p u8"
  "int8-real with P float|--bmm int8-real --bmm-operands q,k,v"
  "Q, K, V after RoPE per token, P float|--bmm int8-real --bmm-operands q,k,v --bmm-granularity token"
)
# More rows for a later run (not in results/bmm-schemes yet):
#  "int8-real with P u8|--bmm int8-real --bmm-p u8"
#  "int8-real per token|--bmm int8-real --bmm-granularity token"
#  "mit-fake with P s8|--bmm mit-fake --bmm-operands q,k,v,p"
for row in "${rows[@]}"; do
  label="${row%%|*}"
  opts="${row#*|}"
  if grep -qF "\"label\": \"$label\"" "$runs"; then continue; fi
  echo "[bmm-ablation $(date +%H:%M:%S)] $label: sqsim ppl ${common[*]} $opts" >&2
  # shellcheck disable=SC2086
  line="$("$build/sqsim" ppl "${common[@]}" $opts | tail -1)"
  printf '{"label": "%s", "options": "%s", %s\n' "$label" "$opts" "${line#\{}" >> "$runs"
done
