#!/usr/bin/env bash
# Runs on a GPU machine, from the repository root, with gpu-bundle.tar.xz carried
# (scripts/gpu_bundle.sh): generates the tiny checkpoints, then runs every CUDA test, the Hugging
# Face transformers oracle on them, and first decode numbers for a GPT-2-small-shaped random
# checkpoint generated there. Logs and XML go to $OUT.
#   scripts/gpu_check.sh [tests|oracle|bench]...   (default: all three)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="$root/gpu-bundle"
out="${OUT:-/tmp/gpu_check}"
mkdir -p "$out"
[[ -d $bundle ]] || tar -C "$root" -xJf "$root/gpu-bundle.tar.xz"
python3 "$root/tests/fixtures/make_all_fixtures.py" --npm-dir "$bundle/npm" \
  --out "$bundle/fixtures" >"$out/fixtures.log" 2>&1 || { cat "$out/fixtures.log"; exit 1; }
export LD_LIBRARY_PATH="$bundle/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The CUDA runtime and cuBLAS of a PyTorch install, if the toolkit's are not there.
for d in /usr/local/lib/python3*/dist-packages/nvidia/*/lib /usr/lib/python3*/site-packages/nvidia/*/lib; do
  [[ -d $d ]] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
done
export OMP_WAIT_POLICY=PASSIVE

# The test binaries look for this build's paths: link them to the bundle.
build="$(cat "$bundle/build_dir")"
mkdir -p "$build/src" "$build/bench/loadgen" "$build/tests/cuda"
ln -sfn "$bundle/fixtures" "$build/fixtures"
ln -sf "$bundle/bin/llmserve" "$build/src/llmserve"
ln -sf "$bundle/bin/llmserve-loadgen" "$build/bench/loadgen/llmserve-loadgen"

steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(tests oracle bench)
status=0
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt" ||
  echo "gpu_check: no nvidia-smi (the CUDA tests will skip)"

for step in "${steps[@]}"; do
  case "$step" in
    tests)
      for t in "$bundle"/bin/test_cuda_*; do
        name="$(basename "$t")"
        echo "=== $name"
        "$t" --gtest_output="xml:$out/$name.xml" >"$out/$name.log" 2>&1 || status=1
        grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]|tests ran" "$out/$name.log"
      done
      ;;
    oracle)
      echo "=== transformers oracle"
      python3 "$root/scripts/hf_oracle.py" "$bundle"/fixtures/*/ | tee "$out/hf_oracle.txt" ||
        status=1
      ;;
    bench)
      echo "=== GPT-2-small-shaped decode"
      model="$out/gpt2-small-shape"
      python3 "$root/tests/fixtures/make_tiny_model.py" --arch gpt2 --out "$model" \
        --npm-dir "$bundle/npm" --layers 12 --hidden 768 --heads 12 --intermediate 3072 \
        --max-positions 1024 --dtype bfloat16 --prefix none >/dev/null || status=1
      for batch in 1 64; do
        "$bundle/bin/llmserve" generate --model "$model" --device cuda \
          --prompt "The quick brown fox jumps over the lazy dog, and then it runs far away." \
          --num-prompts "$batch" --max-tokens 256 --ignore-eos >"$out/decode_batch$batch.txt" 2>&1 ||
          status=1
        grep -E "tok/s|error" "$out/decode_batch$batch.txt"
      done
      ;;
    *) echo "gpu_check: unknown step $step" >&2; exit 2 ;;
  esac
done
exit "$status"
