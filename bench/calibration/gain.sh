#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# How long the PUT takes that gives a queue with N tasks people decided its calibrated condition:
# the first time (every pair derived from the decided tasks, in the PUT's transaction, on the
# writer), and again after it was taken away (every pair already stored).
#   bench/calibration/gain.sh [--build DIR] [--tasks N]
set -euo pipefail
build=${BUILD:-build}
tasks=100000
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--tasks N]" >&2; exit 2 ;;
  esac
done
for f in hitl bench_seed; do
  [[ -x $build/$f ]] || { echo "gain.sh: $build/$f is missing: build first" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hitl-calgain.XXXXXX")
pid=
cleanup() {
  if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
"$build/bench_seed" "$tmp/db" "$tasks" >/dev/null 2>&1
# The seeded decisions answer an approve question, and no pair is stored yet.
python3 - "$tmp/db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("""UPDATE tasks SET decision = '{"by":"human","answers":{"v":{"kind":"approve"}}}'""")
db.execute("DELETE FROM calibration")
db.commit()
PY
token=$("$build/hitl" token generate)
schema='"schema":{"questions":[{"name":"v","type":"approve"}]}'
plain="{$schema,\"policy\":{\"rules\":[{\"name\":\"auto\",\"when\":{\"confidence_at_least\":0.4},\"then\":{\"action\":\"accept\"}}]}}"
cal="{$schema,\"policy\":{\"rules\":[{\"name\":\"auto\",\"when\":{\"calibrated\":{\"max_error\":0.02,\"confidence\":0.95,\"audit_percent\":5}},\"then\":{\"action\":\"accept\"}}]}}"
mkfifo "$tmp/out"
HITL_ADMIN_TOKEN=$token "$build/hitl" serve --db "$tmp/db" --listen 127.0.0.1:0 --log-level warn \
  >"$tmp/out" 2>"$tmp/server.log" &
pid=$!
exec 3<"$tmp/out"
IFS= read -r -t 60 line <&3 || true
exec 3<&-
port=$(grep -o '127\.0\.0\.1:[0-9]*' <<<"$line" | cut -d: -f2 || true)
[[ -n $port ]] || { echo "gain.sh: hitl serve did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }
put() {
  curl -s -o /dev/null -w "$1: %{http_code} in %{time_total} s\n" -X PUT \
    -H "Authorization: Bearer $token" -d "$2" "http://127.0.0.1:$port/v1/queues/cal"
}
put "without calibration" "$plain"
put "first gain, $tasks decided tasks without pairs" "$cal"
curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/queues/cal/calibration" |
  grep -o '"evidence":{[^}]*}'
put "without calibration" "$plain"
put "gain again, every pair stored" "$cal"
