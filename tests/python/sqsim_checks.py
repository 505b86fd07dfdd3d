"""What the tests/python cross-checks share: where the source tree and the
sqsim binary are (SQSIM_SOURCE_DIR / SQSIM_BINARY, as tests/CMakeLists.txt
sets them), a check that records failures, and a runner of sqsim that stops
the test with sqsim's output when it fails. Not a test itself (CMake
registers only test_*.py)."""
import os
import subprocess

SRC = os.environ.get("SQSIM_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BIN = os.environ.get("SQSIM_BINARY", os.path.join(SRC, "build", "sqsim"))
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def sqsim(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"sqsim {' '.join(args)} failed: {r.stdout}{r.stderr}")
    return r.stdout
