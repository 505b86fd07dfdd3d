#!/usr/bin/env bash
# README command (2): every test. Installs missing packages, builds in Release
# and runs ctest; then builds the same tests with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/) and runs them again.
# SQSIM_SKIP_SANITIZE=1 skips the sanitizer pass (a quicker local loop).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SQSIM_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
# The real-model tests use SmolLM2's GGUF file; without it they skip.
"$root/scripts/fetch-model.sh" || echo "test: SmolLM2 model unavailable; its tests will be skipped" >&2
SQSIM_BUILD_DIR="$build" "$root/scripts/build.sh"
(cd "$build" && ctest --output-on-failure -j "$(nproc)")
if [ "${SQSIM_SKIP_SANITIZE:-0}" != "1" ]; then
  asan="$root/build-asan"
  cmake -S "$root" -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSQSIM_SANITIZE=ON \
    -DSQSIM_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build "$asan" -j "$(nproc)" >/dev/null
  echo "== the same tests under AddressSanitizer + UndefinedBehaviorSanitizer =="
  (cd "$asan" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j "$(nproc)")
fi
