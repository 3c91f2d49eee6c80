#!/usr/bin/env bash
# Configures and builds llmserve into build/ (Release, Ninja, ccache). Extra arguments go to the
# CMake configure step, e.g. scripts/build.sh -DLLMSERVE_CUDA=OFF.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LLMSERVE_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build "$build" -j "$(nproc)"
