#!/usr/bin/env bash
# The main job on the defaults. Until the model loader lands (issue "Real
# models"), it is the synthetic-layer alpha sweep: a 576x576 layer shaped like
# SmolLM2-135M's attention projections, with planted outlier channels, W8A8
# per-tensor through the integer GEMM emulation.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SQSIM_BUILD_DIR:-$root/build}"
"$build/sqsim" info
"$build/sqsim" layer-error --alpha none,0:1:0.1
