/* SPDX-License-Identifier: MIT */
/* Decided tasks as Label Studio tasks: every question type in the result shape that Label
 * Studio's importer reads. */
#include "api/label_studio.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/export_formats.h"
#include "api/json_text.h"

/* The object tag that lists the candidates of preference questions (a List). */
#define LS_CANDIDATES "candidates"
/* The object tag that results point at when the queue has no fields. */
#define LS_DEFAULT_OBJECT "input"
/* Region ids: "<response id>_<position in the result>". */
#define REGION_ID_LEN (HITL_ID_LEN + 32)

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
  json_t *r = hitl__export_str_or_null(s);
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

static void region_id(char id[REGION_ID_LEN], const char *id_base, size_t index) {
  snprintf(id, REGION_ID_LEN, "%s_%zu", id_base, index);
}

/* Appends one region {"id","from_name","to_name","type","value"}; takes value. Returns it. */
static json_t *add_region(json_t *result, const char *id_base, const char *from, const char *to,
                          const char *type, json_t *value) {
  char id[REGION_ID_LEN];
  region_id(id, id_base, json_array_size(result));
  json_t *r = json_object();
  json_object_set_new(r, "id", json_string(id));
  json_object_set_new(r, "from_name", hitl__export_str_or_null(from));
  json_object_set_new(r, "to_name", json_string(to));
  json_object_set_new(r, "type", json_string(type));
  json_object_set_new(r, "value", value);
  json_array_append_new(result, r);
  return r;
}

/* The object tag a question's regions point at: its field, or the default object. */
static const char *object_of(const ls_ctx *c, const char *question) {
  int qi = question ? hitl_queue_question_index(c->q, question) : -1;
  return qi >= 0 && c->q->questions[qi].field ? c->q->questions[qi].field : c->object;
}

static void spans_regions(const ls_ctx *c, const char *q, const char *id, const json_t *value,
                          json_t *result) {
  const char *field = object_of(c, q);
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

/* Boxes are rectanglelabels in percent, with the image's natural size beside the value. */
static void boxes_regions(const ls_ctx *c, const char *q, const char *id, const json_t *value,
                          json_t *result) {
  const char *field = object_of(c, q);
  json_t *w = json_object_get(value, "image_width"), *h = json_object_get(value, "image_height");
  size_t i;
  json_t *b;
  json_array_foreach(json_object_get(value, "boxes"), i, b) {
    json_t *v = json_pack("{sOsOsOsOsis[O]}", "x", json_object_get(b, "x"), "y",
                          json_object_get(b, "y"), "width", json_object_get(b, "width"), "height",
                          json_object_get(b, "height"), "rotation", 0, "rectanglelabels",
                          json_object_get(b, "label"));
    json_t *r = add_region(result, id, q, field, "rectanglelabels", v);
    json_object_set(r, "original_width", w ? w : json_null());
    json_object_set(r, "original_height", h ? h : json_null());
    json_object_set_new(r, "image_rotation", json_integer(0));
  }
}

/* A transcript is a textarea on the audio; each segment one more, with its start and end. */
static void transcription_regions(const ls_ctx *c, const char *q, const char *id,
                                  const json_t *value, json_t *result) {
  const char *field = object_of(c, q);
  add_region(result, id, q, field, "textarea",
             json_pack("{s[O]}", "text", json_object_get(value, "text")));
  size_t i;
  json_t *s;
  json_array_foreach(json_object_get(value, "segments"), i, s) {
    add_region(result, id, q, field, "textarea",
               json_pack("{sOsOs[O]}", "start", json_object_get(s, "start"), "end",
                         json_object_get(s, "end"), "text", json_object_get(s, "text")));
  }
}

/* The regions of one answer: choices for verdicts and labels, rating, textarea, labels with
 * start/end for spans, ranker for rankings, rectanglelabels for boxes. Skips, escalations and
 * relations (see relation_regions) have none here. */
static void ls_regions(const ls_ctx *c, const hitl_response *r, const char *id, json_t *result) {
  json_t *value = r->value ? json_loads(r->value, JSON_DECODE_ANY, NULL) : NULL;
  const char *k = r->kind, *q = r->question;
  if (strcmp(k, "approve") == 0 || strcmp(k, "reject") == 0 || strcmp(k, "modify") == 0) {
    add_region(result, id, q, c->object, "choices", json_pack("{s[s]}", "choices", k));
    if (strcmp(k, "modify") == 0 && value)
      add_region(result, id, HITL_LS_OUTPUT, c->object, "textarea",
                 json_pack("{s[o]}", "text", as_text(value)));
  } else if (value == NULL) {
    /* Nothing more to show. */
  } else if (strcmp(k, "label") == 0) {
    add_region(result, id, q, c->object, "choices", json_pack("{s[O]}", "choices", value));
  } else if (strcmp(k, "labels") == 0) {
    add_region(result, id, q, c->object, "choices", json_pack("{sO}", "choices", value));
  } else if (strcmp(k, "rating") == 0) {
    add_region(result, id, q, c->object, "rating", json_pack("{sO}", "rating", value));
  } else if (strcmp(k, "text") == 0) {
    add_region(result, id, q, c->object, "textarea", json_pack("{s[O]}", "text", value));
  } else if (strcmp(k, "ranking") == 0) {
    /* Current Label Studio reads rankings by bucket: the question's name holds the order. */
    add_region(result, id, q, LS_CANDIDATES, "ranker",
               json_pack("{s{sO}}", "ranker", q ? q : "ranking", value));
  } else if (strcmp(k, "spans") == 0) {
    spans_regions(c, q, id, value, result);
  } else if (strcmp(k, "boxes") == 0) {
    boxes_regions(c, q, id, value, result);
  } else if (strcmp(k, "transcription") == 0) {
    transcription_regions(c, q, id, value, result);
  }
  json_decref(value);
}

/* Where each spans answer of one body starts in the result, to name its regions. */
typedef struct span_start {
  const char *question;
  size_t first; /* Position of its first region in the result. */
} span_start;

/* A relations answer as relation results between the regions of the spans answer it links. */
static void relation_regions(const ls_ctx *c, const hitl_response *r, const span_start *starts,
                             size_t n_starts, json_t *result) {
  int qi = hitl_queue_question_index(c->q, r->question);
  json_t *value = r->value ? json_loads(r->value, JSON_DECODE_ANY, NULL) : NULL;
  const span_start *s = NULL;
  for (size_t i = 0; qi >= 0 && i < n_starts && s == NULL; i++)
    if (strcmp(starts[i].question, c->q->questions[qi].spans) == 0) s = &starts[i];
  size_t i;
  json_t *rel;
  json_array_foreach(value, i, rel) {
    if (s == NULL) break;
    char from[REGION_ID_LEN], to[REGION_ID_LEN];
    region_id(from, r->id, s->first + (size_t)json_integer_value(json_object_get(rel, "from")));
    region_id(to, r->id, s->first + (size_t)json_integer_value(json_object_get(rel, "to")));
    json_array_append_new(result, json_pack("{sssssssss[O]}", "from_id", from, "to_id", to, "type",
                                            "relation", "direction", "right", "labels",
                                            json_object_get(rel, "label")));
  }
  json_decref(value);
}

static bool has_preference_question(const hitl_queue_config *q) {
  for (size_t i = 0; q && i < q->n_questions; i++)
    if (q->questions[i].type == HITL_QUESTION_PREFERENCE) return true;
  return false;
}

/* The result of one response body (the answers rs[i..n) that share rs[i]'s id): relations come
 * last, once the span regions they link have ids. Sets *answered unless all were skips. */
static json_t *body_result(const ls_ctx *c, const hitl_response *rs, size_t i, size_t n,
                           bool *answered) {
  json_t *result = json_array();
  span_start *starts = calloc(c->q ? c->q->n_questions + 1 : 1, sizeof *starts);
  size_t n_starts = 0;
  *answered = false;
  for (size_t k = i; k < n; k++) {
    if (strcmp(rs[k].id, rs[i].id) != 0 || strcmp(rs[k].kind, "relations") == 0) continue;
    if (strcmp(rs[k].kind, "skip") != 0 && strcmp(rs[k].kind, "escalate") != 0) *answered = true;
    if (starts && strcmp(rs[k].kind, "spans") == 0 && rs[k].question && c->q &&
        n_starts < c->q->n_questions)
      starts[n_starts++] = (span_start){rs[k].question, json_array_size(result)};
    ls_regions(c, &rs[k], rs[k].id, result);
  }
  for (size_t k = i; k < n; k++) {
    if (strcmp(rs[k].id, rs[i].id) != 0 || strcmp(rs[k].kind, "relations") != 0) continue;
    *answered = true;
    if (starts && c->q) relation_regions(c, &rs[k], starts, n_starts, result);
  }
  free(starts);
  return result;
}

/* One annotation per response body (answers that share a response id), in answer order. */
static json_t *ls_annotations(const ls_ctx *c, const hitl_response *rs, size_t n) {
  json_t *anns = json_array();
  for (size_t i = 0; i < n; i++) {
    bool seen = false;
    for (size_t j = 0; j < i && !seen; j++) seen = strcmp(rs[j].id, rs[i].id) == 0;
    if (seen) continue;
    bool answered;
    json_t *ann = json_object();
    json_object_set_new(ann, "result", body_result(c, rs, i, n, &answered));
    /* Label Studio matches annotators by e-mail on import. */
    json_object_set_new(ann, "completed_by", json_pack("{so}", "email", hitl__export_str_or_null(rs[i].reviewer)));
    json_object_set_new(ann, "was_cancelled", json_boolean(!answered));
    json_object_set_new(ann, "ground_truth", json_false());
    json_object_set_new(ann, "created_at", hitl__export_time_or_null(rs[i].created_at));
    json_object_set_new(ann, "lead_time", json_real((double)rs[i].time_spent_ms / 1000.0));
    json_array_append_new(anns, ann);
  }
  return anns;
}

/* The regions the model's output suggests: when it is the answer to exactly one question, or an
 * object of answers by question name, the result shape of those questions; otherwise a TextArea
 * "output" holding it as text. */
static void output_regions(const ls_ctx *c, const char *id_base, const json_t *output,
                           json_t *result) {
  static const char *const kind_of[] = {
      [HITL_QUESTION_APPROVE] = NULL,           [HITL_QUESTION_LABEL] = "label",
      [HITL_QUESTION_LABELS] = "labels",        [HITL_QUESTION_RATING] = "rating",
      [HITL_QUESTION_PREFERENCE] = NULL,        [HITL_QUESTION_TEXT] = "text",
      [HITL_QUESTION_SPANS] = "spans",          [HITL_QUESTION_BOXES] = "boxes",
      [HITL_QUESTION_TRANSCRIPTION] = "transcription", [HITL_QUESTION_RELATIONS] = NULL,
  };
  const hitl_queue_config *q = c->q;
  hitl_err err = {0};
  /* The answer of exactly one question: its regions. */
  hitl_response r = {0};
  size_t fits = 0;
  for (size_t i = 0; q && i < q->n_questions; i++) {
    const char *kind = kind_of[q->questions[i].type];
    hitl_response one = {0};
    if (kind == NULL || hitl__ls_answer_check(q, q->questions[i].name, kind, output, &one, &err) != 0)
      continue;
    if (fits++ == 0) r = one;
    else hitl_response_clear(&one);
  }
  if (fits == 1) ls_regions(c, &r, id_base, result);
  hitl_response_clear(&r);
  if (fits == 1) return;
  /* An object of answers by question name, each fitting its question. */
  bool all = json_is_object(output) && json_object_size(output) > 0;
  const char *name;
  json_t *v;
  json_object_foreach((json_t *)output, name, v) {
    int qi = all ? hitl_queue_question_index(q, name) : -1;
    all = qi >= 0 && kind_of[q->questions[qi].type] != NULL;
  }
  if (all) {
    json_t *tmp = json_array();
    json_object_foreach((json_t *)output, name, v) {
      int qi = hitl_queue_question_index(q, name);
      hitl_response one = {0};
      if (hitl__ls_answer_check(q, name, kind_of[q->questions[qi].type], v, &one, &err) != 0) {
        all = false;
        break;
      }
      ls_regions(c, &one, id_base, tmp);
      hitl_response_clear(&one);
    }
    if (all) {
      size_t i;
      json_t *reg;
      json_array_foreach(tmp, i, reg) json_array_append(result, reg);
      json_decref(tmp);
      return;
    }
    json_decref(tmp);
  }
  add_region(result, id_base, HITL_LS_OUTPUT, c->object, "textarea",
             json_pack("{s[o]}", "text", as_text(output)));
}

/* The model's output as a prediction, with its version and score. */
static json_t *ls_predictions(const ls_ctx *c, const hitl_task *t, const json_t *output) {
  json_t *preds = json_array();
  if (output == NULL) return preds;
  json_t *result = json_array();
  char id_base[HITL_ID_LEN + 8];
  snprintf(id_base, sizeof id_base, "%s_pred", t->id);
  output_regions(c, id_base, output, result);
  json_t *pred = json_object();
  if (t->model_version) json_object_set_new(pred, "model_version", hitl__export_str_or_null(t->model_version));
  if (t->has_confidence) json_object_set_new(pred, "score", json_real(t->confidence));
  json_object_set_new(pred, "result", result);
  json_array_append_new(preds, pred);
  return preds;
}

void hitl__ls_task_append(hitl_buf *out, const hitl_queue_config *q, const hitl_task *t,
                          const json_t *input, const json_t *output, const json_t *decision,
                          const hitl_response *rs, size_t n) {
  ls_ctx c = {.q = q, .object = q && q->n_fields ? q->fields[0].name : LS_DEFAULT_OBJECT};
  /* An object input is the task's data as it is; anything else goes under "input". */
  c.data = json_is_object(input) ? json_copy((json_t *)input) : json_object();
  if (!json_is_object(input))
    json_object_set(c.data, "input", input ? (json_t *)input : json_null());
  if (has_preference_question(q) && json_is_object(output) &&
      json_object_get(c.data, LS_CANDIDATES) == NULL) {
    json_t *items = json_array();
    const char *name;
    json_t *text;
    json_object_foreach((json_t *)output, name, text) {
      json_array_append_new(items, json_pack("{ssssso}", "id", name, "title", name, "body",
                                             as_text(text)));
    }
    json_object_set_new(c.data, LS_CANDIDATES, items);
  }
  json_t *meta = json_object();
  json_object_set_new(meta, "task_id", json_string(t->id));
  json_object_set_new(meta, "queue", hitl__export_str_or_null(t->queue));
  json_object_set_new(meta, "model_version", hitl__export_str_or_null(t->model_version));
  json_object_set_new(meta, "inference_id", hitl__export_str_or_null(t->inference_id));
  json_t *outcome = json_object_get(decision, "outcome");
  json_object_set(meta, "outcome", outcome ? outcome : json_null());
  json_object_set_new(meta, "decided_by", hitl__export_str_or_null(t->decided_by));
  json_object_set_new(meta, "decided_at", hitl__export_time_or_null(t->decided_at));
  json_t *item = json_object();
  json_object_set_new(item, "id", json_integer(t->seq));
  json_object_set(item, "data", c.data);
  json_object_set_new(item, "meta", meta);
  json_object_set_new(item, "annotations", ls_annotations(&c, rs, n));
  json_object_set_new(item, "predictions", ls_predictions(&c, t, output));
  hitl__export_put_json(out, item);
  json_decref(item);
  json_decref(c.data);
}
