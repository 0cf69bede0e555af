/* SPDX-License-Identifier: MIT */
/* The writer thread: batches of queued jobs share one transaction and one durable commit. */
#include "api/commit.h"

#include "core/run_control.h"

#include <pthread.h>
#include <stdbool.h>
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

struct hitl_committer {
  hitl_store *store;
  hitl_chain chain;
  hitl_commit_fn on_commit;
  hitl_precommit_fn before_commit;
  hitl_config_fn sweep_config;
  void *ctx;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  hitl_job *head, *tail; /* Queued jobs, oldest first. */
  hitl_job *lazy_head, *lazy_tail; /* Lazy jobs (hitl__committer_enqueue_lazy), oldest first. */
  size_t n_lazy;
  int64_t lazy_due_at;   /* Wall-clock ms when the oldest lazy job must be run. */
  bool stopping;
  bool stopped; /* The thread has ended: enqueue fails at once. */
  int64_t next_sweep_at; /* Wall-clock ms. */
};

/* Runs the job in its own savepoint. A failing job's writes are undone; so are those of a job
 * whose savepoint would not close (it is answered with an error, so none of it may stay).
 * Returns non-zero when the savepoint could not be undone either: the transaction then holds
 * writes that nobody answers for, and the whole batch must be rolled back. */
static int run_one(hitl_committer *c, hitl_txn *x, hitl_job *job) {
  hitl_store *s = c->store;
  hitl_chain_op_begin(&c->chain);
  int rc = s->vt->op_begin(s);
  if (rc != 0) { /* HITL_EUNAVAILABLE when the database went away: a 503 to retry. */
    job->rc = hitl_err_set(&job->err, rc, NULL, "the database failed");
    return 0;
  }
  job->rc = job->run(job, x);
  if (job->rc == 0 && s->vt->op_end(s) == 0) return 0;
  if (job->rc == 0) job->rc = hitl_err_set(&job->err, HITL_ESTORE, NULL, "the database failed");
  hitl_chain_op_abort(&c->chain);
  return s->vt->op_abort(s);
}

/* Fires what is due in its own savepoint. Returns non-zero when a failed sweep could not be
 * undone (see run_one). */
static int sweep(hitl_committer *c, hitl_txn *x) {
  if (x->now < c->next_sweep_at) return 0;
  hitl_store *s = c->store;
  size_t n = 0;
  hitl_chain_op_begin(&c->chain);
  if (s->vt->op_begin(s) == 0) {
    int rc = hitl_task_sweep(x, c->sweep_config, c->ctx, SWEEP_LIMIT, &n);
    size_t n_runs = 0; /* Runs whose heartbeat is overdue become lost. */
    if (rc == 0) rc = hitl_run_sweep(x, SWEEP_LIMIT, &n_runs);
    if (rc == 0 && n_runs == SWEEP_LIMIT) n = SWEEP_LIMIT;
    if (rc == 0) rc = s->vt->op_end(s);
    if (rc) {
      hitl_chain_op_abort(&c->chain);
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

/* Runs the jobs of batch (n of them) and the sweeper in one transaction and commits it.
 * Returns 0 or the failure, the transaction rolled back. */
static int run_batch(hitl_committer *c, hitl_job *batch, size_t n) {
  hitl_txn x = {.store = c->store, .chain = &c->chain, .now = hitl_now_ms()};
  int64_t t0 = hitl_mono_us(), t1 = t0;
  int rc = c->store->vt->begin(c->store);
  if (rc == 0) {
    for (hitl_job *j = batch; j && rc == 0; j = j->next) rc = run_one(c, &x, j);
    if (rc == 0) rc = sweep(c, &x);
    /* The hook links the chain itself once it has read what it needs (hitl_chain_defer: the
     * chain's lock is taken there, as late as may be); a batch it did not link is linked here. */
    if (rc == 0 && c->before_commit && c->chain.n_changes)
      rc = c->before_commit(c->ctx, &x, c->chain.changes, c->chain.n_changes);
    if (rc == 0) rc = hitl_chain_link(&c->chain, c->store);
    t1 = hitl_mono_us();
    if (rc == 0) rc = c->store->vt->commit(c->store);
    if (rc) c->store->vt->rollback(c->store);
  }
  hitl_log(HITL_LOG_DEBUG, "msg=\"batch\" jobs=%zu run_us=%lld commit_us=%lld", n,
           (long long)(t1 - t0), (long long)(hitl_mono_us() - t1));
  return rc;
}

static void *writer_main(void *arg) {
  hitl_committer *c = arg;
  pthread_setname_np(pthread_self(), "hitl-writer");
  for (;;) {
    pthread_mutex_lock(&c->lock);
    for (;;) {
      int64_t now = hitl_now_ms();
      bool lazy_due = c->lazy_head && (now >= c->lazy_due_at || c->n_lazy >= LAZY_MAX);
      if (c->head || c->stopping || lazy_due || now >= c->next_sweep_at) break;
      int64_t at = c->next_sweep_at;
      if (c->lazy_head && c->lazy_due_at < at) at = c->lazy_due_at;
      struct timespec ts = {.tv_sec = at / 1000, .tv_nsec = (long)(at % 1000) * 1000000};
      pthread_cond_timedwait(&c->wake, &c->lock, &ts);
    }
    if (c->head == NULL && c->lazy_head == NULL && c->stopping) {
      pthread_mutex_unlock(&c->lock);
      break;
    }
    hitl_job *batch = c->head, *last = c->head;
    size_t n = batch ? 1 : 0;
    while (last && last->next && n < MAX_BATCH) {
      last = last->next;
      n++;
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
      n += c->n_lazy;
      c->lazy_head = c->lazy_tail = NULL;
      c->n_lazy = 0;
    }
    pthread_mutex_unlock(&c->lock);

    int rc = HITL_ERETRY;
    int64_t sweep_at = c->next_sweep_at;
    /* Another writer on the same database (a second node) can make the transaction fail with
     * HITL_ERETRY (a serialization failure or a deadlock) although every job could succeed:
     * then nothing of it was stored, and the batch runs again from the start, its jobs' results
     * forgotten (a job's run() frees what an earlier run left). */
    for (int attempt = 1; rc == HITL_ERETRY && attempt <= MAX_ATTEMPTS; attempt++) {
      if (attempt > 1) {
        hitl_log(HITL_LOG_WARN, "msg=\"transaction lost a race, running it again\" attempt=%d",
                 attempt);
        hitl_chain_rolled_back(&c->chain);
        c->next_sweep_at = sweep_at;
        for (hitl_job *j = batch; j; j = j->next) {
          j->rc = 0;
          memset(&j->err, 0, sizeof j->err);
        }
      }
      rc = run_batch(c, batch, n);
    }
    if (rc) {
      hitl_log(HITL_LOG_ERROR, "msg=\"transaction failed\" jobs=%zu rc=%d", n, rc);
      hitl_chain_rolled_back(&c->chain);
      /* The database may be away: the sweeper, which has no client to answer, tries again later
       * rather than at once (which spun the thread while the database was down). Jobs still
       * wake the writer as they come. */
      c->next_sweep_at = hitl_now_ms() + FAILED_WAKE_MS;
      for (hitl_job *j = batch; j; j = j->next)
        if (j->rc == 0)
          j->rc = hitl_err_set(&j->err, HITL_EUNAVAILABLE, NULL,
                               "the database could not commit; nothing was stored, retry");
    } else {
      if (c->chain.n_changes) c->on_commit(c->ctx, c->chain.changes, c->chain.n_changes);
      hitl_chain_committed(&c->chain);
    }
    for (hitl_job *j = batch, *next; j; j = next) {
      next = j->next;
      j->done(j, j->rc);
    }
  }
  return NULL;
}

hitl_committer *hitl__committer_start(hitl_store *store, hitl_commit_fn on_commit,
                                      hitl_precommit_fn before_commit, hitl_config_fn sweep_config,
                                      void *ctx) {
  hitl_committer *c = hitl_xcalloc(1, sizeof *c);
  c->store = store;
  c->on_commit = on_commit;
  c->before_commit = before_commit;
  c->sweep_config = sweep_config;
  c->ctx = ctx;
  hitl_chain_init(&c->chain);
  hitl_chain_defer(&c->chain, true);
  /* The writer answers nothing before its commit and runs a batch again on HITL_ERETRY: what
   * the store may then defer is for it to defer. */
  store->vt->pipeline(store, true);
  pthread_mutex_init(&c->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_cond_init(&c->wake, &attr); /* CLOCK_REALTIME, matching next_sweep_at. */
  pthread_condattr_destroy(&attr);
  c->next_sweep_at = 0;
  pthread_create(&c->thread, NULL, writer_main, c);
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
  pthread_cond_signal(&c->wake);
  pthread_mutex_unlock(&c->lock);
  pthread_join(c->thread, NULL);
  c->stopped = true;
  hitl_chain_free(&c->chain);
  hitl_store_close(c->store);
  c->store = NULL;
}

void hitl__committer_free(hitl_committer *c) {
  if (c == NULL) return;
  hitl__committer_stop(c);
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->wake);
  free(c);
}
