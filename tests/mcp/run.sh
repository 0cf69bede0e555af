#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The MCP server (POST /mcp) driven by the unmodified official MCP TypeScript SDK client
# (@modelcontextprotocol/sdk, installed from the committed package-lock.json): starts
# `hitl serve` ($HITL_BIN) on a free loopback port with a fresh database, runs
# tests/mcp/*.test.mjs (node --test) and examples/mcp/review.mjs, and stops the server.
#   HITL_BIN=build/hitl bash tests/mcp/run.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${HITL_BIN:-$root/build/hitl}
[[ "$bin" = /* ]] || bin="$PWD/$bin"

[[ -x "$bin" ]] || { echo "tests/mcp: HITL_BIN ($bin) is not an executable hitl" >&2; exit 1; }
command -v node >/dev/null || { echo "tests/mcp: node is missing (apt-get install nodejs npm)" >&2; exit 1; }
if [[ ! -d "$here/node_modules/@modelcontextprotocol/sdk" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

tmp=$(mktemp -d)
pid=
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp" "$here/.run"
}
trap cleanup EXIT

# shellcheck source=../serve.sh
source "$here/../serve.sh"
hitl_test_serve "$bin" "$tmp" tests/mcp
url=$HITL_URL
echo "tests/mcp: hitl serve at $url (pid $pid)"

# The example runs from a directory under this one, so that it finds the SDK installed here.
mkdir -p "$here/.run"
cp "$root/examples/mcp/review.mjs" "$here/.run/review.mjs"
export HITL_MCP_EXAMPLE=$here/.run/review.mjs

status=0
for f in "$here"/*.test.mjs; do
  node --test --test-reporter=spec "$@" "$f" || status=$?
done
if [[ $status -ne 0 ]]; then
  echo "tests/mcp: server log:" >&2
  tail -n 50 "$tmp/server.log" >&2
fi
exit $status
