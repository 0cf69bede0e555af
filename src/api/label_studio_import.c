/* SPDX-License-Identifier: MIT */
/* Label Studio tasks read for import: data to input, the first prediction to output and
 * confidence, annotations to the answers of the people who made them. */
#include "api/label_studio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/answer_json.h"
#include "api/json_check.h"
#include "util/xmalloc.h"

#define MAX_ANNOTATIONS 20   /* Annotations imported per task (overlap is at most 9). */
#define MAX_RESULTS 10000    /* Results in one annotation or prediction. */
#define MAX_REVIEWER 256     /* Bytes of an annotator's name. */

int hitl__ls_answer_check(const hitl_queue_config *q, const char *qn, const char *kind,
                          const json_t *value, hitl_response *r, hitl_err *err) {
  json_t *body = json_pack("{sssssssO}", "lease_id", "import", "question", qn, "kind", kind,
                           "value", (json_t *)value);
  hitl_answers a;
  int rc = hitl__answers_from_json(q, body, &a, err);
  json_decref(body);
  if (rc < 0) return rc;
  r->question = a.responses[0].question;
  r->kind = a.responses[0].kind;
  r->value = a.responses[0].value;
  memset(&a.responses[0], 0, sizeof a.responses[0]);
  hitl__answers_clear(&a);
  return 0;
}

void hitl__ls_task_clear(hitl_ls_task *t) {
  if (t == NULL) return;
  json_decref(t->submit);
  for (size_t i = 0; i < t->n_answers; i++) hitl_response_clear(&t->answers[i]);
  free(t->answers);
  memset(t, 0, sizeof *t);
}

/* Where a result is, for error messages: "[3].annotations[0].result[2]". */
typedef struct place {
  char at[HITL_FIELD_PATH_LEN];
} place;

/* The text of a TextArea value: its "text" lines joined by newlines. */
static json_t *textarea_text(const json_t *value) {
  json_t *lines = json_object_get(value, "text");
  if (json_is_string(lines)) return json_incref(lines);
  if (!json_is_array(lines)) return NULL;
  size_t total = 0, i;
  json_t *l;
  json_array_foreach(lines, i, l) {
    if (!json_is_string(l)) return NULL;
    total += json_string_length(l) + 1;
  }
  char *s = hitl_xmalloc(total + 1), *p = s;
  json_array_foreach(lines, i, l) {
    if (i) *p++ = '\n';
    memcpy(p, json_string_value(l), json_string_length(l));
    p += json_string_length(l);
  }
  json_t *out = json_stringn(s, (size_t)(p - s));
  free(s);
  return out;
}

/* The first string of value's array member key, or NULL. */
static json_t *first_of(const json_t *value, const char *key) {
  json_t *a = json_object_get(value, key);
  return json_is_array(a) && json_array_size(a) > 0 ? json_array_get(a, 0) : NULL;
}

/* The answers one result list gives, being built: per question its kind and value. */
typedef struct building {
  const hitl_queue_config *q;
  json_t *by_question;  /* question -> {"kind","value"} */
  json_t *span_ids;     /* region id -> [spans question, index] */
  json_t *output_text;  /* An "output" TextArea's text, or NULL. */
  json_t *relations;    /* The relation results, read last. */
} building;

/* The answer to question qn being built: the one there, or a new one of kind with value initial
 * (taken either way; NULL makes no answer, and returns NULL). */
static json_t *answer_of(building *b, const char *qn, const char *kind, json_t *initial) {
  json_t *a = json_object_get(b->by_question, qn);
  if (a != NULL) {
    json_decref(initial);
    return a;
  }
  a = json_pack("{ssso}", "kind", kind, "value", initial);
  if (a != NULL) json_object_set_new(b->by_question, qn, a);
  return a;
}

/* Reads one result (not a relation) into b. */
static int read_result(building *b, const json_t *res, const char *at, hitl_err *err) {
  char f[HITL_FIELD_PATH_LEN];
  const char *from = json_string_value(json_object_get(res, "from_name"));
  const char *type = json_string_value(json_object_get(res, "type"));
  json_t *value = json_object_get(res, "value");
  hitl__path_key(f, at, "from_name");
  if (from == NULL) return hitl__invalid(err, f, "from_name is required: the question's name");
  if (type == NULL) {
    hitl__path_key(f, at, "type");
    return hitl__invalid(err, f, "type is required");
  }
  hitl__path_key(f, at, "value");
  if (!json_is_object(value)) return hitl__invalid(err, f, "value must be an object");
  if (strcmp(from, HITL_LS_OUTPUT) == 0 && strcmp(type, "textarea") == 0 &&
      hitl_queue_question_index(b->q, from) < 0) {
    json_decref(b->output_text);
    b->output_text = textarea_text(value);
    if (b->output_text == NULL) return hitl__invalid(err, f, "text must be an array of strings");
    return 0;
  }
  int qi = hitl_queue_question_index(b->q, from);
  if (qi < 0) {
    hitl__path_key(f, at, "from_name");
    return hitl__invalid(err, f, "\"%.64s\" is not a question of this queue", from);
  }
  const hitl_question *qu = &b->q->questions[qi];
  const char *qn = qu->name;
  bool fits = false;
  switch (qu->type) {
  case HITL_QUESTION_APPROVE:
  case HITL_QUESTION_LABEL:
    if ((fits = strcmp(type, "choices") == 0)) {
      json_t *c = first_of(value, "choices");
      const char *kind = qu->type == HITL_QUESTION_LABEL ? "label" : json_string_value(c);
      if (kind == NULL) return hitl__invalid(err, f, "choices must hold one string");
      json_t *a = answer_of(b, qn, kind, qu->type == HITL_QUESTION_LABEL ? json_incref(c) : json_null());
      json_object_set_new(a, "kind", json_string(kind));
    }
    break;
  case HITL_QUESTION_LABELS:
    if ((fits = strcmp(type, "choices") == 0))
      answer_of(b, qn, "labels", json_incref(json_object_get(value, "choices")));
    break;
  case HITL_QUESTION_RATING:
    if ((fits = strcmp(type, "rating") == 0))
      answer_of(b, qn, "rating", json_incref(json_object_get(value, "rating")));
    break;
  case HITL_QUESTION_TEXT:
    if ((fits = strcmp(type, "textarea") == 0)) answer_of(b, qn, "text", textarea_text(value));
    break;
  case HITL_QUESTION_PREFERENCE:
    if ((fits = strcmp(type, "ranker") == 0)) {
      json_t *r = json_object_get(value, "ranker");
      /* {"ranker": {bucket: [...]}} (current) or a bare list (older versions). */
      if (json_is_object(r)) {
        json_t *mine = json_object_get(r, qn);
        if (mine == NULL && json_object_size(r) == 1) mine = json_object_iter_value(json_object_iter(r));
        r = mine;
      }
      answer_of(b, qn, "ranking", json_incref(r));
    }
    break;
  case HITL_QUESTION_SPANS:
    if ((fits = strcmp(type, "labels") == 0)) {
      json_t *a = answer_of(b, qn, "spans", json_array()), *spans = json_object_get(a, "value");
      const char *id = json_string_value(json_object_get(res, "id"));
      if (id) json_object_set_new(b->span_ids, id, json_pack("[sI]", qn, (json_int_t)json_array_size(spans)));
      json_t *span = json_pack("{sOsOsO}", "start", json_object_get(value, "start"), "end",
                               json_object_get(value, "end"), "label", first_of(value, "labels"));
      if (span == NULL) return hitl__invalid(err, f, "a labels result needs start, end and labels");
      json_array_append_new(spans, span);
    }
    break;
  case HITL_QUESTION_BOXES:
    if ((fits = strcmp(type, "rectanglelabels") == 0)) {
      json_t *w = json_object_get(res, "original_width"), *h = json_object_get(res, "original_height");
      json_t *a = answer_of(b, qn, "boxes", json_pack("{s[]sOsO}", "boxes", "image_width", w ? w : json_null(),
                                                       "image_height", h ? h : json_null()));
      json_t *boxes = json_object_get(json_object_get(a, "value"), "boxes");
      json_t *box = json_pack("{sOsOsOsOsO}", "label", first_of(value, "rectanglelabels"), "x",
                              json_object_get(value, "x"), "y", json_object_get(value, "y"),
                              "width", json_object_get(value, "width"), "height",
                              json_object_get(value, "height"));
      if (box == NULL)
        return hitl__invalid(err, f, "a rectanglelabels result needs x, y, width, height and "
                                     "rectanglelabels");
      json_array_append_new(boxes, box);
    }
    break;
  case HITL_QUESTION_TRANSCRIPTION:
    if ((fits = strcmp(type, "textarea") == 0)) {
      json_t *a = answer_of(b, qn, "transcription", json_object()), *v = json_object_get(a, "value");
      json_t *text = textarea_text(value);
      if (json_object_get(value, "start") == NULL) {
        json_object_set_new(v, "text", text ? text : json_null());
      } else {
        json_t *segs = json_object_get(v, "segments");
        if (segs == NULL) json_object_set_new(v, "segments", segs = json_array());
        json_t *seg = json_pack("{sOsOso}", "start", json_object_get(value, "start"), "end",
                                json_object_get(value, "end"), "text", text ? text : json_null());
        if (seg == NULL) return hitl__invalid(err, f, "a segment's textarea needs start and end");
        json_array_append_new(segs, seg);
      }
    }
    break;
  case HITL_QUESTION_RELATIONS:
    break;
  }
  if (!fits) {
    hitl__path_key(f, at, "type");
    return hitl__invalid(err, f, "a %s result does not answer question \"%s\" (%s)", type, qn,
                         hitl_question_type_name(qu->type));
  }
  /* json_pack of a NULL member fails and leaves nothing: say what is missing. */
  if (json_object_get(b->by_question, qn) == NULL)
    return hitl__invalid(err, f, "the value lacks what a %s result needs", type);
  return 0;
}

/* Reads the relation results of b into their relations questions' answers. */
static int read_relations(building *b, const char *base, hitl_err *err) {
  size_t i;
  json_t *res;
  json_array_foreach(b->relations, i, res) {
    char at[HITL_FIELD_PATH_LEN];
    hitl__path_index(at, base, (size_t)json_integer_value(json_object_get(res, "_at")));
    const char *from_id = json_string_value(json_object_get(res, "from_id"));
    const char *to_id = json_string_value(json_object_get(res, "to_id"));
    json_t *from = from_id ? json_object_get(b->span_ids, from_id) : NULL;
    json_t *to = to_id ? json_object_get(b->span_ids, to_id) : NULL;
    if (from == NULL || to == NULL)
      return hitl__invalid(err, at, "from_id and to_id must name span regions of the same result");
    const char *spans = json_string_value(json_array_get(from, 0));
    if (strcmp(spans, json_string_value(json_array_get(to, 0))) != 0)
      return hitl__invalid(err, at, "a relation links two spans of the same question");
    const hitl_question *rq = NULL;
    for (size_t k = 0; k < b->q->n_questions && rq == NULL; k++)
      if (b->q->questions[k].type == HITL_QUESTION_RELATIONS &&
          strcmp(b->q->questions[k].spans, spans) == 0)
        rq = &b->q->questions[k];
    if (rq == NULL)
      return hitl__invalid(err, at, "no relations question of this queue links spans of \"%s\"", spans);
    json_t *a = answer_of(b, rq->name, "relations", json_array());
    json_array_append_new(json_object_get(a, "value"),
                          json_pack("{sOsOsO}", "from", json_array_get(from, 1), "to",
                                    json_array_get(to, 1), "label",
                                    first_of(res, "labels") ? first_of(res, "labels") : json_null()));
  }
  return 0;
}

/* Reads a result list (of an annotation or a prediction, at base) into answers: a body
 * {"answers": [...]} for validation. Sets *output_text to an "output" TextArea's text. */
static int read_results(const hitl_queue_config *q, const json_t *results, const char *base,
                        json_t **answers, json_t **output_text, hitl_err *err) {
  *answers = NULL;
  *output_text = NULL;
  if (!json_is_array(results) || json_array_size(results) > MAX_RESULTS)
    return hitl__invalid(err, base, "result must be an array of at most %d results", MAX_RESULTS);
  building b = {.q = q, .by_question = json_object(), .span_ids = json_object(),
                .relations = json_array()};
  int rc = 0;
  size_t i;
  json_t *res;
  json_array_foreach(results, i, res) {
    char at[HITL_FIELD_PATH_LEN];
    hitl__path_index(at, base, i);
    if (!json_is_object(res)) {
      rc = hitl__invalid(err, at, "a result must be an object");
      break;
    }
    const char *type = json_string_value(json_object_get(res, "type"));
    if (type != NULL && strcmp(type, "relation") == 0) {
      json_t *copy = json_copy(res);
      json_object_set_new(copy, "_at", json_integer((json_int_t)i));
      json_array_append_new(b.relations, copy);
      continue;
    }
    if ((rc = read_result(&b, res, at, err)) < 0) break;
  }
  if (rc == 0) rc = read_relations(&b, base, err);
  if (rc == 0) {
    json_t *list = json_array();
    const char *qn;
    json_t *a;
    json_object_foreach(b.by_question, qn, a) {
      json_object_set_new(a, "question", json_string(qn));
      json_array_append(list, a);
    }
    *answers = list;
    *output_text = b.output_text;
    b.output_text = NULL;
  }
  json_decref(b.by_question);
  json_decref(b.span_ids);
  json_decref(b.relations);
  json_decref(b.output_text);
  return rc;
}

/* An approve answer of kind modify takes the corrected output from the "output" TextArea. */
static void attach_correction(json_t *answers, json_t *output_text) {
  size_t i;
  json_t *a;
  json_array_foreach(answers, i, a) {
    const char *k = json_string_value(json_object_get(a, "kind"));
    if (k && (strcmp(k, "approve") == 0 || strcmp(k, "reject") == 0)) json_object_del(a, "value");
    if (k && strcmp(k, "modify") == 0)
      json_object_set(a, "value", output_text ? output_text : json_null());
  }
}

/* Validates answers (from results at base) against q into *out; errors name base. */
static int validate(const hitl_queue_config *q, json_t *answers, const char *base,
                    hitl_answers *out, hitl_err *err) {
  json_t *body = json_pack("{sssO}", "lease_id", "import", "answers", answers);
  int rc = hitl__answers_from_json(q, body, out, err);
  json_decref(body);
  if (rc < 0) {
    /* "answers[k].value.boxes[1]" names our own list: say the question and where in its value. */
    const char *qn = NULL, *rest = err->field;
    if (strncmp(rest, "answers[", 8) == 0) {
      size_t k = strtoul(rest + 8, NULL, 10);
      qn = json_string_value(json_object_get(json_array_get(answers, k), "question"));
      rest = strchr(rest, ']') + 1;
      if (*rest == '.') rest++;
    }
    char f[HITL_FIELD_PATH_LEN], msg[sizeof err->message];
    hitl__path_key(f, base, rest);
    if (qn) {
      snprintf(msg, sizeof msg, "question \"%s\"%s%s: %s", qn, *rest ? ", " : "", rest,
               err->message);
      snprintf(err->message, sizeof err->message, "%s", msg);
    }
    snprintf(err->field, sizeof err->field, "%s", f);
  }
  return rc;
}

/* The reviewer an annotation names: completed_by's email, its text, or its user number. */
static int reviewer_of(const json_t *ann, const char *at, size_t j, char **out, hitl_err *err) {
  char name[MAX_REVIEWER + 32];
  json_t *by = json_object_get(ann, "completed_by");
  if (json_is_object(by)) by = json_object_get(by, "email");
  if (json_is_string(by) && json_string_length(by) > 0 && json_string_length(by) <= MAX_REVIEWER)
    snprintf(name, sizeof name, "%s", json_string_value(by));
  else if (json_is_integer(by))
    snprintf(name, sizeof name, "label-studio-user-%lld", (long long)json_integer_value(by));
  else if (by == NULL || json_is_null(by))
    snprintf(name, sizeof name, "label-studio-annotator-%zu", j);
  else {
    char f[HITL_FIELD_PATH_LEN];
    hitl__path_key(f, at, "completed_by");
    return hitl__invalid(err, f, "completed_by must be a user number, an e-mail of 1 to %d bytes "
                                 "or {\"email\": ...}", MAX_REVIEWER);
  }
  *out = hitl_xstrdup(name);
  return 0;
}

/* The output a prediction's answers make: one answer's value, or an object by question. */
static json_t *output_of(const hitl_answers *a, json_t *output_text) {
  if (a->n == 0) return output_text ? json_incref(output_text) : NULL;
  if (a->n == 1 && a->responses[0].value)
    return json_loads(a->responses[0].value, JSON_DECODE_ANY, NULL);
  json_t *o = json_object();
  for (size_t i = 0; i < a->n; i++)
    if (a->responses[i].value)
      json_object_set_new(o, a->responses[i].question,
                          json_loads(a->responses[i].value, JSON_DECODE_ANY, NULL));
  return o;
}

static int read_prediction(const hitl_queue_config *q, const json_t *item, const char *at,
                           json_t *submit, hitl_err *err) {
  json_t *preds = hitl__json_member(item, "predictions");
  char base[HITL_FIELD_PATH_LEN], f[HITL_FIELD_PATH_LEN];
  hitl__path_key(base, at, "predictions");
  if (preds == NULL) return 0;
  if (!json_is_array(preds)) return hitl__invalid(err, base, "predictions must be an array");
  if (json_array_size(preds) == 0) return 0;
  json_t *p = json_array_get(preds, 0);
  char first[HITL_FIELD_PATH_LEN];
  hitl__path_index(first, base, 0);
  if (!json_is_object(p)) return hitl__invalid(err, first, "a prediction must be an object");
  json_t *answers = NULL, *text = NULL;
  hitl__path_key(f, first, "result");
  int rc = read_results(q, json_object_get(p, "result"), f, &answers, &text, err);
  hitl_answers a = {0};
  if (rc == 0) attach_correction(answers, text);
  if (rc == 0 && json_array_size(answers) > 0) rc = validate(q, answers, f, &a, err);
  json_decref(answers);
  if (rc == 0) {
    json_t *output = output_of(&a, text);
    if (output) json_object_set_new(submit, "output", output);
    json_t *score = hitl__json_member(p, "score"), *mv = hitl__json_member(p, "model_version");
    if (score) json_object_set(submit, "confidence", score);
    if (json_is_string(mv)) json_object_set(submit, "model_version", mv);
  }
  hitl__answers_clear(&a);
  json_decref(text);
  return rc;
}

static int read_annotations(const hitl_queue_config *q, const json_t *item, const char *at,
                            hitl_ls_task *out, hitl_err *err) {
  json_t *anns = hitl__json_member(item, "annotations");
  char base[HITL_FIELD_PATH_LEN];
  hitl__path_key(base, at, "annotations");
  if (anns == NULL) return 0;
  if (!json_is_array(anns) || json_array_size(anns) > MAX_ANNOTATIONS)
    return hitl__invalid(err, base, "annotations must be an array of at most %d annotations",
                         MAX_ANNOTATIONS);
  size_t j;
  json_t *ann;
  json_array_foreach(anns, j, ann) {
    char aat[HITL_FIELD_PATH_LEN], f[HITL_FIELD_PATH_LEN];
    hitl__path_index(aat, base, j);
    if (!json_is_object(ann)) return hitl__invalid(err, aat, "an annotation must be an object");
    if (json_is_true(json_object_get(ann, "was_cancelled"))) continue;
    char *reviewer = NULL;
    int rc = reviewer_of(ann, aat, j, &reviewer, err);
    if (rc < 0) return rc;
    json_t *answers = NULL, *text = NULL;
    hitl__path_key(f, aat, "result");
    hitl_answers a = {0};
    rc = read_results(q, json_object_get(ann, "result"), f, &answers, &text, err);
    if (rc == 0 && json_array_size(answers) == 0) {
      json_decref(answers);
      json_decref(text);
      free(reviewer);
      continue; /* An empty annotation answers nothing. */
    }
    if (rc == 0) attach_correction(answers, text);
    if (rc == 0) rc = validate(q, answers, f, &a, err);
    json_decref(answers);
    json_decref(text);
    if (rc == 0) {
      out->answers = hitl_xrealloc(out->answers, (out->n_answers + a.n) * sizeof *out->answers);
      for (size_t i = 0; i < a.n; i++) {
        hitl_response *r = &out->answers[out->n_answers++];
        *r = a.responses[i];
        memset(&a.responses[i], 0, sizeof a.responses[i]);
        free(r->reviewer);
        r->reviewer = hitl_xstrdup(reviewer);
      }
    }
    hitl__answers_clear(&a);
    free(reviewer);
    if (rc < 0) return rc;
  }
  return 0;
}

int hitl__ls_task_read(const hitl_queue_config *q, const json_t *item, size_t index,
                       hitl_ls_task *out, hitl_err *err) {
  memset(out, 0, sizeof *out);
  char at[HITL_FIELD_PATH_LEN], f[HITL_FIELD_PATH_LEN];
  hitl__path_index(at, "", index);
  int rc;
  if (!json_is_object(item)) {
    rc = hitl__invalid(err, at, "a Label Studio task must be an object with \"data\"");
    goto fail;
  }
  json_t *data = json_object_get(item, "data");
  hitl__path_key(f, at, "data");
  if (!json_is_object(data)) {
    rc = hitl__invalid(err, f, "data is required: an object with the queue's fields");
    goto fail;
  }
  for (size_t i = 0; i < q->n_fields; i++) {
    if (json_object_get(data, q->fields[i].name) == NULL) {
      char g[HITL_FIELD_PATH_LEN];
      hitl__path_key(g, f, q->fields[i].name);
      rc = hitl__invalid(err, g, "field \"%s\" of the queue's schema is missing from data",
                         q->fields[i].name);
      goto fail;
    }
  }
  out->submit = json_pack("{sO}", "input", data);
  json_t *id = json_object_get(item, "id");
  if (json_is_integer(id) || json_is_string(id)) {
    char ext[64];
    if (json_is_integer(id)) snprintf(ext, sizeof ext, "%lld", (long long)json_integer_value(id));
    json_object_set_new(out->submit, "external_id", json_is_integer(id) ? json_string(ext) : json_incref(id));
    json_object_set_new(out->submit, "metadata", json_pack("{s{sO}}", "label_studio", "id", id));
  }
  if ((rc = read_prediction(q, item, at, out->submit, err)) < 0) goto fail;
  if ((rc = read_annotations(q, item, at, out, err)) < 0) goto fail;
  return 0;
fail:
  hitl__ls_task_clear(out);
  return rc;
}
