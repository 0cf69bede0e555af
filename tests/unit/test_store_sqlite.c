/* SPDX-License-Identifier: MIT */
/* What only the SQLite backend promises: its settings, its migrations and its query plans. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/migrations.h"
#include "store/sqlite.h"
#include "util/xmalloc.h"

typedef struct fixture {
  char dir[256];
  char path[300];
} fixture;

static int setup(void **state) {
  fixture *f = hitl_xcalloc(1, sizeof *f);
  const char *tmp = getenv("TMPDIR");
  snprintf(f->dir, sizeof f->dir, "%s/hitl-sqlite-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  assert_non_null(mkdtemp(f->dir));
  snprintf(f->path, sizeof f->path, "%s/hitl.db", f->dir);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    char p[320];
    snprintf(p, sizeof p, "%s%s", f->path, suffixes[i]);
    unlink(p);
  }
  rmdir(f->dir);
  free(f);
  return 0;
}

static hitl__sqlite *open_sqlite(const char *path) {
  hitl_store *s = NULL;
  hitl_err err = {0};
  int rc = hitl__store_sqlite_open(path, &s, &err);
  if (rc != 0) fprintf(stderr, "open: %s\n", err.message);
  assert_int_equal(rc, 0);
  return (hitl__sqlite *)s;
}

/* Runs a one-value query on db and returns the value as text in out. */
static void query_text(sqlite3 *db, const char *sql, char *out, size_t n) {
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
}

/* Runs SQL that must succeed. */
static void exec_ok(sqlite3 *db, const char *sql) {
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
}

static void test_durability_settings(void **state) {
  fixture *f = *state;
  hitl__sqlite *s = open_sqlite(f->path);
  char v[64];
  query_text(s->db, "PRAGMA journal_mode", v, sizeof v);
  assert_string_equal(v, "wal");
  query_text(s->db, "PRAGMA synchronous", v, sizeof v);
  assert_string_equal(v, "2"); /* FULL */
  query_text(s->db, "PRAGMA foreign_keys", v, sizeof v);
  assert_string_equal(v, "1");
  query_text(s->db, "PRAGMA busy_timeout", v, sizeof v);
  assert_true(atoi(v) >= 1000);
  query_text(s->db, "PRAGMA wal_autocheckpoint", v, sizeof v);
  assert_string_equal(v, "40000"); /* Checkpoints 40 times rarer than SQLite's default. */
  query_text(s->db, "PRAGMA user_version", v, sizeof v);
  assert_int_equal(atoi(v), (int)hitl__sqlite_migrations_count);
  hitl_store_close(&s->base);
}

static void test_migrations_idempotent(void **state) {
  fixture *f = *state;
  hitl__sqlite *s = open_sqlite(f->path);
  char objects[32], again[32];
  query_text(s->db, "SELECT count(*) FROM sqlite_schema", objects, sizeof objects);
  assert_true(atoi(objects) > 5);
  hitl_store_close(&s->base);
  s = open_sqlite(f->path);
  query_text(s->db, "SELECT count(*) FROM sqlite_schema", again, sizeof again);
  assert_string_equal(again, objects);
  hitl_store_close(&s->base);
}

/* Migration 3 scopes idempotency keys to their submitter: a database made before it keeps its
 * keyed tasks, each found under its submitter, and a second token may reuse a key. */
static void test_migration_idempotency_per_submitter(void **state) {
  fixture *f = *state;
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
  exec_ok(db, hitl__sqlite_migrations[0]);
  exec_ok(db, hitl__sqlite_migrations[1]);
  exec_ok(db, "PRAGMA user_version = 2;"
              "INSERT INTO queues (name, config, created_at, updated_at) VALUES ('q', '{}', 0, 0);"
              "INSERT INTO tasks (id, queue_id, state, created_at, updated_at, body_hash, "
              "idempotency_key, submitted_by) VALUES "
              "('t_a', 1, 0, 1, 1, zeroblob(32), 'k', 'agent-a'),"
              "('t_old', 1, 0, 1, 1, zeroblob(32), 'k2', NULL);");
  sqlite3_close(db);
  hitl__sqlite *s = open_sqlite(f->path);
  hitl_store *st = &s->base;
  hitl_task got;
  assert_int_equal(st->vt->task_get_idempotent(st, 1, "agent-a", "k", &got), 0);
  assert_string_equal(got.id, "t_a");
  hitl_task_clear(&got);
  assert_int_equal(st->vt->task_get_idempotent(st, 1, NULL, "k2", &got), 0);
  assert_string_equal(got.id, "t_old");
  hitl_task_clear(&got);
  assert_int_equal(st->vt->task_get_idempotent(st, 1, "agent-b", "k", &got), HITL_ENOT_FOUND);
  exec_ok(s->db, "INSERT INTO tasks (id, queue_id, state, created_at, updated_at, body_hash, "
                 "idempotency_key, submitted_by) VALUES ('t_b', 1, 0, 1, 1, zeroblob(32), 'k', "
                 "'agent-b')");
  assert_int_equal(0xff & sqlite3_exec(s->db,
                                "INSERT INTO tasks (id, queue_id, state, created_at, updated_at, "
                                "body_hash, idempotency_key, submitted_by) VALUES ('t_c', 1, 0, 1, "
                                "1, zeroblob(32), 'k', 'agent-a')",
                                NULL, NULL, NULL),
                   SQLITE_CONSTRAINT);
  /* The look-up is served by the new index. */
  char sql[4096];
  snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", hitl__sqlite_sql(HITL__ST_TASK_IDEMPOTENT));
  sqlite3_stmt *plan = NULL;
  assert_int_equal(sqlite3_prepare_v2(s->db, sql, -1, &plan, NULL), SQLITE_OK);
  bool uses_index = false;
  while (sqlite3_step(plan) == SQLITE_ROW)
    uses_index |= strstr((const char *)sqlite3_column_text(plan, 3),
                         "tasks_idempotency_submitter") != NULL;
  sqlite3_finalize(plan);
  assert_true(uses_index);
  hitl_store_close(st);
}

static void test_newer_schema_refused(void **state) {
  fixture *f = *state;
  hitl__sqlite *s = open_sqlite(f->path);
  char sql[64];
  snprintf(sql, sizeof sql, "PRAGMA user_version = %zu", hitl__sqlite_migrations_count + 1);
  assert_int_equal(sqlite3_exec(s->db, sql, NULL, NULL, NULL), SQLITE_OK);
  hitl_store_close(&s->base);

  hitl_store *out = (hitl_store *)1;
  hitl_err err = {0};
  assert_int_equal(hitl__store_sqlite_open(f->path, &out, &err), HITL_ESTORE);
  assert_null(out);
  assert_non_null(strstr(err.message, "newer"));
}

static void test_not_a_database(void **state) {
  fixture *f = *state;
  FILE *fp = fopen(f->path, "w");
  assert_non_null(fp);
  fputs("this is not a SQLite database, just some text that is long enough to look at.\n", fp);
  fclose(fp);
  hitl_store *out = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl__store_sqlite_open(f->path, &out, &err), HITL_ESTORE);
  assert_null(out);
  assert_true(err.message[0] != '\0');
}

/* The hot statements are served by indexes: no full-table scan and no temporary b-tree to sort.
 * Checked on a database with rows and fresh statistics, so the planner sees realistic costs. */
static void test_query_plans_use_indexes(void **state) {
  fixture *f = *state;
  hitl__sqlite *s = open_sqlite(f->path);
  exec_ok(s->db, "INSERT INTO queues (name, config, created_at, updated_at) "
                 "VALUES ('a', '{}', 0, 0), ('b', '{}', 0, 0);"
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                 "WHERE i < 2000) "
                 "INSERT INTO tasks (id, queue_id, state, priority, created_at, "
                 "updated_at, deadline_at, body_hash, lease_expires_at) "
                 "SELECT 't_' || i, 1 + i % 2, i % 5, i % 7, i, i, i % 3 * i, "
                 "zeroblob(32), (i % 5 = 1) * i FROM n;"
                 /* Agent runs in every state, and tasks of some of them. */
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                 "WHERE i < 2000) "
                 "INSERT INTO runs (id, agent, owner, state, heartbeat_seconds, created_at, "
                 "updated_at, last_heartbeat_at, heartbeat_due_at) "
                 "SELECT 'run_' || i, 'a', 'o', i % 5, 30, i, i, i, i + 30000 FROM n;"
                 "UPDATE tasks SET run_id = 'run_' || (seq % 100) WHERE seq % 3 = 0;"
                 "ANALYZE;");
  static const hitl__sqlite_stmt_id hot[] = {
      HITL__ST_TASK_CLAIM,    HITL__ST_TASK_DUE_LEASE,  HITL__ST_TASK_DUE_DEADLINE,
      HITL__ST_TASK_NEXT_DUE, HITL__ST_TASK_SCAN,       HITL__ST_TASK_SCAN_STATE,
      HITL__ST_TASK_GET,      HITL__ST_TASK_IDEMPOTENT, HITL__ST_RESPONSE_EXISTS,
      HITL__ST_STATS_OLDEST,  HITL__ST_STATS_STATES,    HITL__ST_STATS_DECIDED,
      HITL__ST_EVENT_LIST,    HITL__ST_EVENT_LAST,      HITL__ST_TOKEN_FIND,
      HITL__ST_RESPONSE_BY_REVIEWER, HITL__ST_RESPONSE_COUNT_REVIEWER, HITL__ST_TASK_SCAN_DECIDED,
      HITL__ST_TASK_SCAN_SUMMARY, HITL__ST_TASK_SCAN_STATE_SUMMARY,
      HITL__ST_TASK_SCAN_DECIDED_SUMMARY,
      HITL__ST_EVENT_FIND_TASK, HITL__ST_EVENT_FIND,
      /* The lost-run sweep reads the first entries of its due index, never all runs. */
      HITL__ST_RUN_DUE,       HITL__ST_RUN_NEXT_DUE,    HITL__ST_RUN_GET,
      HITL__ST_RUN_LIST_STATE, HITL__ST_RUN_STEP_LIST,  HITL__ST_RUN_COMMAND_LIST,
      HITL__ST_RUN_OPEN_TASKS, HITL__ST_RUN_TOUCH,
  };
  char sql[4096];
  for (size_t i = 0; i < sizeof hot / sizeof hot[0]; i++) {
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", hitl__sqlite_sql(hot[i]));
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL), SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      const char *detail = (const char *)sqlite3_column_text(st, 3);
      bool scans = strncmp(detail, "SCAN ", 5) == 0 && strcmp(detail, "SCAN CONSTANT ROW") != 0;
      bool sorts = strstr(detail, "TEMP B-TREE") != NULL;
      if (scans || sorts) fprintf(stderr, "statement %d: %s\n", (int)hot[i], detail);
      assert_false(scans);
      assert_false(sorts);
      rows++;
    }
    assert_true(rows > 0);
    sqlite3_finalize(st);
  }
  /* The claim walks the pending index in serving order: check it names that index. */
  snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", hitl__sqlite_sql(HITL__ST_TASK_CLAIM));
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL), SQLITE_OK);
  bool uses_claim_index = false;
  while (sqlite3_step(st) == SQLITE_ROW)
    uses_claim_index |= strstr((const char *)sqlite3_column_text(st, 3), "tasks_claim") != NULL;
  sqlite3_finalize(st);
  assert_true(uses_claim_index);
  hitl_store_close(&s->base);
}

/* One thread's work: open its own handle on the shared path and write one queue. */
typedef struct opener {
  const char *path;
  int index;
  int rc;
} opener;

static void *open_and_write(void *arg) {
  opener *o = arg;
  hitl_store *s = NULL;
  o->rc = hitl__store_sqlite_open(o->path, &s, NULL);
  if (o->rc != 0) return NULL;
  char name[32];
  snprintf(name, sizeof name, "q%d", o->index);
  int64_t id;
  bool created;
  o->rc = s->vt->begin(s);
  if (o->rc == 0) o->rc = s->vt->queue_put(s, name, "{}", o->index, &id, &created);
  if (o->rc == 0) o->rc = s->vt->commit(s);
  hitl_store_close(s);
  return NULL;
}

/* Threads that open a new file at once migrate it exactly once and all get to write. */
static void test_concurrent_open_and_write(void **state) {
  fixture *f = *state;
  enum { N = 4 };
  pthread_t th[N];
  opener o[N];
  for (int i = 0; i < N; i++) {
    o[i] = (opener){.path = f->path, .index = i, .rc = -1};
    assert_int_equal(pthread_create(&th[i], NULL, open_and_write, &o[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(o[i].rc, 0);
  }
  hitl__sqlite *s = open_sqlite(f->path);
  char v[32];
  query_text(s->db, "SELECT count(*) FROM queues", v, sizeof v);
  assert_int_equal(atoi(v), N);
  query_text(s->db, "PRAGMA user_version", v, sizeof v);
  assert_int_equal(atoi(v), (int)hitl__sqlite_migrations_count);
  hitl_store_close(&s->base);
}

/* A handle opened while another holds the write lock (the server's writer between two commits
 * is rare under load) opens at once: an up-to-date database is only read at open. Opening used
 * to take the write lock to check the migrations, and waited up to the busy timeout for it. */
static void test_open_while_writer_busy(void **state) {
  fixture *f = *state;
  hitl__sqlite *writer = open_sqlite(f->path);
  assert_int_equal(hitl_store_begin(&writer->base), 0);
  exec_ok(writer->db, "INSERT INTO queues (name, config, created_at, updated_at) "
                      "VALUES ('held', '{}', 0, 0)");
  /* Would wait out the busy timeout and fail with "database is locked". */
  hitl__sqlite *reader = open_sqlite(f->path);
  char v[32];
  query_text(reader->db, "SELECT count(*) FROM queues", v, sizeof v);
  assert_string_equal(v, "0"); /* The open transaction is not visible... */
  assert_int_equal(hitl_store_commit(&writer->base), 0);
  query_text(reader->db, "SELECT count(*) FROM queues", v, sizeof v);
  assert_string_equal(v, "1"); /* ...and its commit is. */
  hitl_store_close(&reader->base);
  hitl_store_close(&writer->base);
}

/* Counts this process's open files whose name holds needle (SQLite names its temporary files
 * "etilqs_..."; a deleted one still shows in /proc/self/fd). */
static int open_files_named(const char *needle) {
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    char link[300], target[512];
    snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
    ssize_t len = readlink(link, target, sizeof target - 1);
    if (len <= 0) continue;
    target[len] = '\0';
    if (strstr(target, needle)) n++;
  }
  closedir(d);
  return n;
}

/* An operation of a group commit runs under a savepoint, and SQLite journals the original of each
 * page it changes. That journal stays in memory: past 64 KiB it used to spill to a temporary file
 * created, written and deleted in every batch. Here an operation changes about 1 MiB of pages. */
static void test_savepoint_journal_in_memory(void **state) {
  fixture *f = *state;
  hitl__sqlite *s = open_sqlite(f->path);
  exec_ok(s->db, "CREATE TABLE filler (x BLOB);"
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                 "WHERE i < 256) INSERT INTO filler SELECT zeroblob(3000) FROM n;");
  int before = open_files_named("etilqs_");
  assert_int_equal(hitl_store_begin(&s->base), 0);
  assert_int_equal(s->base.vt->op_begin(&s->base), 0);
  exec_ok(s->db, "UPDATE filler SET x = randomblob(3000)");
  assert_int_equal(sqlite3_changes(s->db), 256);
  assert_int_equal(open_files_named("etilqs_"), before); /* No spill file. */
  /* The journal in memory still undoes the operation. */
  assert_int_equal(s->base.vt->op_abort(&s->base), 0);
  char v[32];
  query_text(s->db, "SELECT count(*) FROM filler WHERE x = zeroblob(3000)", v, sizeof v);
  assert_string_equal(v, "256");
  assert_int_equal(hitl_store_rollback(&s->base), 0);
  hitl_store_close(&s->base);
}

/* ...on handles that write only: one that has not begun a write transaction (a reader, or the
 * migrations at open) keeps SQLite's default and puts large temporary data on disk. */
static void test_temp_store_memory_once_writing(void **state) {
  fixture *f = *state;
  hitl__sqlite *s = open_sqlite(f->path);
  char v[16];
  query_text(s->db, "PRAGMA temp_store", v, sizeof v);
  assert_string_equal(v, "0"); /* DEFAULT */
  assert_int_equal(hitl_store_begin(&s->base), 0);
  assert_int_equal(hitl_store_rollback(&s->base), 0);
  query_text(s->db, "PRAGMA temp_store", v, sizeof v);
  assert_string_equal(v, "2"); /* MEMORY */
  hitl_store_close(&s->base);
}

/* A database that turned read-only under a running server (PRAGMA query_only gives SQLite's
 * SQLITE_READONLY as a remount or chmod would) fails a write with 503 unavailable: nothing was
 * stored and an operator can fix it, so not 500 store_failed. */
static void test_read_only_write_unavailable(void **state) {
  fixture *f = *state;
  hitl__sqlite *s = open_sqlite(f->path);
  int64_t id = 0;
  bool created = false;
  assert_int_equal(hitl_store_begin(&s->base), 0);
  exec_ok(s->db, "PRAGMA query_only = 1");
  assert_int_equal(s->base.vt->queue_put(&s->base, "q", "{}", 1, &id, &created),
                   HITL_EUNAVAILABLE);
  assert_int_equal(hitl_store_rollback(&s->base), 0);
  assert_int_equal(hitl_store_begin(&s->base), HITL_EUNAVAILABLE); /* BEGIN IMMEDIATE writes. */
  hitl_store_close(&s->base);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_durability_settings),     T(test_migrations_idempotent),
      T(test_newer_schema_refused),    T(test_not_a_database),
      T(test_migration_idempotency_per_submitter),
      T(test_query_plans_use_indexes), T(test_concurrent_open_and_write),
      T(test_savepoint_journal_in_memory), T(test_temp_store_memory_once_writing),
      T(test_open_while_writer_busy),  T(test_read_only_write_unavailable),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
