/* SPDX-License-Identifier: MIT */
/* Per-queue calibration state for the calibrated policy leaf and conformal prediction sets: built
 * at start from the stored snapshot and the evidence after it, read by the policy workers when
 * they route a task, fed by the writer with the human decisions on queues that keep evidence,
 * counted per hour with the submits, and shown by GET /v1/queues/{queue}/calibration
 * (docs/calibration.md). The files: calib.c (the states), calib_body.c (task JSON),
 * calib_evidence.c (decisions), calib_backfill.c (evidence from decided tasks), calib_tally.c
 * (the last day's counters), calib_view.c (the view). */
#ifndef HITL_API_CALIB_H
#define HITL_API_CALIB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/registry.h"
#include "core/calib_evidence.h"
#include "core/lifecycle.h"
#include "core/policy.h"
#include "store/store.h"
#include "util/buf.h"

typedef struct hitl_calib_set hitl_calib_set;

/* Returns an empty set; each queue's calibration state is snapshotted in the store every
 * snapshot_every verified pairs (0: HITL__CALIB_SNAPSHOT_EVERY of api/calib_internal.h), so that
 * a start replays only the pairs after the last snapshot. */
hitl_calib_set *hitl__calib_new(unsigned snapshot_every);
/* Frees the set and every queue's state; NULL is a no-op. */
void hitl__calib_free(hitl_calib_set *c);

/* Sets the queue's calibration from its configuration: a policy with a calibrated leaf gets a
 * state, rebuilt from the evidence stored in st when it is new or its parameters changed (from
 * the queue's stored snapshot taken under the same parameters, then the pairs after it in
 * decision order, so that the drift test is where it was); a policy without one drops it. Call
 * from the writer thread (or before it starts). Returns 0 or a store error. */
int hitl__calib_configure(hitl_calib_set *c, hitl_store *st, int64_t queue_id,
                          const hitl_queue_config *config);

/* Rebuilds the queue's evidence from its decided tasks, inside the caller's transaction on st:
 * every task people decided without a stored pair gets one, judged from its decision (with the
 * routing tag stored when it was routed, else as a uniform pair: everything was reviewed then),
 * and when there was any, all pairs are numbered 1, 2, ... in order of decision and the queue's
 * snapshot is dropped. For the moment a queue starts keeping evidence (hitl_calib_wanted), since
 * decisions on a queue that keeps none store nothing. Reads every decided task of the queue once
 * and parses those without a pair: it holds the writer for that long (bench/README.md). Returns
 * 0 or a store error. */
int hitl__calib_backfill(hitl_store *st, int64_t queue_id, const hitl_queue_config *config);

/* The migration of a database from before calibration, for the server's start before the
 * writer runs: when the queue keeps evidence but has none stored, hitl__calib_backfill in its
 * own transaction. Returns 0 or a store error. */
int hitl__calib_backfill_at_start(hitl_store *st, int64_t queue_id,
                                  const hitl_queue_config *config);

/* Writer lane `lane`, inside the transaction that changed the queue's configuration so that it
 * keeps evidence from now on: decisions on the queue in the same transaction (and in another
 * lane's that commits meanwhile) are recorded, though the registry holds the old configuration
 * until the transaction commits. Thread-safe. */
void hitl__calib_gained(hitl_calib_set *c, int lane, int64_t queue_id);

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
 * {"labels":[...],"coverage":..,"n_calibration":..} to json, sets *size and returns true; sets
 * *size to -1 when the queue asks for sets and the body has probabilities but there is none to
 * give yet, and leaves it alone otherwise. Thread-safe. */
bool hitl__calib_prediction_set(hitl_calib_set *c, int64_t queue_id, const json_t *body,
                                hitl_buf *json, int *size);

/* The kinds of the store's calibration tallies (calib_tally_add), counted per queue and hour
 * with each submit for the view's last day. */
enum {
  HITL__TALLY_ROUTED = 0,   /* Tasks routed by a calibrated policy, */
  HITL__TALLY_ACCEPTED = 1, /* and of them, those the calibrated condition accepted. */
  HITL__TALLY_NO_SET = 2,   /* Tasks of a conformal queue with no prediction set to give yet. */
  HITL__TALLY_SET = 3,      /* + s: given a set of s labels (the last kind: 16 or more). */
  HITL__TALLY_KINDS = HITL__TALLY_SET + 16 + 1,
};

/* Writer lane `lane`, inside a submit's job: notes what the stored task adds to its queue's tallies
 * (calib_on: routed by a calibrated policy, accepted: by its calibrated condition; set_size:
 * hitl_policy_calib's, < -1 when it gives none). They are written, summed per queue and kind,
 * by hitl__calib_precommit when the transaction holds the task's submission: a job undone by its
 * savepoint counts nothing, and a transaction run again counts each task once. */
void hitl__calib_note_submit(hitl_calib_set *c, int lane, const char *task_id, int64_t queue_id,
                             bool calib_on, bool accepted, int set_size);

/* The evidence row to store with a task routed with *pc (task_seq left 0): its routing tag as
 * the task was actually handled, reviewed unless the calibrated leaf fired. */
void hitl__calib_row_for(const hitl_policy_calib *pc, int64_t queue_id, hitl_calib_row *row);

/* Inside the writer's transaction, before it commits: writes the tallies of the tasks it submitted
 * (hitl__calib_note_submit); for every task people decided in it on a queue that keeps evidence (others cost one look at their configuration in memory), stores
 * the verified pair (score, model was right) with the task, adds it to the queue's state,
 * and appends calibration.withdrawn (or calibration.certified) when the certificate was
 * withdrawn (or issued). Changes to the in-memory state are undone at the next call unless
 * hitl__calib_committed came first. Writer only, one lane at a time (the lane holds the chain's
 * lock and api/commit.c's order). */
int hitl__calib_precommit(hitl_calib_set *c, hitl_registry *reg, hitl_txn *x);
/* After the transaction committed: keeps what hitl__calib_precommit did. Writer only, by the
 * lane whose precommit came last. */
void hitl__calib_committed(hitl_calib_set *c);

/* Writes the queue's calibration view (without the withdrawal history) into b as the members
 * of a JSON object, without braces; day[HITL__TALLY_KINDS] are the store's tallies of the queue
 * over the last day. */
void hitl__calib_view(hitl_calib_set *c, int64_t queue_id, const int64_t *day, hitl_buf *b);

#endif
