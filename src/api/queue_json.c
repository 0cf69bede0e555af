/* SPDX-License-Identifier: MIT */
/* Validation of a queue configuration's JSON and its translation into a hitl_queue_config (the
 * schema's fields and questions in queue_json_schema.c). */
#include "api/queue_json.h"
#include "api/queue_json_internal.h"

#include "api/json_check.h"
#include "api/json_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/annotation_json.h"
#include "api/policy_json.h"
#include "api/queue_webhooks.h"
#include "core/conformal.h"
#include "util/buf.h"
#include "util/xmalloc.h"

#define MAX_DESCRIPTION 4096

static const char *const consensus_names[] = {"first", "majority", "unanimous"};
static const char *const sla_names[] = {"escalate", "accept", "reject", "expire"};
static const char *const role_names[] = {"annotator", "validator", "corrector",
                                         "arbiter",   "labeler",   "orchestrator"};

static const char *const top_keys[] = {"schema", "policy", "assignment", "sla", "webhooks",
                                       "description", "calibration", NULL};
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
int hitl__queue_json_need_object(const json_t *v, const char *field, const char *what,
                                 hitl_err *err) {
  if (json_is_object(v)) return 0;
  return hitl__invalid(err, field, "%s must be an object", what);
}

/* Reads an enum member given by name: v must be one of names (count of them). */
int hitl__queue_json_get_enum(const json_t *v, const char *field, const char *what,
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
int hitl__queue_json_get_int(const json_t *v, const char *field, const char *what, json_int_t lo,
                             json_int_t hi, json_int_t *out, hitl_err *err) {
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
    return hitl__invalid(err, field, "%s must be an integer from %lld to %lld", what, (long long)lo,
                   (long long)hi);
  *out = json_integer_value(v);
  return 0;
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
    int rc = hitl__queue_json_get_enum(r, at, "role", role_names, COUNT(role_names), &k, err);
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
    rc = hitl__queue_json_need_object(a, "assignment", "assignment", err);
    if (rc == 0) rc = hitl__json_check_keys(a, "assignment", "assignment", assignment_keys, err);
    if (rc < 0) return rc;
  }
  json_t *v;
  json_int_t overlap = 1, lease = 600;
  int consensus = HITL_CONSENSUS_MAJORITY;
  if (a != NULL && (v = hitl__json_member(a, "overlap")) != NULL &&
      (rc = hitl__queue_json_get_int(v, "assignment.overlap", "overlap", 1, 9, &overlap, err)) < 0)
    return rc;
  if ((rc = parse_roles(a ? hitl__json_member(a, "roles") : NULL, q, na, err)) < 0) return rc;
  if (a != NULL && (v = hitl__json_member(a, "lease_seconds")) != NULL &&
      (rc = hitl__queue_json_get_int(v, "assignment.lease_seconds", "lease_seconds", 5, 86400,
                                     &lease, err)) < 0)
    return rc;
  if (a != NULL && (v = hitl__json_member(a, "consensus")) != NULL &&
      (rc = hitl__queue_json_get_enum(v, "assignment.consensus", "consensus", consensus_names,
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
    rc = hitl__queue_json_need_object(sla, "sla", "sla", err);
    if (rc == 0) rc = hitl__json_check_keys(sla, "sla", "sla", sla_keys, err);
    if (rc < 0) return rc;
  }
  json_t *v;
  json_int_t deadline = 0;
  int action = HITL_SLA_ESCALATE;
  if (sla != NULL && (v = hitl__json_member(sla, "deadline_seconds")) != NULL &&
      (rc = hitl__queue_json_get_int(v, "sla.deadline_seconds", "deadline_seconds", 1, 31536000,
                                     &deadline, err)) < 0)
    return rc;
  if (sla != NULL && (v = hitl__json_member(sla, "on_timeout")) != NULL &&
      (rc = hitl__queue_json_get_enum(v, "sla.on_timeout", "on_timeout", sla_names,
                                      COUNT(sla_names), &action, err)) < 0)
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

/* Parses {"conformal": {"coverage": 0.9, "score": "lac"}} (docs/calibration.md): prediction
 * sets need the queue's label question. */
static int parse_calibration(const json_t *c, hitl_queue_config *q, json_t *norm, hitl_err *err) {
  static const char *const calibration_keys[] = {"conformal", NULL};
  static const char *const conformal_keys[] = {"coverage", "score", NULL};
  if (c == NULL) return 0;
  int rc = hitl__queue_json_need_object(c, "calibration", "calibration", err);
  if (rc == 0) rc = hitl__json_check_keys(c, "calibration", "calibration", calibration_keys, err);
  if (rc < 0) return rc;
  json_t *conf = hitl__json_member(c, "conformal");
  if (conf == NULL) return 0;
  rc = hitl__queue_json_need_object(conf, "calibration.conformal", "calibration.conformal", err);
  if (rc == 0)
    rc = hitl__json_check_keys(conf, "calibration.conformal", "calibration.conformal",
                               conformal_keys, err);
  if (rc < 0) return rc;
  bool has_label = false;
  for (size_t i = 0; i < q->n_questions; i++)
    has_label = has_label || q->questions[i].type == HITL_QUESTION_LABEL;
  if (!has_label)
    return hitl__invalid(err, "calibration.conformal",
                         "conformal prediction sets need a question of type label");
  json_t *cov = hitl__json_member(conf, "coverage");
  json_t *score = hitl__json_member(conf, "score");
  double coverage = cov == NULL ? 0.9 : json_is_number(cov) ? json_number_value(cov) : -1;
  const char *name = score == NULL ? "lac" : json_is_string(score) ? json_string_value(score) : "";
  hitl_conformal_score kind;
  hitl_err cerr = {0};
  if (hitl_conformal_parse(name, coverage, &kind, &cerr) < 0) {
    char field[HITL_FIELD_PATH_LEN];
    hitl__path_key(field, "calibration.conformal", cerr.field);
    return hitl__invalid(err, field, "%s", cerr.message);
  }
  q->conformal = true;
  q->conformal_coverage = coverage;
  q->conformal_score = (int)kind;
  json_object_set_new(norm, "calibration",
                      json_pack("{s:{s:f,s:s}}", "conformal", "coverage", coverage, "score", name));
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
  if ((rc = hitl__queue_json_parse_schema(hitl__json_member(body, "schema"), q, norm, err)) < 0)
    goto cleanup;

  v = hitl__json_member(body, "policy");
  if ((rc = hitl__policy_from_json(v, "policy", &q->policy, err)) < 0) goto cleanup;
  json_object_set_new(norm, "policy", v ? json_deep_copy(v) : json_pack("{s:[]}", "rules"));

  if ((rc = parse_assignment(hitl__json_member(body, "assignment"), q, norm, err)) < 0) goto cleanup;
  if ((rc = parse_sla(hitl__json_member(body, "sla"), q, norm, err)) < 0) goto cleanup;
  if ((rc = hitl__queue_webhooks_parse(hitl__json_member(body, "webhooks"), m, q, norm, err)) < 0) goto cleanup;
  if ((rc = parse_calibration(hitl__json_member(body, "calibration"), q, norm, err)) < 0)
    goto cleanup;

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
