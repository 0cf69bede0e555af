/* SPDX-License-Identifier: MIT */
/* Queue configuration from JSON: validates a PUT body and builds the core configuration. */
#ifndef HITL_API_QUEUE_JSON_H
#define HITL_API_QUEUE_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "core/queue.h"
#include "hitl/error.h"

/* Validates body (a queue configuration: schema, policy, assignment, sla, webhooks, description;
 * see docs/queues.md) and builds the configuration. A member that is absent or null takes its
 * default. On success sets *out (free with hitl_queue_config_free); (*out)->json is then the
 * normalized configuration, defaults filled in, as compact JSON with sorted keys, and
 * parsing that text again gives the same configuration. Returns 0, or HITL_EVALIDATION with
 * err naming the field at fault ("assignment.overlap", "schema.questions[2].labels[0]"); *out
 * is then NULL. */
int hitl__queue_config_from_json(const json_t *body, hitl_queue_config **out, hitl_err *err);

/* As hitl__queue_config_from_json for the body of a PUT, which may not set previous_secret: the
 * secrets of each webhook are settled (hitl__webhook_secret_settle) against the webhook with the
 * same URL in previous (the configuration replaced; NULL for a new queue) at time now. A
 * webhook whose secret was generated has generated set; only the PUT's answer shows it. */
int hitl__queue_config_from_put(const json_t *body, const hitl_queue_config *previous,
                                int64_t now, hitl_queue_config **out, hitl_err *err);

/* The queue's configuration as JSON for a reader, webhook secrets replaced by hints: whole for an
 * orchestrator (whole true), else with the webhook URLs redacted (hitl__url_redact). Borrowed
 * from q. */
const char *hitl__queue_config_json(const hitl_queue_config *q, bool whole);

/* A copy of url (malloc'd) that shows no credential: the userinfo, every query value and the
 * fragment become three stars, as in https://[stars]@host/path?token=[stars]. Scheme, host,
 * port and path stay. */
char *hitl__url_redact(const char *url);

#endif
