#!/usr/bin/env bash
# Installs what is missing, builds, and serves the default model (or --model DIR) over HTTP on
# 127.0.0.1:8000 until Ctrl-C. Arguments go to `llmserve serve`, e.g.
#   scripts/serve.sh --port 9000 --max-concurrent-requests 64
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/setup.sh"
"$root/scripts/build.sh" >/dev/null
exec "${LLMSERVE_BUILD_DIR:-$root/build}/src/llmserve" serve "$@"
