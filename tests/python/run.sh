#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the Python client's tests (tests/python/test_*.py, unittest, standard library only) against
# a real `hitl serve` ($HITL_BIN) on 127.0.0.1 (a free port) with a fresh database, then stops the
# server by its PID. Needs python3 (3.8 or later).
#   HITL_BIN=build/hitl bash tests/python/run.sh [unittest arguments, e.g. -k decorator]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v python3 >/dev/null || { echo "tests/python: python3 is missing (apt-get install python3)" >&2; exit 1; }
source "$root/tests/lib/serve.sh"
hitl_serve_start

status=0
HITL_TEST_URL=$HITL_SERVE_URL PYTHONPATH="$root/clients/python" PYTHONDONTWRITEBYTECODE=1 \
  python3 -m unittest discover -s "$here" -p 'test_*.py' -v "$@" || status=$?
[[ $status -eq 0 ]] || hitl_serve_log
exit $status
