/* SPDX-License-Identifier: MIT */
/* Answers from JSON: validates a response POST body against its queue's questions. */
#ifndef HITL_API_ANSWER_JSON_H
#define HITL_API_ANSWER_JSON_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/queue.h"
#include "core/task.h"
#include "hitl/error.h"

/* A validated response body: one reviewer's answers under one lease. Owns everything. */
typedef struct hitl_answers {
  char *lease_id;          /* The lease the answers are given under. */
  char *comment;           /* The body's comment, or NULL. */
  int64_t time_spent_ms;   /* As reported by the client; 0 when absent. */
  hitl_response *responses; /* One per answered question, in body order. */
  size_t n;
} hitl_answers;

/* Validates body against q: either one answer {"lease_id","question","kind","value","comment",
 * "time_spent_ms"} ("question" may be left out when q has a single question) or several
 * {"lease_id","answers":[{"question","kind","value"}...],"comment","time_spent_ms"}, each question
 * answered at most once. Kinds skip and escalate take no value and must be the only answer;
 * their question is the one named, the only one of q, or else NULL (the whole task). Fills *out:
 * each response gets question, kind, value (compact JSON with sorted keys, NULL when the kind
 * takes none) and copies of the body's comment and time_spent_ms; ids, seq, reviewer, stage and
 * task_seq are left zero for the caller. Returns 0, or HITL_EVALIDATION with err naming the
 * field ("answers[1].value"); *out is then empty. Free with hitl__answers_clear. */
int hitl__answers_from_json(const hitl_queue_config *q, const json_t *body, hitl_answers *out,
                            hitl_err *err);

/* Frees what a owns and zeroes it. NULL is a no-op. */
void hitl__answers_clear(hitl_answers *a);

#endif
