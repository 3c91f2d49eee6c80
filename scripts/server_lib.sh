# Sourced by the benchmark scripts: start_llmserve BINARY MODEL [FLAGS...] runs `llmserve serve`
# on a free loopback port in the background and sets LLMSERVE_PID and LLMSERVE_PORT;
# stop_llmserve stops it. The server's log goes to $LLMSERVE_LOG (a temporary file).
start_llmserve() {
  local binary="$1" model="$2"
  shift 2
  LLMSERVE_LOG="$(mktemp)"
  OMP_WAIT_POLICY=PASSIVE "$binary" serve --model "$model" --port 0 --log-level warn "$@" \
    2>"$LLMSERVE_LOG" &
  LLMSERVE_PID=$!
  # --log-level warn hides the startup line; ask the kernel which port the process listens on.
  LLMSERVE_PORT=""
  for _ in $(seq 300); do
    LLMSERVE_PORT="$(ss -ltnpH 2>/dev/null |
      awk -v p="pid=$LLMSERVE_PID," '$0 ~ p {split($4, a, ":"); print a[length(a)]}')"
    [[ -n "$LLMSERVE_PORT" ]] && return 0
    kill -0 "$LLMSERVE_PID" 2>/dev/null || break
    sleep 0.1
  done
  cat "$LLMSERVE_LOG" >&2
  return 1
}

stop_llmserve() {
  kill "$LLMSERVE_PID" 2>/dev/null && wait "$LLMSERVE_PID" 2>/dev/null || true
  rm -f "$LLMSERVE_LOG"
}
