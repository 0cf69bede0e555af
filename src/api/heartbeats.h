/* SPDX-License-Identifier: MIT */
/* Heartbeats stored together by the writer and answered once durable (see core/run.h,
 * HITL_RUN_TOUCH_FLUSH_MS, and docs/agents.md). */
#ifndef HITL_API_HEARTBEATS_H
#define HITL_API_HEARTBEATS_H

#include <stdbool.h>

#include "api/commit.h"
#include "api/run_cache.h"
#include "core/run_control.h"
#include "util/buf.h"

typedef struct hitl_request hitl_request;

typedef struct hitl_heartbeats hitl_heartbeats;

/* Makes an empty table whose heartbeats go to the store through c's writer; once stored, they
 * move the heartbeat times that runs (NULL for none) holds. */
hitl_heartbeats *hitl__heartbeats_new(hitl_committer *c, hitl_run_cache *runs);
/* Keeps t until the writer stores it, within HITL_RUN_TOUCH_FLUSH_MS (with the heartbeats that
 * came meanwhile, in one operation of a shared transaction), then answers req, which the caller
 * suspended before the call: with *answer (taken; 200) once the write is durable, or with the
 * error. False, taking nothing, when the table is full or the writer has stopped: then store
 * the heartbeat in a transaction instead. Thread-safe. */
bool hitl__heartbeats_add(hitl_heartbeats *h, const hitl_run_touch *t, hitl_request *req,
                          hitl_buf *answer);
/* Frees the table, after the committer stopped (which stored what was queued). NULL is a
 * no-op. */
void hitl__heartbeats_free(hitl_heartbeats *h);

#endif
