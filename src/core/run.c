/* SPDX-License-Identifier: MIT */
/* Lifetimes and names of the run, step and command records. */
#include "core/run.h"

#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

void hitl_run_clear(hitl_run *r) {
  if (r == NULL) return;
  free(r->agent);
  free(r->goal);
  free(r->metadata);
  free(r->owner);
  memset(r, 0, sizeof *r);
}

static char *dup_or_null(const char *s) { return s ? hitl_xstrdup(s) : NULL; }

void hitl_run_copy(hitl_run *dst, const hitl_run *src) {
  *dst = *src;
  dst->agent = dup_or_null(src->agent);
  dst->goal = dup_or_null(src->goal);
  dst->metadata = dup_or_null(src->metadata);
  dst->owner = dup_or_null(src->owner);
}

void hitl_run_step_clear(hitl_run_step *s) {
  if (s == NULL) return;
  free(s->text);
  free(s->data);
  memset(s, 0, sizeof *s);
}

void hitl_run_command_clear(hitl_run_command *c) {
  if (c == NULL) return;
  free(c->goal);
  free(c->actor);
  memset(c, 0, sizeof *c);
}

static const char *const state_names[HITL_RUN_NSTATES] = {"running", "paused",   "stopped",
                                                          "finished", "lost",    "waiting"};

const char *hitl_run_state_name(hitl_run_state s) {
  return (unsigned)s < HITL_RUN_NSTATES ? state_names[s] : NULL;
}

int hitl_run_state_parse(const char *name) {
  for (int i = 0; i < HITL_RUN_NSTATES; i++)
    if (strcmp(name, state_names[i]) == 0) return i;
  return -1;
}

hitl_run_state hitl_run_shown_state(const hitl_run *r) {
  return r->state == HITL_RUN_RUNNING && r->open_tasks > 0 ? HITL_RUN_WAITING : r->state;
}

bool hitl_run_is_final(hitl_run_state s) {
  return s == HITL_RUN_STOPPED || s == HITL_RUN_FINISHED;
}

static const char *const command_names[] = {"pause", "resume", "stop", "goal"};
#define N_COMMANDS (sizeof command_names / sizeof *command_names)

const char *hitl_run_command_name(hitl_run_command_type t) {
  return (unsigned)t < N_COMMANDS ? command_names[t] : NULL;
}

int hitl_run_command_parse(const char *name) {
  for (size_t i = 0; i < N_COMMANDS; i++)
    if (strcmp(name, command_names[i]) == 0) return (int)i;
  return -1;
}
