#!/usr/bin/env bash
# Served throughput and latency on this machine: `llmserve serve` with a model, then two
# llmserve-loadgen sweeps (streamed /generate, fixed-length answers) and their plots:
#   OUT_DIR/concurrency.json    closed loop, concurrency 1..64, PROMPT_TOKENS-token prompts
#   OUT_DIR/prompt_length.json  concurrency 1 and 8, prompts of PROMPT_SWEEP tokens
#   OUT_DIR/*.png               scripts/plot_results.py of both
# usage: scripts/bench_serving.sh OUT_DIR [MODEL_DIR (default: the default model)] [build dir]
# Environment: PROMPT_TOKENS (128), PROMPT_SWEEP (32,128,512), OUTPUT_TOKENS (64),
# CONCURRENCY (1,2,4,8,16,32,64), SERVE_FLAGS (extra server flags, e.g. --kv-cache-memory 128MiB).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:?usage: scripts/bench_serving.sh OUT_DIR [MODEL_DIR] [BUILD_DIR]}"
model="${2:-$root/models/default}"
build="$(cd "${3:-$root/build}" && pwd)"
cmake --build "$build" --target llmserve llmserve-loadgen >/dev/null
mkdir -p "$out"
source "$root/scripts/server_lib.sh"
trap stop_llmserve EXIT
# shellcheck disable=SC2086  # SERVE_FLAGS is a list of flags
start_llmserve "$build/src/llmserve" "$model" --max-concurrent-requests 4096 ${SERVE_FLAGS:-}
loadgen=("$build/bench/loadgen/llmserve-loadgen" --base-url "http://127.0.0.1:$LLMSERVE_PORT"
  --output-tokens "${OUTPUT_TOKENS:-64}")
"${loadgen[@]}" --concurrency "${CONCURRENCY:-1,2,4,8,16,32,64}" \
  --prompt-tokens "${PROMPT_TOKENS:-128}" --metrics-interval 0.1 --output "$out/concurrency.json"
"${loadgen[@]}" --concurrency 1,8 --prompt-tokens "${PROMPT_SWEEP:-32,128,512}" \
  --metrics-interval 0 --output "$out/prompt_length.json"
"$root/scripts/plot_results.py" "$out/concurrency.json" "$out/prompt_length.json" --out-dir "$out"
