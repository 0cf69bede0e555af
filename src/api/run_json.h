/* SPDX-License-Identifier: MIT */
/* Agent runs as JSON: the bodies agents and people send, and the run, step and command objects. */
#ifndef HITL_API_RUN_JSON_H
#define HITL_API_RUN_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "core/run.h"
#include "core/task.h"
#include "hitl/error.h"
#include "util/buf.h"

/* Reads a registration {agent, goal, metadata, heartbeat_seconds} into r (agent, goal,
 * metadata, heartbeat_seconds; owned by r). HITL_EVALIDATION naming the field otherwise. */
int hitl__run_from_json(const json_t *body, hitl_run *r, hitl_err *err);
/* Reads a heartbeat body (NULL: none): {"state": "running" | "finished"}; sets *finish. */
int hitl__run_heartbeat_from_json(const json_t *body, bool *finish, hitl_err *err);
/* Reads a step {text, data}: *text borrowed from body, *data malloc'd compact JSON or NULL. */
int hitl__run_step_from_json(const json_t *body, const char **text, char **data, hitl_err *err);
/* Reads a command {type, goal}: *goal borrowed from body (NULL unless type is goal). */
int hitl__run_command_from_json(const json_t *body, hitl_run_command_type *type,
                                const char **goal, hitl_err *err);

/* Appends the run as a JSON object (state as people see it, times as RFC 3339 or null). */
void hitl__run_to_json(hitl_buf *b, const hitl_run *r);
/* Appends {"seq","type","goal","actor","created_at","acked_at"}. */
void hitl__run_command_to_json(hitl_buf *b, const hitl_run_command *c);
/* Appends {"n","text","data","created_at"}. */
void hitl__run_step_to_json(hitl_buf *b, const hitl_run_step *s);
/* Appends a task of the run as the Runs page shows it: {"id","queue","state","priority",
 * "created_at","deadline_at"}. */
void hitl__run_task_to_json(hitl_buf *b, const hitl_task *t);

#endif
