/* SPDX-License-Identifier: MIT */
/* Keeping what a server caches (queues, their counts, tokens, waiters) in step with the database:
 * at start, around each commit of its writer, and with the changes of other servers. ctx is the
 * hitl_server in every callback. */
#ifndef HITL_API_SYNC_H
#define HITL_API_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/commit.h"

typedef struct hitl_server hitl_server;

/* Parses every stored queue (only_id 0), or the one with id only_id, into the server's registry.
 * A queue the registry has keeps its counts; a new one is counted from the store, or starts at
 * zero when created is set (it was just created: its tasks' changes all come after). Returns 0 or
 * a HITL_E* code with err set. */
int hitl__sync_load_queues(hitl_server *s, hitl_store *st, int64_t only_id, bool created,
                           hitl_err *err);
/* The committer's callbacks (see commit.h): after a commit, counts and waiters follow its
 * changes; before it, the webhook outbox and the change feed get them; the sweeper's queue
 * configurations come from the registry. */
void hitl__sync_on_commit(void *ctx, const hitl_change *changes, size_t n);
int hitl__sync_before_commit(void *ctx, hitl_txn *x, const hitl_change *changes, size_t n);
const hitl_queue_config *hitl__sync_sweep_config(void *ctx, int64_t queue_id);
/* The change feed's callbacks (see feed.h), on its thread: other servers' changes are applied as
 * our own commits are, and queues and tokens they changed are read again; after a gap in the
 * feed, every queue and its counts are read again and cached tokens forgotten. */
void hitl__sync_apply_remote(void *ctx, const hitl_change *changes, size_t n);
void hitl__sync_resync(void *ctx);

#endif
