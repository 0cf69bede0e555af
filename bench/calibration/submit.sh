#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Durable submits/s on a queue routed by a calibrated leaf with N verified pairs, beside the same
# queue with a fixed confidence_at_least, in one run of one server: the two alternate, ROUNDS
# times each, and the means are compared.
#   bench/calibration/submit.sh [--build DIR] [--pairs N] [--duration S] [--rounds R]
set -euo pipefail
build=${BUILD:-build}
pairs=100000
duration=5
rounds=3
connections=16
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--pairs N] [--duration S] [--rounds R] [--connections N]" >&2; exit 2 ;;
  esac
done
for f in hitl bench_lifecycle bench_seed; do
  [[ -x $build/$f ]] || { echo "submit.sh: $build/$f is missing: build first" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hitl-calbench.XXXXXX")
pid=
cleanup() {
  if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

"$build/bench_seed" "$tmp/bench.db" "$pairs"
token=$("$build/hitl" token generate)
mkfifo "$tmp/out"
HITL_ADMIN_TOKEN=$token "$build/hitl" serve --db "$tmp/bench.db" --listen 127.0.0.1:0 \
  >"$tmp/out" 2>"$tmp/server.log" &
pid=$!
exec 3<"$tmp/out"
IFS= read -r -t 60 line <&3 || true
cat <&3 >/dev/null &
port=$(grep -o '127\.0\.0\.1:[0-9]*' <<<"$line" | cut -d: -f2 || true)
[[ -n $port ]] || { echo "submit.sh: hitl serve did not start: $line" >&2; cat "$tmp/server.log" >&2; exit 1; }
certified=$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/queues/cal/calibration" |
  grep -o '"certified":[a-z]*' | head -1)
echo "submit.sh: $pairs verified pairs loaded; queue cal $certified"

declare -A sum
for ((r = 1; r <= rounds; r++)); do
  for q in fixed cal; do
    rate=$("$build/bench_lifecycle" --mode submit --queue "$q" --port "$port" --token "$token" \
      --duration "$duration" --connections "$connections" | tail -n 1 |
      grep -o '"submits_per_s":[0-9.]*' | cut -d: -f2)
    echo "round $r $q: $rate submits/s"
    sum[$q]=$(awk -v a="${sum[$q]:-0}" -v b="$rate" 'BEGIN { print a + b }')
  done
done
awk -v f="${sum[fixed]}" -v c="${sum[cal]}" -v r="$rounds" 'BEGIN {
  printf "mean: fixed confidence_at_least %.0f submits/s, calibrated %.0f submits/s: calibrated is %.1f%% %s\n",
    f / r, c / r, (f > c ? (f - c) / f : (c - f) / f) * 100, (f > c ? "slower" : "faster") }'
