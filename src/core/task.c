/* SPDX-License-Identifier: MIT */
/* Lifetimes and names of the task, response and event records. */
#include "core/task.h"

#include <stdlib.h>
#include <string.h>

void hitl_task_clear(hitl_task *t) {
  if (t == NULL) return;
  free(t->queue);
  free(t->role);
  free(t->idempotency_key);
  free(t->external_id);
  free(t->model_version);
  free(t->inference_id);
  free(t->run_id);
  free(t->payload);
  free(t->route);
  free(t->lease_owner);
  free(t->decision);
  free(t->decided_by);
  free(t->submitted_by);
  memset(t, 0, sizeof *t);
}

void hitl_response_clear(hitl_response *r) {
  if (r == NULL) return;
  free(r->reviewer);
  free(r->question);
  free(r->kind);
  free(r->value);
  free(r->comment);
  free(r->queue);
  memset(r, 0, sizeof *r);
}

void hitl_event_clear(hitl_event *e) {
  if (e == NULL) return;
  free(e->type);
  free(e->queue);
  free(e->task_id);
  free(e->actor);
  free(e->data);
  memset(e, 0, sizeof *e);
}

static const char *state_names[HITL_TASK_NSTATES] = {"pending", "leased", "decided", "expired",
                                                     "cancelled"};

const char *hitl_task_state_name(hitl_task_state s) {
  return (unsigned)s < HITL_TASK_NSTATES ? state_names[s] : NULL;
}

int hitl_task_state_parse(const char *name) {
  for (int i = 0; i < HITL_TASK_NSTATES; i++)
    if (strcmp(name, state_names[i]) == 0) return i;
  return -1;
}
