/* SPDX-License-Identifier: MIT */
/* The task lifecycle: submit, claim, respond, release, cancel, and the deadlines that fire. */
#ifndef HITL_CORE_LIFECYCLE_H
#define HITL_CORE_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/chain.h"
#include "core/queue.h"
#include "core/task.h"
#include "store/store.h"

/* Who is acting: a token's name and roles. Borrowed strings. */
typedef struct hitl_actor {
  const char *name;
  const char *const *roles;
  size_t n_roles;
  bool orchestrator; /* Holds the orchestrator role: may do everything. */
} hitl_actor;

/* True when the actor holds role (orchestrators hold every role). */
bool hitl_actor_has_role(const hitl_actor *a, const char *role);
/* True when the actor may answer tasks of the queue: orchestrator, or one of the queue's roles,
 * or the arbiter role (arbiters answer escalations in every queue). */
bool hitl_actor_may_review(const hitl_actor *a, const hitl_queue_config *q);
/* True when the actor may read task t (of queue q; q NULL when the queue is gone): orchestrators,
 * the agent that submitted it, and those who may review its queue. Every protocol (REST, MCP)
 * reads tasks under this rule, so an agent sees only its own tasks. */
bool hitl_actor_may_read_task(const hitl_actor *a, const hitl_task *t, const hitl_queue_config *q);

/* Everything the lifecycle functions need besides their own arguments. */
typedef struct hitl_txn {
  hitl_store *store; /* Inside a write transaction. */
  hitl_chain *chain;
  int64_t now;       /* Milliseconds since the epoch. */
  int lane;          /* The writer lane running the transaction (api/commit.h), 0 with one: for
                      * what callers keep in memory per open transaction. */
} hitl_txn;

/* Routes a new task: evaluates the queue's policy and fills t->route, state, role, priority,
 * stage, needed, deadline_at, timeout_action (from t->deadline_seconds when the task brings its
 * own deadline) and, when the policy decided, decision/decided_by/decided_at.
 * Pure: no store access. t->id, queue, created_at must be set. Returns 0 or a lookup error. */
int hitl_task_route(const hitl_queue_config *q, const hitl_policy_input *in, hitl_task *t,
                    int64_t now);

/* Stores a routed task and its events. When t->submitted_by already used t->idempotency_key in
 * the queue (keys are scoped to their submitter):
 * with the same body hash, *existing is filled with the stored task and *replayed set (nothing
 * is written); with another body, returns HITL_ECONFLICT. */
int hitl_task_submit(hitl_txn *x, hitl_task *t, const char *actor, hitl_task *existing,
                     bool *replayed, hitl_err *err);

/* Stores an imported task t (routed like a submitted one) with answers people gave elsewhere:
 * answers[] were validated against q's schema and carry question, kind, value and reviewer, a
 * reviewer's answers next to each other. Without answers, this is hitl_task_submit. With them,
 * the task is stored pending with route action "import", the answers as stage-0 responses
 * (one response id per reviewer) that count towards its overlap. Once as many reviewers as the
 * overlap answered, the queue's consensus decides it at once, or sends it to an arbiter when
 * they disagree; with fewer, it waits for more reviewers. Sets the answers' ids, task and stage;
 * t may be passed again after a rollback. */
int hitl_task_import(hitl_txn *x, const hitl_queue_config *q, hitl_task *t, const char *actor,
                     hitl_response *answers, size_t n, hitl_err *err);

/* Leases the next task of the queue the actor may answer. Fills *out with the leased task;
 * returns HITL_ENOT_FOUND when there is none. */
int hitl_task_claim(hitl_txn *x, const hitl_queue_config *q, int64_t queue_id,
                    const hitl_actor *a, hitl_task *out, hitl_err *err);

/* Records the actor's answers under lease_id. answers[] were validated against the schema
 * (question, kind, value, comment, time_spent_ms set); this sets their ids, task, reviewer and
 * stage. Skip gives the task back; escalate sends it to an arbiter; otherwise when enough
 * answers are in, consensus decides. Fills *out with the task after the change.
 * HITL_ECONFLICT for a wrong, foreign or expired lease or a task not leased. */
int hitl_task_respond(hitl_txn *x, const hitl_queue_config *q, const char *task_id,
                      const char *lease_id, const hitl_actor *a, hitl_response *answers,
                      size_t n_answers, hitl_task *out, hitl_err *err);

/* Extends the actor's lease to now + the queue's lease_seconds. HITL_ECONFLICT when the lease
 * is not (or no longer) the actor's. */
int hitl_task_renew(hitl_txn *x, const hitl_queue_config *q, const char *task_id,
                    const char *lease_id, const hitl_actor *a, hitl_task *out, hitl_err *err);

/* Gives a lease back: the task is pending again. HITL_ECONFLICT unless the actor holds it. */
int hitl_task_release(hitl_txn *x, const char *task_id, const char *lease_id,
                      const hitl_actor *a, hitl_task *out, hitl_err *err);

/* True when a may cancel t: orchestrators, and the agent that submitted it. */
bool hitl_actor_may_cancel_task(const hitl_actor *a, const hitl_task *t);

/* Cancels a task that is not final. HITL_EFORBIDDEN unless a may cancel it
 * (hitl_actor_may_cancel_task); HITL_ECONFLICT when it is decided, expired or cancelled. */
int hitl_task_cancel(hitl_txn *x, const char *task_id, const hitl_actor *a, hitl_task *out,
                     hitl_err *err);

/* Looks up a queue's configuration by store id for the sweeper; NULL when unknown. */
typedef const hitl_queue_config *(*hitl_config_fn)(void *ctx, int64_t queue_id);

/* Fires what is due at x->now, at most limit tasks: expired leases return their tasks to the
 * queue; passed deadlines apply the queue's sla action. Sets *n_done to the tasks changed. */
int hitl_task_sweep(hitl_txn *x, hitl_config_fn config, void *ctx, size_t limit, size_t *n_done);

/* Names of who decides, as stored in decided_by. */
#define HITL_BY_POLICY "policy"
#define HITL_BY_HUMAN "human"
#define HITL_BY_CONSENSUS "consensus"
#define HITL_BY_SLA "sla"

#endif
