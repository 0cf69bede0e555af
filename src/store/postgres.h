/* SPDX-License-Identifier: MIT */
/* Internals shared by the PostgreSQL backend's files: the handle, its statements and helpers. */
#ifndef HITL_STORE_POSTGRES_H
#define HITL_STORE_POSTGRES_H

#include <libpq-fe.h>

#include "store/store.h"
#include "store/task_columns.h"
#include "util/buf.h"

/* Every statement the backend runs, prepared once per connection (named "h<id>"). */
typedef enum hitl__pg_stmt_id {
  HITL__PG_QUEUE_UPSERT,
  HITL__PG_QUEUE_GET,
  HITL__PG_QUEUE_LIST,
  HITL__PG_QUEUE_EXISTS,
  HITL__PG_STATS_COUNTS,
  HITL__PG_STATS_OLDEST,
  HITL__PG_TASK_INSERT,
  HITL__PG_TASK_UPDATE,
  HITL__PG_TASK_GET,
  HITL__PG_TASK_GET_LOCK,
  HITL__PG_TASK_IDEMPOTENT,
  HITL__PG_TASK_CLAIM,
  HITL__PG_TASK_SCAN,          /* task_scan: the six forms, in the order its code picks. */
  HITL__PG_TASK_SCAN_STATE,
  HITL__PG_TASK_SCAN_DECIDED,
  HITL__PG_TASK_SCAN_SUMMARY,
  HITL__PG_TASK_SCAN_STATE_SUMMARY,
  HITL__PG_TASK_SCAN_DECIDED_SUMMARY,
  HITL__PG_TASK_DUE_LEASE,
  HITL__PG_TASK_DUE_DEADLINE,
  HITL__PG_TASK_NEXT_DUE,
  HITL__PG_RESPONSE_INSERT,
  HITL__PG_RESPONSE_LIST,
  HITL__PG_RESPONSE_LIST_MANY,
  HITL__PG_RESPONSE_EXISTS,
  HITL__PG_RESPONSE_BY_REVIEWER,
  HITL__PG_RESPONSE_COUNT_REVIEWER,
  HITL__PG_RESPONSE_TOTAL_REVIEWER,
  HITL__PG_TASK_COUNT_REVIEWER,
  HITL__PG_REVIEWER_ACTIVITY,
  HITL__PG_EVENT_LAST,
  HITL__PG_EVENT_HEAD,
  HITL__PG_EVENT_INSERT,
  HITL__PG_EVENT_LIST,
  HITL__PG_EVENT_FIND_TASK,
  HITL__PG_EVENT_FIND,
  HITL__PG_EVENT_FIND_TASK_BACK,
  HITL__PG_EVENT_FIND_BACK,
  HITL__PG_TOKEN_INSERT,
  HITL__PG_TOKEN_FIND,
  HITL__PG_TOKEN_REVOKE,
  HITL__PG_TOKEN_LIST,
  HITL__PG_DELIVERY_INSERT,
  HITL__PG_DELIVERY_DUE,
  HITL__PG_DELIVERY_NEXT_DUE,
  HITL__PG_DELIVERY_UPDATE,
  HITL__PG_DELIVERY_LIST,
  HITL__PG_RUN_INSERT,
  HITL__PG_RUN_UPDATE,
  HITL__PG_RUN_TOUCH,
  HITL__PG_RUN_GET,
  HITL__PG_RUN_GET_LOCK,
  HITL__PG_RUN_LIST,
  HITL__PG_RUN_DUE,
  HITL__PG_RUN_NEXT_DUE,
  HITL__PG_RUN_STEP_INSERT,
  HITL__PG_RUN_STEP_LIST,
  HITL__PG_RUN_COMMAND_INSERT,
  HITL__PG_RUN_COMMAND_LIST,
  HITL__PG_RUN_COMMAND_ACK,
  HITL__PG_RUN_OPEN_TASKS,
  HITL__PG_DELIVERY_GET,
  HITL__PG_DELIVERY_TAKE,
  HITL__PG_CHANGES_PUBLISH,
  HITL__PG_CALIB_PUT,
  HITL__PG_CALIB_GET,
  HITL__PG_CALIB_LIST,
  HITL__PG_CALIB_TALLY_ADD,
  HITL__PG_CALIB_TALLY_SUM,
  HITL__PG_CALIB_SNAPSHOT_PUT,
  HITL__PG_CALIB_SNAPSHOT_DELETE,
  HITL__PG_CALIB_SNAPSHOT_GET,
  HITL__PG_COUNT
} hitl__pg_stmt_id;

/* A statement sent in pipeline mode whose result is read later. */
typedef struct hitl__pg_pending {
  const char *what;  /* For the log (static string). */
  bool must_change;  /* Changing (or returning) no row is a failure, as hitl__pg_change says. */
} hitl__pg_pending;

/* A PostgreSQL store handle: the base first, then one connection. */
typedef struct hitl__pg {
  hitl_store base;
  PGconn *conn;
  char *url;         /* For messages: the URL without its password. */
  bool in_txn;       /* Between begin() and commit()/rollback(). */
  bool doomed;       /* The open transaction lost a race (serialization failure or deadlock). */
  bool release_due;  /* op_end was called: the savepoint is released with the next op_begin. */
  bool listening;    /* LISTEN was sent on this connection (changes_wait). */
  bool listened;     /* LISTEN was sent on an earlier connection of this handle too. */
  bool pipeline_on;  /* The owner allows deferred writes (pipeline(true)). */
  bool piped;        /* The connection is in libpq's pipeline mode (inside a transaction). */
  bool no_pipe_once; /* A deferred write failed: the next transaction runs without deferring. */
  int deferred_rc;   /* The first failure among the deferred writes of the transaction, or 0. */
  size_t n_pending, cap_pending;
  struct hitl__pg_pending *pending; /* Statements sent whose results are not read yet. */
  hitl_buf scratch;  /* Reused for per-call text (the claim's role list). */
} hitl__pg;

/* The parameters of one statement, as text (numbers printed here) or binary (hashes). */
#define HITL__PG_MAX_PARAMS 28
typedef struct hitl__pg_params {
  int n;
  const char *values[HITL__PG_MAX_PARAMS];
  int lengths[HITL__PG_MAX_PARAMS];
  int formats[HITL__PG_MAX_PARAMS];
  char numbers[HITL__PG_MAX_PARAMS][32]; /* Storage of the printed numbers. */
} hitl__pg_params;

/* Appends a text parameter: NULL (or "" when empty_is_null) is SQL NULL. s must outlive the call. */
void hitl__pg_text(hitl__pg_params *p, const char *s, int empty_is_null);
void hitl__pg_int(hitl__pg_params *p, int64_t v);
void hitl__pg_bool(hitl__pg_params *p, bool v);
/* Appends a bytea parameter of n bytes (sent binary). */
void hitl__pg_bytes(hitl__pg_params *p, const uint8_t *v, int n);
/* Appends a double, or NULL when !present. */
void hitl__pg_double(hitl__pg_params *p, double v, bool present);

/* Runs statement id with p (NULL: none) and sets *res to its result (the caller PQclear's it)
 * when it succeeded. Returns 0; HITL_ENOT_FOUND, without running it, when a text parameter is
 * not UTF-8 (it can match nothing); HITL_ECONFLICT for a unique-key clash; HITL_ERETRY for a
 * serialization failure or a deadlock (the transaction is then doomed: commit() refuses it);
 * else HITL_ESTORE, logged under the name what. On failure *res is NULL. */
int hitl__pg_exec(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, const char *what,
                  PGresult **res);

/* Runs statement id with p as a write whose answer the caller does not read. In a transaction
 * of a handle whose owner allowed it (pipeline(true)) it is only sent: its answer is read with
 * the next statement that waits for one, and its failure (or, with must_change, changing no
 * row) dooms the transaction (commit() answers HITL_ERETRY, the next transaction runs without
 * deferring, so the failure is then reported where it happens). Otherwise it runs at once and
 * returns as hitl__pg_change (must_change) or hitl__pg_exec does. */
int hitl__pg_write(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, bool must_change,
                   const char *what);

/* Reads row i of r into row (zeroed beforehand). */
typedef void (*hitl__pg_row_fn)(const PGresult *r, int i, void *row);

/* Runs id with p and reads every row (size bytes each) with read into a malloc'd array: *out and
 * *n (NULL and 0 when none). Returns what hitl__pg_exec returns. */
int hitl__pg_collect(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, size_t size,
                     hitl__pg_row_fn read, const char *what, void **out, size_t *n);
/* Runs id with p and reads its first row into out (size bytes, zeroed first); HITL_ENOT_FOUND
 * when there is none. */
int hitl__pg_one(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, size_t size,
                 hitl__pg_row_fn read, const char *what, void *out);
/* Runs id with p; HITL_ENOT_FOUND when it changed (or returned) no row. */
int hitl__pg_change(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, const char *what);

/* Column readers: a malloc'd copy of a text column (NULL for SQL NULL); an integer (0 for
 * NULL); a text column into an id buffer ("" for NULL); a 32-byte bytea (zeroes otherwise). */
char *hitl__pg_col_text(const PGresult *r, int row, int col);
int64_t hitl__pg_col_int(const PGresult *r, int row, int col);
void hitl__pg_col_id(const PGresult *r, int row, int col, char out[HITL_ID_LEN]);
void hitl__pg_col_hash(const PGresult *r, int row, int col, uint8_t out[HITL_HASH_LEN]);

/* The connection (postgres.c). hitl__pg_ensure_connected reconnects a broken connection
 * outside a transaction: 0, or HITL_EUNAVAILABLE while the database cannot be reached.
 * hitl__pg_may_rerun is true when a statement that just failed may run again on a new
 * connection (the connection broke and no transaction was open). hitl__pg_fail maps the failed
 * result r (NULL: none) of the statement named what to the code hitl__pg_exec documents, and
 * logs it. */
int hitl__pg_ensure_connected(hitl__pg *s);
bool hitl__pg_may_rerun(const hitl__pg *s);
int hitl__pg_fail(hitl__pg *s, const PGresult *r, const char *what);

/* Pipeline mode (postgres_txn.c), for hitl__pg_exec and hitl__pg_write while s->piped.
 * hitl__pg_pipe_send sends a prepared statement (name) or plain SQL without parameters (sql):
 * 0, or HITL_ERETRY when it could not be sent (the transaction is then doomed).
 * hitl__pg_pending_push records a sent statement whose answer is read later.
 * hitl__pg_pipe_exec sends a statement and waits for its answer (and those sent before it):
 * on success *res is the result (the caller PQclear's it), else NULL and the failure. */
int hitl__pg_pipe_send(hitl__pg *s, const char *name, const char *sql, const hitl__pg_params *p,
                       const char *what);
void hitl__pg_pending_push(hitl__pg *s, const char *what, bool must_change);
int hitl__pg_pipe_exec(hitl__pg *s, const char *name, const char *sql, const hitl__pg_params *p,
                       const char *what, PGresult **res);

/* The transaction functions of the vtable (postgres_txn.c): begin, commit, rollback, the
 * operation savepoints and allowing deferred writes, as store.h documents them. */
int hitl__pg_begin(hitl_store *store);
int hitl__pg_commit(hitl_store *store);
int hitl__pg_rollback(hitl_store *store);
int hitl__pg_op_begin(hitl_store *store);
int hitl__pg_op_end(hitl_store *store);
int hitl__pg_op_abort(hitl_store *store);
int hitl__pg_pipeline(hitl_store *store, bool on);

/* The SQL of a statement id (postgres_sql.c). */
const char *hitl__pg_sql(hitl__pg_stmt_id id);

/* The schema as numbered migrations, applied in order (postgres_schema.c). Append only. */
extern const char *const hitl__pg_migrations[];
extern const size_t hitl__pg_migrations_count;

/* The task functions of the vtable (postgres_task.c). */
int hitl__pg_task_insert(hitl_store *store, hitl_task *t);
int hitl__pg_task_update(hitl_store *store, const hitl_task *t);
int hitl__pg_task_get(hitl_store *store, const char *id, hitl_task *out);
int hitl__pg_task_get_idempotent(hitl_store *store, int64_t queue_id, const char *submitter,
                                 const char *key, hitl_task *out);
int hitl__pg_task_claim_next(hitl_store *store, const hitl_claim_filter *f, hitl_task *out);
int hitl__pg_task_scan(hitl_store *store, const hitl_task_scan *f, size_t limit, hitl_task **out,
                       size_t *n);
int hitl__pg_task_due(hitl_store *store, int64_t now, size_t limit, hitl_task **out, size_t *n);
int hitl__pg_task_next_due(hitl_store *store, int64_t *at);

/* The response, event, token and delivery functions of the vtable (postgres_records.c). */
int hitl__pg_response_insert(hitl_store *store, hitl_response *r);
int hitl__pg_response_list(hitl_store *store, int64_t task_seq, hitl_response **out, size_t *n);
int hitl__pg_response_list_many(hitl_store *store, const int64_t *task_seqs, size_t n_tasks,
                                hitl_response **out, size_t *n);
int hitl__pg_response_exists(hitl_store *store, int64_t task_seq, const char *reviewer,
                             bool *exists);
int hitl__pg_response_list_by_reviewer(hitl_store *store, const char *reviewer,
                                       int64_t before_seq, size_t limit, hitl_response **out,
                                       size_t *n);
int hitl__pg_response_count_by_reviewer(hitl_store *store, const char *reviewer, int64_t since,
                                        int64_t *n);
int hitl__pg_task_count_by_reviewer(hitl_store *store, const char *reviewer, int64_t since,
                                    int64_t *n);
int hitl__pg_reviewer_activity(hitl_store *store, int64_t since, hitl_reviewer_count **out,
                               size_t *n);
int hitl__pg_event_last(hitl_store *store, int64_t *seq, uint8_t hash[HITL_HASH_LEN]);
int hitl__pg_event_head(hitl_store *store, int64_t *seq, uint8_t hash[HITL_HASH_LEN]);
int hitl__pg_event_insert(hitl_store *store, const hitl_event *e);
int hitl__pg_event_list(hitl_store *store, int64_t after, size_t limit, hitl_event **out,
                        size_t *n);
int hitl__pg_event_find(hitl_store *store, int64_t after, const hitl_event_filter *f, size_t limit,
                        hitl_event **out, size_t *n);
int hitl__pg_token_insert(hitl_store *store, const char *name, const uint8_t hash[HITL_HASH_LEN],
                          const char *roles, int64_t now);
int hitl__pg_token_find(hitl_store *store, const uint8_t hash[HITL_HASH_LEN],
                        hitl_token_row *out);
int hitl__pg_token_revoke(hitl_store *store, const char *name);
int hitl__pg_token_list(hitl_store *store, hitl_token_row **out, size_t *n);
int hitl__pg_delivery_insert(hitl_store *store, hitl_delivery *d);
int hitl__pg_calib_put(hitl_store *store, const hitl_calib_row *r);
int hitl__pg_calib_get(hitl_store *store, int64_t task_seq, hitl_calib_row *out);
int hitl__pg_calib_tally_add(hitl_store *store, int64_t queue_id, int64_t hour, int kind,
                             int64_t n);
int hitl__pg_calib_tally_sum(hitl_store *store, int64_t queue_id, int64_t since_hour,
                             int64_t *sums, int n_kinds);
int hitl__pg_calib_snapshot_put(hitl_store *store, const hitl_calib_snapshot *snap);
int hitl__pg_calib_snapshot_get(hitl_store *store, int64_t queue_id, hitl_calib_snapshot *out);
int hitl__pg_calib_list(hitl_store *store, int64_t queue_id, int64_t after, size_t limit,
                        hitl_calib_row **out, size_t *n);
int hitl__pg_delivery_due(hitl_store *store, int64_t now, size_t limit, hitl_delivery **out,
                          size_t *n);
int hitl__pg_delivery_next_due(hitl_store *store, int64_t *at);
int hitl__pg_delivery_update(hitl_store *store, const hitl_delivery *d);
int hitl__pg_delivery_list(hitl_store *store, int64_t queue_id, int state, int64_t before_seq,
                           size_t limit, hitl_delivery **out, size_t *n);
int hitl__pg_delivery_get(hitl_store *store, const char *id, hitl_delivery *out);
int hitl__pg_delivery_take(hitl_store *store, int64_t seq, int64_t now, int64_t hold_until,
                           bool *taken);

/* Fills a task (zeroed) from row i, whose first columns are HITL__TASK_COLUMNS. */
void hitl__pg_read_task(const PGresult *r, int i, void *row);

/* The run functions of the vtable (postgres_run.c). */
int hitl__pg_run_insert(hitl_store *store, hitl_run *r);
int hitl__pg_run_update(hitl_store *store, const hitl_run *r);
int hitl__pg_run_touch(hitl_store *store, int64_t run_seq, int64_t at, int64_t due_at);
int hitl__pg_run_get(hitl_store *store, const char *id, hitl_run *out);
int hitl__pg_run_list(hitl_store *store, int state, int64_t before_seq, size_t limit,
                      hitl_run **out, size_t *n);
int hitl__pg_run_due(hitl_store *store, int64_t now, size_t limit, hitl_run **out, size_t *n);
int hitl__pg_run_next_due(hitl_store *store, int64_t *at);
int hitl__pg_run_step_insert(hitl_store *store, hitl_run_step *st);
int hitl__pg_run_step_list(hitl_store *store, int64_t run_seq, int64_t before_seq, size_t limit,
                           hitl_run_step **out, size_t *n);
int hitl__pg_run_command_insert(hitl_store *store, const hitl_run_command *c);
int hitl__pg_run_command_list(hitl_store *store, int64_t run_seq, int64_t after, bool pending_only,
                              size_t limit, hitl_run_command **out, size_t *n);
int hitl__pg_run_command_ack(hitl_store *store, int64_t run_seq, int64_t seq, int64_t at);
int hitl__pg_run_open_tasks(hitl_store *store, const char *run_id, size_t limit, hitl_task **out,
                            size_t *n);
/* The change feed of the vtable, on LISTEN/NOTIFY (postgres_feed.c). */
int hitl__pg_changes_publish(hitl_store *store, const char *text);
int hitl__pg_changes_wait(hitl_store *store, int timeout_ms, char ***texts, size_t *n);

#endif
