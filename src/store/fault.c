/* SPDX-License-Identifier: MIT */
/* Store fault injection for tests: a shim in front of a backend that can fail its Nth call or hold
 * each commit back (SQLite's DO_OS_MALLOC_TEST in os.c; beanstalkd's falloc). */
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include "store/store.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* The shim is a store whose every function counts the call and then calls the backend. */
typedef struct fault_store {
  hitl_store base;
  hitl_store *inner;
} fault_store;

/* Shared by every shim of the process: arming concerns all calls, from any thread. */
static atomic_bool wrap_opened;       /* hitl_store_open puts new stores behind the shim. */
static atomic_long countdown;         /* > 0: armed; the call that takes it to 0 fails. */
static atomic_long calls;             /* Calls since the last arm. */
static atomic_bool fired;
static atomic_bool persist;           /* Armed persistent: once fired, failing is set. */
static atomic_bool failing;           /* Every call fails (but rollback) until disarmed. */
static _Atomic(const char *) fired_in; /* Function that failed (a static string). */
static atomic_long commit_delay_ms;    /* Held before each commit; 0 when none. */
static atomic_bool env_read;

static void read_env(void) {
  if (atomic_exchange(&env_read, true)) return;
  const char *v = getenv("HITL_TEST_COMMIT_DELAY_MS");
  long ms = v ? strtol(v, NULL, 10) : 0;
  if (ms > 0 && ms <= 10000) {
    atomic_store(&commit_delay_ms, ms);
    atomic_store(&wrap_opened, true);
    hitl_log(HITL_LOG_WARN, "msg=\"test hook on: every commit waits\" HITL_TEST_COMMIT_DELAY_MS=%ld",
             ms);
  }
}

/* Counts one call; returns HITL_ESTORE when it is the armed one. */
static int hit(const char *function) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  if (atomic_load_explicit(&failing, memory_order_relaxed)) return HITL_ESTORE;
  if (atomic_load_explicit(&countdown, memory_order_relaxed) <= 0) return 0;
  if (atomic_fetch_sub(&countdown, 1) != 1) return 0;
  atomic_store(&fired_in, function);
  atomic_store(&fired, true);
  if (atomic_load(&persist)) atomic_store(&failing, true);
  return HITL_ESTORE;
}

static hitl_store *inner(hitl_store *s) { return ((fault_store *)s)->inner; }

static void f_close(hitl_store *s) {
  hitl_store_close(inner(s));
  free(s);
}

static int f_commit(hitl_store *s) {
  int rc = hit("commit");
  if (rc) return rc;
  long ms = atomic_load_explicit(&commit_delay_ms, memory_order_relaxed);
  if (ms > 0) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
  }
  return inner(s)->vt->commit(inner(s));
}

/* A wrapper for a function with no argument besides the store. */
#define WRAP0(fn)                                  \
  static int f_##fn(hitl_store *s) {               \
    int rc = hit(#fn);                             \
    return rc ? rc : inner(s)->vt->fn(inner(s));   \
  }
/* A wrapper for fn(s, params): args names the parameters in order. */
#define WRAP(fn, params, ...)                                  \
  static int f_##fn(hitl_store *s, UNPAREN params) {           \
    int rc = hit(#fn);                                         \
    return rc ? rc : inner(s)->vt->fn(inner(s), __VA_ARGS__);  \
  }
#define UNPAREN(...) __VA_ARGS__

/* Rollback is counted but never failed: it is how a failed transaction ends, and SQLite's
 * rollback of a WAL transaction only drops pages from memory. */
static int f_rollback(hitl_store *s) {
  atomic_fetch_add_explicit(&calls, 1, memory_order_relaxed);
  return inner(s)->vt->rollback(inner(s));
}

WRAP0(begin)
WRAP0(op_begin)
WRAP0(op_end)
WRAP0(op_abort)
WRAP(queue_put, (const char *name, const char *config, int64_t now, int64_t *id, bool *created),
     name, config, now, id, created)
WRAP(queue_get, (const char *name, hitl_queue_row *out), name, out)
WRAP(queue_list, (hitl_queue_row **out, size_t *n), out, n)
WRAP(queue_stats, (int64_t queue_id, hitl_queue_stats *out), queue_id, out)
WRAP(queue_oldest_pending, (int64_t queue_id, int64_t *created_at), queue_id, created_at)
WRAP(task_insert, (hitl_task *t), t)
WRAP(task_update, (const hitl_task *t), t)
WRAP(task_get, (const char *id, hitl_task *out), id, out)
WRAP(task_get_idempotent, (int64_t queue_id, const char *submitter, const char *key, hitl_task *out),
     queue_id, submitter, key, out)
WRAP(task_claim_next, (const hitl_claim_filter *f, hitl_task *out), f, out)
WRAP(task_scan, (const hitl_task_scan *f, size_t limit, hitl_task **out, size_t *n), f, limit,
     out, n)
WRAP(task_due, (int64_t now, size_t limit, hitl_task **out, size_t *n), now, limit, out, n)
WRAP(task_next_due, (int64_t *at), at)
WRAP(response_insert, (hitl_response *r), r)
WRAP(response_list_many,
     (const int64_t *task_seqs, size_t n_tasks, hitl_response **out, size_t *n), task_seqs,
     n_tasks, out, n)
WRAP(response_list, (int64_t task_seq, hitl_response **out, size_t *n), task_seq, out, n)
WRAP(response_exists, (int64_t task_seq, const char *reviewer, bool *exists), task_seq, reviewer,
     exists)
WRAP(response_list_by_reviewer,
     (const char *reviewer, int64_t before_seq, size_t limit, hitl_response **out, size_t *n),
     reviewer, before_seq, limit, out, n)
WRAP(response_count_by_reviewer, (const char *reviewer, int64_t since, int64_t *n), reviewer,
     since, n)
WRAP(task_count_by_reviewer, (const char *reviewer, int64_t since, int64_t *n), reviewer,
     since, n)
WRAP(reviewer_activity, (int64_t since, hitl_reviewer_count **out, size_t *n), since, out, n)
WRAP(event_last, (int64_t *seq, uint8_t hash[HITL_HASH_LEN]), seq, hash)
WRAP(event_head, (int64_t *seq, uint8_t hash[HITL_HASH_LEN]), seq, hash)
WRAP(event_insert, (const hitl_event *e), e)
WRAP(event_list, (int64_t after, size_t limit, hitl_event **out, size_t *n), after, limit, out, n)
WRAP(event_find,
     (int64_t after, const hitl_event_filter *f, size_t limit, hitl_event **out, size_t *n),
     after, f, limit, out, n)
WRAP(token_insert,
     (const char *name, const uint8_t hash[HITL_HASH_LEN], const char *roles, int64_t now), name,
     hash, roles, now)
WRAP(token_find, (const uint8_t hash[HITL_HASH_LEN], hitl_token_row *out), hash, out)
WRAP(token_revoke, (const char *name), name)
WRAP(token_list, (hitl_token_row **out, size_t *n), out, n)
WRAP(changes_publish, (const char *text), text)
WRAP(changes_wait, (int timeout_ms, char ***texts, size_t *n), timeout_ms, texts, n)
WRAP(delivery_insert, (hitl_delivery *d), d)
WRAP(delivery_due, (int64_t now, size_t limit, hitl_delivery **out, size_t *n), now, limit, out, n)
WRAP(delivery_next_due, (int64_t *at), at)
WRAP(delivery_update, (const hitl_delivery *d), d)
WRAP(delivery_list,
     (int64_t queue_id, int state, int64_t before_seq, size_t limit, hitl_delivery **out,
      size_t *n),
     queue_id, state, before_seq, limit, out, n)
WRAP(run_insert, (hitl_run *r), r)
WRAP(run_update, (const hitl_run *r), r)
WRAP(run_touch, (int64_t run_seq, int64_t at, int64_t due_at), run_seq, at, due_at)
WRAP(run_get, (const char *id, hitl_run *out), id, out)
WRAP(run_list, (int state, int64_t before_seq, size_t limit, hitl_run **out, size_t *n), state,
     before_seq, limit, out, n)
WRAP(run_due, (int64_t now, size_t limit, hitl_run **out, size_t *n), now, limit, out, n)
WRAP(run_next_due, (int64_t *at), at)
WRAP(run_step_insert, (hitl_run_step *st), st)
WRAP(run_step_list,
     (int64_t run_seq, int64_t before_seq, size_t limit, hitl_run_step **out, size_t *n), run_seq,
     before_seq, limit, out, n)
WRAP(run_command_insert, (const hitl_run_command *c), c)
WRAP(run_command_list,
     (int64_t run_seq, int64_t after, bool pending_only, size_t limit, hitl_run_command **out,
      size_t *n),
     run_seq, after, pending_only, limit, out, n)
WRAP(run_command_ack, (int64_t run_seq, int64_t seq, int64_t at), run_seq, seq, at)
WRAP(run_open_tasks, (const char *run_id, size_t limit, hitl_task **out, size_t *n), run_id, limit,
     out, n)

WRAP(delivery_take, (int64_t seq, int64_t now, int64_t hold_until, bool *taken), seq, now,
     hold_until, taken)
WRAP(delivery_get, (const char *id, hitl_delivery *out), id, out)
WRAP(calib_put, (const hitl_calib_row *r), r)
WRAP(calib_get, (int64_t task_seq, hitl_calib_row *out), task_seq, out)
WRAP(calib_list,
     (int64_t queue_id, int64_t after, size_t limit, hitl_calib_row **out, size_t *n), queue_id,
     after, limit, out, n)

WRAP(calib_tally_add, (int64_t queue_id, int64_t hour, int kind, int64_t n), queue_id, hour, kind,
     n)
WRAP(calib_tally_sum, (int64_t queue_id, int64_t since_hour, int64_t *sums, int n_kinds), queue_id,
     since_hour, sums, n_kinds)

WRAP(calib_snapshot_put, (const hitl_calib_snapshot *snap), snap)
WRAP(calib_snapshot_get, (int64_t queue_id, hitl_calib_snapshot *out), queue_id, out)

WRAP(pipeline, (bool on), on)

#define FAULT_FUNCTIONS 67 /* Every member of the vtable but version. */
_Static_assert(sizeof(hitl_store_vtable) ==
                   offsetof(hitl_store_vtable, close) + FAULT_FUNCTIONS * sizeof(void (*)(void)),
               "a store function was added: give it a wrapper in store/fault.c");

static const hitl_store_vtable fault_vtable = {
    .version = HITL_STORE_VERSION,
    .close = f_close,
    .begin = f_begin,
    .commit = f_commit,
    .rollback = f_rollback,
    .op_begin = f_op_begin,
    .op_end = f_op_end,
    .op_abort = f_op_abort,
    .queue_put = f_queue_put,
    .queue_get = f_queue_get,
    .queue_list = f_queue_list,
    .queue_stats = f_queue_stats,
    .queue_oldest_pending = f_queue_oldest_pending,
    .task_insert = f_task_insert,
    .task_update = f_task_update,
    .task_get = f_task_get,
    .task_get_idempotent = f_task_get_idempotent,
    .task_claim_next = f_task_claim_next,
    .task_scan = f_task_scan,
    .task_due = f_task_due,
    .task_next_due = f_task_next_due,
    .response_insert = f_response_insert,
    .response_list = f_response_list,
    .response_list_many = f_response_list_many,
    .response_exists = f_response_exists,
    .response_list_by_reviewer = f_response_list_by_reviewer,
    .response_count_by_reviewer = f_response_count_by_reviewer,
    .task_count_by_reviewer = f_task_count_by_reviewer,
    .reviewer_activity = f_reviewer_activity,
    .event_last = f_event_last,
    .event_head = f_event_head,
    .event_insert = f_event_insert,
    .event_list = f_event_list,
    .event_find = f_event_find,
    .token_insert = f_token_insert,
    .token_find = f_token_find,
    .token_revoke = f_token_revoke,
    .token_list = f_token_list,
    .changes_publish = f_changes_publish,
    .changes_wait = f_changes_wait,
    .delivery_insert = f_delivery_insert,
    .delivery_due = f_delivery_due,
    .delivery_next_due = f_delivery_next_due,
    .delivery_update = f_delivery_update,
    .delivery_list = f_delivery_list,
    .run_insert = f_run_insert,
    .run_update = f_run_update,
    .run_touch = f_run_touch,
    .run_get = f_run_get,
    .run_list = f_run_list,
    .run_due = f_run_due,
    .run_next_due = f_run_next_due,
    .run_step_insert = f_run_step_insert,
    .run_step_list = f_run_step_list,
    .run_command_insert = f_run_command_insert,
    .run_command_list = f_run_command_list,
    .run_command_ack = f_run_command_ack,
    .run_open_tasks = f_run_open_tasks,
    .delivery_take = f_delivery_take,
    .delivery_get = f_delivery_get,
    .calib_put = f_calib_put,
    .calib_get = f_calib_get,
    .calib_list = f_calib_list,
    .calib_tally_add = f_calib_tally_add,
    .calib_tally_sum = f_calib_tally_sum,
    .calib_snapshot_put = f_calib_snapshot_put,
    .calib_snapshot_get = f_calib_snapshot_get,
    .pipeline = f_pipeline,
};

hitl_store *hitl__store_fault_wrap(hitl_store *backend) {
  fault_store *f = hitl_xcalloc(1, sizeof *f);
  f->base.vt = &fault_vtable;
  f->inner = backend;
  return &f->base;
}

hitl_store *hitl__store_fault_on_open(hitl_store *backend) {
  read_env();
  return atomic_load(&wrap_opened) ? hitl__store_fault_wrap(backend) : backend;
}

void hitl__store_fault_wrap_opened(bool on) {
  read_env();
  atomic_store(&wrap_opened, on);
}

void hitl__store_fault_arm(long nth, bool persistent) {
  atomic_store(&countdown, 0);
  atomic_store(&failing, false);
  atomic_store(&fired, false);
  atomic_store(&persist, persistent);
  atomic_store(&fired_in, (const char *)NULL);
  atomic_store(&calls, 0);
  atomic_store(&countdown, nth > 0 ? nth : 0);
}

void hitl__store_fault_disarm(hitl_store_fault_report *out) {
  atomic_store(&countdown, 0);
  atomic_store(&failing, false);
  if (out == NULL) return;
  out->calls = atomic_load(&calls);
  out->fired = atomic_load(&fired);
  out->function = atomic_load(&fired_in);
}
