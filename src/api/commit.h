/* SPDX-License-Identifier: MIT */
/* Group commit: writer lanes (one on SQLite, a few on PostgreSQL) run queued operations in shared
 * transactions, one fsync each. */
#ifndef HITL_API_COMMIT_H
#define HITL_API_COMMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/chain.h"
#include "core/lifecycle.h"
#include "store/store.h"

typedef struct hitl_job hitl_job;
typedef struct hitl_committer hitl_committer;

/* Runs the job's operation inside the open transaction; returns 0 or a HITL_E* code (with
 * job->err set). A failing job's writes are undone; the others' are kept. When the transaction
 * lost a race with another writer (HITL_ERETRY), the committer runs the job again in a new one:
 * run() must then free what its earlier run left in the job. */
typedef int (*hitl_job_run_fn)(hitl_job *job, hitl_txn *x);
/* Called once the transaction is durable (rc is the job's result) or failed (rc is the
 * failure). Runs on the writer thread (a lane's): must not block. The done() of durable jobs
 * run in commit order across lanes, after on_commit of their transaction. */
typedef void (*hitl_job_done_fn)(hitl_job *job, int rc);

struct hitl_job {
  hitl_job_run_fn run;
  hitl_job_done_fn done;
  hitl_err err;
  int rc;
  hitl_job *next; /* Owned by the committer while queued. */
};

/* Called after each commit with the changes it made durable (writer thread). With several
 * lanes, one at a time and in the order of the changes' seqs. */
typedef void (*hitl_commit_fn)(void *ctx, const hitl_change *changes, size_t n);
/* Called inside each transaction before it commits, with its changes, to add writes that belong
 * with them (the webhook outbox). The changes are linked (their seqs set) and the chain's lock
 * is held: with several lanes, one at a time, in seq order. A non-zero return rolls the whole
 * transaction back. */
typedef int (*hitl_precommit_fn)(void *ctx, hitl_txn *x, const hitl_change *changes, size_t n);

/* Starts the writer with one lane per store (lanes of them, each its own connection to one
 * database; the committer now owns them). Each lane takes the next queued jobs as one batch
 * whenever it is free, so one lane's round trips and commit overlap another's work; lanes wait
 * for each other only from the link of the chain to the commit, as the writers of several nodes
 * do. Only the first lane sweeps. Jobs whose run() keeps state in memory across a transaction
 * keep it per lane (hitl_txn.lane). SQLite takes one lane (one writer at a time). sweep_config
 * looks up queue configurations for the deadline sweeper; before_commit may be NULL. */
hitl_committer *hitl__committer_start(hitl_store *const *stores, size_t lanes,
                                      hitl_commit_fn on_commit, hitl_precommit_fn before_commit,
                                      hitl_config_fn sweep_config, void *ctx);
/* Queues a job; its done() is called later on a writer lane's thread. Thread-safe. */
void hitl__committer_enqueue(hitl_committer *c, hitl_job *job);
/* Queues a job that may wait up to max_delay_ms for company: it runs with the next transaction
 * that other jobs start, or on its own once the oldest lazy job has waited max_delay_ms. For
 * frequent small writes whose caller can wait a little (heartbeats): many share one durable
 * commit instead of each paying for its own. Still answered only once durable. Returns false
 * when the committer is stopping (done() has then run, in the caller). Thread-safe. */
bool hitl__committer_enqueue_lazy(hitl_committer *c, hitl_job *job, int max_delay_ms);
/* Runs the remaining jobs, stops the threads and closes the stores. Jobs queued afterwards fail
 * at once with HITL_EUNAVAILABLE (their done() runs in the caller). NULL is a no-op. */
void hitl__committer_stop(hitl_committer *c);
/* Frees a stopped committer. NULL is a no-op. */
void hitl__committer_free(hitl_committer *c);

#endif
