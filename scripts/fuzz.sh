#!/usr/bin/env bash
# Builds the libFuzzer targets with clang + ASan/UBSan into build-fuzz/ and runs each for
# SECONDS (default 60), starting from the committed seed corpus (copied, so the repo stays clean).
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
build="$root/build-fuzz"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLLMSERVE_CUDA=OFF -DLLMSERVE_FUZZ=ON -DLLMSERVE_SANITIZE=address,undefined \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link" >/dev/null
targets=(fuzz_safetensors_header fuzz_model_config fuzz_tokenizer_encode fuzz_generate_request)
cmake --build "$build" --target "${targets[@]}" -j "$(nproc)"
for target in "${targets[@]}"; do
  corpus="$build/corpus/${target#fuzz_}"
  mkdir -p "$corpus"
  cp -n "$root/tests/fuzz/corpus/${target#fuzz_}/"* "$corpus/"
  echo "fuzz: $target for ${seconds}s"
  (cd "$build" && "$build/tests/fuzz/$target" -max_total_time="$seconds" -print_final_stats=1 \
     -max_len=4096 "$corpus" 2>&1 | tail -n 12)
done
