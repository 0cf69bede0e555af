/* SPDX-License-Identifier: MIT */
/* Queue configurations: their lifetime, look-ups by name and the names of their enums. */
#include "core/queue.h"

#include <stdlib.h>
#include <string.h>

static void free_strings(char **v, size_t n) {
  if (v == NULL) return;
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

/* Frees q and everything it owns, the compiled policy included. NULL is a no-op. */
void hitl_queue_config_free(hitl_queue_config *q) {
  if (q == NULL) return;
  for (size_t i = 0; i < q->n_fields; i++) free(q->fields[i].name);
  free(q->fields);
  for (size_t i = 0; i < q->n_questions; i++) {
    hitl_question *qu = &q->questions[i];
    free(qu->name);
    free_strings(qu->labels, qu->n_labels);
    free(qu->field);
    free(qu->spans);
  }
  free(q->questions);
  hitl_policy_free(q->policy);
  free_strings(q->roles, q->n_roles);
  for (size_t i = 0; i < q->n_webhooks; i++) {
    free(q->webhooks[i].url);
    free_strings(q->webhooks[i].events, q->webhooks[i].n_events);
    free(q->webhooks[i].secret);
    free(q->webhooks[i].previous_secret);
  }
  free(q->webhooks);
  free(q->json);
  free(q->json_shown);
  free(q->json_redacted);
  free(q);
}

/* True when the webhook lists type among its events, or lists none. */
bool hitl_webhook_wants(const hitl_webhook *w, const char *type) {
  if (w->n_events == 0) return true;
  for (size_t i = 0; i < w->n_events; i++)
    if (strcmp(w->events[i], type) == 0) return true;
  return false;
}

/* The index of the question named name in q->questions, or -1 (also when name is NULL). */
int hitl_queue_question_index(const hitl_queue_config *q, const char *name) {
  if (q == NULL || name == NULL) return -1;
  for (size_t i = 0; i < q->n_questions; i++)
    if (strcmp(q->questions[i].name, name) == 0) return (int)i;
  return -1;
}

/* True when role is one of the queue's roles; false for a NULL role. */
bool hitl_queue_allows_role(const hitl_queue_config *q, const char *role) {
  if (q == NULL || role == NULL) return false;
  for (size_t i = 0; i < q->n_roles; i++)
    if (strcmp(q->roles[i], role) == 0) return true;
  return false;
}

/* "approve", "label", ...; NULL for a value outside the enum. */
const char *hitl_question_type_name(hitl_question_type t) {
  switch (t) {
  case HITL_QUESTION_APPROVE: return "approve";
  case HITL_QUESTION_LABEL: return "label";
  case HITL_QUESTION_LABELS: return "labels";
  case HITL_QUESTION_RATING: return "rating";
  case HITL_QUESTION_PREFERENCE: return "preference";
  case HITL_QUESTION_TEXT: return "text";
  case HITL_QUESTION_SPANS: return "spans";
  case HITL_QUESTION_BOXES: return "boxes";
  case HITL_QUESTION_TRANSCRIPTION: return "transcription";
  case HITL_QUESTION_RELATIONS: return "relations";
  }
  return NULL;
}

/* "first", "majority", "unanimous"; NULL for a value outside the enum. */
const char *hitl_consensus_name(hitl_consensus_method m) {
  switch (m) {
  case HITL_CONSENSUS_FIRST: return "first";
  case HITL_CONSENSUS_MAJORITY: return "majority";
  case HITL_CONSENSUS_UNANIMOUS: return "unanimous";
  }
  return NULL;
}

/* "escalate", "accept", "reject", "expire"; NULL for a value outside the enum. */
const char *hitl_sla_action_name(hitl_sla_action a) {
  switch (a) {
  case HITL_SLA_ESCALATE: return "escalate";
  case HITL_SLA_ACCEPT: return "accept";
  case HITL_SLA_REJECT: return "reject";
  case HITL_SLA_EXPIRE: return "expire";
  }
  return NULL;
}
