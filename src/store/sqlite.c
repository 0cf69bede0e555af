/* SPDX-License-Identifier: MIT */
/* The SQLite backend of the store: connection set-up, migrations, transactions and queues (its
 * statements are in sqlite_sql.c, tasks in sqlite_task.c, the rest in sqlite_records.c,
 * sqlite_delivery.c, sqlite_run.c and sqlite_calib.c). */
#include "store/sqlite.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/migrations.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define BUSY_TIMEOUT_MS 5000

/* Steps a statement that returns no rows, then resets it. */
static int exec_stmt(hitl__sqlite *s, hitl__sqlite_stmt_id id, const char *what) {
  sqlite3_stmt *st = hitl__sqlite_stmt(s, id);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, what);
  hitl__sqlite_done(st);
  return ret;
}

/* ---- Transactions ---- */

/* A handle that writes keeps its temporary data in memory. That data is above all the savepoint
 * journal: each operation of a group commit runs under a savepoint, and SQLite keeps the original
 * of every page the operation changes, spilling past 64 KiB to a temporary file. A batch of
 * claims created, wrote some 200 pages to, and deleted such a file at every commit; in memory
 * (a few dozen KiB per claim or answer, a few MiB for a batch of 1,000 tasks) a claim costs the
 * server about a fifth less CPU (bench/README.md). Set at the first write transaction, so that
 * the migrations run at open, which may rewrite whole tables, still spill to disk, and handles
 * that only read sort large results on disk as before. */
static int sq_begin(hitl_store *store) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  if (!s->writes) {
    int rc = sqlite3_exec(s->db, "PRAGMA temp_store = MEMORY", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return hitl__sqlite_fail(s, rc, "begin");
    s->writes = true;
  }
  return exec_stmt(s, HITL__ST_BEGIN, "begin");
}

static int sq_commit(hitl_store *store) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  /* With journal_mode=WAL and synchronous=FULL, COMMIT returns after the WAL is fsync'd. */
  int ret = exec_stmt(s, HITL__ST_COMMIT, "commit");
  if (ret != 0 && !sqlite3_get_autocommit(s->db)) {
    /* A commit that failed leaves the transaction open: end it so the handle stays usable. */
    exec_stmt(s, HITL__ST_ROLLBACK, "rollback");
    ret = HITL_ESTORE;
  }
  return ret;
}

static int sq_rollback(hitl_store *store) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  if (sqlite3_get_autocommit(s->db)) return 0; /* Nothing open (SQLite may have rolled back). */
  return exec_stmt(s, HITL__ST_ROLLBACK, "rollback");
}

static int sq_op_begin(hitl_store *store) {
  return exec_stmt((hitl__sqlite *)store, HITL__ST_SAVEPOINT, "op_begin");
}

static int sq_op_end(hitl_store *store) {
  return exec_stmt((hitl__sqlite *)store, HITL__ST_RELEASE, "op_end");
}

static int sq_op_abort(hitl_store *store) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  int ret = exec_stmt(s, HITL__ST_ROLLBACK_TO, "op_abort");
  if (ret == 0) ret = exec_stmt(s, HITL__ST_RELEASE, "op_abort");
  return ret;
}

/* Each statement is a function call on SQLite: there is no round trip to save. */
static int sq_pipeline(hitl_store *store, bool on) {
  (void)store;
  (void)on;
  return 0;
}

/* ---- Queues ---- */

static void read_queue(sqlite3_stmt *st, hitl_queue_row *q) {
  q->id = sqlite3_column_int64(st, 0);
  q->name = hitl__sqlite_col_text(st, 1);
  q->config = hitl__sqlite_col_text(st, 2);
  q->created_at = sqlite3_column_int64(st, 3);
  q->updated_at = sqlite3_column_int64(st, 4);
}

static int sq_queue_put(hitl_store *store, const char *name, const char *config, int64_t now,
                        int64_t *id, bool *created) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_QUEUE_FIND);
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int64_t found = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  int ret = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0 : hitl__sqlite_fail(s, rc, "queue_put");
  hitl__sqlite_done(st);
  if (ret != 0) return ret;

  st = hitl__sqlite_stmt(s, found ? HITL__ST_QUEUE_UPDATE : HITL__ST_QUEUE_INSERT);
  if (found)
    sqlite3_bind_int64(st, 1, found);
  else
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, config, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, now);
  rc = sqlite3_step(st);
  ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "queue_put");
  hitl__sqlite_done(st);
  if (ret != 0) return ret;
  *id = found ? found : sqlite3_last_insert_rowid(s->db);
  *created = found == 0;
  return 0;
}

static void read_queue_row(sqlite3_stmt *st, void *row) { read_queue(st, row); }

static int sq_queue_get(hitl_store *store, const char *name, hitl_queue_row *out) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_QUEUE_GET);
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  return hitl__sqlite_one(s, st, sizeof *out, read_queue_row, "queue_get", out);
}
static void clear_queue_row(void *row) { hitl_queue_row_clear(row); }

static int sq_queue_list(hitl_store *store, hitl_queue_row **out, size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, hitl__sqlite_stmt(s, HITL__ST_QUEUE_LIST), sizeof **out,
                              read_queue_row, clear_queue_row, "queue_list", &rows, n);
  *out = rows;
  return rc;
}

static int sq_queue_oldest_pending(hitl_store *store, int64_t queue_id, int64_t *created_at) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_STATS_OLDEST);
  sqlite3_bind_int64(st, 1, queue_id);
  int rc = sqlite3_step(st);
  *created_at = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  hitl__sqlite_done(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return hitl__sqlite_fail(s, rc, "queue_oldest_pending");
  return 0;
}

static int sq_queue_stats(hitl_store *store, int64_t queue_id, hitl_queue_stats *out) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_QUEUE_EXISTS);
  sqlite3_bind_int64(st, 1, queue_id);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_ROW    ? 0
            : rc == SQLITE_DONE ? HITL_ENOT_FOUND
                                : hitl__sqlite_fail(s, rc, "queue_stats");
  hitl__sqlite_done(st);
  if (ret != 0) return ret;

  st = hitl__sqlite_stmt(s, HITL__ST_STATS_STATES);
  sqlite3_bind_int64(st, 1, queue_id);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int state = sqlite3_column_int(st, 0);
    if (state >= 0 && state < HITL_TASK_NSTATES) out->by_state[state] = sqlite3_column_int64(st, 1);
  }
  hitl__sqlite_done(st);
  if (rc != SQLITE_DONE) return hitl__sqlite_fail(s, rc, "queue_stats");

  rc = sq_queue_oldest_pending(store, queue_id, &out->oldest_pending_at);
  if (rc) return rc;

  st = hitl__sqlite_stmt(s, HITL__ST_STATS_DECIDED);
  sqlite3_bind_int64(st, 1, queue_id);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const char *by = (const char *)sqlite3_column_text(st, 0);
    int64_t count = sqlite3_column_int64(st, 1);
    if (strcmp(by, "policy") == 0) out->decided_policy = count;
    else if (strcmp(by, "human") == 0) out->decided_human = count;
    else if (strcmp(by, "consensus") == 0) out->decided_consensus = count;
    else if (strcmp(by, "sla") == 0) out->decided_sla = count;
  }
  hitl__sqlite_done(st);
  if (rc != SQLITE_DONE) return hitl__sqlite_fail(s, rc, "queue_stats");
  return 0;
}

/* ---- Open and close ---- */

static void sq_close(hitl_store *store) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  for (int i = 0; i < HITL__ST_COUNT; i++) sqlite3_finalize(s->stmts[i]);
  /* Closing with a transaction open rolls it back, which is what an abandoned handle needs. */
  if (sqlite3_close(s->db) != SQLITE_OK)
    hitl_log(HITL_LOG_ERROR, "store=sqlite op=close message=\"%s\"", sqlite3_errmsg(s->db));
  hitl_buf_free(&s->scratch);
  free(s);
}

/* One process opens a SQLite database: its own commits are all the changes (see store.h). */
static int sq_changes_publish(hitl_store *store, const char *text) {
  (void)store;
  (void)text;
  return 0;
}

static int sq_changes_wait(hitl_store *store, int timeout_ms, char ***texts, size_t *n) {
  (void)store;
  (void)timeout_ms;
  *texts = NULL;
  *n = 0;
  return HITL_ENOT_FOUND;
}

static int sq_delivery_take(hitl_store *store, int64_t seq, int64_t now, int64_t hold_until,
                            bool *taken) {
  (void)store;
  (void)seq;
  (void)now;
  (void)hold_until;
  *taken = true; /* This process's worker knows what it has in flight. */
  return 0;
}

static const hitl_store_vtable sqlite_vtable = {
    .version = HITL_STORE_VERSION,
    .close = sq_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .op_begin = sq_op_begin,
    .op_end = sq_op_end,
    .op_abort = sq_op_abort,
    .queue_put = sq_queue_put,
    .queue_get = sq_queue_get,
    .queue_list = sq_queue_list,
    .queue_stats = sq_queue_stats,
    .queue_oldest_pending = sq_queue_oldest_pending,
    .task_insert = hitl__sqlite_task_insert,
    .task_update = hitl__sqlite_task_update,
    .task_get = hitl__sqlite_task_get,
    .task_get_idempotent = hitl__sqlite_task_get_idempotent,
    .task_claim_next = hitl__sqlite_task_claim_next,
    .task_scan = hitl__sqlite_task_scan,
    .task_due = hitl__sqlite_task_due,
    .task_next_due = hitl__sqlite_task_next_due,
    .response_insert = hitl__sqlite_response_insert,
    .response_list = hitl__sqlite_response_list,
    .response_list_many = hitl__sqlite_response_list_many,
    .response_exists = hitl__sqlite_response_exists,
    .event_last = hitl__sqlite_event_last,
    /* The write transaction holds SQLite's one write lock, so the head cannot move under it. */
    .event_head = hitl__sqlite_event_last,
    .event_insert = hitl__sqlite_event_insert,
    .event_list = hitl__sqlite_event_list,
    .token_insert = hitl__sqlite_token_insert,
    .token_find = hitl__sqlite_token_find,
    .token_revoke = hitl__sqlite_token_revoke,
    .token_list = hitl__sqlite_token_list,
    .delivery_insert = hitl__sqlite_delivery_insert,
    .delivery_due = hitl__sqlite_delivery_due,
    .delivery_next_due = hitl__sqlite_delivery_next_due,
    .delivery_update = hitl__sqlite_delivery_update,
    .delivery_list = hitl__sqlite_delivery_list,
    .delivery_get = hitl__sqlite_delivery_get,
    .calib_put = hitl__sqlite_calib_put,
    .calib_get = hitl__sqlite_calib_get,
    .calib_list = hitl__sqlite_calib_list,
    .calib_tally_add = hitl__sqlite_calib_tally_add,
    .calib_tally_sum = hitl__sqlite_calib_tally_sum,
    .calib_snapshot_put = hitl__sqlite_calib_snapshot_put,
    .calib_snapshot_get = hitl__sqlite_calib_snapshot_get,
    .pipeline = sq_pipeline,
    .response_list_by_reviewer = hitl__sqlite_response_list_by_reviewer,
    .response_count_by_reviewer = hitl__sqlite_response_count_by_reviewer,
    .reviewer_activity = hitl__sqlite_reviewer_activity,
    .event_find = hitl__sqlite_event_find,
    .task_count_by_reviewer = hitl__sqlite_task_count_by_reviewer,
    .run_insert = hitl__sqlite_run_insert,
    .run_update = hitl__sqlite_run_update,
    .run_touch = hitl__sqlite_run_touch,
    .run_get = hitl__sqlite_run_get,
    .run_list = hitl__sqlite_run_list,
    .run_due = hitl__sqlite_run_due,
    .run_next_due = hitl__sqlite_run_next_due,
    .run_step_insert = hitl__sqlite_run_step_insert,
    .run_step_list = hitl__sqlite_run_step_list,
    .run_command_insert = hitl__sqlite_run_command_insert,
    .run_command_list = hitl__sqlite_run_command_list,
    .run_command_ack = hitl__sqlite_run_command_ack,
    .run_open_tasks = hitl__sqlite_run_open_tasks,
    .delivery_take = sq_delivery_take,
    .changes_publish = sq_changes_publish,
    .changes_wait = sq_changes_wait,
};

/* Runs one or more SQL statements that return nothing of interest. */
static int exec_sql(sqlite3 *db, const char *sql, const char *path, hitl_err *err) {
  char *msg = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
  hitl_err_set(err, HITL_ESTORE, NULL, "SQLite database %s: %s", path,
               msg ? msg : sqlite3_errmsg(db));
  sqlite3_free(msg);
  return HITL_ESTORE;
}

/* Reads PRAGMA user_version. */
static int user_version(sqlite3 *db, int64_t *version, const char *path, hitl_err *err) {
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
  if (rc == SQLITE_OK) rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *version = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (rc == SQLITE_ROW) return 0;
  return hitl_err_set(err, HITL_ESTORE, NULL, "SQLite database %s: %s", path, sqlite3_errmsg(db));
}

/* Applies the migrations the database lacks, all in one write transaction, so that handles
 * opening the same new file at once migrate it exactly once. A database that is up to date is
 * only read: a handle opened while the server's writer is busy (a reader thread's first request
 * under load) must not wait for the write lock, which the writer frees only between commits. */
static int migrate(sqlite3 *db, const char *path, hitl_err *err) {
  int64_t version = 0;
  int ret = user_version(db, &version, path, err);
  if (ret != 0) return ret;
  if (version == (int64_t)hitl__sqlite_migrations_count) return 0;
  ret = exec_sql(db, "BEGIN IMMEDIATE", path, err);
  if (ret != 0) return ret;
  ret = user_version(db, &version, path, err); /* Another handle may have migrated meanwhile. */
  if (ret != 0) goto cleanup;
  if (version > (int64_t)hitl__sqlite_migrations_count) {
    ret = hitl_err_set(err, HITL_ESTORE, NULL,
                       "SQLite database %s has schema version %lld, newer than this hitl knows "
                       "(%zu): upgrade hitl",
                       path, (long long)version, hitl__sqlite_migrations_count);
    goto cleanup;
  }
  for (size_t i = (size_t)version; i < hitl__sqlite_migrations_count; i++) {
    ret = exec_sql(db, hitl__sqlite_migrations[i], path, err);
    if (ret != 0) goto cleanup;
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA user_version = %zu", i + 1);
    ret = exec_sql(db, pragma, path, err);
    if (ret != 0) goto cleanup;
    hitl_log(HITL_LOG_INFO, "store=sqlite migrated_to=%zu", i + 1);
  }
  ret = exec_sql(db, "COMMIT", path, err);
cleanup:
  if (ret != 0 && !sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
  return ret;
}

static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;

int hitl__store_sqlite_open(const char *path, hitl_store **out, hitl_err *err) {
  *out = NULL;
  hitl__sqlite *s = hitl_xcalloc(1, sizeof *s);
  s->base.vt = &sqlite_vtable;
  hitl_buf_init(&s->scratch);
  int ret = 0;
  /* NOMUTEX: a handle is used by one thread at a time, so SQLite's own locking is not needed. */
  int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                             SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    ret = hitl_err_set(err, HITL_ESTORE, NULL, "cannot open SQLite database %s: %s", path,
                       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
    goto cleanup;
  }
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
  /* WAL lets readers on other handles run beside the one writer; synchronous=FULL fsyncs the WAL
   * at every commit, so a commit that returned survives a power cut. The writer checkpoints the
   * WAL into the database when it holds 40,000 pages (about 160 MB) rather than SQLite's 1,000:
   * a claim and its answer change about 15 pages spread over a large database, and a checkpoint
   * (two fsyncs and random writes) holds up the writer and every request waiting on it. Rarer,
   * they cost less in all (a page changed twice is copied once) and delay too few requests to
   * reach the claim p99 most of the time; each one takes longer (0.05 to 0.2 s under load on
   * the test machine, 0.6 s once right after a 1,000,000-task prefill; bench/README.md). */
  /* The handles of this process set up one at a time: on a new file, two switching it to WAL at
   * once could fail with "database is locked" or even "file is not a database" (about one run
   * in 200 of the unit test that opens a new file from four threads). */
  pthread_mutex_lock(&setup_lock);
  ret = exec_sql(s->db,
                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
                 "PRAGMA wal_autocheckpoint = 40000;",
                 path, err);
  if (ret == 0) ret = migrate(s->db, path, err);
  pthread_mutex_unlock(&setup_lock);
  if (ret != 0) goto cleanup;
  for (int i = 0; i < HITL__ST_COUNT; i++) {
    rc = sqlite3_prepare_v3(s->db, hitl__sqlite_sql((hitl__sqlite_stmt_id)i), -1,
                            SQLITE_PREPARE_PERSISTENT, &s->stmts[i], NULL);
    if (rc != SQLITE_OK) {
      ret = hitl_err_set(err, HITL_ESTORE, NULL, "SQLite database %s: preparing statement %d: %s",
                         path, i, sqlite3_errmsg(s->db));
      goto cleanup;
    }
  }
  *out = &s->base;
  return 0;
cleanup:
  sq_close(&s->base);
  return ret;
}
