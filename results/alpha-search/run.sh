#!/usr/bin/env bash
# Choosing alpha automatically on SmolLM2-135M (results/alpha-search/README.md).
# Same settings as results/paper: first 16,384 WikiText-2 test tokens in windows
# of 2048, calibration 128 windows of 512 tokens of PTB valid (its last 16,384
# tokens held out for the global search), integer kernels.
#   bash results/alpha-search/run.sh      # from the repository root, after the build
set -euo pipefail
out=results/alpha-search
common=(--model models/SmolLM2-135M-Instruct.Q4_1.gguf --text ../shared/data/wikitext-2-raw/wiki.test.raw
        --max-tokens 16384 --calib-samples 128 --calib-seq-len 512 --json)
for preset in sq-o3 sq-o1; do
  ./build/sqsim ppl "${common[@]}" --quant "$preset" --alpha 0.5
  ./build/sqsim ppl "${common[@]}" --quant "$preset" --alpha per-layer --out "$out/$preset-per-layer" --force
  ./build/sqsim ppl "${common[@]}" --quant "$preset" --alpha search --alpha-grid 0:1:0.1
done
