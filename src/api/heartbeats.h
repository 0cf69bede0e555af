/* SPDX-License-Identifier: MIT */
/* Heartbeats answered from memory and stored together by the writer (see core/run.h,
 * HITL_RUN_TOUCH_FLUSH_MS, and docs/agents.md for what a crash can lose). */
#ifndef HITL_API_HEARTBEATS_H
#define HITL_API_HEARTBEATS_H

#include <stdbool.h>

#include "api/commit.h"
#include "core/run_control.h"

typedef struct hitl_heartbeats hitl_heartbeats;

/* Makes an empty table whose heartbeats go to the store through c's writer. */
hitl_heartbeats *hitl__heartbeats_new(hitl_committer *c);
/* Keeps t until the writer stores it, within HITL_RUN_TOUCH_FLUSH_MS (with the heartbeats that
 * came meanwhile, in one operation of a shared transaction). False when the table is full or
 * the writer has stopped: then store the heartbeat in a transaction instead. Thread-safe. */
bool hitl__heartbeats_add(hitl_heartbeats *h, const hitl_run_touch *t);
/* Frees the table, after the committer stopped (which stored what was queued). NULL is a
 * no-op. */
void hitl__heartbeats_free(hitl_heartbeats *h);

#endif
