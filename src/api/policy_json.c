/* SPDX-License-Identifier: MIT */
/* Policy from JSON: validates a queue's "policy" object and compiles it; JSON pointer lookups. */
#include "api/policy_json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy_rules.h"
#include "util/xmalloc.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY)

static const char known_ops[] =
    "all, any, not, confidence_below, confidence_at_least, eq, ne, gt, lt, gte, lte, in, exists, "
    "regex, sample_percent, calibrated, prediction_set_size_above, prediction_set_size_at_most";

/* ---- JSON pointers ----------------------------------------------------------------------- */

/* True when s (n bytes) is an RFC 6901 pointer: empty, or "/"-separated tokens in which every
 * '~' is followed by '0' or '1'. */
static bool pointer_valid(const char *s, size_t n) {
  if (n == 0) return true;
  if (s[0] != '/') return false;
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\0') return false;
    if (s[i] == '~' && (i + 1 == n || (s[i + 1] != '0' && s[i + 1] != '1'))) return false;
  }
  return true;
}

/* Reads an array index token: digits without a leading zero. Returns false for anything else
 * ("-" included: it names the element after the last, which never exists). */
static bool parse_index(const char *s, size_t n, size_t *out) {
  if (n == 0 || (n > 1 && s[0] == '0')) return false;
  size_t v = 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    if (v > (SIZE_MAX - 9) / 10) return false;
    v = v * 10 + (size_t)(s[i] - '0');
  }
  *out = v;
  return true;
}

/* Finds the value pointer names under root. Returns NULL when nothing is there. */
static const json_t *resolve(const json_t *root, const char *pointer) {
  const json_t *node = root;
  const char *p = pointer;
  char small[128];
  while (*p == '/' && node != NULL) {
    p++;
    size_t n = strcspn(p, "/");
    if (json_is_object(node)) {
      const char *key = p;
      size_t key_len = n;
      char *copy = NULL;
      if (memchr(p, '~', n) != NULL) {
        copy = n < sizeof small ? small : hitl_xmalloc(n + 1);
        key_len = 0;
        for (size_t i = 0; i < n; i++) {
          if (p[i] == '~' && i + 1 < n) {
            copy[key_len++] = p[i + 1] == '1' ? '/' : '~';
            i++;
          } else {
            copy[key_len++] = p[i];
          }
        }
        key = copy;
      }
      node = json_object_getn(node, key, key_len);
      if (copy != NULL && copy != small) free(copy);
    } else if (json_is_array(node)) {
      size_t index;
      node = parse_index(p, n, &index) ? json_array_get(node, index) : NULL;
    } else {
      node = NULL;
    }
    p += n;
  }
  return node;
}

/* ---- Task documents ---------------------------------------------------------------------- */

typedef struct dumped_value {
  const json_t *node; /* The value whose text this is. */
  char *text;         /* Its compact sorted JSON, owned. */
} dumped_value;

struct hitl_json_doc {
  const json_t *root;
  dumped_value *dumped; /* Every text handed out so far; freed with the doc. */
  size_t n_dumped;
  size_t cap_dumped;
};

hitl_json_doc *hitl__json_doc_new(const json_t *doc) {
  hitl_json_doc *d = hitl_xcalloc(1, sizeof *d);
  d->root = doc;
  return d;
}

void hitl__json_doc_free(hitl_json_doc *d) {
  if (d == NULL) return;
  for (size_t i = 0; i < d->n_dumped; i++) free(d->dumped[i].text);
  free(d->dumped);
  free(d);
}

/* The JSON text of node, made once per doc and node. NULL if jansson cannot encode it. */
static const char *doc_text(hitl_json_doc *d, const json_t *node) {
  for (size_t i = 0; i < d->n_dumped; i++)
    if (d->dumped[i].node == node) return d->dumped[i].text;
  char *text = json_dumps(node, DUMP_FLAGS);
  if (text == NULL) return NULL;
  if (d->n_dumped == d->cap_dumped) {
    d->cap_dumped = d->cap_dumped ? 2 * d->cap_dumped : 8;
    d->dumped = hitl_xrealloc(d->dumped, d->cap_dumped * sizeof *d->dumped);
  }
  d->dumped[d->n_dumped++] = (dumped_value){node, text};
  return text;
}

int hitl__json_doc_lookup(void *ctx, const char *pointer, hitl_value *out) {
  hitl_json_doc *d = ctx;
  memset(out, 0, sizeof *out);
  out->type = HITL_VALUE_MISSING;
  if (d == NULL || pointer == NULL || !pointer_valid(pointer, strlen(pointer))) return HITL_EINTERNAL;
  const json_t *node = d->root ? resolve(d->root, pointer) : NULL;
  if (node == NULL) return 0;
  switch (json_typeof(node)) {
  case JSON_OBJECT: out->type = HITL_VALUE_OBJECT; break;
  case JSON_ARRAY: out->type = HITL_VALUE_ARRAY; break;
  case JSON_STRING:
    out->type = HITL_VALUE_STRING;
    out->string = json_string_value(node);
    out->length = json_string_length(node);
    break;
  case JSON_INTEGER:
  case JSON_REAL:
    out->type = HITL_VALUE_NUMBER;
    out->number = json_number_value(node);
    break;
  case JSON_TRUE:
  case JSON_FALSE:
    out->type = HITL_VALUE_BOOL;
    out->boolean = json_is_true(node);
    break;
  case JSON_NULL: out->type = HITL_VALUE_NULL; break;
  }
  /* A string is compared and traced from its bytes: dumping it would copy a large output. */
  if (out->type == HITL_VALUE_STRING) return 0;
  out->json = doc_text(d, node);
  if (out->json == NULL) {
    out->type = HITL_VALUE_MISSING;
    return HITL_EINTERNAL;
  }
  return 0;
}

/* ---- Policy decoding --------------------------------------------------------------------- */

typedef struct decoder {
  char field[512]; /* Path of the value being decoded, "policy.rules[2].when". */
  size_t len;
  hitl_err *err;
  char calibrated[512]; /* Field path of the policy's calibrated leaf; "" while none. */
} decoder;

/* Appends ".key" (or "key" at the start) to the field path; returns the length to restore. */
static size_t push_key(decoder *d, const char *key) {
  size_t mark = d->len;
  int n = snprintf(d->field + d->len, sizeof d->field - d->len, "%s%s", d->len ? "." : "", key);
  if (n > 0) d->len += (size_t)n < sizeof d->field - d->len ? (size_t)n : sizeof d->field - d->len - 1;
  return mark;
}

/* Appends "[index]" to the field path; returns the length to restore. */
static size_t push_index(decoder *d, size_t index) {
  size_t mark = d->len;
  int n = snprintf(d->field + d->len, sizeof d->field - d->len, "[%zu]", index);
  if (n > 0) d->len += (size_t)n < sizeof d->field - d->len ? (size_t)n : sizeof d->field - d->len - 1;
  return mark;
}

static void pop(decoder *d, size_t mark) {
  d->len = mark;
  d->field[mark] = '\0';
}

/* Records a validation failure at the current field path and returns HITL_EVALIDATION. */
__attribute__((format(printf, 2, 3))) static int fail(decoder *d, const char *fmt, ...) {
  char message[sizeof d->err->message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  return hitl_err_set(d->err, HITL_EVALIDATION, d->field, "%s", message);
}

/* Fails at ".key" for the first key of obj not in allowed (a NULL-terminated list). */
static int check_keys(decoder *d, const json_t *obj, const char *const *allowed, const char *what) {
  const char *key;
  const json_t *value;
  json_object_foreach((json_t *)obj, key, value) {
    bool known = false;
    for (size_t i = 0; allowed[i] && !known; i++) known = strcmp(key, allowed[i]) == 0;
    if (!known) {
      push_key(d, key);
      return fail(d, "unknown key \"%s\"; %s", key, what);
    }
  }
  return 0;
}

/* True when j is a string without NUL bytes and, if non_empty, not "". */
static bool is_cstring(const json_t *j, bool non_empty) {
  if (!json_is_string(j)) return false;
  size_t n = json_string_length(j);
  return strlen(json_string_value(j)) == n && (!non_empty || n > 0);
}

/* Fills v from a JSON constant; *text receives the JSON text the caller frees (arrays, objects). */
static int to_value(decoder *d, const json_t *j, hitl_value *v, char **text) {
  memset(v, 0, sizeof *v);
  *text = NULL;
  switch (json_typeof(j)) {
  case JSON_NULL: v->type = HITL_VALUE_NULL; break;
  case JSON_TRUE:
  case JSON_FALSE:
    v->type = HITL_VALUE_BOOL;
    v->boolean = json_is_true(j);
    break;
  case JSON_INTEGER:
  case JSON_REAL:
    v->type = HITL_VALUE_NUMBER;
    v->number = json_number_value(j);
    break;
  case JSON_STRING:
    v->type = HITL_VALUE_STRING;
    v->string = json_string_value(j);
    v->length = json_string_length(j);
    break;
  case JSON_ARRAY:
  case JSON_OBJECT:
    v->type = json_is_array(j) ? HITL_VALUE_ARRAY : HITL_VALUE_OBJECT;
    *text = json_dumps(j, DUMP_FLAGS);
    if (*text == NULL) return fail(d, "cannot be encoded as JSON text");
    v->json = *text;
    break;
  }
  return 0;
}

/* Decodes arg's "path" (the field path is at the operator). Sets *path, borrowed from arg. */
static int decode_path(decoder *d, const json_t *arg, const char *op, const char **path) {
  const json_t *j = json_object_get(arg, "path");
  size_t mark = push_key(d, "path");
  if (j == NULL) return fail(d, "is required: give %s a JSON pointer such as \"/output/amount\"", op);
  if (!json_is_string(j)) return fail(d, "must be a string holding a JSON pointer such as \"/output/amount\"");
  if (!pointer_valid(json_string_value(j), json_string_length(j)))
    return fail(d, "is not a valid JSON pointer: it must be \"\" or start with \"/\", and each \"~\" "
                   "must be followed by 0 or 1 (\"~0\" is \"~\", \"~1\" is \"/\")");
  pop(d, mark);
  *path = json_string_value(j);
  return 0;
}

/* Decodes the argument of eq, ne, gt, lt, gte, lte, in, exists and regex. */
static int decode_path_leaf(decoder *d, hitl_cond_op op, const json_t *arg, hitl_cond **out) {
  const char *name = hitl__cond_op_name(op);
  static const char *const with_value[] = {"path", "value", NULL};
  static const char *const with_values[] = {"path", "values", NULL};
  static const char *const with_pattern[] = {"path", "pattern", NULL};
  static const char *const path_only[] = {"path", NULL};
  const char *const *allowed = op == HITL_COND_IN       ? with_values
                               : op == HITL_COND_REGEX  ? with_pattern
                               : op == HITL_COND_EXISTS ? path_only
                                                        : with_value;
  const char *shape = op == HITL_COND_IN       ? "{\"path\": \"/...\", \"values\": [...]}"
                      : op == HITL_COND_REGEX  ? "{\"path\": \"/...\", \"pattern\": \"...\"}"
                      : op == HITL_COND_EXISTS ? "{\"path\": \"/...\"}"
                      : op == HITL_COND_EQ || op == HITL_COND_NE
                          ? "{\"path\": \"/...\", \"value\": ...}"
                          : "{\"path\": \"/...\", \"value\": NUMBER}";
  const char *path = NULL;
  char what[160];
  int rc;
  if (!json_is_object(arg)) return fail(d, "must be an object %s", shape);
  snprintf(what, sizeof what, "%s takes %s", name, shape);
  if ((rc = check_keys(d, arg, allowed, what)) < 0) return rc;
  if ((rc = decode_path(d, arg, name, &path)) < 0) return rc;

  if (op == HITL_COND_EXISTS) {
    *out = hitl__cond_exists(path);
    return 0;
  }
  if (op == HITL_COND_REGEX) {
    const json_t *pattern = json_object_get(arg, "pattern");
    char message[256];
    push_key(d, "pattern");
    if (pattern == NULL) return fail(d, "is required: give regex a POSIX extended regular expression");
    if (!is_cstring(pattern, false)) return fail(d, "must be a string (a POSIX extended regular expression)");
    if (hitl__cond_regex(path, json_string_value(pattern), out, message, sizeof message) < 0)
      return fail(d, "invalid regular expression: %s", message);
    return 0;
  }
  if (op == HITL_COND_IN) {
    const json_t *values = json_object_get(arg, "values");
    size_t n = json_array_size(values);
    push_key(d, "values");
    if (values == NULL) return fail(d, "is required: give in a non-empty array of values");
    if (!json_is_array(values) || n == 0) return fail(d, "must be a non-empty array of values");
    hitl_value *vs = hitl_xcalloc(n, sizeof *vs);
    char **texts = hitl_xcalloc(n, sizeof *texts);
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
      size_t mark = push_index(d, i);
      rc = to_value(d, json_array_get(values, i), &vs[i], &texts[i]);
      if (rc == 0) pop(d, mark);
    }
    if (rc == 0) *out = hitl__cond_in(path, vs, n);
    for (size_t i = 0; i < n; i++) free(texts[i]);
    free(texts);
    free(vs);
    return rc;
  }
  const json_t *value = json_object_get(arg, "value");
  hitl_value v;
  char *text = NULL;
  push_key(d, "value");
  if (value == NULL) return fail(d, "is required: give %s the value to compare with", name);
  if (op != HITL_COND_EQ && op != HITL_COND_NE && !json_is_number(value))
    return fail(d, "must be a number: %s compares numbers", name);
  if ((rc = to_value(d, value, &v, &text)) < 0) return rc;
  *out = hitl__cond_compare(op, path, &v);
  free(text);
  return 0;
}

/* Decodes {"max_error": x, "confidence": y, "audit_percent": z} (each optional, defaults in
 * core/calibration.h) into a CALIBRATED leaf; a policy holds at most one. */
static int decode_calibrated(decoder *d, const json_t *arg, hitl_cond **out) {
  static const char *const keys[] = {"max_error", "confidence", "audit_percent", NULL};
  int rc;
  if (!json_is_object(arg))
    return fail(d, "must be an object like {\"max_error\": 0.02, \"confidence\": 0.95, "
                   "\"audit_percent\": 5}");
  if ((rc = check_keys(d, arg, keys, "calibrated takes max_error, confidence and audit_percent")) < 0)
    return rc;
  if (d->calibrated[0])
    return fail(d, "a policy may hold one calibrated condition; %s has one already", d->calibrated);
  hitl_calib_params p;
  hitl_calibration_params_default(&p);
  double *slots[] = {&p.max_error, &p.confidence, &p.audit_percent};
  for (size_t i = 0; i < 3; i++) {
    const json_t *v = json_object_get(arg, keys[i]);
    if (v == NULL) continue;
    size_t mark = push_key(d, keys[i]);
    if (!json_is_number(v)) return fail(d, "must be a number");
    *slots[i] = json_number_value(v);
    pop(d, mark);
  }
  hitl_err perr = {0};
  if (hitl_calibration_params_check(&p, &perr) < 0) {
    size_t mark = push_key(d, perr.field);
    rc = fail(d, "%s", perr.message);
    pop(d, mark);
    return rc;
  }
  snprintf(d->calibrated, sizeof d->calibrated, "%s", d->field);
  *out = hitl__cond_calibrated(&p);
  return 0;
}

/* Decodes one condition at depth (the rule's "when" is depth 1) into *out. */
static int decode_cond(decoder *d, const json_t *j, int depth, hitl_cond **out) {
  *out = NULL;
  if (depth > HITL_POLICY_MAX_DEPTH)
    return fail(d, "conditions are nested more than %d levels deep; flatten them",
                HITL_POLICY_MAX_DEPTH);
  if (!json_is_object(j))
    return fail(d, "must be a condition object with one operator, e.g. {\"confidence_below\": 0.8}");
  if (json_object_size(j) != 1)
    return fail(d, "must have exactly one operator key, not %zu; combine conditions with "
                   "{\"all\": [...]} or {\"any\": [...]}", json_object_size(j));
  const char *key = NULL;
  const json_t *arg = NULL;
  const json_t *v;
  json_object_foreach((json_t *)j, key, v) { arg = v; break; }
  int op = hitl__cond_op_parse(key);
  push_key(d, key);
  if (op < 0) return fail(d, "unknown operator \"%s\"; known operators: %s", key, known_ops);

  int rc = 0;
  switch ((hitl_cond_op)op) {
  case HITL_COND_ALL:
  case HITL_COND_ANY: {
    size_t n = json_array_size(arg);
    if (!json_is_array(arg) || n == 0) return fail(d, "must be a non-empty array of conditions");
    hitl_cond *group = hitl__cond_group((hitl_cond_op)op);
    for (size_t i = 0; i < n; i++) {
      hitl_cond *child;
      size_t mark = push_index(d, i);
      if ((rc = decode_cond(d, json_array_get(arg, i), depth + 1, &child)) < 0) {
        hitl__cond_free(group);
        return rc;
      }
      hitl__cond_add(group, child);
      pop(d, mark);
    }
    *out = group;
    return 0;
  }
  case HITL_COND_NOT: {
    hitl_cond *child;
    if ((rc = decode_cond(d, arg, depth + 1, &child)) < 0) return rc;
    *out = hitl__cond_not(child);
    return 0;
  }
  case HITL_COND_CONFIDENCE_BELOW:
  case HITL_COND_CONFIDENCE_AT_LEAST:
    if (!json_is_number(arg) || json_number_value(arg) < 0 || json_number_value(arg) > 1)
      return fail(d, "must be a number from 0 to 1");
    *out = hitl__cond_threshold((hitl_cond_op)op, json_number_value(arg));
    return 0;
  case HITL_COND_SAMPLE_PERCENT:
    if (!json_is_number(arg) || json_number_value(arg) < 0 || json_number_value(arg) > 100)
      return fail(d, "must be a number from 0 to 100 (the percentage of tasks sampled)");
    *out = hitl__cond_threshold(HITL_COND_SAMPLE_PERCENT, json_number_value(arg));
    return 0;
  case HITL_COND_CALIBRATED: return decode_calibrated(d, arg, out);
  case HITL_COND_SET_SIZE_ABOVE:
  case HITL_COND_SET_SIZE_AT_MOST:
    if (!json_is_integer(arg) || json_integer_value(arg) < 0 || json_integer_value(arg) > 1000)
      return fail(d, "must be a whole number of labels from 0 to 1000");
    *out = hitl__cond_threshold((hitl_cond_op)op, (double)json_integer_value(arg));
    return 0;
  default: return decode_path_leaf(d, (hitl_cond_op)op, arg, out);
  }
}

/* Decodes "then" of a rule (the field path is at the rule). */
static int decode_then(decoder *d, const json_t *then, hitl_action *action, const char **role,
                       bool *has_priority, int *priority) {
  static const char *const then_keys[] = {"action", "role", "priority", NULL};
  size_t mark = push_key(d, "then");
  int rc;
  if (then == NULL)
    return fail(d, "is required: an object like {\"action\": \"review\"} (accept, reject or review)");
  if (!json_is_object(then))
    return fail(d, "must be an object like {\"action\": \"review\", \"role\": \"validator\", \"priority\": 10}");
  if ((rc = check_keys(d, then, then_keys, "then takes action, role and priority")) < 0) return rc;

  const json_t *a = json_object_get(then, "action");
  size_t inner = push_key(d, "action");
  const char *name = json_is_string(a) ? json_string_value(a) : "";
  if (strcmp(name, "accept") == 0)
    *action = HITL_ACTION_ACCEPT;
  else if (strcmp(name, "reject") == 0)
    *action = HITL_ACTION_REJECT;
  else if (strcmp(name, "review") == 0)
    *action = HITL_ACTION_REVIEW;
  else
    return fail(d, "%s; it must be one of accept, reject, review",
                a == NULL ? "is required" : "is not a known action");
  pop(d, inner);

  const json_t *r = json_object_get(then, "role");
  *role = NULL;
  if (r != NULL && !json_is_null(r)) {
    push_key(d, "role");
    if (!is_cstring(r, true)) return fail(d, "must be a non-empty string naming a role, e.g. \"validator\"");
    *role = json_string_value(r);
    pop(d, inner);
  }

  const json_t *p = json_object_get(then, "priority");
  *has_priority = false;
  if (p != NULL && !json_is_null(p)) {
    push_key(d, "priority");
    json_int_t v = json_is_integer(p) ? json_integer_value(p) : 0;
    if (!json_is_integer(p) || v < -HITL_POLICY_PRIORITY_MAX || v > HITL_POLICY_PRIORITY_MAX)
      return fail(d, "must be an integer from %d to %d", -HITL_POLICY_PRIORITY_MAX,
                  HITL_POLICY_PRIORITY_MAX);
    *has_priority = true;
    *priority = (int)v;
    pop(d, inner);
  }
  pop(d, mark);
  return 0;
}

/* Decodes rule number index of rules into p. */
static int decode_rule(decoder *d, hitl_policy *p, const json_t *rule, size_t index) {
  static const char *const rule_keys[] = {"name", "when", "then", NULL};
  hitl_cond *when = NULL;
  hitl_action action = HITL_ACTION_REVIEW;
  const char *role = NULL;
  bool has_priority = false;
  int priority = 0;
  int rc;
  size_t mark = push_index(d, index);
  if (!json_is_object(rule))
    return fail(d, "must be an object like {\"name\": \"...\", \"when\": {...}, \"then\": {...}}");
  if ((rc = check_keys(d, rule, rule_keys, "a rule has name, when and then")) < 0) return rc;

  const json_t *name = json_object_get(rule, "name");
  size_t inner = push_key(d, "name");
  if (name == NULL) return fail(d, "is required: give every rule a unique non-empty name");
  if (!is_cstring(name, true)) return fail(d, "must be a non-empty string");
  int earlier = hitl__policy_find(p, json_string_value(name));
  if (earlier >= 0)
    return fail(d, "\"%s\" is already the name of rules[%d]; rule names must be unique",
                json_string_value(name), earlier);
  pop(d, inner);

  const json_t *j = json_object_get(rule, "when");
  if (j != NULL) {
    push_key(d, "when");
    if ((rc = decode_cond(d, j, 1, &when)) < 0) goto cleanup;
    pop(d, inner);
  }
  rc = decode_then(d, json_object_get(rule, "then"), &action, &role, &has_priority, &priority);
  if (rc < 0) goto cleanup;

  hitl__policy_add(p, json_string_value(name), when, action, role, has_priority, priority);
  when = NULL;
  pop(d, mark);
cleanup:
  hitl__cond_free(when);
  return rc;
}

int hitl__policy_from_json(const json_t *policy, const char *field_prefix, hitl_policy **out,
                           hitl_err *err) {
  static const char *const policy_keys[] = {"rules", NULL};
  decoder d = {.err = err};
  hitl_policy *p = hitl__policy_new();
  int rc = 0;
  *out = NULL;
  push_key(&d, field_prefix ? field_prefix : "");
  if (policy == NULL || json_is_null(policy)) goto done;
  if (!json_is_object(policy)) {
    rc = fail(&d, "must be an object like {\"rules\": [...]}");
    goto cleanup;
  }
  if ((rc = check_keys(&d, policy, policy_keys, "a policy has only \"rules\"")) < 0) goto cleanup;

  const json_t *rules = json_object_get(policy, "rules");
  if (rules == NULL) goto done;
  push_key(&d, "rules");
  if (!json_is_array(rules)) {
    rc = fail(&d, "must be an array of rules");
    goto cleanup;
  }
  if (json_array_size(rules) > HITL_POLICY_MAX_RULES) {
    rc = fail(&d, "has %zu rules; at most %d are allowed", json_array_size(rules),
              HITL_POLICY_MAX_RULES);
    goto cleanup;
  }
  for (size_t i = 0; i < json_array_size(rules); i++)
    if ((rc = decode_rule(&d, p, json_array_get(rules, i), i)) < 0) goto cleanup;
done:
  *out = p;
  return 0;
cleanup:
  hitl_policy_free(p);
  return rc;
}
