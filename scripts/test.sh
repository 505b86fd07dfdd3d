#!/usr/bin/env bash
# README command (2): every test. Installs missing packages, builds, runs ctest.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SQSIM_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
SQSIM_BUILD_DIR="$build" "$root/scripts/build.sh"
cd "$build"
ctest --output-on-failure -j "$(nproc)"
