/* SPDX-License-Identifier: MIT */
/* The SQLite schema, one numbered migration per array entry (append only). */
#include "store/migrations.h"

/* Times are INTEGER milliseconds since the epoch. Optional text is NULL rather than "". Hashes are
 * 32-byte BLOBs. tasks.seq, responses.seq and events.seq are the rowid, so seq order is insert
 * order and costs no extra index. */
static const char migration_001_initial[] =
    "CREATE TABLE queues ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  config TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"

    "CREATE TABLE tasks ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  queue_id INTEGER NOT NULL REFERENCES queues(id),"
    "  state INTEGER NOT NULL,"
    "  role TEXT,"
    "  priority INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  deadline_at INTEGER NOT NULL DEFAULT 0,"
    "  idempotency_key TEXT,"
    "  body_hash BLOB NOT NULL,"
    "  external_id TEXT,"
    "  model_version TEXT,"
    "  inference_id TEXT,"
    "  run_id TEXT,"
    "  confidence REAL," /* NULL when the caller gave none; 0.0 is a real value. */
    "  payload TEXT,"
    "  route TEXT,"
    "  stage INTEGER NOT NULL DEFAULT 0,"
    "  needed INTEGER NOT NULL DEFAULT 1,"
    "  answers INTEGER NOT NULL DEFAULT 0,"
    "  lease_id TEXT,"
    "  lease_owner TEXT,"
    "  lease_expires_at INTEGER NOT NULL DEFAULT 0,"
    "  decision TEXT,"
    "  decided_by TEXT,"
    "  decided_at INTEGER NOT NULL DEFAULT 0,"
    "  submitted_by TEXT);"

    /* Claim: the first entry of (queue, pending) in serving order; only pending rows are in it. */
    "CREATE INDEX tasks_claim ON tasks(queue_id, priority DESC, seq) WHERE state = 0;"
    "CREATE UNIQUE INDEX tasks_idempotency ON tasks(queue_id, idempotency_key)"
    "  WHERE idempotency_key IS NOT NULL;"
    /* Timers: the earliest lease expiry and the earliest deadline are the first index entries. */
    "CREATE INDEX tasks_lease_due ON tasks(lease_expires_at) WHERE state = 1;"
    "CREATE INDEX tasks_deadline_due ON tasks(deadline_at)"
    "  WHERE state IN (0, 1) AND deadline_at > 0;"
    /* Listings, newest first, with and without a state filter; the second also counts by state. */
    "CREATE INDEX tasks_queue_seq ON tasks(queue_id, seq);"
    "CREATE INDEX tasks_queue_state_seq ON tasks(queue_id, state, seq);"
    /* Counts of decisions by who decided, for queue statistics without reading task rows. */
    "CREATE INDEX tasks_queue_decided ON tasks(queue_id, decided_by)"
    "  WHERE decided_by IS NOT NULL;"
    /* Times to decision of what people decided, by window: policy decisions stay out of it. */
    "CREATE INDEX tasks_people_decided ON tasks(queue_id, decided_at)"
    "  WHERE decided_at > 0 AND decided_by <> 'policy';"

    "CREATE TABLE responses ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL,"
    "  task_seq INTEGER NOT NULL REFERENCES tasks(seq),"
    "  reviewer TEXT NOT NULL,"
    "  stage INTEGER NOT NULL DEFAULT 0,"
    "  question TEXT,"
    "  kind TEXT NOT NULL,"
    "  value TEXT,"
    "  comment TEXT,"
    "  time_spent_ms INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL);"
    /* Serves response_list, response_exists and the claim's reviewer exclusion. */
    "CREATE INDEX responses_task_reviewer ON responses(task_seq, reviewer);"
    /* A reviewer's history, newest first, and activity in a time window. */
    "CREATE INDEX responses_reviewer ON responses(reviewer, seq);"
    "CREATE INDEX responses_created ON responses(created_at);"

    /* The caller assigns seq (1, 2, 3, ...), so a second writer racing for the same seq gets a
     * unique-key clash instead of a fork of the hash chain. */
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  type TEXT NOT NULL,"
    "  queue TEXT,"
    "  task_id TEXT,"
    "  actor TEXT,"
    "  data TEXT,"
    "  prev_hash BLOB NOT NULL,"
    "  hash BLOB NOT NULL);"
    /* A task's history for the audit view. */
    "CREATE INDEX events_task ON events(task_id, seq) WHERE task_id IS NOT NULL;"

    "CREATE TABLE tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  hash BLOB NOT NULL UNIQUE,"
    "  roles TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0);";

/* Webhook deliveries: an outbox, written in the transaction of the event it carries. */
static const char migration_002_webhook_deliveries[] =
    "CREATE TABLE webhook_deliveries ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  queue_id INTEGER NOT NULL REFERENCES queues(id),"
    "  url TEXT NOT NULL,"
    "  event_seq INTEGER NOT NULL,"
    "  event_type TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER NOT NULL DEFAULT 0,"
    "  last_status INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  delivered_at INTEGER NOT NULL DEFAULT 0);"
    /* The worker's look-up: only pending deliveries, earliest attempt first. */
    "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(next_attempt_at)"
    "  WHERE state = 0;"
    "CREATE INDEX webhook_deliveries_queue ON webhook_deliveries(queue_id, seq);";

/* Idempotency keys belong to the token that submitted them: a second agent sending the same key
 * gets its own task, and learns nothing of the first one's. Existing rows keep their submitter
 * (tasks.submitted_by has been stored since the first migration), and keys unique per queue are
 * unique per queue and submitter, so the new index builds over any existing database. */
static const char migration_003_idempotency_per_submitter[] =
    "DROP INDEX tasks_idempotency;"
    "CREATE UNIQUE INDEX tasks_idempotency_submitter"
    "  ON tasks(queue_id, IFNULL(submitted_by, ''), idempotency_key)"
    "  WHERE idempotency_key IS NOT NULL;";

/* Agent runs, their steps and the commands people give them. A heartbeat moves one entry of
 * runs_heartbeat_due, so the sweeper finds lost runs as the first entries of that index, and
 * only live runs (running, paused) are in it. tasks_run_open counts a run's open tasks (its
 * "waiting" state) without touching the other tasks. */
static const char migration_004_runs[] =
    "CREATE TABLE runs ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  agent TEXT NOT NULL,"
    "  goal TEXT,"
    "  metadata TEXT,"
    "  owner TEXT NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  lost_from INTEGER NOT NULL DEFAULT 0,"
    "  heartbeat_seconds INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  last_heartbeat_at INTEGER NOT NULL,"
    "  heartbeat_due_at INTEGER NOT NULL DEFAULT 0,"
    "  ended_at INTEGER NOT NULL DEFAULT 0,"
    "  steps INTEGER NOT NULL DEFAULT 0,"
    "  commands INTEGER NOT NULL DEFAULT 0,"
    "  acked INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX runs_heartbeat_due ON runs(heartbeat_due_at) WHERE state IN (0, 1);"
    "CREATE INDEX runs_state_seq ON runs(state, seq);"
    "CREATE TABLE run_steps ("
    "  seq INTEGER PRIMARY KEY,"
    "  run_seq INTEGER NOT NULL REFERENCES runs(seq),"
    "  n INTEGER NOT NULL,"
    "  text TEXT NOT NULL,"
    "  data TEXT,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX run_steps_run ON run_steps(run_seq, seq);"
    "CREATE TABLE run_commands ("
    "  run_seq INTEGER NOT NULL REFERENCES runs(seq),"
    "  seq INTEGER NOT NULL,"
    "  type INTEGER NOT NULL,"
    "  goal TEXT,"
    "  actor TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  acked_at INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY (run_seq, seq)) WITHOUT ROWID;"
    "CREATE INDEX tasks_run_open ON tasks(run_id, seq)"
    "  WHERE run_id IS NOT NULL AND state IN (0, 1);"
    /* A task's own deadline (deadline_seconds on submit) brings its own action: 0 is the
     * queue's sla.on_timeout, else 1 + the action (core/task.h). */
    "ALTER TABLE tasks ADD COLUMN timeout_action INTEGER NOT NULL DEFAULT 0;";

/* Calibration evidence: each reviewed task's routing tag, and once decided whether the model was
 * right, in decision order (docs/calibration.md). A database that already has decided tasks
 * gets their evidence when a queue first needs it (api/calib.c rebuilds it from the tasks). */
static const char migration_005_calibration[] =
    "CREATE TABLE calibration ("
    "  task_seq INTEGER PRIMARY KEY REFERENCES tasks(seq),"
    "  queue_id INTEGER NOT NULL REFERENCES queues(id),"
    "  score REAL NOT NULL,"
    "  propensity REAL NOT NULL,"
    "  uniform INTEGER NOT NULL,"
    "  audit INTEGER NOT NULL,"
    "  correct INTEGER NOT NULL DEFAULT -1,"
    "  decided_seq INTEGER NOT NULL DEFAULT 0,"
    "  lac REAL,"
    "  aps REAL);"
    "CREATE INDEX calibration_decided ON calibration(queue_id, decided_seq) WHERE correct >= 0;";

/* Routing tallies per queue and hour, written with each submit, for the share of traffic the
 * calibrated leaf auto-accepted over the last day (docs/calibration.md): exact across restarts
 * and, on PostgreSQL, across the servers that share the database. And snapshots of each queue's
 * calibration state, so that a start does not replay every verified pair. */
static const char migration_006_calibration_tally[] =
    "CREATE TABLE calibration_tally ("
    "  queue_id INTEGER NOT NULL REFERENCES queues(id),"
    "  hour INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY (queue_id, hour, kind)) WITHOUT ROWID;"
    /* A queue's calibration state every few thousand pairs: a start replays only the pairs
     * after it (api/calib.c). */
    "CREATE TABLE calibration_snapshot ("
    "  queue_id INTEGER PRIMARY KEY REFERENCES queues(id),"
    "  last_seq INTEGER NOT NULL,"
    "  params TEXT NOT NULL,"
    "  state TEXT NOT NULL);";

const char *const hitl__sqlite_migrations[] = {
    migration_001_initial,
    migration_002_webhook_deliveries,
    migration_003_idempotency_per_submitter,
    migration_004_runs,
    migration_005_calibration,
    migration_006_calibration_tally,
};

const size_t hitl__sqlite_migrations_count =
    sizeof hitl__sqlite_migrations / sizeof hitl__sqlite_migrations[0];
