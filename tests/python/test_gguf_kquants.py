#!/usr/bin/env python3
"""Cross-checks sqsim's GGUF dequantizer against the gguf package's decoder.

1. Random blocks of every quantized type both sides know (Q4_0, Q4_1, Q5_0,
   Q5_1, Q8_0 made with gguf's own quantize; Q2_K..Q6_K, which gguf cannot
   quantize, as random bytes with finite random half scales) are written into
   a GGUF with GGUFWriter; `sqsim model-info --dump` must give the same
   float32 bits as gguf.quants.dequantize.
2. When models/gemma-3-270m-q4_k_m.gguf is present (scripts/fetch-gemma.sh):
   every Q4_K and Q6_K tensor and one tensor of each other type, likewise.
Exits 77 (skipped) when numpy/gguf or the sqsim binary are absent.
"""
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import gguf
    from gguf import GGMLQuantizationType as T
except ImportError as e:  # optional dependencies
    print(f"skipped: {e}")
    sys.exit(77)

SRC = os.environ.get("SQSIM_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.environ.get("SQSIM_BINARY", os.path.join(SRC, "build", "sqsim"))
GEMMA = os.path.join(os.environ.get("SQSIM_MODELS", os.path.join(SRC, "models")), "gemma-3-270m-q4_k_m.gguf")
if not os.path.exists(BIN):
    print(f"skipped: no sqsim binary at {BIN}")
    sys.exit(77)

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def sqsim_dump(path, name, tmp):
    out = os.path.join(tmp, "dump.f32")
    r = subprocess.run([BIN, "model-info", "--model", path, "--dump", name, "--out", out],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sqsim model-info --dump {name} failed: {r.stdout}{r.stderr}")
    return np.fromfile(out, dtype="<f4")


def same_bits(ours, ref, what):
    ref = np.ascontiguousarray(ref, dtype=np.float32).reshape(-1)
    if ours.shape != ref.shape:
        check(False, f"{what}: {ours.size} values, gguf gives {ref.size}")
        return
    diff = ours.view(np.uint32) != ref.view(np.uint32)
    n = int(diff.sum())
    detail = "" if n == 0 else f" ({n} differ, first at {int(np.argmax(diff))}: {ours[diff][0]} vs {ref[diff][0]})"
    check(n == 0, f"{what}: {ours.size} values bit-identical to gguf.quants.dequantize{detail}")


# Byte offsets of the half-precision scales inside each K-quant block.
HALF_FIELDS = {T.Q2_K: (80, 82), T.Q3_K: (108,), T.Q4_K: (0, 2), T.Q5_K: (0, 2), T.Q6_K: (208,)}


def random_k_blocks(qtype, rows, cols, rng):
    block, nbytes = gguf.GGML_QUANT_SIZES[qtype]
    b = rng.integers(0, 256, size=(rows * cols // block, nbytes), dtype=np.uint8)
    for at in HALF_FIELDS[qtype]:
        h = rng.uniform(-0.05, 0.05, size=b.shape[0]).astype(np.float16)
        b[:, at:at + 2] = h.view(np.uint8).reshape(-1, 2)
    return b.reshape(rows, -1)


def random_blocks():
    rng = np.random.default_rng(23)
    rows, cols = 6, 512
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "blocks.gguf")
        w = gguf.GGUFWriter(path, "llama")
        made = {}
        for qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
            x = rng.standard_normal((rows, cols)).astype(np.float32)
            x[0, :7] *= 40.0  # a few outliers
            made[qtype.name] = gguf.quants.quantize(x, qtype)
        for qtype in HALF_FIELDS:
            made[qtype.name] = random_k_blocks(qtype, rows, cols, rng)
        for name, data in made.items():
            w.add_tensor(name, data, raw_dtype=T[name])
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        for name, data in made.items():
            same_bits(sqsim_dump(path, name, tmp), gguf.quants.dequantize(data, T[name]), f"random {name} [{rows} x {cols}]")


def gemma_file():
    if not os.path.exists(GEMMA):
        print(f"skipped part 2: {GEMMA} absent (bash scripts/fetch-gemma.sh)")
        return
    r = gguf.GGUFReader(GEMMA)
    picked, seen = [], set()
    for t in r.tensors:
        kind = t.tensor_type
        if kind in (T.Q4_K, T.Q6_K) or (kind not in seen and t.name != "token_embd.weight"):
            picked.append(t)
            seen.add(kind)
    with tempfile.TemporaryDirectory() as tmp:
        for t in picked:
            ref = gguf.quants.dequantize(t.data, t.tensor_type)
            same_bits(sqsim_dump(GEMMA, t.name, tmp), ref, f"gemma {t.name} {t.tensor_type.name}")


random_blocks()
gemma_file()
if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
