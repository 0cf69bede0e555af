#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Webhook deliveries verified by the standardwebhooks npm library: installs it from the lock file
# when missing and runs webhooks.test.mjs, which starts `hitl serve` ($HITL_BIN) and its receivers
# on 127.0.0.1 and stops them by their PIDs. Needs node >= 18 and npm.
#   HITL_BIN=build/hitl bash tests/webhooks/run.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${HITL_BIN:-$here/../../build/hitl}
[[ "$bin" = /* ]] || bin="$PWD/$bin"
[[ -x "$bin" ]] || { echo "tests/webhooks: HITL_BIN ($bin) is not an executable hitl" >&2; exit 1; }
command -v node >/dev/null || { echo "tests/webhooks: node is missing (apt-get install nodejs npm)" >&2; exit 1; }
[[ -d "$here/node_modules/standardwebhooks" ]] ||
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
HITL_BIN=$bin exec node --test --test-reporter=spec "$here/webhooks.test.mjs"
