/* SPDX-License-Identifier: MIT */
/* Consensus methods: first answer, strict majority and unanimity, decided question by question. */
#include "core/consensus.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

/* Strings that may be NULL are equal when both are NULL or both hold the same text. */
static bool same_text(const char *a, const char *b) {
  if (a == NULL || b == NULL) return a == b;
  return strcmp(a, b) == 0;
}

/* Two answers agree when their kind and their value (canonical JSON text) are equal. */
static bool same_answer(const hitl_response *a, const hitl_response *b) {
  return same_text(a->kind, b->kind) && same_text(a->value, b->value);
}

/* The winner among one question's answers, one per reviewer in order of first appearance (NULL
 * where a reviewer did not answer it); NULL when the method finds no agreement. m > 0 reviewers
 * answered. */
static const hitl_response *decide_question(hitl_consensus_method method,
                                            const hitl_response **answers, size_t nr, size_t m) {
  const hitl_response *first = NULL;
  for (size_t i = 0; i < nr && first == NULL; i++) first = answers[i];
  switch (method) {
  case HITL_CONSENSUS_FIRST:
    return first;
  case HITL_CONSENSUS_UNANIMOUS:
    for (size_t i = 0; i < nr; i++)
      if (answers[i] != NULL && !same_answer(answers[i], first)) return NULL;
    return first;
  case HITL_CONSENSUS_MAJORITY:
    /* The earliest answer of the group that holds more than half of the m answers. */
    for (size_t i = 0; i < nr; i++) {
      if (answers[i] == NULL) continue;
      size_t votes = 0;
      for (size_t j = 0; j < nr; j++)
        if (answers[j] != NULL && same_answer(answers[j], answers[i])) votes++;
      if (2 * votes > m) return answers[i];
    }
    return NULL;
  }
  return NULL;
}

/* See consensus.h. Reviewers are taken in order of their first response in the input, which the
 * caller gives in seq order; a reviewer's first answer to a question counts, later ones and
 * answers to questions the queue no longer has are ignored. For "first", each question goes to
 * the earliest reviewer who answered it. */
int hitl_consensus_decide(const hitl_queue_config *q, hitl_consensus_method method, int needed,
                          const hitl_response *responses, size_t n, hitl_consensus_result *out) {
  memset(out, 0, sizeof *out);
  const char **reviewers = hitl_xcalloc(n, sizeof *reviewers);
  const hitl_response **grid = NULL; /* grid[qi * nr + ri]: reviewer ri's answer to question qi. */
  const hitl_response **winners = NULL;
  size_t nr = 0;

  for (size_t i = 0; i < n; i++) {
    size_t r = 0;
    while (r < nr && !same_text(reviewers[r], responses[i].reviewer)) r++;
    if (r == nr) reviewers[nr++] = responses[i].reviewer;
  }
  if (nr < (size_t)(needed > 1 ? needed : 1)) {
    out->state = HITL_CONSENSUS_WAITING;
    goto cleanup;
  }

  grid = hitl_xcalloc(q->n_questions * nr, sizeof *grid);
  for (size_t i = 0; i < n; i++) {
    int qi = hitl_queue_question_index(q, responses[i].question);
    if (qi < 0) continue;
    size_t r = 0;
    while (!same_text(reviewers[r], responses[i].reviewer)) r++;
    if (grid[(size_t)qi * nr + r] == NULL) grid[(size_t)qi * nr + r] = &responses[i];
  }

  winners = hitl_xcalloc(q->n_questions, sizeof *winners);
  for (size_t qi = 0; qi < q->n_questions; qi++) {
    const hitl_response **answers = &grid[qi * nr];
    size_t m = 0;
    for (size_t r = 0; r < nr; r++) m += answers[r] != NULL;
    if (m == 0) continue;
    winners[qi] = decide_question(method, answers, nr, m);
    if (winners[qi] == NULL) {
      out->state = HITL_CONSENSUS_DISAGREED;
      out->disagreement = q->questions[qi].name;
      goto cleanup;
    }
  }
  out->state = HITL_CONSENSUS_AGREED;
  out->winners = winners;
  out->n_winners = q->n_questions;
  winners = NULL;

cleanup:
  free(winners);
  free(grid);
  free(reviewers);
  return 0;
}

/* Frees the winners array and zeroes r. NULL is a no-op. */
void hitl_consensus_result_clear(hitl_consensus_result *r) {
  if (r == NULL) return;
  free((void *)r->winners);
  memset(r, 0, sizeof *r);
}
