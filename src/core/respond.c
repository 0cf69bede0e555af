/* SPDX-License-Identifier: MIT */
/* Answers under a lease: skip, escalate, or an answer that may complete the task by consensus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/consensus.h"
#include "core/decision.h"
#include "core/lifecycle_internal.h"
#include "util/buf.h"
#include "util/xmalloc.h"

void hitl__task_to_arbiter(hitl_task *t, int64_t now) {
  t->stage = 1;
  free(t->role);
  t->role = hitl_xstrdup("arbiter");
  t->needed = 1;
  t->answers = 0;
  t->state = HITL_TASK_PENDING;
  hitl__task_clear_lease(t);
  t->updated_at = now;
}

/* After an arbitration: the questions the arbiter left unanswered keep what the first reviewers
 * agreed on, when at least overlap of them answered the question and the queue's consensus
 * method agrees among them. earlier holds the first stage's votes; winners point into it. */
static int keep_earlier_agreement(const hitl_queue_config *q, hitl_consensus_result *cr,
                                  const hitl_response *earlier, size_t n_earlier, bool *kept) {
  hitl_response *subset = hitl_xcalloc(n_earlier ? n_earlier : 1, sizeof *subset);
  size_t *from = hitl_xcalloc(n_earlier ? n_earlier : 1, sizeof *from);
  int rc = 0;
  for (size_t i = 0; i < cr->n_winners && i < q->n_questions && rc == 0; i++) {
    if (cr->winners[i] != NULL) continue;
    size_t m = 0, reviewers = 0;
    for (size_t k = 0; k < n_earlier; k++) {
      if (earlier[k].question == NULL || strcmp(earlier[k].question, q->questions[i].name) != 0)
        continue;
      bool seen = false;
      for (size_t j = 0; j < m && !seen; j++) seen = strcmp(subset[j].reviewer, earlier[k].reviewer) == 0;
      if (!seen) reviewers++;
      subset[m] = earlier[k]; /* A shallow view: nothing is freed through it. */
      from[m++] = k;
    }
    if ((int)reviewers < q->overlap) continue; /* Not enough answers for an agreement. */
    hitl_consensus_result one = {0};
    rc = hitl_consensus_decide(q, q->consensus, (int)reviewers, subset, m, &one);
    if (rc == 0 && one.state == HITL_CONSENSUS_AGREED && one.winners[i] != NULL) {
      kept[i] = true;
      if (!hitl_consensus_take_merged(cr, i, &one))
        cr->winners[i] = &earlier[from[one.winners[i] - subset]];
    }
    hitl_consensus_result_clear(&one);
  }
  free(subset);
  free(from);
  return rc;
}

/* See lifecycle_internal.h. */
int hitl__task_conclude(hitl_txn *x, const hitl_queue_config *q, hitl_task *t, const char *actor,
                        const char *response_id, int from_state, hitl_err *err) {
  hitl_response *all = NULL, *earlier = NULL, *everyone = NULL;
  size_t n_all = 0, n = 0, n_earlier = 0;
  hitl_consensus_result cr = {0};
  hitl_buf data = HITL_BUF_INIT;
  int rc = x->store->vt->response_list(x->store, t->seq, &all, &n_all);
  if (rc) {
    hitl_err_set(err, rc, NULL, "could not read the responses");
    goto cleanup;
  }
  /* Keep this stage's real answers, in order: skips and escalations carry no vote. In an
   * arbitration, the first stage's votes are set aside in earlier. */
  earlier = hitl_xcalloc(n_all ? n_all : 1, sizeof *earlier);
  for (size_t i = 0; i < n_all; i++) {
    bool counts = strcmp(all[i].kind, "skip") != 0 && strcmp(all[i].kind, "escalate") != 0;
    if (counts && t->stage == 1 && all[i].stage == 0) {
      earlier[n_earlier++] = all[i];
      memset(&all[i], 0, sizeof all[i]);
      continue;
    }
    if (!counts || all[i].stage != t->stage) {
      hitl_response_clear(&all[i]);
      continue;
    }
    if (n != i) {
      all[n] = all[i];
      memset(&all[i], 0, sizeof all[i]);
    }
    n++;
  }
  hitl_consensus_method method = t->stage == 0 ? q->consensus : HITL_CONSENSUS_FIRST;
  rc = hitl_consensus_decide(q, method, t->needed, all, n, &cr);
  if (rc) {
    hitl_err_set(err, rc, NULL, "could not compute consensus");
    goto cleanup;
  }
  hitl_buf_printf(&data, "{\"response_id\":\"%s\"", response_id);
  const char *type;
  if (cr.state == HITL_CONSENSUS_AGREED) {
    const char *by = t->stage == 0 && t->needed > 1 ? HITL_BY_CONSENSUS : HITL_BY_HUMAN;
    const char *outcome;
    /* The decision names everyone whose answer it carries: first reviewers, then the arbiter. */
    everyone = hitl_xcalloc(n_earlier + n + 1, sizeof *everyone);
    size_t n_everyone = 0;
    if (t->stage == 1 && n_earlier > 0) {
      bool *kept = hitl_xcalloc(cr.n_winners ? cr.n_winners : 1, sizeof *kept);
      rc = keep_earlier_agreement(q, &cr, earlier, n_earlier, kept);
      if (rc) {
        free(kept);
        hitl_err_set(err, rc, NULL, "could not compute consensus");
        goto cleanup;
      }
      for (size_t i = 0; i < cr.n_winners; i++)
        if (kept[i])
          for (size_t k = 0; k < n_earlier; k++)
            if (earlier[k].question && strcmp(earlier[k].question, q->questions[i].name) == 0)
              everyone[n_everyone++] = earlier[k];
      free(kept);
    }
    for (size_t k = 0; k < n; k++) everyone[n_everyone++] = all[k];
    free(t->decision);
    t->decision = hitl__decision_human(q, &cr, by, everyone, n_everyone, x->now, &outcome);
    free(t->decided_by);
    t->decided_by = hitl_xstrdup(by);
    t->decided_at = x->now;
    t->state = HITL_TASK_DECIDED;
    t->deadline_at = 0;
    hitl__task_clear_lease(t);
    t->updated_at = x->now;
    hitl_buf_printf(&data, ",\"by\":\"%s\",\"outcome\":\"%s\"}", by, outcome);
    type = "task.decided";
  } else if (cr.state == HITL_CONSENSUS_DISAGREED) {
    hitl__task_to_arbiter(t, x->now);
    hitl_buf_puts(&data, ",\"reason\":\"disagreement\",\"question\":");
    hitl_buf_json_cstr(&data, cr.disagreement);
    hitl_buf_putc(&data, '}');
    type = "task.escalated";
  } else {
    /* Consensus waits for distinct reviewers that answers counted; should not happen. */
    t->state = HITL_TASK_PENDING;
    hitl__task_clear_lease(t);
    t->updated_at = x->now;
    hitl_buf_putc(&data, '}');
    type = "task.responded";
  }
  rc = x->store->vt->task_update(x->store, t);
  if (rc == 0) rc = hitl__task_event(x, t, type, actor, from_state, hitl_buf_cstr(&data));
  if (rc) hitl_err_set(err, rc, NULL, "could not store the decision");
cleanup:
  hitl_consensus_result_clear(&cr);
  for (size_t i = 0; i < n_all; i++) hitl_response_clear(&all[i]);
  for (size_t i = 0; i < n_earlier; i++) hitl_response_clear(&earlier[i]);
  free(all);
  free(earlier);
  free(everyone); /* Shallow copies: their strings belong to all and earlier. */
  hitl_buf_free(&data);
  return rc;
}

int hitl_task_respond(hitl_txn *x, const hitl_queue_config *q, const char *task_id,
                      const char *lease_id, const hitl_actor *a, hitl_response *answers,
                      size_t n_answers, hitl_task *out, hitl_err *err) {
  int rc = hitl__task_may_answer(q, a, err);
  if (rc) return rc;
  rc = hitl__task_load_leased(x, task_id, lease_id, a, out, err);
  if (rc) return rc;
  char response_id[HITL_ID_LEN];
  hitl_id_new("r", response_id);
  for (size_t i = 0; i < n_answers; i++) {
    hitl_response *r = &answers[i];
    memcpy(r->id, response_id, HITL_ID_LEN);
    r->task_seq = out->seq;
    free(r->reviewer);
    r->reviewer = hitl_xstrdup(a->name);
    r->stage = out->stage;
    r->created_at = x->now;
    rc = x->store->vt->response_insert(x->store, r);
    if (rc) return hitl_err_set(err, rc, NULL, "could not store the response");
  }
  char data[128];
  snprintf(data, sizeof data, "{\"response_id\":\"%s\"}", response_id);
  const char *kind = n_answers == 1 ? answers[0].kind : "";
  if (strcmp(kind, "skip") == 0) {
    out->state = HITL_TASK_PENDING;
    hitl__task_clear_lease(out);
    out->updated_at = x->now;
    rc = x->store->vt->task_update(x->store, out);
    if (rc == 0) rc = hitl__task_event(x, out, "task.skipped", a->name, HITL_TASK_LEASED, data);
  } else if (strcmp(kind, "escalate") == 0) {
    hitl__task_to_arbiter(out, x->now);
    rc = x->store->vt->task_update(x->store, out);
    if (rc == 0) rc = hitl__task_event(x, out, "task.escalated", a->name, HITL_TASK_LEASED, data);
  } else {
    out->answers++;
    if (out->answers >= out->needed)
      return hitl__task_conclude(x, q, out, a->name, response_id, HITL_TASK_LEASED, err);
    out->state = HITL_TASK_PENDING;
    hitl__task_clear_lease(out);
    out->updated_at = x->now;
    rc = x->store->vt->task_update(x->store, out);
    if (rc == 0) rc = hitl__task_event(x, out, "task.responded", a->name, HITL_TASK_LEASED, data);
  }
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the response");
  return 0;
}
