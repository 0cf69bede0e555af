/* SPDX-License-Identifier: MIT */
/* The routing policy engine: a compiled rule list and its evaluation against one task. */
#include "core/policy.h"

#include <math.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  regex_t regex;        /* For REGEX, compiled once here. */
  bool has_regex;
  char *expected;       /* The "expected" of trace entries, as JSON text. */
  char *trace_head;     /* '{"rule":..,"op":..,"path":..,"actual":' made when the rule is added. */
  size_t trace_head_len;
  char *trace_tail;     /* ',"expected":..,"result":' likewise. */
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

/* Returns the character after the bracket expression that starts at p ('['), or the end of the
 * string when it is not closed (regcomp then refuses the pattern). */
static const char *skip_bracket(const char *p) {
  p++;
  if (*p == '^') p++;
  if (*p == ']') p++; /* A ']' that comes first is a member, not the end. */
  while (*p && *p != ']') {
    if (p[0] == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
      char kind = p[1]; /* "[:alpha:]", "[.a.]", "[=e=]" may hold a ']'. */
      p += 2;
      while (*p && !(p[0] == kind && p[1] == ']')) p++;
      if (*p) p += 2;
    } else {
      p++;
    }
  }
  return *p ? p + 1 : p;
}

/* Reads the interval ("{m}", "{m,}", "{,n}", "{m,n}") at p. Returns the copies of the repeated
 * atom that regcomp makes (at least 1) and moves *p past it, or returns 0 when p holds no
 * interval. Counts saturate: any count past the limit is refused anyway. */
static size_t interval_copies(const char **p) {
  const char *q = *p + 1;
  size_t m = 0, n = 0;
  bool has_m = false, comma = false, has_n = false;
  for (; *q >= '0' && *q <= '9'; q++, has_m = true)
    if (m <= HITL_POLICY_REGEX_MAX_PARTS) m = m * 10 + (size_t)(*q - '0');
  if (*q == ',') {
    comma = true;
    for (q++; *q >= '0' && *q <= '9'; q++, has_n = true)
      if (n <= HITL_POLICY_REGEX_MAX_PARTS) n = n * 10 + (size_t)(*q - '0');
  }
  if (*q != '}' || (!has_m && !has_n)) return 0;
  *p = q + 1;
  size_t copies = has_n ? (n > m ? n : m) : comma ? m + 1 : m;
  return copies ? copies : 1;
}

/* Refuses a pattern that would be costly to compile or to match: glibc's regcomp makes a copy of
 * a repeated atom per repetition, so stacked repetitions ("a+++++") grow it exponentially;
 * back-references make matching exponential; and deeply nested groups exhaust its stack. Counts
 * the parts as hitl__cond_regex describes. Returns 0, or HITL_EVALIDATION with msg set. */
static int regex_check(const char *pattern, char *msg, size_t msg_size) {
  size_t sum[HITL_POLICY_REGEX_MAX_GROUPS + 1] = {0};  /* Parts so far in each open group. */
  size_t last[HITL_POLICY_REGEX_MAX_GROUPS + 1] = {0}; /* Parts of its latest atom; 0: none. */
  int depth = 0;
  const char *p = pattern;
  while (*p) {
    size_t atom = 1, copies = 0; /* What p holds: an atom of that many parts, or a repetition. */
    if (((unsigned char)*p & 0xC0) == 0x80) { /* UTF-8 continuation: part of the character. */
      p++;
      continue;
    }
    switch (*p) {
    case '\\':
      if (p[1] >= '1' && p[1] <= '9') {
        snprintf(msg, msg_size, "back-references (\\%c) are not supported", p[1]);
        return HITL_EVALIDATION;
      }
      p += p[1] ? 2 : 1;
      break;
    case '[': p = skip_bracket(p); break;
    case '(':
      if (depth == HITL_POLICY_REGEX_MAX_GROUPS) {
        snprintf(msg, msg_size, "groups are nested more than %d deep", HITL_POLICY_REGEX_MAX_GROUPS);
        return HITL_EVALIDATION;
      }
      depth++;
      sum[depth] = last[depth] = 0;
      p++;
      continue;
    case ')':
      if (depth > 0) atom = sum[depth--] + 1;
      p++;
      break;
    case '|':
      last[depth] = 0;
      p++;
      continue;
    case '*':
    case '?':
      copies = 1;
      p++;
      break;
    case '+':
      copies = 2; /* regcomp writes "a+" as "aa*". */
      p++;
      break;
    case '{':
      if ((copies = interval_copies(&p)) == 0) p++;
      break;
    default: p++; break;
    }
    if (copies && last[depth]) {
      sum[depth] -= last[depth];
      last[depth] *= copies;
      sum[depth] += last[depth];
    } else { /* A repetition with nothing to repeat is a character, or an error for regcomp. */
      last[depth] = atom;
      sum[depth] += atom;
    }
    if (sum[depth] > HITL_POLICY_REGEX_MAX_PARTS) {
      snprintf(msg, msg_size, "its repetitions expand it to more than %d parts; lower the counts "
                              "or shorten it", HITL_POLICY_REGEX_MAX_PARTS);
      return HITL_EVALIDATION;
    }
  }
  return 0;
}

int hitl__cond_regex(const char *path, const char *pattern, hitl_cond **out, char *msg,
                     size_t msg_size) {
  char scratch[1];
  if (msg == NULL || msg_size == 0) {
    msg = scratch;
    msg_size = sizeof scratch;
  }
  *out = NULL;
  if (regex_check(pattern, msg, msg_size) < 0) return HITL_EVALIDATION;
  hitl_cond *c = cond_new(HITL_COND_REGEX);
  int rc = regcomp(&c->regex, pattern, REG_EXTENDED | REG_NOSUB);
  if (rc != 0) {
    regerror(rc, &c->regex, msg, msg_size);
    hitl__cond_free(c);
    return HITL_EVALIDATION;
  }
  c->has_regex = true;
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
  if (c->has_regex) regfree(&c->regex);
  free(c->path);
  free(c->expected);
  free(c->trace_head);
  free(c->trace_tail);
  free(c);
}

/* Prepares the fixed parts of the trace entries of every leaf under c, which belongs to the rule
 * called name, so that evaluation only copies bytes. */
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
  hitl_buf_puts(&b, ",\"actual\":");
  c->trace_head_len = b.len;
  c->trace_head = hitl_buf_detach(&b);
  hitl_buf_puts(&b, ",\"expected\":");
  hitl_buf_puts(&b, c->expected);
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
  if (when) prepare_trace(when, name);
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

typedef struct eval_ctx {
  const hitl_policy_input *in;
  const policy_rule *rule; /* The rule being tried. */
  hitl_buf trace;          /* Entries so far, comma-separated, without the brackets. */
  size_t n_entries;
  hitl_buf scratch;        /* Reused for sampling keys. */
} eval_ctx;

/* Appends one trace entry; actual is the JSON text of the value, or NULL when it is missing. */
static void trace_leaf(eval_ctx *e, const hitl_cond *c, const char *actual, bool result) {
  if (e->n_entries++) hitl_buf_putc(&e->trace, ',');
  hitl_buf_append(&e->trace, c->trace_head, c->trace_head_len);
  if (actual)
    hitl_buf_puts(&e->trace, actual);
  else
    hitl_buf_puts(&e->trace, "null,\"missing\":true");
  hitl_buf_append(&e->trace, c->trace_tail, c->trace_tail_len);
  hitl_buf_puts(&e->trace, result ? "true}" : "false}");
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

/* Matches re against the n bytes of s. Returns 1 on a match, 0 otherwise, or HITL_EUNAVAILABLE
 * when the copy cannot be allocated (the string's size comes from a client). */
static int regex_match(const regex_t *re, const char *s, size_t n) {
  char small[256];
  char *copy = small;
  if (n >= sizeof small) {
    copy = malloc(n + 1);
    if (copy == NULL) return HITL_EUNAVAILABLE;
  }
  if (n) memcpy(copy, s, n);
  copy[n] = '\0';
#ifdef REG_STARTEND
  /* Lets a string with an embedded NUL byte be matched over its whole length. */
  regmatch_t range[1] = {{.rm_so = 0, .rm_eo = (regoff_t)n}};
  int rc = regexec(re, copy, 1, range, REG_STARTEND);
#else
  int rc = regexec(re, copy, 0, NULL, 0);
#endif
  if (copy != small) free(copy);
  return rc == 0 ? 1 : 0;
}

/* Evaluates a leaf that looks into the task. */
static int eval_path_leaf(eval_ctx *e, const hitl_cond *c, bool *holds) {
  hitl_value v;
  memset(&v, 0, sizeof v);
  v.type = HITL_VALUE_MISSING;
  int rc = e->in->lookup(e->in->ctx, c->path, &v);
  if (rc < 0) return rc;
  bool present = v.type != HITL_VALUE_MISSING;
  bool is_number = v.type == HITL_VALUE_NUMBER;
  bool result = false;
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
      rc = regex_match(&c->regex, v.string, v.length);
      if (rc < 0) return rc;
      result = rc == 1;
    }
    break;
  default: break;
  }
  trace_leaf(e, c, present ? (v.json ? v.json : "null") : NULL, result);
  *holds = result;
  return 0;
}

static int eval_cond(eval_ctx *e, const hitl_cond *c, bool *holds) {
  const hitl_policy_input *in = e->in;
  char actual[32];
  switch (c->op) {
  case HITL_COND_ALL:
  case HITL_COND_ANY: {
    bool want = c->op == HITL_COND_ANY; /* The child result that decides the group. */
    for (size_t i = 0; i < c->n_children; i++) {
      bool child;
      int rc = eval_cond(e, c->children[i], &child);
      if (rc < 0) return rc;
      if (child == want) {
        *holds = want;
        return 0;
      }
    }
    *holds = !want;
    return 0;
  }
  case HITL_COND_NOT: {
    bool child;
    int rc = eval_cond(e, c->children[0], &child);
    if (rc < 0) return rc;
    *holds = !child;
    return 0;
  }
  case HITL_COND_CONFIDENCE_BELOW:
  case HITL_COND_CONFIDENCE_AT_LEAST:
    if (!in->has_confidence) {
      /* Missing confidence is treated as low: the task goes to a person rather than through. */
      *holds = c->op == HITL_COND_CONFIDENCE_BELOW;
      trace_leaf(e, c, NULL, *holds);
      return 0;
    }
    *holds = c->op == HITL_COND_CONFIDENCE_BELOW ? in->confidence < c->number
                                                 : in->confidence >= c->number;
    format_number(in->confidence, actual);
    trace_leaf(e, c, actual, *holds);
    return 0;
  case HITL_COND_SAMPLE_PERCENT: {
    const char *key = in->sample_key ? in->sample_key : "";
    hitl_buf_reset(&e->scratch);
    hitl_buf_append(&e->scratch, e->rule->sample_prefix, e->rule->sample_prefix_len);
    hitl_buf_puts(&e->scratch, key);
    uint32_t bucket = hitl_hash_bucket(e->scratch.data, e->scratch.len);
    *holds = bucket < c->sample_below;
    format_number(bucket / 100.0, actual); /* The task's place on the 0..100 scale. */
    trace_leaf(e, c, actual, *holds);
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
  int rc = 0;
  memset(out, 0, sizeof *out);
  out->rule_index = -1;
  out->action = HITL_ACTION_REVIEW;

  for (size_t i = 0; p && i < p->n_rules; i++) {
    const policy_rule *r = &p->rules[i];
    bool holds = true;
    e.rule = r;
    if (r->when) {
      rc = eval_cond(&e, r->when, &holds);
      if (rc < 0) goto cleanup;
    }
    if (holds) {
      fired = r;
      fired_index = (int)i;
      break;
    }
  }

  hitl_buf_puts(&json, "{\"rule\":");
  hitl_buf_json_cstr(&json, fired ? fired->name : NULL);
  hitl_buf_puts(&json, ",\"action\":\"");
  hitl_buf_puts(&json, hitl_action_name(fired ? fired->action : HITL_ACTION_REVIEW));
  hitl_buf_puts(&json, "\",\"role\":");
  hitl_buf_json_cstr(&json, fired ? fired->role : NULL);
  hitl_buf_puts(&json, ",\"priority\":");
  if (fired && fired->has_priority)
    hitl_buf_printf(&json, "%d", fired->priority);
  else
    hitl_buf_puts(&json, "null");
  hitl_buf_puts(&json, ",\"trace\":[");
  hitl_buf_append(&json, e.trace.data, e.trace.len);
  hitl_buf_puts(&json, "]}");

  out->json = hitl_buf_detach(&json);
  if (fired) {
    out->rule_index = fired_index;
    out->rule_name = hitl_xstrdup(fired->name);
    out->action = fired->action;
    out->role = hitl_xstrdup(fired->role);
    out->has_priority = fired->has_priority;
    out->priority = fired->priority;
  }

cleanup:
  hitl_buf_free(&json);
  hitl_buf_free(&e.trace);
  hitl_buf_free(&e.scratch);
  return rc;
}
