/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend's transactions and operation savepoints, and libpq's pipeline mode in
 * which a transaction's answer-less writes are only sent. */
#include <stdio.h>
#include <string.h>

#include "store/postgres.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* ---- Pipeline mode ----
 * A batch of the writer runs a few statements per operation, most of them writes whose answer
 * nobody reads (BEGIN, savepoints, a task's update, an event, the feed's NOTIFY). In libpq's
 * pipeline mode those are only sent; their answers are read, in order, with the next statement
 * that needs its own (a claim, a read to decide), so a batch waits for the server a few times
 * per operation rather than once per statement. A deferred statement that fails aborts the
 * pipeline, and with it the transaction: commit() answers HITL_ERETRY and the committer runs the
 * batch again, this time one statement at a time, so that the failure lands on its operation. */

void hitl__pg_pending_push(hitl__pg *s, const char *what, bool must_change) {
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
      doom(s, hitl__pg_fail(s, r, s->pending[i].what));
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
int hitl__pg_pipe_send(hitl__pg *s, const char *name, const char *sql, const hitl__pg_params *p,
                       const char *what) {
  int ok = name ? PQsendQueryPrepared(s->conn, name, p ? p->n : 0, p ? p->values : NULL,
                                      p ? p->lengths : NULL, p ? p->formats : NULL, 0)
                : PQsendQueryParams(s->conn, sql, 0, NULL, NULL, NULL, NULL, 0);
  if (ok) return 0;
  doom(s, hitl__pg_fail(s, NULL, what));
  return HITL_ERETRY;
}

/* Runs a statement in pipeline mode and waits for its answer (and those sent before it). */
int hitl__pg_pipe_exec(hitl__pg *s, const char *name, const char *sql, const hitl__pg_params *p,
                       const char *what, PGresult **res) {
  *res = NULL;
  if (s->deferred_rc) return HITL_ERETRY;
  int rc = hitl__pg_pipe_send(s, name, sql, p, what);
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
  rc = s->deferred_rc ? HITL_ERETRY : hitl__pg_fail(s, r, what);
  PQclear(r);
  resync(s);
  return rc;
}

/* A plain statement of transaction control whose answer waits: sent in pipeline mode. */
static void pipe_defer_plain(hitl__pg *s, const char *sql, const char *what) {
  if (s->deferred_rc == 0 && hitl__pg_pipe_send(s, NULL, sql, NULL, what) == 0)
    hitl__pg_pending_push(s, what, false);
}

/* ---- Transactions ---- */

/* Runs SQL that returns nothing (transaction control), logging failures under what. */
static int exec_plain(hitl__pg *s, const char *sql, const char *what) {
  if (s->piped) {
    PGresult *r = NULL;
    int rc = hitl__pg_pipe_exec(s, NULL, sql, NULL, what, &r);
    PQclear(r);
    return rc;
  }
  PGresult *r = PQexec(s->conn, sql);
  int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : hitl__pg_fail(s, r, what);
  PQclear(r);
  return rc;
}

int hitl__pg_begin(hitl_store *store) {
  hitl__pg *s = (hitl__pg *)store;
  s->doomed = false;
  s->release_due = false;
  s->deferred_rc = 0;
  bool pipe = s->pipeline_on && !s->no_pipe_once;
  s->no_pipe_once = false;
  if (pipe) {
    /* BEGIN travels with the transaction's first statement that waits. A connection that broke
     * while idle fails that one: the committer runs the batch again, on a new connection. */
    int rc = hitl__pg_ensure_connected(s);
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
    int rc = hitl__pg_ensure_connected(s);
    PQclear(r);
    if (rc) return rc;
    r = PQexec(s->conn, "BEGIN");
    if (PQresultStatus(r) == PGRES_COMMAND_OK || !hitl__pg_may_rerun(s)) break;
  }
  int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : hitl__pg_fail(s, r, "begin");
  PQclear(r);
  s->in_txn = rc == 0;
  return rc;
}

int hitl__pg_rollback(hitl_store *store) {
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
  int rc = hitl__pg_pipe_send(s, NULL, "COMMIT", NULL, "commit");
  if (rc == 0 && !PQpipelineSync(s->conn)) doom(s, hitl__pg_fail(s, NULL, "commit"));
  if (s->deferred_rc) return HITL_ERETRY;
  drain_pending(s);
  PGresult *r = next_result(s);
  ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK)
    rc = s->deferred_rc ? HITL_ERETRY : hitl__pg_fail(s, r, "commit");
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

int hitl__pg_commit(hitl_store *store) {
  hitl__pg *s = (hitl__pg *)store;
  if (s->doomed) {
    hitl__pg_rollback(store);
    return HITL_ERETRY;
  }
  s->release_due = false; /* COMMIT releases every savepoint. */
  int rc = 0;
  if (s->piped) {
    rc = pipe_commit(s);
  } else {
    PGresult *r = PQexec(s->conn, "COMMIT");
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
      rc = hitl__pg_fail(s, r, "commit");
    else if (strcmp(PQcmdStatus(r), "COMMIT") != 0)
      rc = HITL_ESTORE; /* COMMIT of a failed transaction rolls it back and says ROLLBACK. */
    PQclear(r);
  }
  if (rc) {
    bool retry = s->doomed || rc == HITL_ERETRY;
    hitl__pg_rollback(store);
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
int hitl__pg_op_begin(hitl_store *store) {
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

int hitl__pg_op_end(hitl_store *store) {
  ((hitl__pg *)store)->release_due = true;
  return 0;
}

/* Undoes the operation; a race it lost still dooms the transaction (s->doomed stays): the locks
 * of the operations before it may be what the other writer waits for. */
int hitl__pg_op_abort(hitl_store *store) {
  hitl__pg *s = (hitl__pg *)store;
  if (s->piped) {
    if (s->deferred_rc) return 0; /* The transaction is lost anyway; commit() says so. */
    pipe_defer_plain(s, "ROLLBACK TO SAVEPOINT op", "op_abort");
    pipe_defer_plain(s, "RELEASE SAVEPOINT op", "op_abort");
    return 0;
  }
  return exec_plain(s, "ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op", "op_abort");
}

int hitl__pg_pipeline(hitl_store *store, bool on) {
  ((hitl__pg *)store)->pipeline_on = on;
  return 0;
}
