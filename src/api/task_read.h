/* SPDX-License-Identifier: MIT */
/* Reading one task for a caller, under core's read rule, and long-polling until it is final. */
#ifndef HITL_API_TASK_READ_H
#define HITL_API_TASK_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"

/* Reads task id for req's caller under core's read rule (hitl_actor_may_read_task) into *t,
 * which the caller clears. When rs is not NULL, also reads the task's responses into *rs and *n
 * (the caller clears each and frees the array). Returns 0, or HITL_ENOT_FOUND, HITL_EFORBIDDEN
 * or HITL_EUNAVAILABLE with err set; answers nothing. */
int hitl__task_read(hitl_request *req, const char *id, hitl_task *t, hitl_response **rs,
                    size_t *n, hitl_err *err);

/* True for the states a task does not leave: decided, expired, cancelled. */
bool hitl__task_state_final(hitl_task_state s);

/* A long-poll on one task. It must be the first member of the request's state (req->state
 * points to it), so that the wake-ups find it. */
typedef struct hitl_task_wait {
  char task_id[HITL_ID_LEN];
  int64_t deadline;                  /* When the wait ends undecided (wall-clock ms). */
  void (*answer)(hitl_request *req); /* Answers req with the task as it is then. */
} hitl_task_wait;

/* Suspends req until task w->task_id is final, w->deadline passes or the server stops; then
 * w->answer runs on an HTTP thread. The token is looked at again at least every few seconds: a
 * revoked token or ended session gets 401 instead. The caller holds a wait slot of its token
 * (hitl__limits_wait_begin), and req->state is w. */
void hitl__task_wait(hitl_request *req, hitl_task_wait *w);

#endif
