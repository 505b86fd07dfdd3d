"""The calibration observers (docs/quantization.md, "Calibration observers")
against an independent numpy implementation of the same definitions.

A trace file written by h5py (heavy-tailed inputs with planted outlier
channels, an all-zero layer, a constant layer) goes through
`sqsim observers --json`; numpy builds the histogram of |x| directly at its
final range and computes the percentile, MSE and entropy clips. They must be
equal, or, where the two pick different clips, the objective at both must
agree to 1e-9 (a tie decided by summation order). Exits 77 (skipped) when
h5py or numpy is absent.
"""
import json
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


def histogram(x, bins):
    """|x| binned over [0, R), R the smallest power of two above max|x|."""
    a = np.abs(x.astype(np.float64)).ravel()
    m = a.max()
    if m == 0:
        h = np.zeros(bins)
        h[0] = a.size
        return h, 0.0, 0.0
    _, e = np.frexp(m)
    R = np.ldexp(1.0, int(e))
    idx = np.floor(a * (bins / R)).astype(np.int64)
    return np.bincount(idx, minlength=bins).astype(np.float64), R / bins, float(np.float32(m))


def mse_objective(h, w, clip, qmax):
    s = max(clip, 1e-5) / qmax
    m = (np.arange(h.size) + 0.5) * w
    q = s * np.minimum(np.round(m / s), qmax)  # numpy rounds half to even
    return float(np.sum(h * (m - q) ** 2))


def smooth(v, eps=1e-4):
    z = v == 0
    nz = int((~z).sum())
    if nz == 0:
        return None
    out = np.where(z, eps, v - eps * z.sum() / nz)
    return None if (out <= 0).any() else out


def kl_objective(h, n, L):
    p = h[:n].copy()
    p[n - 1] += h[n:].sum()
    q = np.zeros(n)
    m = n // L
    for t in range(L):
        lo, hi = t * m, (n if t == L - 1 else t * m + m)
        nonzero = p[lo:hi] > 0
        if nonzero.sum():
            q[lo:hi][nonzero] = h[lo:hi].sum() / nonzero.sum()
    ps, qs = smooth(p), smooth(q)
    if ps is None or qs is None:
        return float("inf")
    ps, qs = ps / ps.sum(), qs / qs.sum()
    return float(np.sum(ps * np.log(ps / qs)))


def clips(x, bins, bits, percentiles):
    h, w, absmax = histogram(x, bins)
    qmax = 2 ** (bits - 1) - 1
    out = {"absmax": (absmax, None)}
    if absmax == 0:
        for p in percentiles:
            out[f"percentile:{p}"] = (0.0, None)
        out["mse"] = (0.0, None)
        out["entropy"] = (0.0, None)
        return out
    last = int(np.nonzero(h)[0][-1])
    edge = lambda k: min(k * w, absmax)
    cum = np.cumsum(h)
    for p in percentiles:
        i = int(np.argmax(cum >= p / 100.0 * h.sum()))
        out[f"percentile:{p}"] = (float(np.float32(edge(i + 1))), None)
    cands = [edge(j + 1) for j in range(last + 1)]
    errs = [mse_objective(h, w, c, qmax) for c in cands]
    j = int(np.argmin(errs))
    out["mse"] = (float(np.float32(cands[j])), lambda c: mse_objective(h, w, c, qmax))
    L = qmax + 1
    if last + 1 < L:
        out["entropy"] = (absmax, None)
    else:
        kls = [kl_objective(h, n, L) for n in range(L, last + 2)]
        n = L + int(np.argmin(kls))
        out["entropy"] = (float(np.float32(edge(n))), lambda c: kl_objective(h, int(round(c / w)), L))
    return out


def main():
    rng = np.random.default_rng(1)
    tmp = tempfile.mkdtemp(prefix="sqsim_observers_")
    path = os.path.join(tmp, "traces.h5")
    layers = {}
    x = rng.standard_t(3, size=(200, 96)).astype(np.float32)
    x[:, 5] *= 40
    x[:, 61] *= 15
    layers["model.layers.0.mlp.down_proj"] = x
    layers["model.layers.0.mlp.up_proj"] = rng.laplace(size=(150, 64)).astype(np.float32) * 0.01
    layers["model.layers.0.self_attn.o_proj"] = np.zeros((8, 32), np.float32)
    layers["model.layers.0.self_attn.q_proj"] = np.full((8, 32), -2.5, np.float32)
    with h5py.File(path, "w") as f:
        f.attrs["sqsim_trace_version"] = 1
        for name, xin in layers.items():
            g = f.create_group("layers/" + name)
            g.create_dataset("weight", data=np.ones((4, xin.shape[1]), np.float32))
            g.create_dataset("input", data=xin)
    percentiles = ["99.9", "99.99", "50"]
    observers = ["absmax"] + [f"percentile:{p}" for p in percentiles] + ["mse", "entropy"]
    checked = 0
    for bins, bits in ((256, 8), (2048, 8), (512, 4)):
        r = subprocess.run([SQSIM, "observers", "--traces", path, "--json", "--observer-bins", str(bins),
                            "--bits", str(bits), "--observers", ",".join(observers)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"sqsim observers failed: {r.stderr}")
        got = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
        assert len(got) == len(layers) * len(observers), len(got)
        for name, xin in layers.items():
            ref = clips(xin, bins, bits, [float(p) if "." in p else int(p) for p in percentiles])
            ref = {k.replace(".0", "") if k.endswith(".0") else k: v for k, v in ref.items()}
            for row in (g for g in got if g["layer"] == name):
                want, objective = ref[row["observer"]]
                c = row["clip"]
                if np.float32(c) != np.float32(want):
                    assert objective is not None, (name, row, want)
                    a, b = objective(c), objective(want)
                    assert abs(a - b) <= 1e-9 * max(abs(a), abs(b)), (name, bins, bits, row, want, a, b)
                    print(f"tie: {name} {row['observer']} bins {bins} bits {bits}: sqsim {c} numpy {want}")
                checked += 1
    print(f"observers: {checked} clips equal to numpy's")


if __name__ == "__main__":
    main()
