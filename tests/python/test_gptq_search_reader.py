"""The reference driver's reader of sqsim's saved GPTQ search
(scripts/awq-gptq-reference.py: read_sqsim_gptq, sqsim_weight_hf_order,
code_agreement), used for the block-by-block comparison with gptq.py.

A file is written here byte by byte from the layout that
sim/eval/weight_search_file.h documents (magic line, u64 lengths, raw
little-endian values; one AWQ group and one clip before the GPTQ layers, so
the reader must skip them), with hand-chosen codes; the dequantized weights
must be float32 (code - zp) * scale; the q/k rows must come back in
transformers' order (llama.cpp's converter interleaves each head's two
halves; checked against transformers' own GGUF loader where it imports, and
against a hand-written 2-head example); a weight half a step away counts as
a different code. Exits 77 (skipped) without numpy.
"""
import importlib.util
import os
import struct
import sys
import tempfile

try:
    import numpy as np
except ImportError:
    print("numpy not installed: skipped")
    sys.exit(77)

ROOT = os.environ.get("SQSIM_SOURCE_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def load_driver():
    try:
        import torch  # noqa: F401  (the driver imports it at the top)
    except ImportError:
        print("torch not installed (the driver imports it): skipped")
        sys.exit(77)
    spec = importlib.util.spec_from_file_location("drv", os.path.join(ROOT, "scripts", "awq-gptq-reference.py"))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def u64(v):
    return struct.pack("<Q", v)


def string(s):
    b = s.encode()
    return u64(len(b)) + b


def counted(fmt, values):
    return u64(len(values)) + struct.pack("<" + fmt * len(values), *values)


class Model:
    def __init__(self, heads, kv_heads):
        self.config = type("C", (), {"num_attention_heads": heads, "num_key_value_heads": kv_heads})


def main():
    drv = load_driver()
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print("FAIL:", what)

    # A 4 x 6 layer with groups of 4 (2 groups, the last one narrower).
    rows, cols, group = 4, 6, 4
    codes = [(3 * r + 5 * c) % 16 for r in range(rows) for c in range(cols)]
    scales = [0.5, 0.25, 1.0, 0.125, 2.0, 0.75, 0.375, 1.5]  # [row][group]
    zps = [8, 7, 0, 15, 3, 9, 12, 1]
    body = b"sqsim-weight-search 1\n" + string("key line 1\nkey line 2") + u64(2)
    body += u64(1) + string("model.layers.0.input_layernorm") + u64(1) + u64(1) + string("x.q_proj")
    body += counted("f", [0.25]) + u64(0) + counted("f", [1.0, 2.0]) + counted("d", [3.0])
    body += u64(1) + string("x.v_proj") + u64(1) + counted("f", [0.5, 0.5])
    body += u64(2)
    for name in ("model.layers.0.self_attn.q_proj", "model.layers.0.mlp.up_proj"):
        body += string(name) + u64(rows) + u64(cols) + u64(4) + u64(group)
        body += counted("f", scales) + counted("i", zps) + u64(len(codes)) + bytes(codes) + counted("d", [1.5])
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "gptq-g4.search")
        with open(path, "wb") as f:
            f.write(body)
        got = drv.read_sqsim_gptq(path)
        with open(path, "ab") as f:
            f.write(b"\0")
        try:
            drv.read_sqsim_gptq(path)
            check(False, "a trailing byte is refused")
        except SystemExit as e:
            check("trailing" in str(e), f"the trailing-byte error names the problem: {e}")
    check(sorted(got) == ["model.layers.0.mlp.up_proj", "model.layers.0.self_attn.q_proj"], f"layers {sorted(got)}")

    # Dequantized by hand: (code - zp) * scale, float32, group = column // 4.
    want = np.zeros((rows, cols), np.float32)
    for r in range(rows):
        for c in range(cols):
            g = c // group
            want[r, c] = np.float32(codes[r * cols + c] - zps[r * 2 + g]) * np.float32(scales[r * 2 + g])
    deq, step = drv.sqsim_weight_hf_order(Model(2, 2), "mlp.up_proj", got["model.layers.0.mlp.up_proj"])
    check(deq.dtype == np.float32 and np.array_equal(deq, want), "up_proj dequantized as (code - zp) * scale")
    check(step[1, 5] == np.float32(scales[3]) and step[2, 0] == np.float32(scales[4]), "per-weight step = its group's scale")

    # q_proj, 8 rows = 2 heads of 4: in the GGUF file each head's rows are
    # (pair 0 of half 0, pair 0 of half 1, pair 1 of half 0, ...): llama.cpp's
    # interleaved RoPE; transformers' rows of a head are half 0 then half 1,
    # so rows 0 2 1 3 of each head.
    r8 = 8
    codes8 = [(r * 7 + c) % 16 for r in range(r8) for c in range(cols)]
    entry = (np.array(codes8, np.int32).reshape(r8, cols), np.ones((r8, 2), np.float32),
             np.zeros((r8, 2), np.int32), group)
    deq_q, _ = drv.sqsim_weight_hf_order(Model(2, 2), "self_attn.q_proj", entry)
    gguf_rows = np.array(codes8, np.float32).reshape(r8, cols)
    check(np.array_equal(deq_q, gguf_rows[[0, 2, 1, 3, 4, 6, 5, 7]]), "q rows in transformers' order (hand example)")
    try:
        import transformers.modeling_gguf_pytorch_utils as gguf_utils
        procs = [c for c in vars(gguf_utils).values()
                 if isinstance(c, type) and hasattr(c, "_reverse_permute_weights")]
        if procs:
            hf = procs[0]()._reverse_permute_weights(gguf_rows, 2, 2)
            check(np.array_equal(deq_q, hf), "q rows as transformers' GGUF loader orders them")
            k_entry = (entry[0], entry[1], entry[2], group)
            deq_k, _ = drv.sqsim_weight_hf_order(Model(4, 2), "self_attn.k_proj", k_entry)
            check(np.array_equal(deq_k, procs[0]()._reverse_permute_weights(gguf_rows, 4, 2)),
                  "k rows (2 key/value heads) as transformers' GGUF loader orders them")
            print("checked against transformers'", procs[0].__name__)
    except ImportError:
        print("transformers not installed: hand example only")

    # Agreement: a weight 0.6 step away is another code, 0.4 step away the same.
    ref = want.copy()
    ref[0, 0] += 0.6 * scales[0]
    ref[1, 5] += 0.4 * scales[3]
    a = drv.code_agreement(ref, want, step)
    check(abs(a["differ"] - 1 / (rows * cols)) < 1e-12, f"one code of {rows * cols} differs: {a}")

    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
