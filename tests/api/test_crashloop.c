/* SPDX-License-Identifier: MIT */
/* The crash loop: mixed load (submit, batch, claim, respond, queue put, token create) from
 * several clients, SIGKILL at a random moment right after an acknowledgement, restart; each time
 * every acknowledged write must be there, no task decided twice, the live counts equal to the
 * database and `hitl audit verify` passing. HITL_CRASHLOOP_ROUNDS kills (default 5; `make
 * crashloop` runs 50), HITL_CRASHLOOP_SEED repeats a run. */
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

#define DEFAULT_ROUNDS 5
#define N_CLIENTS 5
#define HOLD_EVERY 8          /* Every 8th claim is kept unanswered. */
#define BATCH 5
#define KILL_MIN_MS 100       /* The kill comes this long after the clients start, at least, */
#define KILL_SPAN_MS 1400     /* plus a random part of this, at the next acknowledgement. */
#define COMMIT_DELAY_MS "10"  /* Odd rounds: commits wait this long (see test_durability.c). */

static const char queue_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"key\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"policy\":{\"rules\":[{\"name\":\"everything\",\"then\":{\"action\":\"review\"}}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":3600}}";

/* ---- the clients: each reports what was acknowledged, the moment the answer arrives ---- */

typedef struct client_arg {
  int round;
} client_arg;

static bool ended(load_client *c, long st, json_t *r) {
  if (load_stopped(c, st)) {
    json_decref(r);
    return true;
  }
  return false;
}

static void task_body(const char *key, char *out, size_t cap) {
  snprintf(out, cap, "{\"input\":{\"key\":\"%s\"},\"idempotency_key\":\"%s\"}", key, key);
}

/* "S id key" per acknowledged task. */
static void submitter_main(load_client *c, void *arg) {
  const client_arg *a = arg;
  int64_t start = load_mono_ms();
  for (int i = 0; load_mono_ms() - start < LOAD_CLIENT_MAX_MS; i++) {
    char key[64], body[256];
    snprintf(key, sizeof key, "r%d-s%d", a->round, i);
    task_body(key, body, sizeof body);
    json_t *r = NULL;
    long st = load_send(c, "POST", "/v1/queues/crash/tasks", body, &r);
    if (ended(c, st, r)) return;
    if (st == 201)
      load_report(c, "S %s %s", load_jstr(r, "id", NULL), key);
    else
      load_report(c, "E %s submit %ld", c->name, st);
    json_decref(r);
  }
  load_report(c, "X %s cap", c->name);
}

/* "S id key" per task of an acknowledged batch. */
static void batcher_main(load_client *c, void *arg) {
  const client_arg *a = arg;
  int64_t start = load_mono_ms();
  for (int i = 0; load_mono_ms() - start < LOAD_CLIENT_MAX_MS; i++) {
    char body[2048] = "{\"tasks\":[", keys[BATCH][64];
    for (int k = 0; k < BATCH; k++) {
      char one[256];
      snprintf(keys[k], sizeof keys[k], "r%d-b%d-%d", a->round, i, k);
      task_body(keys[k], one, sizeof one);
      snprintf(body + strlen(body), sizeof body - strlen(body), "%s%s", k ? "," : "", one);
    }
    strcat(body, "]}");
    json_t *r = NULL;
    long st = load_send(c, "POST", "/v1/queues/crash/tasks/batch", body, &r);
    if (ended(c, st, r)) return;
    json_t *tasks = json_object_get(r, "tasks");
    if (st == 201 && json_array_size(tasks) == BATCH) {
      for (int k = 0; k < BATCH; k++)
        load_report(c, "S %s %s", load_jstr(json_array_get(tasks, (size_t)k), "id", NULL), keys[k]);
    } else {
      load_report(c, "E %s batch %ld", c->name, st);
    }
    json_decref(r);
  }
  load_report(c, "X %s cap", c->name);
}

/* Alternately "Q name" per queue put and "T name" per token created. */
static void admin_main(load_client *c, void *arg) {
  const client_arg *a = arg;
  int64_t start = load_mono_ms();
  for (int i = 0; load_mono_ms() - start < LOAD_CLIENT_MAX_MS; i++) {
    char name[64], path[128], body[256];
    json_t *r = NULL;
    long st;
    if (i % 2 == 0) {
      snprintf(name, sizeof name, "r%d-q%d", a->round, i);
      snprintf(path, sizeof path, "/v1/queues/%s", name);
      st = load_send(c, "PUT", path, queue_config, &r);
    } else {
      snprintf(name, sizeof name, "r%d-t%d", a->round, i);
      snprintf(body, sizeof body, "{\"name\":\"%s\",\"roles\":[\"agent\"]}", name);
      st = load_send(c, "POST", "/v1/tokens", body, &r);
    }
    if (ended(c, st, r)) return;
    if (st == 201)
      load_report(c, "%c %s", i % 2 == 0 ? 'Q' : 'T', name);
    else
      load_report(c, "E %s %s %ld", c->name, name, st);
    json_decref(r);
  }
  load_report(c, "X %s cap", c->name);
}

/* ---- the checks ---- */

/* Every acknowledged write of the ledger is in the database (read beside the running server). */
static void assert_all_there(const char *db, const load_ledger *l, size_t from, int round) {
  sqlite3 *h = NULL;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  static const char *const sql[128] = {
      ['S'] = "SELECT count(*) FROM tasks WHERE id = ?1 AND idempotency_key = ?2",
      ['C'] = "SELECT count(*) FROM events WHERE type = 'task.leased' AND task_id = ?1 AND "
              "instr(data, ?2) > 0",
      ['H'] = "SELECT count(*) FROM events WHERE type = 'task.leased' AND task_id = ?1 AND "
              "instr(data, ?2) > 0",
      ['A'] = "SELECT count(*) FROM tasks t JOIN responses r ON r.task_seq = t.seq WHERE t.id = "
              "?1 AND t.state = 2 AND t.decided_by = 'human' AND r.reviewer = ?3",
      ['Q'] = "SELECT count(*) FROM queues WHERE name = ?1",
      ['T'] = "SELECT count(*) FROM tokens WHERE name = ?1",
  };
  sqlite3_stmt *st[128] = {0};
  for (size_t i = from; i < l->n; i++) {
    const load_ack *a = &l->v[i];
    unsigned k = (unsigned char)a->kind;
    if (sql[k] == NULL) fail_msg("unknown acknowledgement %c", a->kind);
    if (st[k] == NULL) assert_int_equal(sqlite3_prepare_v2(h, sql[k], -1, &st[k], NULL), SQLITE_OK);
    sqlite3_bind_text(st[k], 1, a->a, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st[k]) >= 2) sqlite3_bind_text(st[k], 2, a->b, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(st[k]) >= 3) sqlite3_bind_text(st[k], 3, a->c, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st[k]), SQLITE_ROW);
    if (sqlite3_column_int64(st[k], 0) < 1)
      fail_msg("round %d: acknowledged but lost after the crash: %c %s %s %s", round, a->kind, a->a,
               a->b, a->c);
    sqlite3_reset(st[k]);
  }
  for (size_t k = 0; k < 128; k++) sqlite3_finalize(st[k]);
  sqlite3_close(h);
}

/* No task decided twice or answered more than once (overlap 1); the live counts are the
 * database's. */
static void assert_consistent(test_server *s, int round) {
  long long twice = load_sql_count(s->db, "SELECT count(*) FROM (SELECT task_id FROM events WHERE type "
                                     "= 'task.decided' GROUP BY task_id HAVING count(*) > 1)");
  if (twice) fail_msg("round %d: %lld tasks decided twice", round, twice);
  long long answered = load_sql_count(s->db, "SELECT count(*) FROM (SELECT task_seq FROM responses "
                                        "GROUP BY task_seq HAVING count(*) > 1)");
  if (answered) fail_msg("round %d: %lld tasks answered twice", round, answered);
  long long undecided = load_sql_count(s->db, "SELECT count(*) FROM tasks t WHERE state = 2 AND NOT "
                                         "EXISTS (SELECT 1 FROM events e WHERE e.task_id = t.id "
                                         "AND e.type = 'task.decided')");
  if (undecided) fail_msg("round %d: %lld decided tasks without their event", round, undecided);
  test_resp r;
  assert_int_equal(tr(s, "GET", "/v1/queues/crash", ADMIN_TOKEN, NULL, &r), 200);
  static const char *const states[] = {"pending", "leased", "decided"};
  for (int k = 0; k < 3; k++) {
    char path[64];
    snprintf(path, sizeof path, "counts.%s", states[k]);
    long long db = load_sql_count(s->db, "SELECT count(*) FROM tasks WHERE state = %d AND queue_id = "
                                    "(SELECT id FROM queues WHERE name = 'crash')", k);
    if (tj_int(&r, path) != db)
      fail_msg("round %d: %s counted %lld, the database holds %lld", round, states[k],
               tj_int(&r, path), db);
  }
  tr_free(&r);
}

static void assert_audit_intact(const char *db, int round) {
  char out[1024];
  int rc = ts_audit_verify(db, out, sizeof out);
  if (rc != 0 || strstr(out, "intact") == NULL)
    fail_msg("round %d: hitl audit verify exited %d: %s", round, rc, out);
}

/* ---- the loop ---- */

static test_server srv;

static int remove_server(void **state) {
  (void)state;
  ts_cleanup(&srv);
  return 0;
}

/* The load is about durability, not rate limits: a reviewer that finds nothing to claim asks
 * again within a millisecond and could pass --rate-limit's default on a fast machine. */
static const char *const no_rate_limit[] = {"--rate-limit", "0", NULL};

static void start_server(int round) {
  if (round % 2) setenv("HITL_TEST_COMMIT_DELAY_MS", COMMIT_DELAY_MS, 1);
  ts_start(&srv, no_rate_limit);
  unsetenv("HITL_TEST_COMMIT_DELAY_MS");
}

static void test_crash_loop(void **state) {
  (void)state;
  const char *v = getenv("HITL_CRASHLOOP_ROUNDS");
  int rounds = v && atoi(v) > 0 ? atoi(v) : DEFAULT_ROUNDS;
  v = getenv("HITL_CRASHLOOP_SEED");
  unsigned seed = v ? (unsigned)strtoul(v, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
  fprintf(stderr, "crash loop: %d rounds, HITL_CRASHLOOP_SEED=%u\n", rounds, seed);
  srand(seed);

  memset(&srv, 0, sizeof srv);
  start_server(0);
  char *tokens[N_CLIENTS];
  static const char *const names[N_CLIENTS] = {"sub", "batch", "rev0", "rev1", "orch"};
  static const char *const roles[N_CLIENTS] = {"agent", "agent", "validator", "validator",
                                               "orchestrator"};
  static const load_main_fn mains[N_CLIENTS] = {submitter_main, batcher_main,
                                                load_reviewer_main, load_reviewer_main, admin_main};
  for (int i = 0; i < N_CLIENTS; i++) tokens[i] = ts_token(&srv, names[i], roles[i]);
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/crash", ADMIN_TOKEN, queue_config, &r), 201);
  tr_free(&r);

  load_ledger l = {0};
  int64_t started = load_mono_ms();
  for (int round = 0; round < rounds; round++) {
    size_t from = l.n;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    client_arg arg = {.round = round};
    load_reviewer_arg reviewing = {.queue = "crash", .hold_every = HOLD_EVERY};
    pid_t kids[N_CLIENTS];
    for (int i = 0; i < N_CLIENTS; i++)
      kids[i] = load_start(srv.port, fds[1], names[i], tokens[i], mains[i],
                           mains[i] == load_reviewer_main ? (void *)&reviewing : &arg);
    close(fds[1]);

    /* At a random moment, at the next acknowledgement: kill. */
    int64_t round_start = load_mono_ms();
    int64_t kill_at = round_start + KILL_MIN_MS + rand() % KILL_SPAN_MS;
    while (load_mono_ms() < kill_at) assert_true(load_ledger_read(&l, fds[0], 20));
    for (size_t seen = l.n; l.n == seen;) {
      assert_true(load_ledger_read(&l, fds[0], 1000));
      assert_true(load_mono_ms() < kill_at + 10000); /* Acknowledgements keep coming. */
    }
    load_stop(&srv, SIGKILL);
    int64_t killed_after = load_mono_ms() - round_start;
    load_finish(&l, fds[0], kids, N_CLIENTS);
    assert_int_equal(l.stopped_cap, 0);

    /* The file the kill left behind verifies; the restarted server has every acknowledged write. */
    assert_audit_intact(srv.db, round);
    start_server(round + 1);
    assert_all_there(srv.db, &l, from, round);
    assert_consistent(&srv, round);
    fprintf(stderr, "round %2d: killed after %4lld ms%s; %4zu acknowledged writes all there "
                    "(%zu in all)\n",
            round, (long long)killed_after, round % 2 ? ", commits delayed" : "",
            l.n - from, l.n);
  }
  /* No client saw a wrong answer (checked after the rounds, so that a lost write is named first:
   * answers sent before their commit also show as wrong answers to the next reader). */
  if (l.errors) fail_msg("%d unexpected answers during the load (printed above)", l.errors);
  /* Everything acknowledged in any round is still there at the end, and a clean stop keeps the
   * chain intact. */
  assert_all_there(srv.db, &l, 0, rounds);
  load_stop(&srv, SIGTERM);
  assert_audit_intact(srv.db, rounds);
  fprintf(stderr,
          "crash loop: %d kills in %.1f s; %zu submitted, %zu claims, %zu approvals, %zu queue "
          "puts, %zu tokens acknowledged and found\n",
          rounds, (double)(load_mono_ms() - started) / 1000, l.count['S'], l.count['C'],
          l.count['A'], l.count['Q'], l.count['T']);
  load_ledger_free(&l);
  for (int i = 0; i < N_CLIENTS; i++) free(tokens[i]);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_crash_loop, remove_server),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
