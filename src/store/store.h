/* SPDX-License-Identifier: MIT */
/* The store interface: what core needs persisted, as a table of functions each backend fills. */
#ifndef HITL_STORE_STORE_H
#define HITL_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/run.h"
#include "core/task.h"
#include "hitl/error.h"
#include "util/buf.h"

/* Conventions for every function below:
 * - Returns 0 on success or a negative HITL_E* code: HITL_ENOT_FOUND when the thing asked for does
 *   not exist, HITL_ECONFLICT for a unique-key clash, HITL_ESTORE for a database failure.
 * - A handle is used by one thread at a time. Each thread opens its own handle on the same path.
 * - Output structs are filled with strings the caller owns (free with hitl_*_clear); output
 *   arrays are malloc'd and the caller frees each element and then the array.
 * - Writes happen inside begin()/commit(); commit() returns only when the transaction is durable.
 * - Several handles, in one process or on several machines, may write at once (PostgreSQL): what a
 *   write transaction reads to decide (a claim, the chain head) is locked until it ends, and a
 *   transaction that loses a race with another (a serialization failure or a deadlock) is
 *   doomed: commit() then rolls it back and returns HITL_ERETRY, and running it again may succeed.
 *   SQLite has one writer at a time (begin() takes the write lock), so it never returns that. */

typedef struct hitl_store hitl_store;

/* A stored queue: its name and its configuration as given (compact JSON). */
typedef struct hitl_queue_row {
  int64_t id;
  char *name;
  char *config;
  int64_t created_at;
  int64_t updated_at;
} hitl_queue_row;

/* A stored bearer token. Only the hash of the secret is kept. */
typedef struct hitl_token_row {
  int64_t id;
  char *name;
  char *roles; /* Comma-separated role names. */
  int64_t created_at;
  bool revoked;
} hitl_token_row;

/* Counts of one queue's tasks, for live counts and metrics. */
typedef struct hitl_queue_stats {
  int64_t by_state[HITL_TASK_NSTATES];
  int64_t oldest_pending_at; /* created_at of the oldest pending task; 0 when none. */
  int64_t decided_policy, decided_human, decided_consensus, decided_sla;
} hitl_queue_stats;

/* What the claim query may return. */
typedef struct hitl_claim_filter {
  int64_t queue_id;
  const char *reviewer;      /* Tasks this reviewer has responded to (or skipped) are excluded. */
  const char *const *roles;  /* Caller's roles: a task whose role is set must have one of them. */
  size_t n_roles;
  bool any_role;             /* True for orchestrators: the task's role is not checked. */
} hitl_claim_filter;

/* What task_scan returns: tasks of one queue, newest first (descending seq), page by page. */
typedef struct hitl_task_scan {
  int64_t queue_id;
  int state;             /* >= 0: only tasks in that state; -1: any. */
  int64_t before_seq;    /* > 0: only seq < before_seq (the cursor: the last seq of a page). */
  int64_t decided_since; /* > 0: only tasks people decided (decided_by not "policy") at or after
                            this time, newest decision first (descending decided_at, then seq),
                            from an index on (queue_id, decided_at); the cursor is then the last
                            task's decided_at and seq: before_decided_at with before_seq. */
  int64_t before_decided_at;
  bool summary;          /* Leave payload, route and decision out (NULL): for counting and
                            timing many tasks without reading their contents. */
} hitl_task_scan;

/* Filters of event_find; a NULL member matches every event. */
typedef struct hitl_event_filter {
  const char *task_id;
  const char *queue;
  const char *actor;
  const char *type;
  int64_t before;      /* > 0: newest first, seq below before (after is then ignored). */
} hitl_event_filter;

/* The states of a webhook delivery. */
typedef enum hitl_delivery_state {
  HITL_DELIVERY_PENDING = 0,   /* Waiting for its (next) attempt. */
  HITL_DELIVERY_DELIVERED = 1, /* The receiver answered 2xx. */
  HITL_DELIVERY_FAILED = 2,    /* Every attempt failed; no more are made. */
} hitl_delivery_state;

/* One webhook delivery: an event of a queue to POST to a URL, kept until the receiver takes it
 * (an outbox written in the event's transaction). */
typedef struct hitl_delivery {
  int64_t seq;
  char *id;                  /* "wh_..." */
  int64_t queue_id;
  char *url;
  int64_t event_seq;
  char *event_type;
  char *body;                /* The JSON that is POSTed. */
  int state;                 /* hitl_delivery_state. */
  int attempts;
  int64_t next_attempt_at;   /* Wall-clock ms; for a pending delivery. */
  int last_status;           /* HTTP status of the last attempt; 0 when none or no answer. */
  char *last_error;          /* Why the last attempt failed, or NULL. */
  int64_t created_at, updated_at;
  int64_t delivered_at;      /* 0 until delivered. */
} hitl_delivery;

/* A reviewer and a count of their responses. */
typedef struct hitl_reviewer_count {
  char *reviewer;
  int64_t responses;
} hitl_reviewer_count;

/* One task's calibration evidence (docs/calibration.md): how the task was routed, fixed when it
 * was, and once people decided it, whether the model was right. Stored with the task. */
typedef struct hitl_calib_row {
  int64_t task_seq;    /* The task; one row per task. */
  int64_t queue_id;
  double score;        /* The task's score (its confidence, or its largest probability). */
  double propensity;   /* The routing tag: probability the task was sent to a person, */
  bool uniform;        /* whether it belongs to the uniform sample, */
  bool audit;          /* and whether it was an audit. */
  int correct;         /* -1 while undecided; else 1 when the model was right, 0 when wrong. */
  int64_t decided_seq; /* Seq of the event that decided it (0 while undecided): the evidence's
                          order. */
  double lac, aps;     /* Conformal nonconformity scores of the label people chose (LAC, APS);
                          NaN when there are none (stored as NULL). */
} hitl_calib_row;

/* A queue's calibration state as of one point of its evidence, so that a start resumes from it
 * instead of replaying every pair (api/calib.c writes one every few thousand pairs, in the
 * transaction that adds them). The store keeps the texts as they are. */
typedef struct hitl_calib_snapshot {
  int64_t queue_id;
  int64_t last_seq; /* decided_seq of the newest pair in it. */
  char *params;     /* The parameters it was taken under, as text. */
  char *state;      /* The state, as text. */
} hitl_calib_snapshot;

typedef struct hitl_store_vtable {
  int version; /* HITL_STORE_VERSION of the header the backend was built against. */

  void (*close)(hitl_store *s);

  /* Transactions. begin() starts a write transaction (on SQLite immediately taking the write
   * lock); commit() makes it durable (or returns HITL_ERETRY, see above); rollback() undoes it. op_begin/op_end/op_abort bracket one
   * operation inside a transaction (a savepoint), so a failing operation undoes only itself. */
  int (*begin)(hitl_store *s);
  int (*commit)(hitl_store *s);
  int (*rollback)(hitl_store *s);
  int (*op_begin)(hitl_store *s);
  int (*op_end)(hitl_store *s);
  int (*op_abort)(hitl_store *s);

  /* Queues. queue_put creates or replaces by name and sets *id; *created tells which. */
  int (*queue_put)(hitl_store *s, const char *name, const char *config, int64_t now, int64_t *id,
                   bool *created);
  int (*queue_get)(hitl_store *s, const char *name, hitl_queue_row *out);
  /* All queues ordered by name. */
  int (*queue_list)(hitl_store *s, hitl_queue_row **out, size_t *n);
  /* Counts as of the last commit: inside a write transaction, its own changes may not show
   * (PostgreSQL counts them when it commits). */
  int (*queue_stats)(hitl_store *s, int64_t queue_id, hitl_queue_stats *out);
  /* created_at of the queue's oldest pending task (0 when none), from an index: unlike
   * queue_stats it does not count, so it stays cheap with millions of tasks. */
  int (*queue_oldest_pending)(hitl_store *s, int64_t queue_id, int64_t *created_at);

  /* Tasks. task_insert assigns t->seq. task_update writes the mutable fields (state, role,
   * priority, stage, needed, answers, lease_*, deadline_at, decision, decided_by, decided_at,
   * updated_at) of the task with t->seq. */
  int (*task_insert)(hitl_store *s, hitl_task *t);
  int (*task_update)(hitl_store *s, const hitl_task *t);
  int (*task_get)(hitl_store *s, const char *id, hitl_task *out);
  /* The task of queue_id that submitter (a token name; NULL matches tasks stored without one)
   * submitted with idempotency key; HITL_ENOT_FOUND when none. Keys are scoped to their
   * submitter: another token's key of the same text is another key. task_insert answers
   * HITL_ECONFLICT for a second (queue_id, submitted_by, key). */
  int (*task_get_idempotent)(hitl_store *s, int64_t queue_id, const char *submitter,
                             const char *key, hitl_task *out);
  /* The pending task that f allows with the highest priority, then the smallest seq;
   * HITL_ENOT_FOUND when none. Must not scan all pending tasks (an index gives the order). In a
   * write transaction the task returned is locked until it ends, and a task another open
   * transaction has locked is skipped, so two writers never claim the same task. */
  int (*task_claim_next)(hitl_store *s, const hitl_claim_filter *f, hitl_task *out);
  /* The tasks f selects, newest first (descending seq; see decided_since), at most limit: a
   * caller pages with before_seq = the last seq it got. Each filter is served by an index (queue and seq; queue,
   * state and seq; people's decisions by time), never by a scan of the whole table. */
  int (*task_scan)(hitl_store *s, const hitl_task_scan *f, size_t limit, hitl_task **out,
                   size_t *n);
  /* Tasks due at now: leased with lease_expires_at <= now, or pending/leased with
   * 0 < deadline_at <= now; at most limit, earliest first. */
  int (*task_due)(hitl_store *s, int64_t now, size_t limit, hitl_task **out, size_t *n);
  /* The earliest lease expiry or deadline among pending/leased tasks; 0 when none. */
  int (*task_next_due)(hitl_store *s, int64_t *at);

  /* Responses. response_insert assigns r->seq. */
  int (*response_insert)(hitl_store *s, hitl_response *r);
  /* All responses of a task, in seq order. */
  int (*response_list)(hitl_store *s, int64_t task_seq, hitl_response **out, size_t *n);
  /* All responses of the n_tasks tasks task_seqs (at most HITL_STORE_MANY of them), ordered by
   * task (as in task_seqs) and then seq: one read for a page of tasks instead of one a task. */
  int (*response_list_many)(hitl_store *s, const int64_t *task_seqs, size_t n_tasks,
                            hitl_response **out, size_t *n);
  int (*response_exists)(hitl_store *s, int64_t task_seq, const char *reviewer, bool *exists);
  /* The reviewer's responses with seq < before_seq (0: from the newest), newest first, at most
   * limit; task_id and queue are filled. */
  int (*response_list_by_reviewer)(hitl_store *s, const char *reviewer, int64_t before_seq,
                                   size_t limit, hitl_response **out, size_t *n);
  /* How many responses the reviewer gave at or after since. since <= 0 (all time) reads a
   * counter on PostgreSQL, kept as responses are stored, never a count of them; SQLite counts
   * the reviewer's entries of an index. */
  int (*response_count_by_reviewer)(hitl_store *s, const char *reviewer, int64_t since,
                                    int64_t *n);
  /* Every reviewer who responded at or after since, with their count, most active first. */
  int (*reviewer_activity)(hitl_store *s, int64_t since, hitl_reviewer_count **out, size_t *n);

  /* Events. event_last gives the newest event's seq and hash (seq 0 and zero hash when the log
   * is empty), as any reader sees it. event_head, in a write transaction, gives the same but
   * takes the chain's lock until the transaction ends, so the head cannot move under the caller
   * (another writer's event_head waits): the next event's seq is *seq + 1 and its prev_hash is
   * hash. event_insert stores e as given (seq and hashes computed by the caller from the head)
   * and moves the head to it; HITL_ECONFLICT when e->seq is taken. */
  int (*event_last)(hitl_store *s, int64_t *seq, uint8_t hash[HITL_HASH_LEN]);
  int (*event_head)(hitl_store *s, int64_t *seq, uint8_t hash[HITL_HASH_LEN]);
  int (*event_insert)(hitl_store *s, const hitl_event *e);
  /* Events with seq > after in seq order, at most limit. */
  int (*event_list)(hitl_store *s, int64_t after, size_t limit, hitl_event **out, size_t *n);
  /* Events with seq > after that match f, in seq order, at most limit; or, when f->before > 0,
   * those with seq < f->before, newest first. Indexed by task_id; the other filters scan the log
   * from after (or back from before). */
  int (*event_find)(hitl_store *s, int64_t after, const hitl_event_filter *f, size_t limit,
                    hitl_event **out, size_t *n);

  /* Tokens, found by the hash of their secret. */
  int (*token_insert)(hitl_store *s, const char *name, const uint8_t hash[HITL_HASH_LEN],
                      const char *roles, int64_t now);
  int (*token_find)(hitl_store *s, const uint8_t hash[HITL_HASH_LEN], hitl_token_row *out);
  /* Marks the token named name revoked (again is fine); HITL_ENOT_FOUND when there is none. */
  int (*token_revoke)(hitl_store *s, const char *name);
  /* Every token, revoked ones too, ordered by name. */
  int (*token_list)(hitl_store *s, hitl_token_row **out, size_t *n);

  /* Webhook deliveries. delivery_insert stores d (state, attempts and next_attempt_at as given)
   * and sets d->seq. delivery_due lists pending deliveries whose next attempt is at or before
   * now, earliest first. delivery_next_due gives the earliest next attempt (0 when none is
   * pending). delivery_update records an attempt: state, attempts, next_attempt_at,
   * last_status, last_error and delivered_at of d, found by d->id. delivery_list lists a
   * queue's deliveries newest first, seq below before_seq (0: from the newest), of one state
   * (-1: any). */
  int (*delivery_insert)(hitl_store *s, hitl_delivery *d);
  int (*delivery_due)(hitl_store *s, int64_t now, size_t limit, hitl_delivery **out, size_t *n);
  int (*delivery_next_due)(hitl_store *s, int64_t *at);
  int (*delivery_update)(hitl_store *s, const hitl_delivery *d);
  int (*delivery_list)(hitl_store *s, int64_t queue_id, int state, int64_t before_seq,
                       size_t limit, hitl_delivery **out, size_t *n);
  /* Claims the delivery with seq for an attempt, outside a transaction: *taken is true when it
   * is still pending and due at now, and it is then not due to any other process before
   * hold_until (its next_attempt_at moves there; the attempt's delivery_update sets it anew). So
   * the workers of several servers never POST one delivery at once. A backend whose database one
   * process opens (SQLite) needs no claim: *taken is always true and nothing is written. */
  int (*delivery_take)(hitl_store *s, int64_t seq, int64_t now, int64_t hold_until, bool *taken);

  /* How many distinct tasks the reviewer answered (a skip counts) at or after since: one per
   * answer body, however many questions it answered. Meant for short windows (today). */
  int (*task_count_by_reviewer)(hitl_store *s, const char *reviewer, int64_t since, int64_t *n);

  /* Agent runs (core/run.h). run_insert assigns r->seq; HITL_ECONFLICT for a taken id.
   * run_update writes the mutable fields (goal, state, lost_from, last_heartbeat_at,
   * heartbeat_due_at, ended_at, steps, commands, acked, updated_at) of the run with r->seq.
   * run_get and run_list fill open_tasks (the run's pending or leased tasks, from an index). In
   * a write transaction run_get locks the run until the transaction ends, so two writers'
   * changes to one run are serialized (PostgreSQL; SQLite has one writer anyway). */
  int (*run_insert)(hitl_store *s, hitl_run *r);
  int (*run_update)(hitl_store *s, const hitl_run *r);
  /* A heartbeat kept in memory reaches the store: moves the run's last_heartbeat_at and
   * updated_at to at and heartbeat_due_at to due_at, each only forward, when the run with seq
   * run_seq is running or paused; otherwise (it ended, was marked lost, is gone) changes nothing
   * and still returns 0. Touches no other column, so it never undoes another writer's change. */
  int (*run_touch)(hitl_store *s, int64_t run_seq, int64_t at, int64_t due_at);
  int (*run_get)(hitl_store *s, const char *id, hitl_run *out);
  /* Runs newest first (descending seq), seq < before_seq when before_seq > 0, in the stored
   * state `state` when state >= 0; at most limit. */
  int (*run_list)(hitl_store *s, int state, int64_t before_seq, size_t limit, hitl_run **out,
                  size_t *n);
  /* Running or paused runs with heartbeat_due_at <= now, earliest first, at most limit. From an
   * index on heartbeat_due_at: never a scan of all runs. In a write transaction the runs returned
   * are locked, and runs another open transaction has locked are skipped. */
  int (*run_due)(hitl_store *s, int64_t now, size_t limit, hitl_run **out, size_t *n);
  /* The earliest heartbeat_due_at of running or paused runs; 0 when none. */
  int (*run_next_due)(hitl_store *s, int64_t *at);
  /* run_step_insert assigns st->seq. run_step_list gives a run's steps newest first, seq <
   * before_seq when before_seq > 0, at most limit. */
  int (*run_step_insert)(hitl_store *s, hitl_run_step *st);
  int (*run_step_list)(hitl_store *s, int64_t run_seq, int64_t before_seq, size_t limit,
                       hitl_run_step **out, size_t *n);
  /* Commands are keyed by (run_seq, seq): run_command_insert answers HITL_ECONFLICT for a taken
   * key. run_command_list gives a run's commands with seq > after in seq order (only those not
   * acknowledged when pending_only), at most limit. run_command_ack sets acked_at of (run_seq,
   * seq); HITL_ENOT_FOUND when there is no such command. */
  int (*run_command_insert)(hitl_store *s, const hitl_run_command *c);
  int (*run_command_list)(hitl_store *s, int64_t run_seq, int64_t after, bool pending_only,
                          size_t limit, hitl_run_command **out, size_t *n);
  int (*run_command_ack)(hitl_store *s, int64_t run_seq, int64_t seq, int64_t at);
  /* Tasks whose run_id is run_id and that are pending or leased, oldest first, at most limit. */
  int (*run_open_tasks)(hitl_store *s, const char *run_id, size_t limit, hitl_task **out,
                        size_t *n);

  /* The change feed between processes that share the database. changes_publish, in a write
   * transaction, sends text (at most HITL_CHANGES_MAX bytes) to every handle waiting in
   * changes_wait, once the transaction commits (never when it rolls back). changes_wait waits
   * at most timeout_ms for texts published through other handles (the handle listens from its
   * first call) and sets *texts to a malloc'd array of *n malloc'd strings (NULL and 0 when none
   * came). HITL_ERETRY: it listens again after its connection was lost, so texts published
   * meanwhile were missed; re-read what is cached. Use a handle for nothing else while it
   * listens. A backend whose database one process
   * opens (SQLite) has no feed, as that process's own commits are all the changes there are:
   * changes_publish does nothing and changes_wait returns HITL_ENOT_FOUND at once. */
  int (*changes_publish)(hitl_store *s, const char *text);
  int (*changes_wait)(hitl_store *s, int timeout_ms, char ***texts, size_t *n);

  /* The webhook delivery with id id into *out (clear it with hitl_delivery_clear);
   * HITL_ENOT_FOUND when there is none. */
  int (*delivery_get)(hitl_store *s, const char *id, hitl_delivery *out);

  /* Calibration evidence. calib_put stores r, replacing the row of the same task_seq.
   * calib_get reads the row of a task (HITL_ENOT_FOUND when none). calib_list lists the decided
   * rows (correct >= 0) of a queue with decided_seq > after, by decided_seq, at most limit. */
  int (*calib_put)(hitl_store *s, const hitl_calib_row *r);
  int (*calib_get)(hitl_store *s, int64_t task_seq, hitl_calib_row *out);
  int (*calib_list)(hitl_store *s, int64_t queue_id, int64_t after, size_t limit,
                    hitl_calib_row **out, size_t *n);
  /* Calibration's counters per queue, hour (wall-clock ms / 3,600,000) and kind (a small
   * non-negative number the caller gives a meaning: api/calib.h), for the view's
   * last day. calib_tally_add adds n to the queue's counter of that hour and kind (0 when it has
   * none yet) inside the caller's transaction, so that the counts are exactly what committed.
   * calib_tally_sum sets sums[k] for every k < n_kinds to the sum of kind k over the queue's
   * hours >= since_hour (0 when none); it reads rows by primary key, never the tasks. */
  int (*calib_tally_add)(hitl_store *s, int64_t queue_id, int64_t hour, int kind, int64_t n);
  int (*calib_tally_sum)(hitl_store *s, int64_t queue_id, int64_t since_hour, int64_t *sums,
                         int n_kinds);
  /* calib_snapshot_put stores snap as its queue's snapshot, replacing the one it had; with
   * snap->state NULL it deletes it. calib_snapshot_get reads the queue's snapshot into *out (the
   * caller clears it with hitl_calib_snapshot_clear); HITL_ENOT_FOUND when there is none. */
  int (*calib_snapshot_put)(hitl_store *s, const hitl_calib_snapshot *snap);
  int (*calib_snapshot_get)(hitl_store *s, int64_t queue_id, hitl_calib_snapshot *out);

  /* Whether the transactions begun from now on may defer writes: a write whose caller reads no
   * result but its return code (task_update, run_update, event_insert, changes_publish,
   * calib_put, calib_tally_add, and the savepoints of op_begin/op_end/op_abort) may then
   * return 0 before the database answered
   * (PostgreSQL sends it and reads the answer with the next statement that waits, libpq's
   * pipeline mode). Such a write that fails, or that finds no row to change, dooms the
   * transaction: later calls and commit() return HITL_ERETRY, and the next transaction of the
   * handle defers nothing, so that running the same writes again reports the failure where it
   * happens. For a committer that runs a batch again on HITL_ERETRY (api/commit.c). Off when a
   * handle opens; SQLite, whose every statement is a function call, ignores it. */
  int (*pipeline)(hitl_store *s, bool on);
} hitl_store_vtable;

#define HITL_STORE_VERSION 8
#define HITL_STORE_MANY 1000 /* Most task seqs response_list_many takes at once. */
#define HITL_CHANGES_MAX 7900 /* PostgreSQL's NOTIFY takes payloads under 8,000 bytes. */

/* The base every backend embeds first. */
struct hitl_store {
  const hitl_store_vtable *vt;
};

/* Opens the store at location: a file path for SQLite (created and migrated when new), or a
 * postgres:// or postgresql:// URL for PostgreSQL (the database must exist; its tables are
 * created and migrated). Sets *out to a handle the caller closes with hitl_store_close. */
int hitl_store_open(const char *location, hitl_store **out, hitl_err *err);
/* True when other servers may write the database at location too (PostgreSQL); false for a
 * SQLite file, whose one writer is the server that opened it. */
bool hitl_store_is_shared(const char *location);
/* Opens a SQLite database file; see hitl_store_open. */
int hitl__store_sqlite_open(const char *path, hitl_store **out, hitl_err *err);
/* Opens a PostgreSQL database by its libpq URL; see hitl_store_open. */
int hitl__store_postgres_open(const char *url, hitl_store **out, hitl_err *err);

/* Writes the roles of f into b (reset first) as ",a,b,", so that one statement can match any
 * number of roles as ",<role>,". A role that itself holds a comma could match a part of another,
 * so such (invalid) roles are left out. */
void hitl__store_claim_roles(const hitl_claim_filter *f, hitl_buf *b);

/* Writes n seqs into b (reset first) as a list between open and close, comma-separated: a JSON
 * array ('[', ']') for SQLite's json_each, an array literal ('{', '}') for PostgreSQL. */
void hitl__store_seq_list(hitl_buf *b, const int64_t *seqs, size_t n, char open, char close);

/* Copies location into out (size bytes, truncated) without the password a URL may hold, so that
 * it can be shown and logged. */
void hitl_store_location_shown(const char *location, char *out, size_t size);

/* ---- Fault injection, for tests (SQLite's DO_OS_MALLOC_TEST, beanstalkd's falloc) ----
 * A shim store passes every call to its backend after counting it; once armed, the Nth call
 * fails with HITL_ESTORE without reaching the backend. It is compiled in always and inert unless
 * used: hitl_store_open puts a store behind it only after hitl__store_fault_wrap_opened(true) or
 * when HITL_TEST_COMMIT_DELAY_MS is set in the environment; otherwise no call passes it. */

/* What happened since the last arm. */
typedef struct hitl_store_fault_report {
  long calls;           /* Calls made on shimmed stores (all threads). */
  bool fired;           /* The armed call came and failed. */
  const char *function; /* The store function that failed (static string), or NULL. */
} hitl_store_fault_report;

/* Puts backend behind the shim; closing the result closes backend. */
hitl_store *hitl__store_fault_wrap(hitl_store *backend);
/* What hitl_store_open does with each store it opened: the shimmed store when the shim is on,
 * else backend itself. With HITL_TEST_COMMIT_DELAY_MS=ms (1 to 10000), every commit through the
 * shim waits ms first, so a crash test can kill the server while a transaction is open. */
hitl_store *hitl__store_fault_on_open(hitl_store *backend);
/* Whether stores opened from now on are put behind the shim. */
void hitl__store_fault_wrap_opened(bool on);
/* Makes the nth store call from now (1: the next) fail, counting calls on every shimmed store;
 * 0 only resets the count. persistent: every later call fails too, until disarmed (SQLite's
 * sqlite3_io_error_persist), except rollback, which is never failed. Thread-safe. */
void hitl__store_fault_arm(long nth, bool persistent);
/* Disarms; fills *out (when not NULL) with what happened since the arm. */
void hitl__store_fault_disarm(hitl_store_fault_report *out);

void hitl_queue_row_clear(hitl_queue_row *q);
void hitl_token_row_clear(hitl_token_row *t);
void hitl_delivery_clear(hitl_delivery *d);
void hitl_calib_snapshot_clear(hitl_calib_snapshot *s);

static inline void hitl_store_close(hitl_store *s) {
  if (s) s->vt->close(s);
}
static inline int hitl_store_begin(hitl_store *s) { return s->vt->begin(s); }
static inline int hitl_store_commit(hitl_store *s) { return s->vt->commit(s); }
static inline int hitl_store_rollback(hitl_store *s) { return s->vt->rollback(s); }

#endif
