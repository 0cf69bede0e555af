/* SPDX-License-Identifier: MIT */
/* Pieces shared by the lifecycle files of core; not for use outside core. */
#ifndef HITL_CORE_LIFECYCLE_INTERNAL_H
#define HITL_CORE_LIFECYCLE_INTERNAL_H

#include "core/lifecycle.h"

/* Appends an event about t (after its change) that moved it from from_state (-1: new). */
int hitl__task_event(hitl_txn *x, const hitl_task *t, const char *type, const char *actor,
                     int from_state, const char *data);
/* Forgets t's lease (id, owner, expiry). */
void hitl__task_clear_lease(hitl_task *t);
/* Loads task_id into *t and checks that a holds lease_id on it, unexpired; HITL_ECONFLICT
 * (t cleared) otherwise. */
int hitl__task_load_leased(hitl_txn *x, const char *task_id, const char *lease_id,
                           const hitl_actor *a, hitl_task *t, hitl_err *err);
/* 0 when a may answer tasks of queue q now (hitl_actor_may_review); HITL_EFORBIDDEN with err
 * set otherwise. The message names no task content. */
int hitl__task_may_answer(const hitl_queue_config *q, const hitl_actor *a, hitl_err *err);
/* Sends t to arbitration: stage 1, role arbiter, one answer needed, pending, no lease. */
void hitl__task_to_arbiter(hitl_task *t, int64_t now);
/* Decides t from the stored answers of its current stage once enough are in: by consensus (the
 * decision and task.decided), or to an arbiter on a disagreement (task.escalated). Stores t and
 * the event, which names response_id and from_state (the state t left). */
int hitl__task_conclude(hitl_txn *x, const hitl_queue_config *q, hitl_task *t, const char *actor,
                        const char *response_id, int from_state, hitl_err *err);

#endif
