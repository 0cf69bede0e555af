/* SPDX-License-Identifier: MIT */
/* What a queue's decisions say about its model, for calibration (docs/calibration.md): which
 * queues keep evidence, the verdict of a human decision, each task's audit draw, the hours of
 * the auto-accepted share, and the event an added pair calls for. */
#ifndef HITL_CORE_CALIB_EVIDENCE_H
#define HITL_CORE_CALIB_EVIDENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/calibration.h"
#include "core/queue.h"

/* The share auto-accepted "over the last day" is counted per hour over this many hours, the
 * current one included. */
#define HITL_CALIB_DAY_HOURS 24

/* Whether the queue keeps calibration evidence: its policy has a calibrated leaf, or it asks for
 * conformal prediction sets. Queues that do not pay nothing for their decisions. */
bool hitl_calib_wanted(const hitl_queue_config *q);

/* One answer of a decision, borrowed from it: its kind ("approve", "label", ...) and, for a
 * string value, the value; kind NULL when the question was not answered. */
typedef struct hitl_calib_answer {
  const char *kind;
  const char *value;
} hitl_calib_answer;

/* Whether the model was right, from the answers to q's questions (answers[i] answers
 * q->questions[i]) and the label the model predicted (NULL when none): on an approve question
 * approve is right, reject or modify wrong; on a label question the model is right when the
 * chosen label is the predicted one. The first question that says something decides. Returns 1,
 * 0, or -1 when the decision says nothing about the model. */
int hitl_calib_verdict(const hitl_queue_config *q, const hitl_calib_answer *answers,
                       const char *predicted);

/* The label people chose on q's first answered label question, or NULL (borrowed from
 * answers). */
const char *hitl_calib_decided_label(const hitl_queue_config *q, const hitl_calib_answer *answers);

/* The task's audit draw in [0, 1): fixed by its id (the same id gives the same draw on every
 * server), independent of sample_percent's buckets. */
double hitl_calib_audit_draw(const char *task_id);

/* The hour (wall-clock ms / 3,600,000) that now falls in; the last day is the hours from
 * hitl_calib_hour(now) - HITL_CALIB_DAY_HOURS + 1 on. */
int64_t hitl_calib_hour(int64_t now_ms);

/* The event type that adding a pair calls for: "calibration.withdrawn" when the drift test
 * withdrew a certificate that was in force (was_certified), "calibration.certified" when a
 * certificate is in force now and was not before the pair; NULL otherwise (static strings). */
const char *hitl_calib_event_type(hitl_calib_change change, bool was_certified, bool certified);

/* Snapshots as text (store/store.h's hitl_calib_snapshot). */
#define HITL_CALIB_PARAMS_TEXT 256

/* Writes p as text into out: two parameter sets print the same text exactly when they are
 * equal, so that a snapshot is used only under the parameters it was taken under. */
void hitl_calib_params_text(const hitl_calib_params *p, char out[HITL_CALIB_PARAMS_TEXT]);
/* Returns c's state (hitl_calibration_snapshot's doubles, each printed so that it reads back
 * exactly) as a malloc'd string the caller frees. */
char *hitl_calib_state_text(const hitl_calibration *c);
/* Restores c from a text of hitl_calib_state_text (see hitl_calibration_restore). Returns 0,
 * or HITL_EVALIDATION with c unchanged when text is not such a state. */
int hitl_calib_state_restore_text(hitl_calibration *c, const char *text, hitl_err *err);

#endif
