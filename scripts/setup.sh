#!/usr/bin/env bash
# README command (1): install everything on a fresh Debian 12 machine, fetch the
# default model, build in Release, fetch Gemma 3 270M (optional), and run the
# main job on the defaults.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/fetch-model.sh"
"$root/scripts/build.sh"
# Gemma 3 270M Q4_K_M (253 MB, about 12 s on a loaded 2-core machine); its
# tensor table is checked with the sqsim just built. SQSIM_SKIP_GEMMA=1 skips it.
if [ "${SQSIM_SKIP_GEMMA:-0}" != 1 ]; then "$root/scripts/fetch-gemma.sh" "$root/build/sqsim"; fi
"$root/scripts/main-job.sh"
