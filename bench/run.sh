#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the benchmarks: the reference server's ceiling, then hitl's lifecycle, submit, claim and mcp
# modes.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run.sh [--build DIR] [--duration S] [--connections N] [--prefill N] [--modes "..."] [--dir DIR]
  --build DIR        build directory with hitl, bench_lifecycle, bench_refserver (default $BUILD or build)
  --duration S       seconds per measured mode (default 10)
  --connections N    connections per mode (default 16; lifecycle splits them half and half)
  --prefill N        pending tasks for the claim mode (default 1000000)
  --modes "..."      any of: ref lifecycle submit claim mcp (default all five)
  --dir DIR          where the databases go (default a new temporary directory, removed at exit)
Environment: HITL_BIN (default DIR/hitl), HITL_PORT (default: a free port).
Only 127.0.0.1 is used. Every server started here is stopped by its PID at exit.
EOF
}

build=${BUILD:-build}
duration=10
connections=16
prefill=1000000
modes="ref lifecycle submit claim mcp"
workdir=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --prefill) prefill=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --dir) workdir=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
for m in $modes; do
  case $m in ref|lifecycle|submit|claim|mcp) ;; *) echo "run.sh: unknown mode $m" >&2; exit 2 ;; esac
done

gen=$build/bench_lifecycle
ref=$build/bench_refserver
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

# shellcheck disable=SC2317 # Invoked by the EXIT trap.
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
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

# Starts `hitl serve` on a fresh database for mode $1; sets hitl_pid, hitl_port.
start_hitl() {
  local dir=$workdir/$1 i
  rm -rf "$dir"
  mkdir -p "$dir"
  hitl_port=${HITL_PORT:-}
  if [[ -z $hitl_port ]]; then # Borrow a free port from the kernel through the reference server.
    start_ref || return 1
    hitl_port=$ref_port
    stop_pid "$ref_pid"
  fi
  HITL_ADMIN_TOKEN=$token "$hitl_bin" serve --db "$dir/bench.db" --listen "127.0.0.1:$hitl_port" \
    >"$dir/server.log" 2>&1 &
  hitl_pid=$!
  pids+=("$hitl_pid")
  for ((i = 0; i < 300; i++)); do
    healthz "$hitl_port" && return 0
    kill -0 "$hitl_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "run.sh: hitl did not answer /healthz on 127.0.0.1:$hitl_port; its log:" >&2
  tail -n 20 "$dir/server.log" >&2 || true
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

token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
declare -A result
status=0

run_mode() {
  local mode=$1 port=$2 out=$tmp/$1.out rc=0
  shift 2
  echo "== $mode"
  HITL_TOKEN=$token "$gen" --mode "$mode" --port "$port" --duration "$duration" "$@" | tee "$out" || rc=$?
  result[$mode]=$(tail -n 1 "$out")
  if [[ $rc -ne 0 ]]; then
    echo "run.sh: $mode: bench_lifecycle exited with $rc" >&2
    status=1
  fi
}

for mode in $modes; do
  case $mode in
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
for mode in ref lifecycle submit claim mcp; do
  if [[ -n ${result[$mode]:-} ]]; then echo "${result[$mode]}"; fi
done
exit "$status"
