/* SPDX-License-Identifier: MIT */
/* Label Studio's task JSON both ways: decided tasks out (the export), tasks with predictions and
 * annotations in (the import). */
#ifndef HITL_API_LABEL_STUDIO_H
#define HITL_API_LABEL_STUDIO_H

#include <jansson.h>
#include <stddef.h>

#include "core/queue.h"
#include "core/task.h"
#include "hitl/error.h"
#include "util/buf.h"

/* The name of the Label Studio control tag that holds the model's output when it is not the
 * answer to one of the queue's questions (a TextArea). */
#define HITL_LS_OUTPUT "output"

/* Appends Label Studio task JSON for decided task t: "data" from input, "annotations" (one per
 * response body of responses[0..n)), "predictions" from output, "meta". input, output and
 * decision are the task's parsed members (NULL when absent). Every question type has its result
 * shape: choices, rating, textarea, ranker ({"ranker": {question: [...]}}), labels (spans),
 * rectanglelabels (boxes, with original_width/original_height), textarea (transcriptions, one
 * more per segment with start/end), relation (from_id/to_id naming span regions). */
void hitl__ls_task_append(hitl_buf *out, const hitl_queue_config *q, const hitl_task *t,
                          const json_t *input, const json_t *output, const json_t *decision,
                          const hitl_response *responses, size_t n);

/* One Label Studio task read for import. */
typedef struct hitl_ls_task {
  json_t *submit;          /* A submit body: {"input","output","confidence","model_version",
                            * "external_id","metadata"}. */
  hitl_response *answers;  /* Validated answers with question, kind, value and reviewer; a
                            * reviewer's answers next to each other. */
  size_t n_answers;
} hitl_ls_task;

/* Reads Label Studio task item (element index of the import) for queue q: data to input (every
 * schema field must be there), the first prediction to output (the answer shape of the question
 * it answers, or an object by question name when it answers several; an "output" TextArea as
 * its text) and its score to confidence, each annotation not cancelled to one reviewer's
 * answers, named by completed_by. Returns 0, or HITL_EVALIDATION with err naming the item
 * ("[3].annotations[0].result[2].value"). Free with hitl__ls_task_clear. */
int hitl__ls_task_read(const hitl_queue_config *q, const json_t *item, size_t index,
                       hitl_ls_task *out, hitl_err *err);
void hitl__ls_task_clear(hitl_ls_task *t);

/* Validates value as the answer of kind to question qn of q; on success fills *r (question,
 * kind, canonical value) and returns 0. Used both ways: what an output suggests, what an
 * annotation answered. */
int hitl__ls_answer_check(const hitl_queue_config *q, const char *qn, const char *kind,
                          const json_t *value, hitl_response *r, hitl_err *err);

#endif
