/* SPDX-License-Identifier: MIT */
/* The routing policy engine: a compiled rule list and its evaluation against one task. */
#include "core/policy.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/policy_regex.h"
#include "core/policy_rules.h"
#include "util/buf.h"
#include "util/id.h"
#include "util/xmalloc.h"

/* A comparison constant: the data of a hitl_value, owned. */
typedef struct policy_const {
  hitl_value_type type;
  bool boolean;
  double number;
  char *string; /* For STRING: length bytes plus a NUL. */
  size_t length;
  char *json;   /* Compact JSON text with sorted keys, for every type. */
} policy_const;

struct hitl_cond {
  hitl_cond_op op;
  hitl_cond **children; /* For ALL, ANY (n_children >= 0) and NOT (exactly one). */
  size_t n_children;
  size_t cap_children;
  char *path;           /* JSON pointer for the leaves that look into the task, else NULL. */
  double number;        /* Threshold, percent, or the constant of GT, LT, GTE, LTE. */
  uint32_t sample_below; /* For SAMPLE_PERCENT: buckets below this are sampled. */
  policy_const *values; /* The constant of EQ, NE (one) or the list of IN. */
  size_t n_values;
  hitl_regex *regex;    /* For REGEX, compiled once here. */
  char *pattern;        /* For REGEX: the pattern as written. */
  char *expected;       /* The "expected" of trace entries, as JSON text, whole. */
  char *trace_head;     /* '{"rule":..,"op":..,"path":..' made when the rule is added. */
  size_t trace_head_len;
  char *trace_tail;     /* ',"expected":..,"result":' likewise, with expected capped. */
  size_t trace_tail_len;
};

typedef struct policy_rule {
  char *name;
  char *sample_prefix;  /* name + "\n": what sample_percent hashes before the task's key. */
  size_t sample_prefix_len;
  hitl_cond *when;      /* NULL: always holds. */
  hitl_action action;
  char *role;           /* NULL: none. */
  bool has_priority;
  int priority;
} policy_rule;

struct hitl_policy {
  policy_rule *rules;
  size_t n_rules;
  size_t cap_rules;
  size_t cost; /* Condition nodes in all rules, a regex counting past HITL_POLICY_QUICK_COST. */
};

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

/* Writes the shortest of %.15g..%.17g that reads back as x: 0.8 stays "0.8" in traces. */
static void format_number(double x, char out[32]) {
  if (!isfinite(x)) {
    memcpy(out, "null", 5);
    return;
  }
  for (int precision = 15; precision <= 17; precision++) {
    snprintf(out, 32, "%.*g", precision, x);
    if (strtod(out, NULL) == x) return;
  }
}

static void buf_number(hitl_buf *b, double x) {
  char text[32];
  format_number(x, text);
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
  format_number(x, text);
  c->expected = hitl_xstrdup(text);
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
  free(c->path);
  free(c->expected);
  free(c->trace_head);
  free(c->trace_tail);
  free(c);
}

/* The largest length up to max that ends on a UTF-8 character boundary of the n bytes at s. */
static size_t utf8_prefix(const char *s, size_t n, size_t max) {
  if (n <= max) return n;
  while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
  return max;
}

/* Appends ',"key":' and the string s (n bytes) as a JSON string; past
 * HITL_POLICY_TRACE_VALUE_MAX bytes only its first bytes, then ',"key_length":n'. */
static void put_capped_string(hitl_buf *b, const char *key, const char *s, size_t n) {
  size_t keep = utf8_prefix(s, n, HITL_POLICY_TRACE_VALUE_MAX);
  hitl_buf_printf(b, ",\"%s\":", key);
  hitl_buf_json_string(b, s, keep);
  if (keep < n) hitl_buf_printf(b, ",\"%s_length\":%zu", key, n);
}

/* Appends ',"key":' and the JSON text json (n bytes); past HITL_POLICY_TRACE_VALUE_MAX bytes, a
 * JSON string holding its first bytes, then ',"key_length":n'. */
static void put_capped_json(hitl_buf *b, const char *key, const char *json, size_t n) {
  if (n <= HITL_POLICY_TRACE_VALUE_MAX) {
    hitl_buf_printf(b, ",\"%s\":", key);
    hitl_buf_append(b, json, n);
    return;
  }
  put_capped_string(b, key, json, n);
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
    put_capped_string(&b, "expected", c->pattern, strlen(c->pattern));
  else if ((c->op == HITL_COND_EQ || c->op == HITL_COND_NE) && c->values[0].type == HITL_VALUE_STRING)
    put_capped_string(&b, "expected", c->values[0].string, c->values[0].length);
  else
    put_capped_json(&b, "expected", c->expected, strlen(c->expected));
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

void hitl_route_clear(hitl_route *r) {
  if (r == NULL) return;
  free(r->rule_name);
  free(r->role);
  free(r->json);
  memset(r, 0, sizeof *r);
  r->rule_index = -1;
  r->action = HITL_ACTION_REVIEW;
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
} eval_ctx;

/* Appends one trace entry: the value found (v, or actual_json for the task's own numbers; both
 * NULL when it is missing), the result, and the limit that left it undecided (NULL: none). Past
 * HITL_POLICY_TRACE_MAX bytes of trace, entries are counted instead of written. */
static void trace_leaf(eval_ctx *e, const hitl_cond *c, const hitl_value *v, const char *actual_json,
                       tri result, const char *limit) {
  if (e->n_omitted) {
    e->n_omitted++;
    return;
  }
  size_t mark = e->trace.len;
  if (e->n_entries) hitl_buf_putc(&e->trace, ',');
  hitl_buf_append(&e->trace, c->trace_head, c->trace_head_len);
  if (v && v->type == HITL_VALUE_STRING)
    put_capped_string(&e->trace, "actual", v->string, v->length);
  else if (v && v->type != HITL_VALUE_MISSING && v->json)
    put_capped_json(&e->trace, "actual", v->json, strlen(v->json));
  else if (actual_json)
    put_capped_json(&e->trace, "actual", actual_json, strlen(actual_json));
  else
    hitl_buf_puts(&e->trace, ",\"actual\":null,\"missing\":true");
  hitl_buf_append(&e->trace, c->trace_tail, c->trace_tail_len);
  if (result == TRI_UNKNOWN) {
    hitl_buf_puts(&e->trace, "null,\"limit\":");
    hitl_buf_json_cstr(&e->trace, limit);
    hitl_buf_putc(&e->trace, '}');
  } else {
    hitl_buf_puts(&e->trace, result == TRI_TRUE ? "true}" : "false}");
  }
  if (e->trace.len > HITL_POLICY_TRACE_MAX) { /* Keep the trace a prefix of the evaluation. */
    e->trace.len = mark;
    e->trace.data[mark] = '\0';
    e->n_omitted = 1;
    return;
  }
  e->n_entries++;
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
    format_number(in->confidence, actual);
    trace_leaf(e, c, NULL, actual, *holds, NULL);
    return 0;
  case HITL_COND_SAMPLE_PERCENT: {
    const char *key = in->sample_key ? in->sample_key : "";
    hitl_buf_reset(&e->scratch);
    hitl_buf_append(&e->scratch, e->rule->sample_prefix, e->rule->sample_prefix_len);
    hitl_buf_puts(&e->scratch, key);
    uint32_t bucket = hitl_hash_bucket(e->scratch.data, e->scratch.len);
    *holds = bucket < c->sample_below ? TRI_TRUE : TRI_FALSE;
    format_number(bucket / 100.0, actual); /* The task's place on the 0..100 scale. */
    trace_leaf(e, c, NULL, actual, *holds, NULL);
    return 0;
  }
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

  for (size_t i = 0; p && i < p->n_rules; i++) {
    const policy_rule *r = &p->rules[i];
    tri holds = TRI_TRUE;
    e.rule = r;
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
