/* SPDX-License-Identifier: MIT */
/* The records hitl keeps: tasks, responses and events, as plain C structs shared by core and store. */
#ifndef HITL_CORE_TASK_H
#define HITL_CORE_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "util/id.h"

typedef enum hitl_task_state {
  HITL_TASK_PENDING = 0,
  HITL_TASK_LEASED = 1,
  HITL_TASK_DECIDED = 2,
  HITL_TASK_EXPIRED = 3,
  HITL_TASK_CANCELLED = 4,
} hitl_task_state;
#define HITL_TASK_NSTATES 5

/* One item to decide. Strings are owned by the struct (freed by hitl_task_clear). JSON-valued
 * fields hold compact JSON text. */
typedef struct hitl_task {
  int64_t seq;              /* Store-assigned order; the cursor of listings. */
  char id[HITL_ID_LEN];     /* Public opaque id, "t_...". */
  int64_t queue_id;         /* Store id of the queue. */
  char *queue;              /* Queue name. */
  hitl_task_state state;
  char *role;               /* Role required to answer now; NULL: any role the queue allows. */
  int priority;             /* Higher is served first. */
  int64_t created_at;       /* Milliseconds since the epoch, as every *_at below. */
  int64_t updated_at;
  int64_t deadline_at;      /* 0 when the queue has no deadline. */
  char *idempotency_key;    /* NULL when the caller gave none. */
  uint8_t body_hash[HITL_HASH_LEN]; /* Hash of the submitted body, to detect a reused key. */
  char *external_id;        /* Caller fields, each NULL when absent. */
  char *model_version;
  char *inference_id;
  char *run_id;
  bool has_confidence;
  double confidence;
  char *payload;            /* {"input":..,"output":..,"context":..,"metadata":..,"probabilities":..} */
  char *route;              /* Which rule fired and the trace, as JSON. */
  int stage;                /* 0: review; 1: arbitration after a disagreement or an escalation. */
  int needed;               /* Distinct answers this stage needs. */
  int answers;              /* Answers collected in this stage. */
  char lease_id[HITL_ID_LEN]; /* Empty when not leased. */
  char *lease_owner;        /* Token name of the reviewer holding the lease, or NULL. */
  int64_t lease_expires_at; /* 0 when not leased. */
  char *decision;           /* JSON, NULL until decided. */
  char *decided_by;         /* "policy", "human", "consensus" or "sla"; NULL until decided. */
  int64_t decided_at;
  char *submitted_by;       /* Token name of the agent that submitted the task. */
  int timeout_action;       /* What its deadline does: 0, the queue's sla.on_timeout; else 1 + the
                             * hitl_sla_action of the task's own deadline (core/queue.h). */
  int64_t deadline_seconds; /* Input only, never stored: the task's own deadline as submitted
                             * (0: the queue's). */
} hitl_task;

/* One answer to one question of a task by one reviewer. */
typedef struct hitl_response {
  int64_t seq;             /* Store-assigned. */
  char id[HITL_ID_LEN];    /* Shared by the answers that one POST carried, "r_...". */
  int64_t task_seq;
  char *reviewer;          /* Token name. */
  int stage;               /* The task's stage when answered. */
  char *question;          /* Question name. */
  char *kind;              /* approve, reject, modify, label, labels, rating, ranking, text, spans,
                            * boxes, transcription, relations, skip, escalate. */
  char *value;             /* Compact JSON with sorted keys, or NULL. */
  char *comment;           /* NULL when none. */
  int64_t time_spent_ms;   /* As reported by the client; 0 when unknown. */
  int64_t created_at;
  char task_id[HITL_ID_LEN]; /* Filled by reviewer listings only; empty otherwise. */
  char *queue;               /* Filled by reviewer listings only; NULL otherwise. */
} hitl_response;

/* One entry of the append-only, hash-chained event log. */
typedef struct hitl_event {
  int64_t seq;                    /* 1, 2, 3, ... without gaps. */
  int64_t at;
  char *type;                     /* "task.submitted", "task.decided", ... */
  char *queue;                    /* NULL for events of no queue. */
  char *task_id;                  /* NULL for events of no task. */
  char *actor;                    /* Token name, "policy" or "system". */
  char *data;                     /* JSON object. */
  uint8_t prev_hash[HITL_HASH_LEN];
  uint8_t hash[HITL_HASH_LEN];
} hitl_event;

/* Frees what the struct owns and zeroes it. NULL is a no-op. */
void hitl_task_clear(hitl_task *t);
void hitl_response_clear(hitl_response *r);
void hitl_event_clear(hitl_event *e);

/* "pending", "leased", ...; NULL for an unknown value. */
const char *hitl_task_state_name(hitl_task_state s);
/* Returns the state for a name, or -1. */
int hitl_task_state_parse(const char *name);

#endif
