/* SPDX-License-Identifier: MIT */
/* Reading and routing one task body: what a submit, a batch and an import do for each task. */
#ifndef HITL_API_TASK_PREPARE_H
#define HITL_API_TASK_PREPARE_H

#include <jansson.h>
#include <stdint.h>

#include "api/http.h"
#include "api/registry.h"
#include "core/task.h"
#include "hitl/error.h"

/* Fills t from body (a submit body) for queue q and routes it through q's policy at now: id,
 * queue, created_at and submitted_by (req's token) set. Error fields start with prefix. Runs on
 * a policy worker (the policy may take time). Returns 0, HITL_EVALIDATION, or another error. */
int hitl__task_prepare(hitl_request *req, const hitl_queue_ref *q, const json_t *body,
                       const char *header_key, const char *prefix, int64_t now, hitl_task *t,
                       hitl_err *err);

#endif
