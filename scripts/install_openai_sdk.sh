#!/usr/bin/env bash
# Installs the official OpenAI Node SDK into DEST-DIR (the openai_sdk integration test drives
# `llmserve serve` with it). Idempotent and quiet when already present; never committed.
#   usage: scripts/install_openai_sdk.sh DEST-DIR
# Exits 77 (CTest's skip code for this fixture) when npm is not on PATH.
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 DEST-DIR" >&2
  exit 2
fi
dest="$1"
packages=(openai@4.95.0)
stamp="$dest/.installed"
if [[ -f "$stamp" && "$(cat "$stamp")" == "${packages[*]}" ]]; then exit 0; fi
if ! command -v npm >/dev/null 2>&1; then
  echo "install_openai_sdk: npm not found on PATH; skipping (install Node.js and npm to run the OpenAI SDK test)" >&2
  exit 77
fi
mkdir -p "$dest"
[[ -f "$dest/package.json" ]] || echo '{"name":"llmserve-openai-sdk","private":true}' >"$dest/package.json"
echo "install_openai_sdk: npm install ${packages[*]}"
npm install --prefix "$dest" --no-audit --no-fund --loglevel=error "${packages[@]}" >/dev/null
echo "${packages[*]}" >"$stamp"
