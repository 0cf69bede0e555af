/* SPDX-License-Identifier: MIT */
/* Routing policy: ordered rules whose conditions look into a task through JSON pointers. */
#ifndef HITL_CORE_POLICY_H
#define HITL_CORE_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/calibration.h"
#include "hitl/error.h"

typedef enum hitl_action { HITL_ACTION_ACCEPT, HITL_ACTION_REJECT, HITL_ACTION_REVIEW } hitl_action;

/* A value found at a JSON pointer in the task, as the policy sees it. */
typedef enum hitl_value_type {
  HITL_VALUE_MISSING, /* Nothing at that pointer. */
  HITL_VALUE_NULL,
  HITL_VALUE_BOOL,
  HITL_VALUE_NUMBER,
  HITL_VALUE_STRING,
  HITL_VALUE_ARRAY,
  HITL_VALUE_OBJECT,
} hitl_value_type;

typedef struct hitl_value {
  hitl_value_type type;
  bool boolean;        /* For BOOL. */
  double number;       /* For NUMBER. */
  const char *string;  /* For STRING: UTF-8, not NUL-terminated inside; length bytes. */
  size_t length;
  const char *json;    /* For every present type but STRING (may be NULL there): compact JSON
                          text with sorted keys, NUL-terminated. Used to compare arrays and
                          objects and to write the trace. */
} hitl_value;

/* Looks up an RFC 6901 JSON pointer ("/output/amount") in the task document, whose top level has
 * "input", "output", "context", "metadata", "confidence", "probabilities", "priority",
 * "model_version", "external_id", ... Fills *out; pointers in it stay valid until the evaluation
 * returns. Returns 0, or a negative HITL_E* code to abort the evaluation. */
typedef int (*hitl_lookup_fn)(void *ctx, const char *pointer, hitl_value *out);

/* What the queue's calibration says about one task, for the calibrated leaf: looked up once per
 * task before the evaluation (under the queue's lock) and copied, so that the evaluation reads
 * nothing shared. */
typedef struct hitl_policy_calib {
  double score;                /* The task's score (confidence, else its largest probability);
                                  NaN when it has none. */
  hitl_calib_route route;      /* hitl_calibration_route's answer for the task, */
  hitl_calib_tag tag;          /* and the routing tag it gave. */
  hitl_calib_certificate cert; /* The certificate in force when it was routed. */
  bool fired;                  /* Set by the evaluation: the rule that fired holds a calibrated
                                  leaf that held. */
  int set_size;                /* The conformal prediction set given to the task: its size, -1
                                  when the queue asks for sets but had none to give yet, -2 when
                                  it asks for none or the task has no probabilities. */
} hitl_policy_calib;

/* What the policy is evaluated against. */
typedef struct hitl_policy_input {
  hitl_lookup_fn lookup;
  void *ctx;
  const char *sample_key; /* Fixes sample_percent for this task: same key, same outcome. */
  bool has_confidence;
  double confidence;
  hitl_policy_calib *calib; /* NULL: the calibrated leaf holds for nothing. Only its fired
                               member is written. */
  bool has_prediction_set;  /* The task has a conformal prediction set */
  int prediction_set_size;  /* of this many labels. */
} hitl_policy_input;

/* The outcome of routing one task. Strings are owned (hitl_route_clear frees them). */
/* Bytes of a value (the found value, the expected one) a trace entry holds: a longer value is
 * cut on a character boundary and its whole length given ("actual_length"). */
#define HITL_POLICY_TRACE_VALUE_MAX 200
/* Bytes of trace a route holds: the entries that would go past it are counted
 * ("trace_omitted"), not written. */
#define HITL_POLICY_TRACE_MAX (64 * 1024)

typedef struct hitl_route {
  int rule_index;     /* Index of the rule that fired or was undecided; -1 when none (review). */
  char *rule_name;    /* NULL when none fired. */
  bool undecided;     /* A limit left the rule's condition undecided: action is review. */
  hitl_action action;
  char *role;         /* Role the rule requires for review, or NULL. */
  bool has_priority;
  int priority;       /* The rule's priority when has_priority. */
  bool calibrated;    /* A calibrated leaf held in the rule that fired. */
  char *json;         /* The whole route as JSON: {"rule":..,"action":..,"role":..,"priority":..,
                         "undecided":true (when so), "trace":[{"rule":..,"op":..,"path":..,
                         "actual":..,"expected":..,"result":..}], "trace_omitted":N (when so)} */
} hitl_route;

typedef struct hitl_policy hitl_policy; /* A compiled policy; immutable, shareable between threads. */

/* Routes a task: tries the rules in order, the first whose condition holds decides. A rule whose
 * condition a regex limit left undecided ends the evaluation too, with action review. The work
 * is bounded (see core/policy_regex.h) but may take a while: run it where nothing waits on it.
 * Fills *out. Returns 0, or the error a lookup returned (HITL_EUNAVAILABLE: out of memory). */
int hitl_policy_evaluate(const hitl_policy *p, const hitl_policy_input *in, hitl_route *out);
/* Policies of at most this many rules and condition nodes, none of them a regex, are quick. */
#define HITL_POLICY_QUICK_COST 64
/* True when evaluating p costs about as little as reading the task: no regex and at most
 * HITL_POLICY_QUICK_COST rules and condition nodes (about a microsecond each). Such a policy may
 * run on a thread that others wait on; any other runs on a policy worker. */
bool hitl_policy_is_quick(const hitl_policy *p);
void hitl_policy_free(hitl_policy *p);
/* Copies the parameters of p's calibrated leaf (a policy holds at most one) to *out and returns
 * true; false when p has none. */
bool hitl_policy_calibration(const hitl_policy *p, hitl_calib_params *out);
void hitl_route_clear(hitl_route *r);
/* "accept", "reject", "review". */
const char *hitl_action_name(hitl_action a);

#endif
