/* SPDX-License-Identifier: MIT */
/* The routing policy engine: building a compiled rule list (its evaluation against one task is in
 * policy_eval.c). */
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

static const char *const op_names[] = {
    [HITL_COND_ALL] = "all",
    [HITL_COND_ANY] = "any",
    [HITL_COND_NOT] = "not",
    [HITL_COND_CONFIDENCE_BELOW] = "confidence_below",
    [HITL_COND_CONFIDENCE_AT_LEAST] = "confidence_at_least",
    [HITL_COND_EQ] = "eq",
    [HITL_COND_NE] = "ne",
    [HITL_COND_GT] = "gt",
    [HITL_COND_LT] = "lt",
    [HITL_COND_GTE] = "gte",
    [HITL_COND_LTE] = "lte",
    [HITL_COND_IN] = "in",
    [HITL_COND_EXISTS] = "exists",
    [HITL_COND_REGEX] = "regex",
    [HITL_COND_SAMPLE_PERCENT] = "sample_percent",
    [HITL_COND_CALIBRATED] = "calibrated",
    [HITL_COND_SET_SIZE_ABOVE] = "prediction_set_size_above",
    [HITL_COND_SET_SIZE_AT_MOST] = "prediction_set_size_at_most",
};
#define N_OPS (sizeof op_names / sizeof op_names[0])

const char *hitl__cond_op_name(hitl_cond_op op) {
  return (unsigned)op < N_OPS ? op_names[op] : NULL;
}

int hitl__cond_op_parse(const char *name) {
  for (size_t i = 0; i < N_OPS; i++)
    if (strcmp(name, op_names[i]) == 0) return (int)i;
  return -1;
}

const char *hitl_action_name(hitl_action a) {
  switch (a) {
  case HITL_ACTION_ACCEPT: return "accept";
  case HITL_ACTION_REJECT: return "reject";
  case HITL_ACTION_REVIEW: return "review";
  }
  return "review";
}

static void buf_number(hitl_buf *b, double x) {
  char text[32];
  hitl__policy_format_number(x, text);
  hitl_buf_puts(b, text);
}

/* ---- Building ---------------------------------------------------------------------------- */

static hitl_cond *cond_new(hitl_cond_op op) {
  hitl_cond *c = hitl_xcalloc(1, sizeof *c);
  c->op = op;
  return c;
}

static void const_copy(policy_const *dst, const hitl_value *src) {
  hitl_buf json = HITL_BUF_INIT;
  memset(dst, 0, sizeof *dst);
  dst->type = src->type;
  switch (src->type) {
  case HITL_VALUE_NULL: hitl_buf_puts(&json, "null"); break;
  case HITL_VALUE_BOOL:
    dst->boolean = src->boolean;
    hitl_buf_puts(&json, src->boolean ? "true" : "false");
    break;
  case HITL_VALUE_NUMBER:
    dst->number = src->number;
    buf_number(&json, src->number);
    break;
  case HITL_VALUE_STRING:
    dst->string = hitl_xmalloc(src->length + 1);
    if (src->length) memcpy(dst->string, src->string, src->length);
    dst->string[src->length] = '\0';
    dst->length = src->length;
    hitl_buf_json_string(&json, src->string, src->length);
    break;
  case HITL_VALUE_ARRAY:
  case HITL_VALUE_OBJECT: hitl_buf_puts(&json, src->json ? src->json : "null"); break;
  case HITL_VALUE_MISSING: hitl_buf_puts(&json, "null"); break;
  }
  dst->json = hitl_buf_detach(&json);
}

hitl_cond *hitl__cond_group(hitl_cond_op op) { return cond_new(op); }

void hitl__cond_add(hitl_cond *group, hitl_cond *child) {
  if (group->n_children == group->cap_children) {
    group->cap_children = group->cap_children ? 2 * group->cap_children : 4;
    group->children =
        hitl_xrealloc(group->children, group->cap_children * sizeof *group->children);
  }
  group->children[group->n_children++] = child;
}

hitl_cond *hitl__cond_not(hitl_cond *child) {
  hitl_cond *c = cond_new(HITL_COND_NOT);
  hitl__cond_add(c, child);
  return c;
}

hitl_cond *hitl__cond_threshold(hitl_cond_op op, double x) {
  hitl_cond *c = cond_new(op);
  c->number = x;
  if (op == HITL_COND_SAMPLE_PERCENT) {
    /* bucket < x * 100 for an integer bucket is bucket < ceil(x * 100); the small slack keeps
     * 0.07 * 100 == 7.000000000000001 from sampling one bucket too many. */
    double limit = ceil(x * 100.0 - 1e-9);
    c->sample_below = limit <= 0 ? 0 : limit >= 10000 ? 10000 : (uint32_t)limit;
  }
  char text[32];
  hitl__policy_format_number(x, text);
  c->expected = hitl_xstrdup(text);
  return c;
}

hitl_cond *hitl__cond_calibrated(const hitl_calib_params *p) {
  hitl_cond *c = cond_new(HITL_COND_CALIBRATED);
  c->calib = hitl_xmalloc(sizeof *c->calib);
  *c->calib = *p;
  hitl_buf expected = HITL_BUF_INIT;
  hitl_buf_puts(&expected, "{\"max_error\":");
  buf_number(&expected, p->max_error);
  hitl_buf_puts(&expected, ",\"confidence\":");
  buf_number(&expected, p->confidence);
  hitl_buf_puts(&expected, ",\"audit_percent\":");
  buf_number(&expected, p->audit_percent);
  hitl_buf_putc(&expected, '}');
  c->expected = hitl_buf_detach(&expected);
  return c;
}

hitl_cond *hitl__cond_compare(hitl_cond_op op, const char *path, const hitl_value *value) {
  hitl_cond *c = cond_new(op);
  c->path = hitl_xstrdup(path);
  c->values = hitl_xcalloc(1, sizeof *c->values);
  c->n_values = 1;
  const_copy(&c->values[0], value);
  c->number = value->number;
  c->expected = hitl_xstrdup(c->values[0].json);
  return c;
}

hitl_cond *hitl__cond_in(const char *path, const hitl_value *values, size_t n) {
  hitl_cond *c = cond_new(HITL_COND_IN);
  hitl_buf expected = HITL_BUF_INIT;
  c->path = hitl_xstrdup(path);
  c->values = hitl_xcalloc(n ? n : 1, sizeof *c->values);
  c->n_values = n;
  hitl_buf_putc(&expected, '[');
  for (size_t i = 0; i < n; i++) {
    const_copy(&c->values[i], &values[i]);
    if (i) hitl_buf_putc(&expected, ',');
    hitl_buf_puts(&expected, c->values[i].json);
  }
  hitl_buf_putc(&expected, ']');
  c->expected = hitl_buf_detach(&expected);
  return c;
}

hitl_cond *hitl__cond_exists(const char *path) {
  hitl_cond *c = cond_new(HITL_COND_EXISTS);
  c->path = hitl_xstrdup(path);
  c->expected = hitl_xstrdup("true");
  return c;
}

int hitl__cond_regex(const char *path, const char *pattern, hitl_cond **out, char *msg,
                     size_t msg_size) {
  hitl_regex *re = NULL;
  *out = NULL;
  if (hitl__regex_compile(pattern, &re, msg, msg_size) < 0) return HITL_EVALIDATION;
  hitl_cond *c = cond_new(HITL_COND_REGEX);
  c->regex = re;
  c->pattern = hitl_xstrdup(pattern);
  c->path = hitl_xstrdup(path);
  hitl_buf expected = HITL_BUF_INIT;
  hitl_buf_json_cstr(&expected, pattern);
  c->expected = hitl_buf_detach(&expected);
  *out = c;
  return 0;
}

void hitl__cond_free(hitl_cond *c) {
  if (c == NULL) return;
  for (size_t i = 0; i < c->n_children; i++) hitl__cond_free(c->children[i]);
  free(c->children);
  for (size_t i = 0; i < c->n_values; i++) {
    free(c->values[i].string);
    free(c->values[i].json);
  }
  free(c->values);
  hitl__regex_free(c->regex);
  free(c->pattern);
  free(c->calib);
  free(c->path);
  free(c->expected);
  free(c->trace_head);
  free(c->trace_tail);
  free(c);
}

/* Prepares the fixed parts of the trace entries of every leaf under c, which belongs to the rule
 * called name, so that evaluation only copies bytes. */
/* What evaluating c may cost, in condition nodes: a regex scans up to its text limit, so it
 * alone makes a policy not quick. */
static size_t cond_cost(const hitl_cond *c) {
  if (c->op == HITL_COND_REGEX) return HITL_POLICY_QUICK_COST + 1;
  size_t cost = 1;
  for (size_t i = 0; i < c->n_children; i++) cost += cond_cost(c->children[i]);
  return cost;
}

bool hitl_policy_is_quick(const hitl_policy *p) { return p->cost <= HITL_POLICY_QUICK_COST; }

static void prepare_trace(hitl_cond *c, const char *name) {
  if (c->op == HITL_COND_ALL || c->op == HITL_COND_ANY || c->op == HITL_COND_NOT) {
    for (size_t i = 0; i < c->n_children; i++) prepare_trace(c->children[i], name);
    return;
  }
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"rule\":");
  hitl_buf_json_cstr(&b, name);
  hitl_buf_puts(&b, ",\"op\":");
  hitl_buf_json_cstr(&b, hitl__cond_op_name(c->op));
  hitl_buf_puts(&b, ",\"path\":");
  hitl_buf_json_cstr(&b, c->path);
  c->trace_head_len = b.len;
  c->trace_head = hitl_buf_detach(&b);
  if (c->op == HITL_COND_REGEX)
    hitl__policy_put_capped_string(&b, "expected", c->pattern, strlen(c->pattern));
  else if ((c->op == HITL_COND_EQ || c->op == HITL_COND_NE) && c->values[0].type == HITL_VALUE_STRING)
    hitl__policy_put_capped_string(&b, "expected", c->values[0].string, c->values[0].length);
  else
    hitl__policy_put_capped_json(&b, "expected", c->expected, strlen(c->expected));
  hitl_buf_puts(&b, ",\"result\":");
  c->trace_tail_len = b.len;
  c->trace_tail = hitl_buf_detach(&b);
}

hitl_policy *hitl__policy_new(void) { return hitl_xcalloc(1, sizeof(hitl_policy)); }

size_t hitl__policy_count(const hitl_policy *p) { return p ? p->n_rules : 0; }

int hitl__policy_find(const hitl_policy *p, const char *name) {
  for (size_t i = 0; p && i < p->n_rules; i++)
    if (strcmp(p->rules[i].name, name) == 0) return (int)i;
  return -1;
}

int hitl__policy_add(hitl_policy *p, const char *name, hitl_cond *when, hitl_action action,
                     const char *role, bool has_priority, int priority) {
  if (p->n_rules == p->cap_rules) {
    p->cap_rules = p->cap_rules ? 2 * p->cap_rules : 8;
    p->rules = hitl_xrealloc(p->rules, p->cap_rules * sizeof *p->rules);
  }
  policy_rule *r = &p->rules[p->n_rules];
  memset(r, 0, sizeof *r);
  r->name = hitl_xstrdup(name);
  hitl_buf prefix = HITL_BUF_INIT;
  hitl_buf_puts(&prefix, name);
  hitl_buf_putc(&prefix, '\n');
  r->sample_prefix_len = prefix.len;
  r->sample_prefix = hitl_buf_detach(&prefix);
  r->when = when;
  r->action = action;
  r->role = hitl_xstrdup(role);
  r->has_priority = has_priority;
  r->priority = has_priority ? priority : 0;
  if (when) {
    prepare_trace(when, name);
    p->cost += cond_cost(when);
  }
  p->cost++; /* The rule itself. */
  return (int)p->n_rules++;
}

void hitl_policy_free(hitl_policy *p) {
  if (p == NULL) return;
  for (size_t i = 0; i < p->n_rules; i++) {
    free(p->rules[i].name);
    free(p->rules[i].sample_prefix);
    free(p->rules[i].role);
    hitl__cond_free(p->rules[i].when);
  }
  free(p->rules);
  free(p);
}

/* The parameters of the first calibrated leaf under c, or NULL. */
static const hitl_calib_params *find_calibrated(const hitl_cond *c) {
  if (c == NULL) return NULL;
  if (c->op == HITL_COND_CALIBRATED) return c->calib;
  for (size_t i = 0; i < c->n_children; i++) {
    const hitl_calib_params *p = find_calibrated(c->children[i]);
    if (p) return p;
  }
  return NULL;
}

bool hitl_policy_calibration(const hitl_policy *p, hitl_calib_params *out) {
  for (size_t i = 0; p && i < p->n_rules; i++) {
    const hitl_calib_params *c = find_calibrated(p->rules[i].when);
    if (c) {
      *out = *c;
      return true;
    }
  }
  return false;
}

void hitl_route_clear(hitl_route *r) {
  if (r == NULL) return;
  free(r->rule_name);
  free(r->role);
  free(r->json);
  memset(r, 0, sizeof *r);
  r->rule_index = -1;
  r->action = HITL_ACTION_REVIEW;
}
