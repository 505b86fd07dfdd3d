#!/usr/bin/env bash
# Runs one libFuzzer harness for a given time (docs/robustness.md):
#   scripts/fuzz.sh NAME SECONDS [extra libFuzzer flags...]
# NAME is one of tests/fuzz/fuzz_<NAME>.cpp (gguf, tokenizer, config, trace,
# safetensors).
# Extra flags go to libFuzzer, e.g. -fork=1 -ignore_ooms=1 to go on past an
# out-of-memory inside libhdf5 (docs/robustness.md, trace).
# Configures and builds build-fuzz/ with clang 14 (-DSQSIM_FUZZ=ON), copies the
# seed corpus tests/fuzz/corpus/NAME to a scratch folder (the repository is
# never modified), runs one process (one core; the same as -jobs=1 -workers=1 without the log redirection), and prints the executions, the
# corpus growth and any crash files. Exit status: 0 when nothing was found.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
name="${1:?usage: scripts/fuzz.sh NAME SECONDS [libFuzzer flags]}"
seconds="${2:?usage: scripts/fuzz.sh NAME SECONDS [libFuzzer flags]}"
shift 2
[ -f "$root/tests/fuzz/fuzz_$name.cpp" ] || { echo "fuzz: no harness tests/fuzz/fuzz_$name.cpp" >&2; exit 2; }
cxx="${SQSIM_FUZZ_CXX:-clang++-14}"
cc="${SQSIM_FUZZ_CC:-clang-14}"
command -v "$cxx" >/dev/null || { echo "fuzz: $cxx not found (apt-get install -y clang-14 libclang-rt-14-dev)" >&2; exit 2; }
build="${SQSIM_FUZZ_BUILD_DIR:-$root/build-fuzz}"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S "$root" -B "$build" -DSQSIM_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" "${launcher[@]}" >/dev/null
cmake --build "$build" --target "fuzz_$name" -j "${SQSIM_FUZZ_BUILD_JOBS:-2}" >/dev/null

work="${SQSIM_FUZZ_WORK:-$(mktemp -d /tmp/sqsim-fuzz-$name.XXXXXX)}"
mkdir -p "$work/corpus" "$work/crashes"
cp -r "$root/tests/fuzz/corpus/$name/." "$work/corpus/"
seeds=$(ls "$work/corpus" | wc -l)
echo "fuzz: $name for $seconds s, $seeds seed files, work folder $work"
# libhdf5 has no frame pointers: unwind it the slow way so that the leak
# suppressions (tests/fuzz/lsan.supp, matched on HDF5 function names) apply.
asan="detect_leaks=1:allocator_may_return_null=0"
[ "$name" = trace ] && asan="$asan:fast_unwind_on_malloc=0"
set +e
(cd "$work" && ASAN_OPTIONS="$asan" UBSAN_OPTIONS="print_stacktrace=1" \
  LSAN_OPTIONS="suppressions=$root/tests/fuzz/lsan.supp:print_suppressions=0" \
  "$build/tests/fuzz/fuzz_$name" -max_total_time="$seconds" -rss_limit_mb=2048 \
  -max_len="${SQSIM_FUZZ_MAX_LEN:-16384}" -timeout=20 -print_final_stats=1 -artifact_prefix="$work/crashes/" \
  "$@" corpus) 2>&1 | tee "$work/fuzz.log" | grep -E "^#[0-9]+[[:space:]]+(INITED|DONE)|ERROR|SUMMARY|stat::|Test unit written|^Done" 
rc=${PIPESTATUS[0]}
set -e
# -fork=1 (keep going after a crash or out-of-memory) reports in its own format.
grep -E "^#[0-9]+: cov" "$work/fuzz.log" | tail -1 || true
found=$(ls "$work/crashes" | wc -l)
echo "fuzz: $name: exit $rc, corpus $seeds -> $(ls "$work/corpus" | wc -l) files, $found finding(s) in $work/crashes"
[ "$rc" -eq 0 ] && [ "$found" -eq 0 ]
