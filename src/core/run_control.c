/* SPDX-License-Identifier: MIT */
/* Agent runs in motion: the state machine of a run and who may move it (see run_control.h). */
#include "core/run_control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/clock.h"
#include "util/xmalloc.h"

#define STATUS_LIMIT 100 /* Pending commands hitl_run_status returns at most. */

bool hitl_run_may_report(const hitl_actor *a, const hitl_run *r) {
  return a->orchestrator || (r->owner && strcmp(r->owner, a->name) == 0);
}

/* Appends a run event of type (a static string) by actor, with data: a JSON object's members
 * after "run_id" (may be NULL). */
static int run_event(hitl_txn *x, const hitl_run *r, const char *type, const char *actor,
                     const char *members) {
  hitl_buf data = HITL_BUF_INIT;
  hitl_buf_printf(&data, "{\"run_id\":\"%s\",\"agent\":", r->id);
  hitl_buf_json_cstr(&data, r->agent ? r->agent : "");
  hitl_buf_printf(&data, ",\"state\":\"%s\"", hitl_run_state_name(r->state));
  if (members && members[0]) {
    hitl_buf_putc(&data, ',');
    hitl_buf_puts(&data, members);
  }
  hitl_buf_putc(&data, '}');
  hitl_event_spec spec = {
      .type = type,
      .actor = actor,
      .data = hitl_buf_cstr(&data),
      .from_state = -1,
      .to_state = -1,
      .run_id = r->id,
  };
  int rc = hitl_chain_append(x->chain, x->store, x->now, &spec);
  hitl_buf_free(&data);
  return rc;
}

int hitl_run_create(hitl_txn *x, hitl_run *r, const hitl_actor *a, hitl_err *err) {
  hitl_id_new("run", r->id);
  free(r->owner);
  r->owner = hitl_xstrdup(a->name);
  r->state = HITL_RUN_RUNNING;
  r->lost_from = HITL_RUN_RUNNING;
  r->created_at = r->updated_at = r->last_heartbeat_at = x->now;
  r->heartbeat_due_at = x->now + (int64_t)r->heartbeat_seconds * 1000;
  r->ended_at = 0;
  r->steps = r->commands = r->acked = r->open_tasks = 0;
  int rc = x->store->vt->run_insert(x->store, r);
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the run");
  hitl_buf m = HITL_BUF_INIT;
  hitl_buf_puts(&m, "\"goal\":");
  if (r->goal)
    hitl_buf_json_cstr(&m, r->goal);
  else
    hitl_buf_puts(&m, "null");
  hitl_buf_printf(&m, ",\"heartbeat_seconds\":%d", r->heartbeat_seconds);
  rc = run_event(x, r, "run.started", a->name, hitl_buf_cstr(&m));
  hitl_buf_free(&m);
  if (rc) return hitl_err_set(err, rc, NULL, "could not append the event");
  return 0;
}

/* Checks that a may report for r (read for run_id) and that it is not over; clears r when not. */
static int check_report(const char *run_id, const hitl_actor *a, hitl_run *r, hitl_err *err) {
  if (!hitl_run_may_report(a, r)) {
    hitl_run_clear(r);
    return hitl_err_set(err, HITL_EFORBIDDEN, NULL,
                        "token \"%s\" did not register run \"%s\": only its agent reports for it",
                        a->name, run_id);
  }
  if (hitl_run_is_final(r->state)) {
    hitl_err_set(err, HITL_ECONFLICT, "run_id", "run \"%s\" is %s: it takes no more reports%s",
                 run_id, hitl_run_state_name(r->state),
                 r->state == HITL_RUN_STOPPED ? "; the agent should end" : "");
    hitl_run_clear(r);
    return HITL_ECONFLICT;
  }
  return 0;
}

int hitl_run_read(hitl_store *s, const char *run_id, hitl_run *r, hitl_err *err) {
  int rc = s->vt->run_get(s, run_id, r);
  if (rc == HITL_ENOT_FOUND)
    return hitl_err_set(err, rc, "run_id", "no run with id \"%s\": register it with POST /v1/runs",
                        run_id);
  if (rc) return hitl_err_set(err, rc, NULL, "could not read the store");
  return 0;
}

/* Loads the run into *r (cleared on failure) and checks that a may report for it and that it is
 * not over. */
static int load_for_report(hitl_txn *x, const char *run_id, const hitl_actor *a, hitl_run *r,
                           hitl_err *err) {
  int rc = hitl_run_read(x->store, run_id, r, err);
  return rc ? rc : check_report(run_id, a, r, err);
}

/* Notes a sign of life on r: due again a period from now; a lost run comes back. Appends
 * "run.found" for that. */
static int alive(hitl_txn *x, hitl_run *r, const hitl_actor *a) {
  r->last_heartbeat_at = x->now;
  r->heartbeat_due_at = x->now + (int64_t)r->heartbeat_seconds * 1000;
  r->updated_at = x->now;
  if (r->state != HITL_RUN_LOST) return 0;
  r->state = r->lost_from == HITL_RUN_PAUSED ? HITL_RUN_PAUSED : HITL_RUN_RUNNING;
  return run_event(x, r, "run.found", a->name, NULL);
}

int hitl_run_heartbeat(hitl_txn *x, const char *run_id, const hitl_actor *a, bool finish,
                       hitl_run *out, hitl_err *err) {
  int rc = load_for_report(x, run_id, a, out, err);
  if (rc) return rc;
  rc = alive(x, out, a);
  if (rc == 0 && finish) {
    out->state = HITL_RUN_FINISHED;
    out->heartbeat_due_at = 0;
    out->ended_at = x->now;
    rc = run_event(x, out, "run.finished", a->name, NULL);
  }
  /* An ordinary heartbeat appends no event: it is the frequent write, and only changes of state
   * belong in the audit chain. */
  if (rc == 0) rc = x->store->vt->run_update(x->store, out);
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the heartbeat");
  return 0;
}

int hitl_run_heartbeat_quick(hitl_store *s, const char *run_id, const hitl_actor *a, int64_t now,
                             hitl_run *r, hitl_err *err) {
  int rc = hitl_run_read(s, run_id, r, err);
  return rc ? rc : hitl_run_heartbeat_check(run_id, a, now, r, err);
}

int hitl_run_heartbeat_check(const char *run_id, const hitl_actor *a, int64_t now, hitl_run *r,
                             hitl_err *err) {
  int rc = check_report(run_id, a, r, err);
  if (rc) return rc;
  if (r->state == HITL_RUN_LOST || now >= r->heartbeat_due_at) {
    hitl_run_clear(r);
    return HITL_ERETRY;
  }
  r->last_heartbeat_at = r->updated_at = now;
  r->heartbeat_due_at = now + (int64_t)r->heartbeat_seconds * 1000;
  return 0;
}

int hitl_run_touch_apply(hitl_txn *x, const hitl_run_touch *v, size_t n) {
  int rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++)
    rc = x->store->vt->run_touch(x->store, v[i].run_seq, v[i].at, v[i].due_at);
  return rc;
}

int hitl_run_add_step(hitl_txn *x, const char *run_id, const hitl_actor *a, const char *text,
                      const char *data, hitl_run_step *step, hitl_run *out, hitl_err *err) {
  int rc = load_for_report(x, run_id, a, out, err);
  if (rc) return rc;
  rc = alive(x, out, a);
  out->steps++;
  hitl_run_step_clear(step);
  step->run_seq = out->seq;
  step->n = out->steps;
  step->text = hitl_xstrdup(text);
  step->data = data ? hitl_xstrdup(data) : NULL;
  step->created_at = x->now;
  if (rc == 0) rc = x->store->vt->run_step_insert(x->store, step);
  if (rc == 0) rc = x->store->vt->run_update(x->store, out);
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the step");
  return 0;
}

/* Why type cannot be given to a run in state s, or NULL when it can. */
static const char *command_misfit(hitl_run_command_type type, hitl_run_state s) {
  switch (type) {
  case HITL_RUN_PAUSE:
    if (s == HITL_RUN_PAUSED) return "it is paused already";
    if (s == HITL_RUN_LOST) return "it is lost (no heartbeat in time): stop it, or wait for it";
    return NULL;
  case HITL_RUN_RESUME:
    if (s == HITL_RUN_RUNNING) return "it is running: only a paused run resumes";
    if (s == HITL_RUN_LOST) return "it is lost (no heartbeat in time): stop it, or wait for it";
    return NULL;
  case HITL_RUN_STOP:
  case HITL_RUN_GOAL: return NULL;
  }
  return "the command is unknown";
}

int hitl_run_command_give(hitl_txn *x, const char *run_id, const hitl_actor *a,
                          hitl_run_command_type type, const char *goal, hitl_run_command *cmd,
                          hitl_run *out, hitl_err *err) {
  if (!a->orchestrator)
    return hitl_err_set(err, HITL_EFORBIDDEN, NULL,
                        "token \"%s\" may not command runs: that needs the orchestrator role",
                        a->name);
  if (type == HITL_RUN_GOAL && (goal == NULL || goal[0] == '\0'))
    return hitl_err_set(err, HITL_EVALIDATION, "goal", "a goal command needs a non-empty \"goal\"");
  int rc = x->store->vt->run_get(x->store, run_id, out);
  if (rc == HITL_ENOT_FOUND) return hitl_err_set(err, rc, "run_id", "no run with id \"%s\"", run_id);
  if (rc) return hitl_err_set(err, rc, NULL, "could not read the store");
  const char *why = hitl_run_is_final(out->state) ? "it is over; nothing more can be commanded"
                                                  : command_misfit(type, out->state);
  if (why) {
    hitl_err_set(err, HITL_ECONFLICT, "type", "run \"%s\" is %s and cannot take \"%s\": %s",
                 run_id, hitl_run_state_name(out->state), hitl_run_command_name(type), why);
    hitl_run_clear(out);
    return HITL_ECONFLICT;
  }
  switch (type) {
  case HITL_RUN_PAUSE: out->state = HITL_RUN_PAUSED; break;
  case HITL_RUN_RESUME: out->state = HITL_RUN_RUNNING; break;
  case HITL_RUN_STOP:
    out->state = HITL_RUN_STOPPED;
    out->heartbeat_due_at = 0;
    out->ended_at = x->now;
    break;
  case HITL_RUN_GOAL:
    free(out->goal);
    out->goal = hitl_xstrdup(goal);
    break;
  }
  out->commands++;
  out->updated_at = x->now;
  hitl_run_command_clear(cmd);
  cmd->run_seq = out->seq;
  cmd->seq = out->commands;
  cmd->type = type;
  cmd->goal = type == HITL_RUN_GOAL ? hitl_xstrdup(goal) : NULL;
  cmd->actor = hitl_xstrdup(a->name);
  cmd->created_at = x->now;
  rc = x->store->vt->run_command_insert(x->store, cmd);
  if (rc == 0) rc = x->store->vt->run_update(x->store, out);
  if (rc == 0) {
    hitl_buf m = HITL_BUF_INIT;
    hitl_buf_printf(&m, "\"seq\":%lld,\"type\":\"%s\"", (long long)cmd->seq,
                    hitl_run_command_name(type));
    if (cmd->goal) {
      hitl_buf_puts(&m, ",\"goal\":");
      hitl_buf_json_cstr(&m, cmd->goal);
    }
    rc = run_event(x, out, "run.command", a->name, hitl_buf_cstr(&m));
    hitl_buf_free(&m);
  }
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the command");
  return 0;
}

int hitl_run_command_ack(hitl_txn *x, const char *run_id, int64_t seq, const hitl_actor *a,
                         hitl_run_command *cmd, bool *again, hitl_err *err) {
  *again = false;
  hitl_run r = {0};
  int rc = x->store->vt->run_get(x->store, run_id, &r);
  if (rc == HITL_ENOT_FOUND) return hitl_err_set(err, rc, "run_id", "no run with id \"%s\"", run_id);
  if (rc) return hitl_err_set(err, rc, NULL, "could not read the store");
  if (!hitl_run_may_report(a, &r)) {
    hitl_run_clear(&r);
    return hitl_err_set(err, HITL_EFORBIDDEN, NULL,
                        "token \"%s\" did not register run \"%s\": only its agent acknowledges",
                        a->name, run_id);
  }
  hitl_run_command *found = NULL;
  size_t n = 0;
  rc = seq >= 1 ? x->store->vt->run_command_list(x->store, r.seq, seq - 1, false, 1, &found, &n)
                : 0;
  if (rc) {
    hitl_run_clear(&r);
    return hitl_err_set(err, rc, NULL, "could not read the store");
  }
  if (n == 0 || found[0].seq != seq) {
    for (size_t i = 0; i < n; i++) hitl_run_command_clear(&found[i]);
    free(found);
    hitl_err_set(err, HITL_ENOT_FOUND, "seq", "run \"%s\" has no command %lld (it has %lld)",
                 run_id, (long long)seq, (long long)r.commands);
    hitl_run_clear(&r);
    return HITL_ENOT_FOUND;
  }
  hitl_run_command_clear(cmd);
  *cmd = found[0];
  free(found);
  if (cmd->acked_at) {
    *again = true;
    hitl_run_clear(&r);
    return 0;
  }
  cmd->acked_at = x->now;
  r.acked++;
  r.updated_at = x->now;
  rc = x->store->vt->run_command_ack(x->store, r.seq, seq, x->now);
  if (rc == 0) rc = x->store->vt->run_update(x->store, &r);
  if (rc == 0) {
    char m[80];
    snprintf(m, sizeof m, "\"seq\":%lld,\"type\":\"%s\"", (long long)seq,
             hitl_run_command_name(cmd->type));
    rc = run_event(x, &r, "run.command_acked", a->name, m);
  }
  hitl_run_clear(&r);
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the acknowledgement");
  return 0;
}

int hitl_run_sweep(hitl_txn *x, size_t limit, size_t *n_done) {
  *n_done = 0;
  hitl_run *due = NULL;
  size_t n = 0;
  int rc = x->store->vt->run_due(x->store, x->now - HITL_RUN_LOST_GRACE_MS, limit, &due, &n);
  if (rc) return rc;
  for (size_t i = 0; i < n && rc == 0; i++) {
    hitl_run *r = &due[i];
    r->lost_from = r->state;
    r->state = HITL_RUN_LOST;
    r->updated_at = x->now;
    rc = x->store->vt->run_update(x->store, r);
    if (rc == 0) {
      char ts[HITL_TIME_LEN], m[160];
      hitl_time_format(r->last_heartbeat_at, ts);
      snprintf(m, sizeof m, "\"from\":\"%s\",\"last_heartbeat_at\":\"%s\"",
               hitl_run_state_name(r->lost_from), ts);
      rc = run_event(x, r, "run.lost", "system", m);
    }
    if (rc == 0) (*n_done)++;
  }
  for (size_t i = 0; i < n; i++) hitl_run_clear(&due[i]);
  free(due);
  return rc;
}

int hitl_run_status(hitl_store *s, const char *run_id, const hitl_actor *a, hitl_run *run,
                    hitl_run_command **pending, size_t *n, hitl_err *err) {
  *pending = NULL;
  *n = 0;
  int rc = s->vt->run_get(s, run_id, run);
  if (rc == HITL_ENOT_FOUND) return hitl_err_set(err, rc, "run_id", "no run with id \"%s\"", run_id);
  if (rc) return hitl_err_set(err, rc, NULL, "could not read the store");
  if (!hitl_run_may_report(a, run)) {
    hitl_run_clear(run);
    return hitl_err_set(err, HITL_EFORBIDDEN, NULL,
                        "token \"%s\" did not register run \"%s\"", a->name, run_id);
  }
  rc = s->vt->run_command_list(s, run->seq, 0, true, STATUS_LIMIT, pending, n);
  if (rc) {
    hitl_run_clear(run);
    return hitl_err_set(err, rc, NULL, "could not read the store");
  }
  return 0;
}
