/* SPDX-License-Identifier: MIT */
/* Tasks in and out of JSON: the submit body into a task, a stored task into the API's JSON. */
#ifndef HITL_API_TASK_JSON_H
#define HITL_API_TASK_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "core/task.h"
#include "hitl/error.h"
#include "util/buf.h"

/* Fills t from a submit body (a JSON object): payload, confidence, priority, caller ids,
 * idempotency key (header_key when the body has none) and the body hash. Field paths in errors
 * start with prefix ("" or "tasks[3]."). Returns 0 or HITL_EVALIDATION. */
int hitl__task_from_json(const json_t *body, const char *header_key, const char *prefix,
                         hitl_task *t, hitl_err *err);

/* What hitl__task_to_json includes besides the task's own fields. */
enum {
  HITL_TASK_JSON_LEASE = 1,     /* The lease (id, owner, expires_at) while leased. */
  HITL_TASK_JSON_RESPONSES = 2, /* "responses": the n given (an empty array when n is 0). */
};

/* Appends ,"key":"RFC 3339 time" for ms since the epoch, or ,"key":null when ms is 0. */
void hitl__json_time_member(hitl_buf *b, const char *key, int64_t ms);

/* Appends the task as a JSON object with the parts named by flags. */
void hitl__task_to_json(hitl_buf *b, const hitl_task *t, const hitl_response *responses, size_t n,
                        int flags);

/* True when name is a valid queue name: 1 to 64 of [A-Za-z0-9_.-], not "." or "..". */
bool hitl__queue_name_valid(const char *name);

#endif
