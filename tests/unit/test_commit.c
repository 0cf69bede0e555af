/* SPDX-License-Identifier: MIT */
/* The committer (src/api/commit.c): a batch whose transaction lost a race with another writer
 * (HITL_ERETRY) runs again, so its jobs succeed; after too many losses they fail, storing nothing. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/commit.h"
#include "store/store.h"
#include "util/id.h"

/* ---- A SQLite store whose commits lose races ---- */

static const hitl_store_vtable *real_vt;
static hitl_store_vtable flaky_vt;
static int commits_to_lose; /* Written by the committer's thread only. */
/* Commits to lose once the job has run: armed by the job itself, so that a batch without it (the
 * sweep the writer runs as it starts, which may come before or after the job is queued) loses
 * none. Written before the committer starts, then by its thread only. */
static int lose_planned;

/* Rolls back and reports a lost race while commits_to_lose lasts, as PostgreSQL's backend does
 * after a deadlock. */
static int flaky_commit(hitl_store *s) {
  if (commits_to_lose > 0) {
    commits_to_lose--;
    real_vt->rollback(s);
    return HITL_ERETRY;
  }
  return real_vt->commit(s);
}

typedef struct fixture {
  char dir[256];
  char path[300];
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  const char *tmp = getenv("TMPDIR");
  snprintf(f->dir, sizeof f->dir, "%s/hitl-commit-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/hitl.db", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  char cmd[320];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
  assert_int_equal(system(cmd), 0);
  free(f);
  return 0;
}

static hitl_store *open_flaky(const char *path, int lose) {
  hitl_store *s = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl_store_open(path, &s, &err), 0);
  real_vt = s->vt;
  flaky_vt = *s->vt;
  flaky_vt.commit = flaky_commit;
  s->vt = &flaky_vt;
  commits_to_lose = 0;
  lose_planned = lose;
  return s;
}

/* ---- A job that stores a queue and its event ---- */

typedef struct queue_job {
  hitl_job job;
  int runs;
  bool done;
  int done_rc;
  pthread_mutex_t lock;
  pthread_cond_t cond;
} queue_job;

static int queue_run(hitl_job *job, hitl_txn *x) {
  queue_job *j = (queue_job *)job;
  j->runs++;
  if (lose_planned) {
    commits_to_lose = lose_planned;
    lose_planned = 0;
  }
  int64_t id = 0;
  bool created = false;
  int rc = x->store->vt->queue_put(x->store, "q", "{}", x->now, &id, &created);
  if (rc) return rc;
  hitl_event_spec spec = {.type = "queue.created", .queue = "q", .queue_id = id, .actor = "test",
                          .from_state = -1, .to_state = -1};
  return hitl_chain_append(x->chain, x->store, x->now, &spec);
}

static void queue_done(hitl_job *job, int rc) {
  queue_job *j = (queue_job *)job;
  pthread_mutex_lock(&j->lock);
  j->done = true;
  j->done_rc = rc;
  pthread_cond_signal(&j->cond);
  pthread_mutex_unlock(&j->lock);
}

static int commits_seen, changes_seen;

static void on_commit(void *ctx, const hitl_change *changes, size_t n) {
  (void)ctx;
  (void)changes;
  commits_seen++;
  changes_seen += (int)n;
}

static const hitl_queue_config *no_config(void *ctx, int64_t queue_id) {
  (void)ctx;
  (void)queue_id;
  return NULL;
}

/* Runs one queue job through a committer on a store that loses `lose` commits; returns the job's
 * runs and result. */
static void run_job(const char *path, int lose, int *runs, int *rc) {
  commits_seen = changes_seen = 0;
  hitl_store *st = open_flaky(path, lose);
  hitl_committer *c = hitl__committer_start(&st, 1, on_commit, NULL, no_config, NULL);
  queue_job j = {.job = {.run = queue_run, .done = queue_done}};
  pthread_mutex_init(&j.lock, NULL);
  pthread_cond_init(&j.cond, NULL);
  hitl__committer_enqueue(c, &j.job);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 30; /* Bounded: a committer that never answers fails the test. */
  pthread_mutex_lock(&j.lock);
  while (!j.done && pthread_cond_timedwait(&j.cond, &j.lock, &until) == 0) {
  }
  bool done = j.done;
  pthread_mutex_unlock(&j.lock);
  assert_true(done);
  hitl__committer_free(c);
  pthread_mutex_destroy(&j.lock);
  pthread_cond_destroy(&j.cond);
  *runs = j.runs;
  *rc = j.done_rc;
}

static void test_lost_race_runs_the_batch_again(void **state) {
  fixture *f = *state;
  int runs = 0, rc = -1;
  run_job(f->path, 2, &runs, &rc);
  assert_int_equal(rc, 0);
  assert_int_equal(runs, 3);
  assert_int_equal(commits_seen, 1); /* Only the commit that held reached the server. */
  assert_int_equal(changes_seen, 1);

  hitl_store *s = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl_store_open(f->path, &s, &err), 0);
  hitl_queue_row q;
  assert_int_equal(s->vt->queue_get(s, "q", &q), 0);
  hitl_queue_row_clear(&q);
  hitl_chain_report report;
  assert_int_equal(hitl_chain_verify(s, &report), 0);
  assert_int_equal(report.events, 1); /* The rolled-back runs left no event behind. */
  assert_int_equal(report.broken_seq, 0);
  hitl_store_close(s);
}

static void test_too_many_lost_races_fail_the_jobs(void **state) {
  fixture *f = *state;
  int runs = 0, rc = 0;
  run_job(f->path, 1000, &runs, &rc);
  assert_int_equal(rc, HITL_EUNAVAILABLE);
  assert_true(runs > 1);
  assert_true(runs < 10); /* Bounded. */
  assert_int_equal(commits_seen, 0);

  hitl_store *s = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl_store_open(f->path, &s, &err), 0);
  hitl_queue_row q;
  assert_int_equal(s->vt->queue_get(s, "q", &q), HITL_ENOT_FOUND);
  int64_t seq = -1;
  uint8_t hash[HITL_HASH_LEN];
  assert_int_equal(s->vt->event_last(s, &seq, hash), 0);
  assert_int_equal(seq, 0);
  hitl_store_close(s);
}

/* Waits (bounded: 10 s) until job j is done; returns whether it is. */
static bool wait_done(queue_job *j) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&j->lock);
  while (!j->done && pthread_cond_timedwait(&j->cond, &j->lock, &until) == 0) {
  }
  bool done = j->done;
  pthread_mutex_unlock(&j->lock);
  return done;
}

static void job_init(queue_job *j) {
  memset(j, 0, sizeof *j);
  j->job.run = queue_run;
  j->job.done = queue_done;
  pthread_mutex_init(&j->lock, NULL);
  pthread_cond_init(&j->cond, NULL);
}

/* Lazy jobs (heartbeats) ride along with the next transaction other jobs start, long before
 * their own deadline; alone, one runs once its deadline comes. */
static void test_lazy_jobs_ride_along(void **state) {
  fixture *f = *state;
  commits_seen = changes_seen = 0;
  hitl_store *st = open_flaky(f->path, 0);
  hitl_committer *c = hitl__committer_start(&st, 1, on_commit, NULL, no_config, NULL);
  enum { N = 10 };
  queue_job lazy[N], plain, alone;
  for (int i = 0; i < N; i++) {
    job_init(&lazy[i]);
    hitl__committer_enqueue_lazy(c, &lazy[i].job, 60000); /* A minute: never reached here. */
  }
  job_init(&plain);
  hitl__committer_enqueue(c, &plain.job);
  assert_true(wait_done(&plain));
  for (int i = 0; i < N; i++) {
    assert_true(wait_done(&lazy[i]));
    assert_int_equal(lazy[i].done_rc, 0);
  }
  assert_true(commits_seen <= 2); /* With the plain job (or the sweep), not one each. */
  assert_int_equal(changes_seen, N + 1);

  job_init(&alone);
  hitl__committer_enqueue_lazy(c, &alone.job, 100);
  assert_true(wait_done(&alone));
  assert_int_equal(alone.done_rc, 0);
  hitl__committer_free(c);
}

int main(void) {
  if (hitl_id_init() != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_lost_race_runs_the_batch_again, setup, teardown),
      cmocka_unit_test_setup_teardown(test_too_many_lost_races_fail_the_jobs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lazy_jobs_ride_along, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
