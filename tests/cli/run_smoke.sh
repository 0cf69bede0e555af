#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Starts a real hitl server on 127.0.0.1 (a free port), runs cli_smoke.sh against it, stops it by PID.
set -euo pipefail
: "${HITL_BIN:?set HITL_BIN to the hitl binary}"
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
server_pid=
cleanup() {
  if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

token=$("$HITL_BIN" token generate) # 57 characters; serve wants 32 or more
HITL_ADMIN_TOKEN=$token "$HITL_BIN" serve --db "$dir/hitl.db" --listen 127.0.0.1:0 \
  >"$dir/out" 2>"$dir/server.log" &
server_pid=$!
port=
for _ in $(seq 1 200); do # Up to 20 s for the "listening" line.
  port=$(sed -n 's/.*127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$dir/out" | head -n1)
  [[ -n "$port" ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$dir/server.log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "server did not start" >&2; cat "$dir/server.log" >&2; exit 1; }
HITL_URL="http://127.0.0.1:$port" HITL_TOKEN=$token bash "$here/cli_smoke.sh"
