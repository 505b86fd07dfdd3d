#!/usr/bin/env python3
"""Cross-checks sqsim's SentencePiece-style GGUF tokenizer against transformers.

The Gemma 3 270M GGUF (tokenizer.ggml.model = "llama", 262,144 tokens) is
loaded by transformers (AutoTokenizer.from_pretrained(..., gguf_file=...)) and
by sqsim (`sqsim tokenize --lines`, which needs no forward for the
architecture); both encode every line of the WikiText-2 raw test set (CRLF as
LF, no BOS) and the ids must be identical on every line. Also checks that
`sqsim tokenize --bos` prepends the file's BOS (<bos>, id 2).
Exits 77 (skipped) when transformers, the Gemma file
(bash scripts/fetch-gemma.sh) or WikiText-2 are absent.
"""
import os
import subprocess
import sys
import tempfile

try:
    from transformers import AutoTokenizer
    import gguf  # noqa: F401  (transformers' GGUF loader needs it)
except ImportError as e:  # optional dependencies
    print(f"skipped: {e}")
    sys.exit(77)

SRC = os.environ.get("SQSIM_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.environ.get("SQSIM_BINARY", os.path.join(SRC, "build", "sqsim"))
MODELS = os.environ.get("SQSIM_MODELS", os.path.join(SRC, "models"))
NAME = "gemma-3-270m-q4_k_m.gguf"
GEMMA = os.path.join(MODELS, NAME)
WIKI = os.path.join(os.environ.get("SQSIM_DATA", os.path.join(SRC, "..", "shared", "data")),
                    "wikitext-2-raw", "wiki.test.raw")
for path in (BIN, GEMMA, WIKI):
    if not os.path.exists(path):
        print(f"skipped: {path} absent")
        sys.exit(77)


def sqsim_ids(text_file, *flags):
    r = subprocess.run([BIN, "tokenize", "--model", GEMMA, "--text-file", text_file, *flags],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sqsim tokenize failed: {r.stdout}{r.stderr}")
    return [[int(x) for x in line.split()] for line in r.stdout.split("\n")[:-1]]


with open(WIKI, encoding="utf-8", newline="") as f:
    text = f.read().replace("\r\n", "\n")
lines = text.split("\n")
if lines[-1] == "":
    lines.pop()
tok = AutoTokenizer.from_pretrained(MODELS, gguf_file=NAME)
failures = []
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "lines.txt")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(lines) + "\n")
    ours = sqsim_ids(path, "--lines")
    if len(ours) != len(lines):
        raise SystemExit(f"sqsim gave {len(ours)} lines of ids for {len(lines)} lines")
    same = tokens = 0
    for k, line in enumerate(lines):
        ref = tok.encode(line, add_special_tokens=False)
        tokens += len(ref)
        if ours[k] == ref:
            same += 1
        elif len(failures) < 5:
            failures.append(f"line {k + 1} {line[:60]!r}: sqsim {ours[k][:12]} hf {ref[:12]}")
    print(f"{same} of {len(lines)} WikiText-2 test lines ({tokens} HF tokens) give identical ids "
          f"({100.0 * same / len(lines):.2f}%)")
    with open(path, "w", encoding="utf-8") as f:
        f.write("Hello world\n")
    bos = sqsim_ids(path, "--lines", "--bos")[0]
    if bos != [tok.bos_token_id] + tok.encode("Hello world", add_special_tokens=False) or bos[0] != 2:
        failures.append(f"--bos: {bos}")
for f in failures:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
