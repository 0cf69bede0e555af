/* SPDX-License-Identifier: MIT */
/* The store contract suite: written against the vtable only, so every backend passes the same.
 * Run without arguments it tests SQLite; with "postgres" it tests PostgreSQL on the server named
 * by HITL_TEST_PG (tests/pg_test.h), each case in a database of its own. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../pg_test.h"
#include "core/chain.h"
#include "store/store.h"
#include "util/id.h"
#include "util/xmalloc.h"

/* ---- Fixture: a fresh database file in a new temporary directory, or a new PG database ---- */

/* The PostgreSQL server under test; NULL when testing SQLite. */
static const char *pg_server;

typedef struct fixture {
  char dir[256];
  char path[512]; /* The database file, or the URL of the database. */
  hitl_store *s;
  int64_t q1, q2; /* Two queues every test may use. */
} fixture;

static hitl_store *open_store(const char *path) {
  hitl_store *s = NULL;
  hitl_err err = {0};
  int rc = hitl_store_open(path, &s, &err);
  if (rc != 0) fprintf(stderr, "open %s: %s\n", path, err.message);
  assert_int_equal(rc, 0);
  assert_non_null(s);
  assert_int_equal(s->vt->version, HITL_STORE_VERSION);
  return s;
}

static int setup(void **state) {
  fixture *f = hitl_xcalloc(1, sizeof *f);
  if (pg_server) {
    assert_int_equal(pg_test_create(pg_server, f->path, sizeof f->path), 0);
  } else {
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/hitl-store-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/hitl.db", f->dir);
  }
  f->s = open_store(f->path);
  bool created = false;
  assert_int_equal(f->s->vt->begin(f->s), 0);
  assert_int_equal(f->s->vt->queue_put(f->s, "alpha", "{}", 1000, &f->q1, &created), 0);
  assert_int_equal(f->s->vt->queue_put(f->s, "beta", "{}", 1000, &f->q2, &created), 0);
  assert_int_equal(f->s->vt->commit(f->s), 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  hitl_store_close(f->s);
  if (pg_server) {
    pg_test_drop(pg_server, f->path);
    free(f);
    return 0;
  }
  static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    char p[600];
    snprintf(p, sizeof p, "%s%s", f->path, suffixes[i]);
    unlink(p);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

/* A pending task with only the required fields set; strings owned by the struct. */
static void make_task(hitl_task *t, int64_t queue_id, int priority, int64_t now) {
  memset(t, 0, sizeof *t);
  hitl_id_new("t", t->id);
  t->queue_id = queue_id;
  t->state = HITL_TASK_PENDING;
  t->priority = priority;
  t->created_at = now;
  t->updated_at = now;
  t->needed = 1;
  t->payload = hitl_xstrdup("{\"input\":{}}");
}

/* Inserts a task inside its own transaction and returns its seq. */
static int64_t insert_task(hitl_store *s, hitl_task *t) {
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->task_insert(s, t), 0);
  assert_int_equal(s->vt->commit(s), 0);
  assert_true(t->seq > 0);
  return t->seq;
}

/* task_scan with the filters of a plain list: a queue, a state (-1: any), a cursor. */
static int scan(hitl_store *s, int64_t queue_id, int state, int64_t before_seq, size_t limit,
                hitl_task **out, size_t *n) {
  hitl_task_scan f = {.queue_id = queue_id, .state = state, .before_seq = before_seq};
  return s->vt->task_scan(s, &f, limit, out, n);
}

static void update_task(hitl_store *s, const hitl_task *t) {
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->task_update(s, t), 0);
  assert_int_equal(s->vt->commit(s), 0);
}

static void assert_str_or_null(const char *got, const char *want) {
  if (want == NULL)
    assert_null(got);
  else
    assert_string_equal(got, want);
}

static void assert_task_equal(const hitl_task *got, const hitl_task *want) {
  assert_int_equal(got->seq, want->seq);
  assert_string_equal(got->id, want->id);
  assert_int_equal(got->queue_id, want->queue_id);
  assert_int_equal(got->state, want->state);
  assert_str_or_null(got->role, want->role);
  assert_int_equal(got->priority, want->priority);
  assert_int_equal(got->created_at, want->created_at);
  assert_int_equal(got->updated_at, want->updated_at);
  assert_int_equal(got->deadline_at, want->deadline_at);
  assert_str_or_null(got->idempotency_key, want->idempotency_key);
  assert_memory_equal(got->body_hash, want->body_hash, HITL_HASH_LEN);
  assert_str_or_null(got->external_id, want->external_id);
  assert_str_or_null(got->model_version, want->model_version);
  assert_str_or_null(got->inference_id, want->inference_id);
  assert_str_or_null(got->run_id, want->run_id);
  assert_int_equal(got->has_confidence, want->has_confidence);
  assert_true(got->confidence == want->confidence);
  assert_str_or_null(got->payload, want->payload);
  assert_str_or_null(got->route, want->route);
  assert_int_equal(got->stage, want->stage);
  assert_int_equal(got->needed, want->needed);
  assert_int_equal(got->answers, want->answers);
  assert_string_equal(got->lease_id, want->lease_id);
  assert_str_or_null(got->lease_owner, want->lease_owner);
  assert_int_equal(got->lease_expires_at, want->lease_expires_at);
  assert_str_or_null(got->decision, want->decision);
  assert_str_or_null(got->decided_by, want->decided_by);
  assert_int_equal(got->decided_at, want->decided_at);
  assert_str_or_null(got->submitted_by, want->submitted_by);
  assert_int_equal(got->timeout_action, want->timeout_action);
}

static void free_tasks(hitl_task *v, size_t n) {
  for (size_t i = 0; i < n; i++) hitl_task_clear(&v[i]);
  free(v);
}

/* ---- Opening ---- */

static void test_open_rejects_bad_locations(void **state) {
  (void)state;
  hitl_store *s = (hitl_store *)1;
  hitl_err err = {0};
  /* Nothing listens on port 1: the connection is refused at once, and the password stays out
   * of the message. */
  assert_int_equal(hitl_store_open("postgres://u:secret@127.0.0.1:1/hitl", &s, &err),
                   HITL_ESTORE);
  assert_null(s);
  assert_non_null(strstr(err.message, "postgres://u@127.0.0.1:1/hitl"));
  assert_null(strstr(err.message, "secret"));
  assert_int_equal(hitl_store_open("postgresql://u@127.0.0.1:1/d", &s, &err), HITL_ESTORE);
  assert_int_equal(hitl_store_open("", &s, &err), HITL_EVALIDATION);
  memset(&err, 0, sizeof err);
  assert_int_equal(hitl_store_open("/nonexistent-dir-hitl/sub/hitl.db", &s, &err), HITL_ESTORE);
  assert_null(s);
  assert_true(err.message[0] != '\0');
}

/* ---- Queues ---- */

static void test_queue_put_get_list_replace(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  assert_int_not_equal(f->q1, f->q2);

  int64_t id = 0;
  bool created = false;
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->queue_put(s, "aardvark", "{\"v\":1}", 2000, &id, &created), 0);
  assert_true(created);
  int64_t first = id;
  assert_int_equal(s->vt->queue_put(s, "aardvark", "{\"v\":2}", 3000, &id, &created), 0);
  assert_false(created);
  assert_int_equal(id, first);
  assert_int_equal(s->vt->commit(s), 0);

  hitl_queue_row q;
  assert_int_equal(s->vt->queue_get(s, "aardvark", &q), 0);
  assert_int_equal(q.id, first);
  assert_string_equal(q.name, "aardvark");
  assert_string_equal(q.config, "{\"v\":2}");
  assert_int_equal(q.created_at, 2000);
  assert_int_equal(q.updated_at, 3000);
  hitl_queue_row_clear(&q);
  assert_null(q.name);

  assert_int_equal(s->vt->queue_get(s, "nope", &q), HITL_ENOT_FOUND);
  hitl_queue_row_clear(&q);

  hitl_queue_row *rows = NULL;
  size_t n = 0;
  assert_int_equal(s->vt->queue_list(s, &rows, &n), 0);
  assert_int_equal(n, 3);
  assert_string_equal(rows[0].name, "aardvark");
  assert_string_equal(rows[1].name, "alpha");
  assert_string_equal(rows[2].name, "beta");
  assert_int_equal(rows[1].id, f->q1);
  for (size_t i = 0; i < n; i++) hitl_queue_row_clear(&rows[i]);
  free(rows);
}

static void test_queue_stats(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  hitl_queue_stats st;
  assert_int_equal(s->vt->queue_stats(s, f->q1, &st), 0);
  for (int i = 0; i < HITL_TASK_NSTATES; i++) assert_int_equal(st.by_state[i], 0);
  assert_int_equal(st.oldest_pending_at, 0);
  int64_t oldest = -1;
  assert_int_equal(s->vt->queue_oldest_pending(s, f->q1, &oldest), 0);
  assert_int_equal(oldest, 0);

  static const struct {
    hitl_task_state state;
    const char *by;
    int64_t at;
  } rows[] = {{HITL_TASK_PENDING, NULL, 500},  {HITL_TASK_PENDING, NULL, 600},
              {HITL_TASK_LEASED, NULL, 400},   {HITL_TASK_DECIDED, "policy", 100},
              {HITL_TASK_DECIDED, "human", 1}, {HITL_TASK_DECIDED, "human", 2},
              {HITL_TASK_EXPIRED, "sla", 3}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    hitl_task t;
    make_task(&t, f->q1, 0, rows[i].at);
    t.state = rows[i].state;
    t.decided_by = hitl_xstrdup(rows[i].by);
    insert_task(s, &t);
    hitl_task_clear(&t);
  }
  hitl_task other; /* Another queue's task counts only there. */
  make_task(&other, f->q2, 0, 1);
  insert_task(s, &other);
  hitl_task_clear(&other);

  assert_int_equal(s->vt->queue_stats(s, f->q1, &st), 0);
  assert_int_equal(st.by_state[HITL_TASK_PENDING], 2);
  assert_int_equal(st.by_state[HITL_TASK_LEASED], 1);
  assert_int_equal(st.by_state[HITL_TASK_DECIDED], 3);
  assert_int_equal(st.by_state[HITL_TASK_EXPIRED], 1);
  assert_int_equal(st.by_state[HITL_TASK_CANCELLED], 0);
  assert_int_equal(st.oldest_pending_at, 500);
  assert_int_equal(s->vt->queue_oldest_pending(s, f->q1, &oldest), 0);
  assert_int_equal(oldest, 500); /* The leased task of 400 is not pending. */
  assert_int_equal(st.decided_policy, 1);
  assert_int_equal(st.decided_human, 2);
  assert_int_equal(st.decided_consensus, 0);
  assert_int_equal(st.decided_sla, 1);

  /* Counts follow updates: the oldest pending task is leased, then decided by a person; a
   * change of priority alone moves nothing. */
  hitl_task *pending = NULL;
  size_t n = 0;
  assert_int_equal(scan(s, f->q1, HITL_TASK_PENDING, 0, 10, &pending, &n), 0);
  assert_int_equal(n, 2);
  hitl_task *t = &pending[1]; /* Newest first: [1] is the oldest. */
  assert_int_equal(t->created_at, 500);
  t->priority = 9;
  update_task(s, t);
  t->state = HITL_TASK_LEASED;
  update_task(s, t);
  t->state = HITL_TASK_DECIDED;
  t->decided_by = hitl_xstrdup("human");
  update_task(s, t);
  free_tasks(pending, n);
  assert_int_equal(s->vt->queue_stats(s, f->q1, &st), 0);
  assert_int_equal(st.by_state[HITL_TASK_PENDING], 1);
  assert_int_equal(st.by_state[HITL_TASK_LEASED], 1);
  assert_int_equal(st.by_state[HITL_TASK_DECIDED], 4);
  assert_int_equal(st.decided_human, 3);
  assert_int_equal(st.oldest_pending_at, 600);
  assert_int_equal(s->vt->queue_stats(s, f->q2, &st), 0);
  assert_int_equal(st.by_state[HITL_TASK_PENDING], 1);

  assert_int_equal(s->vt->queue_stats(s, 999999, &st), HITL_ENOT_FOUND);
}

/* ---- Tasks ---- */

static void test_task_roundtrip_every_field(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;

  hitl_task full;
  make_task(&full, f->q1, 7, 1111);
  full.state = HITL_TASK_LEASED;
  full.role = hitl_xstrdup("validator");
  full.updated_at = 2222;
  full.deadline_at = 3333;
  full.idempotency_key = hitl_xstrdup("key-1");
  hitl_hash("body", 4, full.body_hash);
  full.external_id = hitl_xstrdup("ext-1");
  full.model_version = hitl_xstrdup("m-2");
  full.inference_id = hitl_xstrdup("inf-3");
  full.run_id = hitl_xstrdup("run-4");
  full.has_confidence = true;
  full.confidence = 0.0; /* Present and zero: must not come back as absent. */
  full.route = hitl_xstrdup("{\"rule\":\"low\",\"trace\":[]}");
  full.stage = 1;
  full.needed = 3;
  full.answers = 2;
  hitl_id_new("l", full.lease_id);
  full.lease_owner = hitl_xstrdup("alice");
  full.lease_expires_at = 4444;
  full.decision = hitl_xstrdup("{\"verdict\":\"approve\"}");
  full.decided_by = hitl_xstrdup("human");
  full.decided_at = 5555;
  full.submitted_by = hitl_xstrdup("agent-7");
  full.timeout_action = 3; /* 1 + HITL_SLA_REJECT: a task's own deadline. */
  insert_task(s, &full);

  hitl_task bare; /* Every optional field absent. */
  make_task(&bare, f->q2, 0, 10);
  free(bare.payload);
  bare.payload = NULL;
  insert_task(s, &bare);
  assert_true(bare.seq > full.seq);

  hitl_task got;
  assert_int_equal(s->vt->task_get(s, full.id, &got), 0);
  assert_task_equal(&got, &full);
  assert_string_equal(got.queue, "alpha");
  hitl_task_clear(&got);

  assert_int_equal(s->vt->task_get(s, bare.id, &got), 0);
  assert_task_equal(&got, &bare);
  assert_false(got.has_confidence);
  assert_string_equal(got.lease_id, "");
  assert_string_equal(got.queue, "beta");
  hitl_task_clear(&got);

  /* Update every mutable field, including back to NULL / empty. */
  full.state = HITL_TASK_PENDING;
  free(full.role);
  full.role = NULL;
  full.priority = -3;
  full.stage = 0;
  full.needed = 1;
  full.answers = 0;
  full.lease_id[0] = '\0';
  free(full.lease_owner);
  full.lease_owner = NULL;
  full.lease_expires_at = 0;
  full.deadline_at = 0;
  free(full.decision);
  full.decision = NULL;
  free(full.decided_by);
  full.decided_by = NULL;
  full.decided_at = 0;
  full.updated_at = 9999;
  update_task(s, &full);
  assert_int_equal(s->vt->task_get(s, full.id, &got), 0);
  assert_task_equal(&got, &full);
  hitl_task_clear(&got);

  /* And to set values again, with a non-zero confidence on the untouched side. */
  bare.state = HITL_TASK_DECIDED;
  bare.role = hitl_xstrdup("arbiter");
  bare.decision = hitl_xstrdup("{\"verdict\":\"reject\"}");
  bare.decided_by = hitl_xstrdup("consensus");
  bare.decided_at = 77;
  bare.updated_at = 77;
  update_task(s, &bare);
  assert_int_equal(s->vt->task_get(s, bare.id, &got), 0);
  assert_task_equal(&got, &bare);
  hitl_task_clear(&got);

  /* Unknown task: not found, nothing changed. */
  assert_int_equal(s->vt->task_get(s, "t_missing", &got), HITL_ENOT_FOUND);
  hitl_task ghost;
  make_task(&ghost, f->q1, 0, 1);
  ghost.seq = 424242;
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->task_update(s, &ghost), HITL_ENOT_FOUND);
  assert_int_equal(s->vt->commit(s), 0);
  hitl_task_clear(&ghost);

  hitl_task_clear(&full);
  hitl_task_clear(&bare);
}

static void test_task_confidence_values(void **state) {
  fixture *f = *state;
  hitl_task t;
  make_task(&t, f->q1, 0, 1);
  t.has_confidence = true;
  t.confidence = 0.8125;
  insert_task(f->s, &t);
  hitl_task got;
  assert_int_equal(f->s->vt->task_get(f->s, t.id, &got), 0);
  assert_true(got.has_confidence);
  assert_true(got.confidence == 0.8125);
  hitl_task_clear(&got);
  hitl_task_clear(&t);
}

static void test_task_insert_conflicts(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  hitl_task a, b, c, d, e, got;
  make_task(&a, f->q1, 0, 1);
  a.idempotency_key = hitl_xstrdup("k");
  hitl_hash("A", 1, a.body_hash);
  insert_task(s, &a);

  assert_int_equal(s->vt->task_get_idempotent(s, f->q1, NULL, "k", &got), 0);
  assert_string_equal(got.id, a.id);
  assert_memory_equal(got.body_hash, a.body_hash, HITL_HASH_LEN);
  hitl_task_clear(&got);
  assert_int_equal(s->vt->task_get_idempotent(s, f->q2, NULL, "k", &got), HITL_ENOT_FOUND);
  assert_int_equal(s->vt->task_get_idempotent(s, f->q1, NULL, "other", &got), HITL_ENOT_FOUND);

  /* Same key in the same queue: a conflict that undoes only its own operation. */
  make_task(&b, f->q1, 0, 2);
  b.idempotency_key = hitl_xstrdup("k");
  make_task(&c, f->q2, 0, 3); /* Same key, another queue: allowed. */
  c.idempotency_key = hitl_xstrdup("k");
  make_task(&d, f->q1, 0, 4); /* No key: any number allowed. */
  make_task(&e, f->q1, 0, 5);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->op_begin(s), 0);
  assert_int_equal(s->vt->task_insert(s, &b), HITL_ECONFLICT);
  assert_int_equal(s->vt->op_abort(s), 0);
  assert_int_equal(s->vt->task_insert(s, &c), 0);
  assert_int_equal(s->vt->task_insert(s, &d), 0);
  assert_int_equal(s->vt->task_insert(s, &e), 0);
  /* Same public id: a conflict too. */
  hitl_task dup;
  make_task(&dup, f->q2, 0, 6);
  memcpy(dup.id, a.id, sizeof dup.id);
  assert_int_equal(s->vt->op_begin(s), 0);
  assert_int_equal(s->vt->task_insert(s, &dup), HITL_ECONFLICT);
  assert_int_equal(s->vt->op_abort(s), 0);
  hitl_task_clear(&dup);
  assert_int_equal(s->vt->commit(s), 0);

  assert_int_equal(s->vt->task_get(s, b.id, &got), HITL_ENOT_FOUND);
  assert_int_equal(s->vt->task_get_idempotent(s, f->q1, NULL, "k", &got), 0);
  assert_string_equal(got.id, a.id);
  hitl_task_clear(&got);
  assert_int_equal(s->vt->task_get_idempotent(s, f->q2, NULL, "k", &got), 0);
  assert_string_equal(got.id, c.id);
  hitl_task_clear(&got);
  assert_int_equal(s->vt->task_get(s, e.id, &got), 0);
  hitl_task_clear(&got);

  /* A task of a queue that does not exist is refused. */
  hitl_task orphan;
  make_task(&orphan, 987654, 0, 1);
  assert_int_equal(s->vt->begin(s), 0);
  assert_true(s->vt->task_insert(s, &orphan) < 0);
  assert_int_equal(s->vt->rollback(s), 0);
  assert_int_equal(s->vt->task_get(s, orphan.id, &got), HITL_ENOT_FOUND);
  hitl_task_clear(&orphan);

  hitl_task_clear(&a);
  hitl_task_clear(&b);
  hitl_task_clear(&c);
  hitl_task_clear(&d);
  hitl_task_clear(&e);
}

/* Idempotency keys belong to their submitter: two tokens may use the same key in one queue,
 * each finds only its own task, and the same token's second use is a conflict. */
static void test_idempotency_key_per_submitter(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  hitl_task a, b, again, got;
  make_task(&a, f->q1, 0, 1);
  a.idempotency_key = hitl_xstrdup("shared");
  a.submitted_by = hitl_xstrdup("agent-a");
  make_task(&b, f->q1, 0, 2);
  b.idempotency_key = hitl_xstrdup("shared");
  b.submitted_by = hitl_xstrdup("agent-b");
  make_task(&again, f->q1, 0, 3);
  again.idempotency_key = hitl_xstrdup("shared");
  again.submitted_by = hitl_xstrdup("agent-a");
  assert_int_equal(s->vt->task_get_idempotent(s, f->q1, "agent-b", "shared", &got), HITL_ENOT_FOUND);
  insert_task(s, &a);
  assert_int_equal(s->vt->task_get_idempotent(s, f->q1, "agent-b", "shared", &got), HITL_ENOT_FOUND);
  assert_int_equal(s->vt->task_get_idempotent(s, f->q1, NULL, "shared", &got), HITL_ENOT_FOUND);
  insert_task(s, &b);
  assert_int_equal(s->vt->task_get_idempotent(s, f->q1, "agent-a", "shared", &got), 0);
  assert_string_equal(got.id, a.id);
  hitl_task_clear(&got);
  assert_int_equal(s->vt->task_get_idempotent(s, f->q1, "agent-b", "shared", &got), 0);
  assert_string_equal(got.id, b.id);
  hitl_task_clear(&got);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->op_begin(s), 0);
  assert_int_equal(s->vt->task_insert(s, &again), HITL_ECONFLICT);
  assert_int_equal(s->vt->op_abort(s), 0);
  assert_int_equal(s->vt->commit(s), 0);
  hitl_task_clear(&a);
  hitl_task_clear(&b);
  hitl_task_clear(&again);
}

/* Claims for f and returns the id in out ("" when none). */
static void claim(hitl_store *s, const hitl_claim_filter *f, char out[HITL_ID_LEN]) {
  hitl_task t;
  int rc = s->vt->task_claim_next(s, f, &t);
  if (rc == HITL_ENOT_FOUND) {
    out[0] = '\0';
    return;
  }
  assert_int_equal(rc, 0);
  assert_int_equal(t.state, HITL_TASK_PENDING);
  assert_int_equal(t.queue_id, f->queue_id);
  memcpy(out, t.id, HITL_ID_LEN);
  hitl_task_clear(&t);
}

static void set_state(hitl_store *s, const char *id, hitl_task_state state) {
  hitl_task t;
  assert_int_equal(s->vt->task_get(s, id, &t), 0);
  t.state = state;
  update_task(s, &t);
  hitl_task_clear(&t);
}

static void test_claim_order(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  static const int prio[] = {0, 5, 5, 1};
  hitl_task t[4];
  for (int i = 0; i < 4; i++) {
    make_task(&t[i], f->q1, prio[i], 100 + i);
    insert_task(s, &t[i]);
  }
  hitl_task high_other; /* Another queue's task never shows. */
  make_task(&high_other, f->q2, 100, 1);
  insert_task(s, &high_other);
  hitl_task decided; /* Nor does one that is not pending. */
  make_task(&decided, f->q1, 50, 1);
  decided.state = HITL_TASK_DECIDED;
  insert_task(s, &decided);

  hitl_claim_filter cf = {.queue_id = f->q1, .reviewer = "alice", .any_role = true};
  char id[HITL_ID_LEN];
  static const int want[] = {1, 2, 3, 0};
  for (int i = 0; i < 4; i++) {
    claim(s, &cf, id);
    assert_string_equal(id, t[want[i]].id);
    set_state(s, id, HITL_TASK_LEASED);
  }
  claim(s, &cf, id);
  assert_string_equal(id, "");

  /* Back to pending: served again, in order. */
  set_state(s, t[3].id, HITL_TASK_PENDING);
  set_state(s, t[2].id, HITL_TASK_PENDING);
  claim(s, &cf, id);
  assert_string_equal(id, t[2].id);

  for (int i = 0; i < 4; i++) hitl_task_clear(&t[i]);
  hitl_task_clear(&high_other);
  hitl_task_clear(&decided);
}

static void test_claim_roles(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  hitl_task arb, val, any;
  make_task(&arb, f->q1, 10, 1);
  arb.role = hitl_xstrdup("arbiter");
  make_task(&val, f->q1, 5, 2);
  val.role = hitl_xstrdup("validator");
  make_task(&any, f->q1, 1, 3);
  insert_task(s, &arb);
  insert_task(s, &val);
  insert_task(s, &any);

  char id[HITL_ID_LEN];
  const char *validator[] = {"validator"};
  const char *annotator[] = {"annotator"};
  const char *both[] = {"annotator", "arbiter"};
  const char *tricky[] = {"validator,arbiter", "", "arb"}; /* Malformed roles match nothing. */
  hitl_claim_filter cf = {.queue_id = f->q1, .reviewer = "bob"};

  cf.roles = validator, cf.n_roles = 1;
  claim(s, &cf, id);
  assert_string_equal(id, val.id);
  cf.roles = annotator, cf.n_roles = 1;
  claim(s, &cf, id);
  assert_string_equal(id, any.id);
  cf.roles = NULL, cf.n_roles = 0;
  claim(s, &cf, id);
  assert_string_equal(id, any.id);
  cf.roles = both, cf.n_roles = 2;
  claim(s, &cf, id);
  assert_string_equal(id, arb.id);
  cf.roles = tricky, cf.n_roles = 3;
  claim(s, &cf, id);
  assert_string_equal(id, any.id);
  cf.roles = annotator, cf.n_roles = 1, cf.any_role = true;
  claim(s, &cf, id);
  assert_string_equal(id, arb.id);

  /* Only role-restricted tasks left and a caller without the role: none. */
  set_state(s, any.id, HITL_TASK_CANCELLED);
  cf.any_role = false;
  claim(s, &cf, id);
  assert_string_equal(id, "");

  /* A role is matched whole: "arbiter" does not hold the role "arb". */
  hitl_task part;
  make_task(&part, f->q1, 100, 4);
  part.role = hitl_xstrdup("arb");
  insert_task(s, &part);
  const char *arbiter[] = {"arbiter"};
  cf.roles = arbiter, cf.n_roles = 1;
  claim(s, &cf, id);
  assert_string_equal(id, arb.id);
  hitl_task_clear(&part);

  hitl_task_clear(&arb);
  hitl_task_clear(&val);
  hitl_task_clear(&any);
}

static void add_response(hitl_store *s, int64_t task_seq, const char *reviewer, const char *kind,
                         const char *value, int64_t at, hitl_response *out) {
  memset(out, 0, sizeof *out);
  hitl_id_new("r", out->id);
  out->task_seq = task_seq;
  out->reviewer = hitl_xstrdup(reviewer);
  out->question = hitl_xstrdup("verdict");
  out->kind = hitl_xstrdup(kind);
  out->value = hitl_xstrdup(value);
  out->time_spent_ms = at * 10;
  out->created_at = at;
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->response_insert(s, out), 0);
  assert_int_equal(s->vt->commit(s), 0);
  assert_true(out->seq > 0);
}

static void test_claim_excludes_reviewer(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  hitl_task a, b;
  make_task(&a, f->q1, 5, 1);
  make_task(&b, f->q1, 1, 2);
  insert_task(s, &a);
  insert_task(s, &b);
  hitl_response r;
  add_response(s, a.seq, "alice", "skip", NULL, 5, &r);
  hitl_response_clear(&r);

  char id[HITL_ID_LEN];
  hitl_claim_filter cf = {.queue_id = f->q1, .reviewer = "alice", .any_role = true};
  claim(s, &cf, id);
  assert_string_equal(id, b.id);
  cf.reviewer = "bob";
  claim(s, &cf, id);
  assert_string_equal(id, a.id);

  add_response(s, b.seq, "alice", "approve", "true", 6, &r);
  hitl_response_clear(&r);
  cf.reviewer = "alice";
  claim(s, &cf, id);
  assert_string_equal(id, "");

  bool exists = false;
  assert_int_equal(s->vt->response_exists(s, a.seq, "alice", &exists), 0);
  assert_true(exists);
  assert_int_equal(s->vt->response_exists(s, a.seq, "bob", &exists), 0);
  assert_false(exists);
  hitl_task_clear(&a);
  hitl_task_clear(&b);
}

static void test_task_list_paging(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  int64_t seq[6];
  for (int i = 0; i < 6; i++) {
    hitl_task t;
    make_task(&t, f->q1, 0, i);
    if (i % 2) t.state = HITL_TASK_DECIDED;
    seq[i] = insert_task(s, &t);
    hitl_task_clear(&t);
    hitl_task other;
    make_task(&other, f->q2, 0, i);
    insert_task(s, &other);
    hitl_task_clear(&other);
  }
  hitl_task *v = NULL;
  size_t n = 99;
  assert_int_equal(scan(s, f->q1, -1, 0, 4, &v, &n), 0);
  assert_int_equal(n, 4);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(v[i].seq, seq[5 - i]);
    assert_string_equal(v[i].queue, "alpha");
  }
  int64_t cursor = v[3].seq;
  free_tasks(v, n);
  assert_int_equal(scan(s, f->q1, -1, cursor, 4, &v, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(v[0].seq, seq[1]);
  assert_int_equal(v[1].seq, seq[0]);
  free_tasks(v, n);
  assert_int_equal(scan(s, f->q1, -1, seq[0], 4, &v, &n), 0);
  assert_int_equal(n, 0);
  free_tasks(v, n);

  assert_int_equal(scan(s, f->q1, HITL_TASK_PENDING, 0, 10, &v, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(v[0].seq, seq[4]);
  assert_int_equal(v[1].seq, seq[2]);
  assert_int_equal(v[2].seq, seq[0]);
  for (size_t i = 0; i < n; i++) assert_int_equal(v[i].state, HITL_TASK_PENDING);
  free_tasks(v, n);
  assert_int_equal(scan(s, f->q1, HITL_TASK_DECIDED, seq[5], 1, &v, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(v[0].seq, seq[3]);
  free_tasks(v, n);
  assert_int_equal(scan(s, f->q1, HITL_TASK_CANCELLED, 0, 10, &v, &n), 0);
  assert_int_equal(n, 0);
  free_tasks(v, n);
  assert_int_equal(scan(s, f->q1, -1, 0, 0, &v, &n), 0);
  assert_int_equal(n, 0);
  free_tasks(v, n);
  assert_int_equal(scan(s, 555555, -1, 0, 10, &v, &n), 0);
  assert_int_equal(n, 0);
  free_tasks(v, n);
}

static int64_t insert_timed(hitl_store *s, int64_t queue_id, hitl_task_state state,
                            int64_t lease_expires_at, int64_t deadline_at, char id[HITL_ID_LEN]) {
  hitl_task t;
  make_task(&t, queue_id, 0, 1);
  t.state = state;
  t.lease_expires_at = lease_expires_at;
  if (lease_expires_at) hitl_id_new("l", t.lease_id);
  t.deadline_at = deadline_at;
  int64_t seq = insert_task(s, &t);
  memcpy(id, t.id, HITL_ID_LEN);
  hitl_task_clear(&t);
  return seq;
}

static void test_task_due(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  int64_t at = -1;
  hitl_task *v = NULL;
  size_t n = 99;
  assert_int_equal(s->vt->task_next_due(s, &at), 0);
  assert_int_equal(at, 0);
  assert_int_equal(s->vt->task_due(s, 1000000, 10, &v, &n), 0);
  assert_int_equal(n, 0);
  free_tasks(v, n);

  char lease100[HITL_ID_LEN], dl50[HITL_ID_LEN], both[HITL_ID_LEN], junk[HITL_ID_LEN];
  insert_timed(s, f->q1, HITL_TASK_LEASED, 100, 0, lease100);
  insert_timed(s, f->q2, HITL_TASK_PENDING, 0, 50, dl50);
  insert_timed(s, f->q1, HITL_TASK_LEASED, 300, 200, both);
  insert_timed(s, f->q1, HITL_TASK_DECIDED, 0, 10, junk);  /* Decided: never due. */
  insert_timed(s, f->q1, HITL_TASK_PENDING, 0, 0, junk);   /* No deadline. */
  insert_timed(s, f->q1, HITL_TASK_CANCELLED, 5, 5, junk); /* Cancelled: never due. */

  assert_int_equal(s->vt->task_next_due(s, &at), 0);
  assert_int_equal(at, 50);

  assert_int_equal(s->vt->task_due(s, 49, 10, &v, &n), 0);
  assert_int_equal(n, 0);
  free_tasks(v, n);
  assert_int_equal(s->vt->task_due(s, 150, 10, &v, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(v[0].id, dl50);
  assert_string_equal(v[1].id, lease100);
  free_tasks(v, n);
  /* At 400 the third task is due twice (deadline 200, lease 300): listed once, at 200. */
  assert_int_equal(s->vt->task_due(s, 400, 10, &v, &n), 0);
  assert_int_equal(n, 3);
  assert_string_equal(v[0].id, dl50);
  assert_string_equal(v[1].id, lease100);
  assert_string_equal(v[2].id, both);
  free_tasks(v, n);
  assert_int_equal(s->vt->task_due(s, 400, 2, &v, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(v[1].id, lease100);
  free_tasks(v, n);

  /* Handled tasks stop being due. */
  set_state(s, dl50, HITL_TASK_EXPIRED);
  assert_int_equal(s->vt->task_next_due(s, &at), 0);
  assert_int_equal(at, 100);
  set_state(s, lease100, HITL_TASK_PENDING); /* A pending task's stale lease time is not due. */
  assert_int_equal(s->vt->task_next_due(s, &at), 0);
  assert_int_equal(at, 200);
  assert_int_equal(s->vt->task_due(s, 250, 10, &v, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(v[0].id, both);
  free_tasks(v, n);
}

/* ---- Responses ---- */

static void test_responses(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  hitl_task a, b;
  make_task(&a, f->q1, 0, 1);
  make_task(&b, f->q1, 0, 2);
  insert_task(s, &a);
  insert_task(s, &b);

  hitl_response r1, r2, r3;
  add_response(s, a.seq, "alice", "label", "\"spam\"", 10, &r1);
  add_response(s, b.seq, "bob", "approve", NULL, 11, &r2);
  add_response(s, a.seq, "bob", "text", "\"fixed\"", 12, &r3);
  assert_true(r1.seq < r2.seq && r2.seq < r3.seq);

  hitl_response *v = NULL;
  size_t n = 0;
  assert_int_equal(s->vt->response_list(s, a.seq, &v, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(v[0].seq, r1.seq);
  assert_string_equal(v[0].id, r1.id);
  assert_int_equal(v[0].task_seq, a.seq);
  assert_string_equal(v[0].reviewer, "alice");
  assert_string_equal(v[0].question, "verdict");
  assert_string_equal(v[0].kind, "label");
  assert_string_equal(v[0].value, "\"spam\"");
  assert_null(v[0].comment);
  assert_int_equal(v[0].time_spent_ms, 100);
  assert_int_equal(v[0].created_at, 10);
  assert_int_equal(v[1].seq, r3.seq);
  for (size_t i = 0; i < n; i++) hitl_response_clear(&v[i]);
  free(v);

  assert_int_equal(s->vt->response_list(s, b.seq, &v, &n), 0);
  assert_int_equal(n, 1);
  assert_null(v[0].value);
  assert_int_equal(v[0].stage, 0);
  hitl_response_clear(&v[0]);
  free(v);

  /* Stage, comment and a task without responses. */
  hitl_response r4;
  memset(&r4, 0, sizeof r4);
  hitl_id_new("r", r4.id);
  r4.task_seq = b.seq;
  r4.reviewer = hitl_xstrdup("carol");
  r4.stage = 1;
  r4.kind = hitl_xstrdup("escalate");
  r4.comment = hitl_xstrdup("unsure");
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->response_insert(s, &r4), 0);
  assert_int_equal(s->vt->commit(s), 0);
  assert_int_equal(s->vt->response_list(s, b.seq, &v, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(v[1].stage, 1);
  assert_null(v[1].question);
  assert_string_equal(v[1].comment, "unsure");
  for (size_t i = 0; i < n; i++) hitl_response_clear(&v[i]);
  free(v);
  assert_int_equal(s->vt->response_list(s, 777777, &v, &n), 0);
  assert_int_equal(n, 0);
  free(v);

  /* The batched read: by task in the order asked (b first), then seq; unknown tasks give
   * nothing, an empty list reads nothing, and more than HITL_STORE_MANY is refused. */
  int64_t seqs[] = {b.seq, 777777, a.seq};
  assert_int_equal(s->vt->response_list_many(s, seqs, 3, &v, &n), 0);
  assert_int_equal(n, 4);
  assert_int_equal(v[0].task_seq, b.seq);
  assert_int_equal(v[1].task_seq, b.seq);
  assert_true(v[0].seq < v[1].seq);
  assert_int_equal(v[2].seq, r1.seq);
  assert_int_equal(v[3].seq, r3.seq);
  assert_string_equal(v[3].value, "\"fixed\"");
  for (size_t i = 0; i < n; i++) hitl_response_clear(&v[i]);
  free(v);
  assert_int_equal(s->vt->response_list_many(s, seqs, 0, &v, &n), 0);
  assert_int_equal(n, 0);
  assert_null(v);
  int64_t *many = hitl_xcalloc(HITL_STORE_MANY + 1, sizeof *many);
  assert_int_equal(s->vt->response_list_many(s, many, HITL_STORE_MANY + 1, &v, &n),
                   HITL_EVALIDATION);
  free(many);

  bool exists = true;
  assert_int_equal(s->vt->response_exists(s, b.seq, "alice", &exists), 0);
  assert_false(exists);
  assert_int_equal(s->vt->response_exists(s, b.seq, "carol", &exists), 0);
  assert_true(exists);

  hitl_response_clear(&r1);
  hitl_response_clear(&r2);
  hitl_response_clear(&r3);
  hitl_response_clear(&r4);
  hitl_task_clear(&a);
  hitl_task_clear(&b);
}

/* ---- Events ---- */

/* A reviewer's history, counts by time, activity, and the times to decision of people. */
static void test_reviewer_reports(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  hitl_task a, b, c;
  make_task(&a, f->q1, 0, 1);
  make_task(&b, f->q2, 0, 2);
  make_task(&c, f->q1, 0, 3);
  insert_task(s, &a);
  insert_task(s, &b);
  insert_task(s, &c);
  hitl_response r[4];
  add_response(s, a.seq, "alice", "approve", NULL, 100, &r[0]);
  add_response(s, b.seq, "alice", "label", "\"x\"", 200, &r[1]);
  add_response(s, c.seq, "bob", "approve", NULL, 300, &r[2]);
  add_response(s, c.seq, "alice", "reject", NULL, 400, &r[3]);

  hitl_response *v = NULL;
  size_t n = 0;
  assert_int_equal(s->vt->response_list_by_reviewer(s, "alice", 0, 2, &v, &n), 0);
  assert_int_equal(n, 2); /* Newest first, limited. */
  assert_int_equal(v[0].seq, r[3].seq);
  assert_string_equal(v[0].task_id, c.id);
  assert_string_equal(v[0].queue, "alpha");
  assert_string_equal(v[0].kind, "reject");
  assert_int_equal(v[1].seq, r[1].seq);
  assert_string_equal(v[1].task_id, b.id);
  assert_string_equal(v[1].queue, "beta");
  int64_t cursor = v[1].seq;
  for (size_t i = 0; i < n; i++) hitl_response_clear(&v[i]);
  free(v);
  assert_int_equal(s->vt->response_list_by_reviewer(s, "alice", cursor, 10, &v, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(v[0].seq, r[0].seq);
  hitl_response_clear(&v[0]);
  free(v);
  assert_int_equal(s->vt->response_list_by_reviewer(s, "nobody", 0, 10, &v, &n), 0);
  assert_int_equal(n, 0);
  free(v);

  int64_t count = -1;
  assert_int_equal(s->vt->response_count_by_reviewer(s, "alice", 200, &count), 0);
  assert_int_equal(count, 2);
  assert_int_equal(s->vt->response_count_by_reviewer(s, "alice", 0, &count), 0);
  assert_int_equal(count, 3);
  if (pg_server) {
    /* All time is the counter kept with the responses, not a count of them. */
    assert_int_equal(pg_test_admin(f->path, "UPDATE reviewer_counts SET n = 42 "
                                            "WHERE reviewer = 'alice'"), 0);
    assert_int_equal(s->vt->response_count_by_reviewer(s, "alice", 0, &count), 0);
    assert_int_equal(count, 42);
    assert_int_equal(pg_test_admin(f->path, "UPDATE reviewer_counts SET n = 3 "
                                            "WHERE reviewer = 'alice'"), 0);
    /* A database from before the counter (schema version 5): the migration counts the
     * responses already stored, once. */
    assert_int_equal(pg_test_admin(f->path, "DROP FUNCTION hitl_reviewer_count() CASCADE; "
                                            "DROP TABLE reviewer_counts; "
                                            "UPDATE hitl_schema SET version = 5"), 0);
    hitl_store_close(f->s);
    f->s = open_store(f->path);
    s = f->s;
    assert_int_equal(s->vt->response_count_by_reviewer(s, "alice", 0, &count), 0);
    assert_int_equal(count, 3);
    assert_int_equal(s->vt->response_count_by_reviewer(s, "bob", 0, &count), 0);
    assert_int_equal(count, 1);
  }

  hitl_reviewer_count *act = NULL;
  assert_int_equal(s->vt->reviewer_activity(s, 150, &act, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(act[0].reviewer, "alice"); /* 2 responses since 150, then bob's 1. */
  assert_int_equal(act[0].responses, 2);
  assert_string_equal(act[1].reviewer, "bob");
  assert_int_equal(act[1].responses, 1);
  for (size_t i = 0; i < n; i++) free(act[i].reviewer);
  free(act);

  /* One body answering two questions of task c is one task answered. */
  hitl_response extra;
  add_response(s, c.seq, "alice", "label", "\"y\"", 400, &extra);
  assert_int_equal(s->vt->response_count_by_reviewer(s, "alice", 200, &count), 0);
  assert_int_equal(count, 3);
  assert_int_equal(s->vt->task_count_by_reviewer(s, "alice", 200, &count), 0);
  assert_int_equal(count, 2);
  assert_int_equal(s->vt->task_count_by_reviewer(s, "alice", 0, &count), 0);
  assert_int_equal(count, 3);
  assert_int_equal(s->vt->task_count_by_reviewer(s, "nobody", 0, &count), 0);
  assert_int_equal(count, 0);
  hitl_response_clear(&extra);

  /* Decided by a person at 500 and 900, by the policy at 600: only people's decisions count. */
  a.state = c.state = b.state = HITL_TASK_DECIDED;
  a.decided_by = hitl_xstrdup("human");
  a.decided_at = 500;
  c.decided_by = hitl_xstrdup("sla");
  c.decided_at = 900;
  b.decided_by = hitl_xstrdup("policy");
  b.decided_at = 600;
  update_task(s, &a);
  update_task(s, &b);
  update_task(s, &c);
  /* task_scan of people's decisions: summaries (no contents), newest first, paged. */
  hitl_task_scan decided = {.queue_id = f->q1, .state = -1, .decided_since = 1, .summary = true};
  hitl_task *d = NULL;
  assert_int_equal(s->vt->task_scan(s, &decided, 10, &d, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(d[0].seq, c.seq); /* Decided at 900, */
  assert_int_equal(d[1].seq, a.seq); /* at 500. */
  int64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    total += d[i].decided_at - d[i].created_at;
    assert_null(d[i].payload); /* A summary. */
    assert_non_null(d[i].id);
  }
  assert_int_equal(total, (500 - 1) + (900 - 3));
  free_tasks(d, n);
  decided.before_seq = c.seq; /* The next page. */
  decided.before_decided_at = 900;
  assert_int_equal(s->vt->task_scan(s, &decided, 10, &d, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(d[0].seq, a.seq);
  free_tasks(d, n);
  decided.before_seq = 0;
  decided.before_decided_at = 0;
  decided.decided_since = 600;
  decided.summary = false;
  assert_int_equal(s->vt->task_scan(s, &decided, 10, &d, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(d[0].decided_by, "sla");
  assert_non_null(d[0].payload); /* Not a summary. */
  free_tasks(d, n);
  decided.queue_id = f->q2;
  decided.decided_since = 1;
  assert_int_equal(s->vt->task_scan(s, &decided, 10, &d, &n), 0);
  assert_int_equal(n, 0); /* The policy's decision is not a time to decision. */
  free_tasks(d, n);
  for (int i = 0; i < 4; i++) hitl_response_clear(&r[i]);
  hitl_task_clear(&a);
  hitl_task_clear(&b);
  hitl_task_clear(&c);
}

static void make_event(hitl_event *e, int64_t seq, const uint8_t prev[HITL_HASH_LEN]) {
  memset(e, 0, sizeof *e);
  e->seq = seq;
  e->at = 1000 + seq;
  e->type = hitl_xstrdup("task.submitted");
  e->actor = hitl_xstrdup("system");
  e->data = hitl_xstrdup("{\"n\":1}");
  memcpy(e->prev_hash, prev, HITL_HASH_LEN);
  char text[32];
  snprintf(text, sizeof text, "event %lld", (long long)seq);
  hitl_hash(text, strlen(text), e->hash);
}

static void test_event_find(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  uint8_t prev[HITL_HASH_LEN] = {0};
  const char *tasks[] = {"t_a", "t_b", "t_a", NULL, "t_a"};
  const char *queues[] = {"alpha", "beta", "alpha", NULL, "alpha"};
  const char *actors[] = {"alice", "bob", "bob", "admin", "alice"};
  const char *types[] = {"task.submitted", "task.submitted", "task.leased", "queue.created",
                         "task.decided"};
  assert_int_equal(s->vt->begin(s), 0);
  for (int i = 0; i < 5; i++) {
    hitl_event e;
    make_event(&e, i + 1, prev);
    free(e.type);
    free(e.actor);
    e.type = hitl_xstrdup(types[i]);
    e.actor = hitl_xstrdup(actors[i]);
    e.task_id = hitl_xstrdup(tasks[i]);
    e.queue = hitl_xstrdup(queues[i]);
    assert_int_equal(s->vt->event_insert(s, &e), 0);
    memcpy(prev, e.hash, HITL_HASH_LEN);
    hitl_event_clear(&e);
  }
  assert_int_equal(s->vt->commit(s), 0);
  struct {
    hitl_event_filter f;
    int64_t after;
    size_t limit;
    int64_t want[5];
    size_t n;
  } cases[] = {
      {{.task_id = "t_a"}, 0, 10, {1, 3, 5}, 3},
      {{.task_id = "t_a"}, 1, 1, {3}, 1},
      {{.task_id = "t_a", .actor = "alice"}, 0, 10, {1, 5}, 2},
      {{.queue = "beta"}, 0, 10, {2}, 1},
      {{.actor = "bob"}, 0, 10, {2, 3}, 2},
      {{.type = "task.submitted"}, 1, 10, {2}, 1},
      {{0}, 3, 10, {4, 5}, 2},
      {{.task_id = "t_none"}, 0, 10, {0}, 0},
      /* Newest first, below before. */
      {{.before = INT64_MAX}, 0, 10, {5, 4, 3, 2, 1}, 5},
      {{.before = 5}, 0, 2, {4, 3}, 2},
      {{.task_id = "t_a", .before = INT64_MAX}, 0, 2, {5, 3}, 2},
      {{.actor = "alice", .before = 5}, 0, 10, {1}, 1},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    hitl_event *v = NULL;
    size_t n = 0;
    assert_int_equal(s->vt->event_find(s, cases[k].after, &cases[k].f, cases[k].limit, &v, &n), 0);
    assert_int_equal(n, cases[k].n);
    for (size_t i = 0; i < n; i++) {
      assert_int_equal(v[i].seq, cases[k].want[i]);
      hitl_event_clear(&v[i]);
    }
    free(v);
  }
}

static void test_events(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  int64_t seq = -1;
  uint8_t hash[HITL_HASH_LEN], zero[HITL_HASH_LEN] = {0};
  memset(hash, 0xff, sizeof hash);
  assert_int_equal(s->vt->event_last(s, &seq, hash), 0);
  assert_int_equal(seq, 0);
  assert_memory_equal(hash, zero, HITL_HASH_LEN);

  hitl_event e1, e2;
  make_event(&e1, 1, zero);
  make_event(&e2, 2, e1.hash);
  e2.queue = hitl_xstrdup("alpha");
  e2.task_id = hitl_xstrdup("t_x");
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->event_insert(s, &e1), 0);
  assert_int_equal(s->vt->event_insert(s, &e2), 0);
  assert_int_equal(s->vt->commit(s), 0);

  assert_int_equal(s->vt->event_last(s, &seq, hash), 0);
  assert_int_equal(seq, 2);
  assert_memory_equal(hash, e2.hash, HITL_HASH_LEN);

  hitl_event *v = NULL;
  size_t n = 0;
  assert_int_equal(s->vt->event_list(s, 0, 10, &v, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(v[0].seq, 1);
  assert_int_equal(v[0].at, 1001);
  assert_string_equal(v[0].type, "task.submitted");
  assert_null(v[0].queue);
  assert_null(v[0].task_id);
  assert_string_equal(v[0].actor, "system");
  assert_string_equal(v[0].data, "{\"n\":1}");
  assert_memory_equal(v[0].prev_hash, zero, HITL_HASH_LEN);
  assert_memory_equal(v[0].hash, e1.hash, HITL_HASH_LEN);
  assert_string_equal(v[1].queue, "alpha");
  assert_string_equal(v[1].task_id, "t_x");
  assert_memory_equal(v[1].prev_hash, e1.hash, HITL_HASH_LEN);
  for (size_t i = 0; i < n; i++) hitl_event_clear(&v[i]);
  free(v);
  assert_int_equal(s->vt->event_list(s, 1, 10, &v, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(v[0].seq, 2);
  hitl_event_clear(&v[0]);
  free(v);
  assert_int_equal(s->vt->event_list(s, 0, 1, &v, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(v[0].seq, 1);
  hitl_event_clear(&v[0]);
  free(v);
  assert_int_equal(s->vt->event_list(s, 2, 10, &v, &n), 0);
  assert_int_equal(n, 0);
  free(v);

  /* A second writer with the same seq: conflict, the log unchanged. */
  hitl_event fork;
  make_event(&fork, 2, e1.hash);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->event_insert(s, &fork), HITL_ECONFLICT);
  assert_int_equal(s->vt->rollback(s), 0);
  assert_int_equal(s->vt->event_last(s, &seq, hash), 0);
  assert_int_equal(seq, 2);
  assert_memory_equal(hash, e2.hash, HITL_HASH_LEN);
  hitl_event_clear(&fork);
  hitl_event_clear(&e1);
  hitl_event_clear(&e2);
}

/* ---- Tokens ---- */

static void test_tokens(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  uint8_t h1[HITL_HASH_LEN], h2[HITL_HASH_LEN], h3[HITL_HASH_LEN];
  hitl_hash("secret-1", 8, h1);
  hitl_hash("secret-2", 8, h2);
  hitl_hash("secret-3", 8, h3);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->token_insert(s, "admin", h1, "orchestrator", 123), 0);
  assert_int_equal(s->vt->token_insert(s, "alice", h2, "validator,annotator", 124), 0);
  assert_int_equal(s->vt->commit(s), 0);

  hitl_token_row t;
  assert_int_equal(s->vt->token_find(s, h2, &t), 0);
  assert_true(t.id > 0);
  assert_string_equal(t.name, "alice");
  assert_string_equal(t.roles, "validator,annotator");
  assert_int_equal(t.created_at, 124);
  assert_false(t.revoked);
  hitl_token_row_clear(&t);
  assert_null(t.name);
  assert_int_equal(s->vt->token_find(s, h3, &t), HITL_ENOT_FOUND);
  hitl_token_row_clear(&t);

  /* Each clash inside a savepoint, as core runs every operation, so the transaction goes on. */
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->op_begin(s), 0);
  assert_int_equal(s->vt->token_insert(s, "alice", h3, "validator", 1), HITL_ECONFLICT);
  assert_int_equal(s->vt->op_abort(s), 0);
  assert_int_equal(s->vt->op_begin(s), 0);
  assert_int_equal(s->vt->token_insert(s, "bob", h1, "validator", 1), HITL_ECONFLICT);
  assert_int_equal(s->vt->op_abort(s), 0);
  assert_int_equal(s->vt->token_insert(s, "carol", h3, "labeler", 2), 0);
  assert_int_equal(s->vt->commit(s), 0);
  assert_int_equal(s->vt->token_find(s, h3, &t), 0);
  assert_string_equal(t.name, "carol");
  hitl_token_row_clear(&t);
  assert_int_equal(s->vt->token_find(s, h1, &t), 0);
  assert_string_equal(t.name, "admin");
  hitl_token_row_clear(&t);

  /* Revocation: found by name, kept (revoked) in the list, idempotent; unknown names fail. */
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->token_revoke(s, "alice"), 0);
  assert_int_equal(s->vt->token_revoke(s, "alice"), 0);
  assert_int_equal(s->vt->token_revoke(s, "nobody"), HITL_ENOT_FOUND);
  assert_int_equal(s->vt->commit(s), 0);
  assert_int_equal(s->vt->token_find(s, h2, &t), 0);
  assert_true(t.revoked);
  hitl_token_row_clear(&t);
  hitl_token_row *rows = NULL;
  size_t n = 0;
  assert_int_equal(s->vt->token_list(s, &rows, &n), 0);
  assert_int_equal(n, 3);
  assert_string_equal(rows[0].name, "admin");
  assert_false(rows[0].revoked);
  assert_string_equal(rows[1].name, "alice");
  assert_true(rows[1].revoked);
  assert_string_equal(rows[2].name, "carol");
  for (size_t i = 0; i < n; i++) hitl_token_row_clear(&rows[i]);
  free(rows);
}

/* ---- Webhook deliveries ---- */

static void insert_delivery(hitl_store *s, const char *id, int64_t queue_id, int64_t next_at) {
  hitl_delivery d = {.id = (char *)id, .queue_id = queue_id, .url = (char *)"http://127.0.0.1:9/h",
                     .event_seq = 7, .event_type = (char *)"task.decided",
                     .body = (char *)"{\"x\":1}", .next_attempt_at = next_at, .created_at = 100};
  assert_int_equal(s->vt->delivery_insert(s, &d), 0);
  assert_true(d.seq > 0);
}

static void test_deliveries(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  int64_t at = -1;
  assert_int_equal(s->vt->delivery_next_due(s, &at), 0);
  assert_int_equal(at, 0); /* None pending. */

  assert_int_equal(s->vt->begin(s), 0);
  insert_delivery(s, "wh_a", f->q1, 300);
  insert_delivery(s, "wh_b", f->q1, 200);
  insert_delivery(s, "wh_c", f->q2, 500);
  assert_int_equal(s->vt->commit(s), 0);

  /* Due: only those at or before now, earliest first. */
  hitl_delivery *rows = NULL;
  size_t n = 0;
  assert_int_equal(s->vt->delivery_due(s, 300, 10, &rows, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(rows[0].id, "wh_b");
  assert_string_equal(rows[1].id, "wh_a");
  assert_string_equal(rows[1].url, "http://127.0.0.1:9/h");
  assert_string_equal(rows[1].event_type, "task.decided");
  assert_string_equal(rows[1].body, "{\"x\":1}");
  assert_int_equal(rows[1].event_seq, 7);
  assert_int_equal(rows[1].state, HITL_DELIVERY_PENDING);
  for (size_t i = 0; i < n; i++) hitl_delivery_clear(&rows[i]);
  free(rows);
  assert_int_equal(s->vt->delivery_next_due(s, &at), 0);
  assert_int_equal(at, 200);

  /* A failed attempt moves the next one; a delivered one leaves the due list. */
  hitl_delivery upd = {.id = (char *)"wh_b", .state = HITL_DELIVERY_PENDING, .attempts = 1,
                       .next_attempt_at = 900, .last_status = 503,
                       .last_error = (char *)"HTTP 503", .updated_at = 210};
  hitl_delivery done = {.id = (char *)"wh_a", .state = HITL_DELIVERY_DELIVERED, .attempts = 1,
                        .last_status = 200, .delivered_at = 310, .updated_at = 310};
  hitl_delivery ghost = {.id = (char *)"wh_none", .state = HITL_DELIVERY_FAILED};
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->delivery_update(s, &upd), 0);
  assert_int_equal(s->vt->delivery_update(s, &done), 0);
  assert_int_equal(s->vt->delivery_update(s, &ghost), HITL_ENOT_FOUND);
  assert_int_equal(s->vt->commit(s), 0);
  assert_int_equal(s->vt->delivery_due(s, 800, 10, &rows, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(rows[0].id, "wh_c");
  hitl_delivery_clear(&rows[0]);
  free(rows);
  assert_int_equal(s->vt->delivery_next_due(s, &at), 0);
  assert_int_equal(at, 500);

  /* A queue's list, newest first, by state, with paging. */
  assert_int_equal(s->vt->delivery_list(s, f->q1, -1, 0, 10, &rows, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(rows[0].id, "wh_b");
  assert_int_equal(rows[0].attempts, 1);
  assert_int_equal(rows[0].last_status, 503);
  assert_string_equal(rows[0].last_error, "HTTP 503");
  assert_int_equal(rows[0].next_attempt_at, 900);
  assert_string_equal(rows[1].id, "wh_a");
  assert_int_equal(rows[1].state, HITL_DELIVERY_DELIVERED);
  assert_int_equal(rows[1].delivered_at, 310);
  assert_null(rows[1].last_error);
  int64_t before = rows[0].seq;
  for (size_t i = 0; i < n; i++) hitl_delivery_clear(&rows[i]);
  free(rows);
  assert_int_equal(s->vt->delivery_list(s, f->q1, HITL_DELIVERY_DELIVERED, 0, 10, &rows, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(rows[0].id, "wh_a");
  hitl_delivery_clear(&rows[0]);
  free(rows);
  assert_int_equal(s->vt->delivery_list(s, f->q1, -1, before, 10, &rows, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(rows[0].id, "wh_a");
  hitl_delivery_clear(&rows[0]);
  free(rows);

  /* One by id, as stored; none for an unknown id. */
  hitl_delivery one;
  assert_int_equal(s->vt->delivery_get(s, "wh_b", &one), 0);
  assert_string_equal(one.id, "wh_b");
  assert_int_equal(one.queue_id, f->q1);
  assert_string_equal(one.url, "http://127.0.0.1:9/h");
  assert_int_equal(one.state, HITL_DELIVERY_PENDING);
  assert_int_equal(one.attempts, 1);
  assert_int_equal(one.last_status, 503);
  assert_string_equal(one.last_error, "HTTP 503");
  assert_int_equal(one.next_attempt_at, 900);
  hitl_delivery_clear(&one);
  assert_int_equal(s->vt->delivery_get(s, "wh_a", &one), 0);
  assert_int_equal(one.state, HITL_DELIVERY_DELIVERED);
  assert_int_equal(one.delivered_at, 310);
  hitl_delivery_clear(&one);
  assert_int_equal(s->vt->delivery_get(s, "wh_none", &one), HITL_ENOT_FOUND);
  hitl_delivery_clear(&one);

  /* Ids are unique. */
  hitl_delivery dup = {.id = (char *)"wh_a", .queue_id = f->q1, .url = (char *)"http://a",
                       .event_type = (char *)"task.decided", .body = (char *)"{}"};
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->delivery_insert(s, &dup), HITL_ECONFLICT);
  assert_int_equal(s->vt->rollback(s), 0);
}

/* ---- Agent runs ---- */

/* A running run with the required fields; strings owned by the struct. */
static void make_run(hitl_run *r, const char *agent, int64_t now, int64_t due) {
  memset(r, 0, sizeof *r);
  hitl_id_new("run", r->id);
  r->agent = hitl_xstrdup(agent);
  r->owner = hitl_xstrdup("agent-1");
  r->state = HITL_RUN_RUNNING;
  r->heartbeat_seconds = 30;
  r->created_at = r->updated_at = r->last_heartbeat_at = now;
  r->heartbeat_due_at = due;
}

static int64_t insert_run(hitl_store *s, hitl_run *r) {
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->run_insert(s, r), 0);
  assert_int_equal(s->vt->commit(s), 0);
  assert_true(r->seq > 0);
  return r->seq;
}

static void update_run(hitl_store *s, const hitl_run *r) {
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->run_update(s, r), 0);
  assert_int_equal(s->vt->commit(s), 0);
}

static void free_runs(hitl_run *v, size_t n) {
  for (size_t i = 0; i < n; i++) hitl_run_clear(&v[i]);
  free(v);
}

static void test_run_roundtrip(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  hitl_run r;
  make_run(&r, "researcher", 1000, 31000);
  r.goal = hitl_xstrdup("find \"three\" sources");
  r.metadata = hitl_xstrdup("{\"model\":\"m-1\"}");
  insert_run(s, &r);

  hitl_run got;
  memset(&got, 0xab, sizeof got); /* An unset member fails. */
  assert_int_equal(s->vt->run_get(s, r.id, &got), 0);
  assert_int_equal(got.seq, r.seq);
  assert_string_equal(got.id, r.id);
  assert_string_equal(got.agent, "researcher");
  assert_string_equal(got.goal, "find \"three\" sources");
  assert_string_equal(got.metadata, "{\"model\":\"m-1\"}");
  assert_string_equal(got.owner, "agent-1");
  assert_int_equal(got.state, HITL_RUN_RUNNING);
  assert_int_equal(got.lost_from, HITL_RUN_RUNNING);
  assert_int_equal(got.heartbeat_seconds, 30);
  assert_int_equal(got.created_at, 1000);
  assert_int_equal(got.updated_at, 1000);
  assert_int_equal(got.last_heartbeat_at, 1000);
  assert_int_equal(got.heartbeat_due_at, 31000);
  assert_int_equal(got.ended_at, 0);
  assert_int_equal(got.steps, 0);
  assert_int_equal(got.commands, 0);
  assert_int_equal(got.acked, 0);
  assert_int_equal(got.open_tasks, 0);
  hitl_run_clear(&got);

  /* Every mutable field is written. */
  free(r.goal);
  r.goal = NULL;
  r.state = HITL_RUN_LOST;
  r.lost_from = HITL_RUN_PAUSED;
  r.last_heartbeat_at = 2000;
  r.heartbeat_due_at = 0;
  r.ended_at = 3000;
  r.steps = 4;
  r.commands = 5;
  r.acked = 3;
  r.updated_at = 3000;
  update_run(s, &r);
  assert_int_equal(s->vt->run_get(s, r.id, &got), 0);
  assert_null(got.goal);
  assert_int_equal(got.state, HITL_RUN_LOST);
  assert_int_equal(got.lost_from, HITL_RUN_PAUSED);
  assert_int_equal(got.last_heartbeat_at, 2000);
  assert_int_equal(got.heartbeat_due_at, 0);
  assert_int_equal(got.ended_at, 3000);
  assert_int_equal(got.steps, 4);
  assert_int_equal(got.commands, 5);
  assert_int_equal(got.acked, 3);
  assert_int_equal(got.updated_at, 3000);
  assert_int_equal(got.created_at, 1000); /* Not mutable. */
  hitl_run_clear(&got);

  /* A taken id, an unknown id, an unknown seq. */
  hitl_run dup;
  make_run(&dup, "x", 1, 2);
  memcpy(dup.id, r.id, sizeof dup.id);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->run_insert(s, &dup), HITL_ECONFLICT);
  assert_int_equal(s->vt->rollback(s), 0);
  hitl_run_clear(&dup);
  assert_int_equal(s->vt->run_get(s, "run_none", &got), HITL_ENOT_FOUND);
  hitl_run ghost = r;
  ghost.seq = 999999;
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->run_update(s, &ghost), HITL_ENOT_FOUND);
  assert_int_equal(s->vt->rollback(s), 0);
  hitl_run_clear(&r);
}

static void touch_run(hitl_store *s, int64_t seq, int64_t at, int64_t due) {
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->run_touch(s, seq, at, due), 0);
  assert_int_equal(s->vt->commit(s), 0);
}

/* A heartbeat kept in memory, stored late: times only forward, live runs only, nothing else. */
static void test_run_touch(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  hitl_run r, got;
  make_run(&r, "a", 1000, 31000);
  r.goal = hitl_xstrdup("g");
  insert_run(s, &r);
  r.steps = 3;
  r.commands = 2;
  update_run(s, &r);
  touch_run(s, r.seq, 5000, 35000);
  memset(&got, 0xab, sizeof got);
  assert_int_equal(s->vt->run_get(s, r.id, &got), 0);
  assert_int_equal(got.last_heartbeat_at, 5000);
  assert_int_equal(got.updated_at, 5000);
  assert_int_equal(got.heartbeat_due_at, 35000);
  assert_int_equal(got.steps, 3); /* The rest as it was. */
  assert_int_equal(got.commands, 2);
  assert_string_equal(got.goal, "g");
  assert_int_equal(got.state, HITL_RUN_RUNNING);
  hitl_run_clear(&got);
  /* An older one never moves them back. */
  touch_run(s, r.seq, 4000, 34000);
  assert_int_equal(s->vt->run_get(s, r.id, &got), 0);
  assert_int_equal(got.last_heartbeat_at, 5000);
  assert_int_equal(got.heartbeat_due_at, 35000);
  hitl_run_clear(&got);
  /* The due index follows: the run is due at its new time, not its old one. */
  hitl_run *v = NULL;
  size_t n = 99;
  assert_int_equal(s->vt->run_due(s, 34999, 10, &v, &n), 0);
  assert_int_equal(n, 0);
  free(v);
  int64_t at = 0;
  assert_int_equal(s->vt->run_next_due(s, &at), 0);
  assert_int_equal(at, 35000);
  /* Paused runs take it; lost or ended ones keep their times; an unknown seq is no error. */
  r.state = HITL_RUN_PAUSED;
  r.last_heartbeat_at = r.updated_at = 5000;
  r.heartbeat_due_at = 35000;
  update_run(s, &r);
  touch_run(s, r.seq, 6000, 36000);
  assert_int_equal(s->vt->run_get(s, r.id, &got), 0);
  assert_int_equal(got.heartbeat_due_at, 36000);
  hitl_run_clear(&got);
  static const hitl_run_state over[] = {HITL_RUN_LOST, HITL_RUN_STOPPED, HITL_RUN_FINISHED};
  for (size_t i = 0; i < sizeof over / sizeof over[0]; i++) {
    r.state = over[i];
    r.heartbeat_due_at = 36000;
    r.last_heartbeat_at = r.updated_at = 6000;
    update_run(s, &r);
    touch_run(s, r.seq, 7000, 37000);
    assert_int_equal(s->vt->run_get(s, r.id, &got), 0);
    assert_int_equal(got.state, over[i]);
    assert_int_equal(got.heartbeat_due_at, 36000);
    assert_int_equal(got.last_heartbeat_at, 6000);
    hitl_run_clear(&got);
  }
  touch_run(s, 999999, 7000, 37000);
  hitl_run_clear(&r);
}

static void test_run_list_and_due(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  int64_t at = -1;
  assert_int_equal(s->vt->run_next_due(s, &at), 0);
  assert_int_equal(at, 0);
  hitl_run a, b, c, d;
  make_run(&a, "a", 10, 500);
  make_run(&b, "b", 20, 300);
  make_run(&c, "c", 30, 100);
  make_run(&d, "d", 40, 50);
  insert_run(s, &a);
  insert_run(s, &b);
  insert_run(s, &c);
  insert_run(s, &d);
  b.state = HITL_RUN_PAUSED; /* Paused runs heartbeat too: due. */
  update_run(s, &b);
  c.state = HITL_RUN_STOPPED; /* Over: never due. */
  update_run(s, &c);
  d.state = HITL_RUN_LOST; /* Lost already: not due again. */
  update_run(s, &d);

  assert_int_equal(s->vt->run_next_due(s, &at), 0);
  assert_int_equal(at, 300);
  hitl_run *v = NULL;
  size_t n = 99;
  assert_int_equal(s->vt->run_due(s, 299, 10, &v, &n), 0);
  assert_int_equal(n, 0);
  free_runs(v, n);
  assert_int_equal(s->vt->run_due(s, 1000, 10, &v, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(v[0].id, b.id);
  assert_string_equal(v[1].id, a.id);
  free_runs(v, n);
  assert_int_equal(s->vt->run_due(s, 1000, 1, &v, &n), 0);
  assert_int_equal(n, 1);
  free_runs(v, n);

  /* Newest first, pages by seq, filtered by stored state. */
  assert_int_equal(s->vt->run_list(s, -1, 0, 3, &v, &n), 0);
  assert_int_equal(n, 3);
  assert_string_equal(v[0].id, d.id);
  assert_string_equal(v[2].id, b.id);
  int64_t cursor = v[2].seq;
  free_runs(v, n);
  assert_int_equal(s->vt->run_list(s, -1, cursor, 3, &v, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(v[0].id, a.id);
  free_runs(v, n);
  assert_int_equal(s->vt->run_list(s, HITL_RUN_PAUSED, 0, 10, &v, &n), 0);
  assert_int_equal(n, 1);
  assert_string_equal(v[0].id, b.id);
  assert_string_equal(v[0].agent, "b");
  free_runs(v, n);
  hitl_run_clear(&a);
  hitl_run_clear(&b);
  hitl_run_clear(&c);
  hitl_run_clear(&d);
}

static void test_run_steps_commands_tasks(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  hitl_run r;
  make_run(&r, "worker", 10, 1000);
  insert_run(s, &r);

  /* Steps: newest first, paged. */
  assert_int_equal(s->vt->begin(s), 0);
  for (int i = 1; i <= 3; i++) {
    hitl_run_step st = {.run_seq = r.seq, .n = i, .text = (char *)"did a thing",
                        .data = i == 2 ? (char *)"{\"k\":2}" : NULL, .created_at = 100 + i};
    assert_int_equal(s->vt->run_step_insert(s, &st), 0);
    assert_true(st.seq > 0);
  }
  assert_int_equal(s->vt->commit(s), 0);
  hitl_run_step *steps = NULL;
  size_t n = 0;
  assert_int_equal(s->vt->run_step_list(s, r.seq, 0, 2, &steps, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(steps[0].n, 3);
  assert_int_equal(steps[1].n, 2);
  assert_string_equal(steps[1].data, "{\"k\":2}");
  assert_int_equal(steps[1].created_at, 102);
  int64_t before = steps[1].seq;
  for (size_t i = 0; i < n; i++) hitl_run_step_clear(&steps[i]);
  free(steps);
  assert_int_equal(s->vt->run_step_list(s, r.seq, before, 10, &steps, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(steps[0].n, 1);
  assert_null(steps[0].data);
  assert_string_equal(steps[0].text, "did a thing");
  hitl_run_step_clear(&steps[0]);
  free(steps);

  /* Commands: keyed by (run, seq); listed after a seq; acknowledged once found. */
  assert_int_equal(s->vt->begin(s), 0);
  hitl_run_command c1 = {.run_seq = r.seq, .seq = 1, .type = HITL_RUN_PAUSE,
                         .actor = (char *)"ops", .created_at = 200};
  hitl_run_command c2 = {.run_seq = r.seq, .seq = 2, .type = HITL_RUN_GOAL,
                         .goal = (char *)"a new goal", .actor = (char *)"ops", .created_at = 210};
  assert_int_equal(s->vt->run_command_insert(s, &c1), 0);
  assert_int_equal(s->vt->run_command_insert(s, &c2), 0);
  assert_int_equal(s->vt->commit(s), 0);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->run_command_insert(s, &c1), HITL_ECONFLICT);
  assert_int_equal(s->vt->rollback(s), 0);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->run_command_ack(s, r.seq, 1, 250), 0);
  assert_int_equal(s->vt->run_command_ack(s, r.seq, 9, 250), HITL_ENOT_FOUND);
  assert_int_equal(s->vt->commit(s), 0);
  hitl_run_command *cmds = NULL;
  assert_int_equal(s->vt->run_command_list(s, r.seq, 0, false, 10, &cmds, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(cmds[0].seq, 1);
  assert_int_equal(cmds[0].type, HITL_RUN_PAUSE);
  assert_null(cmds[0].goal);
  assert_string_equal(cmds[0].actor, "ops");
  assert_int_equal(cmds[0].created_at, 200);
  assert_int_equal(cmds[0].acked_at, 250);
  assert_int_equal(cmds[1].type, HITL_RUN_GOAL);
  assert_string_equal(cmds[1].goal, "a new goal");
  assert_int_equal(cmds[1].acked_at, 0);
  for (size_t i = 0; i < n; i++) hitl_run_command_clear(&cmds[i]);
  free(cmds);
  assert_int_equal(s->vt->run_command_list(s, r.seq, 0, true, 10, &cmds, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(cmds[0].seq, 2);
  hitl_run_command_clear(&cmds[0]);
  free(cmds);
  assert_int_equal(s->vt->run_command_list(s, r.seq, 2, false, 10, &cmds, &n), 0);
  assert_int_equal(n, 0);
  free(cmds);

  /* Open tasks: the run's pending and leased tasks, counted in the run. */
  hitl_task t1, t2, t3, other;
  make_task(&t1, f->q1, 0, 300);
  t1.run_id = hitl_xstrdup(r.id);
  make_task(&t2, f->q2, 0, 301);
  t2.run_id = hitl_xstrdup(r.id);
  t2.state = HITL_TASK_LEASED;
  make_task(&t3, f->q1, 0, 302);
  t3.run_id = hitl_xstrdup(r.id);
  t3.state = HITL_TASK_DECIDED;
  make_task(&other, f->q1, 0, 303);
  other.run_id = hitl_xstrdup("run_other");
  insert_task(s, &t1);
  insert_task(s, &t2);
  insert_task(s, &t3);
  insert_task(s, &other);
  hitl_task *tv = NULL;
  assert_int_equal(s->vt->run_open_tasks(s, r.id, 10, &tv, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(tv[0].id, t1.id);
  assert_string_equal(tv[1].id, t2.id);
  assert_string_equal(tv[1].queue, "beta");
  free_tasks(tv, n);
  hitl_run got;
  assert_int_equal(s->vt->run_get(s, r.id, &got), 0);
  assert_int_equal(got.open_tasks, 2);
  hitl_run_clear(&got);
  t1.state = HITL_TASK_DECIDED;
  update_task(s, &t1);
  assert_int_equal(s->vt->run_get(s, r.id, &got), 0);
  assert_int_equal(got.open_tasks, 1);
  hitl_run_clear(&got);
  hitl_task_clear(&t1);
  hitl_task_clear(&t2);
  hitl_task_clear(&t3);
  hitl_task_clear(&other);
  hitl_run_clear(&r);
}

/* ---- Calibration evidence ---- */

static void test_calibration_rows(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  hitl_task t1, t2, t3, t4;
  make_task(&t1, f->q1, 0, 1);
  make_task(&t2, f->q1, 0, 2);
  make_task(&t3, f->q1, 0, 3);
  make_task(&t4, f->q2, 0, 4);
  insert_task(s, &t1);
  insert_task(s, &t2);
  insert_task(s, &t3);
  insert_task(s, &t4);
  hitl_calib_row got;
  assert_int_equal(s->vt->calib_get(s, t1.seq, &got), HITL_ENOT_FOUND);

  /* Tags stored at routing, undecided: get reads them back exactly; list skips them. */
  hitl_calib_row r1 = {.task_seq = t1.seq, .queue_id = f->q1, .score = 0.123456789012345678,
                       .propensity = 0.05, .uniform = true, .audit = true, .correct = -1,
                       .lac = NAN, .aps = NAN};
  hitl_calib_row r2 = {.task_seq = t2.seq, .queue_id = f->q1, .score = 0.99, .propensity = 1,
                       .uniform = false, .correct = -1, .lac = 0.25, .aps = 0.875};
  hitl_calib_row r3 = {.task_seq = t3.seq, .queue_id = f->q1, .score = 0.5, .propensity = 1,
                       .uniform = true, .correct = 0, .decided_seq = 30, .lac = NAN, .aps = NAN};
  hitl_calib_row r4 = {.task_seq = t4.seq, .queue_id = f->q2, .score = 0.7, .propensity = 1,
                       .uniform = true, .correct = 1, .decided_seq = 5, .lac = 0, .aps = 1};
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->calib_put(s, &r1), 0);
  assert_int_equal(s->vt->calib_put(s, &r2), 0);
  assert_int_equal(s->vt->calib_put(s, &r3), 0);
  assert_int_equal(s->vt->calib_put(s, &r4), 0);
  assert_int_equal(s->vt->commit(s), 0);
  assert_int_equal(s->vt->calib_get(s, t1.seq, &got), 0);
  assert_int_equal(got.task_seq, t1.seq);
  assert_int_equal(got.queue_id, f->q1);
  assert_true(got.score == r1.score);
  assert_true(got.propensity == 0.05);
  assert_true(got.uniform && got.audit);
  assert_int_equal(got.correct, -1);
  assert_int_equal(got.decided_seq, 0);
  assert_true(isnan(got.lac) && isnan(got.aps));

  /* Deciding replaces the row; the list gives a queue's decided rows in decision order. */
  r1.correct = 1;
  r1.decided_seq = 40;
  r2.correct = 1;
  r2.decided_seq = 20;
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->calib_put(s, &r1), 0);
  assert_int_equal(s->vt->calib_put(s, &r2), 0);
  assert_int_equal(s->vt->commit(s), 0);
  hitl_calib_row *rows = NULL;
  size_t n = 0;
  assert_int_equal(s->vt->calib_list(s, f->q1, 0, 10, &rows, &n), 0);
  assert_int_equal(n, 3);
  assert_int_equal(rows[0].task_seq, t2.seq);
  assert_true(rows[0].lac == 0.25 && rows[0].aps == 0.875);
  assert_int_equal(rows[1].task_seq, t3.seq);
  assert_int_equal(rows[1].correct, 0);
  assert_int_equal(rows[2].task_seq, t1.seq);
  assert_true(rows[2].audit && rows[2].score == r1.score);
  free(rows);
  /* Paging by decided_seq. */
  assert_int_equal(s->vt->calib_list(s, f->q1, 20, 1, &rows, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(rows[0].task_seq, t3.seq);
  free(rows);
  assert_int_equal(s->vt->calib_list(s, f->q1, 40, 10, &rows, &n), 0);
  assert_int_equal(n, 0);
  free(rows);
  assert_int_equal(s->vt->calib_list(s, f->q2, 0, 10, &rows, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(rows[0].task_seq, t4.seq);
  assert_true(rows[0].lac == 0 && rows[0].aps == 1);
  free(rows);
  hitl_task_clear(&t1);
  hitl_task_clear(&t2);
  hitl_task_clear(&t3);
  hitl_task_clear(&t4);
}

/* A queue's calibration snapshot: none, stored, replaced, rolled back with its transaction,
 * deleted; another queue's is its own. */
static void test_calibration_snapshots(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  hitl_calib_snapshot got;
  memset(&got, 0xab, sizeof got);
  assert_int_equal(s->vt->calib_snapshot_get(s, f->q1, &got), HITL_ENOT_FOUND);
  hitl_calib_snapshot a = {.queue_id = f->q1, .last_seq = 42, .params = "0.02 0.95 5",
                           .state = "1 2 3.5"};
  hitl_calib_snapshot b = {.queue_id = f->q2, .last_seq = 7, .params = "p", .state = "s"};
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->calib_snapshot_put(s, &a), 0);
  assert_int_equal(s->vt->calib_snapshot_put(s, &b), 0);
  assert_int_equal(s->vt->commit(s), 0);
  memset(&got, 0xab, sizeof got);
  assert_int_equal(s->vt->calib_snapshot_get(s, f->q1, &got), 0);
  assert_int_equal(got.queue_id, f->q1);
  assert_int_equal(got.last_seq, 42);
  assert_string_equal(got.params, "0.02 0.95 5");
  assert_string_equal(got.state, "1 2 3.5");
  hitl_calib_snapshot_clear(&got);
  /* Replaced; a rolled-back replacement leaves it. */
  a.last_seq = 99;
  a.state = "4 5 6";
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->calib_snapshot_put(s, &a), 0);
  assert_int_equal(s->vt->commit(s), 0);
  hitl_calib_snapshot lost = {.queue_id = f->q1, .last_seq = 100, .params = "x", .state = "y"};
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->calib_snapshot_put(s, &lost), 0);
  assert_int_equal(s->vt->rollback(s), 0);
  assert_int_equal(s->vt->calib_snapshot_get(s, f->q1, &got), 0);
  assert_int_equal(got.last_seq, 99);
  assert_string_equal(got.state, "4 5 6");
  hitl_calib_snapshot_clear(&got);
  /* Deleted: the other queue's stays. */
  hitl_calib_snapshot drop = {.queue_id = f->q1};
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->calib_snapshot_put(s, &drop), 0);
  assert_int_equal(s->vt->commit(s), 0);
  assert_int_equal(s->vt->calib_snapshot_get(s, f->q1, &got), HITL_ENOT_FOUND);
  assert_int_equal(s->vt->calib_snapshot_get(s, f->q2, &got), 0);
  assert_int_equal(got.last_seq, 7);
  assert_string_equal(got.params, "p");
  hitl_calib_snapshot_clear(&got);
}

/* Calibration tallies add up per queue, hour and kind, roll back with their transaction, and sum
 * over the hours asked for only, by kind. */
static void test_calibration_tallies(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  int64_t sums[4];
  memset(sums, 0xab, sizeof sums);
  assert_int_equal(s->vt->calib_tally_sum(s, f->q1, 0, sums, 4), 0);
  for (int k = 0; k < 4; k++) assert_int_equal(sums[k], 0);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->calib_tally_add(s, f->q1, 100, 0, 3), 0);
  assert_int_equal(s->vt->calib_tally_add(s, f->q1, 100, 1, 1), 0);
  assert_int_equal(s->vt->calib_tally_add(s, f->q1, 100, 0, 2), 0);
  assert_int_equal(s->vt->calib_tally_add(s, f->q1, 101, 0, 10), 0);
  assert_int_equal(s->vt->calib_tally_add(s, f->q1, 101, 3, 4), 0);
  assert_int_equal(s->vt->calib_tally_add(s, f->q1, 101, 9, 5), 0); /* Beyond what is asked. */
  assert_int_equal(s->vt->calib_tally_add(s, f->q1, 76, 0, 1000), 0);
  assert_int_equal(s->vt->calib_tally_add(s, f->q2, 100, 0, 7), 0);
  assert_int_equal(s->vt->commit(s), 0);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->calib_tally_add(s, f->q1, 101, 0, 50), 0);
  assert_int_equal(s->vt->rollback(s), 0);
  memset(sums, 0xab, sizeof sums);
  assert_int_equal(s->vt->calib_tally_sum(s, f->q1, 78, sums, 4), 0);
  assert_int_equal(sums[0], 15);
  assert_int_equal(sums[1], 1);
  assert_int_equal(sums[2], 0);
  assert_int_equal(sums[3], 4);
  assert_int_equal(s->vt->calib_tally_sum(s, f->q1, 0, sums, 4), 0);
  assert_int_equal(sums[0], 1015);
  assert_int_equal(s->vt->calib_tally_sum(s, f->q2, 101, sums, 4), 0);
  assert_int_equal(sums[0], 0);
}

/* ---- Transactions ---- */

static void test_rollback_undoes(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  int64_t qid;
  bool created;
  hitl_task t, got;
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->queue_put(s, "gamma", "{}", 1, &qid, &created), 0);
  make_task(&t, qid, 0, 1);
  assert_int_equal(s->vt->task_insert(s, &t), 0);
  assert_int_equal(s->vt->task_get(s, t.id, &got), 0); /* Visible inside the transaction. */
  hitl_task_clear(&got);
  assert_int_equal(s->vt->rollback(s), 0);

  hitl_queue_row q;
  assert_int_equal(s->vt->queue_get(s, "gamma", &q), HITL_ENOT_FOUND);
  assert_int_equal(s->vt->task_get(s, t.id, &got), HITL_ENOT_FOUND);
  /* Rollback with nothing open is harmless, and the handle goes on working. */
  assert_int_equal(s->vt->rollback(s), 0);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->queue_put(s, "gamma", "{}", 2, &qid, &created), 0);
  assert_true(created);
  assert_int_equal(s->vt->commit(s), 0);
  hitl_task_clear(&t);
}

static void test_op_abort_undoes_only_its_op(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  int64_t id;
  bool created;
  hitl_task t1, t2, got;
  make_task(&t1, f->q1, 0, 1);
  make_task(&t2, f->q1, 0, 2);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->op_begin(s), 0);
  assert_int_equal(s->vt->queue_put(s, "kept", "{}", 1, &id, &created), 0);
  assert_int_equal(s->vt->task_insert(s, &t1), 0);
  assert_int_equal(s->vt->op_end(s), 0);
  assert_int_equal(s->vt->op_begin(s), 0);
  assert_int_equal(s->vt->queue_put(s, "dropped", "{}", 1, &id, &created), 0);
  assert_int_equal(s->vt->task_insert(s, &t2), 0);
  assert_int_equal(s->vt->op_abort(s), 0);
  assert_int_equal(s->vt->op_begin(s), 0); /* The handle still works after an abort. */
  assert_int_equal(s->vt->queue_put(s, "after", "{}", 1, &id, &created), 0);
  assert_int_equal(s->vt->op_end(s), 0);
  assert_int_equal(s->vt->commit(s), 0);

  hitl_queue_row q;
  assert_int_equal(s->vt->queue_get(s, "kept", &q), 0);
  hitl_queue_row_clear(&q);
  assert_int_equal(s->vt->queue_get(s, "after", &q), 0);
  hitl_queue_row_clear(&q);
  assert_int_equal(s->vt->queue_get(s, "dropped", &q), HITL_ENOT_FOUND);
  assert_int_equal(s->vt->task_get(s, t1.id, &got), 0);
  hitl_task_clear(&got);
  assert_int_equal(s->vt->task_get(s, t2.id, &got), HITL_ENOT_FOUND);
  hitl_task_clear(&t1);
  hitl_task_clear(&t2);
}

static void test_survives_reopen(void **state) {
  fixture *f = *state;
  hitl_task t, got;
  make_task(&t, f->q2, 3, 42);
  t.has_confidence = true;
  t.confidence = 0.25;
  insert_task(f->s, &t);
  hitl_event e;
  uint8_t zero[HITL_HASH_LEN] = {0};
  make_event(&e, 1, zero);
  assert_int_equal(f->s->vt->begin(f->s), 0);
  assert_int_equal(f->s->vt->event_insert(f->s, &e), 0);
  assert_int_equal(f->s->vt->commit(f->s), 0);

  /* Reopening twice also shows that migrations are idempotent. */
  for (int round = 0; round < 2; round++) {
    hitl_store_close(f->s);
    f->s = open_store(f->path);
    assert_int_equal(f->s->vt->task_get(f->s, t.id, &got), 0);
    assert_task_equal(&got, &t);
    assert_string_equal(got.queue, "beta");
    hitl_task_clear(&got);
    int64_t seq;
    uint8_t hash[HITL_HASH_LEN];
    assert_int_equal(f->s->vt->event_last(f->s, &seq, hash), 0);
    assert_int_equal(seq, 1);
    assert_memory_equal(hash, e.hash, HITL_HASH_LEN);
    hitl_queue_row *rows;
    size_t n;
    assert_int_equal(f->s->vt->queue_list(f->s, &rows, &n), 0);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) hitl_queue_row_clear(&rows[i]);
    free(rows);
  }
  hitl_event_clear(&e);
  hitl_task_clear(&t);
}

static void test_second_handle_sees_committed(void **state) {
  fixture *f = *state;
  hitl_store *other = open_store(f->path);
  hitl_task t, got;
  make_task(&t, f->q1, 0, 1);
  assert_int_equal(f->s->vt->begin(f->s), 0);
  assert_int_equal(f->s->vt->task_insert(f->s, &t), 0);
  /* Not committed yet: the other handle does not see it (and is not blocked reading). */
  assert_int_equal(other->vt->task_get(other, t.id, &got), HITL_ENOT_FOUND);
  assert_int_equal(f->s->vt->commit(f->s), 0);
  assert_int_equal(other->vt->task_get(other, t.id, &got), 0);
  assert_int_equal(got.seq, t.seq);
  hitl_task_clear(&got);

  /* Writes through the second handle show in the first. */
  hitl_task u;
  make_task(&u, f->q2, 0, 2);
  insert_task(other, &u);
  assert_int_equal(f->s->vt->task_get(f->s, u.id, &got), 0);
  assert_int_equal(got.seq, u.seq);
  assert_true(u.seq > t.seq);
  hitl_task_clear(&got);
  hitl_task_clear(&t);
  hitl_task_clear(&u);
  hitl_store_close(other);
}

/* ---- Several writers (several nodes on one PostgreSQL; SQLite serializes them) ---- */

/* Two write transactions open at once, each claiming: the second is not given the task the
 * first holds but the next one. Only backends that let two write transactions be open at once
 * have anything to show: SQLite's begin() takes its one write lock, so the second would wait. */
static void test_claim_interleaved_transactions(void **state) {
  fixture *f = *state;
  if (pg_server == NULL) skip();
  hitl_store *s = f->s, *other = open_store(f->path);
  hitl_task t[2];
  for (int i = 0; i < 2; i++) {
    make_task(&t[i], f->q1, 0, 100 + i);
    insert_task(s, &t[i]);
  }
  hitl_claim_filter cf = {.queue_id = f->q1, .reviewer = "alice", .any_role = true};
  hitl_claim_filter cf2 = {.queue_id = f->q1, .reviewer = "bob", .any_role = true};
  char a[HITL_ID_LEN], b[HITL_ID_LEN], c[HITL_ID_LEN];
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(other->vt->begin(other), 0);
  claim(s, &cf, a);
  assert_string_equal(a, t[0].id);
  claim(other, &cf2, b);
  assert_string_equal(b, t[1].id); /* Not t[0], which s holds. */
  assert_int_equal(s->vt->rollback(s), 0);
  claim(other, &cf2, c); /* Free again once s let go; t[1] is other's own. */
  assert_string_equal(c, t[0].id);
  assert_int_equal(other->vt->rollback(other), 0);
  for (int i = 0; i < 2; i++) hitl_task_clear(&t[i]);
  hitl_store_close(other);
}

#define RACE_TASKS 60

/* One writer of a race: claims (and leases) tasks of its queue until none is left, one
 * transaction each, or appends events. Results are checked by the main thread (cmocka's
 * asserts must not run on another thread). */
typedef struct racer {
  const char *path;
  int64_t queue_id;
  char claimed[RACE_TASKS][HITL_ID_LEN];
  int n_claimed;
  int transactions; /* For the chain race: how many to commit. */
  int retries;      /* Transactions that had to run again (HITL_ERETRY). */
  int failed;       /* The first unexpected return code, or 0. */
} racer;

static void *claim_racer(void *arg) {
  racer *r = arg;
  hitl_store *s = NULL;
  hitl_err err = {0};
  if ((r->failed = hitl_store_open(r->path, &s, &err)) != 0) return NULL;
  hitl_claim_filter cf = {.queue_id = r->queue_id, .reviewer = "racer", .any_role = true};
  for (;;) {
    hitl_task t;
    int rc = s->vt->begin(s);
    if (rc == 0) rc = s->vt->task_claim_next(s, &cf, &t);
    if (rc == HITL_ENOT_FOUND) {
      s->vt->rollback(s);
      break;
    }
    if (rc == 0) {
      t.state = HITL_TASK_LEASED;
      rc = s->vt->task_update(s, &t);
      if (rc == 0) rc = s->vt->commit(s);
      if (rc == 0 && r->n_claimed < RACE_TASKS) memcpy(r->claimed[r->n_claimed++], t.id, HITL_ID_LEN);
      hitl_task_clear(&t);
    }
    if (rc == HITL_ERETRY) {
      r->retries++;
      continue;
    }
    if (rc) {
      s->vt->rollback(s);
      r->failed = rc;
      break;
    }
  }
  hitl_store_close(s);
  return NULL;
}

/* Two handles claim from one queue at the same time: every task is claimed exactly once. */
static void test_claim_concurrent_writers(void **state) {
  fixture *f = *state;
  for (int i = 0; i < RACE_TASKS; i++) {
    hitl_task t;
    make_task(&t, f->q1, i % 3, 100 + i);
    insert_task(f->s, &t);
    hitl_task_clear(&t);
  }
  racer r[2] = {{.path = f->path, .queue_id = f->q1}, {.path = f->path, .queue_id = f->q1}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, claim_racer, &r[i]), 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  assert_int_equal(r[0].failed, 0);
  assert_int_equal(r[1].failed, 0);
  assert_int_equal(r[0].n_claimed + r[1].n_claimed, RACE_TASKS);
  for (int i = 0; i < r[0].n_claimed; i++)
    for (int j = 0; j < r[1].n_claimed; j++) assert_string_not_equal(r[0].claimed[i], r[1].claimed[j]);
  hitl_queue_stats st;
  assert_int_equal(f->s->vt->queue_stats(f->s, f->q1, &st), 0);
  assert_int_equal(st.by_state[HITL_TASK_PENDING], 0);
  assert_int_equal(st.by_state[HITL_TASK_LEASED], RACE_TASKS);
}

/* Appends two events a transaction through core's chain, as the server's writer does. */
static void *chain_racer(void *arg) {
  racer *r = arg;
  hitl_store *s = NULL;
  hitl_err err = {0};
  if ((r->failed = hitl_store_open(r->path, &s, &err)) != 0) return NULL;
  hitl_chain chain;
  hitl_chain_init(&chain);
  for (int done = 0; done < r->transactions && r->failed == 0;) {
    int rc = s->vt->begin(s);
    for (int k = 0; rc == 0 && k < 2; k++) {
      hitl_event_spec spec = {.type = "test.race", .actor = "racer", .from_state = -1,
                              .to_state = -1};
      rc = hitl_chain_append(&chain, s, 1000 + done, &spec);
    }
    if (rc == 0) rc = s->vt->commit(s);
    if (rc == 0) {
      hitl_chain_committed(&chain);
      done++;
      continue;
    }
    s->vt->rollback(s);
    hitl_chain_rolled_back(&chain);
    if (rc == HITL_ERETRY)
      r->retries++;
    else
      r->failed = rc;
  }
  hitl_chain_free(&chain);
  hitl_store_close(s);
  return NULL;
}

/* Two writers append events in transactions that overlap: the log stays one gap-free chain
 * that verifies, holding every event of both. */
static void test_chain_concurrent_writers(void **state) {
  fixture *f = *state;
  racer r[2] = {{.path = f->path, .transactions = 40}, {.path = f->path, .transactions = 40}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, chain_racer, &r[i]), 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  assert_int_equal(r[0].failed, 0);
  assert_int_equal(r[1].failed, 0);
  hitl_chain_report report;
  assert_int_equal(hitl_chain_verify(f->s, &report), 0);
  assert_int_equal(report.broken_seq, 0);
  assert_int_equal(report.events, 2 * 2 * 40);
  int64_t seq = 0;
  uint8_t hash[HITL_HASH_LEN];
  assert_int_equal(f->s->vt->event_last(f->s, &seq, hash), 0);
  assert_int_equal(seq, 2 * 2 * 40);
}

/* A deadlock between two write transactions: one of them is told HITL_ERETRY (its commit too,
 * even after its operation was undone), the other commits; run again, the loser commits too.
 * SQLite cannot deadlock (one write transaction at a time), so only backends with several
 * writers run it. */
typedef struct deadlocker {
  const char *path;
  const char *first, *second; /* Task ids: locked in this order. */
  pthread_barrier_t *both_hold_one;
  int second_rc, commit_rc;
} deadlocker;

static void *deadlock_side(void *arg) {
  deadlocker *d = arg;
  hitl_store *s = NULL;
  hitl_err err = {0};
  d->second_rc = d->commit_rc = -1000;
  if (hitl_store_open(d->path, &s, &err) != 0) return NULL;
  hitl_task t;
  int rc = s->vt->begin(s);
  if (rc == 0) rc = s->vt->task_get(s, d->first, &t); /* Locks the first task. */
  if (rc == 0) {
    t.priority++;
    rc = s->vt->task_update(s, &t);
    hitl_task_clear(&t);
  }
  pthread_barrier_wait(d->both_hold_one);
  if (rc == 0) {
    rc = s->vt->op_begin(s);
    d->second_rc = rc == 0 ? s->vt->task_get(s, d->second, &t) : rc; /* One side deadlocks. */
    if (d->second_rc == 0) hitl_task_clear(&t);
    if (rc == 0) s->vt->op_abort(s);
    d->commit_rc = s->vt->commit(s);
  }
  hitl_store_close(s);
  return NULL;
}

static void test_deadlock_is_retry(void **state) {
  fixture *f = *state;
  if (pg_server == NULL) skip();
  hitl_task a, b;
  make_task(&a, f->q1, 0, 1);
  make_task(&b, f->q1, 0, 2);
  insert_task(f->s, &a);
  insert_task(f->s, &b);
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, 2);
  deadlocker d[2] = {{.path = f->path, .first = a.id, .second = b.id, .both_hold_one = &barrier},
                     {.path = f->path, .first = b.id, .second = a.id, .both_hold_one = &barrier}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(pthread_create(&th[i], NULL, deadlock_side, &d[i]), 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  pthread_barrier_destroy(&barrier);
  int loser = d[0].second_rc == HITL_ERETRY ? 0 : 1, winner = 1 - loser;
  assert_int_equal(d[loser].second_rc, HITL_ERETRY);
  assert_int_equal(d[loser].commit_rc, HITL_ERETRY); /* Undoing the operation is not enough. */
  assert_int_equal(d[winner].second_rc, 0);
  assert_int_equal(d[winner].commit_rc, 0);
  hitl_task got;
  assert_int_equal(f->s->vt->task_get(f->s, d[winner].first, &got), 0);
  assert_int_equal(got.priority, 1);
  hitl_task_clear(&got);
  assert_int_equal(f->s->vt->task_get(f->s, d[loser].first, &got), 0);
  assert_int_equal(got.priority, 0); /* Rolled back. */
  hitl_task_clear(&got);
  hitl_task_clear(&a);
  hitl_task_clear(&b);
}

/* An operation that appended an event and was undone gave the chain's lock back with it (a
 * savepoint's locks go with it): another writer may append meanwhile, and the next event of the
 * first transaction must follow that writer's, not the head it had read. SQLite's begin() takes
 * the one write lock, so the other writer could not run in between there. */
static void test_chain_head_after_op_abort(void **state) {
  fixture *f = *state;
  if (pg_server == NULL) skip();
  hitl_store *s = f->s, *other = open_store(f->path);
  hitl_chain mine, theirs;
  hitl_chain_init(&mine);
  hitl_chain_init(&theirs);
  hitl_event_spec spec = {.type = "test.event", .actor = "test", .from_state = -1, .to_state = -1};
  assert_int_equal(s->vt->begin(s), 0);
  hitl_chain_op_begin(&mine);
  assert_int_equal(s->vt->op_begin(s), 0);
  assert_int_equal(hitl_chain_append(&mine, s, 1, &spec), 0);
  assert_int_equal(s->vt->op_abort(s), 0);
  hitl_chain_op_abort(&mine);

  assert_int_equal(other->vt->begin(other), 0); /* Not blocked: the lock went with the op. */
  assert_int_equal(hitl_chain_append(&theirs, other, 2, &spec), 0);
  assert_int_equal(other->vt->commit(other), 0);
  hitl_chain_committed(&theirs);

  hitl_chain_op_begin(&mine);
  assert_int_equal(s->vt->op_begin(s), 0);
  assert_int_equal(hitl_chain_append(&mine, s, 3, &spec), 0);
  assert_int_equal(s->vt->op_end(s), 0);
  assert_int_equal(s->vt->commit(s), 0);
  hitl_chain_committed(&mine);

  hitl_chain_report report;
  assert_int_equal(hitl_chain_verify(s, &report), 0);
  assert_int_equal(report.broken_seq, 0);
  assert_int_equal(report.events, 2);
  hitl_chain_free(&mine);
  hitl_chain_free(&theirs);
  hitl_store_close(other);
}

/* A transaction of a chain that defers (hitl_chain_defer, as the server's writer) holds no lock
 * that another writer's events wait for until it links: neither its held events nor its task
 * changes (the counts are kept at commit). The other writer's session gives up on a lock after
 * 3 s, so a lock taken too early fails the test instead of hanging it. */
static void test_chain_deferred_lock_at_link(void **state) {
  fixture *f = *state;
  if (pg_server == NULL) skip();
  char url[700];
  /* lock_timeout is not a connection keyword: libpq passes it through "options". */
  snprintf(url, sizeof url, "%s%coptions=-c%%20lock_timeout%%3D3000", f->path,
           strchr(f->path, '?') ? '&' : '?');
  hitl_store *s = f->s, *other = open_store(url);
  hitl_chain mine, theirs;
  hitl_chain_init(&mine);
  hitl_chain_init(&theirs);
  hitl_chain_defer(&mine, true);
  hitl_event_spec spec = {.type = "test.event", .actor = "test", .from_state = -1, .to_state = -1};
  hitl_task t;
  make_task(&t, f->q1, 0, 1);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->task_insert(s, &t), 0);
  assert_int_equal(hitl_chain_append(&mine, s, 1, &spec), 0);
  assert_int_equal(mine.changes[0].seq, 0); /* Held, not linked yet. */

  assert_int_equal(other->vt->begin(other), 0);
  assert_int_equal(hitl_chain_append(&theirs, other, 2, &spec), 0);
  assert_int_equal(other->vt->commit(other), 0);
  hitl_chain_committed(&theirs);

  assert_int_equal(hitl_chain_link(&mine, s), 0);
  assert_int_equal(mine.changes[0].seq, 2); /* After theirs. */
  assert_int_equal(hitl_chain_append(&mine, s, 3, &spec), 0); /* Linked: stored at once. */
  assert_int_equal(mine.changes[1].seq, 3);
  assert_int_equal(s->vt->commit(s), 0);
  hitl_chain_committed(&mine);

  hitl_chain_report report;
  assert_int_equal(hitl_chain_verify(s, &report), 0);
  assert_int_equal(report.broken_seq, 0);
  assert_int_equal(report.events, 3);
  hitl_queue_stats st;
  assert_int_equal(other->vt->queue_stats(other, f->q1, &st), 0);
  assert_int_equal(st.by_state[HITL_TASK_PENDING], 1);
  hitl_task_clear(&t);
  hitl_chain_free(&mine);
  hitl_chain_free(&theirs);
  hitl_store_close(other);
}

/* With pipeline(true), a write may return before the database answered; its failure then dooms
 * the transaction (HITL_ERETRY), and the next transaction reports it where it happens. */
static void test_pipeline_failure_dooms_then_reports(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s;
  assert_int_equal(s->vt->pipeline(s, true), 0);
  hitl_event e = {.seq = 1, .at = 1, .type = "test.event", .actor = "test", .data = "{}"};
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->event_insert(s, &e), 0);
  assert_int_equal(s->vt->commit(s), 0);

  /* The seq is taken: reported at once (SQLite) or by commit() (a deferred write). */
  assert_int_equal(s->vt->begin(s), 0);
  int rc = s->vt->event_insert(s, &e);
  if (rc == 0) {
    assert_int_equal(s->vt->commit(s), HITL_ERETRY);
    assert_int_equal(s->vt->begin(s), 0);
    rc = s->vt->event_insert(s, &e);
  }
  assert_int_equal(rc, HITL_ECONFLICT);
  assert_int_equal(s->vt->rollback(s), 0);

  /* An update of no row: the same, as HITL_ENOT_FOUND. */
  hitl_task ghost;
  make_task(&ghost, f->q1, 0, 1);
  ghost.seq = 987654;
  assert_int_equal(s->vt->begin(s), 0);
  rc = s->vt->task_update(s, &ghost);
  if (rc == 0) {
    assert_int_equal(s->vt->commit(s), HITL_ERETRY);
    assert_int_equal(s->vt->begin(s), 0);
    rc = s->vt->task_update(s, &ghost);
  }
  assert_int_equal(rc, HITL_ENOT_FOUND);
  assert_int_equal(s->vt->rollback(s), 0);
  hitl_task_clear(&ghost);

  /* An operation undone inside a deferring transaction: the rest commits. */
  hitl_task t;
  make_task(&t, f->q1, 0, 1);
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->op_begin(s), 0);
  assert_int_equal(s->vt->task_insert(s, &t), 0);
  assert_int_equal(s->vt->op_end(s), 0);
  assert_int_equal(s->vt->op_begin(s), 0);
  t.priority = 7;
  assert_int_equal(s->vt->task_update(s, &t), 0);
  assert_int_equal(s->vt->op_abort(s), 0);
  assert_int_equal(s->vt->commit(s), 0);
  hitl_task got;
  assert_int_equal(s->vt->task_get(s, t.id, &got), 0);
  assert_int_equal(got.priority, 0);
  hitl_task_clear(&got);
  hitl_task_clear(&t);
  assert_int_equal(s->vt->pipeline(s, false), 0);
}

/* A database whose defaults print bytea as escapes and floats rounded to 15 digits: the
 * backend sets its own formats, so hashes and confidences still read back exactly. */
static void test_server_formats_do_not_matter(void **state) {
  fixture *f = *state;
  if (pg_server == NULL) skip();
  const char *name = strrchr(f->path, '/') + 1;
  char sql[256];
  snprintf(sql, sizeof sql, "ALTER DATABASE %s SET bytea_output = 'escape'", name);
  assert_int_equal(pg_test_admin(pg_server, sql), 0);
  snprintf(sql, sizeof sql, "ALTER DATABASE %s SET extra_float_digits = 0", name);
  assert_int_equal(pg_test_admin(pg_server, sql), 0);
  hitl_store_close(f->s);
  f->s = open_store(f->path); /* Database settings apply to new sessions. */
  hitl_task t, got;
  make_task(&t, f->q1, 0, 1);
  t.has_confidence = true;
  t.confidence = 0.12345678901234567;
  hitl_hash("body", 4, t.body_hash);
  insert_task(f->s, &t);
  assert_int_equal(f->s->vt->task_get(f->s, t.id, &got), 0);
  assert_true(got.confidence == t.confidence);
  assert_memory_equal(got.body_hash, t.body_hash, HITL_HASH_LEN);
  hitl_task_clear(&got);
  hitl_task_clear(&t);
}

/* A delivery taken for an attempt is not taken again, nor due, before its hold ends: the workers
 * of two servers never POST it at once. SQLite's one process needs no claim: always taken. */
static void test_delivery_take(void **state) {
  fixture *f = *state;
  hitl_store *s = f->s, *other = open_store(f->path);
  assert_int_equal(s->vt->begin(s), 0);
  insert_delivery(s, "wh_a", f->q1, 100);
  insert_delivery(s, "wh_later", f->q1, 5000);
  assert_int_equal(s->vt->commit(s), 0);
  hitl_delivery *rows = NULL;
  size_t n = 0;
  assert_int_equal(s->vt->delivery_due(s, 200, 10, &rows, &n), 0);
  assert_int_equal(n, 1);
  int64_t seq = rows[0].seq;
  hitl_delivery_clear(&rows[0]);
  free(rows);

  bool taken = false;
  assert_int_equal(s->vt->delivery_take(s, seq, 200, 1200, &taken), 0);
  assert_true(taken);
  assert_int_equal(other->vt->delivery_take(other, seq, 300, 1300, &taken), 0);
  assert_int_equal(other->vt->delivery_due(other, 300, 10, &rows, &n), 0);
  for (size_t i = 0; i < n; i++) hitl_delivery_clear(&rows[i]);
  free(rows);
  if (pg_server) {
    assert_false(taken); /* Held until 1200 by the first. */
    assert_int_equal(n, 0);
    assert_int_equal(other->vt->delivery_take(other, seq, 1200, 2200, &taken), 0);
    assert_true(taken); /* The hold ended: the first server died mid-attempt, say. */
  } else {
    assert_true(taken);
    assert_int_equal(n, 1);
  }
  /* Not due yet: nobody takes it. */
  assert_int_equal(s->vt->delivery_due(s, 300, 10, &rows, &n), 0);
  int64_t later = 0;
  for (size_t i = 0; i < n; i++) hitl_delivery_clear(&rows[i]);
  free(rows);
  assert_int_equal(s->vt->delivery_list(s, f->q1, -1, 0, 10, &rows, &n), 0);
  for (size_t i = 0; i < n; i++) {
    if (strcmp(rows[i].id, "wh_later") == 0) later = rows[i].seq;
    hitl_delivery_clear(&rows[i]);
  }
  free(rows);
  assert_int_equal(s->vt->delivery_take(s, later, 300, 1300, &taken), 0);
  if (pg_server) assert_false(taken);
  hitl_store_close(other);
}

/* Two sweepers at once: the due tasks one holds are not handed to the other, so each expired
 * lease or passed deadline is handled once. SQLite's begin() makes the second wait instead. */
static void test_due_tasks_skip_what_another_writer_holds(void **state) {
  fixture *f = *state;
  if (pg_server == NULL) skip();
  hitl_store *s = f->s, *other = open_store(f->path);
  hitl_task t[3];
  for (int i = 0; i < 3; i++) {
    make_task(&t[i], f->q1, 0, 1);
    t[i].deadline_at = 100 + i;
    insert_task(s, &t[i]);
  }
  hitl_task *due = NULL, *due2 = NULL;
  size_t n = 0, n2 = 0;
  assert_int_equal(s->vt->begin(s), 0);
  assert_int_equal(s->vt->task_due(s, 1000, 2, &due, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(other->vt->begin(other), 0);
  assert_int_equal(other->vt->task_due(other, 1000, 10, &due2, &n2), 0);
  assert_int_equal(n2, 1); /* Only the one the first sweeper did not take. */
  assert_string_equal(due2[0].id, t[2].id);
  assert_int_equal(other->vt->rollback(other), 0);
  assert_int_equal(s->vt->rollback(s), 0);
  free_tasks(due, n);
  free_tasks(due2, n2);
  for (int i = 0; i < 3; i++) hitl_task_clear(&t[i]);
  hitl_store_close(other);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(int argc, char **argv) {
  if (hitl_id_init() != 0) return 1;
  const char *group = "store/sqlite";
  if (argc > 1 && strcmp(argv[1], "postgres") == 0) {
    pg_server = pg_test_server_url();
    if (pg_server == NULL) {
      fprintf(stderr, "test_store postgres: HITL_TEST_PG names no server (see tests/pg_test.h)\n");
      return 1;
    }
    group = "store/postgres";
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_rejects_bad_locations),
      T(test_queue_put_get_list_replace),
      T(test_queue_stats),
      T(test_task_roundtrip_every_field),
      T(test_task_confidence_values),
      T(test_task_insert_conflicts),
      T(test_idempotency_key_per_submitter),
      T(test_claim_order),
      T(test_calibration_rows),
      T(test_calibration_tallies),
      T(test_calibration_snapshots),
      T(test_claim_roles),
      T(test_claim_excludes_reviewer),
      T(test_task_list_paging),
      T(test_task_due),
      T(test_responses),
      T(test_events),
      T(test_event_find),
      T(test_reviewer_reports),
      T(test_tokens),
      T(test_deliveries),
      T(test_run_roundtrip),
      T(test_run_touch),
      T(test_run_list_and_due),
      T(test_run_steps_commands_tasks),
      T(test_rollback_undoes),
      T(test_op_abort_undoes_only_its_op),
      T(test_survives_reopen),
      T(test_second_handle_sees_committed),
      T(test_claim_interleaved_transactions),
      T(test_claim_concurrent_writers),
      T(test_chain_concurrent_writers),
      T(test_deadlock_is_retry),
      T(test_chain_head_after_op_abort),
      T(test_chain_deferred_lock_at_link),
      T(test_pipeline_failure_dooms_then_reports),
      T(test_server_formats_do_not_matter),
      T(test_delivery_take),
      T(test_due_tasks_skip_what_another_writer_holds),
  };
  return _cmocka_run_group_tests(group, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}
