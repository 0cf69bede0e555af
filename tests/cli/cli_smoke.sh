#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every hitl client command once against a running server and checks exit codes and outputs.
# Needs: HITL_BIN (the hitl binary), HITL_URL (the server), HITL_TOKEN (an orchestrator token).
set -uo pipefail

: "${HITL_BIN:?set HITL_BIN to the hitl binary}"
: "${HITL_URL:?set HITL_URL to a running server}"
: "${HITL_TOKEN:?set HITL_TOKEN to an orchestrator token}"
export HITL_URL HITL_TOKEN

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
OUT=
ERR=

# shown ARGS...: the arguments for a log line, with the value after --token masked.
shown() {
  local out=() mask=0 a
  for a in "$@"; do
    if [[ $mask -eq 1 ]]; then out+=("***"); else out+=("$a"); fi
    mask=0
    [[ $a == --token ]] && mask=1
  done
  echo "${out[*]}"
}

# run EXPECTED_CODE ARGS...: runs hitl, keeps stdout in $OUT and stderr in $ERR, checks the code.
run() {
  local want=$1
  shift
  "$HITL_BIN" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
  local got=$?
  OUT=$(cat "$tmp/out")
  ERR=$(cat "$tmp/err")
  if [[ $got -ne $want ]]; then
    echo "FAIL: hitl $(shown "$@") exited $got, want $want" >&2
    sed 's/^/  stderr: /' "$tmp/err" >&2
    failures=$((failures + 1))
    return 1
  fi
  echo "ok: hitl $(shown "$@")"
}

# run_in EXPECTED_CODE FILE ARGS...: the same with FILE on standard input.
run_in() {
  local want=$1 input=$2
  shift 2
  "$HITL_BIN" "$@" <"$input" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  OUT=$(cat "$tmp/out")
  ERR=$(cat "$tmp/err")
  if [[ $got -ne $want ]]; then
    echo "FAIL: hitl $(shown "$@") < $(basename "$input") exited $got, want $want" >&2
    sed 's/^/  stderr: /' "$tmp/err" >&2
    failures=$((failures + 1))
    return 1
  fi
  echo "ok: hitl $(shown "$@") < $(basename "$input")"
}

# check DESCRIPTION TEXT PATTERN: TEXT must match the extended regular expression PATTERN.
check() {
  if ! grep -Eq -- "$3" <<<"$2"; then
    echo "FAIL: $1: no match for /$3/ in:" >&2
    printf '%s\n' "$2" | sed 's/^/  /' >&2
    failures=$((failures + 1))
  fi
}

# top_id: the "id" member of the top-level object printed in $OUT (pretty-printed, indent 2).
top_id() { sed -n 's/^  "id": "\(.*\)",\{0,1\}$/\1/p' <<<"$OUT" | head -n 1; }
# lease_id: the "id" inside the "lease" object of $OUT.
lease_id() { sed -n '/^  "lease": {/,/^  }/s/^    "id": "\(.*\)",\{0,1\}$/\1/p' <<<"$OUT" | head -n 1; }

q="smoke-$$-$RANDOM"
empty_q="$q-empty"

# --- local commands ---
run 0 --version && check "--version" "$OUT" '^hitl [0-9]+\.[0-9]+\.[0-9]+$'
run 0 --help && check "--help" "$OUT" 'submit'
run 0 help respond && check "help respond" "$OUT" '--lease'
run 0 claim --help && check "claim --help" "$OUT" 'usage: hitl claim'
run 2 frobnicate
run 0 token generate && check "token generate" "$OUT" '^hitl_[0-9a-z]{52}$'

# --- tokens ---
run 0 token create --name "smoke-reviewer-$$" --roles validator || exit 1
reviewer=$OUT
check "token create prints the token alone" "$reviewer" '^[^[:space:]]+$'
check "token create notes once" "$ERR" 'once'

# --- queues ---
cat >"$tmp/queue.json" <<'JSON'
{"schema": {"fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "verdict", "type": "approve"}]},
 "policy": {"rules": [{"name": "everything", "then": {"action": "review"}}]},
 "assignment": {"overlap": 1, "roles": ["validator"], "lease_seconds": 600, "consensus": "majority"}}
JSON
run 0 queue put "$q" "$tmp/queue.json"
run_in 0 "$tmp/queue.json" queue put "$empty_q" -
run 0 queue get "$q" && check "queue get" "$OUT" "\"$q\""
run 0 queue list && check "queue list" "$OUT" "\"$q\""
run 0 --url "$HITL_URL" --token "$HITL_TOKEN" queue list
run 3 queue get "$q-missing"
echo '{"schema": ' >"$tmp/bad.json"
run 1 queue put "$q" "$tmp/bad.json"

# --- serve refuses bad options before it starts (bounded, in case one were taken) ---
for bad in "--webhook-retry-ms 0" "--webhook-retry-ms 3600001" "--webhook-retry-ms x" "--threads 0" \
  "--max-body 10" "--log-level loud" "--listen nope"; do
  # shellcheck disable=SC2086 # Each entry is an option and its value.
  timeout 10 "$HITL_BIN" serve --db "$tmp/never.db" $bad >"$tmp/out" 2>"$tmp/err"
  got=$?
  if [[ $got -ne 2 ]] || ! grep -q . "$tmp/err"; then
    echo "FAIL: hitl serve $bad exited $got, want 2 and a message" >&2
    failures=$((failures + 1))
  else
    echo "ok: hitl serve $bad"
  fi
done
[[ ! -e "$tmp/never.db" ]] || { echo "FAIL: a refused serve created its database" >&2; failures=$((failures + 1)); }

# --- webhook deliveries ---
# Port 1 refuses connections: the delivery is stored and waits for its next attempt.
echo '{"policy": {"rules": [{"name": "all", "then": {"action": "accept"}}]},
 "webhooks": [{"url": "http://127.0.0.1:1/hook", "events": ["task.decided"]}]}' >"$tmp/hooks.json"
run 0 queue put "$q-hooks" "$tmp/hooks.json"
echo '{"input": {"text": "hooked"}}' >"$tmp/hooked.json"
run 0 submit "$q-hooks" "$tmp/hooked.json"
run 0 queue deliveries "$q-hooks" --state pending --limit 5 &&
  check "queue deliveries" "$OUT" '"event_type": "task.decided"'
run 0 queue deliveries "$q-hooks" --state delivered && check "queue deliveries --state" "$OUT" '"deliveries": \[\]'
run 1 queue deliveries "$q-hooks" --state sent
run 1 queue deliveries "$q-hooks" --limit 0
run 2 queue deliveries "$q-hooks" --limit many
run 2 queue get "$q-hooks" --state pending
run 3 queue deliveries "$q-missing"
run 0 queue deliveries "$q-hooks"
whid=$(sed -n 's/^ *"id": "\(wh_[^"]*\)".*/\1/p' <<<"$OUT" | head -n 1)
check "a delivery id" "$whid" '^wh_'
# Still pending (port 1 refuses): a conflict; a delivered or failed one would be sent again.
run 4 queue redeliver "$q-hooks" "$whid" && check "queue redeliver pending" "$ERR" 'pending'
run 3 queue redeliver "$q-hooks" wh_missing
run 2 queue redeliver "$q-hooks"

# --- submit ---
echo '{"input": {"text": "one"}, "confidence": 0.5}' >"$tmp/one.json"
run 0 submit "$q" "$tmp/one.json" --idempotency-key "smoke-$$-1" || exit 1
first=$(top_id)
check "submit gives an id" "$first" '.'
check "submit state" "$OUT" '"state": "(pending|decided)"'
run 0 submit --idempotency-key "smoke-$$-1" "$q" "$tmp/one.json"
check "same idempotency key, same task" "$(top_id)" "^$first\$"
echo '{"input": {"text": "other"}}' >"$tmp/other.json"
run 4 submit "$q" "$tmp/other.json" --idempotency-key "smoke-$$-1"
echo '[{"input": {"text": "a1"}}, {"input": {"text": "a2"}}]' >"$tmp/array.json"
run 0 submit "$q" "$tmp/array.json"
printf '{"input": {"text": "l1"}}\n\n{"input": {"text": "l2"}}\n{"input": {"text": "l3"}}\n' >"$tmp/tasks.jsonl"
run_in 0 "$tmp/tasks.jsonl" submit "$q" --jsonl
# A task the server refuses is named by its input line (blank lines count), not its batch index.
printf '{"input": {"text": "ok"}}\n\n{"input": {"text": "ok"}}\n{"input": {"text": "x"}, "confidence": 7}\n' \
  >"$tmp/bad_task.jsonl"
run_in 1 "$tmp/bad_task.jsonl" submit "$q" --jsonl &&
  check "submit --jsonl names the line" "$ERR" 'at fault: line 4 of the input \(field confidence\)'
echo '[{"input": {"text": "ok"}}, {"input": {"text": "x"}, "priority": "high"}]' >"$tmp/bad_task.json"
run 1 submit "$q" "$tmp/bad_task.json" &&
  check "submit of an array names the task" "$ERR" 'at fault: task 2 of the input \(field priority\)'
run 1 submit "$q" "$tmp/bad.json"
run 3 submit "$q-missing" "$tmp/one.json"

# --- listing ---
run 0 tasks "$q" --state pending --limit 2 && check "tasks" "$OUT" '"tasks"'
check "tasks next_cursor" "$OUT" '"next_cursor"'
run 0 task "$first" && check "task" "$OUT" "\"$first\""
run 3 task "t_does_not_exist"
run 7 task "$first" --wait 1 && check "task --wait undecided" "$ERR" 'still'

# --- review: claim, respond, release, cancel ---
run 0 claim "$q" --token "$reviewer" || exit 1
task=$(top_id)
lease=$(lease_id)
check "claim gives a task" "$task" '.'
check "claim gives a lease" "$lease" '.'
run 2 respond "$task" --lease "$lease"
run 0 respond "$task" --lease "$lease" --approve --comment "smoke" --token "$reviewer"
run 4 respond "$task" --lease "$lease" --approve --token "$reviewer"
run 0 task "$task" --wait 5 && check "decided after respond" "$OUT" '"state": "decided"'

run 0 claim "$q" --token "$reviewer" || exit 1
task2=$(top_id)
lease2=$(lease_id)
run 0 release "$task2" --lease "$lease2" --token "$reviewer"
run 4 release "$task2" --lease "$lease2" --token "$reviewer"
run 0 cancel "$task2"
run 4 cancel "$task2"
run 0 task "$task2" --wait 1 && check "cancelled is final" "$OUT" '"state": "cancelled"'
run 7 claim "$empty_q" --token "$reviewer" && check "claim on an empty queue" "$ERR" 'no task'

# --- events and export ---
run 0 events --after 0 && check "events" "$OUT" '"events"'
run 0 events && check "events without --after" "$OUT" '"events"'
run 0 export "$q" --format jsonl && check "export has the decided task" "$OUT" "($task|\"one\")"

# --- Label Studio import ---
cat >"$tmp/ls-queue.json" <<'JSON'
{"schema": {"fields": [{"name": "text", "type": "text"}],
            "questions": [{"name": "sentiment", "type": "label", "labels": ["pos", "neg"]}]}}
JSON
cat >"$tmp/ls.json" <<'JSON'
[{"id": 1, "data": {"text": "great"},
  "annotations": [{"completed_by": {"email": "ann@example.com"},
                   "result": [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                               "value": {"choices": ["pos"]}}]}]},
 {"id": 2, "data": {"text": "meh"},
  "predictions": [{"score": 0.4, "result": [{"from_name": "sentiment", "to_name": "text",
                                             "type": "choices", "value": {"choices": ["neg"]}}]}]}]
JSON
printf '[{"data": {"body": "x"}}]' >"$tmp/ls-bad.json"
run 0 queue put "ls-$$" "$tmp/ls-queue.json"
run 0 import "ls-$$" "$tmp/ls.json" && check "import answers the tasks" "$OUT" '"imported": 2'
check "an annotated task is decided" "$OUT" '"state": "decided"'
run_in 0 "$tmp/ls.json" import "ls-$$" - && check "import from standard input" "$OUT" '"imported": 2'
run 1 import "ls-$$" "$tmp/ls-bad.json" && check "a task off the schema is named" "$ERR" '\[0\]\.data\.text'
run 1 import "ls-$$" "$tmp/ls-queue.json" && check "an object is not a task list" "$ERR" 'JSON array of tasks'
run 3 import "ls-none-$$" "$tmp/ls.json"
run 2 import "ls-$$"

# --- revoking a token ---
run 0 token create --name "smoke-temp-$$" --roles validator || exit 1
temp=$OUT
run 0 queue list --token "$temp"
run 0 token list && check "token list names it" "$OUT" "\"smoke-temp-$$\""
run 0 token revoke "smoke-temp-$$" && check "token revoke" "$OUT" '"revoked": true'
run 5 queue list --token "$temp"
run 3 token revoke "smoke-nobody-$$"
run 2 token revoke

# --- failures ---
run 5 queue list --token "not-a-token"
HITL_TOKEN='' run 5 queue list
run 6 queue list --url http://127.0.0.1:1
run 2 tasks "$q" --limit many
run 2 respond "$task" --lease "$lease" --approve --reject

if [[ $failures -ne 0 ]]; then
  echo "cli_smoke: $failures check(s) failed" >&2
  exit 1
fi
echo "cli_smoke: all checks passed"
