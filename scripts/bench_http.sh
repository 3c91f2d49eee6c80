#!/usr/bin/env bash
# The HTTP layer's own cost: wrk against GET /health (no engine work) and a small non-streaming
# POST /generate (1 prompt token, 1 new token) on `llmserve serve` with the given model (default:
# the tiny GPT-2 test fixture), each for N seconds with C connections. Prints wrk's summaries.
#   usage: scripts/bench_http.sh [build dir, default build] [seconds, default 10] [connections, 64]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-$root/build}" && pwd)"
seconds="${2:-10}"
connections="${3:-64}"
model="${LLMSERVE_BENCH_MODEL:-$build/fixtures/gpt2-f32}"
cmake --build "$build" --target llmserve >/dev/null
lua="$(mktemp --suffix .lua)"
source "$root/scripts/server_lib.sh"
trap 'stop_llmserve; rm -f "$lua"' EXIT
start_llmserve "$build/src/llmserve" "$model" --max-concurrent-requests 4096
port="$LLMSERVE_PORT"
cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"prompt": [464], "max_tokens": 1, "temperature": 0}'
wrk.headers["Content-Type"] = "application/json"
LUA
echo "## GET /health, $connections connections, ${seconds}s"
wrk -t2 -c"$connections" -d"${seconds}s" --latency "http://127.0.0.1:$port/health"
echo "## POST /generate (1 prompt token -> 1 token), $connections connections, ${seconds}s"
wrk -t2 -c"$connections" -d"${seconds}s" --latency -s "$lua" "http://127.0.0.1:$port/generate"
echo "## server metrics after the run"
curl -s "http://127.0.0.1:$port/metrics?format=json"
echo
