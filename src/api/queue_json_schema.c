/* SPDX-License-Identifier: MIT */
/* Validation of a queue configuration's schema (its fields and questions) and its translation into
 * the hitl_queue_config. */
#include "api/queue_json.h"
#include "api/queue_json_internal.h"

#include "api/json_check.h"
#include "api/json_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/annotation_json.h"
#include "util/buf.h"
#include "util/xmalloc.h"

#define MAX_NAME 64          /* Bytes of a field or question name. */
#define MAX_FIELDS 64
#define MAX_QUESTIONS 32
#define MAX_LABELS 1000
#define MAX_LABEL 256        /* Bytes of one label. */

static const char *const field_type_names[] = {"text", "markdown", "json",
                                               "image_url", "diff", "audio_url"};
static const char *const question_type_names[] = {
    "approve", "label", "labels", "rating", "preference", "text", "spans", "boxes",
    "transcription", "relations"};
static const char *const schema_keys[] = {"fields", "questions", NULL};
static const char *const field_keys[] = {"name", "type", NULL};
static const char *const question_keys[] = {"name",  "type",          "labels",        "max",
                                            "field", "spans",         "iou_threshold",
                                            "wer_threshold", NULL};

/* Checks a field or question name: 1..64 bytes of [A-Za-z0-9_.-]. */
static int check_name(const json_t *v, const char *field, hitl_err *err) {
  if (v == NULL) return hitl__invalid(err, field, "name is required");
  if (!json_is_string(v)) return hitl__invalid(err, field, "name must be a string");
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (n == 0 || n > MAX_NAME)
    return hitl__invalid(err, field, "name must be 1 to %d characters long", MAX_NAME);
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
        c == '.' || c == '-')
      continue;
    return hitl__invalid(err, field, "name \"%.64s\" may only contain letters, digits, '_', '.' and '-'",
                   s);
  }
  return 0;
}

/* Checks item i of an array at base: an object with only the keys allowed and a valid "name".
 * Sets at to the item's path, field to that of its name, and *name. */
static int named_item(const json_t *item, const char *base, size_t i, const char *what,
                      const char *const *keys, char at[HITL_FIELD_PATH_LEN],
                      char field[HITL_FIELD_PATH_LEN], json_t **name, hitl_err *err) {
  hitl__path_index(at, base, i);
  int rc = hitl__queue_json_need_object(item, at, what, err);
  if (rc == 0) rc = hitl__json_check_keys(item, at, what, keys, err);
  hitl__path_key(field, at, "name");
  *name = hitl__json_member(item, "name");
  if (rc == 0) rc = check_name(*name, field, err);
  return rc;
}

static int parse_fields(const json_t *fields, const char *base, hitl_queue_config *q,
                        json_t *norm, hitl_err *err) {
  if (fields == NULL) return 0;
  if (!json_is_array(fields) || json_array_size(fields) > MAX_FIELDS)
    return hitl__invalid(err, base, "fields must be an array of at most %d fields", MAX_FIELDS);
  q->fields = hitl_xcalloc(json_array_size(fields), sizeof *q->fields);
  size_t i;
  json_t *f;
  json_array_foreach(fields, i, f) {
    char at[HITL_FIELD_PATH_LEN], field[HITL_FIELD_PATH_LEN];
    json_t *name;
    int rc = named_item(f, base, i, "a field", field_keys, at, field, &name, err);
    if (rc < 0) return rc;
    for (size_t j = 0; j < q->n_fields; j++)
      if (strcmp(q->fields[j].name, json_string_value(name)) == 0)
        return hitl__invalid(err, field, "field name \"%s\" is used twice", json_string_value(name));
    hitl__path_key(field, at, "type");
    json_t *type = hitl__json_member(f, "type");
    if (type == NULL) return hitl__invalid(err, field, "type is required");
    int t;
    rc = hitl__queue_json_get_enum(type, field, "field type", field_type_names,
                                   COUNT(field_type_names), &t, err);
    if (rc < 0) return rc;
    q->fields[q->n_fields].name = hitl_xstrdup(json_string_value(name));
    q->fields[q->n_fields].type = (hitl_field_type)t;
    q->n_fields++;
    json_array_append_new(norm, json_pack("{s:s, s:s}", "name", json_string_value(name), "type",
                                          field_type_names[t]));
  }
  return 0;
}

/* Reads a question's labels: a non-empty array of distinct non-empty strings. */
static int parse_labels(const json_t *labels, const char *base, hitl_question *qu, json_t *nq,
                        hitl_err *err) {
  if (labels == NULL)
    return hitl__invalid(err, base, "labels is required for a %s question: a non-empty array of strings",
                   hitl_question_type_name(qu->type));
  if (!json_is_array(labels) || json_array_size(labels) == 0 ||
      json_array_size(labels) > MAX_LABELS)
    return hitl__invalid(err, base, "labels must be an array of 1 to %d strings", MAX_LABELS);
  qu->labels = hitl_xcalloc(json_array_size(labels), sizeof *qu->labels);
  size_t i;
  json_t *l;
  json_array_foreach(labels, i, l) {
    char at[HITL_FIELD_PATH_LEN];
    hitl__path_index(at, base, i);
    if (!json_is_string(l) || json_string_length(l) == 0 || json_string_length(l) > MAX_LABEL)
      return hitl__invalid(err, at, "a label must be a string of 1 to %d bytes", MAX_LABEL);
    for (size_t j = 0; j < qu->n_labels; j++)
      if (strcmp(qu->labels[j], json_string_value(l)) == 0)
        return hitl__invalid(err, at, "label \"%.64s\" is listed twice", json_string_value(l));
    qu->labels[qu->n_labels++] = hitl_xstrdup(json_string_value(l));
  }
  json_object_set_new(nq, "labels", json_deep_copy(labels));
  return 0;
}

/* The field type a question's "field" must have, by question type; -1: it takes no field. */
static int field_wanted(hitl_question_type t) {
  switch (t) {
  case HITL_QUESTION_SPANS: return HITL_FIELD_TEXT; /* Or markdown. */
  case HITL_QUESTION_BOXES: return HITL_FIELD_IMAGE_URL;
  case HITL_QUESTION_TRANSCRIPTION: return HITL_FIELD_AUDIO_URL;
  default: return -1;
  }
}

/* Reads a question's "field": the schema field its answers point into. */
static int parse_field_ref(const json_t *fld, const char *field, const hitl_queue_config *q,
                           hitl_question *qu, json_t *nq, hitl_err *err) {
  const char *type = hitl_question_type_name(qu->type);
  int want = field_wanted(qu->type);
  if (want < 0) {
    if (fld != NULL)
      return hitl__invalid(err, field,
                           "field is only allowed for spans, boxes and transcription questions, "
                           "not %s", type);
    return 0;
  }
  if (fld == NULL)
    return hitl__invalid(err, field, "field is required for a %s question: the %s field its "
                                     "answers point into", type,
                         want == HITL_FIELD_TEXT ? "text" : field_type_names[want]);
  if (!json_is_string(fld)) return hitl__invalid(err, field, "field must be a string");
  const hitl_field *target = NULL;
  for (size_t j = 0; j < q->n_fields; j++)
    if (strcmp(q->fields[j].name, json_string_value(fld)) == 0) target = &q->fields[j];
  if (target == NULL)
    return hitl__invalid(err, field, "field \"%.64s\" is not one of schema.fields",
                         json_string_value(fld));
  bool fits = want == HITL_FIELD_TEXT
                  ? target->type == HITL_FIELD_TEXT || target->type == HITL_FIELD_MARKDOWN
                  : (int)target->type == want;
  if (!fits)
    return hitl__invalid(err, field, "field \"%s\" must be of type %s to hold %s answers",
                         target->name,
                         want == HITL_FIELD_TEXT ? "text or markdown" : field_type_names[want],
                         type);
  qu->field = hitl_xstrdup(target->name);
  json_object_set_new(nq, "field", json_string(target->name));
  return 0;
}

/* Reads a question's agreement threshold (iou_threshold for boxes, wer_threshold for
 * transcriptions): a number in (0, 1]. */
static int parse_threshold(const json_t *qj, const char *at, hitl_question *qu, json_t *nq,
                           hitl_err *err) {
  static const char *const keys[] = {"iou_threshold", "wer_threshold"};
  for (size_t k = 0; k < 2; k++) {
    bool mine = (k == 0 && qu->type == HITL_QUESTION_BOXES) ||
                (k == 1 && qu->type == HITL_QUESTION_TRANSCRIPTION);
    char field[HITL_FIELD_PATH_LEN];
    hitl__path_key(field, at, keys[k]);
    json_t *v = hitl__json_member(qj, keys[k]);
    if (!mine) {
      if (v != NULL)
        return hitl__invalid(err, field, "%s is only allowed for %s questions, not %s", keys[k],
                             k == 0 ? "boxes" : "transcription",
                             hitl_question_type_name(qu->type));
      continue;
    }
    double t = k == 0 ? 0.5 : 0.1;
    if (v != NULL) {
      if (!json_is_number(v) || json_number_value(v) <= 0 || json_number_value(v) > 1)
        return hitl__invalid(err, field, "%s must be a number greater than 0 and at most 1",
                             keys[k]);
      t = json_number_value(v);
    }
    qu->threshold = t;
    json_object_set_new(nq, keys[k], json_real(t));
  }
  return 0;
}

/* Reads the members that depend on a question's type: labels, max, field, spans, thresholds.
 * A relations question's "spans" is only stored here; parse_questions checks it once every
 * question is known. */
static int parse_question_options(const json_t *qj, const char *at, const hitl_queue_config *q,
                                  hitl_question *qu, json_t *nq, hitl_err *err) {
  char field[HITL_FIELD_PATH_LEN];
  const char *type = hitl_question_type_name(qu->type);
  bool takes_labels = qu->type == HITL_QUESTION_LABEL || qu->type == HITL_QUESTION_LABELS ||
                      qu->type == HITL_QUESTION_SPANS || qu->type == HITL_QUESTION_BOXES ||
                      qu->type == HITL_QUESTION_RELATIONS;
  json_t *labels = hitl__json_member(qj, "labels"), *max = hitl__json_member(qj, "max");
  json_t *spans = hitl__json_member(qj, "spans");
  int rc;

  hitl__path_key(field, at, "labels");
  if (takes_labels) {
    if ((rc = parse_labels(labels, field, qu, nq, err)) < 0) return rc;
  } else if (labels != NULL) {
    return hitl__invalid(err, field,
                         "labels is only allowed for label, labels, spans, boxes and relations "
                         "questions, not %s", type);
  }

  hitl__path_key(field, at, "max");
  if (qu->type == HITL_QUESTION_RATING) {
    json_int_t m = 5;
    if (max != NULL && (rc = hitl__queue_json_get_int(max, field, "max", 2, 10, &m, err)) < 0)
      return rc;
    qu->max = (int)m;
    json_object_set_new(nq, "max", json_integer(m));
  } else if (max != NULL) {
    return hitl__invalid(err, field, "max is only allowed for rating questions, not %s", type);
  }

  hitl__path_key(field, at, "field");
  if ((rc = parse_field_ref(hitl__json_member(qj, "field"), field, q, qu, nq, err)) < 0) return rc;

  hitl__path_key(field, at, "spans");
  if (qu->type == HITL_QUESTION_RELATIONS) {
    if (spans == NULL)
      return hitl__invalid(err, field, "spans is required for a relations question: the name of "
                                       "the spans question whose spans it links");
    if (!json_is_string(spans)) return hitl__invalid(err, field, "spans must be a string");
    qu->spans = hitl_xstrdup(json_string_value(spans));
    json_object_set_new(nq, "spans", json_string(qu->spans));
  } else if (spans != NULL) {
    return hitl__invalid(err, field, "spans is only allowed for relations questions, not %s",
                         type);
  }
  return parse_threshold(qj, at, qu, nq, err);
}

/* Checks that each relations question names a spans question of the schema. */
static int check_relations_targets(const hitl_queue_config *q, const char *base, hitl_err *err) {
  for (size_t i = 0; i < q->n_questions; i++) {
    const hitl_question *qu = &q->questions[i];
    if (qu->type != HITL_QUESTION_RELATIONS) continue;
    char at[HITL_FIELD_PATH_LEN], field[HITL_FIELD_PATH_LEN];
    hitl__path_index(at, base, i);
    hitl__path_key(field, at, "spans");
    int si = hitl_queue_question_index(q, qu->spans);
    if (si < 0)
      return hitl__invalid(err, field, "spans \"%.64s\" is not a question of this schema",
                           qu->spans);
    if (q->questions[si].type != HITL_QUESTION_SPANS)
      return hitl__invalid(err, field, "question \"%s\" is a %s question; relations link the "
                                       "answers of a spans question",
                           qu->spans, hitl_question_type_name(q->questions[si].type));
  }
  return 0;
}

static int parse_questions(const json_t *questions, const char *base, hitl_queue_config *q,
                           json_t *norm, hitl_err *err) {
  if (questions == NULL)
    return hitl__invalid(err, base, "questions is required: a non-empty array of questions");
  if (!json_is_array(questions) || json_array_size(questions) == 0 ||
      json_array_size(questions) > MAX_QUESTIONS)
    return hitl__invalid(err, base, "questions must be an array of 1 to %d questions", MAX_QUESTIONS);
  q->questions = hitl_xcalloc(json_array_size(questions), sizeof *q->questions);
  size_t i;
  json_t *qj;
  json_array_foreach(questions, i, qj) {
    char at[HITL_FIELD_PATH_LEN], field[HITL_FIELD_PATH_LEN];
    json_t *name;
    int rc = named_item(qj, base, i, "a question", question_keys, at, field, &name, err);
    if (rc < 0) return rc;
    if (hitl_queue_question_index(q, json_string_value(name)) >= 0)
      return hitl__invalid(err, field, "question name \"%s\" is used twice", json_string_value(name));
    hitl__path_key(field, at, "type");
    json_t *type = hitl__json_member(qj, "type");
    if (type == NULL) return hitl__invalid(err, field, "type is required");
    int t;
    rc = hitl__queue_json_get_enum(type, field, "question type", question_type_names,
                                   COUNT(question_type_names), &t, err);
    if (rc < 0) return rc;
    /* Counted before its options are read so that hitl_queue_config_free sees its labels. */
    hitl_question *qu = &q->questions[q->n_questions++];
    qu->name = hitl_xstrdup(json_string_value(name));
    qu->type = (hitl_question_type)t;
    json_t *nq = json_pack("{s:s, s:s}", "name", qu->name, "type", question_type_names[t]);
    json_array_append_new(norm, nq);
    if ((rc = parse_question_options(qj, at, q, qu, nq, err)) < 0) return rc;
  }
  return check_relations_targets(q, base, err);
}

int hitl__queue_json_parse_schema(const json_t *schema, hitl_queue_config *q, json_t *norm,
                                  hitl_err *err) {
  json_t *nfields = json_array(), *nquestions = json_array();
  json_object_set_new(norm, "schema", json_pack("{s:o, s:o}", "fields", nfields, "questions",
                                                nquestions));
  if (schema == NULL) {
    q->questions = hitl_xcalloc(1, sizeof *q->questions);
    q->questions[0].name = hitl_xstrdup("verdict");
    q->questions[0].type = HITL_QUESTION_APPROVE;
    q->n_questions = 1;
    json_array_append_new(nquestions, json_pack("{s:s, s:s}", "name", "verdict", "type",
                                                "approve"));
    return 0;
  }
  int rc = hitl__queue_json_need_object(schema, "schema", "schema", err);
  if (rc == 0) rc = hitl__json_check_keys(schema, "schema", "schema", schema_keys, err);
  if (rc == 0) rc = parse_fields(hitl__json_member(schema, "fields"), "schema.fields", q, nfields, err);
  if (rc == 0)
    rc = parse_questions(hitl__json_member(schema, "questions"), "schema.questions", q, nquestions, err);
  return rc;
}
