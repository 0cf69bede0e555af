/* SPDX-License-Identifier: MIT */
/* The columns every task query of both backends selects, in the order their row readers
 * (hitl__sqlite_read_task, hitl__pg_read_task) read them. The queue name comes from a primary-key
 * look-up rather than a copy in every task row. */
#ifndef HITL_STORE_TASK_COLUMNS_H
#define HITL_STORE_TASK_COLUMNS_H

#define HITL__TASK_COLUMNS                                                                       \
  "t.seq, t.id, t.queue_id, (SELECT q.name FROM queues q WHERE q.id = t.queue_id), t.state, "    \
  "t.role, t.priority, t.created_at, t.updated_at, t.deadline_at, t.idempotency_key, "           \
  "t.body_hash, t.external_id, t.model_version, t.inference_id, t.run_id, t.confidence, "        \
  "t.payload, t.route, t.stage, t.needed, t.answers, t.lease_id, t.lease_owner, "                \
  "t.lease_expires_at, t.decision, t.decided_by, t.decided_at, t.submitted_by, "                 \
  "t.timeout_action"

/* The same columns without the task's contents (payload, route, decision read as NULL), for
 * task_scan's summaries. */
#define HITL__TASK_SUMMARY_COLUMNS                                                               \
  "t.seq, t.id, t.queue_id, (SELECT q.name FROM queues q WHERE q.id = t.queue_id), t.state, "    \
  "t.role, t.priority, t.created_at, t.updated_at, t.deadline_at, t.idempotency_key, "           \
  "t.body_hash, t.external_id, t.model_version, t.inference_id, t.run_id, t.confidence, "        \
  "NULL, NULL, t.stage, t.needed, t.answers, t.lease_id, t.lease_owner, "                        \
  "t.lease_expires_at, NULL, t.decided_by, t.decided_at, t.submitted_by, "                       \
  "t.timeout_action"

#endif
