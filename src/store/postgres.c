/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend of the store (libpq): connection set-up, migrations, transactions,
 * queues, and the helpers its other files share (tasks in postgres_task.c, the rest in
 * postgres_records.c). */
#include "store/postgres.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xmalloc.h"

/* The advisory lock under which migrations run, so that nodes started together migrate once.
 * Any constant does; this one is "hitl" in ASCII. */
#define MIGRATION_LOCK_KEY 0x6869746cLL

/* ---- Parameters ---- */

static const char *param_slot(hitl__pg_params *p) {
  if (p->n >= HITL__PG_MAX_PARAMS) abort(); /* A statement table bug, not an input. */
  return p->numbers[p->n];
}

void hitl__pg_text(hitl__pg_params *p, const char *s, int empty_is_null) {
  (void)param_slot(p);
  p->values[p->n] = (s == NULL || (empty_is_null && s[0] == '\0')) ? NULL : s;
  p->lengths[p->n] = 0;
  p->formats[p->n] = 0;
  p->n++;
}

void hitl__pg_int(hitl__pg_params *p, int64_t v) {
  char *slot = (char *)param_slot(p);
  snprintf(slot, sizeof p->numbers[0], "%" PRId64, v);
  hitl__pg_text(p, slot, 0);
}

void hitl__pg_bool(hitl__pg_params *p, bool v) { hitl__pg_text(p, v ? "t" : "f", 0); }

void hitl__pg_bytes(hitl__pg_params *p, const uint8_t *v, int n) {
  (void)param_slot(p);
  p->values[p->n] = (const char *)v;
  p->lengths[p->n] = n;
  p->formats[p->n] = 1;
  p->n++;
}

void hitl__pg_double(hitl__pg_params *p, double v, bool present) {
  char *slot = (char *)param_slot(p);
  snprintf(slot, sizeof p->numbers[0], "%.17g", v); /* Enough digits to read back exactly. */
  hitl__pg_text(p, present ? slot : NULL, 0);
}

/* ---- Running statements ---- */

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
static int ensure_connected(hitl__pg *s) {
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
static bool may_rerun(const hitl__pg *s) {
  return PQstatus(s->conn) != CONNECTION_OK && !s->in_txn;
}

/* Maps a failed result: see hitl__pg_exec. */
static int fail(hitl__pg *s, const PGresult *r, const char *what) {
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

/* True when s is well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), which is all a UTF-8 database accepts. */
static bool valid_utf8(const unsigned char *s) {
  while (*s) {
    unsigned c = *s, n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                                      : (c & 0xf8) == 0xf0 ? 3 : 4;
    if (n == 4 || (n == 1 && c < 0xc2) || (n == 3 && c > 0xf4)) return false;
    unsigned cp = n == 0 ? c : c & (0x3fu >> n);
    for (unsigned i = 1; i <= n; i++) {
      if ((s[i] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
      return false;
    s += n + 1;
  }
  return true;
}

/* True when a text parameter of p is not UTF-8: it cannot be in the database, so it matches
 * nothing (a task id from a request path, say). Sending it would be an error that aborts the
 * whole transaction. */
static bool bad_text(const hitl__pg_params *p) {
  for (int i = 0; p && i < p->n; i++)
    if (p->values[i] && p->formats[i] == 0 && !valid_utf8((const unsigned char *)p->values[i]))
      return true;
  return false;
}

/* ---- Pipeline mode ----
 * A batch of the writer runs a few statements per operation, most of them writes whose answer
 * nobody reads (BEGIN, savepoints, a task's update, an event, the feed's NOTIFY). In libpq's
 * pipeline mode those are only sent; their answers are read, in order, with the next statement
 * that needs its own (a claim, a read to decide), so a batch waits for the server a few times
 * per operation rather than once per statement. A deferred statement that fails aborts the
 * pipeline, and with it the transaction: commit() answers HITL_ERETRY and the committer runs the
 * batch again, this time one statement at a time, so that the failure lands on its operation. */

static void pending_push(hitl__pg *s, const char *what, bool must_change) {
  if (s->n_pending == s->cap_pending) {
    s->cap_pending = s->cap_pending ? s->cap_pending * 2 : 64;
    s->pending = hitl_xrealloc(s->pending, s->cap_pending * sizeof *s->pending);
  }
  s->pending[s->n_pending++] = (hitl__pg_pending){.what = what, .must_change = must_change};
}

/* The next result of the pipeline: a statement's (the NULL that ends it consumed) or a sync
 * marker. A broken connection gives NULL or an error result. */
static PGresult *next_result(hitl__pg *s) {
  PGresult *r = PQgetResult(s->conn);
  if (r && PQresultStatus(r) != PGRES_PIPELINE_SYNC) PQclear(PQgetResult(s->conn));
  return r;
}

/* Records the first failure of the transaction's deferred statements: the transaction is lost. */
static void doom(hitl__pg *s, int rc) {
  if (s->deferred_rc == 0) s->deferred_rc = rc ? rc : HITL_ESTORE;
  s->doomed = true;
  s->no_pipe_once = true;
}

/* Reads the answers of the deferred statements sent so far. */
static void drain_pending(hitl__pg *s) {
  for (size_t i = 0; i < s->n_pending; i++) {
    PGresult *r = next_result(s);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      const char *tuples = PQcmdTuples(r);
      if (s->pending[i].must_change && (tuples[0] == '\0' || strcmp(tuples, "0") == 0)) {
        hitl_log(HITL_LOG_INFO, "store=postgres op=%s msg=\"deferred write changed nothing\"",
                 s->pending[i].what);
        doom(s, HITL_ENOT_FOUND);
      }
    } else if (st != PGRES_PIPELINE_ABORTED && s->deferred_rc == 0) {
      doom(s, fail(s, r, s->pending[i].what));
    }
    PQclear(r);
  }
  s->n_pending = 0;
}

/* After a failure in the pipeline: a sync point ends its aborted stretch (the transaction stays
 * open, failed, for a ROLLBACK TO SAVEPOINT or a ROLLBACK). */
static void resync(hitl__pg *s) {
  if (PQstatus(s->conn) != CONNECTION_OK || !PQpipelineSync(s->conn)) return;
  for (int nulls = 0; nulls < 2;) {
    PGresult *r = PQgetResult(s->conn);
    if (r == NULL) {
      if (PQstatus(s->conn) != CONNECTION_OK) return;
      nulls++;
      continue;
    }
    nulls = 0;
    ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    if (st == PGRES_PIPELINE_SYNC) return;
  }
}

/* Leaves pipeline mode once every answer was read (commit and rollback). */
static void leave_pipeline(hitl__pg *s) {
  if (!s->piped) return;
  if (s->n_pending) drain_pending(s);
  if (PQstatus(s->conn) == CONNECTION_OK && PQpipelineStatus(s->conn) != PQ_PIPELINE_OFF &&
      !PQexitPipelineMode(s->conn)) {
    resync(s);
    PQexitPipelineMode(s->conn);
  }
  s->piped = false;
  s->n_pending = 0;
}

/* Sends a statement in pipeline mode: a prepared one (name) or plain SQL without parameters.
 * Returns 0, or the failure when it could not be sent (the connection broke). */
static int pipe_send(hitl__pg *s, const char *name, const char *sql, const hitl__pg_params *p,
                     const char *what) {
  int ok = name ? PQsendQueryPrepared(s->conn, name, p ? p->n : 0, p ? p->values : NULL,
                                      p ? p->lengths : NULL, p ? p->formats : NULL, 0)
                : PQsendQueryParams(s->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
  if (ok) return 0;
  doom(s, fail(s, NULL, what));
  return HITL_ERETRY;
}

/* Runs a statement in pipeline mode and waits for its answer (and those sent before it). */
static int pipe_exec(hitl__pg *s, const char *name, const char *sql, const hitl__pg_params *p,
                     const char *what, PGresult **res) {
  *res = NULL;
  if (s->deferred_rc) return HITL_ERETRY;
  int rc = pipe_send(s, name, sql, p, what);
  if (rc) return rc;
  PQsendFlushRequest(s->conn);
  PQflush(s->conn);
  drain_pending(s);
  PGresult *r = next_result(s);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if ((st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) && s->deferred_rc == 0) {
    *res = r;
    return 0;
  }
  rc = s->deferred_rc ? HITL_ERETRY : fail(s, r, what);
  PQclear(r);
  resync(s);
  return rc;
}

/* A plain statement of transaction control whose answer waits: sent in pipeline mode. */
static void pipe_defer_plain(hitl__pg *s, const char *sql, const char *what) {
  if (s->deferred_rc == 0 && pipe_send(s, NULL, sql, NULL, what) == 0)
    pending_push(s, what, false);
}

int hitl__pg_exec(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, const char *what,
                  PGresult **res) {
  *res = NULL;
  if (bad_text(p)) return HITL_ENOT_FOUND;
  char name[16];
  snprintf(name, sizeof name, "h%d", (int)id);
  if (s->piped) return pipe_exec(s, name, NULL, p, what, res);
  PGresult *r = NULL;
  ExecStatusType st = PGRES_FATAL_ERROR;
  /* A connection found broken by the statement (the server restarted since the last one) is
   * made again and the statement run once more, so the first request after a restart succeeds. */
  for (int attempt = 0; attempt < 2; attempt++) {
    int rc = ensure_connected(s);
    PQclear(r);
    if (rc) return rc;
    r = PQexecPrepared(s->conn, name, p ? p->n : 0, p ? p->values : NULL, p ? p->lengths : NULL,
                       p ? p->formats : NULL, 0);
    st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || !may_rerun(s)) break;
  }
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    int rc = fail(s, r, what);
    PQclear(r);
    return rc;
  }
  *res = r;
  return 0;
}

int hitl__pg_write(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, bool must_change,
                   const char *what) {
  if (!s->piped) {
    if (must_change) return hitl__pg_change(s, id, p, what);
    PGresult *r = NULL;
    int rc = hitl__pg_exec(s, id, p, what, &r);
    PQclear(r);
    return rc;
  }
  if (bad_text(p)) return HITL_ENOT_FOUND;
  if (s->deferred_rc) return HITL_ERETRY;
  char name[16];
  snprintf(name, sizeof name, "h%d", (int)id);
  int rc = pipe_send(s, name, NULL, p, what);
  if (rc == 0) pending_push(s, what, must_change);
  return rc;
}

int hitl__pg_collect(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, size_t size,
                     hitl__pg_row_fn read, const char *what, void **out, size_t *n) {
  *out = NULL;
  *n = 0;
  PGresult *r = NULL;
  int rc = hitl__pg_exec(s, id, p, what, &r);
  if (rc) return rc;
  size_t rows = (size_t)PQntuples(r);
  if (rows) {
    char *v = hitl_xcalloc(rows, size);
    for (size_t i = 0; i < rows; i++) read(r, (int)i, v + i * size);
    *out = v;
    *n = rows;
  }
  PQclear(r);
  return 0;
}

int hitl__pg_one(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, size_t size,
                 hitl__pg_row_fn read, const char *what, void *out) {
  memset(out, 0, size);
  PGresult *r = NULL;
  int rc = hitl__pg_exec(s, id, p, what, &r);
  if (rc) return rc;
  if (PQntuples(r) > 0)
    read(r, 0, out);
  else
    rc = HITL_ENOT_FOUND;
  PQclear(r);
  return rc;
}

int hitl__pg_change(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, const char *what) {
  PGresult *r = NULL;
  int rc = hitl__pg_exec(s, id, p, what, &r);
  if (rc) return rc;
  const char *tuples = PQcmdTuples(r);
  if (tuples[0] == '\0' || strcmp(tuples, "0") == 0) rc = HITL_ENOT_FOUND;
  PQclear(r);
  return rc;
}

/* ---- Columns ---- */

char *hitl__pg_col_text(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col)) return NULL;
  return hitl_xstrndup(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

int64_t hitl__pg_col_int(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col)) return 0;
  return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void hitl__pg_col_id(const PGresult *r, int row, int col, char out[HITL_ID_LEN]) {
  size_t n = PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
  if (n >= HITL_ID_LEN) n = HITL_ID_LEN - 1;
  if (n) memcpy(out, PQgetvalue(r, row, col), n);
  out[n] = '\0';
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void hitl__pg_col_hash(const PGresult *r, int row, int col, uint8_t out[HITL_HASH_LEN]) {
  memset(out, 0, HITL_HASH_LEN);
  /* Text results carry bytea in hex: "\x" and two digits a byte. */
  const char *v = PQgetvalue(r, row, col);
  if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 2 + 2 * HITL_HASH_LEN ||
      v[0] != '\\' || v[1] != 'x')
    return;
  for (int i = 0; i < HITL_HASH_LEN; i++) {
    int hi = hex_digit(v[2 + 2 * i]), lo = hex_digit(v[3 + 2 * i]);
    if (hi < 0 || lo < 0) {
      memset(out, 0, HITL_HASH_LEN);
      return;
    }
    out[i] = (uint8_t)(hi << 4 | lo);
  }
}

/* ---- Transactions ---- */

/* Runs SQL that returns nothing (transaction control), logging failures under what. */
static int exec_plain(hitl__pg *s, const char *sql, const char *what) {
  if (s->piped) {
    PGresult *r = NULL;
    int rc = pipe_exec(s, NULL, sql, NULL, what, &r);
    PQclear(r);
    return rc;
  }
  PGresult *r = PQexec(s->conn, sql);
  int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : fail(s, r, what);
  PQclear(r);
  return rc;
}

static int pg_begin(hitl_store *store) {
  hitl__pg *s = (hitl__pg *)store;
  s->doomed = false;
  s->release_due = false;
  s->deferred_rc = 0;
  bool pipe = s->pipeline_on && !s->no_pipe_once;
  s->no_pipe_once = false;
  if (pipe) {
    /* BEGIN travels with the transaction's first statement that waits. A connection that broke
     * while idle fails that one: the committer runs the batch again, on a new connection. */
    int rc = ensure_connected(s);
    if (rc) return rc;
    if (PQenterPipelineMode(s->conn)) {
      s->piped = true;
      s->in_txn = true;
      pipe_defer_plain(s, "BEGIN", "begin");
      return 0;
    }
  }
  PGresult *r = NULL;
  /* As in hitl__pg_exec: a connection that broke while idle is made again once. */
  for (int attempt = 0; attempt < 2; attempt++) {
    int rc = ensure_connected(s);
    PQclear(r);
    if (rc) return rc;
    r = PQexec(s->conn, "BEGIN");
    if (PQresultStatus(r) == PGRES_COMMAND_OK || !may_rerun(s)) break;
  }
  int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : fail(s, r, "begin");
  PQclear(r);
  s->in_txn = rc == 0;
  return rc;
}

static int pg_rollback(hitl_store *store) {
  hitl__pg *s = (hitl__pg *)store;
  s->release_due = false;
  if (s->piped) {
    if (PQstatus(s->conn) == CONNECTION_OK) resync(s); /* Reads every answer still due. */
    s->n_pending = 0;
    leave_pipeline(s);
  }
  if (!s->in_txn) return 0;
  s->in_txn = false;
  s->doomed = false;
  s->deferred_rc = 0;
  if (PQstatus(s->conn) != CONNECTION_OK) return 0; /* Gone with the connection. */
  return exec_plain(s, "ROLLBACK", "rollback");
}

/* COMMIT in pipeline mode: sent with a sync point, after which every answer has come. */
static int pipe_commit(hitl__pg *s) {
  int rc = pipe_send(s, NULL, "COMMIT", NULL, "commit");
  if (rc == 0 && !PQpipelineSync(s->conn)) doom(s, fail(s, NULL, "commit"));
  if (s->deferred_rc) return HITL_ERETRY;
  drain_pending(s);
  PGresult *r = next_result(s);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK)
    rc = s->deferred_rc ? HITL_ERETRY : fail(s, r, "commit");
  else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
    rc = HITL_ESTORE;
  else if (s->deferred_rc)
    rc = HITL_ERETRY;
  PQclear(r);
  /* The sync point's own answer. */
  PGresult *sync = next_result(s);
  bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  PQclear(sync);
  if (!synced) resync(s);
  if (rc == 0) {
    leave_pipeline(s);
    s->in_txn = false;
  }
  return rc;
}

static int pg_commit(hitl_store *store) {
  hitl__pg *s = (hitl__pg *)store;
  if (s->doomed) {
    pg_rollback(store);
    return HITL_ERETRY;
  }
  s->release_due = false; /* COMMIT releases every savepoint. */
  int rc = 0;
  if (s->piped) {
    rc = pipe_commit(s);
  } else {
    PGresult *r = PQexec(s->conn, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
      rc = fail(s, r, "commit");
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
      rc = HITL_ESTORE; /* COMMIT of a failed transaction rolls it back and says ROLLBACK. */
    PQclear(r);
  }
  if (rc) {
    bool retry = s->doomed || rc == HITL_ERETRY;
    pg_rollback(store);
    return retry ? HITL_ERETRY : rc;
  }
  s->in_txn = false;
  return 0;
}

/* Every statement is a round trip to the server, and a batch runs a few per operation: the
 * release of an operation's savepoint travels with the next operation's SAVEPOINT (COMMIT
 * releases the last one). Statements in between run inside the released-to-be savepoint, which
 * changes nothing: a failure there fails the whole transaction either way. In pipeline mode both
 * are only sent. */
static int pg_op_begin(hitl_store *store) {
  hitl__pg *s = (hitl__pg *)store;
  bool release = s->release_due;
  s->release_due = false;
  if (s->piped) {
    if (release) pipe_defer_plain(s, "RELEASE SAVEPOINT op", "op_begin");
    pipe_defer_plain(s, "SAVEPOINT op", "op_begin");
    return s->deferred_rc ? HITL_ERETRY : 0;
  }
  return exec_plain(s, release ? "RELEASE SAVEPOINT op; SAVEPOINT op" : "SAVEPOINT op", "op_begin");
}

static int pg_op_end(hitl_store *store) {
  ((hitl__pg *)store)->release_due = true;
  return 0;
}

/* Undoes the operation; a race it lost still dooms the transaction (s->doomed stays): the locks
 * of the operations before it may be what the other writer waits for. */
static int pg_op_abort(hitl_store *store) {
  hitl__pg *s = (hitl__pg *)store;
  if (s->piped) {
    if (s->deferred_rc) return 0; /* The transaction is lost anyway; commit() says so. */
    pipe_defer_plain(s, "ROLLBACK TO SAVEPOINT op", "op_abort");
    pipe_defer_plain(s, "RELEASE SAVEPOINT op", "op_abort");
    return 0;
  }
  return exec_plain(s, "ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op", "op_abort");
}

static int pg_pipeline(hitl_store *store, bool on) {
  ((hitl__pg *)store)->pipeline_on = on;
  return 0;
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
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .op_begin = pg_op_begin,
    .op_end = pg_op_end,
    .op_abort = pg_op_abort,
    .pipeline = pg_pipeline,
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
