/* SPDX-License-Identifier: MIT */
/* The routing policy engine's evaluation of a compiled rule list against one task, and the text
 * of its trace entries. */
#include "core/policy.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy_internal.h"
#include "core/policy_regex.h"
#include "core/policy_rules.h"
#include "util/buf.h"
#include "util/id.h"
#include "util/xmalloc.h"

/* Writes the shortest of %.15g..%.17g that reads back as x: 0.8 stays "0.8" in traces. */
void hitl__policy_format_number(double x, char out[32]) {
  if (!isfinite(x)) {
    memcpy(out, "null", 5);
    return;
  }
  for (int precision = 15; precision <= 17; precision++) {
    snprintf(out, 32, "%.*g", precision, x);
    if (strtod(out, NULL) == x) return;
  }
}

/* The largest length up to max that ends on a UTF-8 character boundary of the n bytes at s. */
static size_t utf8_prefix(const char *s, size_t n, size_t max) {
  if (n <= max) return n;
  while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
  return max;
}

/* Appends ',"key":' and the string s (n bytes) as a JSON string; past
 * HITL_POLICY_TRACE_VALUE_MAX bytes only its first bytes, then ',"key_length":n'. */
void hitl__policy_put_capped_string(hitl_buf *b, const char *key, const char *s, size_t n) {
  size_t keep = utf8_prefix(s, n, HITL_POLICY_TRACE_VALUE_MAX);
  hitl_buf_printf(b, ",\"%s\":", key);
  hitl_buf_json_string(b, s, keep);
  if (keep < n) hitl_buf_printf(b, ",\"%s_length\":%zu", key, n);
}

/* Appends ',"key":' and the JSON text json (n bytes); past HITL_POLICY_TRACE_VALUE_MAX bytes, a
 * JSON string holding its first bytes, then ',"key_length":n'. */
void hitl__policy_put_capped_json(hitl_buf *b, const char *key, const char *json, size_t n) {
  if (n <= HITL_POLICY_TRACE_VALUE_MAX) {
    hitl_buf_printf(b, ",\"%s\":", key);
    hitl_buf_append(b, json, n);
    return;
  }
  hitl__policy_put_capped_string(b, key, json, n);
}

/* ---- Evaluation -------------------------------------------------------------------------- */

/* A condition's result: a limit can leave a regex leaf, and what depends on it, undecided. */
typedef enum tri { TRI_FALSE = 0, TRI_TRUE = 1, TRI_UNKNOWN = 2 } tri;

typedef struct eval_ctx {
  const hitl_policy_input *in;
  const policy_rule *rule; /* The rule being tried. */
  hitl_buf trace;          /* Entries so far, comma-separated, without the brackets. */
  size_t n_entries;
  size_t n_omitted;        /* Entries left out once the trace reached HITL_POLICY_TRACE_MAX. */
  hitl_buf scratch;        /* Reused for sampling keys. */
  bool calibrated;         /* A calibrated leaf held in the rule being tried. */
} eval_ctx;

/* Appends one trace entry: the value found (v, or actual_json for the task's own numbers; both
 * NULL when it is missing), the result, and the limit that left it undecided (NULL: none). Past
 * HITL_POLICY_TRACE_MAX bytes of trace, entries are counted instead of written. */
static void trace_leaf_extra(eval_ctx *e, const hitl_cond *c, const hitl_value *v,
                             const char *actual_json, tri result, const char *limit,
                             const char *extra) {
  if (e->n_omitted) {
    e->n_omitted++;
    return;
  }
  size_t mark = e->trace.len;
  if (e->n_entries) hitl_buf_putc(&e->trace, ',');
  hitl_buf_append(&e->trace, c->trace_head, c->trace_head_len);
  if (v && v->type == HITL_VALUE_STRING)
    hitl__policy_put_capped_string(&e->trace, "actual", v->string, v->length);
  else if (v && v->type != HITL_VALUE_MISSING && v->json)
    hitl__policy_put_capped_json(&e->trace, "actual", v->json, strlen(v->json));
  else if (actual_json)
    hitl__policy_put_capped_json(&e->trace, "actual", actual_json, strlen(actual_json));
  else
    hitl_buf_puts(&e->trace, ",\"actual\":null,\"missing\":true");
  hitl_buf_append(&e->trace, c->trace_tail, c->trace_tail_len);
  if (result == TRI_UNKNOWN) {
    hitl_buf_puts(&e->trace, "null,\"limit\":");
    hitl_buf_json_cstr(&e->trace, limit);
    hitl_buf_putc(&e->trace, '}');
  } else {
    hitl_buf_puts(&e->trace, result == TRI_TRUE ? "true" : "false");
    if (extra) hitl_buf_puts(&e->trace, extra);
    hitl_buf_putc(&e->trace, '}');
  }
  if (e->trace.len > HITL_POLICY_TRACE_MAX) { /* Keep the trace a prefix of the evaluation. */
    e->trace.len = mark;
    e->trace.data[mark] = '\0';
    e->n_omitted = 1;
    return;
  }
  e->n_entries++;
}

static void trace_leaf(eval_ctx *e, const hitl_cond *c, const hitl_value *v, const char *actual_json,
                       tri result, const char *limit) {
  trace_leaf_extra(e, c, v, actual_json, result, limit, NULL);
}

/* The calibrated leaf: holds when the queue's calibration accepted the task. Its trace entry
 * gives the threshold, n, k and bound the acceptance rests on; a task it does not accept shows
 * only "certified", so that an audit looks like any other reviewed task. */
static void eval_calibrated(eval_ctx *e, const hitl_cond *c, tri *holds) {
  const hitl_policy_calib *cal = e->in->calib;
  char actual[32], extra[256];
  bool accept = cal && cal->route == HITL_CALIB_ROUTE_ACCEPT;
  *holds = accept ? TRI_TRUE : TRI_FALSE;
  e->calibrated = e->calibrated || accept;
  if (cal == NULL || isnan(cal->score)) {
    trace_leaf_extra(e, c, NULL, NULL, *holds, NULL, ",\"certified\":false");
    return;
  }
  hitl__policy_format_number(cal->score, actual);
  if (!accept) {
    trace_leaf_extra(e, c, NULL, actual, *holds, NULL,
                     cal->cert.certified ? ",\"certified\":true" : ",\"certified\":false");
    return;
  }
  char t[32], n[32], k[32], b[32];
  hitl__policy_format_number(cal->cert.threshold, t);
  hitl__policy_format_number(cal->cert.n, n);
  hitl__policy_format_number(cal->cert.k, k);
  hitl__policy_format_number(cal->cert.bound, b);
  snprintf(extra, sizeof extra, ",\"certified\":true,\"threshold\":%s,\"n\":%s,\"k\":%s,\"bound\":%s",
           t, n, k, b);
  trace_leaf_extra(e, c, NULL, actual, *holds, NULL, extra);
}

static bool value_equals(const hitl_value *v, const policy_const *k) {
  if (v->type != k->type) return false;
  switch (v->type) {
  case HITL_VALUE_MISSING: return false;
  case HITL_VALUE_NULL: return true;
  case HITL_VALUE_BOOL: return v->boolean == k->boolean;
  case HITL_VALUE_NUMBER: return v->number == k->number;
  case HITL_VALUE_STRING:
    return v->length == k->length && (v->length == 0 || memcmp(v->string, k->string, v->length) == 0);
  case HITL_VALUE_ARRAY:
  case HITL_VALUE_OBJECT: return v->json && strcmp(v->json, k->json) == 0;
  }
  return false;
}

/* Evaluates a leaf that looks into the task. */
static int eval_path_leaf(eval_ctx *e, const hitl_cond *c, tri *holds) {
  hitl_value v;
  memset(&v, 0, sizeof v);
  v.type = HITL_VALUE_MISSING;
  int rc = e->in->lookup(e->in->ctx, c->path, &v);
  if (rc < 0) return rc;
  bool present = v.type != HITL_VALUE_MISSING;
  bool is_number = v.type == HITL_VALUE_NUMBER;
  bool result = false;
  const char *limit = NULL;
  switch (c->op) {
  case HITL_COND_EQ: result = value_equals(&v, &c->values[0]); break;
  case HITL_COND_NE: result = !value_equals(&v, &c->values[0]); break;
  case HITL_COND_GT: result = is_number && v.number > c->number; break;
  case HITL_COND_LT: result = is_number && v.number < c->number; break;
  case HITL_COND_GTE: result = is_number && v.number >= c->number; break;
  case HITL_COND_LTE: result = is_number && v.number <= c->number; break;
  case HITL_COND_IN:
    for (size_t i = 0; i < c->n_values && !result; i++) result = value_equals(&v, &c->values[i]);
    break;
  case HITL_COND_EXISTS: result = present; break;
  case HITL_COND_REGEX:
    if (v.type == HITL_VALUE_STRING) {
      rc = hitl__regex_match(c->regex, v.string, v.length, &limit);
      if (rc < 0) return rc;
      result = rc == HITL_REGEX_MATCH;
    }
    break;
  default: break;
  }
  *holds = limit ? TRI_UNKNOWN : result ? TRI_TRUE : TRI_FALSE;
  trace_leaf(e, c, present ? &v : NULL, NULL, *holds, limit);
  return 0;
}

static int eval_cond(eval_ctx *e, const hitl_cond *c, tri *holds) {
  const hitl_policy_input *in = e->in;
  char actual[32];
  switch (c->op) {
  case HITL_COND_ALL:
  case HITL_COND_ANY: {
    /* Kleene's logic: a child that decides the group ends it even after an undecided one. */
    tri decides = c->op == HITL_COND_ANY ? TRI_TRUE : TRI_FALSE;
    bool unknown = false;
    for (size_t i = 0; i < c->n_children; i++) {
      tri child;
      int rc = eval_cond(e, c->children[i], &child);
      if (rc < 0) return rc;
      if (child == decides) {
        *holds = decides;
        return 0;
      }
      unknown = unknown || child == TRI_UNKNOWN;
    }
    *holds = unknown ? TRI_UNKNOWN : decides == TRI_TRUE ? TRI_FALSE : TRI_TRUE;
    return 0;
  }
  case HITL_COND_NOT: {
    tri child;
    int rc = eval_cond(e, c->children[0], &child);
    if (rc < 0) return rc;
    *holds = child == TRI_UNKNOWN ? TRI_UNKNOWN : child == TRI_TRUE ? TRI_FALSE : TRI_TRUE;
    return 0;
  }
  case HITL_COND_CONFIDENCE_BELOW:
  case HITL_COND_CONFIDENCE_AT_LEAST:
    if (!in->has_confidence) {
      /* Missing confidence is treated as low: the task goes to a person rather than through. */
      *holds = c->op == HITL_COND_CONFIDENCE_BELOW ? TRI_TRUE : TRI_FALSE;
      trace_leaf(e, c, NULL, NULL, *holds, NULL);
      return 0;
    }
    *holds = (c->op == HITL_COND_CONFIDENCE_BELOW ? in->confidence < c->number
                                                  : in->confidence >= c->number)
                 ? TRI_TRUE
                 : TRI_FALSE;
    hitl__policy_format_number(in->confidence, actual);
    trace_leaf(e, c, NULL, actual, *holds, NULL);
    return 0;
  case HITL_COND_SAMPLE_PERCENT: {
    const char *key = in->sample_key ? in->sample_key : "";
    hitl_buf_reset(&e->scratch);
    hitl_buf_append(&e->scratch, e->rule->sample_prefix, e->rule->sample_prefix_len);
    hitl_buf_puts(&e->scratch, key);
    uint32_t bucket = hitl_hash_bucket(e->scratch.data, e->scratch.len);
    *holds = bucket < c->sample_below ? TRI_TRUE : TRI_FALSE;
    hitl__policy_format_number(bucket / 100.0, actual); /* The task's place on the 0..100 scale. */
    trace_leaf(e, c, NULL, actual, *holds, NULL);
    return 0;
  }
  case HITL_COND_CALIBRATED: eval_calibrated(e, c, holds); return 0;
  case HITL_COND_SET_SIZE_ABOVE:
  case HITL_COND_SET_SIZE_AT_MOST:
    if (!in->has_prediction_set) {
      *holds = TRI_FALSE;
      trace_leaf(e, c, NULL, NULL, *holds, NULL);
      return 0;
    }
    *holds = (c->op == HITL_COND_SET_SIZE_ABOVE ? in->prediction_set_size > c->number
                                                : in->prediction_set_size <= c->number)
                 ? TRI_TRUE
                 : TRI_FALSE;
    snprintf(actual, sizeof actual, "%d", in->prediction_set_size);
    trace_leaf(e, c, NULL, actual, *holds, NULL);
    return 0;
  default: return eval_path_leaf(e, c, holds);
  }
}

int hitl_policy_evaluate(const hitl_policy *p, const hitl_policy_input *in, hitl_route *out) {
  eval_ctx e = {.in = in, .trace = HITL_BUF_INIT, .scratch = HITL_BUF_INIT};
  hitl_buf json = HITL_BUF_INIT;
  const policy_rule *fired = NULL;
  int fired_index = -1;
  bool undecided = false;
  int rc = 0;
  memset(out, 0, sizeof *out);
  out->rule_index = -1;
  out->action = HITL_ACTION_REVIEW;
  if (in->calib) in->calib->fired = false;

  for (size_t i = 0; p && i < p->n_rules; i++) {
    const policy_rule *r = &p->rules[i];
    tri holds = TRI_TRUE;
    e.rule = r;
    e.calibrated = false;
    if (r->when) {
      rc = eval_cond(&e, r->when, &holds);
      if (rc < 0) goto cleanup;
    }
    if (holds != TRI_FALSE) {
      /* An undecided rule might fire or not, and so might every later one: a person decides. */
      fired = r;
      fired_index = (int)i;
      undecided = holds == TRI_UNKNOWN;
      break;
    }
  }
  hitl_action action = fired && !undecided ? fired->action : HITL_ACTION_REVIEW;
  /* An undecided rule keeps its role and priority only when it sends to review anyway. */
  bool keep = fired && (!undecided || fired->action == HITL_ACTION_REVIEW);

  hitl_buf_puts(&json, "{\"rule\":");
  hitl_buf_json_cstr(&json, fired ? fired->name : NULL);
  hitl_buf_puts(&json, ",\"action\":\"");
  hitl_buf_puts(&json, hitl_action_name(action));
  hitl_buf_puts(&json, "\",\"role\":");
  hitl_buf_json_cstr(&json, keep ? fired->role : NULL);
  hitl_buf_puts(&json, ",\"priority\":");
  if (keep && fired->has_priority)
    hitl_buf_printf(&json, "%d", fired->priority);
  else
    hitl_buf_puts(&json, "null");
  if (undecided) hitl_buf_puts(&json, ",\"undecided\":true");
  hitl_buf_puts(&json, ",\"trace\":[");
  hitl_buf_append(&json, e.trace.data, e.trace.len);
  hitl_buf_putc(&json, ']');
  if (e.n_omitted) hitl_buf_printf(&json, ",\"trace_omitted\":%zu", e.n_omitted);
  hitl_buf_putc(&json, '}');

  out->json = hitl_buf_detach(&json);
  if (fired) {
    out->rule_index = fired_index;
    out->rule_name = hitl_xstrdup(fired->name);
    out->action = action;
    out->undecided = undecided;
    out->calibrated = e.calibrated && !undecided;
    if (in->calib) in->calib->fired = out->calibrated;
    if (keep) {
      out->role = hitl_xstrdup(fired->role);
      out->has_priority = fired->has_priority;
      out->priority = fired->priority;
    }
  }

cleanup:
  hitl_buf_free(&json);
  hitl_buf_free(&e.trace);
  hitl_buf_free(&e.scratch);
  return rc;
}
