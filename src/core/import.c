/* SPDX-License-Identifier: MIT */
/* Imported tasks: stored like submitted ones, with the answers people already gave elsewhere. */
#include <stdlib.h>
#include <string.h>

#include "core/lifecycle_internal.h"
#include "util/xmalloc.h"

/* The route of a task that came with answers: no rule of the policy decided it. */
#define IMPORT_ROUTE "{\"rule\":null,\"action\":\"import\",\"role\":null,\"priority\":null,\"trace\":[]}"

int hitl_task_import(hitl_txn *x, const hitl_queue_config *q, hitl_task *t, const char *actor,
                     hitl_response *answers, size_t n, hitl_err *err) {
  if (n == 0) {
    hitl_task existing = {0};
    bool replayed = false;
    int rc = hitl_task_submit(x, t, actor, &existing, &replayed, err);
    hitl_task_clear(&existing);
    return rc;
  }
  /* Set from scratch, so that a run again after a lost race starts from the same task. */
  size_t reviewers = 0;
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = strcmp(answers[j].reviewer, answers[i].reviewer) == 0;
    reviewers += !seen;
  }
  t->state = HITL_TASK_PENDING;
  t->stage = 0;
  t->needed = q->overlap > (int)reviewers ? q->overlap : (int)reviewers;
  t->answers = (int)reviewers;
  free(t->decision);
  t->decision = NULL;
  free(t->decided_by);
  t->decided_by = NULL;
  t->decided_at = 0;
  free(t->route);
  t->route = hitl_xstrdup(IMPORT_ROUTE);
  t->updated_at = x->now;
  hitl_task existing = {0};
  bool replayed = false;
  int rc = hitl_task_submit(x, t, actor, &existing, &replayed, err);
  hitl_task_clear(&existing);
  if (rc) return rc;
  /* One response id per reviewer: their answers came together, as one body would. */
  char id[HITL_ID_LEN] = "";
  for (size_t i = 0; i < n; i++) {
    hitl_response *r = &answers[i];
    if (i == 0 || strcmp(answers[i - 1].reviewer, r->reviewer) != 0) hitl_id_new("r", id);
    memcpy(r->id, id, HITL_ID_LEN);
    r->task_seq = t->seq;
    r->stage = 0;
    r->created_at = x->now;
    rc = x->store->vt->response_insert(x->store, r);
    if (rc) return hitl_err_set(err, rc, NULL, "could not store the imported answers");
  }
  /* Fewer annotators than the queue's overlap: the task waits for the others, as if these
   * had answered it here. */
  if (t->answers < t->needed) return 0;
  return hitl__task_conclude(x, q, t, actor, id, HITL_TASK_PENDING, err);
}
