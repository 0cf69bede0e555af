/* SPDX-License-Identifier: MIT */
/* Task lifecycle: routing a new task, storing it, leasing, releasing and cancelling. */
#include "core/lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/decision.h"
#include "core/lifecycle_internal.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/xmalloc.h"

bool hitl_actor_has_role(const hitl_actor *a, const char *role) {
  if (a->orchestrator) return true;
  for (size_t i = 0; i < a->n_roles; i++)
    if (strcmp(a->roles[i], role) == 0) return true;
  return false;
}

bool hitl_actor_may_review(const hitl_actor *a, const hitl_queue_config *q) {
  if (a->orchestrator || hitl_actor_has_role(a, "arbiter")) return true;
  for (size_t i = 0; i < q->n_roles; i++)
    if (hitl_actor_has_role(a, q->roles[i])) return true;
  return false;
}

bool hitl_actor_may_read_task(const hitl_actor *a, const hitl_task *t,
                              const hitl_queue_config *q) {
  if (a->orchestrator) return true;
  if (hitl_actor_has_role(a, "agent") && t->submitted_by && strcmp(t->submitted_by, a->name) == 0)
    return true;
  return q != NULL && hitl_actor_may_review(a, q);
}

int hitl_task_route(const hitl_queue_config *q, const hitl_policy_input *in, hitl_task *t,
                    int64_t now) {
  hitl_route r;
  int rc = hitl_policy_evaluate(q->policy, in, &r);
  if (rc) return rc;
  free(t->route);
  t->route = r.json;
  r.json = NULL;
  free(t->role);
  t->role = r.role;
  r.role = NULL;
  if (r.has_priority) t->priority = r.priority;
  t->stage = 0;
  t->needed = q->overlap;
  t->answers = 0;
  t->deadline_at = q->deadline_seconds ? now + q->deadline_seconds * 1000 : 0;
  t->timeout_action = 0;
  if (t->deadline_seconds > 0) {
    /* The task's own deadline (an agent failing closed) overrides the queue's; when it passes,
     * the queue's on_timeout applies if the queue has an SLA, else the task is rejected. */
    t->deadline_at = now + t->deadline_seconds * 1000;
    t->timeout_action = 1 + (int)(q->deadline_seconds ? q->on_timeout : HITL_SLA_REJECT);
  }
  t->updated_at = now;
  if (r.action == HITL_ACTION_REVIEW) {
    t->state = HITL_TASK_PENDING;
  } else {
    t->state = HITL_TASK_DECIDED;
    t->decision = hitl__decision_policy(
        r.action == HITL_ACTION_ACCEPT ? HITL_OUTCOME_APPROVE : HITL_OUTCOME_REJECT, r.rule_name,
        now);
    t->decided_by = hitl_xstrdup(HITL_BY_POLICY);
    t->decided_at = now;
    t->deadline_at = 0;
  }
  hitl_route_clear(&r);
  return 0;
}

int hitl__task_event(hitl_txn *x, const hitl_task *t, const char *type, const char *actor,
                     int from_state, const char *data) {
  hitl_event_spec spec = {
      .type = type,
      .queue = t->queue,
      .queue_id = t->queue_id,
      .task_id = t->id,
      .actor = actor,
      .data = data,
      .from_state = from_state,
      .to_state = (int)t->state,
      .decided_by = t->state == HITL_TASK_DECIDED || t->state == HITL_TASK_EXPIRED
                        ? (t->decided_by ? t->decided_by : NULL)
                        : NULL,
      .run_id = t->run_id, /* The run's open tasks, and so what it shows, may change. */
  };
  /* decided_by in the change must outlive the task: map it to a static string. */
  if (spec.decided_by) {
    static const char *const bys[] = {HITL_BY_POLICY, HITL_BY_HUMAN, HITL_BY_CONSENSUS, HITL_BY_SLA};
    const char *stat = NULL;
    for (size_t i = 0; i < sizeof bys / sizeof *bys; i++)
      if (strcmp(bys[i], spec.decided_by) == 0) stat = bys[i];
    spec.decided_by = stat;
  }
  return hitl_chain_append(x->chain, x->store, x->now, &spec);
}

void hitl__task_clear_lease(hitl_task *t) {
  t->lease_id[0] = '\0';
  free(t->lease_owner);
  t->lease_owner = NULL;
  t->lease_expires_at = 0;
}

int hitl_task_submit(hitl_txn *x, hitl_task *t, const char *actor, hitl_task *existing,
                     bool *replayed, hitl_err *err) {
  *replayed = false;
  hitl_store *s = x->store;
  if (t->idempotency_key) {
    /* Keys are the submitter's own: another token's key never replays nor conflicts. */
    int rc = s->vt->task_get_idempotent(s, t->queue_id, t->submitted_by, t->idempotency_key,
                                        existing);
    if (rc == 0) {
      if (memcmp(existing->body_hash, t->body_hash, HITL_HASH_LEN) != 0) {
        hitl_task_clear(existing);
        return hitl_err_set(err, HITL_ECONFLICT, "idempotency_key",
                            "idempotency key \"%s\" was already used with a different body",
                            t->idempotency_key);
      }
      *replayed = true;
      return 0;
    }
    if (rc != HITL_ENOT_FOUND) return hitl_err_set(err, rc, NULL, "could not read the store");
  }
  int rc = s->vt->task_insert(s, t);
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the task");
  hitl_buf data = HITL_BUF_INIT;
  hitl_buf_printf(&data, "{\"state\":\"%s\",\"priority\":%d", hitl_task_state_name(t->state),
                  t->priority);
  if (t->decision) hitl_buf_printf(&data, ",\"decision\":%s", t->decision);
  hitl_buf_putc(&data, '}');
  rc = hitl__task_event(x, t, "task.submitted", actor, -1, hitl_buf_cstr(&data));
  hitl_buf_free(&data);
  if (rc) return hitl_err_set(err, rc, NULL, "could not append the event");
  return 0;
}

/* Runs t's lease (already leased to actor) lease_seconds from now, stores t and appends the event
 * type with the lease id and expiry. Returns 0 or a store error. */
static int store_lease(hitl_txn *x, const hitl_queue_config *q, hitl_task *t, const char *type,
                       const char *actor, int from_state) {
  t->lease_expires_at = x->now + (int64_t)q->lease_seconds * 1000;
  t->updated_at = x->now;
  int rc = x->store->vt->task_update(x->store, t);
  if (rc) return rc;
  char ts[HITL_TIME_LEN], data[160];
  hitl_time_format(t->lease_expires_at, ts);
  snprintf(data, sizeof data, "{\"lease_id\":\"%s\",\"expires_at\":\"%s\"}", t->lease_id, ts);
  return hitl__task_event(x, t, type, actor, from_state, data);
}

int hitl_task_claim(hitl_txn *x, const hitl_queue_config *q, int64_t queue_id,
                    const hitl_actor *a, hitl_task *out, hitl_err *err) {
  hitl_claim_filter f = {
      .queue_id = queue_id,
      .reviewer = a->name,
      .roles = a->roles,
      .n_roles = a->n_roles,
      .any_role = a->orchestrator,
  };
  int rc = x->store->vt->task_claim_next(x->store, &f, out);
  if (rc == HITL_ENOT_FOUND) return rc;
  if (rc) return hitl_err_set(err, rc, NULL, "could not read the store");
  out->state = HITL_TASK_LEASED;
  hitl_id_new("l", out->lease_id);
  free(out->lease_owner);
  out->lease_owner = hitl_xstrdup(a->name);
  rc = store_lease(x, q, out, "task.leased", a->name, HITL_TASK_PENDING);
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the lease");
  return 0;
}

int hitl__task_load_leased(hitl_txn *x, const char *task_id, const char *lease_id,
                           const hitl_actor *a, hitl_task *t, hitl_err *err) {
  int rc = x->store->vt->task_get(x->store, task_id, t);
  if (rc == HITL_ENOT_FOUND)
    return hitl_err_set(err, rc, "task_id", "no task with id \"%s\"", task_id);
  if (rc) return hitl_err_set(err, rc, NULL, "could not read the store");
  const char *why = NULL;
  if (t->state == HITL_TASK_DECIDED || t->state == HITL_TASK_EXPIRED ||
      t->state == HITL_TASK_CANCELLED)
    why = t->state == HITL_TASK_DECIDED    ? "the task is already decided"
          : t->state == HITL_TASK_EXPIRED ? "the task expired at its deadline"
                                          : "the task was cancelled";
  else if (t->state != HITL_TASK_LEASED)
    why = "the task is not leased (the lease expired or was given back)";
  else if (strcmp(t->lease_id, lease_id) != 0)
    why = "the lease is not the task's current lease";
  else if (t->lease_owner == NULL || strcmp(t->lease_owner, a->name) != 0)
    why = "the lease belongs to another reviewer";
  else if (t->lease_expires_at <= x->now)
    why = "the lease has expired";
  if (why) {
    hitl_err_set(err, HITL_ECONFLICT, "lease_id", "lease \"%s\" cannot be used: %s", lease_id,
                 why);
    hitl_task_clear(t);
    return HITL_ECONFLICT;
  }
  return 0;
}

int hitl__task_may_answer(const hitl_queue_config *q, const hitl_actor *a, hitl_err *err) {
  if (hitl_actor_may_review(a, q)) return 0;
  return hitl_err_set(err, HITL_EFORBIDDEN, NULL,
                      "token \"%s\" has none of the roles that may answer the task's queue",
                      a->name);
}

int hitl_task_renew(hitl_txn *x, const hitl_queue_config *q, const char *task_id,
                    const char *lease_id, const hitl_actor *a, hitl_task *out, hitl_err *err) {
  int rc = hitl__task_may_answer(q, a, err);
  if (rc) return rc;
  rc = hitl__task_load_leased(x, task_id, lease_id, a, out, err);
  if (rc) return rc;
  rc = store_lease(x, q, out, "task.lease_renewed", a->name, HITL_TASK_LEASED);
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the renewal");
  return 0;
}

int hitl_task_release(hitl_txn *x, const char *task_id, const char *lease_id,
                      const hitl_actor *a, hitl_task *out, hitl_err *err) {
  int rc = hitl__task_load_leased(x, task_id, lease_id, a, out, err);
  if (rc) return rc;
  out->state = HITL_TASK_PENDING;
  hitl__task_clear_lease(out);
  out->updated_at = x->now;
  rc = x->store->vt->task_update(x->store, out);
  if (rc == 0) rc = hitl__task_event(x, out, "task.released", a->name, HITL_TASK_LEASED, NULL);
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the release");
  return 0;
}

bool hitl_actor_may_cancel_task(const hitl_actor *a, const hitl_task *t) {
  return a->orchestrator || (hitl_actor_has_role(a, "agent") && t->submitted_by &&
                             strcmp(t->submitted_by, a->name) == 0);
}

int hitl_task_cancel(hitl_txn *x, const char *task_id, const hitl_actor *a, hitl_task *out,
                     hitl_err *err) {
  int rc = x->store->vt->task_get(x->store, task_id, out);
  if (rc == HITL_ENOT_FOUND)
    return hitl_err_set(err, rc, "task_id", "no task with id \"%s\"", task_id);
  if (rc) return hitl_err_set(err, rc, NULL, "could not read the store");
  if (!hitl_actor_may_cancel_task(a, out))
    return hitl_err_set(err, HITL_EFORBIDDEN, NULL,
                        "only an orchestrator or the agent that submitted a task may cancel it");
  if (out->state != HITL_TASK_PENDING && out->state != HITL_TASK_LEASED) {
    hitl_err_set(err, HITL_ECONFLICT, NULL, "the task is %s and cannot be cancelled",
                 hitl_task_state_name(out->state));
    return HITL_ECONFLICT;
  }
  int from = (int)out->state;
  out->state = HITL_TASK_CANCELLED;
  hitl__task_clear_lease(out);
  out->updated_at = x->now;
  rc = x->store->vt->task_update(x->store, out);
  if (rc == 0) rc = hitl__task_event(x, out, "task.cancelled", a->name, from, NULL);
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the cancellation");
  return 0;
}
