/* SPDX-License-Identifier: MIT */
/* Heartbeats stored together: a table of the ones not yet stored, each with its suspended
 * request and its answer, and the writer job that stores them all in one operation and then
 * answers them. At 10,000 runs each heartbeating every 10 s this is a few small writes a second
 * instead of a job and a savepoint per heartbeat (bench/README.md, "Agent runs"); every answer
 * still goes out only once its heartbeat is durable. */
#include "api/heartbeats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/server_internal.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* Heartbeats kept at most: at more than this many a second the writer is behind, and a
 * heartbeat takes the transaction path, which pushes back on its agent. */
#define MAX_PENDING 65536

/* One heartbeat waiting for its write: the touch, its suspended request and the answer. */
typedef struct pending {
  hitl_run_touch touch;
  hitl_request *req;
  hitl_buf answer;
} pending;

struct hitl_heartbeats {
  hitl_committer *committer;
  hitl_run_cache *runs; /* Or NULL. */
  pthread_mutex_t lock;
  pending *v; /* Not yet taken by a flush job. */
  size_t n, cap;
  bool queued;       /* A flush job is queued and has not yet taken v. */
  bool closed;       /* The writer refused a job: it is stopping; keep nothing more. */
};

/* The writer job that stores the heartbeats it takes. */
typedef struct flush_job {
  hitl_job job;
  hitl_heartbeats *h;
  pending *v; /* Taken from the table; kept for a run again after a lost race. */
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
  hitl_run_touch *touches = hitl_xmalloc((f->n ? f->n : 1) * sizeof *touches);
  for (size_t i = 0; i < f->n; i++) touches[i] = f->v[i].touch;
  int rc = hitl_run_touch_apply(x, touches, f->n);
  free(touches);
  if (rc) hitl_err_set(&job->err, rc, NULL, "could not store the heartbeats");
  return rc;
}

/* Answers every heartbeat of the job: its prepared answer once the write is durable (rc 0),
 * else the error, so that the agent sends it again. */
static void answer_all(flush_job *f, int rc, const hitl_err *err) {
  for (size_t i = 0; i < f->n; i++) {
    pending *p = &f->v[i];
    if (rc == 0 && f->h->runs) /* Durable: what heartbeats know of the run moves on too. */
      hitl__run_cache_touch(f->h->runs, p->touch.run_id, p->touch.at, p->touch.due_at);
    if (rc == 0)
      hitl__reply_buf(p->req, 200, &p->answer);
    else
      hitl__reply_err(p->req, err);
    hitl_buf_free(&p->answer);
    hitl__request_resume(p->req);
  }
}

static void flush_done(hitl_job *job, int rc) {
  flush_job *f = (flush_job *)job;
  if (!f->took) {
    /* Never ran (the writer is stopping, or the database failed): what the table holds is
     * answered with the error now, for no later job is sure to come. */
    take(f);
    if (rc == 0) rc = HITL_EUNAVAILABLE;
  }
  hitl_err err = job->err;
  if (rc && err.code == 0) hitl_err_set(&err, rc, NULL, "could not store the heartbeat");
  if (rc && f->n)
    hitl_log(HITL_LOG_WARN, "msg=\"heartbeats not stored\" runs=%zu rc=%d", f->n, rc);
  answer_all(f, rc, &err);
  free(f->v);
  free(f);
}

hitl_heartbeats *hitl__heartbeats_new(hitl_committer *c, hitl_run_cache *runs) {
  hitl_heartbeats *h = hitl_xcalloc(1, sizeof *h);
  h->committer = c;
  h->runs = runs;
  pthread_mutex_init(&h->lock, NULL);
  return h;
}

bool hitl__heartbeats_add(hitl_heartbeats *h, const hitl_run_touch *t, hitl_request *req,
                          hitl_buf *answer) {
  pthread_mutex_lock(&h->lock);
  if (h->closed || h->n >= MAX_PENDING) {
    pthread_mutex_unlock(&h->lock);
    return false;
  }
  if (h->n == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 256;
    h->v = hitl_xrealloc(h->v, h->cap * sizeof *h->v);
  }
  h->v[h->n++] = (pending){.touch = *t, .req = req, .answer = *answer};
  *answer = (hitl_buf)HITL_BUF_INIT;
  bool queue = !h->queued;
  h->queued = true;
  pthread_mutex_unlock(&h->lock);
  if (queue) { /* Outside the lock: a stopping writer calls flush_done at once, which takes it. */
    flush_job *f = hitl_xcalloc(1, sizeof *f);
    f->h = h;
    f->job.run = flush_run;
    f->job.done = flush_done;
    if (!hitl__committer_enqueue_lazy(h->committer, &f->job, HITL_RUN_TOUCH_FLUSH_MS)) {
      /* The writer is stopping: flush_done has answered what the table held, req included. */
      pthread_mutex_lock(&h->lock);
      h->closed = true;
      pthread_mutex_unlock(&h->lock);
    }
  }
  return true;
}

void hitl__heartbeats_free(hitl_heartbeats *h) {
  if (h == NULL) return;
  pthread_mutex_destroy(&h->lock);
  for (size_t i = 0; i < h->n; i++) hitl_buf_free(&h->v[i].answer); /* None: see flush_done. */
  free(h->v);
  free(h);
}
