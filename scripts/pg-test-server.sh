#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A throwaway PostgreSQL for the tests: `start DIR` creates a cluster in a new temporary folder,
# starts it on 127.0.0.1 on a free port (its socket in that folder too) and writes the URL to
# DIR/url; `stop DIR` stops that server by the PID it recorded and removes the folder.
# Postgres refuses to run as root: as root the cluster belongs to the `postgres` system user that
# Debian's package creates. The cluster is for tests only: fsync is off (the tests kill hitl,
# never PostgreSQL), and every login from 127.0.0.1 is trusted. HITL_PG_DURABLE=1 keeps fsync and
# full_page_writes on (PostgreSQL's defaults), for benchmarks whose figures must include durability.
# Usage: pg-test-server.sh start|stop DIR
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
(($# == 2)) || usage
cmd=$1
state=$2

bindir=${HITL_PG_BINDIR:-}
if [[ -z "$bindir" ]]; then
  for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/postgres" ]] && bindir=$d; done
fi
[[ -n "$bindir" && -x "$bindir/postgres" ]] || {
  echo "pg-test-server: no PostgreSQL server found: run scripts/install-deps.sh test" >&2
  exit 1
}

# Runs a command as the cluster's owner.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Stops the server whose folder DIR/folder names, by the PID in its postmaster.pid.
stop_server() {
  [[ -f "$state/folder" ]] || return 0
  local folder pid
  folder=$(cat "$state/folder")
  if [[ -f "$folder/data/postmaster.pid" ]]; then
    pid=$(head -n 1 "$folder/data/postmaster.pid")
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
      # A fast shutdown ends the sessions of tests that were killed mid-way; wait, bounded.
      kill -INT "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  case "$folder" in */hitl-pg.*) rm -rf "$folder" ;; esac
  rm -f "$state/folder" "$state/url"
}

case "$cmd" in
  start)
    mkdir -p "$state"
    stop_server # One left by an interrupted run.
    folder=$(mktemp -d "${TMPDIR:-/tmp}/hitl-pg.XXXXXX")
    echo "$folder" > "$state/folder"
    if [[ $(id -u) -eq 0 ]]; then
      getent passwd postgres >/dev/null || {
        echo "pg-test-server: running as root needs the postgres user (apt-get install postgresql)" >&2
        exit 1
      }
      chown postgres: "$folder"
      chmod 700 "$folder"
    fi
    as_owner "$bindir/initdb" -D "$folder/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$folder/initdb.log" 2>&1 || { cat "$folder/initdb.log" >&2; exit 1; }
    durability="-c fsync=off -c full_page_writes=off"
    [[ ${HITL_PG_DURABLE:-0} == 1 ]] && durability="-c fsync=on -c full_page_writes=on"
    # A free port: one nobody listens on, retried if another process takes it first.
    for attempt in 1 2 3 4 5; do
      port=$((20000 + RANDOM % 40000))
      if command -v ss >/dev/null && ss -Htln "sport = :$port" | grep -q .; then continue; fi
      if as_owner "$bindir/pg_ctl" -D "$folder/data" -l "$folder/server.log" -w -t 60 start \
          -o "-c listen_addresses=127.0.0.1 -p $port -k $folder $durability \
              -c max_connections=200 -c shared_buffers=32MB" \
          >/dev/null; then
        echo "postgresql://postgres@127.0.0.1:$port/postgres" > "$state/url"
        cat "$state/url"
        exit 0
      fi
      echo "pg-test-server: start on port $port failed (attempt $attempt)" >&2
    done
    cat "$folder/server.log" >&2 || true
    exit 1
    ;;
  stop) stop_server ;;
  *) usage ;;
esac
