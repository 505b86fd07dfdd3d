#!/usr/bin/env python3
"""scripts/lm-eval-compare.py on the first 20 items of each paper task:
sqsim eval's per-item log-likelihoods against lm-evaluation-harness's own run
(transformers loading the same GGUF). Passes when the script's goals are met
(chosen answers agree on >= 99.5% of items, acc within 0.3 points, every
log-likelihood within 1e-3); exits 77 (skipped) when the script skips
(lm_eval, torch, transformers, the model, the data or the binary absent).
"""
import os
import subprocess
import sys

SRC = os.environ.get("SQSIM_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
r = subprocess.run([sys.executable, os.path.join(SRC, "scripts", "lm-eval-compare.py"), "--limit", "20"],
                   capture_output=True, text=True)
print(r.stdout + r.stderr[-4000:])
sys.exit(r.returncode)
