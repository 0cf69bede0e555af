/* SPDX-License-Identifier: MIT */
/* Policy from JSON: turns a queue's "policy" object into a compiled core policy. */
#ifndef HITL_API_POLICY_JSON_H
#define HITL_API_POLICY_JSON_H

#include <jansson.h>

#include "core/policy.h"
#include "hitl/error.h"

/* Compiles policy ({"rules": [...]}; NULL means no rules). Field paths in errors start with
 * field_prefix ("policy"), e.g. "policy.rules[2].when.regex.pattern". On success sets *out
 * (caller frees with hitl_policy_free) and returns 0; otherwise HITL_EVALIDATION with err set. */
int hitl__policy_from_json(const json_t *policy, const char *field_prefix, hitl_policy **out,
                           hitl_err *err);

/* A task document for policy lookups: the JSON object the pointers index into. */
typedef struct hitl_json_doc hitl_json_doc;
/* Wraps doc (borrowed; must outlive the hitl_json_doc). */
hitl_json_doc *hitl__json_doc_new(const json_t *doc);
/* Frees the doc and every string handed out by lookups. */
void hitl__json_doc_free(hitl_json_doc *d);
/* A hitl_lookup_fn over a hitl_json_doc (pass the doc as ctx). */
int hitl__json_doc_lookup(void *ctx, const char *pointer, hitl_value *out);

#endif
