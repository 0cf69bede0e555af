/* SPDX-License-Identifier: MIT */
/* The live runs this server knows, so that a heartbeat is answered without a read of the store
 * (bench/README.md, "Agent runs"). Kept only where this server is the database's one writer
 * (SQLite): every change of a run then passes through its writer, which forgets the run's entry
 * once the change is committed and before anyone is told of it. */
#ifndef HITL_API_RUN_CACHE_H
#define HITL_API_RUN_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/run.h"

typedef struct hitl_run_cache hitl_run_cache;

/* An empty cache holding at most max_bytes of runs (their records and strings). */
hitl_run_cache *hitl__run_cache_new(size_t max_bytes);
/* Frees the cache; NULL is a no-op. */
void hitl__run_cache_free(hitl_run_cache *c);

/* Copies the run with id run_id into *out (strings of its own) and returns true; false, *out
 * untouched, when the cache does not hold it. Thread-safe. */
bool hitl__run_cache_get(hitl_run_cache *c, const char *run_id, hitl_run *out);
/* A token to take before reading run_id from the store, for hitl__run_cache_put. */
uint64_t hitl__run_cache_version(hitl_run_cache *c, const char *run_id);
/* Keeps a copy of r, read from the store after version was taken: unless a change of a run like
 * it was committed since (the read may be older than that change), r is not running or paused,
 * or the cache is full. Thread-safe. */
void hitl__run_cache_put(hitl_run_cache *c, const hitl_run *r, uint64_t version);
/* Forgets the run with id run_id: call once a change of it is committed, before the change is
 * answered or announced. Thread-safe. */
void hitl__run_cache_forget(hitl_run_cache *c, const char *run_id);
/* Moves the heartbeat times of run_id forward (never back) to a heartbeat at `at`, due again at
 * due_at, once that heartbeat is durable (hitl_run_touch). Thread-safe. */
void hitl__run_cache_touch(hitl_run_cache *c, const char *run_id, int64_t at, int64_t due_at);
/* Runs held, for tests and metrics. */
size_t hitl__run_cache_count(hitl_run_cache *c);

#endif
