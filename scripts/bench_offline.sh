#!/usr/bin/env bash
# Offline throughput of `llmserve generate --prompts-file` on the CPU backend: 64 prompts (the
# lines of bench/data/tokenizer_bench_text.txt, ~20 tokens each), 64 new tokens each, ignore_eos,
# run with --max-num-seqs 1, 8 and 32. Prints one markdown row per run (generated tok/s).
#   usage: scripts/bench_offline.sh [build dir, default build] [model dir ...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
shift || true
models=("$@")
[[ ${#models[@]} -gt 0 ]] || models=("$root/models/default" "$build/fixtures/qwen2-f32")
cmake --build "$build" --target llmserve >/dev/null

echo "| model | --max-num-seqs | requests | generated tokens | seconds | generated tok/s | steps |"
echo "|---|---|---|---|---|---|---|"
for model in "${models[@]}"; do
  for seqs in 1 8 32; do
    log="$("$build/src/llmserve" generate --model "$model" --prompts-file \
      "$root/bench/data/tokenizer_bench_text.txt" --num-prompts 64 --max-tokens 64 --ignore-eos \
      --max-num-seqs "$seqs" --json 2>&1 >/dev/null | grep 'generated tok/s')"
    # "... N requests, P prompt + G generated tokens in S s: R generated tok/s, ...; K steps, ..."
    sed -E "s|.* ([0-9]+) requests, [0-9]+ prompt \+ ([0-9]+) generated tokens in ([0-9.]+) s: ([0-9.]+) generated tok/s.* ([0-9]+) steps.*|\| $(basename "$model") \| $seqs \| \1 \| \2 \| \3 \| \4 \| \5 \||" <<<"$log"
  done
done
