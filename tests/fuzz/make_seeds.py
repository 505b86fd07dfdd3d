#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses into tests/fuzz/corpus/<name>/.

Seeds are small valid inputs (so the fuzzer starts past the headers) written
from scratch here; rerun after changing a format. Needs numpy and h5py.
"""
import json as _json
import os
import struct

import h5py
import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def out(name, fname, data):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data)


# ---- GGUF ----
def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, t, payload):
    return s(key) + struct.pack("<I", t) + payload


def gguf(kvs, tensors, version=3, align=32):
    b = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs)) + b"".join(kvs)
    off, offs = 0, []
    for name, dims, typ, data in tensors:
        b += s(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        b += struct.pack("<IQ", typ, off)
        offs.append(off)
        off = (off + len(data) + align - 1) // align * align
    b += b"\0" * (-len(b) % align)
    start = len(b)
    for (_, _, _, data), o in zip(tensors, offs):
        b += b"\0" * (start + o - len(b)) + data
    return b


rng = np.random.default_rng(7)
f32 = rng.standard_normal(8).astype("<f4").tobytes()
f16 = rng.standard_normal(8).astype("<f2").tobytes()
q8_0 = np.float16(0.05).tobytes() + rng.integers(-128, 127, 32, dtype=np.int8).tobytes()
q4_0 = np.float16(0.1).tobytes() + rng.integers(0, 255, 16, dtype=np.uint8).tobytes()
q4_1 = np.float16(0.1).tobytes() + np.float16(-0.5).tobytes() + rng.integers(0, 255, 16, dtype=np.uint8).tobytes()
q6_k = rng.integers(0, 255, 210, dtype=np.uint8).tobytes()
meta = [
    kv("general.architecture", 8, s("llama")),
    kv("general.alignment", 4, struct.pack("<I", 32)),
    kv("llama.block_count", 4, struct.pack("<I", 1)),
    kv("llama.rope.freq_base", 6, struct.pack("<f", 10000.0)),
    kv("flag", 7, b"\1"),
    kv("i64", 11, struct.pack("<q", -5)),
    kv("f64", 12, struct.pack("<d", 2.5)),
    kv("nested", 9, struct.pack("<IQ", 9, 1) + struct.pack("<IQ", 0, 2) + b"\1\2"),
]
tok = [
    kv("tokenizer.ggml.model", 8, s("gpt2")),
    kv("tokenizer.ggml.pre", 8, s("smollm")),
    kv("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 5) + s("<|endoftext|>") + s("a") + s("b") + s("ab") + s("\u0120")),
    kv("tokenizer.ggml.token_type", 9, struct.pack("<IQ", 5, 5) + struct.pack("<5i", 3, 1, 1, 1, 1)),
    kv("tokenizer.ggml.merges", 9, struct.pack("<IQ", 8, 1) + s("a b")),
    kv("tokenizer.ggml.add_bos_token", 7, b"\0"),
]
out("gguf", "metadata_only.gguf", gguf(meta, []))
out("gguf", "f32_f16.gguf", gguf(meta[:2], [("w", [4, 2], 0, f32), ("h", [8], 1, f16)]))
out("gguf", "quantized.gguf", gguf(meta[:1], [("q8", [32], 8, q8_0), ("q40", [32], 2, q4_0), ("q41", [32], 3, q4_1)]))
out("gguf", "q6_k.gguf", gguf([], [("k", [256], 14, q6_k)], version=2))
out("gguf", "tokenizer.gguf", gguf(tok, [("w", [2], 0, f32[:8])]))

# ---- traces (mode byte: even = raw HDF5 file) ----
def trace_file(path, layers, version=1, model="seed"):
    with h5py.File(path, "w", track_order=False) as f:
        f.attrs["sqsim_trace_version"] = np.int64(version)
        f.attrs["model"] = model
        g = f.create_group("layers")
        for name, (w, x, b, am, grp) in layers.items():
            lg = g.create_group(name)
            lg["weight"] = w.astype("<f4")
            lg["input"] = x.astype("<f4")
            if b is not None:
                lg["bias"] = b.astype("<f4")
            if am is not None:
                lg["input_absmax"] = am.astype("<f4")
            if grp:
                lg.attrs["smooth_group"] = grp


tmp = "/tmp/sqsim-seed-trace.h5"
w = rng.standard_normal((3, 4))
x = rng.standard_normal((2, 4))
trace_file(tmp, {"q": (w, x, None, None, "g0"), "k": (w, x, rng.standard_normal(3), np.abs(x).max(0), "g0")})
out("trace", "raw_two_layers", b"\0" + open(tmp, "rb").read())
trace_file(tmp, {"fc": (w.astype(np.float16), x, None, None, "")})
out("trace", "raw_one_layer", b"\0" + open(tmp, "rb").read())
os.remove(tmp)
for i in range(4):  # mode byte odd: structured
    out("trace", f"structured_{i}", b"\1" + rng.integers(0, 256, 64 + 64 * i, dtype=np.uint8).tobytes())

# ---- config files ----
out("config", "sweep.cfg", b"# sweep\nalpha = none,0:1:0.5\nw-bits = 8,4\nthreads = 2\n")
out("config", "all_types.cfg", b"traces = t.h5\nlayers = a*,b\nmax-tokens = 100\nseed = 7\nw-symmetric = false\n"
    b"resume = true\nscale = 0.5\n")
out("config", "section.cfg", b"[section]\nalpha = 0.5\n\nalpha = 0.25:0.75:0.25\n")

# ---- tokenizer (mode byte: even = text for the real vocabulary) ----
out("tokenizer", "text_ascii", b"\0Hello world, it's 2024! <|endoftext|> x\n\n  y")
out("tokenizer", "text_utf8", b"\0" + "caf\u00e9 \u4e2d\u6587 \U0001F600 \u00a0\t".encode() + b"\xff\xc3")
out("tokenizer", "text_digits", b"\0" + b"12345 3.14 1,000,000 '''s 've")
vocab = ("sqsim-bpe-vocab 1 pre=smollm count=6\n3\t<|endoftext|>\n1\ta\n1\tb\n1\tab\n1\t\u0120\n1\t\\n\n").encode()
merges = b"sqsim-bpe-merges 1 count=1\na b\n"
out("tokenizer", "files_small", b"\1" + vocab + b"\0" + merges + b"\0ab abab\n")
vocab2 = b"sqsim-bpe-vocab 1 pre=gpt2 count=3\n1\tx\n1\ty\n1\txy\n"
out("tokenizer", "files_gpt2", b"\1" + vocab2 + b"\0" + b"sqsim-bpe-merges 1 count=1\nx y\n" + b"\0xyxy yx")

# ---- safetensors + JSON (mode byte: 0 = JSON, 1 = whole file, 2 = header) ----


def safetensors(tensors, metadata=None):
    hdr, blob = {}, b""
    for name, dtype, shape, raw in tensors:
        hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    if metadata:
        hdr["__metadata__"] = metadata
    h = _json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


st = safetensors([("w", "F32", [2, 3], rng.standard_normal(6).astype("<f4").tobytes()),
                  ("b", "F16", [3], rng.standard_normal(3).astype("<f2").tobytes()),
                  ("h", "BF16", [4], b"\x80\x3f" * 4)], {"format": "pt"})
out("safetensors", "file_three_tensors", b"\1" + st)
out("safetensors", "header_only", b"\2" + st[8:8 + struct.unpack("<Q", st[:8])[0]])
out("safetensors", "json_config", b"\0" + _json.dumps({"architectures": ["LlamaForCausalLM"], "hidden_size": 64,
    "rms_norm_eps": 1e-5, "tie_word_embeddings": True, "rope_scaling": None, "x": [1, -2.5e3, "\u00e9\ud83d\ude00"]}).encode())
out("safetensors", "json_escapes", b"\0" + b'{"a":"\\u0041\\n\\t\\"\\\\","b":[[],{}],"c":-0.0e+1}')
