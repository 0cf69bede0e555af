/* SPDX-License-Identifier: MIT */
/* Agent runs in motion: registering, heartbeats, steps, people's commands and their
 * acknowledgements, and the sweep that marks silent runs lost. Every protocol (HTTP, MCP) calls
 * these, so the rules of who may do what live here only. */
#ifndef HITL_CORE_RUN_CONTROL_H
#define HITL_CORE_RUN_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/lifecycle.h"
#include "core/run.h"

#define HITL_RUN_MAX_TEXT 4000 /* Longest goal or step text, in bytes. */
#define HITL_RUN_MAX_AGENT 200 /* Longest agent name, in bytes. */

/* True when a may report for r (heartbeats, steps, acknowledgements, reading its commands): the
 * token that registered it, or an orchestrator. */
bool hitl_run_may_report(const hitl_actor *a, const hitl_run *r);

/* Registers r: the caller set agent, goal (or NULL), metadata (compact JSON object or NULL) and
 * heartbeat_seconds (HITL_RUN_MIN_HEARTBEAT..HITL_RUN_MAX_HEARTBEAT); this sets id, owner (a's
 * name), state running and the times, stores it and appends "run.started". */
int hitl_run_create(hitl_txn *x, hitl_run *r, const hitl_actor *a, hitl_err *err);

/* A sign of life from the run's agent: the run is due again heartbeat_seconds from now, and a
 * lost run comes back to the state it was lost in ("run.found"). With finish, the run ends as
 * finished ("run.finished"). Fills *out with the run after the change. HITL_ENOT_FOUND for an
 * unknown run, HITL_EFORBIDDEN when a may not report for it, HITL_ECONFLICT when it is stopped
 * or finished (the message says which: a stopped agent should end). */
int hitl_run_heartbeat(hitl_txn *x, const char *run_id, const hitl_actor *a, bool finish,
                       hitl_run *out, hitl_err *err);

/* A heartbeat that needs no transaction: reads run_id from s (any handle) into *r. Returns 0
 * when it is running or paused and not yet due at now: then *r shows the heartbeat (last
 * heartbeat and updated_at now, due heartbeat_seconds later) and the caller must have it stored
 * within HITL_RUN_TOUCH_FLUSH_MS (a hitl_run_touch). HITL_ERETRY (r cleared, err untouched) when
 * the heartbeat needs hitl_run_heartbeat in a transaction: a lost run comes back with an event,
 * and an overdue one may be marked lost meanwhile. Other errors as hitl_run_heartbeat's, r
 * cleared. */
int hitl_run_heartbeat_quick(hitl_store *s, const char *run_id, const hitl_actor *a, int64_t now,
                             hitl_run *r, hitl_err *err);

/* hitl_run_heartbeat_quick on *r, a run already read for run_id (hitl_run_read, or a copy of
 * such a read that is known to be current). */
int hitl_run_heartbeat_check(const char *run_id, const hitl_actor *a, int64_t now, hitl_run *r,
                             hitl_err *err);
/* Reads run_id from s into *r (cleared on failure); HITL_ENOT_FOUND, with the message an agent
 * gets, when there is none. */
int hitl_run_read(hitl_store *s, const char *run_id, hitl_run *r, hitl_err *err);

/* A heartbeat taken by hitl_run_heartbeat_quick, to be stored. */
typedef struct hitl_run_touch {
  int64_t run_seq;
  char run_id[HITL_ID_LEN]; /* Its id, for what the server keeps in memory (the store uses seq). */
  int64_t at;     /* When it came: last_heartbeat_at and updated_at. */
  int64_t due_at; /* at + heartbeat_seconds. */
} hitl_run_touch;

/* Stores the heartbeats v[0..n): each moves its run's times forward (never back) while the run
 * is running or paused; a run that ended or was marked lost meanwhile is left as it is. */
int hitl_run_touch_apply(hitl_txn *x, const hitl_run_touch *v, size_t n);

/* Records a step (text, and data as compact JSON or NULL); it counts as a heartbeat. Fills *step
 * and *out. Errors as hitl_run_heartbeat. */
int hitl_run_add_step(hitl_txn *x, const char *run_id, const hitl_actor *a, const char *text,
                      const char *data, hitl_run_step *step, hitl_run *out, hitl_err *err);

/* People steer a run: pause (running -> paused), resume (paused -> running), stop (running,
 * paused or lost -> stopped, final), goal (a new goal; running, paused or lost). The run's state
 * changes at once; the command waits for the agent's acknowledgement. Appends "run.command".
 * Only orchestrators (HITL_EFORBIDDEN otherwise). HITL_ECONFLICT when the run is stopped or
 * finished, or the command does not fit its state (pausing a paused run). goal is required for
 * HITL_RUN_GOAL and ignored otherwise. Fills *cmd and *out. */
int hitl_run_command_give(hitl_txn *x, const char *run_id, const hitl_actor *a,
                          hitl_run_command_type type, const char *goal, hitl_run_command *cmd,
                          hitl_run *out, hitl_err *err);

/* The agent acknowledges command seq of the run: appends "run.command_acked" the first time;
 * a second acknowledgement changes nothing (*again set). Fills *cmd. HITL_ENOT_FOUND for an
 * unknown run or command. */
int hitl_run_command_ack(hitl_txn *x, const char *run_id, int64_t seq, const hitl_actor *a,
                         hitl_run_command *cmd, bool *again, hitl_err *err);

/* Marks lost the runs whose heartbeat is overdue by HITL_RUN_LOST_GRACE_MS at x->now, at most
 * limit ("run.lost"); sets *n_done to how many. Reads only the due runs (an index), never all of
 * them. */
int hitl_run_sweep(hitl_txn *x, size_t limit, size_t *n_done);

/* What an agent (or MCP's run_status tool) asks: the run and its commands not yet acknowledged,
 * oldest first (at most 100). Reads s (any handle, no transaction needed). *pending is malloc'd:
 * the caller clears each command and frees the array; *run is cleared by the caller too.
 * HITL_ENOT_FOUND for an unknown run, HITL_EFORBIDDEN when a may not report for it. */
int hitl_run_status(hitl_store *s, const char *run_id, const hitl_actor *a, hitl_run *run,
                    hitl_run_command **pending, size_t *n, hitl_err *err);

#endif
