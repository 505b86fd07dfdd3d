#!/usr/bin/env bash
# Builds llama.cpp's perplexity and quantize tools OUTSIDE the repository, for
# scripts/compare-tools.py (issue 21's comparison with the tools a user would
# pick instead). The source is the llama.cpp copy vendored in the PyPI source
# package llama-cpp-python 0.3.36 (sha256 pinned below), the one source
# package of llama.cpp these machines can reach.
#   bash scripts/build-llama-cpp.sh [DIR]     # default ${SQSIM_EXT:-/tmp/sqsim-ext}
# Prints the build folder (pass it to compare-tools.py --llama-cpp).
set -euo pipefail
dir="${1:-${SQSIM_EXT:-/tmp/sqsim-ext}}"
version=0.3.36
sha=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
tarball="$dir/llama_cpp_python-$version.tar.gz"
mkdir -p "$dir"
if [ ! -f "$tarball" ]; then
  # The simple index (what pip reads): the JSON API answered 404 for this
  # release on 2026-12-07 while the simple index listed it.
  url="$(curl -sSf "https://pypi.org/simple/llama-cpp-python/" |
    grep -o "href=\"[^\"]*/llama_cpp_python-$version\.tar\.gz[^\"]*\"" | head -1 | sed 's/^href="//; s/[#"].*$//')"
  [ -n "$url" ] || { echo "build-llama-cpp: no sdist of llama-cpp-python $version in PyPI's simple index" >&2; exit 1; }
  case "$url" in ../../packages/*) url="https://files.pythonhosted.org/packages/${url#../../packages/}";; esac
  curl -sSL -o "$tarball.part" "$url"
  mv "$tarball.part" "$tarball"
fi
echo "$sha  $tarball" | sha256sum -c --quiet || { echo "build-llama-cpp: $tarball: sha256 differs from $sha" >&2; exit 1; }
src="$dir/llama_cpp_python-$version/vendor/llama.cpp"
[ -d "$src" ] || tar xzf "$tarball" -C "$dir"
cmake -S "$src" -B "$dir/llama-build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
cmake --build "$dir/llama-build" -j"$(nproc)" --target llama-perplexity llama-quantize >/dev/null
echo "$dir/llama-build"
