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
log="$(mktemp)"
lua="$(mktemp --suffix .lua)"
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log" "$lua"' EXIT
OMP_WAIT_POLICY=PASSIVE "$build/src/llmserve" serve --model "$model" --port 0 \
  --max-concurrent-requests 4096 --log-level warn 2>"$log" &
pid=$!
# --log-level warn hides the startup line; ask the kernel which port the process listens on.
port=""
for _ in $(seq 100); do
  port="$(ss -ltnpH 2>/dev/null | awk -v p="pid=$pid," '$0 ~ p {split($4, a, ":"); print a[length(a)]}')"
  [[ -n "$port" ]] && break
  sleep 0.1
done
[[ -n "$port" ]] || { cat "$log"; exit 1; }
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
