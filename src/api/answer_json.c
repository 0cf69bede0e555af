/* SPDX-License-Identifier: MIT */
/* Validation of a response body: which kinds each question takes and what their values must be. */
#include "api/answer_json.h"

#include "api/annotation_json.h"
#include "api/json_check.h"
#include "api/json_text.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

#define MAX_LEASE_ID 128
#define MAX_COMMENT 10000
#define MAX_TEXT 100000
#define MAX_LABEL 256      /* Bytes of one ranked candidate name. */
#define MAX_RANKING 1000   /* Candidates in one ranking. */
#define MAX_SPANS 10000

/* The kinds each question type takes, besides skip and escalate (indexed by hitl_question_type). */
static const char *const kinds_of[][4] = {
    [HITL_QUESTION_APPROVE] = {"approve", "reject", "modify", NULL},
    [HITL_QUESTION_LABEL] = {"label", NULL},
    [HITL_QUESTION_LABELS] = {"labels", NULL},
    [HITL_QUESTION_RATING] = {"rating", NULL},
    [HITL_QUESTION_PREFERENCE] = {"ranking", NULL},
    [HITL_QUESTION_TEXT] = {"text", NULL},
    [HITL_QUESTION_SPANS] = {"spans", NULL},
    [HITL_QUESTION_BOXES] = {"boxes", NULL},
    [HITL_QUESTION_TRANSCRIPTION] = {"transcription", NULL},
    [HITL_QUESTION_RELATIONS] = {"relations", NULL},
};

static const char *const body_keys[] = {"lease_id", "question", "kind",          "value",
                                          "comment",  "answers",  "time_spent_ms", NULL};
static const char *const answer_keys[] = {"question", "kind", "value", NULL};
static const char *const span_keys[] = {"start", "end", "label", NULL};

/* Writes up to ten of names into out as "a, b, c" (", ..." when there are more). */
static void some_names(char *out, size_t n, char *const *names, size_t count) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < count && i < 10 && used < n; i++)
    used += (size_t)snprintf(out + used, n - used, "%s\"%.40s\"", i ? ", " : "", names[i]);
  if (count > 10 && used < n) snprintf(out + used, n - used, ", ...");
}

static bool is_label(const hitl_question *qu, const char *s) {
  for (size_t i = 0; i < qu->n_labels; i++)
    if (strcmp(qu->labels[i], s) == 0) return true;
  return false;
}

/* Checks that v is one of qu's labels; field names it in the error. */
static int check_label(const hitl_question *qu, const json_t *v, const char *field,
                       hitl_err *err) {
  char list[300];
  some_names(list, sizeof list, qu->labels, qu->n_labels);
  if (!json_is_string(v))
    return hitl__invalid(err, field, "a label of question \"%s\" must be a string, one of %s",
                   qu->name, list);
  if (!is_label(qu, json_string_value(v)))
    return hitl__invalid(err, field, "\"%.64s\" is not a label of question \"%s\"; use one of %s",
                   json_string_value(v), qu->name, list);
  return 0;
}

/* True when the string at a[i] equals a string at a[0..i). */
static bool repeats(const json_t *a, size_t i) {
  const char *s = json_string_value(json_array_get(a, i));
  for (size_t j = 0; j < i; j++)
    if (strcmp(json_string_value(json_array_get(a, j)), s) == 0) return true;
  return false;
}

static int check_labels_value(const hitl_question *qu, const json_t *v, const char *field,
                              hitl_err *err) {
  if (!json_is_array(v) || json_array_size(v) > qu->n_labels)
    return hitl__invalid(err, field, "value must be an array of distinct labels of question \"%s\"",
                   qu->name);
  size_t i;
  json_t *l;
  json_array_foreach(v, i, l) {
    char at[HITL_FIELD_PATH_LEN];
    hitl__path_index(at, field, i);
    int rc = check_label(qu, l, at, err);
    if (rc < 0) return rc;
    if (repeats(v, i))
      return hitl__invalid(err, at, "label \"%.64s\" is given twice", json_string_value(l));
  }
  return 0;
}

static int check_ranking_value(const json_t *v, const char *field, hitl_err *err) {
  if (!json_is_array(v) || json_array_size(v) < 2 || json_array_size(v) > MAX_RANKING)
    return hitl__invalid(err, field,
                   "value must be an array of 2 to %d distinct candidate names, best first",
                   MAX_RANKING);
  size_t i;
  json_t *c;
  json_array_foreach(v, i, c) {
    char at[HITL_FIELD_PATH_LEN];
    hitl__path_index(at, field, i);
    if (!json_is_string(c) || json_string_length(c) == 0 || json_string_length(c) > MAX_LABEL)
      return hitl__invalid(err, at, "a candidate name must be a string of 1 to %d bytes", MAX_LABEL);
    if (repeats(v, i))
      return hitl__invalid(err, at, "candidate \"%.64s\" is ranked twice", json_string_value(c));
  }
  return 0;
}

static int check_spans_value(const hitl_question *qu, const json_t *v, const char *field,
                             hitl_err *err) {
  if (!json_is_array(v) || json_array_size(v) > MAX_SPANS)
    return hitl__invalid(err, field,
                   "value must be an array of at most %d spans {\"start\",\"end\",\"label\"}",
                   MAX_SPANS);
  size_t i;
  json_t *s;
  json_array_foreach(v, i, s) {
    char at[HITL_FIELD_PATH_LEN], f[HITL_FIELD_PATH_LEN];
    hitl__path_index(at, field, i);
    if (!json_is_object(s))
      return hitl__invalid(err, at, "a span must be an object {\"start\",\"end\",\"label\"}");
    int rc = hitl__json_check_keys(s, at, "a span", span_keys, err);
    if (rc < 0) return rc;
    json_t *start = json_object_get(s, "start"), *end = json_object_get(s, "end");
    hitl__path_key(f, at, "start");
    if (!json_is_integer(start) || json_integer_value(start) < 0)
      return hitl__invalid(err, f, "start must be an integer >= 0 (a character offset)");
    hitl__path_key(f, at, "end");
    if (!json_is_integer(end) || json_integer_value(end) <= json_integer_value(start))
      return hitl__invalid(err, f, "end must be an integer greater than start");
    hitl__path_key(f, at, "label");
    if ((rc = check_label(qu, json_object_get(s, "label"), f, err)) < 0) return rc;
  }
  return 0;
}

/* Checks value v (NULL when absent) for kind on question qu. */
static int check_value(const hitl_question *qu, const char *kind, const json_t *v,
                       const char *field, hitl_err *err) {
  if (strcmp(kind, "approve") == 0 || strcmp(kind, "reject") == 0) {
    if (v != NULL)
      return hitl__invalid(err, field, "%s takes no value; send kind modify with the corrected output",
                     kind);
    return 0;
  }
  if (v == NULL)
    return hitl__invalid(err, field, "value is required for kind %s%s", kind,
                   strcmp(kind, "modify") == 0 ? ": the corrected output" : "");
  switch (qu->type) {
  case HITL_QUESTION_APPROVE:
    return 0; /* modify: any JSON value is a corrected output. */
  case HITL_QUESTION_LABEL:
    return check_label(qu, v, field, err);
  case HITL_QUESTION_LABELS:
    return check_labels_value(qu, v, field, err);
  case HITL_QUESTION_RATING:
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > qu->max)
      return hitl__invalid(err, field, "value must be an integer from 1 to %d", qu->max);
    return 0;
  case HITL_QUESTION_PREFERENCE:
    return check_ranking_value(v, field, err);
  case HITL_QUESTION_TEXT:
    if (!json_is_string(v) || json_string_length(v) > MAX_TEXT)
      return hitl__invalid(err, field, "value must be a string of at most %d bytes", MAX_TEXT);
    return 0;
  case HITL_QUESTION_SPANS:
    return check_spans_value(qu, v, field, err);
  case HITL_QUESTION_BOXES:
    return hitl__boxes_check(qu, v, field, err);
  case HITL_QUESTION_TRANSCRIPTION:
    return hitl__transcription_check(v, field, err);
  case HITL_QUESTION_RELATIONS:
    return hitl__relations_check_shape(v, field, err); /* Its spans: check_relations_refs. */
  }
  return hitl__invalid(err, field, "question \"%s\" has an unknown type", qu->name);
}

/* Encodes v as compact JSON with sorted keys in a string the caller frees with free(). */
static int encode(const json_t *v, char **out, hitl_err *err) {
  char *s = hitl__json_text(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  if (s == NULL)
    return hitl_err_set(err, HITL_EUNAVAILABLE, NULL, "not enough memory to encode the answer");
  *out = s;
  return 0;
}

/* Validates one answer a (the body itself, or answers[i]; base is "" or "answers[i]"). alone says
 * whether it is the body's only answer. Fills r's question, kind and value. */
static int parse_answer(const hitl_queue_config *q, const json_t *a, const char *base, bool alone,
                        hitl_response *r, hitl_err *err) {
  char field[HITL_FIELD_PATH_LEN];
  json_t *question = hitl__json_member(a, "question"), *kind = hitl__json_member(a, "kind"), *value = hitl__json_member(a, "value");

  hitl__path_key(field, base, "kind");
  if (kind == NULL) return hitl__invalid(err, field, "kind is required");
  if (!json_is_string(kind)) return hitl__invalid(err, field, "kind must be a string");
  const char *k = json_string_value(kind);
  bool whole_task = strcmp(k, "skip") == 0 || strcmp(k, "escalate") == 0;

  int qi = -1;
  hitl__path_key(field, base, "question");
  if (question != NULL) {
    if (!json_is_string(question)) return hitl__invalid(err, field, "question must be a string");
    qi = hitl_queue_question_index(q, json_string_value(question));
    if (qi < 0) {
      char list[300];
      char **names = hitl_xcalloc(q->n_questions, sizeof *names);
      for (size_t i = 0; i < q->n_questions; i++) names[i] = q->questions[i].name;
      some_names(list, sizeof list, names, q->n_questions);
      free(names);
      return hitl__invalid(err, field, "question \"%.64s\" is not in this queue; its questions are %s",
                     json_string_value(question), list);
    }
  } else if (q->n_questions == 1) {
    qi = 0;
  } else if (!whole_task) {
    return hitl__invalid(err, field, "question is required: this queue asks %zu questions",
                   q->n_questions);
  }

  hitl__path_key(field, base, "kind");
  if (whole_task) {
    if (!alone) return hitl__invalid(err, field, "%s must be the only answer in a response", k);
    hitl__path_key(field, base, "value");
    if (value != NULL) return hitl__invalid(err, field, "%s takes no value", k);
  } else {
    const hitl_question *qu = &q->questions[qi];
    const char *const *kinds = kinds_of[qu->type];
    size_t i = 0;
    while (kinds[i] != NULL && strcmp(kinds[i], k) != 0) i++;
    if (kinds[i] == NULL) {
      char list[80] = "";
      for (size_t j = 0; kinds[j] != NULL; j++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", j ? ", " : "",
                 kinds[j]);
      return hitl__invalid(err, field,
                     "kind \"%.32s\" does not answer question \"%s\" (%s); it takes %s, or skip "
                     "or escalate alone",
                     k, qu->name, hitl_question_type_name(qu->type), list);
    }
    hitl__path_key(field, base, "value");
    int rc = check_value(qu, k, value, field, err);
    if (rc < 0) return rc;
  }

  if (value != NULL && !whole_task && strcmp(k, "approve") != 0 && strcmp(k, "reject") != 0) {
    int rc = encode(value, &r->value, err);
    if (rc < 0) return rc;
  }
  r->question = qi >= 0 ? hitl_xstrdup(q->questions[qi].name) : NULL;
  r->kind = hitl_xstrdup(k);
  return 0;
}

/* The answer object of body that answers question name: the body itself or one of answers. */
static const json_t *answer_to(const json_t *body, const char *name, size_t *index) {
  const json_t *answers = json_object_get(body, "answers");
  if (answers == NULL) {
    *index = 0;
    const char *qn = json_string_value(json_object_get(body, "question"));
    return qn && strcmp(qn, name) == 0 ? body : NULL;
  }
  for (size_t i = 0; i < json_array_size(answers); i++) {
    const json_t *a = json_array_get(answers, i);
    const char *qn = json_string_value(json_object_get(a, "question"));
    if (qn && strcmp(qn, name) == 0) {
      *index = i;
      return a;
    }
  }
  return NULL;
}

/* Checks each relations answer of out against the spans answer it links, which must come in
 * the same body (validated answers, so their shapes hold). */
static int check_relations_refs(const hitl_queue_config *q, const json_t *body,
                                const hitl_answers *out, hitl_err *err) {
  bool several = json_object_get(body, "answers") != NULL;
  for (size_t i = 0; i < out->n; i++) {
    int qi = hitl_queue_question_index(q, out->responses[i].question);
    if (qi < 0 || q->questions[qi].type != HITL_QUESTION_RELATIONS ||
        strcmp(out->responses[i].kind, "relations") != 0)
      continue;
    const hitl_question *qu = &q->questions[qi];
    char at[HITL_FIELD_PATH_LEN] = "", field[HITL_FIELD_PATH_LEN];
    if (several) hitl__path_index(at, "answers", i);
    hitl__path_key(field, at, "value");
    size_t si = 0;
    const json_t *spans = answer_to(body, qu->spans, &si);
    if (spans == NULL || strcmp(json_string_value(json_object_get(spans, "kind")), "spans") != 0)
      return hitl__invalid(err, field, "relations of question \"%s\" link spans: give them in the "
                                       "same body as a spans answer to question \"%s\"",
                           qu->name, qu->spans);
    int rc = hitl__relations_check_refs(qu, json_object_get(answer_to(body, qu->name, &si), "value"),
                                        json_object_get(spans, "value"), field, err);
    if (rc < 0) return rc;
  }
  return 0;
}

int hitl__answers_from_json(const hitl_queue_config *q, const json_t *body, hitl_answers *out,
                            hitl_err *err) {
  memset(out, 0, sizeof *out);
  json_t *v, *answers;
  int rc;

  if (!json_is_object(body)) {
    rc = hitl__invalid(err, NULL, "the response must be a JSON object");
    goto cleanup;
  }
  if ((rc = hitl__json_check_keys(body, "", "a response", body_keys, err)) < 0) goto cleanup;

  v = hitl__json_member(body, "lease_id");
  if (v == NULL || !json_is_string(v) || json_string_length(v) == 0 ||
      json_string_length(v) > MAX_LEASE_ID) {
    rc = hitl__invalid(err, "lease_id", "lease_id is required: the id of the lease from the claim");
    goto cleanup;
  }
  out->lease_id = hitl_xstrdup(json_string_value(v));

  if ((v = hitl__json_member(body, "comment")) != NULL) {
    if (!json_is_string(v) || json_string_length(v) > MAX_COMMENT) {
      rc = hitl__invalid(err, "comment", "comment must be a string of at most %d bytes", MAX_COMMENT);
      goto cleanup;
    }
    out->comment = hitl_xstrdup(json_string_value(v));
  }
  if ((v = hitl__json_member(body, "time_spent_ms")) != NULL) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
      rc = hitl__invalid(err, "time_spent_ms", "time_spent_ms must be an integer >= 0");
      goto cleanup;
    }
    out->time_spent_ms = json_integer_value(v);
  }

  answers = hitl__json_member(body, "answers");
  if (answers == NULL) {
    out->responses = hitl_xcalloc(1, sizeof *out->responses);
    out->n = 1;
    if ((rc = parse_answer(q, body, "", true, &out->responses[0], err)) < 0) goto cleanup;
  } else {
    static const char *const single_only[] = {"question", "kind", "value"};
    for (size_t i = 0; i < 3; i++) {
      if (json_object_get(body, single_only[i]) != NULL) {
        rc = hitl__invalid(err, single_only[i],
                     "%s is not allowed next to answers; put it in each answer", single_only[i]);
        goto cleanup;
      }
    }
    if (!json_is_array(answers) || json_array_size(answers) == 0 ||
        json_array_size(answers) > q->n_questions) {
      rc = hitl__invalid(err, "answers",
                   "answers must be an array of 1 to %zu answers, at most one per question",
                   q->n_questions);
      goto cleanup;
    }
    size_t n = json_array_size(answers);
    out->responses = hitl_xcalloc(n, sizeof *out->responses);
    out->n = n;
    for (size_t i = 0; i < n; i++) {
      char at[HITL_FIELD_PATH_LEN];
      json_t *a = json_array_get(answers, i);
      hitl__path_index(at, "answers", i);
      if (!json_is_object(a)) {
        rc = hitl__invalid(err, at, "an answer must be an object {\"question\",\"kind\",\"value\"}");
        goto cleanup;
      }
      if ((rc = hitl__json_check_keys(a, at, "an answer", answer_keys, err)) < 0) goto cleanup;
      if ((rc = parse_answer(q, a, at, n == 1, &out->responses[i], err)) < 0) goto cleanup;
      for (size_t j = 0; j < i; j++) {
        if (out->responses[j].question != NULL && out->responses[i].question != NULL &&
            strcmp(out->responses[j].question, out->responses[i].question) == 0) {
          char f[HITL_FIELD_PATH_LEN];
          hitl__path_key(f, at, "question");
          rc = hitl__invalid(err, f, "question \"%s\" is answered twice", out->responses[i].question);
          goto cleanup;
        }
      }
    }
  }

  if ((rc = check_relations_refs(q, body, out, err)) < 0) goto cleanup;
  for (size_t i = 0; i < out->n; i++) {
    out->responses[i].comment = hitl_xstrdup(out->comment);
    out->responses[i].time_spent_ms = out->time_spent_ms;
  }
  rc = 0;

cleanup:
  if (rc < 0) hitl__answers_clear(out);
  return rc;
}

void hitl__answers_clear(hitl_answers *a) {
  if (a == NULL) return;
  free(a->lease_id);
  free(a->comment);
  for (size_t i = 0; i < a->n; i++) hitl_response_clear(&a->responses[i]);
  free(a->responses);
  memset(a, 0, sizeof *a);
}
