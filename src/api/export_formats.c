/* SPDX-License-Identifier: MIT */
/* Renders decided tasks as training data: SFT examples, DPO pairs, labels and Label Studio tasks. */
#include "api/export_formats.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_text.h"
#include "api/label_studio.h"
#include "api/task_json.h"
#include "util/clock.h"


static const char *const format_names[] = {
    [HITL_EXPORT_JSONL] = "jsonl",
    [HITL_EXPORT_SFT] = "sft",
    [HITL_EXPORT_DPO] = "dpo",
    [HITL_EXPORT_LABELS] = "labels",
    [HITL_EXPORT_LABEL_STUDIO] = "label-studio",
};

int hitl__export_format_parse(const char *name) {
  for (size_t i = 0; i < sizeof format_names / sizeof *format_names; i++)
    if (strcmp(name, format_names[i]) == 0) return (int)i;
  return -1;
}

bool hitl__export_needs_responses(hitl_export_format f) {
  return f == HITL_EXPORT_JSONL || f == HITL_EXPORT_LABEL_STUDIO;
}

/* The parts of a stored task the formats read, parsed once. */
typedef struct parsed_task {
  json_t *payload;  /* The stored payload object, or NULL. */
  json_t *decision; /* The decision object, or NULL. */
  json_t *input;    /* Borrowed from payload; NULL when absent or JSON null. */
  json_t *output;   /* Likewise. */
  json_t *answers;  /* decision.answers (question -> {"kind","value"}), or NULL. */
} parsed_task;

static json_t *present(json_t *v) { return v == NULL || json_is_null(v) ? NULL : v; }

static void parse_task(const hitl_task *t, parsed_task *p) {
  memset(p, 0, sizeof *p);
  p->payload = t->payload ? json_loads(t->payload, 0, NULL) : NULL;
  p->decision = t->decision ? json_loads(t->decision, 0, NULL) : NULL;
  p->input = present(json_object_get(p->payload, "input"));
  p->output = present(json_object_get(p->payload, "output"));
  json_t *answers = json_object_get(p->decision, "answers");
  p->answers = json_is_object(answers) ? answers : NULL;
}

static void parsed_task_free(parsed_task *p) {
  json_decref(p->payload);
  json_decref(p->decision);
}

json_t *hitl__export_str_or_null(const char *s) {
  json_t *v = s ? json_string(s) : NULL;
  return v ? v : json_null();
}

json_t *hitl__export_time_or_null(int64_t ms) {
  if (ms == 0) return json_null();
  char ts[HITL_TIME_LEN];
  hitl_time_format(ms, ts);
  return json_string(ts);
}

static int dump_to_buf(const char *data, size_t n, void *b) {
  hitl_buf_append(b, data, n);
  return 0;
}

void hitl__export_put_json(hitl_buf *out, const json_t *v) {
  json_dump_callback(v, dump_to_buf, out,
                     JSON_COMPACT | JSON_ENCODE_ANY | hitl__json_real_flags(v));
}

/* Appends rec and a newline, then releases rec. */
static size_t emit_line(hitl_buf *out, json_t *rec) {
  hitl__export_put_json(out, rec);
  hitl_buf_putc(out, '\n');
  json_decref(rec);
  return 1;
}

/* The members every training record ends with: where it came from. */
static void put_origin(json_t *rec, const hitl_task *t) {
  json_object_set_new(rec, "task_id", json_string(t->id));
  json_object_set_new(rec, "model_version", hitl__export_str_or_null(t->model_version));
  json_object_set_new(rec, "inference_id", hitl__export_str_or_null(t->inference_id));
  json_object_set_new(rec, "decided_at", hitl__export_time_or_null(t->decided_at));
}

static const char *answer_kind(const json_t *a) {
  const char *k = json_string_value(json_object_get(a, "kind"));
  return k ? k : "";
}

/* The value of the first winning answer of kind, or NULL. */
static json_t *first_answer_value(json_t *answers, const char *kind) {
  const char *q;
  json_t *a;
  json_object_foreach(answers, q, a) {
    if (strcmp(answer_kind(a), kind) == 0) return present(json_object_get(a, "value"));
  }
  return NULL;
}

/* An SFT example: the input and the output that was accepted, as given or as corrected. */
static size_t write_sft(hitl_buf *out, const hitl_task *t, const parsed_task *p) {
  const char *outcome = json_string_value(json_object_get(p->decision, "outcome"));
  if (outcome == NULL || p->input == NULL) return 0;
  json_t *completion = NULL;
  if (strcmp(outcome, "approve") == 0)
    completion = p->output;
  else if (strcmp(outcome, "modify") == 0)
    completion = first_answer_value(p->answers, "modify");
  if (completion == NULL) return 0;
  json_t *rec = json_object();
  json_object_set(rec, "prompt", p->input);
  json_object_set(rec, "completion", completion);
  put_origin(rec, t);
  json_object_set_new(rec, "outcome", json_string(outcome));
  json_object_set_new(rec, "by", hitl__export_str_or_null(t->decided_by));
  return emit_line(out, rec);
}

static size_t emit_pair(hitl_buf *out, const hitl_task *t, const parsed_task *p, json_t *chosen,
                        json_t *rejected, const char *source, const char *question,
                        const char *chosen_name, const char *rejected_name) {
  json_t *rec = json_object();
  json_object_set(rec, "prompt", p->input);
  json_object_set(rec, "chosen", chosen);
  json_object_set(rec, "rejected", rejected);
  put_origin(rec, t);
  json_object_set_new(rec, "source", json_string(source));
  json_object_set_new(rec, "question", hitl__export_str_or_null(question));
  if (chosen_name) {
    json_object_set_new(rec, "chosen_name", hitl__export_str_or_null(chosen_name));
    json_object_set_new(rec, "rejected_name", hitl__export_str_or_null(rejected_name));
  }
  return emit_line(out, rec);
}

/* Preference pairs: a correction is preferred to the model's output; in a ranking the best
 * candidate is preferred to each of the others. */
static size_t write_dpo(hitl_buf *out, const hitl_task *t, const parsed_task *p) {
  if (p->input == NULL || p->answers == NULL) return 0;
  size_t lines = 0;
  const char *q;
  json_t *a;
  json_object_foreach(p->answers, q, a) {
    const char *kind = answer_kind(a);
    json_t *value = present(json_object_get(a, "value"));
    if (value == NULL) continue;
    if (strcmp(kind, "modify") == 0) {
      /* A correction equal to the output expresses no preference. */
      if (p->output == NULL || json_equal(value, p->output)) continue;
      lines += emit_pair(out, t, p, value, p->output, "modify", q, NULL, NULL);
    } else if (strcmp(kind, "ranking") == 0 && json_is_object(p->output)) {
      const char *best = json_string_value(json_array_get(value, 0));
      json_t *chosen = best ? present(json_object_get(p->output, best)) : NULL;
      if (chosen == NULL) continue;
      for (size_t i = 1; i < json_array_size(value); i++) {
        const char *other = json_string_value(json_array_get(value, i));
        json_t *rejected = other ? present(json_object_get(p->output, other)) : NULL;
        if (rejected == NULL) continue;
        lines += emit_pair(out, t, p, chosen, rejected, "ranking", q, best, other);
      }
    }
  }
  return lines;
}

/* Classification and tagging data: the winning label, labels, rating, text, spans, boxes,
 * transcription and relations answers. */
static size_t write_labels(hitl_buf *out, const hitl_task *t, const parsed_task *p) {
  static const char *const kinds[] = {"label", "labels", "rating",        "text",
                                      "spans", "boxes",  "transcription", "relations"};
  if (p->answers == NULL) return 0;
  json_t *labels = json_object();
  const char *q;
  json_t *a;
  json_object_foreach(p->answers, q, a) {
    json_t *value = json_object_get(a, "value");
    if (value == NULL) continue;
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
      if (strcmp(answer_kind(a), kinds[i]) == 0) json_object_set(labels, q, value);
  }
  if (json_object_size(labels) == 0) {
    json_decref(labels);
    return 0;
  }
  json_t *rec = json_object();
  json_object_set_new(rec, "task_id", json_string(t->id));
  json_object_set(rec, "input", p->input ? p->input : json_null());
  json_object_set_new(rec, "labels", labels);
  json_object_set_new(rec, "model_version", hitl__export_str_or_null(t->model_version));
  json_object_set_new(rec, "inference_id", hitl__export_str_or_null(t->inference_id));
  json_object_set_new(rec, "decided_at", hitl__export_time_or_null(t->decided_at));
  return emit_line(out, rec);
}

size_t hitl__export_append(hitl_buf *out, hitl_export_format f, const hitl_queue_config *q,
                           const hitl_task *t, const hitl_response *responses, size_t n) {
  if (f == HITL_EXPORT_JSONL) {
    hitl__task_to_json(out, t, responses, n, HITL_TASK_JSON_RESPONSES);
    hitl_buf_putc(out, '\n');
    return 1;
  }
  parsed_task p;
  parse_task(t, &p);
  size_t lines = 0;
  switch (f) {
  case HITL_EXPORT_SFT: lines = write_sft(out, t, &p); break;
  case HITL_EXPORT_DPO: lines = write_dpo(out, t, &p); break;
  case HITL_EXPORT_LABELS: lines = write_labels(out, t, &p); break;
  case HITL_EXPORT_LABEL_STUDIO:
    hitl__ls_task_append(out, q, t, p.input, p.output, p.decision, responses, n);
    lines = 1;
    break;
  case HITL_EXPORT_JSONL: break;
  }
  parsed_task_free(&p);
  return lines;
}
