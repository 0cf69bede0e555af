# SPDX-License-Identifier: MIT
# Sourced by test runners: starts `hitl serve` ($HITL_BIN) for a test on 127.0.0.1 (a free port)
# with a fresh database in a temporary directory, and stops it by its PID when the shell exits.
#   source tests/lib/serve.sh; hitl_serve_start   # sets HITL_SERVE_URL, HITL_SERVE_PID,
#                                                 # HITL_SERVE_DIR; exports HITL_ADMIN_TOKEN
# hitl_serve_log prints the end of the server's log (for a failed run).

HITL_SERVE_PID=
HITL_SERVE_DIR=
HITL_SERVE_URL=

hitl_serve_stop() {
  if [[ -n "$HITL_SERVE_PID" ]]; then
    kill "$HITL_SERVE_PID" 2>/dev/null || true
    wait "$HITL_SERVE_PID" 2>/dev/null || true
    HITL_SERVE_PID=
  fi
  if [[ -n "$HITL_SERVE_DIR" ]]; then rm -rf "$HITL_SERVE_DIR"; fi
}

hitl_serve_log() {
  echo "server log:" >&2
  tail -n 50 "$HITL_SERVE_DIR/server.log" >&2
}

hitl_serve_start() {
  : "${HITL_BIN:?set HITL_BIN to the hitl binary}"
  HITL_SERVE_DIR=$(mktemp -d)
  trap hitl_serve_stop EXIT
  HITL_ADMIN_TOKEN=$("$HITL_BIN" token generate) # serve wants 32 characters or more
  export HITL_ADMIN_TOKEN
  : >"$HITL_SERVE_DIR/out" # Before the background start, which opens it at its own pace.
  "$HITL_BIN" serve --db "$HITL_SERVE_DIR/hitl.db" --listen 127.0.0.1:0 --log-level warn \
    >"$HITL_SERVE_DIR/out" 2>"$HITL_SERVE_DIR/server.log" &
  HITL_SERVE_PID=$!
  local port= _
  for _ in $(seq 1 200); do # Up to 20 s for the "listening" line.
    port=$(sed -n 's/.*127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$HITL_SERVE_DIR/out" | head -n1)
    [[ -n "$port" ]] && break
    kill -0 "$HITL_SERVE_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z "$port" ]]; then
    echo "hitl serve did not start" >&2
    cat "$HITL_SERVE_DIR/server.log" >&2
    return 1
  fi
  HITL_SERVE_URL="http://127.0.0.1:$port"
}
