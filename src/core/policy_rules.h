/* SPDX-License-Identifier: MIT */
/* Building a compiled policy: the condition tree and rule list that a decoder fills in. */
#ifndef HITL_CORE_POLICY_RULES_H
#define HITL_CORE_POLICY_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "core/policy.h"
#include "core/policy_regex.h"

/* The operators of the policy language. */
typedef enum hitl_cond_op {
  HITL_COND_ALL,                 /* Every child holds (short-circuits on the first false). */
  HITL_COND_ANY,                 /* Some child holds (short-circuits on the first true). */
  HITL_COND_NOT,                 /* The single child does not hold. */
  HITL_COND_CONFIDENCE_BELOW,    /* confidence < x; holds when the task has no confidence. */
  HITL_COND_CONFIDENCE_AT_LEAST, /* confidence >= x; false when the task has no confidence. */
  HITL_COND_EQ,                  /* The value at path equals the constant. */
  HITL_COND_NE,                  /* Not EQ; holds when nothing is at path. */
  HITL_COND_GT,                  /* Numeric comparisons: false unless the value is a number. */
  HITL_COND_LT,
  HITL_COND_GTE,
  HITL_COND_LTE,
  HITL_COND_IN,                  /* The value at path equals one of the constants. */
  HITL_COND_EXISTS,              /* Something (even null) is at path. */
  HITL_COND_REGEX,               /* The value at path is a string the pattern matches; undecided
                                    when a limit stops the matcher. */
  HITL_COND_SAMPLE_PERCENT,      /* Deterministic sample: bucket(rule name, sample key) < x%. */
  HITL_COND_CALIBRATED,          /* The task's score is at or above the queue's certified
                                    threshold and the audit draw did not pick it (input calib). */
  HITL_COND_SET_SIZE_ABOVE,      /* The task's prediction set has more than x labels; false
                                    when it has no set. */
  HITL_COND_SET_SIZE_AT_MOST,    /* It has at most x labels; false when it has no set. */
} hitl_cond_op;

#define HITL_POLICY_MAX_RULES 1000 /* Rules one policy may hold. */
#define HITL_POLICY_MAX_DEPTH 32   /* Nesting levels of conditions; the rule's "when" is level 1. */
#define HITL_POLICY_PRIORITY_MAX 1000000 /* A rule's priority lies in [-MAX, MAX]. */

typedef struct hitl_cond hitl_cond; /* One node of a condition tree. */

/* The language name of op ("confidence_below"), or NULL for an unknown value. */
const char *hitl__cond_op_name(hitl_cond_op op);
/* The operator called name, or -1 when name is no operator. */
int hitl__cond_op_parse(const char *name);

/* The constructors below trust their arguments: the decoder validated them (a path is a valid
 * JSON pointer, a threshold is in range). Each returns a new node owned by the caller until it is
 * handed to a parent or a rule. */

/* An empty ALL or ANY node; add children with hitl__cond_add. */
hitl_cond *hitl__cond_group(hitl_cond_op op);
/* Appends child (ownership passes to group) to an ALL or ANY node. */
void hitl__cond_add(hitl_cond *group, hitl_cond *child);
/* A NOT node owning child. */
hitl_cond *hitl__cond_not(hitl_cond *child);
/* CONFIDENCE_BELOW / CONFIDENCE_AT_LEAST (x in [0, 1]), SAMPLE_PERCENT (x in [0, 100]) or
 * SET_SIZE_ABOVE / SET_SIZE_AT_MOST (x a whole number >= 0). */
hitl_cond *hitl__cond_threshold(hitl_cond_op op, double x);
/* CALIBRATED with parameters *p (checked with hitl_calibration_params_check). */
hitl_cond *hitl__cond_calibrated(const hitl_calib_params *p);
/* EQ, NE (any value) or GT, LT, GTE, LTE (value->type NUMBER). path and value are copied; value's
 * json text is needed only for ARRAY and OBJECT (compact JSON with sorted keys). */
hitl_cond *hitl__cond_compare(hitl_cond_op op, const char *path, const hitl_value *value);
/* IN over n values (copied, as for hitl__cond_compare). */
hitl_cond *hitl__cond_in(const char *path, const hitl_value *values, size_t n);
/* EXISTS at path (copied). */
hitl_cond *hitl__cond_exists(const char *path);
/* REGEX at path: compiles pattern (a POSIX extended expression) once, with
 * hitl__regex_compile, which says what it refuses. On success sets *out and returns 0; otherwise
 * returns HITL_EVALIDATION and writes the reason into msg. */
int hitl__cond_regex(const char *path, const char *pattern, hitl_cond **out, char *msg,
                     size_t msg_size);
/* Frees a node and its children; NULL is a no-op. */
void hitl__cond_free(hitl_cond *c);

/* A policy with no rules (every task goes to review). Free with hitl_policy_free. */
hitl_policy *hitl__policy_new(void);
/* The number of rules in p. */
size_t hitl__policy_count(const hitl_policy *p);
/* The index of the rule called name, or -1. */
int hitl__policy_find(const hitl_policy *p, const char *name);
/* Appends a rule. name must be non-empty and not yet used in p (check with hitl__policy_find);
 * name and role (NULL: none) are copied; when (NULL: always holds) passes to p. Returns the
 * rule's index. */
int hitl__policy_add(hitl_policy *p, const char *name, hitl_cond *when, hitl_action action,
                     const char *role, bool has_priority, int priority);

#endif
