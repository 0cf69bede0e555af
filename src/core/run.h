/* SPDX-License-Identifier: MIT */
/* Agent runs: the records, their states, and the rules of who may move a run from one to another. */
#ifndef HITL_CORE_RUN_H
#define HITL_CORE_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/id.h"

/* The states a run is stored in. "waiting" is not stored: a running run with a task of its own
 * pending or leased is shown waiting (HITL_RUN_WAITING), so no task write has to touch runs. */
typedef enum hitl_run_state {
  HITL_RUN_RUNNING = 0,
  HITL_RUN_PAUSED = 1,
  HITL_RUN_STOPPED = 2,  /* Final: people stopped it. */
  HITL_RUN_FINISHED = 3, /* Final: the agent said it is done. */
  HITL_RUN_LOST = 4,     /* No heartbeat within heartbeat_seconds; a heartbeat brings it back. */
  HITL_RUN_WAITING = 5,  /* Shown only, never stored (see above). */
} hitl_run_state;
#define HITL_RUN_NSTATES 6

/* The commands people give a run. */
typedef enum hitl_run_command_type {
  HITL_RUN_PAUSE = 0,
  HITL_RUN_RESUME = 1,
  HITL_RUN_STOP = 2,
  HITL_RUN_GOAL = 3,
} hitl_run_command_type;

#define HITL_RUN_MIN_HEARTBEAT 1      /* heartbeat_seconds bounds. */
#define HITL_RUN_MAX_HEARTBEAT 86400
#define HITL_RUN_DEFAULT_HEARTBEAT 60

/* An ordinary heartbeat (a live run, before its due time) is stored within about
 * HITL_RUN_TOUCH_FLUSH_MS, with the others of that time in one write (api/heartbeats.c), and
 * answered once that write is durable. The sweeper marks a run lost only HITL_RUN_LOST_GRACE_MS
 * after its due time, so that a heartbeat sent before the due time, on any node, is stored by
 * then even when a commit is slow. */
#define HITL_RUN_TOUCH_FLUSH_MS 250
#define HITL_RUN_LOST_GRACE_MS 2000

/* One agent run. Strings are owned (hitl_run_clear). */
typedef struct hitl_run {
  int64_t seq;               /* Store-assigned; the cursor of listings. */
  char id[HITL_ID_LEN];      /* "run_..." */
  char *agent;               /* The agent's name, as it registered. */
  char *goal;                /* NULL when none was given. */
  char *metadata;            /* Compact JSON object, or NULL. */
  char *owner;               /* Token name that registered the run: only it reports in. */
  hitl_run_state state;      /* A stored state (never HITL_RUN_WAITING). */
  hitl_run_state lost_from;  /* For a lost run: the state a heartbeat brings it back to. */
  int heartbeat_seconds;
  int64_t created_at, updated_at; /* Milliseconds since the epoch, as every *_at. */
  int64_t last_heartbeat_at;
  int64_t heartbeat_due_at;  /* When it is lost without a heartbeat; 0 once final. */
  int64_t ended_at;          /* 0 until stopped or finished. */
  int64_t steps;             /* Steps posted. */
  int64_t commands;          /* Commands given; the last command's seq. */
  int64_t acked;             /* Commands acknowledged. */
  int64_t open_tasks;        /* Read only (filled by run_get/run_list): tasks of the run that
                              * are pending or leased. */
} hitl_run;

/* One step an agent reported. */
typedef struct hitl_run_step {
  int64_t seq;               /* Store-assigned. */
  int64_t run_seq;
  int64_t n;                 /* 1, 2, 3, ... within the run. */
  char *text;
  char *data;                /* Compact JSON, or NULL. */
  int64_t created_at;
} hitl_run_step;

/* One command given to a run. */
typedef struct hitl_run_command {
  int64_t run_seq;
  int64_t seq;               /* 1, 2, 3, ... within the run. */
  hitl_run_command_type type;
  char *goal;                /* For HITL_RUN_GOAL; NULL otherwise. */
  char *actor;               /* Who gave it. */
  int64_t created_at;
  int64_t acked_at;          /* 0 until acknowledged. */
} hitl_run_command;

void hitl_run_clear(hitl_run *r);
/* Makes dst a copy of src with strings of its own (dst's old contents are not freed). */
void hitl_run_copy(hitl_run *dst, const hitl_run *src);
void hitl_run_step_clear(hitl_run_step *s);
void hitl_run_command_clear(hitl_run_command *c);

/* "running", "paused", ...; NULL for an unknown value. */
const char *hitl_run_state_name(hitl_run_state s);
/* The state for a name, or -1. */
int hitl_run_state_parse(const char *name);
/* The state people see: waiting for a running run with open tasks, else the stored state. */
hitl_run_state hitl_run_shown_state(const hitl_run *r);
/* True for stopped and finished: nothing changes a run any more. */
bool hitl_run_is_final(hitl_run_state s);
/* "pause", "resume", "stop", "goal"; NULL for an unknown value. */
const char *hitl_run_command_name(hitl_run_command_type t);
/* The type for a name, or -1. */
int hitl_run_command_parse(const char *name);

#endif
