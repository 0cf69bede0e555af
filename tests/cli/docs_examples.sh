#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the curl commands of docs/api.md's "A whole session" example, exactly as written there,
# against a real server on 127.0.0.1 and checks that each answers the status line the page shows.
# A reader who copies them must get what the page says.
set -uo pipefail
: "${HITL_BIN:?set HITL_BIN to the hitl binary}"
[[ "$HITL_BIN" = /* ]] || HITL_BIN="$PWD/$HITL_BIN" # The commands run in a temporary directory.
docs=$(cd "$(dirname "$0")/../.." && pwd)/docs/api.md

dir=$(mktemp -d)
pid=
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir" || exit 1

ADMIN=$("$HITL_BIN" token generate)
HITL_ADMIN_TOKEN=$ADMIN "$HITL_BIN" serve --db "$dir/hitl.db" --listen 127.0.0.1:0 \
  --log-level warn >"$dir/out" 2>"$dir/err" &
pid=$!
port=
for _ in $(seq 1 200); do # Up to 20 s for the "listening" line.
  port=$(sed -n 's/.*127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$dir/out" | head -n1)
  [[ -n "$port" ]] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$port" ]] || { echo "server did not start" >&2; cat "$dir/err" >&2; exit 1; }
HITL_URL="http://127.0.0.1:$port"

# What the example assumes: the queue invoices and the validator tokens alice and bob.
curl -sf -X PUT "$HITL_URL/v1/queues/invoices" -H "Authorization: Bearer $ADMIN" \
  -H 'Content-Type: application/json' -d '{}' >/dev/null || { echo "queue put failed" >&2; exit 1; }
token() {
  curl -sf -X POST "$HITL_URL/v1/tokens" -H "Authorization: Bearer $ADMIN" \
    -H 'Content-Type: application/json' -d "{\"name\":\"$1\",\"roles\":[\"validator\"]}" |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}
ALICE=$(token alice)
BOB=$(token bob)
[[ -n "$ALICE" && -n "$BOB" ]] || { echo "token create failed" >&2; exit 1; }

# The example's lines: from its lead-in to the end of its code block.
block=$(awk '/^A whole session, with curl/ {on = 1; next}
             on && /^```$/ {n++; if (n == 2) exit; next}
             on && n == 1 {print}' "$docs")
[[ -n "$block" ]] || { echo "docs/api.md: the session example is missing" >&2; exit 1; }

failures=0
checked=0
cmd=
CSRF=
want=
# run_pending: runs the command read last and compares its status with the one the page shows.
run_pending() {
  [[ -n "$cmd" ]] || return 0
  local output got
  output=$(eval "$cmd" 2>&1)
  got=$(head -n1 <<<"$output" | tr -d '\r')
  if [[ -n "$want" && "$got" != "$want"* ]]; then
    echo "FAIL: \$ $cmd" >&2
    echo "  docs/api.md shows: $want" >&2
    echo "  the server said:   $got" >&2
    failures=$((failures + 1))
  else
    echo "ok: \$ $cmd${want:+  -> $want}"
  fi
  # The sign-in answer carries the session's CSRF secret, which the example then uses.
  if [[ "$output" == *'"csrf":"'* ]]; then
    CSRF=$(sed -n 's/.*"csrf":"\([^"]*\)".*/\1/p' <<<"$output")
  fi
  checked=$((checked + 1))
  cmd=
  want=
}
while IFS= read -r line; do
  if [[ "$line" == '$ CSRF='* ]]; then
    run_pending # The page's CSRF value was its own session's; this run keeps its own.
  elif [[ "$line" == '$ '* ]]; then
    run_pending
    cmd=${line#'$ '}
  elif [[ -n "$cmd" && -z "$want" && "$line" == HTTP/1.1* ]]; then
    want=$line
  fi
done <<<"$block"
run_pending

if [[ $checked -lt 5 ]]; then
  echo "FAIL: only $checked commands found in the example" >&2
  failures=$((failures + 1))
fi
if [[ $failures -ne 0 ]]; then
  echo "docs_examples: $failures check(s) failed" >&2
  exit 1
fi
echo "docs_examples: all $checked commands answer as docs/api.md shows"
