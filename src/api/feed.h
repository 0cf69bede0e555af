/* SPDX-License-Identifier: MIT */
/* The change feed between servers sharing one database: each writer publishes the changes of its
 * transactions, and each server applies the other servers' changes as if it had made them. */
#ifndef HITL_API_FEED_H
#define HITL_API_FEED_H

#include <stddef.h>

#include "api/commit.h"

typedef struct hitl_feed hitl_feed;

/* Called on the feed's thread when changes may have been missed (its connection was lost). */
typedef void (*hitl_resync_fn)(void *ctx);

/* Starts the feed of the database at location: a thread with a store handle of its own that
 * calls apply(ctx, changes, n) with the changes other servers committed, on that thread, and
 * resync(ctx) after a gap in them.
 * Returns NULL when the backend has no feed (SQLite: one process, whose own commits are all the
 * changes) or the handle cannot be opened (logged); the server then works on its own commits. */
hitl_feed *hitl__feed_start(const char *location, hitl_commit_fn apply, hitl_resync_fn resync,
                            void *ctx);
/* Writer thread, inside the transaction of changes: publishes them to the other servers (they
 * get them once it commits). f NULL does nothing. Returns 0 or a store error. */
int hitl__feed_publish(hitl_feed *f, hitl_txn *x, const hitl_change *changes, size_t n);
/* Stops the thread and frees the feed. NULL is a no-op. */
void hitl__feed_stop(hitl_feed *f);

#endif
