#!/usr/bin/env bash
# Optional: the heavy Python references the cross-checks compare sqsim with
# (tests/python/test_hf_*.py, scripts/hf-reference.py, scripts/lm-eval-compare.py):
# torch, transformers, gguf, accelerate and lm_eval (lm-evaluation-harness)
# from PyPI, in .venv/ (git-ignored) on top of Debian's python3 and its
# numpy/h5py (scripts/install-deps.sh). Without them those tests skip; with
# them, re-run cmake (scripts/build.sh) so the tests use .venv/bin/python.
# torch from PyPI is a large download (CUDA libraries included; the tests run
# it on the CPU).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
if [ ! -x "$root/.venv/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$root/.venv"
fi
# h5py from PyPI too: pip's numpy 2 cannot load Debian's h5py (built for numpy 1), and CMake
# picks .venv/bin/python for the tests only when it imports numpy and h5py.
"$root/.venv/bin/python" -m pip install --quiet torch transformers gguf accelerate lm_eval h5py
"$root/.venv/bin/python" -c "import torch, transformers, gguf, h5py, numpy; print('python references:', 'torch', torch.__version__, 'transformers', transformers.__version__)"
