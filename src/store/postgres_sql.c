/* SPDX-License-Identifier: MIT */
/* The SQL of every statement of the PostgreSQL backend, indexed by hitl__pg_stmt_id. */
#include "store/postgres.h"

#define EVENT_COLUMNS "seq, at, type, queue, task_id, actor, data, prev_hash, hash"
#define EVENT_FILTERS                                                                              \
  "AND ($3::text IS NULL OR queue = $3) AND ($4::text IS NULL OR actor = $4) "                     \
  "AND ($5::text IS NULL OR type = $5) "
#define DELIVERY_COLUMNS                                                                           \
  "seq, id, queue_id, url, event_seq, event_type, body, state, attempts, next_attempt_at, "        \
  "last_status, last_error, created_at, updated_at, delivered_at"
#define RESPONSE_COLUMNS                                                                           \
  "r.seq, r.id, r.task_seq, r.reviewer, r.stage, r.question, r.kind, r.value, r.comment, "         \
  "r.time_spent_ms, r.created_at"

/* Inserts that may clash with a unique key say ON CONFLICT DO NOTHING and return a row only when
 * they inserted: a clash is then an empty result rather than an error, and an error would abort
 * the whole transaction on PostgreSQL (SQLite fails only the statement). Names are ordered
 * COLLATE "C", byte by byte, as SQLite orders them. */
static const char *const stmt_sql[HITL__PG_COUNT] = {
    /* xmax is 0 on a row version this statement inserted, so it tells insert from update. */
    [HITL__PG_QUEUE_UPSERT] =
        "INSERT INTO queues (name, config, created_at, updated_at) VALUES ($1, $2, $3, $3) "
        "ON CONFLICT (name) DO UPDATE SET config = EXCLUDED.config, updated_at = $3 "
        "RETURNING id, (xmax = 0)",
    [HITL__PG_QUEUE_GET] =
        "SELECT id, name, config, created_at, updated_at FROM queues WHERE name = $1",
    [HITL__PG_QUEUE_LIST] =
        "SELECT id, name, config, created_at, updated_at FROM queues ORDER BY name COLLATE \"C\"",
    [HITL__PG_QUEUE_EXISTS] = "SELECT 1 FROM queues WHERE id = $1",
    [HITL__PG_STATS_COUNTS] =
        "SELECT state, decided_by, n FROM task_counts WHERE queue_id = $1 AND n <> 0",
    [HITL__PG_STATS_OLDEST] = "SELECT created_at FROM tasks WHERE queue_id = $1 AND state = 0 "
                              "ORDER BY seq LIMIT 1",

    [HITL__PG_TASK_INSERT] =
        "INSERT INTO tasks (id, queue_id, state, role, priority, created_at, updated_at, "
        "deadline_at, idempotency_key, body_hash, external_id, model_version, inference_id, "
        "run_id, confidence, payload, route, stage, needed, answers, lease_id, lease_owner, "
        "lease_expires_at, decision, decided_by, decided_at, submitted_by, timeout_action) VALUES "
        "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, "
        "$20, $21, $22, $23, $24, $25, $26, $27, $28) ON CONFLICT DO NOTHING RETURNING seq",
    [HITL__PG_TASK_UPDATE] =
        "UPDATE tasks SET state = $2, role = $3, priority = $4, stage = $5, needed = $6, "
        "answers = $7, lease_id = $8, lease_owner = $9, lease_expires_at = $10, deadline_at = $11, "
        "decision = $12, decided_by = $13, decided_at = $14, updated_at = $15 WHERE seq = $1",
    [HITL__PG_TASK_GET] = "SELECT " HITL__TASK_COLUMNS " FROM tasks t WHERE t.id = $1",
    /* In a write transaction a task is read to be changed: lock it, so that another node's
     * writer cannot change it between this read and the update. */
    [HITL__PG_TASK_GET_LOCK] =
        "SELECT " HITL__TASK_COLUMNS " FROM tasks t WHERE t.id = $1 FOR UPDATE OF t",
    [HITL__PG_TASK_IDEMPOTENT] = "SELECT " HITL__TASK_COLUMNS " FROM tasks t "
                                 "WHERE t.queue_id = $1 AND COALESCE(t.submitted_by, '') = $2 "
                                 "AND t.idempotency_key = $3",
    /* $3 is the caller's roles as ",a,b,". SKIP LOCKED passes over the tasks other writers are
     * claiming right now, so two nodes never lease the same task; a task whose claim committed
     * meanwhile is checked again against the WHERE clause (it is no longer pending). */
    [HITL__PG_TASK_CLAIM] =
        "SELECT " HITL__TASK_COLUMNS " FROM tasks t "
        "WHERE t.queue_id = $1 AND t.state = 0 "
        "AND ($2::boolean OR t.role IS NULL OR strpos($3, ',' || t.role || ',') > 0) "
        /* OFFSET 0 keeps this a probe of responses_task_reviewer per candidate: made a join,
         * on the statistics of a new database, it read every response of the reviewer
         * (test_pg_plans.c). */
        "AND NOT EXISTS (SELECT 1 FROM responses r WHERE r.task_seq = t.seq AND r.reviewer = $4 "
        "OFFSET 0) "
        "ORDER BY t.priority DESC, t.seq LIMIT 1 FOR UPDATE OF t SKIP LOCKED",
    /* task_scan: by queue and seq, by queue, state and seq, or people's decisions by time; each
     * with all columns or the summary's. */
#define SCAN_FROM(columns) "SELECT " columns " FROM tasks t "
#define SCAN_ALL "WHERE t.queue_id = $1 AND t.seq < $2 ORDER BY t.seq DESC LIMIT $3"
#define SCAN_STATE "WHERE t.queue_id = $1 AND t.state = $4 AND t.seq < $2 ORDER BY t.seq DESC LIMIT $3"
#define SCAN_DECIDED                                                                             \
  "WHERE t.queue_id = $1 AND t.decided_at >= $4 AND t.decided_at > 0 "                           \
  "AND t.decided_by <> 'policy' AND (t.decided_at, t.seq) < ($5, $2) "                           \
  "ORDER BY t.decided_at DESC, t.seq DESC LIMIT $3"
    [HITL__PG_TASK_SCAN] = SCAN_FROM(HITL__TASK_COLUMNS) SCAN_ALL,
    [HITL__PG_TASK_SCAN_STATE] = SCAN_FROM(HITL__TASK_COLUMNS) SCAN_STATE,
    [HITL__PG_TASK_SCAN_DECIDED] = SCAN_FROM(HITL__TASK_COLUMNS) SCAN_DECIDED,
    [HITL__PG_TASK_SCAN_SUMMARY] = SCAN_FROM(HITL__TASK_SUMMARY_COLUMNS) SCAN_ALL,
    [HITL__PG_TASK_SCAN_STATE_SUMMARY] = SCAN_FROM(HITL__TASK_SUMMARY_COLUMNS) SCAN_STATE,
    [HITL__PG_TASK_SCAN_DECIDED_SUMMARY] = SCAN_FROM(HITL__TASK_SUMMARY_COLUMNS) SCAN_DECIDED,
    /* Due tasks another node's sweeper holds are skipped: each is handled once. */
    [HITL__PG_TASK_DUE_LEASE] =
        "SELECT " HITL__TASK_COLUMNS ", t.lease_expires_at FROM tasks t "
        "WHERE t.state = 1 AND t.lease_expires_at <= $1 ORDER BY t.lease_expires_at LIMIT $2 "
        "FOR UPDATE OF t SKIP LOCKED",
    [HITL__PG_TASK_DUE_DEADLINE] =
        "SELECT " HITL__TASK_COLUMNS ", t.deadline_at FROM tasks t "
        "WHERE t.state IN (0, 1) AND t.deadline_at > 0 AND t.deadline_at <= $1 "
        "ORDER BY t.deadline_at LIMIT $2 FOR UPDATE OF t SKIP LOCKED",
    [HITL__PG_TASK_NEXT_DUE] =
        "SELECT (SELECT min(lease_expires_at) FROM tasks WHERE state = 1), "
        "(SELECT min(deadline_at) FROM tasks WHERE state IN (0, 1) AND deadline_at > 0)",

    [HITL__PG_RESPONSE_INSERT] =
        "INSERT INTO responses (id, task_seq, reviewer, stage, question, kind, value, comment, "
        "time_spent_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "RETURNING seq",
    [HITL__PG_RESPONSE_LIST] =
        "SELECT " RESPONSE_COLUMNS " FROM responses r WHERE r.task_seq = $1 ORDER BY r.seq",
    /* $1 is an array of task seqs, kept in its order. */
    [HITL__PG_RESPONSE_LIST_MANY] =
        "SELECT " RESPONSE_COLUMNS " FROM unnest($1::bigint[]) WITH ORDINALITY j(seq, k) "
        "JOIN responses r ON r.task_seq = j.seq ORDER BY j.k, r.seq",
    [HITL__PG_RESPONSE_EXISTS] =
        "SELECT 1 FROM responses WHERE task_seq = $1 AND reviewer = $2 LIMIT 1",
    [HITL__PG_RESPONSE_BY_REVIEWER] =
        "SELECT " RESPONSE_COLUMNS ", t.id, q.name FROM responses r "
        "JOIN tasks t ON t.seq = r.task_seq JOIN queues q ON q.id = t.queue_id "
        "WHERE r.reviewer = $1 AND r.seq < $2 ORDER BY r.seq DESC LIMIT $3",
    [HITL__PG_RESPONSE_COUNT_REVIEWER] =
        "SELECT count(*) FROM responses WHERE reviewer = $1 AND created_at >= $2",
    /* All time: the counter migration 6 keeps, not a count. */
    [HITL__PG_RESPONSE_TOTAL_REVIEWER] =
        "SELECT coalesce((SELECT n FROM reviewer_counts WHERE reviewer = $1), 0)",
    [HITL__PG_TASK_COUNT_REVIEWER] =
        "SELECT count(DISTINCT task_seq) FROM responses WHERE reviewer = $1 AND created_at >= $2",
    [HITL__PG_REVIEWER_ACTIVITY] =
        "SELECT reviewer, count(*) FROM responses WHERE created_at >= $1 "
        "GROUP BY reviewer ORDER BY 2 DESC, reviewer COLLATE \"C\"",

    [HITL__PG_EVENT_LAST] = "SELECT seq, hash FROM chain_head WHERE id = 1",
    /* The chain's lock: held until the transaction ends. A writer waiting here reads the head
     * the previous holder left, as PostgreSQL re-reads a row it waited for. */
    [HITL__PG_EVENT_HEAD] = "SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE",
    [HITL__PG_EVENT_INSERT] =
        "WITH e AS (INSERT INTO events (" EVENT_COLUMNS ") "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING seq, hash) "
        "UPDATE chain_head h SET seq = e.seq, hash = e.hash FROM e WHERE h.id = 1 RETURNING h.seq",
    [HITL__PG_EVENT_LIST] =
        "SELECT " EVENT_COLUMNS " FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
    [HITL__PG_EVENT_FIND_TASK] = "SELECT " EVENT_COLUMNS " FROM events "
                                 "WHERE task_id = $2 AND seq > $1 " EVENT_FILTERS
                                 "ORDER BY seq LIMIT $6",
    [HITL__PG_EVENT_FIND] = "SELECT " EVENT_COLUMNS " FROM events "
                            "WHERE seq > $1 AND ($2::text IS NULL OR true) " EVENT_FILTERS
                            "ORDER BY seq LIMIT $6",
    [HITL__PG_EVENT_FIND_TASK_BACK] = "SELECT " EVENT_COLUMNS " FROM events "
                                      "WHERE task_id = $2 AND seq < $1 " EVENT_FILTERS
                                      "ORDER BY seq DESC LIMIT $6",
    [HITL__PG_EVENT_FIND_BACK] = "SELECT " EVENT_COLUMNS " FROM events "
                                 "WHERE seq < $1 AND ($2::text IS NULL OR true) " EVENT_FILTERS
                                 "ORDER BY seq DESC LIMIT $6",

    [HITL__PG_TOKEN_INSERT] = "INSERT INTO tokens (name, hash, roles, created_at) "
                              "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id",
    [HITL__PG_TOKEN_FIND] =
        "SELECT id, name, roles, created_at, revoked::integer FROM tokens WHERE hash = $1",
    [HITL__PG_TOKEN_REVOKE] = "UPDATE tokens SET revoked = true WHERE name = $1",
    [HITL__PG_TOKEN_LIST] = "SELECT id, name, roles, created_at, revoked::integer FROM tokens "
                            "ORDER BY name COLLATE \"C\"",

    [HITL__PG_DELIVERY_INSERT] =
        "INSERT INTO webhook_deliveries (id, queue_id, url, event_seq, event_type, body, state, "
        "attempts, next_attempt_at, created_at, updated_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT DO NOTHING "
        "RETURNING seq",
    [HITL__PG_DELIVERY_DUE] = "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries "
                              "WHERE state = 0 AND next_attempt_at <= $1 "
                              "ORDER BY next_attempt_at LIMIT $2",
    [HITL__PG_DELIVERY_NEXT_DUE] =
        "SELECT min(next_attempt_at) FROM webhook_deliveries WHERE state = 0",
    [HITL__PG_DELIVERY_UPDATE] =
        "UPDATE webhook_deliveries SET state = $2, attempts = $3, next_attempt_at = $4, "
        "last_status = $5, last_error = $6, delivered_at = $7, updated_at = $8 WHERE id = $1",
    /* Two workers taking one delivery: the second waits for the first's row lock, then finds
     * next_attempt_at moved past now and takes nothing. */
    [HITL__PG_DELIVERY_TAKE] = "UPDATE webhook_deliveries SET next_attempt_at = $3 "
                               "WHERE seq = $1 AND state = 0 AND next_attempt_at <= $2",
    [HITL__PG_DELIVERY_LIST] = "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries "
                               "WHERE queue_id = $1 AND ($2::integer < 0 OR state = $2) "
                               "AND ($3::bigint = 0 OR seq < $3) ORDER BY seq DESC LIMIT $4",
    [HITL__PG_DELIVERY_GET] = "SELECT " DELIVERY_COLUMNS " FROM webhook_deliveries WHERE id = $1",

#define RUN_COLUMNS                                                                                \
  "r.seq, r.id, r.agent, r.goal, r.metadata, r.owner, r.state, r.lost_from, "                     \
  "r.heartbeat_seconds, r.created_at, r.updated_at, r.last_heartbeat_at, r.heartbeat_due_at, "     \
  "r.ended_at, r.steps, r.commands, r.acked, "                                                     \
  "(SELECT count(*) FROM tasks t WHERE t.run_id = r.id AND t.state IN (0, 1))"
    [HITL__PG_RUN_INSERT] =
        "INSERT INTO runs (id, agent, goal, metadata, owner, state, lost_from, heartbeat_seconds, "
        "created_at, updated_at, last_heartbeat_at, heartbeat_due_at, ended_at, steps, commands, "
        "acked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) "
        "ON CONFLICT DO NOTHING RETURNING seq",
    [HITL__PG_RUN_UPDATE] =
        "UPDATE runs SET goal = $2, state = $3, lost_from = $4, last_heartbeat_at = $5, "
        "heartbeat_due_at = $6, ended_at = $7, steps = $8, commands = $9, acked = $10, "
        "updated_at = $11 WHERE seq = $1",
    [HITL__PG_RUN_TOUCH] =
        "UPDATE runs SET last_heartbeat_at = GREATEST(last_heartbeat_at, $2), "
        "updated_at = GREATEST(updated_at, $2), heartbeat_due_at = GREATEST(heartbeat_due_at, $3) "
        "WHERE seq = $1 AND state IN (0, 1)",
    [HITL__PG_RUN_GET] = "SELECT " RUN_COLUMNS " FROM runs r WHERE r.id = $1",
    /* In a write transaction: a second node's change to the run waits for this one. */
    [HITL__PG_RUN_GET_LOCK] = "SELECT " RUN_COLUMNS " FROM runs r WHERE r.id = $1 FOR UPDATE OF r",
    [HITL__PG_RUN_LIST] = "SELECT " RUN_COLUMNS " FROM runs r "
                          "WHERE ($1::bigint = 0 OR r.seq < $1) AND ($3::integer < 0 OR r.state = $3) "
                          "ORDER BY r.seq DESC LIMIT $2",
    /* Due work is done once across nodes: a run another node is marking lost is skipped. */
    [HITL__PG_RUN_DUE] = "SELECT " RUN_COLUMNS " FROM runs r "
                         "WHERE r.state IN (0, 1) AND r.heartbeat_due_at <= $1 "
                         "ORDER BY r.heartbeat_due_at LIMIT $2 FOR UPDATE OF r SKIP LOCKED",
    [HITL__PG_RUN_NEXT_DUE] = "SELECT min(heartbeat_due_at) FROM runs WHERE state IN (0, 1)",
    [HITL__PG_RUN_STEP_INSERT] =
        "INSERT INTO run_steps (run_seq, n, text, data, created_at) VALUES ($1, $2, $3, $4, $5) "
        "RETURNING seq",
    [HITL__PG_RUN_STEP_LIST] = "SELECT seq, run_seq, n, text, data, created_at FROM run_steps "
                               "WHERE run_seq = $1 AND ($2::bigint = 0 OR seq < $2) "
                               "ORDER BY seq DESC LIMIT $3",
    [HITL__PG_RUN_COMMAND_INSERT] =
        "INSERT INTO run_commands (run_seq, seq, type, goal, actor, created_at, acked_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
    [HITL__PG_RUN_COMMAND_LIST] =
        "SELECT run_seq, seq, type, goal, actor, created_at, acked_at FROM run_commands "
        "WHERE run_seq = $1 AND seq > $2 AND (NOT $3::boolean OR acked_at = 0) "
        "ORDER BY seq LIMIT $4",
    [HITL__PG_RUN_COMMAND_ACK] =
        "UPDATE run_commands SET acked_at = $3 WHERE run_seq = $1 AND seq = $2",
    [HITL__PG_RUN_OPEN_TASKS] = "SELECT " HITL__TASK_COLUMNS " FROM tasks t "
                                "WHERE t.run_id = $1 AND t.state IN (0, 1) ORDER BY t.seq LIMIT $2",
    /* Delivered to the listeners when the transaction commits; NOTIFY folds identical payloads
     * of one transaction into one, which the feed's texts never are (each holds event seqs). */
    [HITL__PG_CHANGES_PUBLISH] = "SELECT pg_notify('hitl_changes', $1)",

#define CALIB_COLUMNS                                                                              \
  "task_seq, queue_id, score, propensity, uniform, audit, correct, decided_seq, lac, aps"
    [HITL__PG_CALIB_PUT] =
        "INSERT INTO calibration (" CALIB_COLUMNS ") "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
        "ON CONFLICT (task_seq) DO UPDATE SET queue_id = $2, score = $3, propensity = $4, "
        "uniform = $5, audit = $6, correct = $7, decided_seq = $8, lac = $9, aps = $10",
    [HITL__PG_CALIB_GET] = "SELECT " CALIB_COLUMNS " FROM calibration WHERE task_seq = $1",
    [HITL__PG_CALIB_LIST] = "SELECT " CALIB_COLUMNS " FROM calibration "
                            "WHERE queue_id = $1 AND correct >= 0 AND decided_seq > $2 "
                            "ORDER BY decided_seq LIMIT $3",
    [HITL__PG_CALIB_TALLY_ADD] =
        "INSERT INTO calibration_tally (queue_id, hour, kind, n) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (queue_id, hour, kind) DO UPDATE SET n = calibration_tally.n + EXCLUDED.n",
    [HITL__PG_CALIB_TALLY_SUM] = "SELECT kind, sum(n) FROM calibration_tally "
                                 "WHERE queue_id = $1 AND hour >= $2 GROUP BY kind",
    [HITL__PG_CALIB_SNAPSHOT_PUT] =
        "INSERT INTO calibration_snapshot (queue_id, last_seq, params, state) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (queue_id) DO UPDATE SET last_seq = $2, "
        "params = $3, state = $4",
    [HITL__PG_CALIB_SNAPSHOT_DELETE] = "DELETE FROM calibration_snapshot WHERE queue_id = $1",
    [HITL__PG_CALIB_SNAPSHOT_GET] = "SELECT queue_id, last_seq, params, state "
                                    "FROM calibration_snapshot WHERE queue_id = $1",
};

const char *hitl__pg_sql(hitl__pg_stmt_id id) { return stmt_sql[id]; }
