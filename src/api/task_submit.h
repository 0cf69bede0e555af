/* SPDX-License-Identifier: MIT */
/* Submitting one task for another protocol (MCP) by the path of POST /v1/queues/{queue}/tasks. */
#ifndef HITL_API_TASK_SUBMIT_H
#define HITL_API_TASK_SUBMIT_H

#include <jansson.h>

#include "api/http.h"
#include "api/registry.h"

/* Told the outcome of a submission: rc 0 with the stored task (or, when its idempotency key
 * replayed, the task stored earlier), or a HITL_E* code with err. task is borrowed for the
 * call. Runs on the writer thread, a policy worker or the HTTP thread: must not block. It
 * answers req or sets req->on_resume; the submission resumes req afterwards when it suspended
 * it. */
typedef void (*hitl_task_submitted_fn)(hitl_request *req, void *ctx, int rc, const hitl_err *err,
                                       const hitl_task *task);

/* Submits body (one task object as the REST submit takes it; the reference is taken) to queue q
 * (the reference is taken) as req's caller by the very path of POST /v1/queues/{queue}/tasks:
 * routes the task (here under a quick policy, else on a policy worker, req suspended) and
 * stores it on the writer; then calls done with ctx. Field paths in errors start with prefix
 * ("arguments."). req->state stays the caller's. */
void hitl__task_submit_one(hitl_request *req, hitl_queue_ref *q, json_t *body, const char *prefix,
                           hitl_task_submitted_fn done, void *ctx);

#endif
