#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# How long `hitl serve` takes to start (launch to listening) on a database whose calibrated queue
# holds N verified pairs: without a snapshot of its calibration state (every pair replayed) and
# with one (the state restored, nothing after it to replay). ROUNDS starts each.
#   bench/calibration/start.sh [--build DIR] [--pairs N] [--rounds R]
set -euo pipefail
build=${BUILD:-build}
pairs=100000
rounds=3
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--pairs N] [--rounds R]" >&2; exit 2 ;;
  esac
done
for f in hitl bench_seed; do
  [[ -x $build/$f ]] || { echo "start.sh: $build/$f is missing: build first" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hitl-calstart.XXXXXX")
pid=
cleanup() {
  if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
token=$("$build/hitl" token generate)

for kind in replay snapshot; do
  flag=
  [[ $kind == snapshot ]] && flag=--snapshot
  "$build/bench_seed" "$tmp/seed.db" "$pairs" $flag >/dev/null 2>&1
  for ((r = 1; r <= rounds; r++)); do
    cp "$tmp/seed.db" "$tmp/run.db"
    mkfifo "$tmp/out"
    t0=$(date +%s%N)
    HITL_ADMIN_TOKEN=$token "$build/hitl" serve --db "$tmp/run.db" --listen 127.0.0.1:0 \
      >"$tmp/out" 2>"$tmp/server.log" &
    pid=$!
    exec 3<"$tmp/out"
    IFS= read -r -t 300 line <&3 || true
    t1=$(date +%s%N)
    exec 3<&-
    [[ $line == *127.0.0.1:* ]] || { echo "start.sh: hitl serve did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }
    resumed=no
    grep -q 'calibration resumed from its snapshot' "$tmp/server.log" && resumed=yes
    echo "pairs $pairs, $kind: start $(( (t1 - t0) / 1000000 )) ms (resumed from snapshot: $resumed)"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    pid=
    rm -f "$tmp/out" "$tmp"/run.db*
  done
  rm -f "$tmp"/seed.db*
done
