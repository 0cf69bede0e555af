# SPDX-License-Identifier: MIT
# Sourced by the test runners that drive a real server from node (tests/ui, tests/mcp):
#   hitl_test_serve BIN DIR WHO
# starts `BIN serve` on 127.0.0.1, a free port, with a fresh database in DIR and a new admin token
# (exported as HITL_ADMIN_TOKEN); sets pid (for the caller's cleanup to stop) and exports HITL_URL.
# Its log goes to DIR/server.log. On failure it prints the log, prefixed with WHO, and exits 1.
hitl_test_serve() {
  local bin=$1 dir=$2 who=$3 line=
  HITL_ADMIN_TOKEN=$("$bin" token generate) # serve wants 32 characters or more
  export HITL_ADMIN_TOKEN
  mkfifo "$dir/out"
  "$bin" serve --db "$dir/hitl.db" --listen 127.0.0.1:0 >"$dir/out" 2>"$dir/server.log" &
  pid=$!
  exec 3<"$dir/out"
  IFS= read -r -t 30 line <&3 || true
  # Keep draining the server's standard output so that it never blocks on a full pipe.
  cat <&3 >>"$dir/server.log" &
  HITL_URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' <<<"$line" || true)
  if [[ -z "$HITL_URL" ]]; then
    echo "$who: hitl serve did not start: $line" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi
  export HITL_URL
}
