/* SPDX-License-Identifier: MIT */
/* Internals shared by the SQLite backend's files: the handle, its statement cache and helpers. */
#ifndef HITL_STORE_SQLITE_H
#define HITL_STORE_SQLITE_H

#include <sqlite3.h>

#include "store/store.h"
#include "store/task_columns.h"
#include "util/buf.h"

/* Every statement the backend runs, prepared once per handle. */
typedef enum hitl__sqlite_stmt_id {
  HITL__ST_BEGIN,
  HITL__ST_COMMIT,
  HITL__ST_ROLLBACK,
  HITL__ST_SAVEPOINT,
  HITL__ST_RELEASE,
  HITL__ST_ROLLBACK_TO,
  HITL__ST_QUEUE_FIND,
  HITL__ST_QUEUE_INSERT,
  HITL__ST_QUEUE_UPDATE,
  HITL__ST_QUEUE_GET,
  HITL__ST_QUEUE_LIST,
  HITL__ST_QUEUE_EXISTS,
  HITL__ST_STATS_STATES,
  HITL__ST_STATS_OLDEST,
  HITL__ST_STATS_DECIDED,
  HITL__ST_TASK_INSERT,
  HITL__ST_TASK_UPDATE,
  HITL__ST_TASK_GET,
  HITL__ST_TASK_IDEMPOTENT,
  HITL__ST_TASK_CLAIM,
  HITL__ST_TASK_SCAN,          /* task_scan: the six forms, in the order scan_stmt picks. */
  HITL__ST_TASK_SCAN_STATE,
  HITL__ST_TASK_SCAN_DECIDED,
  HITL__ST_TASK_SCAN_SUMMARY,
  HITL__ST_TASK_SCAN_STATE_SUMMARY,
  HITL__ST_TASK_SCAN_DECIDED_SUMMARY,
  HITL__ST_TASK_DUE_LEASE,
  HITL__ST_TASK_DUE_DEADLINE,
  HITL__ST_TASK_NEXT_DUE,
  HITL__ST_RESPONSE_INSERT,
  HITL__ST_RESPONSE_LIST,
  HITL__ST_RESPONSE_LIST_MANY,
  HITL__ST_RESPONSE_EXISTS,
  HITL__ST_RESPONSE_BY_REVIEWER,
  HITL__ST_RESPONSE_COUNT_REVIEWER,
  HITL__ST_REVIEWER_ACTIVITY,
  HITL__ST_EVENT_LAST,
  HITL__ST_EVENT_INSERT,
  HITL__ST_EVENT_LIST,
  HITL__ST_EVENT_FIND_TASK,
  HITL__ST_EVENT_FIND,
  HITL__ST_EVENT_FIND_TASK_BACK,
  HITL__ST_EVENT_FIND_BACK,
  HITL__ST_TOKEN_INSERT,
  HITL__ST_TOKEN_FIND,
  HITL__ST_TOKEN_REVOKE,
  HITL__ST_TOKEN_LIST,
  HITL__ST_DELIVERY_INSERT,
  HITL__ST_DELIVERY_DUE,
  HITL__ST_DELIVERY_NEXT_DUE,
  HITL__ST_DELIVERY_UPDATE,
  HITL__ST_DELIVERY_LIST,
  HITL__ST_TASK_COUNT_REVIEWER,
  HITL__ST_RUN_INSERT,
  HITL__ST_RUN_UPDATE,
  HITL__ST_RUN_TOUCH,
  HITL__ST_RUN_GET,
  HITL__ST_RUN_LIST,
  HITL__ST_RUN_LIST_STATE,
  HITL__ST_RUN_DUE,
  HITL__ST_RUN_NEXT_DUE,
  HITL__ST_RUN_STEP_INSERT,
  HITL__ST_RUN_STEP_LIST,
  HITL__ST_RUN_COMMAND_INSERT,
  HITL__ST_RUN_COMMAND_LIST,
  HITL__ST_RUN_COMMAND_ACK,
  HITL__ST_RUN_OPEN_TASKS,
  HITL__ST_DELIVERY_GET,
  HITL__ST_CALIB_PUT,
  HITL__ST_CALIB_GET,
  HITL__ST_CALIB_LIST,
  HITL__ST_CALIB_TALLY_ADD,
  HITL__ST_CALIB_TALLY_SUM,
  HITL__ST_CALIB_SNAPSHOT_PUT,
  HITL__ST_CALIB_SNAPSHOT_DELETE,
  HITL__ST_CALIB_SNAPSHOT_GET,
  HITL__ST_COUNT
} hitl__sqlite_stmt_id;

/* A SQLite store handle: the base first, then one connection and its prepared statements. */
typedef struct hitl__sqlite {
  hitl_store base;
  sqlite3 *db;
  sqlite3_stmt *stmts[HITL__ST_COUNT];
  hitl_buf scratch; /* Reused for per-call text (the claim's role list) to spare allocations. */
  bool writes;      /* Has begun a write transaction (and set temp_store = MEMORY). */
} hitl__sqlite;

/* The SQL text of a statement id (sqlite_sql.c, with the helpers below). */
const char *hitl__sqlite_sql(hitl__sqlite_stmt_id id);

/* Returns the prepared statement, reset and unbound; the caller resets it again when done
 * (hitl__sqlite_done), so that no read snapshot stays open between calls. */
static inline sqlite3_stmt *hitl__sqlite_stmt(hitl__sqlite *s, hitl__sqlite_stmt_id id) {
  return s->stmts[id];
}

/* Resets st and clears its bindings. */
void hitl__sqlite_done(sqlite3_stmt *st);

/* Reads the current row of st into row (zeroed beforehand). */
typedef void (*hitl__sqlite_row_fn)(sqlite3_stmt *st, void *row);
/* Frees what one row owns. */
typedef void (*hitl__sqlite_clear_fn)(void *row);

/* Steps st to its end, reading each row (size bytes) with read into a malloc'd array: *out and *n
 * (NULL and 0 when none). On failure frees what it read (clear may be NULL), returns the error
 * of hitl__sqlite_fail under the name what, and sets *out NULL and *n 0. Resets st. */
int hitl__sqlite_collect(hitl__sqlite *s, sqlite3_stmt *st, size_t size, hitl__sqlite_row_fn read,
                         hitl__sqlite_clear_fn clear, const char *what, void **out, size_t *n);

/* Steps st for at most one row, read with read into out (size bytes, zeroed first). Returns 0,
 * HITL_ENOT_FOUND when there is no row, or the error of hitl__sqlite_fail under the name what.
 * Resets st. */
int hitl__sqlite_one(hitl__sqlite *s, sqlite3_stmt *st, size_t size, hitl__sqlite_row_fn read,
                     const char *what, void *out);

/* Maps a failed sqlite3 return code: a unique or primary-key clash is HITL_ECONFLICT (not logged);
 * anything else is logged with SQLite's message under the name what and returns HITL_ESTORE. */
int hitl__sqlite_fail(hitl__sqlite *s, int rc, const char *what);

/* Binds s as text, or NULL when s is NULL (or empty when empty_is_null). The string must outlive
 * the step. Returns the sqlite3 code. */
int hitl__sqlite_bind_text(sqlite3_stmt *st, int i, const char *s, int empty_is_null);

/* A malloc'd copy of a text column, or NULL for SQL NULL. */
char *hitl__sqlite_col_text(sqlite3_stmt *st, int i);
/* Copies a text column into an id buffer ("" for NULL). */
void hitl__sqlite_col_id(sqlite3_stmt *st, int i, char out[HITL_ID_LEN]);
/* Copies a 32-byte blob column into out (zeroes when NULL or of another size). */
void hitl__sqlite_col_hash(sqlite3_stmt *st, int i, uint8_t out[HITL_HASH_LEN]);

/* The task functions of the vtable (sqlite_task.c). */
int hitl__sqlite_task_insert(hitl_store *store, hitl_task *t);
int hitl__sqlite_task_update(hitl_store *store, const hitl_task *t);
int hitl__sqlite_task_get(hitl_store *store, const char *id, hitl_task *out);
int hitl__sqlite_task_get_idempotent(hitl_store *store, int64_t queue_id, const char *submitter,
                                     const char *key, hitl_task *out);
int hitl__sqlite_task_claim_next(hitl_store *store, const hitl_claim_filter *f, hitl_task *out);
int hitl__sqlite_task_scan(hitl_store *store, const hitl_task_scan *f, size_t limit,
                           hitl_task **out, size_t *n);
int hitl__sqlite_task_due(hitl_store *store, int64_t now, size_t limit, hitl_task **out, size_t *n);
int hitl__sqlite_task_next_due(hitl_store *store, int64_t *at);

/* The response, event and token functions of the vtable (sqlite_records.c). */
int hitl__sqlite_response_insert(hitl_store *store, hitl_response *r);
int hitl__sqlite_response_list_many(hitl_store *store, const int64_t *task_seqs, size_t n_tasks,
                                    hitl_response **out, size_t *n);
int hitl__sqlite_response_list(hitl_store *store, int64_t task_seq, hitl_response **out,
                               size_t *n);
int hitl__sqlite_response_exists(hitl_store *store, int64_t task_seq, const char *reviewer,
                                 bool *exists);
int hitl__sqlite_response_list_by_reviewer(hitl_store *store, const char *reviewer,
                                           int64_t before_seq, size_t limit, hitl_response **out,
                                           size_t *n);
int hitl__sqlite_response_count_by_reviewer(hitl_store *store, const char *reviewer, int64_t since,
                                            int64_t *n);
int hitl__sqlite_task_count_by_reviewer(hitl_store *store, const char *reviewer, int64_t since,
                                        int64_t *n);
int hitl__sqlite_reviewer_activity(hitl_store *store, int64_t since, hitl_reviewer_count **out,
                                   size_t *n);
int hitl__sqlite_event_find(hitl_store *store, int64_t after, const hitl_event_filter *f,
                            size_t limit, hitl_event **out, size_t *n);
int hitl__sqlite_event_last(hitl_store *store, int64_t *seq, uint8_t hash[HITL_HASH_LEN]);
int hitl__sqlite_event_insert(hitl_store *store, const hitl_event *e);
int hitl__sqlite_event_list(hitl_store *store, int64_t after, size_t limit, hitl_event **out,
                            size_t *n);
int hitl__sqlite_token_insert(hitl_store *store, const char *name,
                              const uint8_t hash[HITL_HASH_LEN], const char *roles, int64_t now);
int hitl__sqlite_token_find(hitl_store *store, const uint8_t hash[HITL_HASH_LEN],
                            hitl_token_row *out);
int hitl__sqlite_token_revoke(hitl_store *store, const char *name);
int hitl__sqlite_token_list(hitl_store *store, hitl_token_row **out, size_t *n);
int hitl__sqlite_calib_put(hitl_store *store, const hitl_calib_row *r);
int hitl__sqlite_calib_get(hitl_store *store, int64_t task_seq, hitl_calib_row *out);
int hitl__sqlite_calib_tally_add(hitl_store *store, int64_t queue_id, int64_t hour, int kind,
                                 int64_t n);
int hitl__sqlite_calib_tally_sum(hitl_store *store, int64_t queue_id, int64_t since_hour,
                                 int64_t *sums, int n_kinds);
int hitl__sqlite_calib_snapshot_put(hitl_store *store, const hitl_calib_snapshot *snap);
int hitl__sqlite_calib_snapshot_get(hitl_store *store, int64_t queue_id, hitl_calib_snapshot *out);
int hitl__sqlite_calib_list(hitl_store *store, int64_t queue_id, int64_t after, size_t limit,
                            hitl_calib_row **out, size_t *n);
int hitl__sqlite_delivery_insert(hitl_store *store, hitl_delivery *d);
int hitl__sqlite_delivery_due(hitl_store *store, int64_t now, size_t limit, hitl_delivery **out,
                              size_t *n);
int hitl__sqlite_delivery_next_due(hitl_store *store, int64_t *at);
int hitl__sqlite_delivery_update(hitl_store *store, const hitl_delivery *d);
int hitl__sqlite_delivery_list(hitl_store *store, int64_t queue_id, int state, int64_t before_seq,
                               size_t limit, hitl_delivery **out, size_t *n);
int hitl__sqlite_delivery_get(hitl_store *store, const char *id, hitl_delivery *out);

/* The run functions of the vtable (sqlite_run.c). */
int hitl__sqlite_run_insert(hitl_store *store, hitl_run *r);
int hitl__sqlite_run_update(hitl_store *store, const hitl_run *r);
int hitl__sqlite_run_touch(hitl_store *store, int64_t run_seq, int64_t at, int64_t due_at);
int hitl__sqlite_run_get(hitl_store *store, const char *id, hitl_run *out);
int hitl__sqlite_run_list(hitl_store *store, int state, int64_t before_seq, size_t limit,
                          hitl_run **out, size_t *n);
int hitl__sqlite_run_due(hitl_store *store, int64_t now, size_t limit, hitl_run **out, size_t *n);
int hitl__sqlite_run_next_due(hitl_store *store, int64_t *at);
int hitl__sqlite_run_step_insert(hitl_store *store, hitl_run_step *st);
int hitl__sqlite_run_step_list(hitl_store *store, int64_t run_seq, int64_t before_seq, size_t limit,
                               hitl_run_step **out, size_t *n);
int hitl__sqlite_run_command_insert(hitl_store *store, const hitl_run_command *c);
int hitl__sqlite_run_command_list(hitl_store *store, int64_t run_seq, int64_t after,
                                  bool pending_only, size_t limit, hitl_run_command **out,
                                  size_t *n);
int hitl__sqlite_run_command_ack(hitl_store *store, int64_t run_seq, int64_t seq, int64_t at);
int hitl__sqlite_run_open_tasks(hitl_store *store, const char *run_id, size_t limit,
                                hitl_task **out, size_t *n);
/* Reads a task row (HITL__TASK_COLUMNS, in order) from st (sqlite_task.c). */
void hitl__sqlite_read_task(sqlite3_stmt *st, void *row);

#endif
