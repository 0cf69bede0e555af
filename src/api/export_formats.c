/* SPDX-License-Identifier: MIT */
/* Renders decided tasks as training data: SFT examples, DPO pairs, labels and Label Studio tasks. */
#include "api/export_formats.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_text.h"
#include "api/task_json.h"
#include "util/clock.h"

/* The name of the Label Studio control tag that holds the model's output (a TextArea), and of
 * the object tag that lists the candidates of preference questions (a List). */
#define LS_OUTPUT "output"
#define LS_CANDIDATES "candidates"
/* The object tag that results point at when the queue has no fields. */
#define LS_DEFAULT_OBJECT "input"

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

/* A JSON string for s, or null when s is NULL (or, defensively, not UTF-8). */
static json_t *str_or_null(const char *s) {
  json_t *v = s ? json_string(s) : NULL;
  return v ? v : json_null();
}

static json_t *time_or_null(int64_t ms) {
  if (ms == 0) return json_null();
  char ts[HITL_TIME_LEN];
  hitl_time_format(ms, ts);
  return json_string(ts);
}

static int dump_to_buf(const char *data, size_t n, void *b) {
  hitl_buf_append(b, data, n);
  return 0;
}

/* Appends v as compact JSON, members in insertion order. */
static void put_json(hitl_buf *out, const json_t *v) {
  json_dump_callback(v, dump_to_buf, out,
                     JSON_COMPACT | JSON_ENCODE_ANY | hitl__json_real_flags(v));
}

/* Appends rec and a newline, then releases rec. */
static size_t emit_line(hitl_buf *out, json_t *rec) {
  put_json(out, rec);
  hitl_buf_putc(out, '\n');
  json_decref(rec);
  return 1;
}

/* The members every training record ends with: where it came from. */
static void put_origin(json_t *rec, const hitl_task *t) {
  json_object_set_new(rec, "task_id", json_string(t->id));
  json_object_set_new(rec, "model_version", str_or_null(t->model_version));
  json_object_set_new(rec, "inference_id", str_or_null(t->inference_id));
  json_object_set_new(rec, "decided_at", time_or_null(t->decided_at));
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
  json_object_set_new(rec, "by", str_or_null(t->decided_by));
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
  json_object_set_new(rec, "question", str_or_null(question));
  if (chosen_name) {
    json_object_set_new(rec, "chosen_name", str_or_null(chosen_name));
    json_object_set_new(rec, "rejected_name", str_or_null(rejected_name));
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

/* Classification and tagging data: the winning label, labels, rating, text and spans answers. */
static size_t write_labels(hitl_buf *out, const hitl_task *t, const parsed_task *p) {
  static const char *const kinds[] = {"label", "labels", "rating", "text", "spans"};
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
  json_object_set_new(rec, "model_version", str_or_null(t->model_version));
  json_object_set_new(rec, "inference_id", str_or_null(t->inference_id));
  json_object_set_new(rec, "decided_at", time_or_null(t->decided_at));
  return emit_line(out, rec);
}

/* ---- Label Studio ---- */

/* What the Label Studio writer needs while it builds one task. */
typedef struct ls_ctx {
  const hitl_queue_config *q;
  const char *object;   /* The object tag results point at by default. */
  json_t *data;         /* The task's "data", to cut span text from. */
} ls_ctx;

/* The model's output as TextArea text: a string as it is, anything else as compact JSON. */
static json_t *as_text(const json_t *v) {
  if (json_is_string(v)) return json_incref((json_t *)v);
  char *s = hitl__json_text(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  json_t *r = str_or_null(s);
  free(s);
  return r;
}

/* Code points [start, end) of the UTF-8 text s, or NULL when the range lies outside it. */
static json_t *slice_code_points(const char *s, size_t len, json_int_t start, json_int_t end) {
  if (start < 0 || end <= start) return NULL;
  size_t i = 0, from = SIZE_MAX;
  json_int_t cp = 0;
  for (;;) {
    if (cp == start) from = i;
    if (cp == end) return json_stringn(s + from, i - from);
    if (i >= len) return NULL;
    i++;
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
    cp++;
  }
}

/* Appends one region {"id","from_name","to_name","type","value"}; takes value. */
static void add_region(json_t *result, const char *id_base, const char *from, const char *to,
                       const char *type, json_t *value) {
  char id[HITL_ID_LEN + 16];
  snprintf(id, sizeof id, "%s_%zu", id_base, json_array_size(result));
  json_t *r = json_object();
  json_object_set_new(r, "id", json_string(id));
  json_object_set_new(r, "from_name", str_or_null(from));
  json_object_set_new(r, "to_name", json_string(to));
  json_object_set_new(r, "type", json_string(type));
  json_object_set_new(r, "value", value);
  json_array_append_new(result, r);
}

/* The regions of one answer: choices for verdicts and labels, rating, textarea, labels with
 * start/end for spans, ranker for rankings. Skips and escalations have none. */
static void ls_regions(const ls_ctx *c, const hitl_response *r, json_t *result) {
  json_t *value = r->value ? json_loads(r->value, JSON_DECODE_ANY, NULL) : NULL;
  const char *k = r->kind, *q = r->question, *id = r->id;
  if (strcmp(k, "approve") == 0 || strcmp(k, "reject") == 0 || strcmp(k, "modify") == 0) {
    add_region(result, id, q, c->object, "choices", json_pack("{s[s]}", "choices", k));
    if (strcmp(k, "modify") == 0 && value)
      add_region(result, id, LS_OUTPUT, c->object, "textarea",
                 json_pack("{s[o]}", "text", as_text(value)));
  } else if (strcmp(k, "label") == 0 && value) {
    add_region(result, id, q, c->object, "choices", json_pack("{s[O]}", "choices", value));
  } else if (strcmp(k, "labels") == 0 && value) {
    add_region(result, id, q, c->object, "choices", json_pack("{sO}", "choices", value));
  } else if (strcmp(k, "rating") == 0 && value) {
    add_region(result, id, q, c->object, "rating", json_pack("{sO}", "rating", value));
  } else if (strcmp(k, "text") == 0 && value) {
    add_region(result, id, q, c->object, "textarea", json_pack("{s[O]}", "text", value));
  } else if (strcmp(k, "ranking") == 0 && value) {
    add_region(result, id, q, LS_CANDIDATES, "ranker", json_pack("{sO}", "ranker", value));
  } else if (strcmp(k, "spans") == 0 && value) {
    int qi = q ? hitl_queue_question_index(c->q, q) : -1;
    const char *field = qi >= 0 && c->q->questions[qi].field ? c->q->questions[qi].field : c->object;
    json_t *text = json_object_get(c->data, field);
    size_t i;
    json_t *span;
    json_array_foreach(value, i, span) {
      json_int_t start = json_integer_value(json_object_get(span, "start"));
      json_int_t end = json_integer_value(json_object_get(span, "end"));
      json_t *v = json_pack("{sIsI}", "start", start, "end", end);
      json_t *cut = json_is_string(text) ? slice_code_points(json_string_value(text),
                                                             json_string_length(text), start, end)
                                         : NULL;
      if (cut) json_object_set_new(v, "text", cut);
      json_object_set_new(v, "labels", json_pack("[O]", json_object_get(span, "label")));
      add_region(result, id, q, field, "labels", v);
    }
  }
  json_decref(value);
}

static bool has_preference_question(const hitl_queue_config *q) {
  for (size_t i = 0; q && i < q->n_questions; i++)
    if (q->questions[i].type == HITL_QUESTION_PREFERENCE) return true;
  return false;
}

/* One annotation per response body (answers that share a response id), in answer order. */
static json_t *ls_annotations(const ls_ctx *c, const hitl_response *rs, size_t n) {
  json_t *anns = json_array();
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = strcmp(rs[j].id, rs[i].id) == 0;
    if (seen) continue;
    json_t *result = json_array();
    bool answered = false;
    for (size_t k = i; k < n; k++) {
      if (strcmp(rs[k].id, rs[i].id) != 0) continue;
      if (strcmp(rs[k].kind, "skip") != 0 && strcmp(rs[k].kind, "escalate") != 0) answered = true;
      ls_regions(c, &rs[k], result);
    }
    json_t *ann = json_object();
    json_object_set_new(ann, "result", result);
    /* Label Studio matches annotators by e-mail on import. */
    json_object_set_new(ann, "completed_by", json_pack("{so}", "email", str_or_null(rs[i].reviewer)));
    json_object_set_new(ann, "was_cancelled", json_boolean(!answered));
    json_object_set_new(ann, "ground_truth", json_false());
    json_object_set_new(ann, "created_at", time_or_null(rs[i].created_at));
    json_object_set_new(ann, "lead_time", json_real((double)rs[i].time_spent_ms / 1000.0));
    json_array_append_new(anns, ann);
  }
  return anns;
}

/* The model's output as a prediction of the "output" TextArea, with its version and score. */
static json_t *ls_predictions(const ls_ctx *c, const hitl_task *t, const parsed_task *p) {
  json_t *preds = json_array();
  if (p->output == NULL) return preds;
  json_t *result = json_array();
  char id_base[HITL_ID_LEN + 8];
  snprintf(id_base, sizeof id_base, "%s_pred", t->id);
  add_region(result, id_base, LS_OUTPUT, c->object, "textarea",
             json_pack("{s[o]}", "text", as_text(p->output)));
  json_t *pred = json_object();
  if (t->model_version) json_object_set_new(pred, "model_version", str_or_null(t->model_version));
  if (t->has_confidence) json_object_set_new(pred, "score", json_real(t->confidence));
  json_object_set_new(pred, "result", result);
  json_array_append_new(preds, pred);
  return preds;
}

static size_t write_label_studio(hitl_buf *out, const hitl_queue_config *q, const hitl_task *t,
                                 const parsed_task *p, const hitl_response *rs, size_t n) {
  ls_ctx c = {.q = q, .object = q && q->n_fields ? q->fields[0].name : LS_DEFAULT_OBJECT};
  /* An object input is the task's data as it is; anything else goes under "input". */
  c.data = json_is_object(p->input) ? json_copy(p->input) : json_object();
  if (!json_is_object(p->input))
    json_object_set(c.data, "input", p->input ? p->input : json_null());
  if (has_preference_question(q) && json_is_object(p->output) &&
      json_object_get(c.data, LS_CANDIDATES) == NULL) {
    json_t *items = json_array();
    const char *name;
    json_t *text;
    json_object_foreach(p->output, name, text) {
      json_array_append_new(items, json_pack("{ssssso}", "id", name, "title", name, "body",
                                             as_text(text)));
    }
    json_object_set_new(c.data, LS_CANDIDATES, items);
  }
  json_t *meta = json_object();
  json_object_set_new(meta, "task_id", json_string(t->id));
  json_object_set_new(meta, "queue", str_or_null(t->queue));
  json_object_set_new(meta, "model_version", str_or_null(t->model_version));
  json_object_set_new(meta, "inference_id", str_or_null(t->inference_id));
  json_t *outcome = json_object_get(p->decision, "outcome");
  json_object_set(meta, "outcome", outcome ? outcome : json_null());
  json_object_set_new(meta, "decided_by", str_or_null(t->decided_by));
  json_object_set_new(meta, "decided_at", time_or_null(t->decided_at));
  json_t *item = json_object();
  json_object_set_new(item, "id", json_integer(t->seq));
  json_object_set(item, "data", c.data);
  json_object_set_new(item, "meta", meta);
  json_object_set_new(item, "annotations", ls_annotations(&c, rs, n));
  json_object_set_new(item, "predictions", ls_predictions(&c, t, p));
  put_json(out, item);
  json_decref(item);
  json_decref(c.data);
  return 1;
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
  case HITL_EXPORT_LABEL_STUDIO: lines = write_label_studio(out, q, t, &p, responses, n); break;
  case HITL_EXPORT_JSONL: break;
  }
  parsed_task_free(&p);
  return lines;
}
