/* SPDX-License-Identifier: MIT */
/* The parts of the queue configuration's decoder shared by its files (queue_json.c and
 * queue_json_schema.c). */
#ifndef HITL_API_QUEUE_JSON_INTERNAL_H
#define HITL_API_QUEUE_JSON_INTERNAL_H

#include <jansson.h>
#include <stddef.h>

#include "core/queue.h"
#include "hitl/error.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The readers of one member at field (what names it in messages). Each returns 0, or
 * HITL_EVALIDATION with err naming field: hitl__queue_json_need_object checks that v is an
 * object; hitl__queue_json_get_enum sets *out to the index of v among names (count of them;
 * 0 on failure); hitl__queue_json_get_int sets *out to v, an integer in lo..hi (queue_json.c). */
int hitl__queue_json_need_object(const json_t *v, const char *field, const char *what,
                                 hitl_err *err);
int hitl__queue_json_get_enum(const json_t *v, const char *field, const char *what,
                              const char *const *names, size_t count, int *out, hitl_err *err);
int hitl__queue_json_get_int(const json_t *v, const char *field, const char *what, json_int_t lo,
                             json_int_t hi, json_int_t *out, hitl_err *err);

/* Validates schema (NULL: absent) and fills q's fields and questions, adding their normalized
 * form to norm. Returns 0, or HITL_EVALIDATION with err naming the field at fault
 * (queue_json_schema.c). */
int hitl__queue_json_parse_schema(const json_t *schema, hitl_queue_config *q, json_t *norm,
                                  hitl_err *err);

#endif
