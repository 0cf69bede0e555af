#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A throwaway PostgreSQL for the tests: `start DIR` creates a cluster in a new temporary folder,
# starts it on 127.0.0.1 on a free port (its socket in that folder too) and writes the URL to
# DIR/url; `stop DIR` stops that server by the PID it recorded and removes the folder. `halt DIR`
# stops the server and keeps its folder; `resume DIR` starts it again on the same port and data
# (for tests of a database that goes away and comes back).
# Postgres refuses to run as root: as root the cluster belongs to the `postgres` system user that
# Debian's package creates. The cluster is for tests only: fsync is off (the tests kill hitl,
# never PostgreSQL), and every login from 127.0.0.1 is trusted. HITL_PG_DURABLE=1 keeps fsync and
# full_page_writes on (PostgreSQL's defaults), for benchmarks whose figures must include durability.
# Usage: pg-test-server.sh start|stop|halt|resume DIR
set -euo pipefail

usage() { echo "usage: $0 start|stop|halt|resume DIR" >&2; exit 2; }
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

durability="-c fsync=off -c full_page_writes=off"
[[ ${HITL_PG_DURABLE:-0} == 1 ]] && durability="-c fsync=on -c full_page_writes=on"

# Starts the cluster in folder on port; fails when it cannot.
start_cluster() {
  local folder=$1 port=$2
  as_owner "$bindir/pg_ctl" -D "$folder/data" -l "$folder/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $folder $durability \
        -c max_connections=200 -c shared_buffers=32MB" >/dev/null
}

# True while process pid runs: a zombie (exited, its parent not told yet) does not.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [[ "$(sed -E 's/.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]]
}

# Stops the server whose folder DIR/folder names, by the PID in its postmaster.pid, and removes
# the folder unless $1 is "keep".
stop_server() {
  [[ -f "$state/folder" ]] || return 0
  local folder pid
  folder=$(cat "$state/folder")
  if [[ -f "$folder/data/postmaster.pid" ]]; then
    pid=$(head -n 1 "$folder/data/postmaster.pid")
    if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid"; then
      # A fast shutdown ends the sessions of tests that were killed mid-way; wait, bounded.
      kill -INT "$pid" 2>/dev/null || true
      for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
      alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  [[ "${1:-}" == keep ]] && return 0
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
    # A free port: one nobody listens on, retried if another process takes it first. It is below
    # the range the system picks the local ports of outgoing connections from: a client that
    # connects to the port while the server is down (halt) may otherwise be given that very port
    # and hold it, connected to itself, so that the server cannot listen on it again.
    low=10000 high=32000
    read -r first _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || first=32768
    ((first > low + 1000 && first < high)) && high=$first
    for attempt in 1 2 3 4 5; do
      port=$((low + RANDOM % (high - low)))
      if command -v ss >/dev/null && ss -Htln "sport = :$port" | grep -q .; then continue; fi
      if start_cluster "$folder" "$port"; then
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
  halt) stop_server keep ;;
  resume)
    [[ -f "$state/folder" && -f "$state/url" ]] || { echo "pg-test-server: nothing to resume in $state" >&2; exit 1; }
    port=$(sed -E 's|.*:([0-9]+)/.*|\1|' "$state/url")
    folder=$(cat "$state/folder")
    start_cluster "$folder" "$port" || { cat "$folder/server.log" >&2; exit 1; }
    cat "$state/url"
    ;;
  *) usage ;;
esac
