/* SPDX-License-Identifier: MIT */
/* The compiled policy's structures, shared by its building (policy.c) and its evaluation
 * (policy_eval.c). */
#ifndef HITL_CORE_POLICY_INTERNAL_H
#define HITL_CORE_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/policy.h"
#include "core/policy_regex.h"
#include "core/policy_rules.h"
#include "util/buf.h"

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
  hitl_calib_params *calib; /* For CALIBRATED. */
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

/* Writes x in out as the shortest of %.15g..%.17g that reads back as x, or "null" when it is not
 * finite (policy_eval.c). */
void hitl__policy_format_number(double x, char out[32]);
/* Append ',"key":' and a value to b, capped at HITL_POLICY_TRACE_VALUE_MAX bytes (then followed
 * by ',"key_length":n'): the string s of n bytes as a JSON string, or the JSON text json of n
 * bytes (policy_eval.c). */
void hitl__policy_put_capped_string(hitl_buf *b, const char *key, const char *s, size_t n);
void hitl__policy_put_capped_json(hitl_buf *b, const char *key, const char *json, size_t n);

#endif
