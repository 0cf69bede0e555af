/* SPDX-License-Identifier: MIT */
/* Validation of a queue configuration's JSON and its translation into a hitl_queue_config. */
#include "api/queue_json.h"

#include "api/json_check.h"
#include "api/json_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/annotation_json.h"
#include "api/policy_json.h"
#include "api/queue_webhooks.h"
#include "util/buf.h"
#include "util/xmalloc.h"

#define MAX_NAME 64          /* Bytes of a field or question name. */
#define MAX_FIELDS 64
#define MAX_QUESTIONS 32
#define MAX_LABELS 1000
#define MAX_LABEL 256        /* Bytes of one label. */
#define MAX_DESCRIPTION 4096

static const char *const field_type_names[] = {"text", "markdown", "json",
                                               "image_url", "diff", "audio_url"};
static const char *const question_type_names[] = {
    "approve", "label", "labels", "rating", "preference", "text", "spans", "boxes",
    "transcription", "relations"};
static const char *const consensus_names[] = {"first", "majority", "unanimous"};
static const char *const sla_names[] = {"escalate", "accept", "reject", "expire"};
static const char *const role_names[] = {"annotator", "validator", "corrector",
                                         "arbiter",   "labeler",   "orchestrator"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const top_keys[] = {"schema", "policy", "assignment", "sla", "webhooks",
                                       "description", NULL};
static const char *const schema_keys[] = {"fields", "questions", NULL};
static const char *const field_keys[] = {"name", "type", NULL};
static const char *const question_keys[] = {"name",  "type",          "labels",        "max",
                                            "field", "spans",         "iou_threshold",
                                            "wer_threshold", NULL};
static const char *const assignment_keys[] = {"overlap", "roles", "lease_seconds", "consensus",
                                              NULL};
static const char *const sla_keys[] = {"deadline_seconds", "on_timeout", NULL};
/* Appends "a, b, c" to out (size n) from a NULL-terminated or counted list. */
static void list_names(char *out, size_t n, const char *const *names, size_t count) {
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < count && names[i] != NULL && used < n; i++)
    used += (size_t)snprintf(out + used, n - used, "%s%s", i ? ", " : "", names[i]);
}

/* Checks that v is an object; what names it in the message. */
static int need_object(const json_t *v, const char *field, const char *what, hitl_err *err) {
  if (json_is_object(v)) return 0;
  return hitl__invalid(err, field, "%s must be an object", what);
}

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
  int rc = need_object(item, at, what, err);
  if (rc == 0) rc = hitl__json_check_keys(item, at, what, keys, err);
  hitl__path_key(field, at, "name");
  *name = hitl__json_member(item, "name");
  if (rc == 0) rc = check_name(*name, field, err);
  return rc;
}

/* Reads an enum member given by name: v must be one of names (count of them). */
static int get_enum(const json_t *v, const char *field, const char *what,
                    const char *const *names, size_t count, int *out, hitl_err *err) {
  char list[256];
  *out = 0; /* Set on failure too: the caller's compiler cannot see that it then goes unread. */
  list_names(list, sizeof list, names, count);
  if (!json_is_string(v)) return hitl__invalid(err, field, "%s must be a string, one of %s", what, list);
  for (size_t i = 0; i < count; i++) {
    if (strcmp(json_string_value(v), names[i]) == 0) {
      *out = (int)i;
      return 0;
    }
  }
  return hitl__invalid(err, field, "%s \"%.64s\" is not known; use one of %s", what,
                 json_string_value(v), list);
}

/* Reads an integer in lo..hi. */
static int get_int(const json_t *v, const char *field, const char *what, json_int_t lo,
                   json_int_t hi, json_int_t *out, hitl_err *err) {
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return hitl__invalid(err, field, "%s must be an integer from %lld to %lld", what, (long long)lo,
                   (long long)hi);
  *out = json_integer_value(v);
  return 0;
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
    rc = get_enum(type, field, "field type", field_type_names, COUNT(field_type_names), &t, err);
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
    if (max != NULL && (rc = get_int(max, field, "max", 2, 10, &m, err)) < 0) return rc;
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
    rc = get_enum(type, field, "question type", question_type_names,
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

static int parse_schema(const json_t *schema, hitl_queue_config *q, json_t *norm,
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
  int rc = need_object(schema, "schema", "schema", err);
  if (rc == 0) rc = hitl__json_check_keys(schema, "schema", "schema", schema_keys, err);
  if (rc == 0) rc = parse_fields(hitl__json_member(schema, "fields"), "schema.fields", q, nfields, err);
  if (rc == 0)
    rc = parse_questions(hitl__json_member(schema, "questions"), "schema.questions", q, nquestions, err);
  return rc;
}

static int parse_roles(const json_t *roles, hitl_queue_config *q, json_t *norm, hitl_err *err) {
  const char *base = "assignment.roles";
  char list[256];
  list_names(list, sizeof list, role_names, COUNT(role_names));
  if (roles == NULL) {
    q->roles = hitl_xcalloc(1, sizeof *q->roles);
    q->roles[q->n_roles++] = hitl_xstrdup("validator");
    json_object_set_new(norm, "roles", json_pack("[s]", "validator"));
    return 0;
  }
  if (!json_is_array(roles) || json_array_size(roles) == 0 ||
      json_array_size(roles) > COUNT(role_names))
    return hitl__invalid(err, base, "roles must be a non-empty array of distinct roles from %s", list);
  q->roles = hitl_xcalloc(json_array_size(roles), sizeof *q->roles);
  json_t *nroles = json_array();
  json_object_set_new(norm, "roles", nroles);
  size_t i;
  json_t *r;
  json_array_foreach(roles, i, r) {
    char at[HITL_FIELD_PATH_LEN];
    int k;
    hitl__path_index(at, base, i);
    int rc = get_enum(r, at, "role", role_names, COUNT(role_names), &k, err);
    if (rc < 0) return rc;
    if (hitl_queue_allows_role(q, role_names[k]))
      return hitl__invalid(err, at, "role \"%s\" is listed twice", role_names[k]);
    q->roles[q->n_roles++] = hitl_xstrdup(role_names[k]);
    json_array_append_new(nroles, json_string(role_names[k]));
  }
  return 0;
}

static int parse_assignment(const json_t *a, hitl_queue_config *q, json_t *norm,
                            hitl_err *err) {
  json_t *na = json_object();
  json_object_set_new(norm, "assignment", na);
  int rc = 0;
  if (a != NULL) {
    rc = need_object(a, "assignment", "assignment", err);
    if (rc == 0) rc = hitl__json_check_keys(a, "assignment", "assignment", assignment_keys, err);
    if (rc < 0) return rc;
  }
  json_t *v;
  json_int_t overlap = 1, lease = 600;
  int consensus = HITL_CONSENSUS_MAJORITY;
  if (a != NULL && (v = hitl__json_member(a, "overlap")) != NULL &&
      (rc = get_int(v, "assignment.overlap", "overlap", 1, 9, &overlap, err)) < 0)
    return rc;
  if ((rc = parse_roles(a ? hitl__json_member(a, "roles") : NULL, q, na, err)) < 0) return rc;
  if (a != NULL && (v = hitl__json_member(a, "lease_seconds")) != NULL &&
      (rc = get_int(v, "assignment.lease_seconds", "lease_seconds", 5, 86400, &lease, err)) < 0)
    return rc;
  if (a != NULL && (v = hitl__json_member(a, "consensus")) != NULL &&
      (rc = get_enum(v, "assignment.consensus", "consensus", consensus_names,
                     COUNT(consensus_names), &consensus, err)) < 0)
    return rc;
  q->overlap = (int)overlap;
  q->lease_seconds = (int)lease;
  q->consensus = (hitl_consensus_method)consensus;
  json_object_set_new(na, "overlap", json_integer(overlap));
  json_object_set_new(na, "lease_seconds", json_integer(lease));
  json_object_set_new(na, "consensus", json_string(consensus_names[consensus]));
  return 0;
}

static int parse_sla(const json_t *sla, hitl_queue_config *q, json_t *norm, hitl_err *err) {
  int rc = 0;
  if (sla != NULL) {
    rc = need_object(sla, "sla", "sla", err);
    if (rc == 0) rc = hitl__json_check_keys(sla, "sla", "sla", sla_keys, err);
    if (rc < 0) return rc;
  }
  json_t *v;
  json_int_t deadline = 0;
  int action = HITL_SLA_ESCALATE;
  if (sla != NULL && (v = hitl__json_member(sla, "deadline_seconds")) != NULL &&
      (rc = get_int(v, "sla.deadline_seconds", "deadline_seconds", 1, 31536000, &deadline,
                    err)) < 0)
    return rc;
  if (sla != NULL && (v = hitl__json_member(sla, "on_timeout")) != NULL &&
      (rc = get_enum(v, "sla.on_timeout", "on_timeout", sla_names, COUNT(sla_names), &action,
                     err)) < 0)
    return rc;
  q->deadline_seconds = deadline;
  q->on_timeout = (hitl_sla_action)action;
  json_object_set_new(norm, "sla", json_pack("{s:o, s:s}", "deadline_seconds",
                                             deadline ? json_integer(deadline) : json_null(),
                                             "on_timeout", sla_names[action]));
  return 0;
}

char *hitl__url_redact(const char *url) {
  hitl_buf b = HITL_BUF_INIT;
  const char *p = strstr(url, "://");
  p = p ? p + 3 : url;
  hitl_buf_append(&b, url, (size_t)(p - url));
  size_t authority = strcspn(p, "/?#");
  const char *at = NULL;
  for (size_t i = 0; i < authority; i++)
    if (p[i] == '@') at = p + i;
  if (at) {
    hitl_buf_puts(&b, "***");
    hitl_buf_append(&b, at, authority - (size_t)(at - p));
  } else {
    hitl_buf_append(&b, p, authority);
  }
  p += authority;
  size_t path = strcspn(p, "?#");
  hitl_buf_append(&b, p, path);
  p += path;
  if (*p == '?') {
    /* Each parameter keeps its name; a bare parameter may be a secret in itself. */
    p++;
    hitl_buf_putc(&b, '?');
    while (*p && *p != '#') {
      size_t len = strcspn(p, "&#"), name = strcspn(p, "=&#");
      if (name < len) {
        hitl_buf_append(&b, p, name + 1);
        hitl_buf_puts(&b, "***");
      } else if (len > 0) {
        hitl_buf_puts(&b, "***");
      }
      p += len;
      if (*p == '&') hitl_buf_putc(&b, *p++);
    }
  }
  if (*p == '#') hitl_buf_puts(&b, "#***");
  return hitl_buf_detach(&b);
}

const char *hitl__queue_config_json(const hitl_queue_config *q, bool whole) {
  return whole ? q->json_shown : q->json_redacted;
}

/* Sets q->json_shown (secrets hidden) and q->json_redacted (URL credentials hidden too) from
 * norm. Returns 0, or HITL_EUNAVAILABLE when out of memory. */
static int shown_forms(json_t *norm, hitl_queue_config *q, hitl_err *err) {
  json_t *copy = json_deep_copy(norm), *hooks = json_object_get(copy, "webhooks");
  hitl__queue_webhooks_hide(copy, q);
  q->json_shown = hitl__json_text(copy, JSON_COMPACT | JSON_SORT_KEYS);
  size_t i;
  json_t *h;
  json_array_foreach(hooks, i, h) {
    const char *url = json_string_value(json_object_get(h, "url"));
    if (url == NULL) continue;
    char *safe = hitl__url_redact(url);
    json_object_set_new(h, "url", json_string(safe));
    free(safe);
  }
  q->json_redacted = hitl__json_text(copy, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(copy);
  if (q->json_shown == NULL || q->json_redacted == NULL)
    return hitl_err_set(err, HITL_EUNAVAILABLE, NULL,
                        "not enough memory to encode the queue configuration");
  return 0;
}

static int config_from_json(const json_t *body, const hitl_webhook_parse *m, hitl_queue_config **out,
                            hitl_err *err) {
  *out = NULL;
  hitl_queue_config *q = hitl_xcalloc(1, sizeof *q);
  q->codec = &hitl__answer_codec;
  json_t *norm = json_object();
  json_t *v;
  int rc;

  if (!json_is_object(body)) {
    rc = hitl__invalid(err, NULL, "the queue configuration must be a JSON object");
    goto cleanup;
  }
  if ((rc = hitl__json_check_keys(body, "", "the queue configuration", top_keys, err)) < 0) goto cleanup;
  if ((rc = parse_schema(hitl__json_member(body, "schema"), q, norm, err)) < 0) goto cleanup;

  v = hitl__json_member(body, "policy");
  if ((rc = hitl__policy_from_json(v, "policy", &q->policy, err)) < 0) goto cleanup;
  json_object_set_new(norm, "policy", v ? json_deep_copy(v) : json_pack("{s:[]}", "rules"));

  if ((rc = parse_assignment(hitl__json_member(body, "assignment"), q, norm, err)) < 0) goto cleanup;
  if ((rc = parse_sla(hitl__json_member(body, "sla"), q, norm, err)) < 0) goto cleanup;
  if ((rc = hitl__queue_webhooks_parse(hitl__json_member(body, "webhooks"), m, q, norm, err)) < 0) goto cleanup;

  if ((v = hitl__json_member(body, "description")) != NULL) {
    if (!json_is_string(v) || json_string_length(v) > MAX_DESCRIPTION) {
      rc = hitl__invalid(err, "description", "description must be a string of at most %d bytes",
                   MAX_DESCRIPTION);
      goto cleanup;
    }
    json_object_set(norm, "description", v);
  }

  q->json = hitl__json_text(norm, JSON_COMPACT | JSON_SORT_KEYS);
  if (q->json == NULL) {
    rc = hitl_err_set(err, HITL_EUNAVAILABLE, NULL,
                      "not enough memory to encode the queue configuration");
    goto cleanup;
  }
  if ((rc = shown_forms(norm, q, err)) < 0) goto cleanup;
  *out = q;
  q = NULL;
  rc = 0;

cleanup:
  json_decref(norm);
  hitl_queue_config_free(q);
  return rc;
}

int hitl__queue_config_from_json(const json_t *body, hitl_queue_config **out, hitl_err *err) {
  hitl_webhook_parse m = {.put = false};
  return config_from_json(body, &m, out, err);
}

int hitl__queue_config_from_put(const json_t *body, const hitl_queue_config *previous,
                                int64_t now, hitl_queue_config **out, hitl_err *err) {
  hitl_webhook_parse m = {.put = true, .previous = previous, .now = now};
  return config_from_json(body, &m, out, err);
}
