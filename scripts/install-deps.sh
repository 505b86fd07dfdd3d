#!/usr/bin/env bash
# Installs the Debian 12 packages sqsim builds and tests with. Idempotent: when
# every package is already installed it does nothing (and needs no network).
#  - ocl-icd-opencl-dev: Debian's oneDNN CMake config (libdnnl-dev) calls
#    find_package(OpenCL), which fails without it, even when asked QUIET;
#  - python3-h5py, python3-numpy: the h5py interoperability test of the trace
#    format runs in CI instead of skipping (tests/python, Debian's python3);
#  - libopenmpi-dev, openmpi-bin: the MPI build (SQSIM_MPI, docs/mpi.md) and its
#    mpirun tests; sqsim builds and runs without them too.
set -euo pipefail
packages=(build-essential cmake git unzip ca-certificates python3 python3-pip python3-venv
  libeigen3-dev libhdf5-dev libboost-program-options-dev libtbb-dev
  libgtest-dev libgmock-dev libbenchmark-dev libdnnl-dev ocl-icd-opencl-dev
  python3-h5py python3-numpy libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
