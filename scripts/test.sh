#!/usr/bin/env bash
# README command (2): every test. Installs missing packages, builds in Release
# and runs ctest; then builds the same tests with AddressSanitizer and
# UndefinedBehaviorSanitizer (build-asan/) and runs them again, all but the
# long end-to-end ones named in tests/long-under-sanitizers.txt (why: there).
# SQSIM_SKIP_SANITIZE=1 skips the sanitizer pass (a quicker local loop);
# SQSIM_SANITIZE_ALL=1 runs every test under the sanitizers (51 min for
# that pass when it was built at -O2, Xeon model 207).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${SQSIM_BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
# The real-model tests use SmolLM2's GGUF file; without it they skip.
"$root/scripts/fetch-model.sh" || echo "test: SmolLM2 model unavailable; its tests will be skipped" >&2
SQSIM_BUILD_DIR="$build" "$root/scripts/build.sh"
t0=$(date +%s)
(cd "$build" && ctest --output-on-failure -j "$(nproc)")
echo "test: Release ctest took $(($(date +%s) - t0)) s" >&2
if [ "${SQSIM_SKIP_SANITIZE:-0}" != "1" ]; then
  asan="$root/build-asan"
  # -O1, as AddressSanitizer's documentation advises for tests
  cmake -S "$root" -B "$asan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g -DNDEBUG" \
    -DSQSIM_SANITIZE=ON -DSQSIM_BUILD_BENCHMARKS=OFF >/dev/null
  t0=$(date +%s)
  cmake --build "$asan" -j "$(nproc)" >/dev/null
  echo "test: the sanitizer build took $(($(date +%s) - t0)) s" >&2
  exclude=() which="every test"
  if [ "${SQSIM_SANITIZE_ALL:-0}" != "1" ]; then
    names="$(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$root/tests/long-under-sanitizers.txt")"
    # a renamed test would silently run again under the sanitizers: say so
    listed="$(cd "$asan" && ctest -N | sed -n 's/^ *Test *#[0-9]*: //p')"
    for n in $names; do
      grep -qxF "$n" <<<"$listed" || echo "test: tests/long-under-sanitizers.txt names '$n', which is no test" >&2
    done
    # ^(A|B|...)$; a '.' in a name matches itself too
    exclude=(-E "^($(paste -sd '|' <<<"$names"))\$") which="all but tests/long-under-sanitizers.txt"
  fi
  echo "== the same tests under AddressSanitizer + UndefinedBehaviorSanitizer ($which) =="
  t0=$(date +%s)
  (cd "$asan" && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j "$(nproc)" "${exclude[@]}")
  echo "test: ctest under the sanitizers took $(($(date +%s) - t0)) s" >&2
fi
