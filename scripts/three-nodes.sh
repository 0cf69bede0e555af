#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Several hitl nodes on one PostgreSQL, all on 127.0.0.1: to try a scale-out set-up on one
# machine, and for the multi-node tests. `start DIR` starts a throwaway PostgreSQL
# (scripts/pg-test-server.sh, in DIR/pg), creates the database `hitl` on it and starts three
# `hitl serve --db postgres://...` on free ports with one admin token; `stop DIR` stops the nodes
# and PostgreSQL by the PIDs it recorded.
# What start writes into DIR:
#   db                 the database's URL (for `hitl audit verify --db`, psql)
#   admin-token        the admin token every node was started with (mode 600)
#   nodeN.url          node N's base URL (N = 1, 2, 3), and all of them in urls, one a line
#   nodeN.pid          its process id; nodeN.log its log (stderr), nodeN.out its stdout
# Environment: HITL_BIN (default: hitl on PATH), HITL_ADMIN_TOKEN (default: a new random one),
# HITL_NODES (default 3), HITL_NODE_ARGS (more `hitl serve` options, split on spaces).
# Usage: three-nodes.sh start|stop DIR
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
(($# == 2)) || usage
cmd=$1
dir=$2
here=$(cd "$(dirname "$0")" && pwd)
nodes=${HITL_NODES:-3}

# True while process pid runs: a zombie (exited, its parent not told yet) does not.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [[ "$(sed -E 's/.*\) (.).*/\1/' "/proc/$1/stat" 2>/dev/null)" != Z ]]
}

# Stops the process whose id is in file (SIGTERM, then SIGKILL after 10 s) and removes the file.
stop_pid_file() {
  local file=$1 pid
  [[ -f "$file" ]] || return 0
  pid=$(cat "$file")
  if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop_all() {
  for f in "$dir"/node*.pid; do [[ -e "$f" ]] && stop_pid_file "$f"; done
  bash "$here/pg-test-server.sh" stop "$dir/pg"
  rm -f "$dir"/node*.url "$dir/urls" "$dir/db"
}

# Starts node i on a free port of 127.0.0.1 and waits (at most 30 s) until it listens.
start_node() {
  local i=$1 url=""
  # shellcheck disable=SC2086 # HITL_NODE_ARGS is a list of options.
  HITL_ADMIN_TOKEN=$token setsid "$bin" serve --db "$(cat "$dir/db")" --listen 127.0.0.1:0 \
    ${HITL_NODE_ARGS:-} </dev/null >"$dir/node$i.out" 2>"$dir/node$i.log" &
  echo $! >"$dir/node$i.pid"
  for _ in $(seq 1 300); do
    url=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$dir/node$i.out" 2>/dev/null | head -n 1 || true)
    [[ -n "$url" ]] && break
    alive "$(cat "$dir/node$i.pid")" || break
    sleep 0.1
  done
  if [[ -z "$url" ]]; then
    echo "three-nodes: node $i did not start; its log:" >&2
    cat "$dir/node$i.log" >&2
    return 1
  fi
  echo "$url" >"$dir/node$i.url"
  echo "$url" >>"$dir/urls"
}

case "$cmd" in
  start)
    bin=${HITL_BIN:-$(command -v hitl || true)}
    [[ -n "$bin" && -x "$bin" ]] || { echo "three-nodes: set HITL_BIN to the hitl binary" >&2; exit 1; }
    mkdir -p "$dir"
    stop_all # What an interrupted run left.
    server=$(bash "$here/pg-test-server.sh" start "$dir/pg")
    # The maintenance database's URL with the database name hitl instead.
    db="${server%/postgres}/hitl"
    bindir=${HITL_PG_BINDIR:-}
    if [[ -z "$bindir" ]]; then
      for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/createdb" ]] && bindir=$d; done
    fi
    port=${server##*:}
    port=${port%%/*}
    "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres -E UTF8 hitl
    echo "$db" >"$dir/db"
    token=${HITL_ADMIN_TOKEN:-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}
    (umask 077 && echo "$token" >"$dir/admin-token")
    : >"$dir/urls"
    for i in $(seq 1 "$nodes"); do
      start_node "$i" || { stop_all; exit 1; }
    done
    cat "$dir/urls"
    ;;
  stop) stop_all ;;
  *) usage ;;
esac
