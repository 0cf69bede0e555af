/* SPDX-License-Identifier: MIT */
/* The live queues: their parsed configurations and task counts, shared by the HTTP threads. */
#ifndef HITL_API_REGISTRY_H
#define HITL_API_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "core/chain.h"
#include "core/queue.h"
#include "store/store.h"

/* One version of a queue's configuration. Reference-counted: a request holds a reference while
 * it uses the configuration, so a concurrent PUT never frees it under the request. */
typedef struct hitl_queue_ref {
  int refs;                   /* Atomic. */
  int64_t id;                 /* Store id. */
  char *name;
  hitl_queue_config *config;
  int64_t created_at, updated_at;
} hitl_queue_ref;

/* Live counts of one queue. */
typedef struct hitl_queue_counts {
  int64_t by_state[HITL_TASK_NSTATES];
  int64_t submitted;          /* Tasks submitted since the server started counting. */
  int64_t decided_policy, decided_human, decided_consensus, decided_sla;
} hitl_queue_counts;

typedef struct hitl_registry hitl_registry;

hitl_registry *hitl__registry_new(void);
void hitl__registry_free(hitl_registry *r);
/* The current configuration of the queue named name, with a reference the caller releases;
 * NULL when there is no such queue. */
hitl_queue_ref *hitl__registry_get(hitl_registry *r, const char *name);
/* The configuration of the queue with store id id, borrowed: valid until the next put for that
 * queue (the writer thread only). NULL when unknown. */
const hitl_queue_config *hitl__registry_config_by_id(hitl_registry *r, int64_t id);
/* The current configuration of the queue with store id id, with a reference the caller
 * releases (any thread); NULL when unknown. */
hitl_queue_ref *hitl__registry_get_by_id(hitl_registry *r, int64_t id);
void hitl__queue_ref_release(hitl_queue_ref *q);
/* Installs (takes) config as the current configuration of the queue; stats may be NULL. */
void hitl__registry_put(hitl_registry *r, int64_t id, const char *name, hitl_queue_config *config,
                        int64_t created_at, int64_t updated_at, const hitl_queue_stats *stats);
/* All queues by name, each with a reference; *out is malloc'd. Caller releases each and frees. */
size_t hitl__registry_list(hitl_registry *r, hitl_queue_ref ***out);
/* Copies the counts of a queue (zeros when unknown). */
void hitl__registry_counts(hitl_registry *r, int64_t id, hitl_queue_counts *out);
/* Applies committed changes to the counts. */
void hitl__registry_apply(hitl_registry *r, const hitl_change *changes, size_t n);

#endif
