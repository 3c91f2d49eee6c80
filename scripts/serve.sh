#!/usr/bin/env bash
# Sets up, builds, and runs llmserve on the default model (random weights, real GPT-2 tokenizer).
# The HTTP server arrives with its issue; until then this generates one continuation offline.
# Arguments are passed to `llmserve generate`, e.g. scripts/serve.sh --prompt "Hi" --max-tokens 8.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" >/dev/null
if (($# == 0)); then set -- --prompt "Hello, my name is" --max-tokens 32; fi
exec "${LLMSERVE_BUILD_DIR:-$root/build}/src/llmserve" generate "$@"
