/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend of the store (libpq): the handle's connection, migrations, queues, and
 * opening and closing (statements in postgres_exec.c, transactions in postgres_txn.c, tasks in
 * postgres_task.c, the rest in postgres_records.c, postgres_run.c, postgres_calib.c and
 * postgres_feed.c). */
#include "store/postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xmalloc.h"

/* The advisory lock under which migrations run, so that nodes started together migrate once.
 * Any constant does; this one is "hitl" in ASCII. */
#define MIGRATION_LOCK_KEY 0x6869746cLL

/* ---- Connection ---- */

/* Quiet: NOTICEs (such as "relation already exists, skipping") are not errors. */
static void ignore_notice(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

static int prepare_all(hitl__pg *s, hitl_err *err) {
  for (int i = 0; i < HITL__PG_COUNT; i++) {
    char name[16];
    snprintf(name, sizeof name, "h%d", i);
    PGresult *r = PQprepare(s->conn, name, hitl__pg_sql((hitl__pg_stmt_id)i), 0, NULL);
    bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
      hitl_err_set(err, HITL_ESTORE, NULL, "PostgreSQL database %s: preparing statement %d: %s",
                   s->url, i, PQresultErrorMessage(r));
    PQclear(r);
    if (!ok) return HITL_ESTORE;
  }
  return 0;
}

/* Settings every session needs: a commit returns once it is durable on the server's disk (the
 * server's default, but a role or database may have turned it off), and statements see what
 * committed before they began (READ COMMITTED: the claim and chain locks rely on it). hitl never
 * leaves a transaction idle (its writer runs a batch from BEGIN to COMMIT without waiting on
 * anything else), so a session idle in one for a minute belongs to a process that hangs: the
 * server ends it, and with it the chain's lock every other node's writer would wait for. */
/* The formats the column readers expect are set too, whatever the server's defaults: text in
 * UTF-8, bytea in hex, and floats printed so that they read back exactly. */
static const char session_sql[] =
    "SET synchronous_commit = on; SET client_min_messages = warning; "
    "SET default_transaction_isolation = 'read committed'; SET TIME ZONE 'UTC'; "
    "SET idle_in_transaction_session_timeout = '60s'; SET client_encoding = 'UTF8'; "
    "SET bytea_output = 'hex'; SET extra_float_digits = 3";

/* How long a connection attempt may take, in seconds, unless the URL or PGCONNECT_TIMEOUT says:
 * libpq waits for the operating system otherwise (minutes, for a host that drops packets), and
 * every attempt holds up a request, which should rather get its 503 at once. */
#define CONNECT_TIMEOUT "5"

/* Connects (again), sets the session up and prepares the statements. The URL's own settings
 * come after the default timeout, so they win; PQreset reuses them all. */
static int connect_db(hitl__pg *s, const char *url, hitl_err *err) {
  if (s->conn) PQfinish(s->conn);
  const char *env = getenv("PGCONNECT_TIMEOUT");
  bool default_timeout = env == NULL || env[0] == '\0';
  const char *const keys[] = {"connect_timeout", "dbname", NULL};
  const char *const values[] = {CONNECT_TIMEOUT, url, NULL};
  s->conn = PQconnectdbParams(keys + !default_timeout, values + !default_timeout, 1);
  if (PQstatus(s->conn) != CONNECTION_OK)
    return hitl_err_set(err, HITL_ESTORE, NULL, "cannot connect to PostgreSQL database %s: %s",
                        s->url, PQerrorMessage(s->conn));
  PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
  PGresult *r = PQexec(s->conn, session_sql);
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok)
    hitl_err_set(err, HITL_ESTORE, NULL, "PostgreSQL database %s: %s", s->url,
                 PQresultErrorMessage(r));
  PQclear(r);
  return ok ? 0 : HITL_ESTORE;
}

/* Copies libpq's message (several lines, quotes) into out as one line for a key=value log. */
static void one_line(char *out, size_t n, const char *msg) {
  snprintf(out, n, "%s", msg);
  for (char *p = out; *p; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    else if (*p == '"') *p = '\'';
  for (size_t len = strlen(out); len && out[len - 1] == ' '; len--) out[len - 1] = '\0';
}

/* A handle whose connection broke (the server restarted or went away) reconnects before its
 * next statement outside a transaction; inside one, the transaction is lost and its statements
 * fail. Returns 0, or HITL_EUNAVAILABLE while the database cannot be reached. */
int hitl__pg_ensure_connected(hitl__pg *s) {
  if (PQstatus(s->conn) == CONNECTION_OK || s->in_txn) return 0;
  PQreset(s->conn);
  s->listening = false; /* A new session listens to nothing yet. */
  hitl_err err = {0};
  int rc = PQstatus(s->conn) == CONNECTION_OK ? 0 : HITL_ESTORE;
  if (rc == 0) {
    PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
    PGresult *r = PQexec(s->conn, session_sql);
    rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : HITL_ESTORE;
    PQclear(r);
  }
  if (rc == 0) rc = prepare_all(s, &err);
  if (rc) {
    char msg[512];
    one_line(msg, sizeof msg, err.message[0] ? err.message : PQerrorMessage(s->conn));
    hitl_log(HITL_LOG_ERROR, "store=postgres op=reconnect message=\"%s\"", msg);
    return HITL_EUNAVAILABLE;
  }
  hitl_log(HITL_LOG_INFO, "store=postgres op=reconnect msg=\"connected again\"");
  return 0;
}

/* True when a statement that just failed on s can run again on a new connection: the connection
 * broke (PQstatus says so only once a call has read the break) and no transaction was open, so
 * nothing else of the caller's was lost with it. Outside transactions hitl runs reads and the
 * webhook worker's take and update, which are harmless to repeat. */
bool hitl__pg_may_rerun(const hitl__pg *s) {
  return PQstatus(s->conn) != CONNECTION_OK && !s->in_txn;
}

/* Maps a failed result: see hitl__pg_exec. */
int hitl__pg_fail(hitl__pg *s, const PGresult *r, const char *what) {
  if (PQstatus(s->conn) != CONNECTION_OK) {
    /* The connection is gone (the server stopped or restarted, the session was ended): with it
     * any open transaction. The caller answers 503; the next statement connects again. */
    char msg[512];
    one_line(msg, sizeof msg, PQerrorMessage(s->conn));
    hitl_log(HITL_LOG_ERROR, "store=postgres op=%s msg=\"lost the connection\" message=\"%s\"",
             what, msg);
    return HITL_EUNAVAILABLE;
  }
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  if (state && strcmp(state, "23505") == 0) return HITL_ECONFLICT;
  if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) {
    s->doomed = s->in_txn;
    hitl_log(HITL_LOG_INFO, "store=postgres op=%s sqlstate=%s msg=\"lost a race, will retry\"",
             what, state);
    return HITL_ERETRY;
  }
  /* The primary message names tables and columns; the DETAIL line, which can quote values, is
   * left out so that no payload reaches the log. */
  const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  hitl_log(HITL_LOG_ERROR, "store=postgres op=%s sqlstate=%s message=\"%s\"", what,
           state ? state : "-", msg ? msg : PQerrorMessage(s->conn));
  return HITL_ESTORE;
}

/* ---- Queues ---- */

static void read_queue(const PGresult *r, int i, void *row) {
  hitl_queue_row *q = row;
  q->id = hitl__pg_col_int(r, i, 0);
  q->name = hitl__pg_col_text(r, i, 1);
  q->config = hitl__pg_col_text(r, i, 2);
  q->created_at = hitl__pg_col_int(r, i, 3);
  q->updated_at = hitl__pg_col_int(r, i, 4);
}

static int pg_queue_put(hitl_store *store, const char *name, const char *config, int64_t now,
                        int64_t *id, bool *created) {
  hitl__pg *s = (hitl__pg *)store;
  hitl__pg_params p = {0};
  hitl__pg_text(&p, name, 0);
  hitl__pg_text(&p, config, 0);
  hitl__pg_int(&p, now);
  PGresult *r = NULL;
  int rc = hitl__pg_exec(s, HITL__PG_QUEUE_UPSERT, &p, "queue_put", &r);
  if (rc) return rc;
  *id = hitl__pg_col_int(r, 0, 0);
  *created = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
  PQclear(r);
  return 0;
}

static int pg_queue_get(hitl_store *store, const char *name, hitl_queue_row *out) {
  hitl__pg_params p = {0};
  hitl__pg_text(&p, name, 0);
  return hitl__pg_one((hitl__pg *)store, HITL__PG_QUEUE_GET, &p, sizeof *out, read_queue,
                      "queue_get", out);
}

static int pg_queue_list(hitl_store *store, hitl_queue_row **out, size_t *n) {
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_QUEUE_LIST, NULL, sizeof **out,
                            read_queue, "queue_list", &rows, n);
  *out = rows;
  return rc;
}

static int pg_queue_oldest_pending(hitl_store *store, int64_t queue_id, int64_t *created_at) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, queue_id);
  PGresult *r = NULL;
  *created_at = 0;
  int rc = hitl__pg_exec((hitl__pg *)store, HITL__PG_STATS_OLDEST, &p, "queue_oldest_pending", &r);
  if (rc) return rc;
  if (PQntuples(r) > 0) *created_at = hitl__pg_col_int(r, 0, 0);
  PQclear(r);
  return 0;
}

/* Reads the counters the task trigger keeps (postgres_schema.c): no task is counted here. */
static int pg_queue_stats(hitl_store *store, int64_t queue_id, hitl_queue_stats *out) {
  hitl__pg *s = (hitl__pg *)store;
  memset(out, 0, sizeof *out);
  hitl__pg_params p = {0};
  hitl__pg_int(&p, queue_id);
  PGresult *r = NULL;
  int rc = hitl__pg_exec(s, HITL__PG_QUEUE_EXISTS, &p, "queue_stats", &r);
  if (rc) return rc;
  bool exists = PQntuples(r) > 0;
  PQclear(r);
  if (!exists) return HITL_ENOT_FOUND;
  rc = hitl__pg_exec(s, HITL__PG_STATS_COUNTS, &p, "queue_stats", &r);
  if (rc) return rc;
  for (int i = 0; i < PQntuples(r); i++) {
    int64_t state = hitl__pg_col_int(r, i, 0), count = hitl__pg_col_int(r, i, 2);
    const char *by = PQgetvalue(r, i, 1);
    if (state >= 0 && state < HITL_TASK_NSTATES) out->by_state[state] += count;
    if (strcmp(by, "policy") == 0) out->decided_policy += count;
    else if (strcmp(by, "human") == 0) out->decided_human += count;
    else if (strcmp(by, "consensus") == 0) out->decided_consensus += count;
    else if (strcmp(by, "sla") == 0) out->decided_sla += count;
  }
  PQclear(r);
  return pg_queue_oldest_pending(store, queue_id, &out->oldest_pending_at);
}

/* ---- Open and close ---- */

static void pg_close(hitl_store *store) {
  hitl__pg *s = (hitl__pg *)store;
  PQfinish(s->conn); /* Ends an open transaction, which rolls it back. */
  free(s->url);
  hitl_buf_free(&s->scratch);
  free(s->pending);
  free(s);
}

static const hitl_store_vtable postgres_vtable = {
    .version = HITL_STORE_VERSION,
    .close = pg_close,
    .begin = hitl__pg_begin,
    .commit = hitl__pg_commit,
    .rollback = hitl__pg_rollback,
    .op_begin = hitl__pg_op_begin,
    .op_end = hitl__pg_op_end,
    .op_abort = hitl__pg_op_abort,
    .pipeline = hitl__pg_pipeline,
    .queue_put = pg_queue_put,
    .queue_get = pg_queue_get,
    .queue_list = pg_queue_list,
    .queue_stats = pg_queue_stats,
    .queue_oldest_pending = pg_queue_oldest_pending,
    .task_insert = hitl__pg_task_insert,
    .task_update = hitl__pg_task_update,
    .task_get = hitl__pg_task_get,
    .task_get_idempotent = hitl__pg_task_get_idempotent,
    .task_claim_next = hitl__pg_task_claim_next,
    .task_scan = hitl__pg_task_scan,
    .task_due = hitl__pg_task_due,
    .task_next_due = hitl__pg_task_next_due,
    .response_insert = hitl__pg_response_insert,
    .response_list = hitl__pg_response_list,
    .response_list_many = hitl__pg_response_list_many,
    .response_exists = hitl__pg_response_exists,
    .response_list_by_reviewer = hitl__pg_response_list_by_reviewer,
    .response_count_by_reviewer = hitl__pg_response_count_by_reviewer,
    .task_count_by_reviewer = hitl__pg_task_count_by_reviewer,
    .reviewer_activity = hitl__pg_reviewer_activity,
    .event_last = hitl__pg_event_last,
    .event_head = hitl__pg_event_head,
    .event_insert = hitl__pg_event_insert,
    .event_list = hitl__pg_event_list,
    .event_find = hitl__pg_event_find,
    .token_insert = hitl__pg_token_insert,
    .token_find = hitl__pg_token_find,
    .token_revoke = hitl__pg_token_revoke,
    .token_list = hitl__pg_token_list,
    .delivery_insert = hitl__pg_delivery_insert,
    .delivery_due = hitl__pg_delivery_due,
    .delivery_next_due = hitl__pg_delivery_next_due,
    .delivery_update = hitl__pg_delivery_update,
    .delivery_list = hitl__pg_delivery_list,
    .run_insert = hitl__pg_run_insert,
    .run_update = hitl__pg_run_update,
    .run_touch = hitl__pg_run_touch,
    .run_get = hitl__pg_run_get,
    .run_list = hitl__pg_run_list,
    .run_due = hitl__pg_run_due,
    .run_next_due = hitl__pg_run_next_due,
    .run_step_insert = hitl__pg_run_step_insert,
    .run_step_list = hitl__pg_run_step_list,
    .run_command_insert = hitl__pg_run_command_insert,
    .run_command_list = hitl__pg_run_command_list,
    .run_command_ack = hitl__pg_run_command_ack,
    .run_open_tasks = hitl__pg_run_open_tasks,
    .delivery_get = hitl__pg_delivery_get,
    .delivery_take = hitl__pg_delivery_take,
    .changes_publish = hitl__pg_changes_publish,
    .changes_wait = hitl__pg_changes_wait,
    .calib_put = hitl__pg_calib_put,
    .calib_get = hitl__pg_calib_get,
    .calib_list = hitl__pg_calib_list,
    .calib_tally_add = hitl__pg_calib_tally_add,
    .calib_tally_sum = hitl__pg_calib_tally_sum,
    .calib_snapshot_put = hitl__pg_calib_snapshot_put,
    .calib_snapshot_get = hitl__pg_calib_snapshot_get,
};

/* Runs sql (no parameters) and returns its first value as an integer in *value (0 when it gives
 * no row or NULL). */
static int query_int(hitl__pg *s, const char *sql, int64_t *value, hitl_err *err) {
  PGresult *r = PQexec(s->conn, sql);
  int rc = 0;
  if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
    rc = hitl_err_set(err, HITL_ESTORE, NULL, "PostgreSQL database %s: %s", s->url,
                      PQresultErrorMessage(r));
  else
    *value = PQntuples(r) > 0 ? hitl__pg_col_int(r, 0, 0) : 0;
  PQclear(r);
  return rc;
}

/* The schema version: 0 while the version table does not exist. */
static int schema_version(hitl__pg *s, int64_t *version, hitl_err *err) {
  int64_t exists = 0;
  /* A query of the catalog, which sees what committed before it began (to_regclass might
   * answer from a cache that predates the migration another process just committed). */
  int rc = query_int(s,
                     "SELECT count(*) FROM pg_catalog.pg_tables "
                     "WHERE schemaname = current_schema() AND tablename = 'hitl_schema'",
                     &exists, err);
  *version = 0;
  if (rc || !exists) return rc;
  return query_int(s, "SELECT version FROM hitl_schema", version, err);
}

/* Applies the migrations the database lacks, in one transaction under an advisory lock, so that
 * nodes started together migrate once: the others wait on the lock, then find the work done. A
 * database that is up to date is only read. */
static int migrate(hitl__pg *s, hitl_err *err) {
  int64_t version = 0;
  int rc = schema_version(s, &version, err);
  if (rc) return rc;
  if (version == (int64_t)hitl__pg_migrations_count) return 0;
  char sql[96];
  snprintf(sql, sizeof sql, "BEGIN; SELECT pg_advisory_xact_lock(%lld)",
           (long long)MIGRATION_LOCK_KEY);
  int64_t ignored = 0;
  rc = query_int(s, sql, &ignored, err);
  if (rc) goto cleanup;
  rc = schema_version(s, &version, err); /* Another node may have migrated meanwhile. */
  if (rc) goto cleanup;
  if (version > (int64_t)hitl__pg_migrations_count) {
    rc = hitl_err_set(err, HITL_ESTORE, NULL,
                      "PostgreSQL database %s has schema version %lld, newer than this hitl knows "
                      "(%zu): upgrade hitl",
                      s->url, (long long)version, hitl__pg_migrations_count);
    goto cleanup;
  }
  if (version == 0)
    rc = query_int(s, "CREATE TABLE hitl_schema (version integer NOT NULL); "
                      "INSERT INTO hitl_schema VALUES (0)",
                   &ignored, err);
  for (size_t i = (size_t)version; rc == 0 && i < hitl__pg_migrations_count; i++) {
    rc = query_int(s, hitl__pg_migrations[i], &ignored, err);
    snprintf(sql, sizeof sql, "UPDATE hitl_schema SET version = %zu", i + 1);
    if (rc == 0) rc = query_int(s, sql, &ignored, err);
    if (rc == 0) hitl_log(HITL_LOG_INFO, "store=postgres migrated_to=%zu", i + 1);
  }
  if (rc == 0) rc = query_int(s, "COMMIT", &ignored, err);
cleanup:
  if (rc) query_int(s, "ROLLBACK", &ignored, NULL);
  return rc;
}

int hitl__store_postgres_open(const char *url, hitl_store **out, hitl_err *err) {
  *out = NULL;
  hitl__pg *s = hitl_xcalloc(1, sizeof *s);
  s->base.vt = &postgres_vtable;
  char shown[512];
  hitl_store_location_shown(url, shown, sizeof shown);
  s->url = hitl_xstrdup(shown);
  hitl_buf_init(&s->scratch);
  int rc = connect_db(s, url, err);
  if (rc == 0) rc = migrate(s, err);
  if (rc == 0) rc = prepare_all(s, err);
  if (rc) {
    pg_close(&s->base);
    return rc;
  }
  *out = &s->base;
  return 0;
}
