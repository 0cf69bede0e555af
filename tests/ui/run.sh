#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Browser tests of the web UI: starts `hitl serve` ($HITL_BIN) on a free port with a fresh
# database, seeds it over the API, runs tests/ui/*.test.mjs (node --test, playwright-core driving
# Debian's chromium; axe-core checks WCAG 2.1 A/AA), and stops the server. Needs: node >= 18, npm,
# /usr/bin/chromium.
#   HITL_BIN=build/hitl bash tests/ui/run.sh
# HITL_CHROMIUM overrides the browser; HITL_SCREENSHOTS=DIR keeps the screenshots there
# (docs/screenshots to refresh the committed ones); HITL_UI_BENCH=FILE appends the timings;
# HITL_UI_TESTS=GLOB runs only the matching test files.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${HITL_BIN:-$root/build/hitl}
[[ "$bin" = /* ]] || bin="$PWD/$bin"
chromium=${HITL_CHROMIUM:-/usr/bin/chromium}

[[ -x "$bin" ]] || { echo "tests/ui: HITL_BIN ($bin) is not an executable hitl" >&2; exit 1; }
command -v node >/dev/null || { echo "tests/ui: node is missing (apt-get install nodejs npm)" >&2; exit 1; }
[[ -x "$chromium" ]] || { echo "tests/ui: $chromium is missing (apt-get install chromium)" >&2; exit 1; }
# npm ci when a package of package.json (playwright-core, axe-core) is missing from node_modules.
if [[ ! -d "$here/node_modules/playwright-core" || ! -d "$here/node_modules/axe-core" ]]; then
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

tmp=$(mktemp -d)
pid=
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# shellcheck source=../serve.sh
source "$here/../serve.sh"
hitl_test_serve "$bin" "$tmp" tests/ui
url=$HITL_URL
export HITL_CHROMIUM=$chromium
export HITL_UI_STATE=$tmp/seed.json
export HITL_UI_TMP=$tmp
export HITL_SCREENSHOTS=${HITL_SCREENSHOTS:-$tmp/screenshots}
[[ "$HITL_SCREENSHOTS" = /* ]] || HITL_SCREENSHOTS="$PWD/$HITL_SCREENSHOTS"
mkdir -p "$HITL_SCREENSHOTS"
echo "tests/ui: hitl serve at $url (pid $pid)"

node "$here/seed.mjs"
status=0
# One file at a time (they share the server), in name order; node 18 (Debian 12) or later.
# HITL_UI_TESTS=GLOB runs only the files it matches (e.g. "3-*"), for work on one of them.
for f in "$here"/${HITL_UI_TESTS:-*}.test.mjs; do
  node --test --test-reporter=spec "$@" "$f" || status=$?
done
if [[ $status -ne 0 ]]; then
  echo "tests/ui: server log:" >&2
  tail -n 50 "$tmp/server.log" >&2
fi
exit $status
