#!/usr/bin/env bash
# Runs on a GPU machine, from the repository root, with gpu-bundle.tar.xz carried
# (scripts/gpu_bundle.sh). Results go to $OUT (a device call brings back at most 8 files: when
# there are more, they are packed into $OUT/gpu_check.tar.gz); where each one is, is printed.
#   scripts/gpu_check.sh [STEP]...   (default: tests oracle bench)
# Checks (need the tiny fixtures, generated first):
#   tests    every CUDA test binary: XML and log per binary
#   oracle   transformers against our numpy reference on the fixtures (scripts/hf_oracle.py)
#   bench    first decode numbers: `llmserve generate` at batch 1 and 64, GPT-2-small shape
# Issue 10's benchmarks (docs/benchmarks.md; run times are estimates, never measured):
#   kernels  bench_cuda_kernels: attention, linear, sampling -> kernels.json (~3 min)
#   step     bench_decode_step on the GPT-2-small- and Qwen2.5-1.5B-shaped checkpoints ->
#            step_<name>.json (~1.5 and ~4 min; STEP_MODELS="gpt2 qwen" picks which)
#   serve    `llmserve serve --device cuda` on the Qwen2.5-1.5B shape, llmserve-loadgen
#            concurrency 1..64 -> serve_qwen.json (~3 min)
#   hf       transformers generate() on the same checkpoint, batch 1 and 16 -> hf_qwen.json (~2 min)
# so that each call stays inside 600 s:
#   STEP_MODELS=gpt2 scripts/gpu_check.sh kernels step
#   STEP_MODELS=qwen scripts/gpu_check.sh step
#   scripts/gpu_check.sh serve hf
# The full-size random checkpoints (bf16; Qwen's 3.1 GB, ~1 min to make) are generated into
# /tmp, not $OUT, once per machine: a later call on the same warm machine reuses them.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="$root/gpu-bundle"
out="${OUT:-/tmp/gpu_check}"
checkpoints=/tmp/llmserve-bench
mkdir -p "$out"
[[ -d $bundle ]] || tar -C "$root" -xJf "$root/gpu-bundle.tar.xz"
export LD_LIBRARY_PATH="$bundle/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The CUDA runtime and cuBLAS of a PyTorch install, if the toolkit's are not there.
for d in /usr/local/lib/python3*/dist-packages/nvidia/*/lib /usr/lib/python3*/site-packages/nvidia/*/lib \
  /opt/*/.venv/lib/python3*/site-packages/nvidia/*/lib; do
  [[ -d $d ]] && LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d"
done
export OMP_WAIT_POLICY=PASSIVE

steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(tests oracle bench)
if [[ " ${steps[*]} " =~ \ (tests|oracle)\  ]]; then
  python3 "$root/tests/fixtures/make_all_fixtures.py" --npm-dir "$bundle/npm" \
    --out "$bundle/fixtures" >"$out/fixtures.log" 2>&1 || { cat "$out/fixtures.log"; exit 1; }
fi

# The test binaries look for this build's paths: link them to the bundle.
build="$(cat "$bundle/build_dir")"
mkdir -p "$build/src" "$build/bench/loadgen" "$build/tests/cuda"
ln -sfn "$bundle/fixtures" "$build/fixtures"
ln -sf "$bundle/bin/llmserve" "$build/src/llmserve"
ln -sf "$bundle/bin/llmserve-loadgen" "$build/bench/loadgen/llmserve-loadgen"

# checkpoint gpt2|qwen: prints the directory of that full-size random checkpoint (GPT-2 small,
# Qwen2.5-1.5B: their config.json shapes, vocab 50257 / 151936 as the real ones pad it, bf16),
# generating it unless a complete one is there.
checkpoint() {
  local dir args
  case "$1" in
    gpt2)
      dir="$checkpoints/gpt2-small-shape"
      args=(--arch gpt2 --layers 12 --hidden 768 --heads 12 --intermediate 3072
        --max-positions 1024 --prefix none)
      ;;
    qwen)
      dir="$checkpoints/qwen2.5-1.5b-shape"
      args=(--arch qwen2 --layers 28 --hidden 1536 --heads 12 --kv-heads 2 --intermediate 8960
        --max-positions 32768 --tie-word-embeddings --prefix model)
      ;;
    *) echo "gpu_check: no checkpoint $1" >&2; return 1 ;;
  esac
  if [[ ! -f $dir/.complete ]]; then
    local start=$SECONDS
    rm -rf "$dir"
    python3 "$root/tests/fixtures/make_tiny_model.py" "${args[@]}" --dtype bfloat16 \
      --npm-dir "$bundle/npm" --out "$dir" >&2 || return 1
    touch "$dir/.complete"
    echo "gpu_check: generated $dir ($(du -sh "$dir" | cut -f1)) in $((SECONDS - start)) s" >&2
  fi
  echo "$dir"
}

# Prints one loopback port that nothing listens on now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_health URL SECONDS PID: until URL answers 200 (0), or PID exits or time runs out (1).
wait_health() {
  python3 - "$@" <<'EOF'
import os, sys, time, urllib.request
url, limit, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
end = time.time() + limit
while time.time() < end:
    try:
        if urllib.request.urlopen(url, timeout=2).status == 200:
            sys.exit(0)
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit(1)
    time.sleep(0.5)
sys.exit(1)
EOF
}

# Says where the results are, of those that were written.
results_at() {
  local f
  for f in "$@"; do
    [[ -f $f ]] && echo "gpu_check: result $f"
  done
  return 0
}

status=0
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.memory --format=csv |
  tee "$out/gpu.txt" || echo "gpu_check: no nvidia-smi (the CUDA tests and benchmarks will skip)"

for step in "${steps[@]}"; do
  started=$SECONDS
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
      model="$(checkpoint gpt2)" || { status=1; continue; }
      for batch in 1 64; do
        "$bundle/bin/llmserve" generate --model "$model" --device cuda \
          --prompt "The quick brown fox jumps over the lazy dog, and then it runs far away." \
          --num-prompts "$batch" --max-tokens 256 --ignore-eos >"$out/decode_batch$batch.txt" 2>&1 ||
          status=1
        grep -E "tok/s|error" "$out/decode_batch$batch.txt"
      done
      ;;
    kernels)
      echo "=== bench_cuda_kernels (medians of 3 repetitions and errors shown; all in the JSON)"
      # The backend's log (stderr) goes to the log only, beside the table (stdout); both
      # append, so neither overwrites the other.
      : >"$out/kernels.log"
      # shellcheck disable=SC2094
      "$bundle/bin/bench_cuda_kernels" --benchmark_min_time=0.25 --benchmark_repetitions=3 \
        --benchmark_out="$out/kernels.json" --benchmark_out_format=json 2>>"$out/kernels.log" |
        tee -a "$out/kernels.log" | grep -E "^(Benchmark|cuda_|Run on)|_median |ERROR" || status=1
      results_at "$out/kernels.json" "$out/kernels.log"
      ;;
    step)
      for name in ${STEP_MODELS:-gpt2 qwen}; do
        echo "=== bench_decode_step, $name shape"
        model="$(checkpoint "$name")" || { status=1; continue; }
        : >"$out/step_$name.log"
        # shellcheck disable=SC2094  # both append: the engine's log and the table, as above
        LLMSERVE_BENCH_MODEL="$model" "$bundle/bin/bench_decode_step" \
          --benchmark_out="$out/step_$name.json" --benchmark_out_format=json \
          2>>"$out/step_$name.log" | tee -a "$out/step_$name.log" || status=1
        results_at "$out/step_$name.json" "$out/step_$name.log"
      done
      ;;
    serve)
      echo "=== llmserve serve --device cuda + llmserve-loadgen, qwen shape"
      model="$(checkpoint qwen)" || { status=1; continue; }
      port="$(free_port)"
      "$bundle/bin/llmserve" serve --model "$model" --device cuda --port "$port" \
        --max-concurrent-requests 4096 >"$out/serve_qwen_server.log" 2>&1 &
      server=$!
      if wait_health "http://127.0.0.1:$port/health" 300 "$server"; then
        # Prompts as bench_decode_step's, 128 answer tokens; --duration caps each run so
        # that a slow server still ends the sweep inside the call.
        "$bundle/bin/llmserve-loadgen" --base-url "http://127.0.0.1:$port" \
          --concurrency 1,2,4,8,16,32,64 --prompt-tokens 512 --output-tokens 128 \
          --duration 45 --metrics-interval 0.1 --quiet --output "$out/serve_qwen.json" || status=1
      else
        echo "gpu_check: the server did not answer /health (log: $out/serve_qwen_server.log)"
        tail -20 "$out/serve_qwen_server.log"
        status=1
      fi
      kill "$server" 2>/dev/null
      wait "$server" 2>/dev/null
      results_at "$out/serve_qwen.json" "$out/serve_qwen_server.log"
      ;;
    hf)
      echo "=== transformers generate(), qwen shape"
      model="$(checkpoint qwen)" || { status=1; continue; }
      PYTHONUNBUFFERED=1 python3 "$root/scripts/hf_generate_bench.py" --model "$model" \
        --batch 1,16 --prompt-tokens 512 --output-tokens 128 --out "$out/hf_qwen.json" ||
        status=1
      results_at "$out/hf_qwen.json"
      ;;
    *) echo "gpu_check: unknown step $step" >&2; exit 2 ;;
  esac
  echo "gpu_check: $step took $((SECONDS - started)) s"
done

mapfile -t results < <(find "$out" -type f)
if ((${#results[@]} > 8)); then
  archive="$(mktemp)"
  tar -C "$out" -czf "$archive" . && find "$out" -mindepth 1 -delete &&
    mv "$archive" "$out/gpu_check.tar.gz" &&
    echo "gpu_check: ${#results[@]} result files, packed into $out/gpu_check.tar.gz"
fi
exit "$status"
