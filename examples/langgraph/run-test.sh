#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs graph.test.mjs (node --test) against a real `hitl serve` ($HITL_BIN) on 127.0.0.1 (a free
# port) with a fresh database, then stops the server by its PID. Installs the locked npm
# packages (package-lock.json) first when they are missing. Needs node >= 18 and npm.
#   HITL_BIN=build/hitl bash examples/langgraph/run-test.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v node >/dev/null || { echo "examples/langgraph: node is missing (apt-get install nodejs npm)" >&2; exit 1; }
if [[ ! -d "$here/node_modules/@langchain/langgraph" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
source "$root/tests/lib/serve.sh"
hitl_serve_start

status=0
HITL_URL=$HITL_SERVE_URL node --test --test-reporter=spec "$here/graph.test.mjs" || status=$?
[[ $status -eq 0 ]] || hitl_serve_log
exit $status
