/* SPDX-License-Identifier: MIT */
/* Heartbeats answered from memory: a table of the ones not yet stored, and the writer job that
 * stores them all in one operation. At 10,000 runs each heartbeating every 10 s this is one
 * small write per second instead of a suspended request, a job and a savepoint per heartbeat
 * (bench/README.md, "Agent runs"). */
#include "api/heartbeats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xmalloc.h"

/* Heartbeats kept at most: at more than this many a second the writer is behind, and a
 * heartbeat takes the transaction path, which pushes back on its agent. */
#define MAX_PENDING 65536

struct hitl_heartbeats {
  hitl_committer *committer;
  pthread_mutex_t lock;
  hitl_run_touch *v; /* Not yet taken by a flush job. */
  size_t n, cap;
  bool queued;       /* A flush job is queued and has not yet taken v. */
  bool closed;       /* The writer refused a job: it is stopping; keep nothing more. */
};

/* The writer job that stores the heartbeats it takes. */
typedef struct flush_job {
  hitl_job job;
  hitl_heartbeats *h;
  hitl_run_touch *v; /* Taken from the table; kept for a run again after a lost race. */
  size_t n, cap;
  bool took;         /* run() has taken from the table at least once. */
} flush_job;

/* Moves what the table holds into the job; the next heartbeat queues a new job. */
static void take(flush_job *f) {
  hitl_heartbeats *h = f->h;
  pthread_mutex_lock(&h->lock);
  if (f->n == 0) { /* The usual case: take the array as it is. */
    free(f->v);
    f->v = h->v;
    f->n = h->n;
    f->cap = h->cap;
    h->v = NULL;
    h->n = h->cap = 0;
  } else if (h->n) { /* Run again after a lost race: what came meanwhile goes along. */
    if (f->n + h->n > f->cap) {
      f->cap = f->n + h->n;
      f->v = hitl_xrealloc(f->v, f->cap * sizeof *f->v);
    }
    memcpy(f->v + f->n, h->v, h->n * sizeof *h->v);
    f->n += h->n;
    h->n = 0;
  }
  h->queued = false;
  f->took = true;
  pthread_mutex_unlock(&h->lock);
}

static int flush_run(hitl_job *job, hitl_txn *x) {
  flush_job *f = (flush_job *)job;
  take(f);
  int rc = hitl_run_touch_apply(x, f->v, f->n);
  if (rc) hitl_err_set(&job->err, rc, NULL, "could not store the heartbeats");
  return rc;
}

static void flush_done(hitl_job *job, int rc) {
  flush_job *f = (flush_job *)job;
  if (!f->took) { /* Never ran (the writer is stopping, or the database failed): the table keeps
                   * its heartbeats, and the next one queues a job again. */
    pthread_mutex_lock(&f->h->lock);
    f->h->queued = false;
    pthread_mutex_unlock(&f->h->lock);
  }
  /* Already answered: a run whose heartbeat is lost here looks as if it had missed one, and its
   * next heartbeat brings it back should it be marked lost (docs/agents.md). */
  if (rc && f->n)
    hitl_log(HITL_LOG_WARN, "msg=\"heartbeats not stored\" runs=%zu rc=%d", f->n, rc);
  free(f->v);
  free(f);
}

hitl_heartbeats *hitl__heartbeats_new(hitl_committer *c) {
  hitl_heartbeats *h = hitl_xcalloc(1, sizeof *h);
  h->committer = c;
  pthread_mutex_init(&h->lock, NULL);
  return h;
}

bool hitl__heartbeats_add(hitl_heartbeats *h, const hitl_run_touch *t) {
  pthread_mutex_lock(&h->lock);
  if (h->closed || h->n >= MAX_PENDING) {
    pthread_mutex_unlock(&h->lock);
    return false;
  }
  if (h->n == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 256;
    h->v = hitl_xrealloc(h->v, h->cap * sizeof *h->v);
  }
  h->v[h->n++] = *t;
  bool queue = !h->queued;
  h->queued = true;
  pthread_mutex_unlock(&h->lock);
  if (queue) { /* Outside the lock: a stopping writer calls flush_done at once, which takes it. */
    flush_job *f = hitl_xcalloc(1, sizeof *f);
    f->h = h;
    f->job.run = flush_run;
    f->job.done = flush_done;
    if (!hitl__committer_enqueue_lazy(h->committer, &f->job, HITL_RUN_TOUCH_FLUSH_MS)) {
      pthread_mutex_lock(&h->lock);
      h->closed = true; /* Nobody would store it: the caller takes the transaction path. */
      pthread_mutex_unlock(&h->lock);
      return false;
    }
  }
  return true;
}

void hitl__heartbeats_free(hitl_heartbeats *h) {
  if (h == NULL) return;
  pthread_mutex_destroy(&h->lock);
  free(h->v);
  free(h);
}
