/* SPDX-License-Identifier: MIT */
/* Consensus: combine the answers of several reviewers into one outcome, or find a disagreement. */
#ifndef HITL_CORE_CONSENSUS_H
#define HITL_CORE_CONSENSUS_H

#include <stdbool.h>
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
   * or NULL when nobody answered that question. Borrowed from the input array, except where
   * agreement merged several answers into a new one (boxes averaged, relations re-indexed):
   * then it points at merged[i]. */
  const hitl_response **winners;
  size_t n_winners;
  hitl_response *merged;    /* NULL, or n_winners entries owned by the result; those with a
                             * NULL kind are unused. */
  const char *disagreement; /* For DISAGREED: the first question without agreement (borrowed). */
} hitl_consensus_result;

/* Decides the stage from responses (the answers of the current stage, each reviewer's answers
 * to possibly several questions, skips and escalations excluded by the caller) given that
 * `needed` distinct reviewers must have answered. Answers agree when their kinds are equal and:
 * for boxes, their boxes pair one to one with the same label and an IoU at or above the
 * question's threshold (the merged answer averages each pair's coordinates); for
 * transcriptions, their normalized word error rate is under the question's threshold (the
 * merged answer is the one closest to the others); for relations, they are the same set of
 * links between the same spans (the merged answer indexes into the winning spans answer); for
 * everything else, their values (compact sorted JSON) are equal. first: the earliest reviewer's
 * answers win; majority: for each question an answer agreed with by more than half of the
 * reviewers wins; unanimous: all must agree with the first. Fills *out (free with
 * hitl_consensus_result_clear). Returns 0. */
int hitl_consensus_decide(const hitl_queue_config *q, hitl_consensus_method method, int needed,
                          const hitl_response *responses, size_t n, hitl_consensus_result *out);
void hitl_consensus_result_clear(hitl_consensus_result *r);

/* When src's winner for question qi is a merged answer, moves it into dst (which has as many
 * winners) as dst's winner for qi and returns true; otherwise changes nothing and returns false
 * (src's winner then points into src's input). */
bool hitl_consensus_take_merged(hitl_consensus_result *dst, size_t qi, hitl_consensus_result *src);

#endif
