#!/usr/bin/env bash
# README command (1): install everything on a fresh Debian 12 machine, fetch the
# default model, build in Release, and run the main job on the defaults.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/install-deps.sh"
"$root/scripts/fetch-model.sh"
"$root/scripts/build.sh"
"$root/scripts/main-job.sh"
