/* SPDX-License-Identifier: MIT */
/* The committer's writer lanes on PostgreSQL (src/api/commit.c): several lanes run transactions
 * side by side, each on its own connection; two lanes never lease one task; their commits apply
 * their changes one at a time in seq order and the chain verifies; a deadlock between two lanes
 * is answered by running a batch again, not by failing its jobs; jobs that come while a lane
 * runs its batch gather into the next one. Needs the test PostgreSQL
 * (HITL_TEST_PG, tests/pg_test.h). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "../pg_test.h"
#include "api/commit.h"
#include "core_fixture.h"

#define LANES 3
#define TASKS 60
#define WAIT_S 20 /* Bound of every wait: a lane that never comes fails the test. */

static const char *pg_server;
static const char queue_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":600}}";
static const char *const validator_roles[] = {"validator"};
static const hitl_actor rev = {.name = "rev", .roles = validator_roles, .n_roles = 1};

/* What the jobs and on_commit share; under lock. */
static struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int64_t last_seq;  /* The newest seq on_commit saw. */
  bool out_of_order; /* A commit's changes did not follow the last one's. */
  int events;        /* Changes on_commit saw. */
  int commits;       /* Calls of on_commit. */
  bool a_holds, b_holds; /* Steps of the two-lane tests. */
  struct lane_job *hold; /* A's job, whose commit step waits for B. */
  bool plain_ran;        /* A PLAIN job ran (test_jobs_gather_while_a_lane_runs). */
} shared = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, 0, 0, false, false,
              NULL, false};

/* Waits at most ms until *flag is set; returns it. Under shared.lock. */
static bool wait_for_ms(const bool *flag, long ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000;
  if (until.tv_nsec >= 1000000000) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000;
  }
  while (!*flag && pthread_cond_timedwait(&shared.cond, &shared.lock, &until) == 0) {
  }
  return *flag;
}

/* Waits (bounded by WAIT_S) until *flag is set. Under shared.lock. */
static bool wait_for(const bool *flag) { return wait_for_ms(flag, WAIT_S * 1000L); }

static void set_flag(bool *flag) {
  pthread_mutex_lock(&shared.lock);
  *flag = true;
  pthread_cond_broadcast(&shared.cond);
  pthread_mutex_unlock(&shared.lock);
}

static void on_commit(void *ctx, const hitl_change *changes, size_t n) {
  (void)ctx;
  pthread_mutex_lock(&shared.lock);
  for (size_t i = 0; i < n; i++) {
    if (changes[i].seq != shared.last_seq + 1) shared.out_of_order = true;
    shared.last_seq = changes[i].seq;
  }
  shared.events += (int)n;
  shared.commits++;
  pthread_mutex_unlock(&shared.lock);
}

static const hitl_queue_config *no_config(void *ctx, int64_t queue_id) {
  (void)ctx;
  (void)queue_id;
  return NULL;
}

typedef enum step { PLAIN, HOLD_A, HOLD_B, DEADLOCK_A, DEADLOCK_B, HOLD_RUN } step;

typedef struct lane_job {
  hitl_job job;
  const core_bench *b;
  bool submit;           /* Submits a task; else claims one. */
  step step;
  char lock_first[HITL_ID_LEN], lock_second[HITL_ID_LEN]; /* The deadlock steps' tasks. */
  int runs;
  int lane;
  hitl_task task;
  bool done;
  int done_rc;
} lane_job;

/* Waits (bounded) for *flag after setting *mine. */
static bool meet(bool *mine, const bool *flag) {
  set_flag(mine);
  pthread_mutex_lock(&shared.lock);
  bool ok = wait_for(flag);
  pthread_mutex_unlock(&shared.lock);
  return ok;
}

static int lane_job_run(hitl_job *job, hitl_txn *x) {
  lane_job *j = (lane_job *)job;
  j->runs++;
  j->lane = x->lane;
  if (j->step == PLAIN) set_flag(&shared.plain_ran);
  hitl_task_clear(&j->task);
  int rc;
  if (j->step == DEADLOCK_A) {
    /* Locks its first task and records an event; its commit step (before_commit) waits until B
     * holds the second task, then wants it while B wants the first: PostgreSQL ends one of the
     * two with a deadlock error. */
    rc = x->store->vt->task_get(x->store, j->lock_first, &j->task);
    if (rc) return rc;
    pthread_mutex_lock(&shared.lock);
    shared.hold = j->runs == 1 ? j : NULL;
    pthread_mutex_unlock(&shared.lock);
    hitl_event_spec spec = {.type = "test.locked", .actor = "test", .from_state = -1,
                            .to_state = -1};
    return hitl_chain_append(x->chain, x->store, x->now, &spec);
  }
  if (j->step == DEADLOCK_B) {
    rc = x->store->vt->task_get(x->store, j->lock_first, &j->task);
    hitl_task_clear(&j->task);
    if (rc) return rc;
    if (j->runs == 1) set_flag(&shared.b_holds);
    return x->store->vt->task_get(x->store, j->lock_second, &j->task);
  }
  if (j->submit) {
    hitl_task existing = {0};
    bool replayed = false;
    bench_task((core_bench *)j->b, &j->task, x->now);
    rc = hitl_task_submit(x, &j->task, "agent", &existing, &replayed, &job->err);
    hitl_task_clear(&existing);
    return rc;
  }
  rc = hitl_task_claim(x, j->b->q, j->b->queue_id, &rev, &j->task, &job->err);
  if (rc == 0 && j->step == HOLD_RUN && !meet(&shared.a_holds, &shared.b_holds))
    return HITL_EINTERNAL; /* The test fails on done_rc. */
  if (rc == 0 && j->step == HOLD_A) { /* Its commit step waits until B claimed. */
    pthread_mutex_lock(&shared.lock);
    shared.hold = j;
    pthread_mutex_unlock(&shared.lock);
  }
  if (rc == 0 && j->step == HOLD_B) set_flag(&shared.b_holds);
  return rc;
}

/* The committer's before_commit: the lane of the held job (A) holds the chain's lock and its
 * transaction is open; another lane runs the next batch meanwhile (B). A waits here until B got
 * as far as its step needs. */
static int before_commit(void *ctx, hitl_txn *x, const hitl_change *changes, size_t n) {
  (void)ctx;
  (void)changes;
  (void)n;
  pthread_mutex_lock(&shared.lock);
  lane_job *a = shared.hold && shared.hold->lane == x->lane ? shared.hold : NULL;
  shared.hold = NULL;
  pthread_mutex_unlock(&shared.lock);
  if (a == NULL) return 0;
  if (!meet(&shared.a_holds, &shared.b_holds)) return HITL_EINTERNAL; /* The test fails. */
  if (a->step != DEADLOCK_A) return 0;
  hitl_task_clear(&a->task);
  return x->store->vt->task_get(x->store, a->lock_second, &a->task);
}

static void lane_job_done(hitl_job *job, int rc) {
  lane_job *j = (lane_job *)job;
  pthread_mutex_lock(&shared.lock);
  j->done = true;
  j->done_rc = rc;
  pthread_cond_broadcast(&shared.cond);
  pthread_mutex_unlock(&shared.lock);
}

static void job_init(lane_job *j, const core_bench *b, bool submit, step s) {
  memset(j, 0, sizeof *j);
  j->job.run = lane_job_run;
  j->job.done = lane_job_done;
  j->b = b;
  j->submit = submit;
  j->step = s;
}

static bool wait_job(lane_job *j) {
  pthread_mutex_lock(&shared.lock);
  bool done = wait_for(&j->done);
  pthread_mutex_unlock(&shared.lock);
  return done;
}

typedef struct fixture {
  char url[512];
  core_bench b; /* Its store is the test's own connection; the queue and config live there. */
  hitl_committer *c;
} fixture;

static int setup(void **state) {
  fixture *f = hitl_xcalloc(1, sizeof *f);
  assert_int_equal(pg_test_create(pg_server, f->url, sizeof f->url), 0);
  hitl_err err = {0};
  memset(&f->b, 0, sizeof f->b);
  assert_int_equal(hitl_store_open(f->url, &f->b.s, &err), 0);
  hitl_chain_init(&f->b.chain);
  json_t *j = json_loads(queue_config, 0, NULL);
  assert_int_equal(hitl__queue_config_from_json(j, &f->b.q, &err), 0);
  json_decref(j);
  bool created = false;
  hitl_store *s = f->b.s;
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->queue_put(s, "q", f->b.q->json, 1000, &f->b.queue_id, &created), 0);
  assert_int_equal(s->vt->commit(s), 0);
  hitl_store *lanes[LANES];
  for (int i = 0; i < LANES; i++) assert_int_equal(hitl_store_open(f->url, &lanes[i], &err), 0);
  pthread_mutex_lock(&shared.lock);
  shared.last_seq = 0;
  shared.out_of_order = false;
  shared.events = shared.commits = 0;
  shared.a_holds = shared.b_holds = false;
  shared.hold = NULL;
  pthread_mutex_unlock(&shared.lock);
  f->c = hitl__committer_start(lanes, LANES, on_commit, before_commit, no_config, NULL);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  hitl__committer_free(f->c);
  hitl_store_close(f->b.s);
  hitl_chain_free(&f->b.chain);
  hitl_queue_config_free(f->b.q);
  pg_test_drop(pg_server, f->url);
  free(f);
  return 0;
}

/* Submits n tasks through the committer; their ids into ids (may be NULL). */
static void submit_tasks(fixture *f, int n, char (*ids)[HITL_ID_LEN]) {
  lane_job *jobs = hitl_xcalloc((size_t)n, sizeof *jobs);
  for (int i = 0; i < n; i++) {
    job_init(&jobs[i], &f->b, true, PLAIN);
    hitl__committer_enqueue(f->c, &jobs[i].job);
  }
  for (int i = 0; i < n; i++) {
    assert_true(wait_job(&jobs[i]));
    assert_int_equal(jobs[i].done_rc, 0);
    if (ids) memcpy(ids[i], jobs[i].task.id, HITL_ID_LEN);
    hitl_task_clear(&jobs[i].task);
  }
  free(jobs);
}

/* The chain as stored verifies, with this many events; on_commit saw them all, in seq order. */
static void chain_intact(fixture *f, int events) {
  hitl_chain_report report;
  assert_int_equal(hitl_chain_verify(f->b.s, &report), 0);
  assert_int_equal(report.broken_seq, 0);
  assert_int_equal(report.events, events);
  pthread_mutex_lock(&shared.lock);
  assert_false(shared.out_of_order);
  assert_int_equal(shared.events, events);
  pthread_mutex_unlock(&shared.lock);
}

/* Runs a, then b once a's batch holds the chain's lock and waits in its commit step (a's lane
 * is busy: b goes to another, which may start its batch once a's holds the lock); both succeed,
 * on two lanes. */
static void run_side_by_side(fixture *f, lane_job *a, lane_job *b) {
  hitl__committer_enqueue(f->c, &a->job);
  pthread_mutex_lock(&shared.lock);
  assert_true(wait_for(&shared.a_holds));
  pthread_mutex_unlock(&shared.lock);
  hitl__committer_enqueue(f->c, &b->job);
  assert_true(wait_job(a));
  assert_true(wait_job(b));
  assert_int_equal(a->done_rc, 0);
  assert_int_equal(b->done_rc, 0);
  assert_int_not_equal(a->lane, b->lane);
}

/* Lane A holds a claimed lease uncommitted (in its commit step) while lane B claims: B runs on
 * another lane at the same time and gets another task. Then many claims at once lease every task exactly once. */
static void test_lanes_never_lease_one_task_twice(void **state) {
  fixture *f = *state;
  submit_tasks(f, TASKS, NULL);
  lane_job a, b;
  job_init(&a, &f->b, false, HOLD_A);
  job_init(&b, &f->b, false, HOLD_B);
  run_side_by_side(f, &a, &b);
  assert_string_not_equal(a.task.id, b.task.id);

  enum { MORE = TASKS + 10 }; /* Ten more claims than tasks left: those find none. */
  lane_job *claims = hitl_xcalloc(MORE, sizeof *claims);
  for (int i = 0; i < MORE; i++) {
    job_init(&claims[i], &f->b, false, PLAIN);
    hitl__committer_enqueue(f->c, &claims[i].job);
  }
  int leased = 2, none = 0;
  for (int i = 0; i < MORE; i++) {
    assert_true(wait_job(&claims[i]));
    if (claims[i].done_rc == HITL_ENOT_FOUND) {
      none++;
      continue;
    }
    assert_int_equal(claims[i].done_rc, 0);
    assert_string_not_equal(claims[i].task.id, a.task.id);
    assert_string_not_equal(claims[i].task.id, b.task.id);
    for (int k = 0; k < i; k++)
      if (claims[k].done_rc == 0) assert_string_not_equal(claims[i].task.id, claims[k].task.id);
    leased++;
  }
  assert_int_equal(leased, TASKS);
  assert_int_equal(none, MORE - (TASKS - 2));
  for (int i = 0; i < MORE; i++) hitl_task_clear(&claims[i].task);
  free(claims);
  hitl_task_clear(&a.task);
  hitl_task_clear(&b.task);
  chain_intact(f, 2 * TASKS); /* One event per submit and per lease. */
}

/* Two lanes lock two tasks in opposite order (A the second one in its commit step): PostgreSQL
 * ends one transaction with a deadlock error (HITL_ERETRY), the committer runs that batch
 * again, and both jobs succeed. */
static void test_deadlock_between_lanes_runs_a_batch_again(void **state) {
  fixture *f = *state;
  char ids[2][HITL_ID_LEN];
  submit_tasks(f, 2, ids);
  lane_job a, b;
  job_init(&a, &f->b, false, DEADLOCK_A);
  memcpy(a.lock_first, ids[0], HITL_ID_LEN);
  memcpy(a.lock_second, ids[1], HITL_ID_LEN);
  job_init(&b, &f->b, false, DEADLOCK_B);
  memcpy(b.lock_first, ids[1], HITL_ID_LEN);
  memcpy(b.lock_second, ids[0], HITL_ID_LEN);
  run_side_by_side(f, &a, &b);
  assert_int_equal(a.runs + b.runs, 3); /* One of them ran again. */
  hitl_task_clear(&a.task);
  hitl_task_clear(&b.task);
  chain_intact(f, 3); /* Two submits and A's event. */
}

/* Jobs that come while a lane runs its batch's jobs go as one batch (one transaction, one
 * commit) once that lane holds the chain's lock: no idle lane starts the first of them alone. */
static void test_jobs_gather_while_a_lane_runs(void **state) {
  fixture *f = *state;
  submit_tasks(f, 1, NULL);
  pthread_mutex_lock(&shared.lock);
  int commits = shared.commits;
  pthread_mutex_unlock(&shared.lock);
  lane_job a, more[3];
  job_init(&a, &f->b, false, HOLD_RUN);
  hitl__committer_enqueue(f->c, &a.job);
  pthread_mutex_lock(&shared.lock);
  assert_true(wait_for(&shared.a_holds)); /* A's lane is running A. */
  pthread_mutex_unlock(&shared.lock);
  pthread_mutex_lock(&shared.lock);
  shared.plain_ran = false;
  pthread_mutex_unlock(&shared.lock);
  for (int i = 0; i < 3; i++) {
    job_init(&more[i], &f->b, true, PLAIN);
    hitl__committer_enqueue(f->c, &more[i].job);
    if (i == 0) {
      /* An idle lane that started at once would run it within milliseconds: give it 300 ms.
       * (A bound is the only way to see that something does not happen.) */
      pthread_mutex_lock(&shared.lock);
      bool ran = wait_for_ms(&shared.plain_ran, 300);
      pthread_mutex_unlock(&shared.lock);
      assert_false(ran);
    }
  }
  set_flag(&shared.b_holds);
  assert_true(wait_job(&a));
  assert_int_equal(a.done_rc, 0);
  for (int i = 0; i < 3; i++) {
    assert_true(wait_job(&more[i]));
    assert_int_equal(more[i].done_rc, 0);
    assert_int_equal(more[i].lane, more[0].lane);
    hitl_task_clear(&more[i].task);
  }
  hitl_task_clear(&a.task);
  pthread_mutex_lock(&shared.lock);
  assert_int_equal(shared.commits - commits, 2); /* A's, and one for the three. */
  pthread_mutex_unlock(&shared.lock);
  chain_intact(f, 5);
}

int main(void) {
  if (hitl_id_init() != 0) return 1;
  pg_server = pg_test_server_url();
  if (pg_server == NULL) {
    fprintf(stderr, "test_lanes: HITL_TEST_PG names no server (see tests/pg_test.h)\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_lanes_never_lease_one_task_twice, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deadlock_between_lanes_runs_a_batch_again, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_jobs_gather_while_a_lane_runs, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
