/* SPDX-License-Identifier: MIT */
/* Per-queue calibration state for the calibrated policy leaf: built from the stored evidence at
 * start, read by the policy workers when they route a task, fed with every human decision by the
 * writer, and shown by GET /v1/queues/{queue}/calibration (docs/calibration.md). */
#ifndef HITL_API_CALIB_H
#define HITL_API_CALIB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/registry.h"
#include "core/lifecycle.h"
#include "core/policy.h"
#include "store/store.h"
#include "util/buf.h"

typedef struct hitl_calib_set hitl_calib_set;

hitl_calib_set *hitl__calib_new(void);
/* Frees the set and every queue's state; NULL is a no-op. */
void hitl__calib_free(hitl_calib_set *c);

/* Sets the queue's calibration from its configuration: a policy with a calibrated leaf gets a
 * state, rebuilt from the evidence stored in st (in decision order, so that the drift test is
 * where it was) when it is new or its parameters changed; a policy without one drops it. Call
 * from the writer thread (or before it starts). Returns 0 or a store error. */
int hitl__calib_configure(hitl_calib_set *c, hitl_store *st, int64_t queue_id,
                          const hitl_queue_config *config);

/* The migration of a database from before calibration: when the queue has no stored evidence
 * yet, derives the verified pair of every task people decided (in order of decision, as
 * uniform pairs: everything was reviewed then) and stores it in its own transaction. For the
 * server's start, before the writer runs. Returns 0 or a store error. */
int hitl__calib_backfill(hitl_store *st, int64_t queue_id, const hitl_queue_config *config);

/* The score of a submitted task body: its confidence, else its largest probability; NaN when
 * it has neither. */
double hitl__calib_score_of_body(const json_t *body);

/* Checks the probabilities of a task body for a calibrated queue (or one with prediction sets): they must add up to 1 (within
 * 1e-6) and, when the queue has a label question, name only its labels. Returns 0 or
 * HITL_EVALIDATION naming prefix + "probabilities". */
int hitl__calib_check_body(const hitl_queue_config *q, const json_t *body, const char *prefix,
                           hitl_err *err);

/* Routes a task of the queue with this score: fills *out with hitl_calibration_route's answer
 * for the task's audit draw (fixed by task_id) and the certificate in force, and returns true;
 * false when the queue has no calibrated leaf. Thread-safe. */
bool hitl__calib_route(hitl_calib_set *c, int64_t queue_id, double score, const char *task_id,
                       hitl_policy_calib *out);

/* The conformal prediction set of a task body for the queue: when the queue asks for sets, the
 * body has probabilities and enough human-labelled tasks exist, appends
 * {"labels":[...],"coverage":..,"n_calibration":..} to json, sets *size and returns true.
 * Counts the set's size for the view. Thread-safe. */
bool hitl__calib_prediction_set(hitl_calib_set *c, int64_t queue_id, const json_t *body,
                                hitl_buf *json, int *size);

/* The evidence row to store with a task routed with *pc (task_seq left 0): its routing tag as
 * the task was actually handled, reviewed unless the calibrated leaf fired. */
void hitl__calib_row_for(const hitl_policy_calib *pc, int64_t queue_id, hitl_calib_row *row);

/* Counts a routed task of the queue toward the share auto-accepted over the last day.
 * Thread-safe. */
void hitl__calib_count(hitl_calib_set *c, int64_t queue_id, bool accepted, int64_t now);

/* Inside the writer's transaction, before its events are linked (hitl_chain_link): reads what
 * hitl__calib_precommit will store for every task people decided in it, so that those reads are
 * made before the transaction takes the chain's lock. Writer thread only. Returns 0 or a store
 * error. */
int hitl__calib_prepare(hitl_calib_set *c, hitl_registry *reg, hitl_txn *x);
/* Inside the writer's transaction, once its events are linked, before it commits (after
 * hitl__calib_prepare, which it calls itself when it was not): for every task people decided in it,
 * stores the verified pair (score, model was right) with the task, adds it to the queue's state,
 * and appends calibration.withdrawn (or calibration.certified) when the certificate was
 * withdrawn (or issued). Changes to the in-memory state are undone at the next call unless
 * hitl__calib_committed came first. Writer thread only. */
int hitl__calib_precommit(hitl_calib_set *c, hitl_registry *reg, hitl_txn *x);
/* After the transaction committed: keeps what hitl__calib_precommit did. Writer thread only. */
void hitl__calib_committed(hitl_calib_set *c);

/* Writes the queue's calibration view (without the withdrawal history) into b as the members
 * of a JSON object, without braces. */
void hitl__calib_view(hitl_calib_set *c, int64_t queue_id, int64_t now, hitl_buf *b);

#endif
