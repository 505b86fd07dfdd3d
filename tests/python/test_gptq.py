"""GPTQ (docs/quantization.md, "GPTQ") against an independent numpy float64
implementation of the same algorithm, laid out as IST-DASLab/gptq's gptq.py
lays it out (blocks with lazy updates, group parameters read from the weights
as the previous blocks left them), with the project's asymmetric quantizer in
float32.

A trace file written by h5py (correlated inputs with an outlier channel, a
dead column, K not a multiple of the group) goes through `sqsim gptq --out`;
the dequantized weights must agree with numpy's on at least 99.9% of the
entries, and the layer output errors to 1e-6. Exits 77 (skipped) when h5py or
numpy is absent.
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


def group_params(vals, bits):
    """The project's asymmetric rule on float32 values (docs "Asymmetric")."""
    qmax = np.float32(2 ** bits - 1)
    lo, hi = vals.min(), vals.max()
    s = np.float32(max(np.float32(hi - lo), np.float32(1e-5)) / qmax)
    zp = np.clip(np.round(np.float32(-lo / s)), 0, qmax)
    return s, np.float32(zp)


def gptq(w, x, group, bits=4, damp=0.01, block=128, act_order=False):
    W = w.astype(np.float64).copy()
    n_rows, K = W.shape
    H = 2.0 / x.shape[0] * (x.astype(np.float64).T @ x.astype(np.float64))
    dead = np.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    perm = np.argsort(-np.diag(H), kind="stable") if act_order else np.arange(K)
    G = (K + group - 1) // group
    S = np.zeros((n_rows, G), np.float32)
    Z = np.zeros((n_rows, G), np.float32)
    if act_order:
        for g in range(G):
            for r in range(n_rows):
                S[r, g], Z[r, g] = group_params(W[r, g * group:(g + 1) * group].astype(np.float32), bits)
    W, H = W[:, perm], H[perm][:, perm]
    H[np.diag_indices(K)] += damp * np.mean(np.diag(H))
    U = np.linalg.cholesky(np.linalg.inv(H)).T  # upper: inv(H) = U^T U
    qmax = 2 ** bits - 1
    codes = np.zeros((n_rows, K), np.int64)
    for i1 in range(0, K, block):
        i2 = min(K, i1 + block)
        W1 = W[:, i1:i2].copy()
        Err = np.zeros_like(W1)
        for i in range(i2 - i1):
            c = perm[i1 + i]
            if not act_order and c % group == 0:
                g = c // group
                for r in range(n_rows):
                    S[r, g], Z[r, g] = group_params(W[r, c:c + group].astype(np.float32), bits)
            g = c // group
            wv = W1[:, i]
            scaled = wv.astype(np.float32) / S[:, g]
            code = np.clip(np.round(scaled) + Z[:, g], 0, qmax)
            codes[:, c] = code
            deq = ((code - Z[:, g]).astype(np.float32) * S[:, g]).astype(np.float64)
            err = (wv - deq) / U[i1 + i, i1 + i]
            W1[:, i:] -= np.outer(err, U[i1 + i, i1 + i:i2])
            Err[:, i] = err
        W[:, i2:] -= Err @ U[i1:i2, i2:]
    deq = np.zeros((n_rows, K), np.float32)
    for c in range(K):
        g = c // group
        deq[:, c] = (codes[:, c] - Z[:, g]).astype(np.float32) * S[:, g]
    return deq


def main():
    rng = np.random.default_rng(2)
    tmp = tempfile.mkdtemp(prefix="sqsim_gptq_")
    path, out = os.path.join(tmp, "traces.h5"), os.path.join(tmp, "gptq.h5")
    K = 200  # groups of 64: 64, 64, 64, 8
    x = (rng.standard_normal((400, K)) @ (rng.standard_normal((K, K)) * 0.2)).astype(np.float32)
    x[:, 11] *= 12
    x[:, 150] = 0  # a dead column
    w = (rng.standard_normal((48, K)) * 0.05).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.attrs["sqsim_trace_version"] = 1
        g = f.create_group("layers/model.layers.0.mlp.up_proj")
        g.create_dataset("weight", data=w)
        g.create_dataset("input", data=x)
    for group, act_order in ((64, False), (64, True), (32, False)):
        args = [SQSIM, "gptq", "--traces", path, "--group", str(group), "--out", out, "--force", "--json"]
        if act_order:
            args.append("--act-order")
        r = subprocess.run(args, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"sqsim gptq failed: {r.stderr}")
        row = json.loads(r.stdout.splitlines()[0])
        with h5py.File(out, "r") as f:
            got = f["layers/model.layers.0.mlp.up_proj/weight"][()]
        want = gptq(w, x, group, act_order=act_order)
        same = float(np.mean(got == want))
        y = x.astype(np.float64) @ w.astype(np.float64).T
        rel = np.linalg.norm(x.astype(np.float64) @ want.astype(np.float64).T - y) / np.linalg.norm(y)
        print(f"group {group} act-order {act_order}: {same:.5f} of the weights equal numpy's; "
              f"rel err sqsim {row['gptq_rel_err']:.9g} numpy {rel:.9g} (rtn {row['rtn_rel_err']:.6g})")
        assert same >= 0.999, same
        assert abs(row["gptq_rel_err"] - rel) <= 1e-6, (row["gptq_rel_err"], rel)
        assert row["gptq_rel_err"] < 0.7 * row["rtn_rel_err"], row
    print("gptq: ok")


if __name__ == "__main__":
    main()
