#!/usr/bin/env bash
# The MPI scaling check of docs/mpi.md: the main job's sweep (210 real layers
# of SmolLM2-135M x 36 configurations) and a 16-window perplexity
# (SmoothQuant-O1, 16 x 2048 tokens of WikiText-2 test), each run back to back
# as 1 rank x 2 threads and as 2 ranks x 1 thread, outputs compared byte for
# byte (but for wall times), times and gathered bytes printed.
#   bash scripts/mpi-scaling.sh [WORKDIR]     (default /tmp/sqsim-mpi-scaling)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SQSIM_BUILD_DIR:-$root/build}"
work="${1:-/tmp/sqsim-mpi-scaling}"
model="${SQSIM_MODELS:-$root/models}/SmolLM2-135M-Instruct.Q4_1.gguf"
data="${SQSIM_DATA:-$root/../shared/data}"
mpirun=(mpirun --oversubscribe --allow-run-as-root -n 2)
mkdir -p "$work"
cd "$work"
traces="$work/smollm2-ptb-valid.h5"
[ -f "$traces" ] || "$build/sqsim" trace --model "$model" --text "$data/ptb/ptb.valid.txt" --tokens 256 --windows 8 \
  --seq-len 512 --out "$traces" --threads 2 2>/dev/null
lscpu | grep "Model name"
timed() {  # label, then the command; prints the wall seconds
  local label="$1"; shift
  local t0 t1
  t0=$(date +%s.%N)
  "$@" > "$label.log" 2>&1
  t1=$(date +%s.%N)
  printf '%-28s %8.1f s\n' "$label" "$(echo "$t1 - $t0" | bc)"
}
sweep=(sweep --config "$root/experiments/configs/real-sweep.cfg" --traces "$traces" --force)
rm -rf s1 s2 p1 p2
mkdir -p s1 s2 p1 p2
(cd s1 && timed ../sweep-1x2 "$build/sqsim" "${sweep[@]}" --out out --threads 2)
(cd s2 && timed ../sweep-2x1 "${mpirun[@]}" "$build/sqsim" "${sweep[@]}" --out out --threads 1)
cmp s1/out/results.csv s2/out/results.csv && echo "sweep: results.csv identical"
grep "gathered" sweep-2x1.log || true
ppl=(ppl --model "$model" --text "$data/wikitext-2-raw/wiki.test.raw" --seq-len 2048 --max-tokens 32768
  --quant sq-o1 --calib-text "$data/ptb/ptb.valid.txt" --calib-samples 32 --force)
(cd p1 && timed ../ppl-1x2 "$build/sqsim" "${ppl[@]}" --out out --threads 2)
(cd p2 && timed ../ppl-2x1 "${mpirun[@]}" "$build/sqsim" "${ppl[@]}" --out out --threads 1)
diff <(cut -d, -f1-8 p1/out/results.csv) <(cut -d, -f1-8 p2/out/results.csv) && echo "ppl: results.csv identical but for seconds"
grep "gathered" ppl-2x1.log || true
grep -h "perplexity" ppl-1x2.log ppl-2x1.log || true
