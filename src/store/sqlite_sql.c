/* SPDX-License-Identifier: MIT */
/* The SQLite backend's statements: the SQL of every cached statement, and the helpers that run
 * them, map their failures and read their columns. */
#include <stdlib.h>
#include <string.h>

#include "store/sqlite.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* The SQL of every cached statement, indexed by hitl__sqlite_stmt_id. */
static const char *const stmt_sql[HITL__ST_COUNT] = {
    [HITL__ST_BEGIN] = "BEGIN IMMEDIATE",
    [HITL__ST_COMMIT] = "COMMIT",
    [HITL__ST_ROLLBACK] = "ROLLBACK",
    [HITL__ST_SAVEPOINT] = "SAVEPOINT op",
    [HITL__ST_RELEASE] = "RELEASE op",
    [HITL__ST_ROLLBACK_TO] = "ROLLBACK TO op",

    [HITL__ST_QUEUE_FIND] = "SELECT id FROM queues WHERE name = ?1",
    [HITL__ST_QUEUE_INSERT] =
        "INSERT INTO queues (name, config, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
    [HITL__ST_QUEUE_UPDATE] = "UPDATE queues SET config = ?2, updated_at = ?3 WHERE id = ?1",
    [HITL__ST_QUEUE_GET] =
        "SELECT id, name, config, created_at, updated_at FROM queues WHERE name = ?1",
    [HITL__ST_QUEUE_LIST] =
        "SELECT id, name, config, created_at, updated_at FROM queues ORDER BY name",
    [HITL__ST_QUEUE_EXISTS] = "SELECT 1 FROM queues WHERE id = ?1",
    [HITL__ST_STATS_STATES] =
        "SELECT state, count(*) FROM tasks WHERE queue_id = ?1 GROUP BY state",
    /* Seq order is insert order, so the first pending seq is the oldest pending task. */
    [HITL__ST_STATS_OLDEST] = "SELECT created_at FROM tasks WHERE queue_id = ?1 AND state = 0 "
                              "ORDER BY seq LIMIT 1",
    [HITL__ST_STATS_DECIDED] = "SELECT decided_by, count(*) FROM tasks "
                               "WHERE queue_id = ?1 AND decided_by IS NOT NULL GROUP BY decided_by",

    [HITL__ST_TASK_INSERT] =
        "INSERT INTO tasks (id, queue_id, state, role, priority, created_at, updated_at, "
        "deadline_at, idempotency_key, body_hash, external_id, model_version, inference_id, "
        "run_id, confidence, payload, route, stage, needed, answers, lease_id, lease_owner, "
        "lease_expires_at, decision, decided_by, decided_at, submitted_by, timeout_action) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
        "?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28)",
    [HITL__ST_TASK_UPDATE] =
        "UPDATE tasks SET state = ?2, role = ?3, priority = ?4, stage = ?5, needed = ?6, "
        "answers = ?7, lease_id = ?8, lease_owner = ?9, lease_expires_at = ?10, deadline_at = ?11, "
        "decision = ?12, decided_by = ?13, decided_at = ?14, updated_at = ?15 WHERE seq = ?1",
    [HITL__ST_TASK_GET] = "SELECT " HITL__TASK_COLUMNS " FROM tasks t WHERE t.id = ?1",
    /* The expression matches the index tasks_idempotency_submitter (migration 3). */
    [HITL__ST_TASK_IDEMPOTENT] = "SELECT " HITL__TASK_COLUMNS " FROM tasks t "
                                 "WHERE t.queue_id = ?1 AND IFNULL(t.submitted_by, '') = ?2 "
                                 "AND t.idempotency_key = ?3",
    /* ?3 is the caller's roles as ",a,b,", so one cached statement serves any number of roles.
     * INDEXED BY pins the serving-order index: the plan may not change with the data. */
    [HITL__ST_TASK_CLAIM] =
        "SELECT " HITL__TASK_COLUMNS " FROM tasks t INDEXED BY tasks_claim "
        "WHERE t.queue_id = ?1 AND t.state = 0 "
        "AND (?2 OR t.role IS NULL OR instr(?3, ',' || t.role || ',') > 0) "
        "AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.task_seq = t.seq AND r.reviewer = ?4) "
        "ORDER BY t.priority DESC, t.seq LIMIT 1",
    /* task_scan: by queue and seq, by queue, state and seq, or people's decisions by time; each
     * with all columns or the summary's. */
#define SCAN_FROM(columns) "SELECT " columns " FROM tasks t "
#define SCAN_ALL "WHERE t.queue_id = ?1 AND t.seq < ?2 ORDER BY t.seq DESC LIMIT ?3"
#define SCAN_STATE "WHERE t.queue_id = ?1 AND t.state = ?4 AND t.seq < ?2 ORDER BY t.seq DESC LIMIT ?3"
#define SCAN_DECIDED                                                                             \
  "INDEXED BY tasks_people_decided WHERE t.queue_id = ?1 AND t.decided_at >= ?4 "                \
  "AND t.decided_at > 0 AND t.decided_by <> 'policy' AND (t.decided_at, t.seq) < (?5, ?2) "      \
  "ORDER BY t.decided_at DESC, t.seq DESC LIMIT ?3"
    [HITL__ST_TASK_SCAN] = SCAN_FROM(HITL__TASK_COLUMNS) SCAN_ALL,
    [HITL__ST_TASK_SCAN_STATE] = SCAN_FROM(HITL__TASK_COLUMNS) SCAN_STATE,
    [HITL__ST_TASK_SCAN_DECIDED] = SCAN_FROM(HITL__TASK_COLUMNS) SCAN_DECIDED,
    [HITL__ST_TASK_SCAN_SUMMARY] = SCAN_FROM(HITL__TASK_SUMMARY_COLUMNS) SCAN_ALL,
    [HITL__ST_TASK_SCAN_STATE_SUMMARY] = SCAN_FROM(HITL__TASK_SUMMARY_COLUMNS) SCAN_STATE,
    [HITL__ST_TASK_SCAN_DECIDED_SUMMARY] =
        SCAN_FROM(HITL__TASK_SUMMARY_COLUMNS) SCAN_DECIDED,
    [HITL__ST_TASK_DUE_LEASE] =
        "SELECT " HITL__TASK_COLUMNS ", t.lease_expires_at FROM tasks t "
        "WHERE t.state = 1 AND t.lease_expires_at <= ?1 ORDER BY t.lease_expires_at LIMIT ?2",
    [HITL__ST_TASK_DUE_DEADLINE] =
        "SELECT " HITL__TASK_COLUMNS ", t.deadline_at FROM tasks t "
        "WHERE t.state IN (0, 1) AND t.deadline_at > 0 AND t.deadline_at <= ?1 "
        "ORDER BY t.deadline_at LIMIT ?2",
    [HITL__ST_TASK_NEXT_DUE] =
        "SELECT (SELECT min(lease_expires_at) FROM tasks WHERE state = 1), "
        "(SELECT min(deadline_at) FROM tasks WHERE state IN (0, 1) AND deadline_at > 0)",

    [HITL__ST_RESPONSE_INSERT] =
        "INSERT INTO responses (id, task_seq, reviewer, stage, question, kind, value, comment, "
        "time_spent_ms, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [HITL__ST_RESPONSE_LIST] =
        "SELECT seq, id, task_seq, reviewer, stage, question, kind, value, comment, "
        "time_spent_ms, created_at FROM responses WHERE task_seq = ?1 ORDER BY seq",
    /* ?1 is a JSON array of task seqs: each is looked up in the (task_seq, reviewer) index. */
    [HITL__ST_RESPONSE_LIST_MANY] =
        "SELECT r.seq, r.id, r.task_seq, r.reviewer, r.stage, r.question, r.kind, r.value, "
        "r.comment, r.time_spent_ms, r.created_at FROM json_each(?1) j "
        "JOIN responses r ON r.task_seq = j.value ORDER BY j.key, r.seq",
    [HITL__ST_RESPONSE_EXISTS] =
        "SELECT 1 FROM responses WHERE task_seq = ?1 AND reviewer = ?2 LIMIT 1",
    [HITL__ST_RESPONSE_BY_REVIEWER] =
        "SELECT r.seq, r.id, r.task_seq, r.reviewer, r.stage, r.question, r.kind, r.value, "
        "r.comment, r.time_spent_ms, r.created_at, t.id, q.name FROM responses r "
        "INDEXED BY responses_reviewer JOIN tasks t ON t.seq = r.task_seq "
        "JOIN queues q ON q.id = t.queue_id WHERE r.reviewer = ?1 AND r.seq < ?2 "
        "ORDER BY r.seq DESC LIMIT ?3",
    [HITL__ST_RESPONSE_COUNT_REVIEWER] =
        "SELECT count(*) FROM responses INDEXED BY responses_reviewer "
        "WHERE reviewer = ?1 AND created_at >= ?2",
    /* Distinct needs a small temporary b-tree: it is asked for one reviewer's day only. */
    [HITL__ST_TASK_COUNT_REVIEWER] =
        "SELECT count(DISTINCT task_seq) FROM responses INDEXED BY responses_reviewer "
        "WHERE reviewer = ?1 AND created_at >= ?2",
    [HITL__ST_REVIEWER_ACTIVITY] =
        "SELECT reviewer, count(*) FROM responses INDEXED BY responses_created "
        "WHERE created_at >= ?1 GROUP BY reviewer ORDER BY 2 DESC, 1",

    [HITL__ST_EVENT_LAST] =
        "SELECT seq, hash FROM events WHERE seq = (SELECT max(seq) FROM events)",
    [HITL__ST_EVENT_INSERT] = "INSERT INTO events (seq, at, type, queue, task_id, actor, data, "
                              "prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    [HITL__ST_EVENT_LIST] = "SELECT seq, at, type, queue, task_id, actor, data, prev_hash, hash "
                            "FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [HITL__ST_EVENT_FIND_TASK] =
        "SELECT seq, at, type, queue, task_id, actor, data, prev_hash, hash FROM events "
        "INDEXED BY events_task WHERE task_id = ?2 AND seq > ?1 "
        "AND (?3 IS NULL OR queue = ?3) AND (?4 IS NULL OR actor = ?4) "
        "AND (?5 IS NULL OR type = ?5) ORDER BY seq LIMIT ?6",
    [HITL__ST_EVENT_FIND] =
        "SELECT seq, at, type, queue, task_id, actor, data, prev_hash, hash FROM events "
        "WHERE seq > ?1 AND (?3 IS NULL OR queue = ?3) AND (?4 IS NULL OR actor = ?4) "
        "AND (?5 IS NULL OR type = ?5) ORDER BY seq LIMIT ?6",
    /* The same two, newest first from ?1 down: the audit view opens on the latest events. */
    [HITL__ST_EVENT_FIND_TASK_BACK] =
        "SELECT seq, at, type, queue, task_id, actor, data, prev_hash, hash FROM events "
        "INDEXED BY events_task WHERE task_id = ?2 AND seq < ?1 "
        "AND (?3 IS NULL OR queue = ?3) AND (?4 IS NULL OR actor = ?4) "
        "AND (?5 IS NULL OR type = ?5) ORDER BY seq DESC LIMIT ?6",
    [HITL__ST_EVENT_FIND_BACK] =
        "SELECT seq, at, type, queue, task_id, actor, data, prev_hash, hash FROM events "
        "WHERE seq < ?1 AND (?3 IS NULL OR queue = ?3) AND (?4 IS NULL OR actor = ?4) "
        "AND (?5 IS NULL OR type = ?5) ORDER BY seq DESC LIMIT ?6",

    [HITL__ST_TOKEN_INSERT] =
        "INSERT INTO tokens (name, hash, roles, created_at) VALUES (?1, ?2, ?3, ?4)",
    [HITL__ST_TOKEN_REVOKE] = "UPDATE tokens SET revoked = 1 WHERE name = ?1",
    [HITL__ST_TOKEN_LIST] =
        "SELECT id, name, roles, created_at, revoked FROM tokens ORDER BY name",
    [HITL__ST_TOKEN_FIND] =
        "SELECT id, name, roles, created_at, revoked FROM tokens WHERE hash = ?1",
#define DELIVERY_COLUMNS                                                                           \
  "seq, id, queue_id, url, event_seq, event_type, body, state, attempts, next_attempt_at, "        \
  "last_status, last_error, created_at, updated_at, delivered_at"
    [HITL__ST_DELIVERY_INSERT] =
        "INSERT INTO webhook_deliveries (id, queue_id, url, event_seq, event_type, body, state, "
        "attempts, next_attempt_at, created_at, updated_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10)",
    [HITL__ST_DELIVERY_DUE] = "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries "
                              "INDEXED BY webhook_deliveries_due "
                              "WHERE state = 0 AND next_attempt_at <= ?1 "
                              "ORDER BY next_attempt_at LIMIT ?2",
    [HITL__ST_DELIVERY_NEXT_DUE] = "SELECT MIN(next_attempt_at) FROM webhook_deliveries "
                                   "INDEXED BY webhook_deliveries_due WHERE state = 0",
    [HITL__ST_DELIVERY_UPDATE] =
        "UPDATE webhook_deliveries SET state = ?2, attempts = ?3, next_attempt_at = ?4, "
        "last_status = ?5, last_error = ?6, delivered_at = ?7, updated_at = ?8 WHERE id = ?1",
    [HITL__ST_DELIVERY_LIST] = "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries "
                               "WHERE queue_id = ?1 AND (?2 < 0 OR state = ?2) "
                               "AND (?3 = 0 OR seq < ?3) ORDER BY seq DESC LIMIT ?4",

/* The columns every run query selects, in the order sqlite_run.c reads them. */
#define RUN_COLUMNS                                                                                \
  "r.seq, r.id, r.agent, r.goal, r.metadata, r.owner, r.state, r.lost_from, "                     \
  "r.heartbeat_seconds, r.created_at, r.updated_at, r.last_heartbeat_at, r.heartbeat_due_at, "     \
  "r.ended_at, r.steps, r.commands, r.acked, "                                                     \
  "(SELECT count(*) FROM tasks t INDEXED BY tasks_run_open "                                       \
  " WHERE t.run_id = r.id AND t.state IN (0, 1))"
    [HITL__ST_RUN_INSERT] =
        "INSERT INTO runs (id, agent, goal, metadata, owner, state, lost_from, heartbeat_seconds, "
        "created_at, updated_at, last_heartbeat_at, heartbeat_due_at, ended_at, steps, commands, "
        "acked) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    [HITL__ST_RUN_UPDATE] =
        "UPDATE runs SET goal = ?2, state = ?3, lost_from = ?4, last_heartbeat_at = ?5, "
        "heartbeat_due_at = ?6, ended_at = ?7, steps = ?8, commands = ?9, acked = ?10, "
        "updated_at = ?11 WHERE seq = ?1",
    [HITL__ST_RUN_TOUCH] =
        "UPDATE runs SET last_heartbeat_at = max(last_heartbeat_at, ?2), "
        "updated_at = max(updated_at, ?2), heartbeat_due_at = max(heartbeat_due_at, ?3) "
        "WHERE seq = ?1 AND state IN (0, 1)",
    [HITL__ST_RUN_GET] = "SELECT " RUN_COLUMNS " FROM runs r WHERE r.id = ?1",
    [HITL__ST_RUN_LIST] = "SELECT " RUN_COLUMNS " FROM runs r "
                          "WHERE (?1 = 0 OR r.seq < ?1) ORDER BY r.seq DESC LIMIT ?2",
    [HITL__ST_RUN_LIST_STATE] = "SELECT " RUN_COLUMNS " FROM runs r INDEXED BY runs_state_seq "
                                "WHERE r.state = ?3 AND (?1 = 0 OR r.seq < ?1) "
                                "ORDER BY r.seq DESC LIMIT ?2",
    /* INDEXED BY pins the due index: the sweeper reads its first entries, never all runs. */
    [HITL__ST_RUN_DUE] = "SELECT " RUN_COLUMNS " FROM runs r INDEXED BY runs_heartbeat_due "
                         "WHERE r.state IN (0, 1) AND r.heartbeat_due_at <= ?1 "
                         "ORDER BY r.heartbeat_due_at LIMIT ?2",
    [HITL__ST_RUN_NEXT_DUE] = "SELECT MIN(heartbeat_due_at) FROM runs INDEXED BY runs_heartbeat_due "
                              "WHERE state IN (0, 1)",
    [HITL__ST_RUN_STEP_INSERT] =
        "INSERT INTO run_steps (run_seq, n, text, data, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    [HITL__ST_RUN_STEP_LIST] = "SELECT seq, run_seq, n, text, data, created_at FROM run_steps "
                               "WHERE run_seq = ?1 AND (?2 = 0 OR seq < ?2) "
                               "ORDER BY seq DESC LIMIT ?3",
    [HITL__ST_RUN_COMMAND_INSERT] =
        "INSERT INTO run_commands (run_seq, seq, type, goal, actor, created_at, acked_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [HITL__ST_RUN_COMMAND_LIST] =
        "SELECT run_seq, seq, type, goal, actor, created_at, acked_at FROM run_commands "
        "WHERE run_seq = ?1 AND seq > ?2 AND (?3 = 0 OR acked_at = 0) ORDER BY seq LIMIT ?4",
    [HITL__ST_RUN_COMMAND_ACK] =
        "UPDATE run_commands SET acked_at = ?3 WHERE run_seq = ?1 AND seq = ?2",
    [HITL__ST_RUN_OPEN_TASKS] = "SELECT " HITL__TASK_COLUMNS " FROM tasks t "
                                "INDEXED BY tasks_run_open "
                                "WHERE t.run_id = ?1 AND t.state IN (0, 1) ORDER BY t.seq LIMIT ?2",
    [HITL__ST_DELIVERY_GET] = "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries WHERE id = ?1",
#define CALIB_COLUMNS                                                                              \
  "task_seq, queue_id, score, propensity, uniform, audit, correct, decided_seq, lac, aps"
    [HITL__ST_CALIB_PUT] = "INSERT OR REPLACE INTO calibration (" CALIB_COLUMNS ") "
                           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    [HITL__ST_CALIB_GET] = "SELECT " CALIB_COLUMNS " FROM calibration WHERE task_seq = ?1",
    [HITL__ST_CALIB_LIST] = "SELECT " CALIB_COLUMNS " FROM calibration "
                            "WHERE queue_id = ?1 AND correct >= 0 AND decided_seq > ?2 "
                            "ORDER BY decided_seq LIMIT ?3",
    [HITL__ST_CALIB_TALLY_ADD] =
        "INSERT INTO calibration_tally (queue_id, hour, kind, n) VALUES (?1, ?2, ?3, ?4) "
        "ON CONFLICT (queue_id, hour, kind) DO UPDATE SET n = n + ?4",
    [HITL__ST_CALIB_TALLY_SUM] = "SELECT kind, sum(n) FROM calibration_tally "
                                 "WHERE queue_id = ?1 AND hour >= ?2 GROUP BY kind",
    [HITL__ST_CALIB_SNAPSHOT_PUT] =
        "INSERT OR REPLACE INTO calibration_snapshot (queue_id, last_seq, params, state) "
        "VALUES (?1, ?2, ?3, ?4)",
    [HITL__ST_CALIB_SNAPSHOT_DELETE] = "DELETE FROM calibration_snapshot WHERE queue_id = ?1",
    [HITL__ST_CALIB_SNAPSHOT_GET] = "SELECT queue_id, last_seq, params, state "
                                    "FROM calibration_snapshot WHERE queue_id = ?1",
};

const char *hitl__sqlite_sql(hitl__sqlite_stmt_id id) { return stmt_sql[id]; }

void hitl__sqlite_done(sqlite3_stmt *st) {
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

int hitl__sqlite_collect(hitl__sqlite *s, sqlite3_stmt *st, size_t size, hitl__sqlite_row_fn read,
                         hitl__sqlite_clear_fn clear, const char *what, void **out, size_t *n) {
  char *rows = NULL;
  size_t len = 0, cap = 0;
  int rc, ret = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (len == cap) {
      cap = cap ? cap * 2 : 8;
      rows = hitl_xrealloc(rows, cap * size);
    }
    memset(rows + len * size, 0, size);
    read(st, rows + len * size);
    len++;
  }
  if (rc != SQLITE_DONE) {
    ret = hitl__sqlite_fail(s, rc, what);
    for (size_t i = 0; clear && i < len; i++) clear(rows + i * size);
    free(rows);
    rows = NULL;
    len = 0;
  }
  hitl__sqlite_done(st);
  *out = rows;
  *n = len;
  return ret;
}

int hitl__sqlite_one(hitl__sqlite *s, sqlite3_stmt *st, size_t size, hitl__sqlite_row_fn read,
                     const char *what, void *out) {
  memset(out, 0, size);
  int rc = sqlite3_step(st), ret = 0;
  if (rc == SQLITE_ROW)
    read(st, out);
  else
    ret = rc == SQLITE_DONE ? HITL_ENOT_FOUND : hitl__sqlite_fail(s, rc, what);
  hitl__sqlite_done(st);
  return ret;
}

int hitl__sqlite_fail(hitl__sqlite *s, int rc, const char *what) {
  int ext = sqlite3_extended_errcode(s->db);
  if ((rc & 0xff) == SQLITE_CONSTRAINT &&
      (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY))
    return HITL_ECONFLICT;
  /* SQLite's messages name tables and columns, never the values bound, so no payload leaks. */
  hitl_log(HITL_LOG_ERROR, "store=sqlite op=%s code=%d message=\"%s\"", what, ext,
           sqlite3_errmsg(s->db));
  /* The file became read-only or unreachable (permissions, a read-only mount): nothing was
   * written and a retry may succeed once an operator fixes it, so 503 rather than 500. */
  int primary = rc & 0xff;
  if (primary == SQLITE_READONLY || primary == SQLITE_PERM || primary == SQLITE_CANTOPEN)
    return HITL_EUNAVAILABLE;
  return HITL_ESTORE;
}

int hitl__sqlite_bind_text(sqlite3_stmt *st, int i, const char *s, int empty_is_null) {
  if (s == NULL || (empty_is_null && s[0] == '\0')) return sqlite3_bind_null(st, i);
  return sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

char *hitl__sqlite_col_text(sqlite3_stmt *st, int i) {
  const unsigned char *text = sqlite3_column_text(st, i);
  if (text == NULL) return NULL;
  return hitl_xstrndup((const char *)text, (size_t)sqlite3_column_bytes(st, i));
}

void hitl__sqlite_col_id(sqlite3_stmt *st, int i, char out[HITL_ID_LEN]) {
  const unsigned char *text = sqlite3_column_text(st, i);
  size_t n = text ? (size_t)sqlite3_column_bytes(st, i) : 0;
  if (n >= HITL_ID_LEN) n = HITL_ID_LEN - 1;
  if (n) memcpy(out, text, n);
  out[n] = '\0';
}

void hitl__sqlite_col_hash(sqlite3_stmt *st, int i, uint8_t out[HITL_HASH_LEN]) {
  const void *blob = sqlite3_column_blob(st, i);
  if (blob != NULL && sqlite3_column_bytes(st, i) == HITL_HASH_LEN)
    memcpy(out, blob, HITL_HASH_LEN);
  else
    memset(out, 0, HITL_HASH_LEN);
}
