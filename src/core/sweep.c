/* SPDX-License-Identifier: MIT */
/* What time makes happen: expired leases return their tasks, passed deadlines fire the SLA action. */
#include <stdlib.h>

#include "core/decision.h"
#include "core/lifecycle_internal.h"
#include "util/xmalloc.h"

/* Applies the queue's on_timeout action to t, whose deadline passed. */
static int deadline_passed(hitl_txn *x, const hitl_queue_config *q, hitl_task *t) {
  int from = (int)t->state;
  hitl_sla_action action = t->timeout_action > 0 ? (hitl_sla_action)(t->timeout_action - 1)
                           : q                   ? q->on_timeout
                                                 : HITL_SLA_EXPIRE;
  t->deadline_at = 0; /* A deadline fires once. */
  t->updated_at = x->now;
  const char *type;
  if (action == HITL_SLA_ESCALATE) {
    if (t->stage == 0) {
      hitl__task_to_arbiter(t, x->now);
    } else if (t->state == HITL_TASK_LEASED && t->lease_expires_at <= x->now) {
      t->state = HITL_TASK_PENDING;
      hitl__task_clear_lease(t);
    }
    type = "task.escalated";
  } else {
    const char *outcome = action == HITL_SLA_ACCEPT   ? HITL_OUTCOME_APPROVE
                          : action == HITL_SLA_REJECT ? HITL_OUTCOME_REJECT
                                                      : HITL_OUTCOME_EXPIRED;
    t->state = action == HITL_SLA_EXPIRE ? HITL_TASK_EXPIRED : HITL_TASK_DECIDED;
    free(t->decision);
    t->decision = hitl__decision_sla(outcome, x->now);
    free(t->decided_by);
    t->decided_by = hitl_xstrdup(HITL_BY_SLA);
    t->decided_at = x->now;
    hitl__task_clear_lease(t);
    type = action == HITL_SLA_EXPIRE ? "task.expired" : "task.decided";
  }
  int rc = x->store->vt->task_update(x->store, t);
  if (rc) return rc;
  return hitl__task_event(x, t, type, "system", from, "{\"reason\":\"deadline\"}");
}

static int lease_expired(hitl_txn *x, hitl_task *t) {
  t->state = HITL_TASK_PENDING;
  hitl__task_clear_lease(t);
  t->updated_at = x->now;
  int rc = x->store->vt->task_update(x->store, t);
  if (rc) return rc;
  return hitl__task_event(x, t, "task.lease_expired", "system", HITL_TASK_LEASED, NULL);
}

int hitl_task_sweep(hitl_txn *x, hitl_config_fn config, void *ctx, size_t limit, size_t *n_done) {
  *n_done = 0;
  hitl_task *due = NULL;
  size_t n = 0;
  int rc = x->store->vt->task_due(x->store, x->now, limit, &due, &n);
  if (rc) return rc;
  for (size_t i = 0; i < n && rc == 0; i++) {
    hitl_task *t = &due[i];
    if (t->deadline_at > 0 && t->deadline_at <= x->now)
      rc = deadline_passed(x, config(ctx, t->queue_id), t);
    else if (t->state == HITL_TASK_LEASED && t->lease_expires_at <= x->now)
      rc = lease_expired(x, t);
    else
      continue;
    if (rc == 0) (*n_done)++;
  }
  for (size_t i = 0; i < n; i++) hitl_task_clear(&due[i]);
  free(due);
  return rc;
}
