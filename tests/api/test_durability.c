/* SPDX-License-Identifier: MIT */
/* Crash tests: load from several clients, stop the server mid-stream, restart, and check that
 * nothing acknowledged was lost, nothing was done twice and held leases came back. */
#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"
#include "load.h"

#define N_SUBMITTERS 2
#define N_REVIEWERS 2
#define N_CLIENTS (N_SUBMITTERS + N_REVIEWERS)
#define HOLD_EVERY 8          /* Every 8th claim of a reviewer is left unanswered on purpose. */
#define LOAD_MAX_MS 8000      /* The load runs until enough is acknowledged or this long. */
#define ENOUGH_SUBMITS 200
#define ENOUGH_APPROVES 60
#define ENOUGH_HOLDS 3
#define LEASE_SECONDS 5

/* Under SIGKILL every commit waits this long first (HITL_TEST_COMMIT_DELAY_MS, the store's fault
 * shim), and the kill follows an acknowledgement at once: an answer sent before its commit is
 * then surely lost, and the checks below see it. Without the wait the commit follows such an
 * answer within microseconds and the kill almost never lands in between. */
#define COMMIT_DELAY_MS "20"

static const char crash_queue[] =
    "{\"schema\":{\"fields\":[{\"name\":\"key\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"policy\":{\"rules\":[{\"name\":\"everything\",\"then\":{\"action\":\"review\"}}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":5}}";

/* Waits 100 ms between two looks at a condition (never in place of looking). */
static void pause_between_polls(void) {
  struct timespec ts = {0, 100 * 1000 * 1000};
  nanosleep(&ts, NULL);
}

/* The body of the task submitted under key: the same key always gives the same body. */
static void task_body(const char *key, int priority, char *out, size_t cap) {
  snprintf(out, cap,
           "{\"input\":{\"key\":\"%s\"},\"output\":{\"label\":\"ok\"},\"confidence\":0.5,"
           "\"priority\":%d,\"idempotency_key\":\"%s\"}",
           key, priority, key);
}

/* ---- the load clients ----------------------------------------------------------------- */

/* Submits tasks with unique idempotency keys; reports "S id key" for each one acknowledged. */
static void submitter_main(load_client *c, void *arg) {
  (void)arg;
  int64_t start = load_mono_ms();
  for (int i = 0; i < LOAD_CLIENT_MAX_OPS && load_mono_ms() - start < LOAD_CLIENT_MAX_MS; i++) {
    char key[64], body[512];
    snprintf(key, sizeof key, "%s-%d", c->name, i);
    task_body(key, 0, body, sizeof body);
    json_t *r = NULL;
    long st = load_send(c, "POST", "/v1/queues/crash/tasks", body, &r);
    if (load_stopped(c, st)) return;
    if (st == 201 || st == 200)
      load_report(c, "S %s %s", load_jstr(r, "id", NULL), key);
    else
      load_report(c, "E %s %ld", c->name, st);
    json_decref(r);
  }
  load_report(c, "X %s cap", c->name);
}

/* ---- what the clients saw acknowledged -------------------------------------------------- */

/* True when every acknowledged claim of task was held on purpose (so no answer was ever sent)
 * and there is at least one. */
static bool only_held(const load_ledger *l, const char *task) {
  size_t claims = 0, holds = 0;
  for (size_t i = 0; i < l->n; i++) {
    if (strcmp(l->v[i].a, task) != 0) continue;
    if (l->v[i].kind == 'C') claims++;
    if (l->v[i].kind == 'H') holds++;
  }
  return claims > 0 && claims == holds;
}

/* ---- what the event log says, per task -------------------------------------------------- */

typedef struct task_events {
  char id[LOAD_ID_MAX];
  int submitted, leased, decided, lease_expired;
  char decided_by_actor[32];
} task_events;

typedef struct event_log {
  task_events *tasks; /* Sorted by id. */
  size_t n;
  int64_t last_seq;
  int64_t mid_seq;    /* A seq in the middle of the log, for the tamper test. */
} event_log;

static int by_id(const void *a, const void *b) {
  return strcmp(((const task_events *)a)->id, ((const task_events *)b)->id);
}

static task_events *events_of(const event_log *log, const char *task) {
  task_events key;
  snprintf(key.id, sizeof key.id, "%s", task);
  return bsearch(&key, log->tasks, log->n, sizeof *log->tasks, by_id);
}

/* Pages through GET /v1/events and counts, per task, the events that matter here. */
static void event_log_read(test_server *s, event_log *log) {
  memset(log, 0, sizeof *log);
  json_t *all = json_array();
  for (int64_t after = 0;;) {
    char path[96];
    snprintf(path, sizeof path, "/v1/events?after=%lld&limit=1000", (long long)after);
    test_resp r;
    assert_int_equal(tr(s, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
    json_t *evs = json_object_get(r.json, "events");
    size_t n = json_array_size(evs);
    for (size_t i = 0; i < n; i++) {
      json_t *e = json_array_get(evs, i);
      int64_t seq = json_integer_value(json_object_get(e, "seq"));
      assert_int_equal(seq, after + 1); /* No gap in the log. */
      after = seq;
      json_array_append(all, e);
    }
    tr_free(&r);
    if (n == 0) break;
  }
  log->last_seq = (int64_t)json_array_size(all);
  log->mid_seq = log->last_seq / 2;
  /* Pass 1: one entry per submitted task. */
  size_t cap = json_array_size(all) + 1;
  log->tasks = calloc(cap, sizeof *log->tasks);
  assert_non_null(log->tasks);
  size_t i;
  json_t *e;
  json_array_foreach(all, i, e) {
    if (strcmp(load_jstr(e, "type", NULL), "task.submitted") != 0) continue;
    task_events *t = &log->tasks[log->n++];
    snprintf(t->id, sizeof t->id, "%s", load_jstr(e, "task_id", NULL));
  }
  qsort(log->tasks, log->n, sizeof *log->tasks, by_id);
  /* Pass 2: count. */
  json_array_foreach(all, i, e) {
    const char *type = load_jstr(e, "type", NULL), *task = load_jstr(e, "task_id", NULL);
    if (task[0] == '\0') continue;
    task_events *t = events_of(log, task);
    assert_non_null(t); /* Every task event follows the task's own submission. */
    if (strcmp(type, "task.submitted") == 0) {
      t->submitted++;
    } else if (strcmp(type, "task.leased") == 0) {
      t->leased++;
    } else if (strcmp(type, "task.lease_expired") == 0) {
      t->lease_expired++;
    } else if (strcmp(type, "task.decided") == 0) {
      t->decided++;
      snprintf(t->decided_by_actor, sizeof t->decided_by_actor, "%s", load_jstr(e, "actor", NULL));
    }
  }
  json_decref(all);
}

/* ---- the scenario ---------------------------------------------------------------------- */

static void get_task(test_server *s, const char *id, test_resp *r) {
  char path[96];
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  long st = tr(s, "GET", path, ADMIN_TOKEN, NULL, r);
  if (st != 200) fail_msg("GET task %s: %ld %s", id, st, r->body);
}

static long long queue_count(test_server *s, const char *state) {
  test_resp r;
  assert_int_equal(tr(s, "GET", "/v1/queues/crash", ADMIN_TOKEN, NULL, &r), 200);
  char path[64];
  snprintf(path, sizeof path, "counts.%s", state);
  long long n = tj_int(&r, path);
  tr_free(&r);
  return n;
}

/* Claims and approves as reviewer until the queue is empty; returns the ids it decided. */
static json_t *drain(test_server *s, const char *reviewer, size_t bound) {
  json_t *ids = json_array();
  for (size_t i = 0; i < bound; i++) {
    test_resp r;
    long st = tr(s, "POST", "/v1/queues/crash/claim", reviewer, NULL, &r);
    if (st == 204) {
      tr_free(&r);
      return ids;
    }
    if (st != 200) fail_msg("drain claim: %ld %s", st, r.body);
    char path[96], body[160];
    snprintf(path, sizeof path, "/v1/tasks/%s/responses", tj_str(&r, "id"));
    snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}",
             tj_str(&r, "lease.id"));
    json_array_append_new(ids, json_string(tj_str(&r, "id")));
    tr_free(&r);
    st = tr(s, "POST", path, reviewer, body, &r);
    if (st != 200) fail_msg("drain approve: %ld %s", st, r.body);
    assert_string_equal(tj_str(&r, "state"), "decided");
    tr_free(&r);
  }
  fail_msg("the queue did not empty within %zu claims", bound);
  return ids;
}

static bool id_in(const json_t *ids, const char *id) {
  size_t i;
  json_t *v;
  json_array_foreach(ids, i, v) if (strcmp(json_string_value(v), id) == 0) return true;
  return false;
}

/* Fails, naming it, when the acknowledged write a is not in the server: a submit's task, an
 * approval's response or a claim's lease event. */
static void assert_acknowledged(test_server *s, const load_ack *a) {
  char path[160];
  const char *type = a->kind == 'S' ? "task.submitted" : a->kind == 'A' ? "task.decided"
                                                                          : "task.leased";
  snprintf(path, sizeof path, "/v1/events?task_id=%s&type=%s&limit=100", a->a, type);
  test_resp r;
  assert_int_equal(tr(s, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  bool found = false;
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(r.json, "events"), i, e) {
    const char *data = json_dumps(json_object_get(e, "data"), JSON_COMPACT);
    /* A claim is found by its own lease: an earlier lease of the task does not count. */
    found = found || a->kind != 'C' || (data && strstr(data, a->b) != NULL);
    free((void *)data);
  }
  if (!found)
    fail_msg("acknowledged but lost after the crash: %c %s %s %s (no %s event)", a->kind, a->a,
             a->b, a->c, type);
  tr_free(&r);
}

/* Runs the load, stops the server with sig while the clients are sending, restarts it and checks
 * every acknowledged write. Leaves the server stopped (SIGTERM) with its directory in place. */
/* The load is about durability, not rate limits: a reviewer that finds nothing to claim asks
 * again within a millisecond and could pass --rate-limit's default on a fast machine. */
static const char *const no_rate_limit[] = {"--rate-limit", "0", NULL};

static void crash_scenario(test_server *s, int sig) {
  if (sig == SIGKILL) setenv("HITL_TEST_COMMIT_DELAY_MS", COMMIT_DELAY_MS, 1);
  ts_start(s, no_rate_limit);
  unsetenv("HITL_TEST_COMMIT_DELAY_MS");
  char *agent = ts_token(s, "agent", "agent");
  char *holder = ts_token(s, "holder", "validator");
  char *late = ts_token(s, "late", "validator");
  char *tokens[N_CLIENTS];
  char names[N_CLIENTS][16];
  for (int i = 0; i < N_CLIENTS; i++) {
    bool reviewer = i >= N_SUBMITTERS;
    snprintf(names[i], sizeof names[i], "%s%d", reviewer ? "rev" : "sub", i);
    tokens[i] = ts_token(s, names[i], reviewer ? "validator" : "agent");
  }
  test_resp r;
  assert_int_equal(tr(s, "PUT", "/v1/queues/crash", ADMIN_TOKEN, crash_queue, &r), 201);
  tr_free(&r);

  /* ---- load ---- */
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  load_reviewer_arg reviewing = {.queue = "crash", .hold_every = HOLD_EVERY};
  pid_t kids[N_CLIENTS];
  for (int i = 0; i < N_CLIENTS; i++)
    kids[i] = load_start(s->port, fds[1], names[i], tokens[i],
                         i >= N_SUBMITTERS ? load_reviewer_main : submitter_main,
                         i >= N_SUBMITTERS ? (void *)&reviewing : NULL);
  close(fds[1]);
  load_ledger l = {0};
  int64_t start = load_mono_ms();
  while (load_mono_ms() - start < LOAD_MAX_MS &&
         !(l.count['S'] >= ENOUGH_SUBMITS && l.count['A'] >= ENOUGH_APPROVES &&
           l.count['H'] >= ENOUGH_HOLDS))
    assert_true(load_ledger_read(&l, fds[0], 100)); /* The clients are still running. */

  /* One lease taken just before the stop, so that one is surely held at the crash. */
  char held_task[LOAD_ID_MAX] = "", held_lease[LOAD_ID_MAX] = "";
  int64_t held_at = 0;
  for (int i = 0; i < 50 && held_task[0] == '\0'; i++) {
    char key[32], body[512];
    snprintf(key, sizeof key, "holder-%d", i);
    task_body(key, 100, body, sizeof body);
    long st = tr(s, "POST", "/v1/queues/crash/tasks", agent, body, &r);
    if (st != 201) fail_msg("holder submit: %ld %s", st, r.body);
    load_ledger_add(&l, 'S', tj_str(&r, "id"), key, NULL);
    tr_free(&r);
    st = tr(s, "POST", "/v1/queues/crash/claim", holder, NULL, &r);
    if (st == 200) {
      snprintf(held_task, sizeof held_task, "%s", tj_str(&r, "id"));
      snprintf(held_lease, sizeof held_lease, "%s", tj_str(&r, "lease.id"));
      held_at = load_mono_ms();
      load_ledger_add(&l, 'C', held_task, held_lease, "holder");
      load_ledger_add(&l, 'H', held_task, held_lease, "holder");
    }
    tr_free(&r);
  }
  assert_true(held_task[0] != '\0');

  load_stop(s, sig); /* Mid-stream: the clients are sending. */
  load_finish(&l, fds[0], kids, N_CLIENTS);
  fprintf(stderr, "load (signal %d): %zu submits, %zu claims, %zu approvals, %zu held; "
                  "clients stopped by: %d connection errors, %d 503s\n",
          sig, l.count['S'], l.count['C'], l.count['A'], l.count['H'], l.stopped_conn,
          l.stopped_503);
  /* Every client was still sending when the server went away. */
  assert_int_equal(l.stopped_conn + l.stopped_503, N_CLIENTS);
  assert_int_equal(l.stopped_cap, 0);
  assert_true(l.count['S'] >= 20 && l.count['A'] >= 5 && l.count['H'] >= 1);

  /* The chain is intact on the file the crash left behind. */
  char out[1024];
  assert_int_equal(ts_audit_verify(s->db, out, sizeof out), 0);
  assert_non_null(strstr(out, "intact"));

  /* ---- restart ---- */
  ts_start(s, no_rate_limit);
  /* First of all, nothing acknowledged is lost: every write a client saw acknowledged (recorded
   * the moment its answer arrived) is in the restarted server. */
  for (size_t i = 0; i < l.n; i++) {
    const load_ack *a = &l.v[i];
    if (a->kind == 'S' || a->kind == 'A' || a->kind == 'C') assert_acknowledged(s, a);
  }
  get_task(s, held_task, &r);
  if (load_mono_ms() - held_at < (LEASE_SECONDS - 1) * 1000) {
    /* The lease taken just before the stop survived it. */
    assert_string_equal(tj_str(&r, "state"), "leased");
    assert_string_equal(tj_str(&r, "lease.id"), held_lease);
    assert_string_equal(tj_str(&r, "lease.owner"), "holder");
  }
  tr_free(&r);

  /* Every acknowledged submit is there, with its body; every acknowledged approval is there, as
   * the one response and the human decision of its task. */
  for (size_t i = 0; i < l.n; i++) {
    const load_ack *a = &l.v[i];
    if (a->kind == 'S') {
      get_task(s, a->a, &r);
      assert_string_equal(tj_str(&r, "input.key"), a->b);
      assert_string_equal(tj_str(&r, "idempotency_key"), a->b);
      tr_free(&r);
    } else if (a->kind == 'A') {
      get_task(s, a->a, &r);
      assert_string_equal(tj_str(&r, "state"), "decided");
      assert_string_equal(tj_str(&r, "decision.by"), "human");
      assert_string_equal(tj_str(&r, "decision.outcome"), "approve");
      assert_int_equal(json_array_size(json_object_get(r.json, "responses")), 1);
      assert_string_equal(tj_str(&r, "responses.0.reviewer"), a->c);
      assert_string_equal(tj_str(&r, "responses.0.kind"), "approve");
      tr_free(&r);
    }
  }
  /* And no client saw a wrong answer during the load. */
  assert_int_equal(l.errors, 0);

  /* Leases held at the crash run out and give their tasks back: wait on that, bounded. */
  int64_t wait_until = load_mono_ms() + 30000;
  while (queue_count(s, "leased") != 0) {
    assert_true(load_mono_ms() < wait_until);
    pause_between_polls();
  }
  for (size_t i = 0; i < l.n; i++) {
    const load_ack *a = &l.v[i];
    if (a->kind != 'C') continue;
    if (!load_ledger_has(&l, 'A', a->a)) {
      get_task(s, a->a, &r);
      const char *state = tj_str(&r, "state");
      size_t n = json_array_size(json_object_get(r.json, "responses"));
      if (only_held(&l, a->a)) {
        /* Never answered: back to pending, with no response. */
        assert_string_equal(state, "pending");
        assert_int_equal(n, 0);
      } else {
        /* An approval was sent but not acknowledged: either it is in, or not at all. */
        assert_true((strcmp(state, "pending") == 0 && n == 0) ||
                    (strcmp(state, "decided") == 0 && n == 1));
      }
      tr_free(&r);
    }
    /* No lease taken before the stop can answer any more: used, or run out. */
    char path[96], body[160];
    snprintf(path, sizeof path, "/v1/tasks/%s/responses", a->a);
    snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", a->b);
    const char *owner = strcmp(a->c, "holder") == 0 ? holder : tokens[a->c[3] - '0'];
    assert_int_equal(tr(s, "POST", path, owner, body, &r), 409);
    tr_free(&r);
  }

  /* Another reviewer now gets every task given back, and decides them all. */
  event_log log;
  event_log_read(s, &log);
  if (sig == SIGTERM) {
    /* A clean stop answers every write it committed: what is stored is what was acknowledged. */
    int leased = 0, decided = 0;
    for (size_t i = 0; i < log.n; i++) {
      leased += log.tasks[i].leased;
      decided += log.tasks[i].decided;
    }
    assert_int_equal(log.n, l.count['S']);
    assert_int_equal(leased, l.count['C']);
    assert_int_equal(decided, l.count['A']);
  }
  json_t *drained = drain(s, late, log.n + 10);
  for (size_t i = 0; i < l.n; i++)
    if (l.v[i].kind == 'H' && only_held(&l, l.v[i].a)) assert_true(id_in(drained, l.v[i].a));
  json_decref(drained);
  free(log.tasks);

  /* Resubmitting an acknowledged key gives the same task, not a second one. Keys belong to the
   * token that submitted them: "subN-..." keys to client N, the others to the agent. */
  for (size_t i = 0; i < l.n; i++) {
    const load_ack *a = &l.v[i];
    if (a->kind != 'S') continue;
    char body[512];
    task_body(a->b, strncmp(a->b, "holder-", 7) == 0 ? 100 : 0, body, sizeof body);
    const char *submitter = agent;
    int client = -1;
    if (sscanf(a->b, "sub%d-", &client) == 1 && client >= 0 && client < N_SUBMITTERS)
      submitter = tokens[client];
    long st = tr(s, "POST", "/v1/queues/crash/tasks", submitter, body, &r);
    if (st != 200) fail_msg("resubmit %s: %ld %s", a->b, st, r.body);
    assert_string_equal(tj_str(&r, "id"), a->a);
    assert_string_equal(tj_str(&r, "state"), "decided");
    tr_free(&r);
  }

  /* No task was submitted or decided twice, and every task is decided exactly once. */
  event_log_read(s, &log);
  assert_true(log.n >= l.count['S']);
  for (size_t i = 0; i < log.n; i++) {
    const task_events *t = &log.tasks[i];
    assert_int_equal(t->submitted, 1);
    if (t->decided != 1) fail_msg("task %s was decided %d times", t->id, t->decided);
  }
  for (size_t i = 0; i < l.n; i++) {
    const load_ack *a = &l.v[i];
    const task_events *t = events_of(&log, a->a);
    assert_non_null(t);
    if (a->kind == 'A') assert_string_equal(t->decided_by_actor, a->c);
    if (a->kind == 'H' && only_held(&l, a->a)) {
      assert_true(t->lease_expired >= 1);
      assert_string_equal(t->decided_by_actor, "late");
    }
  }
  /* The live counts agree with the log. */
  assert_int_equal(queue_count(s, "pending"), 0);
  assert_int_equal(queue_count(s, "leased"), 0);
  assert_int_equal(queue_count(s, "decided"), (long long)log.n);
  free(log.tasks);

  /* A clean stop keeps the chain intact too. */
  load_stop(s, SIGTERM);
  assert_int_equal(ts_audit_verify(s->db, out, sizeof out), 0);
  assert_non_null(strstr(out, "intact"));

  load_ledger_free(&l);
  for (int i = 0; i < N_CLIENTS; i++) free(tokens[i]);
  free(agent);
  free(holder);
  free(late);
}

/* Each test's server: the teardown stops it and removes its directory, also after a failure (the
 * load clients then see their connection fail and end). */
static test_server srv;

static int fresh_server(void **state) {
  (void)state;
  memset(&srv, 0, sizeof srv);
  return 0;
}

static int remove_server(void **state) {
  (void)state;
  ts_cleanup(&srv);
  return 0;
}

static void test_sigkill_mid_stream_loses_nothing(void **state) {
  (void)state;
  crash_scenario(&srv, SIGKILL);
}

static void test_sigterm_mid_stream_loses_nothing(void **state) {
  (void)state;
  crash_scenario(&srv, SIGTERM);
}

/* ---- tampering ------------------------------------------------------------------------- */

static void copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb");
  if (in == NULL) return; /* No such file: nothing to copy (e.g. no WAL left). */
  FILE *out = fopen(to, "wb");
  assert_non_null(out);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, in)) > 0) assert_int_equal(fwrite(buf, 1, n, out), n);
  fclose(in);
  assert_int_equal(fclose(out), 0);
}

/* Copies the database (and its WAL when there is one) to dir/name. */
static void copy_db(const test_server *s, const char *name, char *out, size_t cap) {
  snprintf(out, cap, "%s/%s", s->dir, name);
  copy_file(s->db, out);
  char from[400], to[400];
  snprintf(from, sizeof from, "%s-wal", s->db);
  snprintf(to, sizeof to, "%s-wal", out);
  copy_file(from, to);
}

static void sql(const char *db, const char *statement) {
  sqlite3 *h = NULL;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  char *msg = NULL;
  if (sqlite3_exec(h, statement, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s: %s", statement, msg);
  assert_int_equal(sqlite3_changes(h), 1);
  assert_int_equal(sqlite3_close(h), SQLITE_OK);
}

static void test_audit_names_the_altered_event(void **state) {
  (void)state;
  ts_start(&srv, NULL);
  char *agent = ts_token(&srv, "agent", "agent");
  char *rev = ts_token(&srv, "rev", "validator");
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/crash", ADMIN_TOKEN, crash_queue, &r), 201);
  tr_free(&r);
  for (int i = 0; i < 6; i++) {
    char key[16], body[512];
    snprintf(key, sizeof key, "t-%d", i);
    task_body(key, 0, body, sizeof body);
    assert_int_equal(tr(&srv, "POST", "/v1/queues/crash/tasks", agent, body, &r), 201);
    tr_free(&r);
  }
  json_decref(drain(&srv, rev, 20));
  event_log log;
  event_log_read(&srv, &log);
  free(log.tasks);
  assert_true(log.last_seq >= 18);
  load_stop(&srv, SIGTERM);

  char out[1024], db[400], stmt[256];
  assert_int_equal(ts_audit_verify(srv.db, out, sizeof out), 0);
  char expect[64];
  snprintf(expect, sizeof expect, "intact: %lld events", (long long)log.last_seq);
  assert_non_null(strstr(out, expect));

  /* One event's data changed: that event no longer matches its hash. */
  long long k = (long long)log.mid_seq;
  copy_db(&srv, "altered.db", db, sizeof db);
  snprintf(stmt, sizeof stmt,
           "UPDATE events SET data = '{\"by\":\"someone else\"}' WHERE seq = %lld", k);
  sql(db, stmt);
  assert_int_equal(ts_audit_verify(db, out, sizeof out), 1);
  snprintf(expect, sizeof expect, "broken: event %lld:", k);
  if (strstr(out, expect) == NULL) fail_msg("expected \"%s\" in: %s", expect, out);
  assert_non_null(strstr(out, "altered"));

  /* One event's actor changed, in the last event: the end of the chain is covered too. */
  copy_db(&srv, "actor.db", db, sizeof db);
  snprintf(stmt, sizeof stmt, "UPDATE events SET actor = 'mallory' WHERE seq = %lld",
           (long long)log.last_seq);
  sql(db, stmt);
  assert_int_equal(ts_audit_verify(db, out, sizeof out), 1);
  snprintf(expect, sizeof expect, "broken: event %lld:", (long long)log.last_seq);
  assert_non_null(strstr(out, expect));

  /* One event removed: the gap is named. */
  copy_db(&srv, "gap.db", db, sizeof db);
  snprintf(stmt, sizeof stmt, "DELETE FROM events WHERE seq = %lld", k + 1);
  sql(db, stmt);
  assert_int_equal(ts_audit_verify(db, out, sizeof out), 1);
  snprintf(expect, sizeof expect, "broken: event %lld: event %lld is missing", k + 1, k + 1);
  if (strstr(out, expect) == NULL) fail_msg("expected \"%s\" in: %s", expect, out);

  /* The original was not touched by any of this. */
  assert_int_equal(ts_audit_verify(srv.db, out, sizeof out), 0);
  /* A file that does not exist is an error, not an empty intact log. */
  snprintf(db, sizeof db, "%s/missing.db", srv.dir);
  assert_int_equal(ts_audit_verify(db, out, sizeof out), 1);

  free(agent);
  free(rev);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sigkill_mid_stream_loses_nothing, fresh_server,
                                      remove_server),
      cmocka_unit_test_setup_teardown(test_sigterm_mid_stream_loses_nothing, fresh_server,
                                      remove_server),
      cmocka_unit_test_setup_teardown(test_audit_names_the_altered_event, fresh_server,
                                      remove_server),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
