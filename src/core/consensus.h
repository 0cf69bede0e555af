/* SPDX-License-Identifier: MIT */
/* Consensus: combine the answers of several reviewers into one outcome, or find a disagreement. */
#ifndef HITL_CORE_CONSENSUS_H
#define HITL_CORE_CONSENSUS_H

#include <stddef.h>

#include "core/queue.h"
#include "core/task.h"

typedef enum hitl_consensus_state {
  HITL_CONSENSUS_WAITING,   /* Fewer answers than needed. */
  HITL_CONSENSUS_AGREED,    /* Decided: winners[] holds one answer per question. */
  HITL_CONSENSUS_DISAGREED, /* The method found no agreement: the task goes to an arbiter. */
} hitl_consensus_state;

typedef struct hitl_consensus_result {
  hitl_consensus_state state;
  /* For AGREED: per question of the queue (same index), the winning response among the input,
   * or NULL when nobody answered that question. Borrowed from the input array. */
  const hitl_response **winners;
  size_t n_winners;
  const char *disagreement; /* For DISAGREED: the first question without agreement (borrowed). */
} hitl_consensus_result;

/* Decides the stage from responses (the answers of the current stage, each reviewer's answers
 * to possibly several questions, skips and escalations excluded by the caller) given that
 * `needed` distinct reviewers must have answered. Answers are equal when kind and value (compact
 * sorted JSON) are equal. first: the earliest reviewer's answers win; majority: for each question
 * an answer given by more than half of the reviewers wins; unanimous: all must be equal.
 * Fills *out (free with hitl_consensus_result_clear). Returns 0. */
int hitl_consensus_decide(const hitl_queue_config *q, hitl_consensus_method method, int needed,
                          const hitl_response *responses, size_t n, hitl_consensus_result *out);
void hitl_consensus_result_clear(hitl_consensus_result *r);

#endif
