#!/usr/bin/env bash
# The whole test suite on a fresh machine: install dependencies, build, run every CTest test
# (unit, model parity against the numpy reference, tokenizer parity, CLI, fuzz-corpus replay),
# then the same suite again built with AddressSanitizer + UndefinedBehaviorSanitizer (leaks and
# any UB fail the run). LLMSERVE_SKIP_SANITIZERS=1 skips the second pass for a quicker local loop.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jobs="$(nproc)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" "$@"
(cd "${LLMSERVE_BUILD_DIR:-$root/build}" && ctest --output-on-failure --timeout 600 -j "$jobs")

if [[ "${LLMSERVE_SKIP_SANITIZERS:-0}" != 1 ]]; then
  echo "test: again under ASan + UBSan (build-asan/)"
  LLMSERVE_BUILD_DIR="$root/build-asan" "$root/scripts/build.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DLLMSERVE_SANITIZE=address,undefined -DLLMSERVE_CUDA=OFF
  cd "$root/build-asan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --output-on-failure --timeout 600 -j "$jobs"
fi
