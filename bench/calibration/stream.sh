#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# End to end: scikit-learn's digits scored out of fold (make_scores.py), streamed through a real
# hitl server on a calibrated queue with a scripted reviewer answering the truth (stream.py), for
# each model. Usage: bench/calibration/stream.sh [--build DIR] [--tasks N] [--models "logreg ..."]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-build}
tasks=20000
models="logreg forest bayes"
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --tasks) tasks=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    *) echo "usage: $0 [--build DIR] [--tasks N] [--models \"logreg forest bayes\"]" >&2; exit 2 ;;
  esac
done
/usr/bin/python3 -c "import sklearn" 2>/dev/null ||
  { echo "needs Debian's python3-sklearn: apt-get install -y python3-sklearn" >&2; exit 2; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hitl-calstream.XXXXXX")
pid=
cleanup() {
  if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
/usr/bin/python3 "$here/make_scores.py" "$tmp" >&2
token=$("$build/hitl" token generate)
for model in $models; do
  mkfifo "$tmp/out"
  HITL_ADMIN_TOKEN=$token "$build/hitl" serve --db "$tmp/$model.db" --listen 127.0.0.1:0 \
    --rate-limit 0 --log-level warn >"$tmp/out" 2>"$tmp/server.log" &
  pid=$!
  exec 3<"$tmp/out"
  IFS= read -r -t 60 line <&3 || true
  exec 3<&-
  port=$(grep -o '127\.0\.0\.1:[0-9]*' <<<"$line" | cut -d: -f2 || true)
  [[ -n $port ]] || { echo "stream.sh: hitl serve did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }
  HITL_ADMIN_TOKEN=$token /usr/bin/python3 "$here/stream.py" "$tmp/$model.csv" "$port" --tasks "$tasks"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  pid=
  rm -f "$tmp/out"
done
