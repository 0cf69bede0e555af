/* SPDX-License-Identifier: MIT */
/* The writer: lanes of one thread and one connection each, whose batches of queued jobs share one
 * transaction and one durable commit. */
#include "api/commit.h"

#include "core/run_control.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define MAX_BATCH 4096         /* Jobs per transaction at most, to bound latency. */
#define SWEEP_LIMIT 1000       /* Due tasks handled per sweep. */
#define IDLE_WAKE_MS 1000      /* Longest sleep: the sweeper looks at least this often. */
#define MAX_ATTEMPTS 5         /* Runs of a batch that lost races with other writers, at most. */
#define LAZY_MAX 1024          /* Lazy jobs waiting at most: more start a transaction at once. */
#define FAILED_WAKE_MS 1000    /* After a failed transaction, the sweeper waits this long. */

/* One writer lane: a thread with its own connection and chain, group-committing batches. */
typedef struct lane {
  hitl_committer *c;
  int index;           /* 0 is the lane that sweeps. */
  hitl_store *store;
  hitl_chain chain;
  pthread_t thread;
  bool running;        /* Counted in the committer's running (under its lock). */
} lane;

struct hitl_committer {
  hitl_commit_fn on_commit;
  hitl_precommit_fn before_commit;
  hitl_config_fn sweep_config;
  void *ctx;
  lane *lanes;
  size_t n_lanes;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  hitl_job *head, *tail; /* Queued jobs, oldest first. */
  hitl_job *lazy_head, *lazy_tail; /* Lazy jobs (hitl__committer_enqueue_lazy), oldest first. */
  size_t n_lazy;
  int64_t lazy_due_at;   /* Wall-clock ms when the oldest lazy job must be run. */
  bool stopping;
  bool stopped; /* The threads have ended: enqueue fails at once. */
  int64_t next_sweep_at; /* Wall-clock ms. Lane 0's only. */
  /* Lanes running their batch's jobs or waiting for the chain's lock. While one does, no other
   * lane starts a batch: the jobs that come meanwhile gather into the next batch, which runs
   * while this one commits. Free-for-all lanes made batches of one or two jobs, each paying for
   * its own link and COMMIT under the chain's lock, at which all writers of a database take
   * turns (bench/README.md, "PostgreSQL"). */
  size_t running;
  /* Held by a lane from the moment its transaction holds the chain's lock in the database (the
   * link) until its changes are applied and its jobs answered: before_commit, on_commit and
   * done() of the lanes then run one at a time, in the order of the events' seqs. It is taken
   * only by a lane that holds the chain's lock, so no lane ever waits for it while another
   * waits in the database for that lane. */
  pthread_mutex_t order;
};

/* Runs the job in its own savepoint. A failing job's writes are undone; so are those of a job
 * whose savepoint would not close (it is answered with an error, so none of it may stay).
 * Returns non-zero when the savepoint could not be undone either: the transaction then holds
 * writes that nobody answers for, and the whole batch must be rolled back. */
static int run_one(lane *l, hitl_txn *x, hitl_job *job) {
  hitl_store *s = l->store;
  hitl_chain_op_begin(&l->chain);
  int rc = s->vt->op_begin(s);
  if (rc != 0) { /* HITL_EUNAVAILABLE when the database went away: a 503 to retry. */
    job->rc = hitl_err_set(&job->err, rc, NULL, "the database failed");
    return 0;
  }
  job->rc = job->run(job, x);
  if (job->rc == 0 && s->vt->op_end(s) == 0) return 0;
  if (job->rc == 0) job->rc = hitl_err_set(&job->err, HITL_ESTORE, NULL, "the database failed");
  hitl_chain_op_abort(&l->chain);
  return s->vt->op_abort(s);
}

/* Fires what is due in its own savepoint (lane 0 only). Returns non-zero when a failed sweep
 * could not be undone (see run_one). */
static int sweep(lane *l, hitl_txn *x) {
  hitl_committer *c = l->c;
  if (x->now < c->next_sweep_at) return 0;
  hitl_store *s = l->store;
  size_t n = 0;
  hitl_chain_op_begin(&l->chain);
  if (s->vt->op_begin(s) == 0) {
    int rc = hitl_task_sweep(x, c->sweep_config, c->ctx, SWEEP_LIMIT, &n);
    size_t n_runs = 0; /* Runs whose heartbeat is overdue become lost. */
    if (rc == 0) rc = hitl_run_sweep(x, SWEEP_LIMIT, &n_runs);
    if (rc == 0 && n_runs == SWEEP_LIMIT) n = SWEEP_LIMIT;
    if (rc == 0) rc = s->vt->op_end(s);
    if (rc) {
      hitl_chain_op_abort(&l->chain);
      hitl_log(HITL_LOG_ERROR, "msg=\"sweep failed\" rc=%d", rc);
      n = 0;
      if (s->vt->op_abort(s) != 0) return HITL_ESTORE;
    }
  }
  int64_t next = 0, next_run = 0;
  if (n < SWEEP_LIMIT) {
    if (s->vt->task_next_due(s, &next) != 0) next = 0;
    if (s->vt->run_next_due(s, &next_run) == 0 && next_run > 0)
      next_run += HITL_RUN_LOST_GRACE_MS; /* When hitl_run_sweep marks it lost. */
    if (next_run > 0 && (next == 0 || next_run < next)) next = next_run;
  }
  if (n == SWEEP_LIMIT) {
    c->next_sweep_at = x->now; /* More is due: go on at once. */
  } else if (next > 0 && next < x->now + IDLE_WAKE_MS) {
    c->next_sweep_at = next;
  } else {
    c->next_sweep_at = x->now + IDLE_WAKE_MS;
  }
  return 0;
}

/* The lane is past running its jobs and holds the chain's lock: another may start a batch. */
static void run_phase_over(lane *l) {
  hitl_committer *c = l->c;
  pthread_mutex_lock(&c->lock);
  if (l->running) {
    l->running = false;
    c->running--;
    pthread_cond_broadcast(&c->wake); /* Lane 0 may wait with a sweep due. */
  }
  pthread_mutex_unlock(&c->lock);
}

/* Runs the jobs of batch (n of them), and on lane 0 the sweeper, in one transaction and commits
 * it; once durable, applies its changes (on_commit) and answers its jobs. Returns 0 (the jobs
 * answered) or the failure, the transaction rolled back and the jobs not answered. */
static int run_batch(lane *l, hitl_job *batch, size_t n) {
  hitl_committer *c = l->c;
  hitl_store *st = l->store;
  hitl_txn x = {.store = st, .chain = &l->chain, .now = hitl_now_ms(), .lane = l->index};
  int64_t t0 = hitl_mono_us(), t1 = t0;
  bool ordered = false;
  int rc = st->vt->begin(st);
  if (rc == 0) {
    for (hitl_job *j = batch; j && rc == 0; j = j->next) rc = run_one(l, &x, j);
    if (rc == 0 && l->index == 0) rc = sweep(l, &x);
    /* The chain is linked last (hitl_chain_defer), which takes its lock in the database until
     * the commit: the lanes of this node, like the writers of other nodes, wait for each other
     * only from here on. */
    if (rc == 0 && l->chain.n_changes) {
      rc = hitl_chain_link(&l->chain, st);
      if (rc == 0) {
        pthread_mutex_lock(&c->order);
        ordered = true;
      }
    }
    /* The next batch may start now that this one holds the chain's lock: it runs while this
     * one commits. Not before: while this one waits for the lock (other servers commit), the
     * jobs that come gather into one batch rather than into another waiter. */
    run_phase_over(l);
    if (rc == 0 && c->before_commit && l->chain.n_changes)
      rc = c->before_commit(c->ctx, &x, l->chain.changes, l->chain.n_changes);
    if (rc == 0) rc = hitl_chain_link(&l->chain, st);
    t1 = hitl_mono_us();
    if (rc == 0) rc = st->vt->commit(st);
    if (rc) st->vt->rollback(st);
  }
  run_phase_over(l); /* When begin failed. */
  hitl_log(HITL_LOG_DEBUG, "msg=\"batch\" lane=%d jobs=%zu run_us=%lld commit_us=%lld", l->index,
           n, (long long)(t1 - t0), (long long)(hitl_mono_us() - t1));
  if (rc == 0) {
    if (l->chain.n_changes) c->on_commit(c->ctx, l->chain.changes, l->chain.n_changes);
    hitl_chain_committed(&l->chain);
    for (hitl_job *j = batch, *next; j; j = next) {
      next = j->next;
      j->done(j, j->rc);
    }
  }
  if (ordered) pthread_mutex_unlock(&c->order);
  return rc;
}

/* Takes the next batch off the queue (and every lazy job with it); NULL when the lane is to
 * end. Sets *n to its jobs. */
static hitl_job *next_batch(lane *l, size_t *n) {
  hitl_committer *c = l->c;
  bool sweeper = l->index == 0;
  pthread_mutex_lock(&c->lock);
  for (;;) {
    int64_t now = hitl_now_ms();
    bool lazy_due = c->lazy_head && (now >= c->lazy_due_at || c->n_lazy >= LAZY_MAX);
    if (c->stopping) break;
    bool due = c->head || lazy_due || (sweeper && now >= c->next_sweep_at);
    if (due && c->running == 0) break;
    int64_t at = sweeper ? c->next_sweep_at : now + IDLE_WAKE_MS;
    if (c->lazy_head && c->lazy_due_at < at) at = c->lazy_due_at;
    if (due || at < now) at = now + IDLE_WAKE_MS; /* Until the running lane signals. */
    struct timespec ts = {.tv_sec = at / 1000, .tv_nsec = (long)(at % 1000) * 1000000};
    pthread_cond_timedwait(&c->wake, &c->lock, &ts);
  }
  hitl_job *batch = c->head, *last = c->head;
  *n = batch ? 1 : 0;
  while (last && last->next && *n < MAX_BATCH) {
    last = last->next;
    (*n)++;
  }
  if (last) {
    c->head = last->next;
    if (c->head == NULL) c->tail = NULL;
    last->next = NULL;
  }
  /* Lazy jobs ride along with whatever commits now: they share its one durable commit. */
  if (c->lazy_head) {
    if (last)
      last->next = c->lazy_head;
    else
      batch = c->lazy_head;
    *n += c->n_lazy;
    c->lazy_head = c->lazy_tail = NULL;
    c->n_lazy = 0;
  }
  bool end = batch == NULL && c->stopping;
  if (!end && (batch || sweeper)) {
    l->running = true;
    c->running++;
  }
  pthread_mutex_unlock(&c->lock);
  if (end) *n = SIZE_MAX;
  return batch;
}

static void *writer_main(void *arg) {
  lane *l = arg;
  hitl_committer *c = l->c;
  char name[16];
  snprintf(name, sizeof name, l->index ? "hitl-writer%d" : "hitl-writer", l->index);
  pthread_setname_np(pthread_self(), name);
  for (;;) {
    size_t n = 0;
    hitl_job *batch = next_batch(l, &n);
    if (n == SIZE_MAX) break;
    if (batch == NULL && l->index != 0) continue; /* Woken for nothing: only lane 0 sweeps. */

    int rc = HITL_ERETRY;
    int64_t sweep_at = c->next_sweep_at;
    /* Another writer on the same database (a second node, or another lane) can make the
     * transaction fail with HITL_ERETRY (a serialization failure or a deadlock) although every
     * job could succeed: then nothing of it was stored, and the batch runs again from the
     * start, its jobs' results forgotten (a job's run() frees what an earlier run left). */
    for (int attempt = 1; rc == HITL_ERETRY && attempt <= MAX_ATTEMPTS; attempt++) {
      if (attempt > 1) {
        hitl_log(HITL_LOG_WARN, "msg=\"transaction lost a race, running it again\" attempt=%d",
                 attempt);
        hitl_chain_rolled_back(&l->chain);
        if (l->index == 0) c->next_sweep_at = sweep_at;
        for (hitl_job *j = batch; j; j = j->next) {
          j->rc = 0;
          memset(&j->err, 0, sizeof j->err);
        }
      }
      rc = run_batch(l, batch, n);
    }
    if (rc) {
      hitl_log(HITL_LOG_ERROR, "msg=\"transaction failed\" jobs=%zu rc=%d", n, rc);
      hitl_chain_rolled_back(&l->chain);
      /* The database may be away: the sweeper, which has no client to answer, tries again later
       * rather than at once (which spun the thread while the database was down). Jobs still
       * wake the writer as they come. */
      if (l->index == 0) c->next_sweep_at = hitl_now_ms() + FAILED_WAKE_MS;
      for (hitl_job *j = batch, *next; j; j = next) {
        next = j->next;
        if (j->rc == 0)
          j->rc = hitl_err_set(&j->err, HITL_EUNAVAILABLE, NULL,
                               "the database could not commit; nothing was stored, retry");
        j->done(j, j->rc);
      }
    }
  }
  return NULL;
}

hitl_committer *hitl__committer_start(hitl_store *const *stores, size_t lanes,
                                      hitl_commit_fn on_commit, hitl_precommit_fn before_commit,
                                      hitl_config_fn sweep_config, void *ctx) {
  hitl_committer *c = hitl_xcalloc(1, sizeof *c);
  c->on_commit = on_commit;
  c->before_commit = before_commit;
  c->sweep_config = sweep_config;
  c->ctx = ctx;
  pthread_mutex_init(&c->lock, NULL);
  pthread_mutex_init(&c->order, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_cond_init(&c->wake, &attr); /* CLOCK_REALTIME, matching next_sweep_at. */
  pthread_condattr_destroy(&attr);
  c->next_sweep_at = 0;
  c->n_lanes = lanes ? lanes : 1;
  c->lanes = hitl_xcalloc(c->n_lanes, sizeof *c->lanes);
  for (size_t i = 0; i < c->n_lanes; i++) {
    lane *l = &c->lanes[i];
    l->c = c;
    l->index = (int)i;
    l->store = stores[i];
    hitl_chain_init(&l->chain);
    hitl_chain_defer(&l->chain, true);
    /* The writer answers nothing before its commit and runs a batch again on HITL_ERETRY: what
     * the store may then defer is for it to defer. */
    l->store->vt->pipeline(l->store, true);
  }
  for (size_t i = 0; i < c->n_lanes; i++)
    pthread_create(&c->lanes[i].thread, NULL, writer_main, &c->lanes[i]);
  return c;
}

/* Takes the lock to queue job; when the committer is stopping, answers the job at once and
 * returns false without the lock. */
static bool lock_to_queue(hitl_committer *c, hitl_job *job) {
  job->next = NULL;
  job->rc = 0;
  pthread_mutex_lock(&c->lock);
  if (!c->stopping) return true;
  pthread_mutex_unlock(&c->lock);
  job->done(job, hitl_err_set(&job->err, HITL_EUNAVAILABLE, NULL, "the server is stopping"));
  return false;
}

void hitl__committer_enqueue(hitl_committer *c, hitl_job *job) {
  if (!lock_to_queue(c, job)) return;
  bool was_empty = c->head == NULL;
  if (c->tail)
    c->tail->next = job;
  else
    c->head = job;
  c->tail = job;
  /* The writer sleeps only on an empty queue; jobs added to a non-empty one are picked up with
   * it, so one wake-up per batch is enough. */
  if (was_empty) pthread_cond_signal(&c->wake);
  pthread_mutex_unlock(&c->lock);
}

bool hitl__committer_enqueue_lazy(hitl_committer *c, hitl_job *job, int max_delay_ms) {
  if (!lock_to_queue(c, job)) return false;
  bool first = c->lazy_head == NULL;
  if (c->lazy_tail)
    c->lazy_tail->next = job;
  else
    c->lazy_head = job;
  c->lazy_tail = job;
  c->n_lazy++;
  if (first) c->lazy_due_at = hitl_now_ms() + max_delay_ms;
  /* The writer may sleep until the next sweep: it must learn of the earlier deadline. */
  if (first || c->n_lazy >= LAZY_MAX) pthread_cond_signal(&c->wake);
  pthread_mutex_unlock(&c->lock);
  return true;
}

void hitl__committer_stop(hitl_committer *c) {
  if (c == NULL || c->stopped) return;
  pthread_mutex_lock(&c->lock);
  c->stopping = true;
  pthread_cond_broadcast(&c->wake);
  pthread_mutex_unlock(&c->lock);
  for (size_t i = 0; i < c->n_lanes; i++) pthread_join(c->lanes[i].thread, NULL);
  c->stopped = true;
  for (size_t i = 0; i < c->n_lanes; i++) {
    hitl_chain_free(&c->lanes[i].chain);
    hitl_store_close(c->lanes[i].store);
    c->lanes[i].store = NULL;
  }
}

void hitl__committer_free(hitl_committer *c) {
  if (c == NULL) return;
  hitl__committer_stop(c);
  pthread_mutex_destroy(&c->lock);
  pthread_mutex_destroy(&c->order);
  pthread_cond_destroy(&c->wake);
  free(c->lanes);
  free(c);
}
