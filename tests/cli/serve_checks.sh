#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# What `hitl serve` checks at start: a short HITL_ADMIN_TOKEN, a database it cannot write, a new
# database nobody can sign in to, an address in use. Servers run on 127.0.0.1 and are stopped by
# the PID this script started.
set -uo pipefail
: "${HITL_BIN:?set HITL_BIN to the hitl binary}"

dir=$(mktemp -d)
chmod 755 "$dir" # Another user (below) must reach the binary and the databases inside.
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  chmod -R u+w "$dir" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
token=$("$HITL_BIN" token generate)

# start NAME ARGS...: starts `hitl serve ARGS` in the background, output in $dir/NAME.out and
# .err; sets $pid. The caller waits with wait_for.
start() {
  local name=$1
  shift
  "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
  pid=$!
  pids+=("$pid")
}

# wait_for FILE PATTERN PID: waits (at most 20 s) until FILE matches PATTERN; fails at once when
# process PID ends first. Returns 0 when it matched.
wait_for() {
  local i
  for i in $(seq 1 200); do
    grep -Eq -- "$2" "$1" 2>/dev/null && return 0
    kill -0 "$3" 2>/dev/null || { grep -Eq -- "$2" "$1" 2>/dev/null; return; }
    sleep 0.1
  done
  return 1
}

# exits_with WANT NAME: waits (at most 20 s) for the server started last to exit; checks its code.
# A server that started instead (the check is missing) is stopped and counts as a failure.
exits_with() {
  local want=$1 name=$2 got
  if wait_for "$dir/$name.out" 'listening on' "$pid"; then
    fail "$name: hitl serve started; want exit $want"
    sed 's/^/  stderr: /' "$dir/$name.err" >&2
    return 1
  fi
  wait "$pid"
  got=$?
  if [[ $got -ne $want ]]; then
    fail "$name: hitl serve exited $got, want $want"
    sed 's/^/  stderr: /' "$dir/$name.err" >&2
    return 1
  fi
}

# expect NAME PATTERN: the stderr of NAME matches the extended regular expression PATTERN.
expect() {
  if grep -Eq -- "$2" "$dir/$1.err"; then ok "$1: /$2/"; else
    fail "$1: no match for /$2/ in its stderr:"
    sed 's/^/  /' "$dir/$1.err" >&2
  fi
}

# --- an admin token short enough to guess is refused, with how to make one ---
HITL_ADMIN_TOKEN=short start short_token "$HITL_BIN" serve --db "$dir/short.db" --listen 127.0.0.1:0
exits_with 2 short_token && expect short_token 'at least 32' && expect short_token 'hitl token generate'
[[ ! -e "$dir/short.db" ]] || fail "a refused serve created its database"

# --- a database hitl cannot write is refused, naming the file ---
# Root writes through file modes, so as root the server runs as nobody; as anyone else, as itself.
as_other=()
if [[ $(id -u) -eq 0 ]]; then
  if command -v setpriv >/dev/null; then
    as_other=(setpriv --reuid=65534 --regid=65534 --clear-groups)
  else
    as_other=(skip)
  fi
fi
cp "$HITL_BIN" "$dir/hitl" && chmod 755 "$dir/hitl" # The build tree may be closed to others.
if [[ "${as_other[0]:-}" != skip ]] && ! "${as_other[@]}" "$dir/hitl" --version >/dev/null 2>&1; then
  as_other=(skip) # TMPDIR is closed to nobody, or mounted noexec.
fi
if [[ "${as_other[0]:-}" == skip ]]; then
  echo "skip: read-only database (cannot run hitl as another user here)"
else
  mkdir "$dir/ro" && chmod 777 "$dir/ro"
  HITL_ADMIN_TOKEN=$token start ro_file "$dir/hitl" serve --db "$dir/ro/ready.db" \
    --listen 127.0.0.1:0
  wait_for "$dir/ro_file.out" 'listening on' "$pid" || fail "ro_file: a first server did not start"
  kill "$pid"
  wait "$pid"
  chmod 444 "$dir/ro/ready.db"
  chmod 644 "$dir/ro/ready.db-"* 2>/dev/null
  [[ $(id -u) -eq 0 ]] || chmod 444 "$dir/ro/ready.db-"* 2>/dev/null
  HITL_ADMIN_TOKEN=$token start ro_file "${as_other[@]}" "$dir/hitl" serve --db "$dir/ro/ready.db" \
    --listen 127.0.0.1:0
  exits_with 1 ro_file && expect ro_file "ready\.db(-wal|-shm)? is not writable"

  mkdir "$dir/closed" && : >"$dir/closed/new.db" && chmod 666 "$dir/closed/new.db"
  chmod 555 "$dir/closed"
  HITL_ADMIN_TOKEN=$token start ro_dir "${as_other[@]}" "$dir/hitl" serve --db "$dir/closed/new.db" \
    --listen 127.0.0.1:0
  exits_with 1 ro_dir && expect ro_dir "cannot write in the directory .*closed of the database"
fi

# --- a new database and no HITL_ADMIN_TOKEN: it says how to get the first token ---
start no_token env -u HITL_ADMIN_TOKEN "$HITL_BIN" serve --db "$dir/fresh.db" --listen 127.0.0.1:0
no_token_pid=$pid
if wait_for "$dir/no_token.err" 'msg="started"' "$pid"; then
  expect no_token 'nobody can sign in' && expect no_token 'HITL_ADMIN_TOKEN=\$\(hitl token generate\)'
else
  fail "no_token: the server did not start"
  sed 's/^/  stderr: /' "$dir/no_token.err" >&2
fi
kill "$no_token_pid"
wait "$no_token_pid"

# With the token the same database is fine, and so it is silent.
HITL_ADMIN_TOKEN=$token start with_token "$HITL_BIN" serve --db "$dir/fresh.db" --listen 127.0.0.1:0
first_pid=$pid
if wait_for "$dir/with_token.err" 'msg="started"' "$pid"; then
  if grep -q 'nobody can sign in' "$dir/with_token.err"; then fail "with_token: warned all the same"; else
    ok "with_token: no warning"
  fi
else
  fail "with_token: the server did not start"
fi

# --- an address in use: the message names the address asked for ---
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$dir/with_token.out" | head -n1)
if [[ -z "$port" ]]; then
  fail "in_use: no port from the first server"
else
  HITL_ADMIN_TOKEN=$token start in_use "$HITL_BIN" serve --db "$dir/other.db" \
    --listen "127.0.0.1:$port"
  exits_with 1 in_use && expect in_use "127\.0\.0\.1:$port" && expect in_use "port $port"
  if grep -q 'port 0' "$dir/in_use.err"; then fail "in_use: the message names port 0"; fi
fi
kill "$first_pid"
wait "$first_pid"

# --- a client leaving the event stream is a normal end, logged at info, not a warning ---
HITL_ADMIN_TOKEN=$token start sse "$HITL_BIN" serve --db "$dir/sse.db" --listen 127.0.0.1:0
sse_pid=$pid
if wait_for "$dir/sse.out" 'listening on' "$pid"; then
  url="http://127.0.0.1:$(sed -n 's/.*127\.0\.0\.1:\([0-9][0-9]*\) .*/\1/p' "$dir/sse.out" | head -n1)"
  curl -sN -H "Authorization: Bearer $token" "$url/v1/events/stream" >"$dir/sse.stream" &
  curl_pid=$!
  wait_for "$dir/sse.stream" 'retry:' "$curl_pid" || fail "sse: the stream did not start"
  kill "$curl_pid"
  wait "$curl_pid" 2>/dev/null
  # Each new event makes the server write to the stream, until it notices the client is gone.
  for i in $(seq 1 100); do
    grep -q 'route=/v1/events/stream.*aborted=1' "$dir/sse.err" && break
    curl -s -o /dev/null -X PUT -H "Authorization: Bearer $token" \
      -H 'Content-Type: application/json' -d '{}' "$url/v1/queues/q$i"
  done
  grep -q 'route=/v1/events/stream.*aborted=1' "$dir/sse.err" || fail "sse: the stream did not end"
fi
kill "$sse_pid"
wait "$sse_pid"
if grep -q 'level=warn' "$dir/sse.err"; then
  fail "sse: a client leaving the stream logged a warning:"
  grep 'level=warn' "$dir/sse.err" | sed 's/^/  /' >&2
else
  ok "sse: a client leaving the stream is no warning"
fi

if [[ $failures -ne 0 ]]; then
  echo "serve_checks: $failures check(s) failed" >&2
  exit 1
fi
echo "serve_checks: all checks passed"
