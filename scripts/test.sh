#!/usr/bin/env bash
# The whole test suite on a fresh machine: install dependencies, build, run every CTest test
# (unit, model parity against the numpy reference, tokenizer parity, CLI, fuzz-corpus replay).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" "$@"
cd "${LLMSERVE_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "$(nproc)"
