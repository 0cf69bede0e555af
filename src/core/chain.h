/* SPDX-License-Identifier: MIT */
/* The hash-chained event log: appending events inside a transaction and verifying the chain. */
#ifndef HITL_CORE_CHAIN_H
#define HITL_CORE_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/task.h"
#include "store/store.h"
#include "util/buf.h"

/* What the writer learns from an appended event once its transaction commits: enough to wake
 * waiters and keep live counts without reading the database again. */
typedef struct hitl_change {
  int64_t seq;           /* Event seq. */
  const char *type;      /* Static string, e.g. "task.decided". */
  int64_t queue_id;      /* 0 when the event concerns no queue. */
  char task_id[HITL_ID_LEN]; /* Empty when the event concerns no task. */
  int from_state;        /* Task state before, -1 when the task is new or no task. */
  int to_state;          /* Task state after, -1 when no task. */
  const char *decided_by; /* Static string when the event decided the task, else NULL. */
  char run_id[HITL_ID_LEN]; /* The agent run the event concerns (core/run_control.h): its own
                            * events and its tasks' (they change its open tasks); or empty. */
} hitl_change;

/* An event appended but not linked yet (hitl_chain_defer): its strings are in the chain's
 * arena, at these offsets (SIZE_MAX for NULL). */
typedef struct hitl_chain_held {
  int64_t at;
  size_t queue, task_id, actor, data;
} hitl_chain_held;

/* The writer's view of the chain: the last link, and the changes of the open transaction.
 * Used by one thread (the writer); not shared. The last link is valid within one transaction
 * only: it is read from the store (which locks it) at the transaction's first event, or, when
 * the chain defers, at hitl_chain_link. */
typedef struct hitl_chain {
  bool defer;                     /* Events wait for hitl_chain_link (hitl_chain_defer). */
  bool loaded;                    /* last_seq/last_hash were read (locked) in this transaction. */
  bool op_loaded;                 /* loaded when the current operation began. */
  int64_t last_seq;
  uint8_t last_hash[HITL_HASH_LEN];
  hitl_change *changes;           /* Changes appended since the transaction began. */
  size_t n_changes, cap_changes;
  size_t op_mark;                 /* n_changes when the current operation began. */
  int64_t op_seq;                 /* last_seq when the current operation began. */
  uint8_t op_hash[HITL_HASH_LEN];
  hitl_chain_held *held;          /* Events of changes[0..n_held) while not linked. */
  size_t n_held, cap_held;
  hitl_buf arena;                 /* Their strings. */
  size_t op_arena;                /* arena.len when the current operation began. */
} hitl_chain;

/* One event to append. Strings are borrowed. */
typedef struct hitl_event_spec {
  const char *type;      /* Static string. */
  const char *queue;     /* Queue name or NULL. */
  int64_t queue_id;
  const char *task_id;   /* Or NULL. */
  const char *actor;     /* Token name, "policy" or "system". */
  const char *data;      /* JSON object text; NULL means {}. */
  int from_state, to_state;
  const char *decided_by;
  const char *run_id;    /* The agent run the event concerns, or NULL: for the change only (the
                          * event's data names it). */
} hitl_event_spec;

void hitl_chain_init(hitl_chain *c);
void hitl_chain_free(hitl_chain *c);
/* Makes the chain hold each transaction's events until hitl_chain_link, which the owner must
 * then call before it commits. Taking the chain's lock (event_head) is then the transaction's
 * last step but the commit: with several writers on one database (PostgreSQL), each holds it
 * only from there to the end of its commit, not while it runs its operations. */
void hitl_chain_defer(hitl_chain *c, bool on);
/* Appends an event at time now, chained to the previous one. Returns 0 or a store error. When
 * the chain defers and is not linked yet, the event is only kept (its change's seq is 0 until
 * hitl_chain_link). */
int hitl_chain_append(hitl_chain *c, hitl_store *s, int64_t now, const hitl_event_spec *spec);
/* Reads (and locks) the head and stores the events held so far, chained to it, setting their
 * changes' seqs; later appends of the transaction are stored at once. Nothing to do when no
 * event is held. Returns 0 or a store error. */
int hitl_chain_link(hitl_chain *c, hitl_store *s);
/* Bracket one operation: op_abort forgets the events appended since op_begin. */
void hitl_chain_op_begin(hitl_chain *c);
void hitl_chain_op_abort(hitl_chain *c);
/* After a commit: the caller has read c->changes; forget them (and the last link). */
void hitl_chain_committed(hitl_chain *c);
/* After a rollback: forget the changes and the last link. */
void hitl_chain_rolled_back(hitl_chain *c);

/* Computes the hash of e (its seq, at, strings and prev_hash) into out. */
void hitl_event_hash(const hitl_event *e, uint8_t out[HITL_HASH_LEN]);

/* Result of checking the whole log. */
typedef struct hitl_chain_report {
  int64_t events;       /* Events checked. */
  int64_t broken_seq;   /* 0 when intact, else the seq of the first event that does not verify. */
  char reason[160];     /* Why it does not verify. */
} hitl_chain_report;

/* Walks the log from the start and recomputes every link. Returns 0 (see report->broken_seq
 * for the verdict) or a store error. */
int hitl_chain_verify(hitl_store *s, hitl_chain_report *report);

#endif
