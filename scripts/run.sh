#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Starts hitl on the embedded SQLite default, creating an admin token on first run.
set -euo pipefail
build=${BUILD:-build}
db=${HITL_DB:-hitl.db}
listen=${HITL_LISTEN:-127.0.0.1:8080}

if [[ -z "${HITL_ADMIN_TOKEN:-}" ]]; then
  mkdir -p .hitl
  if [[ ! -s .hitl/admin-token ]]; then
    (umask 077 && "$build/hitl" token generate > .hitl/admin-token)
  fi
  HITL_ADMIN_TOKEN=$(cat .hitl/admin-token)
  export HITL_ADMIN_TOKEN
  echo "hitl: admin token (orchestrator) is in .hitl/admin-token"
fi
echo "hitl: serving http://$listen  (database $db)"
echo "hitl: try  curl -H \"Authorization: Bearer \$(cat .hitl/admin-token)\" http://$listen/v1/queues"
exec "$build/hitl" serve --db "$db" --listen "$listen"
