/* SPDX-License-Identifier: MIT */
/* A queue's configuration: schema (fields and questions), policy, assignment and SLA. */
#ifndef HITL_CORE_QUEUE_H
#define HITL_CORE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/policy.h"

typedef enum hitl_field_type {
  HITL_FIELD_TEXT, HITL_FIELD_MARKDOWN, HITL_FIELD_JSON, HITL_FIELD_IMAGE_URL, HITL_FIELD_DIFF,
} hitl_field_type;

typedef struct hitl_field {
  char *name;           /* Read from the task's input by this name. */
  hitl_field_type type;
} hitl_field;

typedef enum hitl_question_type {
  HITL_QUESTION_APPROVE,    /* Kinds approve, reject, modify (value: the corrected output). */
  HITL_QUESTION_LABEL,      /* Kind label, value one of labels. */
  HITL_QUESTION_LABELS,     /* Kind labels, value an array of distinct labels. */
  HITL_QUESTION_RATING,     /* Kind rating, value an integer 1..max. */
  HITL_QUESTION_PREFERENCE, /* Kind ranking, value an array ordering the candidates. */
  HITL_QUESTION_TEXT,       /* Kind text, value a string. */
  HITL_QUESTION_SPANS,      /* Kind spans, value [{"start","end","label"}] into field. */
} hitl_question_type;

typedef struct hitl_question {
  char *name;
  hitl_question_type type;
  char **labels;   /* For LABEL, LABELS, SPANS. */
  size_t n_labels;
  int max;         /* For RATING: 2..10. */
  char *field;     /* For SPANS: the field the spans index into. */
} hitl_question;

typedef enum hitl_consensus_method {
  HITL_CONSENSUS_FIRST, HITL_CONSENSUS_MAJORITY, HITL_CONSENSUS_UNANIMOUS,
} hitl_consensus_method;

typedef enum hitl_sla_action {
  HITL_SLA_ESCALATE, HITL_SLA_ACCEPT, HITL_SLA_REJECT, HITL_SLA_EXPIRE,
} hitl_sla_action;

/* Where a queue's events are POSTed, and which of them. */
typedef struct hitl_webhook {
  char *url;        /* An http:// or https:// URL. */
  char **events;    /* Event types wanted; none means every type. */
  size_t n_events;
} hitl_webhook;

/* A validated queue configuration. Owned strings and arrays; free with hitl_queue_config_free.
 * Immutable once built, so threads may share it. */
typedef struct hitl_queue_config {
  hitl_field *fields;
  size_t n_fields;
  hitl_question *questions; /* At least one. */
  size_t n_questions;
  hitl_policy *policy;      /* Never NULL: an empty policy sends every task to review. */
  int overlap;              /* Distinct reviewers per task, 1..9. */
  char **roles;             /* Roles that may answer; default {"validator"}. */
  size_t n_roles;
  int lease_seconds;        /* 5..86400, default 600. */
  hitl_consensus_method consensus;
  int64_t deadline_seconds; /* 0: no deadline. */
  hitl_sla_action on_timeout;
  hitl_webhook *webhooks;
  size_t n_webhooks;
  bool conformal;            /* calibration.conformal: prediction sets for the label question. */
  double conformal_coverage; /* In (0, 1). */
  int conformal_score;       /* A hitl_conformal_score. */
  char *json;               /* The normalized configuration (defaults filled in) as JSON. */
  char *json_redacted;      /* The same with webhook URLs' credentials hidden; NULL when json
                             * has nothing to hide. */
} hitl_queue_config;

void hitl_queue_config_free(hitl_queue_config *q);
/* The index of the question named name, or -1. */
int hitl_queue_question_index(const hitl_queue_config *q, const char *name);
/* True when role is one of the queue's roles. */
bool hitl_queue_allows_role(const hitl_queue_config *q, const char *role);
/* True when the webhook wants events of type type. */
bool hitl_webhook_wants(const hitl_webhook *w, const char *type);
/* Names of the enums, as in the JSON configuration. */
const char *hitl_question_type_name(hitl_question_type t);
const char *hitl_consensus_name(hitl_consensus_method m);
const char *hitl_sla_action_name(hitl_sla_action a);

#endif
