/* SPDX-License-Identifier: MIT */
/* The training-data shapes of the export: SFT examples, DPO pairs, labels, Label Studio tasks. */
#ifndef HITL_API_EXPORT_FORMATS_H
#define HITL_API_EXPORT_FORMATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/queue.h"
#include "core/task.h"
#include <jansson.h>

#include "util/buf.h"

/* The formats of GET /v1/queues/{queue}/export. */
typedef enum hitl_export_format {
  HITL_EXPORT_JSONL,        /* Each decided task as the API shows it, with its responses. */
  HITL_EXPORT_SFT,          /* {"prompt","completion",...} per approved or corrected output. */
  HITL_EXPORT_DPO,          /* {"prompt","chosen","rejected",...} per correction or ranked pair. */
  HITL_EXPORT_LABELS,       /* {"task_id","input","labels":{question: value},...} per labeled task. */
  HITL_EXPORT_LABEL_STUDIO, /* One Label Studio task per decided task, as elements of an array. */
} hitl_export_format;

/* The format named name ("jsonl", "sft", "dpo", "labels", "label-studio"), or -1. */
int hitl__export_format_parse(const char *name);

/* True when the format reads each task's responses (not only its decision). */
bool hitl__export_needs_responses(hitl_export_format f);

/* Appends what decided task t yields in format f to out and returns how many records that is
 * (0 when the task yields none, for example a rejected task in sft). JSON Lines formats end each
 * record with a newline; label-studio appends exactly one array element, without separator or
 * newline. q is the queue's configuration (label-studio reads field and question names from it);
 * responses (n of them) are only read when hitl__export_needs_responses(f). Nothing is kept. */
size_t hitl__export_append(hitl_buf *out, hitl_export_format f, const hitl_queue_config *q,
                           const hitl_task *t, const hitl_response *responses, size_t n);

/* Helpers the formats share. A JSON string for s, or null when s is NULL (or, defensively, not
 * UTF-8); a new reference. */
json_t *hitl__export_str_or_null(const char *s);
/* An RFC 3339 time for ms, or null when it is 0; a new reference. */
json_t *hitl__export_time_or_null(int64_t ms);
/* Appends v to out as compact JSON, members in insertion order, reals as short as exact. */
void hitl__export_put_json(hitl_buf *out, const json_t *v);

#endif
