#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the benchmarks: the reference server's ceiling, then hitl's lifecycle, submit, claim and mcp
# modes; on request hitl on PostgreSQL (one node, three nodes) beside a bare SKIP LOCKED queue.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run.sh [--build DIR] [--duration S] [--connections N] [--prefill N] [--modes "..."] [--dir DIR]
                    [--rounds N] [--log-level LEVEL]
  --build DIR        build directory with hitl, bench_lifecycle, bench_refserver, bench_pgqueue
                     (default $BUILD or build)
  --duration S       seconds per measured mode (default 10)
  --connections N    connections per mode (default 16; lifecycle splits them half and half)
  --prefill N        pending tasks for the claim mode (default 1000000)
  --modes "..."      any of: ref lifecycle submit claim mcp (default these five), and
                     pg-bare pg1 pg3: on a throwaway PostgreSQL (scripts/pg-test-server.sh, fsync
                     on), a bare FOR UPDATE SKIP LOCKED queue over libpq (bench_pgqueue), one
                     `hitl serve`, three `hitl serve` on one database (connections round-robin);
                     each run on a new database, lifecycle mode
  --rounds N         run the list of modes N times in turn (default 1); the summary gives each
                     mode's lifecycles/s (submits/s, requests/s) per round and their median
  --log-level LEVEL  hitl serve's --log-level (default its own, info); debug logs each group
                     commit (msg="batch") into DIR/MODE.ROUND/server*.log
Environment: HITL_BIN (default DIR/hitl), HITL_PORT (default: a free port; single-server modes).
Only 127.0.0.1 is used. Every server started here is stopped by its PID at exit.
EOF
}

build=${BUILD:-build}
duration=10
connections=16
prefill=1000000
modes="ref lifecycle submit claim mcp"
workdir=""
rounds=1
log_level=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --prefill) prefill=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --dir) workdir=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --log-level) log_level=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for m in $modes; do
  case $m in ref|lifecycle|submit|claim|mcp|pg-bare|pg1|pg3) ;; *) echo "run.sh: unknown mode $m" >&2; exit 2 ;; esac
done
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --rounds must be a positive number" >&2; exit 2; }

gen=$build/bench_lifecycle
ref=$build/bench_refserver
pgq=$build/bench_pgqueue
pg_script=$(dirname "$0")/../scripts/pg-test-server.sh
hitl_bin=${HITL_BIN:-$build/hitl}
for f in "$gen" "$ref"; do
  [[ -x $f ]] || { echo "run.sh: $f is missing: build first (cmake --build $build)" >&2; exit 1; }
done
if grep -qE '^(CMAKE_BUILD_TYPE:STRING=Debug|HITL_SANITIZE:BOOL=ON)$' "$build/CMakeCache.txt" 2>/dev/null; then
  echo "run.sh: warning: $build is a Debug or sanitizer build; figures will be low" >&2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hitl-bench.XXXXXX")
[[ -n $workdir ]] || workdir=$tmp
mkdir -p "$workdir"
pids=()
pg_state=""

# shellcheck disable=SC2317 # Invoked by the EXIT trap.
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # The PostgreSQL server is stopped by the PID in its postmaster.pid (pg-test-server.sh stop).
  if [[ -n $pg_state ]]; then bash "$pg_script" stop "$pg_state" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Stops one server we started: SIGTERM, up to 10 s, then SIGKILL.
stop_pid() {
  local pid=$1 i keep=()
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for i in "${pids[@]}"; do [[ $i == "$pid" ]] || keep+=("$i"); done
  pids=("${keep[@]+"${keep[@]}"}")
}

# Starts bench_refserver on a free port; sets ref_pid and ref_port.
start_ref() {
  local out=$tmp/ref.$RANDOM.out i
  "$ref" --port 0 >"$out" 2>"$out.err" &
  ref_pid=$!
  pids+=("$ref_pid")
  ref_port=""
  for ((i = 0; i < 100; i++)); do
    ref_port=$(sed -n 's/^port=\([0-9]*\)$/\1/p' "$out")
    [[ -n $ref_port ]] && return 0
    kill -0 "$ref_pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "run.sh: bench_refserver did not start: $(cat "$out.err")" >&2
  return 1
}

# Answers 0 when GET /healthz on 127.0.0.1:$1 returns 200 (plain bash, no client needed).
healthz() {
  (
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n' "$1" >&3
    IFS= read -r -t 2 line <&3 || exit 1
    [[ $line == HTTP/1.?" 200"* ]]
  ) 2>/dev/null
}

# Starts `hitl serve` for mode $1 on a fresh database (or on database $2, its log server$3.log);
# sets hitl_pid, hitl_port.
start_hitl() {
  local dir=$workdir/$1 db=${2:-} i
  if [[ -z $db ]]; then
    rm -rf "$dir"
    db=$dir/bench.db
  fi
  mkdir -p "$dir"
  local log=$dir/server${3:-}.log level=()
  [[ -n $log_level ]] && level=(--log-level "$log_level")
  hitl_port=""
  [[ -z ${3:-} ]] && hitl_port=${HITL_PORT:-}
  if [[ -z $hitl_port ]]; then # Borrow a free port from the kernel through the reference server.
    start_ref || return 1
    hitl_port=$ref_port
    stop_pid "$ref_pid"
  fi
  HITL_ADMIN_TOKEN=$token "$hitl_bin" serve --db "$db" --listen "127.0.0.1:$hitl_port" \
    "${level[@]+"${level[@]}"}" >"$log" 2>&1 &
  hitl_pid=$!
  pids+=("$hitl_pid")
  for ((i = 0; i < 300; i++)); do
    healthz "$hitl_port" && return 0
    kill -0 "$hitl_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: hitl did not answer /healthz on 127.0.0.1:$hitl_port; its log:" >&2
  tail -n 20 "$log" >&2 || true
  stop_pid "$hitl_pid"
  return 1
}

# json_get JSON KEY [OBJECT]: a number from a result line (inside "OBJECT":{...} when given).
json_get() {
  if [[ $# -eq 3 ]]; then
    sed -n "s/.*\"$3\":{[^}]*\"$2\":\([-0-9.]*\).*/\1/p" <<<"$1"
  else
    sed -n "s/.*\"$2\":\([-0-9.a-z]*\).*/\1/p" <<<"$1"
  fi
}

# Starts the throwaway PostgreSQL once (fsync and synchronous_commit on); sets pg_url.
start_pg() {
  [[ -n $pg_state ]] && return 0
  command -v psql >/dev/null || { echo "run.sh: PostgreSQL modes need psql (postgresql-client)" >&2; return 1; }
  [[ -x $pgq ]] || { echo "run.sh: $pgq is missing: build first" >&2; return 1; }
  pg_state=$tmp/pg
  HITL_PG_DURABLE=1 bash "$pg_script" start "$pg_state" >/dev/null || return 1
  pg_url=$(cat "$pg_state/url")
  [[ $pg_url == postgresql://*@127.0.0.1:*/postgres ]] || { echo "run.sh: no PostgreSQL URL" >&2; return 1; }
  echo "== PostgreSQL $(psql "$pg_url" -Atc 'SHOW server_version') on 127.0.0.1:" \
    "fsync $(psql "$pg_url" -Atc 'SHOW fsync'), synchronous_commit $(psql "$pg_url" -Atc 'SHOW synchronous_commit')"
}

pg_db_count=0
# Creates a new database on the throwaway PostgreSQL; sets pg_db to its URL.
new_pg_db() {
  pg_db_count=$((pg_db_count + 1))
  psql "$pg_url" -qc "CREATE DATABASE bench_$pg_db_count" || return 1
  pg_db=${pg_url%/postgres}/bench_$pg_db_count
}

token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
declare -A result rates
status=0

# Notes a run's result line under mode $1, and its rate for the summary of rounds.
note_result() {
  local r=$2 v
  result[$1]=$r
  v=$(json_get "$r" lifecycles_per_s)
  [[ -n $v ]] || v=$(json_get "$r" submits_per_s)
  [[ -n $v ]] || v=$(json_get "$r" requests_per_s)
  rates[$1]="${rates[$1]:-} ${v:-0}"
}

run_mode() {
  local mode=$1 port=$2 out=$tmp/$1.out rc=0
  shift 2
  echo "== $mode"
  HITL_TOKEN=$token "$gen" --mode "$mode" --port "$port" --duration "$duration" "$@" | tee "$out" || rc=$?
  note_result "$mode" "$(tail -n 1 "$out")"
  if [[ $rc -ne 0 ]]; then
    echo "run.sh: $mode: bench_lifecycle exited with $rc" >&2
    status=1
  fi
}

# One PostgreSQL mode, round $2.
run_pg() {
  local mode=$1 round=$2 out=$tmp/$1.out rc=0 k ports=() servers=()
  echo "== $mode (round $round, load average $(cut -d ' ' -f 1-3 /proc/loadavg))"
  if ! start_pg || ! new_pg_db; then
    status=1
    return
  fi
  case $mode in
    pg-bare)
      HITL_PG_URL=$pg_db "$pgq" --duration "$duration" --connections "$connections" | tee "$out" || rc=$? ;;
    pg1|pg3)
      local n=1
      [[ $mode == pg3 ]] && n=3
      rm -rf "$workdir/$mode.$round"
      for ((k = 1; k <= n; k++)); do
        start_hitl "$mode.$round" "$pg_db" "$k" || { status=1; break; }
        ports+=("$hitl_port")
        servers+=("$hitl_pid")
      done
      if [[ ${#ports[@]} -eq $n ]]; then
        HITL_TOKEN=$token "$gen" --mode lifecycle --ports "$(IFS=,; echo "${ports[*]}")" \
          --duration "$duration" --connections "$connections" | tee "$out" || rc=$?
      else
        rc=1
      fi
      for k in "${servers[@]}"; do stop_pid "$k"; done ;;
  esac
  [[ -s $out ]] && note_result "$mode" "$(tail -n 1 "$out")"
  if [[ $rc -ne 0 ]]; then
    echo "run.sh: $mode: exited with $rc" >&2
    status=1
  fi
  rm -f "$out"
}

for ((round = 1; round <= rounds; round++)); do
for mode in $modes; do
  case $mode in
    pg-bare|pg1|pg3) run_pg "$mode" "$round" ;;
    ref)
      start_ref || { status=1; continue; }
      run_mode ref "$ref_port" --connections "$connections"
      stop_pid "$ref_pid"
      ;;
    *)
      if [[ ! -x $hitl_bin ]]; then
        echo "run.sh: $mode: $hitl_bin is missing; not measured" >&2
        status=1
        continue
      fi
      start_hitl "$mode" || { status=1; continue; }
      case $mode in
        lifecycle) run_mode lifecycle "$hitl_port" --connections "$connections" ;;
        submit) run_mode submit "$hitl_port" --connections "$connections" ;;
        mcp) run_mode mcp "$hitl_port" --connections "$connections" ;;
        claim) run_mode claim "$hitl_port" --connections "$connections" --prefill "$prefill" \
                 --server-pid "$hitl_pid" ;;
      esac
      stop_pid "$hitl_pid"
      ;;
  esac
done
done

echo "== summary ($(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1))"
ref_rps=""
if [[ -n ${result[ref]:-} ]]; then
  ref_rps=$(json_get "${result[ref]}" requests_per_s)
  printf '%-10s %s requests/s, p99 %s us\n' ref "$ref_rps" "$(json_get "${result[ref]}" p99_us get)"
fi
if [[ -n ${result[lifecycle]:-} ]]; then
  r=${result[lifecycle]}
  rps=$(json_get "$r" requests_per_s)
  printf '%-10s %s lifecycles/s, %s requests/s; p99 submit %s us, claim %s us, respond %s us\n' lifecycle \
    "$(json_get "$r" lifecycles_per_s)" "$rps" "$(json_get "$r" p99_us submit)" \
    "$(json_get "$r" p99_us claim)" "$(json_get "$r" p99_us respond)"
  if [[ -n $ref_rps && -n $rps ]]; then
    awk -v a="$rps" -v b="$ref_rps" 'BEGIN { if (b > 0) printf "ratio      hitl lifecycle requests/s / reference requests/s = %.3f\n", a / b }'
  fi
fi
if [[ -n ${result[submit]:-} ]]; then
  r=${result[submit]}
  printf '%-10s %s submits/s, p50 %s us, p99 %s us\n' submit "$(json_get "$r" submits_per_s)" \
    "$(json_get "$r" p50_us submit)" "$(json_get "$r" p99_us submit)"
fi
if [[ -n ${result[claim]:-} ]]; then
  r=${result[claim]}
  printf '%-10s %s pending: claim p50 %s us, p99 %s us; %s bytes of server memory per pending task\n' claim \
    "$(json_get "$r" prefilled)" "$(json_get "$r" p50_us claim)" "$(json_get "$r" p99_us claim)" \
    "$(json_get "$r" bytes_per_pending_task)"
fi
if [[ -n ${result[mcp]:-} ]]; then
  # REST submits and MCP request_review calls side by side on one server, in one phase.
  r=${result[mcp]}
  printf '%-10s REST %s submits/s, p50 %s us, p99 %s us; MCP %s calls/s, p50 %s us, p99 %s us\n' mcp \
    "$(json_get "$r" submits_per_s)" "$(json_get "$r" p50_us submit)" "$(json_get "$r" p99_us submit)" \
    "$(json_get "$r" mcp_per_s)" "$(json_get "$r" p50_us mcp)" "$(json_get "$r" p99_us mcp)"
  printf '%-10s an MCP call costs %sx a REST submit by p50 latency, %sx by mean latency\n' mcp/rest \
    "$(json_get "$r" mcp_p50_ratio)" "$(json_get "$r" mcp_mean_ratio)"
fi
for mode in pg-bare pg1 pg3; do
  if [[ -n ${result[$mode]:-} ]]; then
    r=${result[$mode]}
    printf '%-10s %s lifecycles/s; p50/p99 submit %s/%s us, claim %s/%s us, respond %s/%s us (last round)\n' \
      "$mode" "$(json_get "$r" lifecycles_per_s)" "$(json_get "$r" p50_us submit)" "$(json_get "$r" p99_us submit)" \
      "$(json_get "$r" p50_us claim)" "$(json_get "$r" p99_us claim)" "$(json_get "$r" p50_us respond)" \
      "$(json_get "$r" p99_us respond)"
  fi
done
if ((rounds > 1)); then
  for mode in $modes; do
    [[ -n ${rates[$mode]:-} ]] || continue
    # shellcheck disable=SC2086 # One number per word.
    printf '%s\n' ${rates[$mode]} | sort -g | awk -v m="$mode" '
      { v[NR] = $1; all = all " " $1 }
      END { med = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%-10s rounds:%s; median %.1f (min %.1f, max %.1f)\n", m, all, med, v[1], v[NR] }'
  done
fi
for mode in ref lifecycle submit claim mcp pg-bare pg1 pg3; do
  if [[ -n ${result[$mode]:-} ]]; then echo "${result[$mode]}"; fi
done
exit "$status"
