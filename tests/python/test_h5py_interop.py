"""HDF5 interoperability and an independent numpy check of the sweep's numbers.

Optional: exits 77 (ctest: skipped) when h5py or numpy is absent.
- a file written by h5py (float16 weights, gzip + shuffle, chunks) is read by sqsim;
- a file written by sqsim is read by h5py;
- W8A8 (per-tensor weights, per-token dynamic activations, no smoothing) output
  error of sqsim sweep equals a numpy float64 emulation of docs/quantization.md;
- smoothing factors follow the formula (alpha 0.5 result equals numpy's).
"""
import csv
import os
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError:
    print("h5py/numpy not installed: skipped")
    sys.exit(77)

SQSIM = os.environ.get("SQSIM_BINARY", "build/sqsim")


def run(*args):
    r = subprocess.run([SQSIM, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sqsim {' '.join(args)} failed: {r.stderr}")
    return r.stdout


def quantize_sym(x, absmax, bits=8):
    qmax = 2 ** (bits - 1) - 1
    scale = np.maximum(absmax, 1e-5).astype(np.float32) / np.float32(qmax)
    q = np.clip(np.round(x.astype(np.float32) / scale), -qmax - 1, qmax)
    return q.astype(np.float64) * scale.astype(np.float64)


def main():
    rng = np.random.default_rng(0)
    tmp = tempfile.mkdtemp(prefix="sqsim_h5py_")
    path = os.path.join(tmp, "traces.h5")
    x = rng.standard_normal((64, 128)).astype(np.float32)
    x[:, 7] *= 60
    w = (rng.standard_normal((96, 128)) * 0.05).astype(np.float16)
    with h5py.File(path, "w") as f:
        f.attrs["sqsim_trace_version"] = 1
        f.attrs["model"] = "h5py-example"
        g = f.create_group("layers/model.layers.0.mlp.up_proj")
        g.create_dataset("weight", data=w, chunks=(16, 32), compression="gzip", shuffle=True)
        g.create_dataset("input", data=x, chunks=True, compression="gzip")
        g.attrs["smooth_group"] = "model.layers.0.mlp"

    out = os.path.join(tmp, "sweep")
    run("sweep", "--traces", path, "--out", out, "--alpha", "none,0.5",
        "--w-granularity", "per-tensor", "--a-granularity", "per-token")
    rows = list(csv.DictReader(open(os.path.join(out, "results.csv"))))
    assert len(rows) == 2, rows

    wf = w.astype(np.float32)
    y = x.astype(np.float64) @ wf.astype(np.float64).T

    def emulate(xs, ws):
        xq = quantize_sym(xs, np.abs(xs).max(axis=1, keepdims=True))
        wq = quantize_sym(ws, np.abs(ws).max())
        yq = xq @ wq.T
        return np.linalg.norm(yq - y) / np.linalg.norm(y)

    err_none = emulate(x, wf)
    a = np.abs(x).max(axis=0)
    wa = np.abs(wf).max(axis=0)
    s = np.maximum(np.power(a, np.float32(0.5)) / np.power(np.maximum(wa, 1e-5), np.float32(0.5)), 1e-5).astype(np.float32)
    err_half = emulate((x / s).astype(np.float32), (wf * s).astype(np.float32))
    got = {r["alpha"]: float(r["output_rel_err"]) for r in rows}
    for alpha, expected in (("none", err_none), ("0.5", err_half)):
        rel = abs(got[alpha] - expected) / expected
        print(f"alpha {alpha}: sqsim {got[alpha]:.9g} numpy {expected:.9g} (relative difference {rel:.2e})")
        assert rel < 1e-4, (alpha, got[alpha], expected)

    written = os.path.join(tmp, "written.h5")
    run("make-traces", "--out", written, "--blocks", "1", "--tokens", "8")
    with h5py.File(written, "r") as f:
        assert int(f.attrs["sqsim_trace_version"]) == 1
        names = sorted(f["layers"].keys())
        assert "model.layers.0.self_attn.q_proj" in names, names
        q = f["layers/model.layers.0.self_attn.q_proj"]
        assert q["weight"].shape == (576, 576) and q["input"].shape == (8, 576)
        assert q.attrs["smooth_group"] in (b"model.layers.0.qkv", "model.layers.0.qkv")
    print("h5py interop: ok")


if __name__ == "__main__":
    main()
