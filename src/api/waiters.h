/* SPDX-License-Identifier: MIT */
/* Requests waiting for a task to be decided (long-poll), woken by commits or by their deadline. */
#ifndef HITL_API_WAITERS_H
#define HITL_API_WAITERS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"

typedef struct hitl_waiters hitl_waiters;

/* Starts the registry and its timer thread. */
hitl_waiters *hitl__waiters_new(void);
/* Registers the suspended request req as waiting for task_id until deadline (wall-clock ms).
 * It is resumed (hitl__request_resume) exactly once: when the task changes or at the deadline. */
void hitl__waiters_add(hitl_waiters *w, hitl_request *req, const char *task_id, int64_t deadline);
/* Withdraws req (registered for task_id) if it is still registered; returns true when it was (the caller then resumes
 * it), false when a wake-up already took it. */
bool hitl__waiters_remove(hitl_waiters *w, hitl_request *req, const char *task_id);
/* Resumes every request waiting on task_id. */
void hitl__waiters_wake(hitl_waiters *w, const char *task_id);
/* Resumes every waiting request now (a token was revoked or a session ended): each one checks
 * its principal again, and registers again when it still has reason to wait. */
void hitl__waiters_wake_all(hitl_waiters *w);
/* Resumes every waiting request and stops the timer thread; later adds resume at once. */
void hitl__waiters_stop(hitl_waiters *w);
/* Frees a stopped registry. NULL is a no-op. */
void hitl__waiters_free(hitl_waiters *w);

#endif
