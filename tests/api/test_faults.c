/* SPDX-License-Identifier: MIT */
/* Store faults, swept: for each write of the lifecycle (queue put, token create, submit, batch,
 * claim, respond, consensus decision, release, cancel), the Nth store call fails for N = 1, 2, ...
 * until the operation runs out of calls. Every failure must give a JSON error (no crash, no hang),
 * leave the database exactly as it was, and leave the event chain intact. The server runs in
 * this process, so the store calls it makes are counted and failed by the store's fault shim
 * (hitl__store_fault_arm), through the real routes and the group committer. */
#include <setjmp.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <cmocka.h>

#include "api/server.h"
#include "core/chain.h"
#include "harness.h"
#include "load.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/xmalloc.h"

#define MAX_N 400 /* No operation makes this many store calls: a sweep that gets here is stuck. */

static const char q1_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"review\"}}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"]}}";
static const char q2_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"assignment\":{\"overlap\":2,\"roles\":[\"validator\"],\"consensus\":\"majority\"}}";

/* Its events go to a webhook, so each submit also writes a delivery (in the committer's
 * before-commit step). Nothing listens there: each delivery is tried once and fails. */
static const char q3_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"webhooks\":[{\"url\":\"http://127.0.0.1:9/hook\",\"events\":[\"task.submitted\"]}]}";

typedef struct bench {
  char dir[256], db[300];
  hitl_server *server;
  test_server http; /* Only its port is used: tr() talks to the server in this process. */
  char *agent, *rev1, *rev2;
  int iteration;    /* Names made by prepare/run are unique per iteration. */
  char task[64], lease[64];
  /* Totals for the report. */
  int failures, successes_with_fault, runs;
} bench;

/* ---- the database as a whole, read beside the server ---- */

/* Every row of every table, as text: two equal snapshots mean nothing was written. */
static char *snapshot(const char *db) {
  sqlite3 *h = NULL;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  hitl_buf out = HITL_BUF_INIT;
  sqlite3_stmt *tables = NULL;
  assert_int_equal(sqlite3_prepare_v2(h,
                                      "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                      "name NOT LIKE 'sqlite_%' ORDER BY name",
                                      -1, &tables, NULL),
                   SQLITE_OK);
  while (sqlite3_step(tables) == SQLITE_ROW) {
    const char *name = (const char *)sqlite3_column_text(tables, 0);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY rowid", name);
    /* The webhook worker records its attempts at any time: only what a delivery is counts. */
    if (strcmp(name, "webhook_deliveries") == 0)
      snprintf(sql, sizeof sql, "SELECT seq, id, queue_id, url, event_seq, event_type, body, "
                                "created_at FROM webhook_deliveries ORDER BY seq");
    sqlite3_stmt *rows = NULL;
    if (sqlite3_prepare_v2(h, sql, -1, &rows, NULL) != SQLITE_OK) {
      /* A WITHOUT ROWID table: its primary key orders it. */
      snprintf(sql, sizeof sql, "SELECT * FROM \"%s\" ORDER BY 1", name);
      assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &rows, NULL), SQLITE_OK);
    }
    hitl_buf_printf(&out, "[%s]\n", name);
    while (sqlite3_step(rows) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(rows); c++) {
        if (sqlite3_column_type(rows, c) == SQLITE_BLOB) {
          const unsigned char *b = sqlite3_column_blob(rows, c);
          for (int k = 0; k < sqlite3_column_bytes(rows, c); k++) hitl_buf_printf(&out, "%02x", b[k]);
        } else {
          const unsigned char *t = sqlite3_column_text(rows, c);
          hitl_buf_puts(&out, t ? (const char *)t : "NULL");
        }
        hitl_buf_putc(&out, '|');
      }
      hitl_buf_putc(&out, '\n');
    }
    sqlite3_finalize(rows);
  }
  sqlite3_finalize(tables);
  sqlite3_close(h);
  char *s = hitl_xstrdup(hitl_buf_cstr(&out));
  hitl_buf_free(&out);
  return s;
}

/* The chain verifies from the first event to the last, read past the shim. */
static void assert_chain_intact(const bench *b) {
  hitl_store *s = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl__store_sqlite_open(b->db, &s, &err), 0);
  hitl_chain_report rep;
  assert_int_equal(hitl_chain_verify(s, &rep), 0);
  if (rep.broken_seq) fail_msg("chain broken at event %lld: %s", (long long)rep.broken_seq, rep.reason);
  hitl_store_close(s);
}

/* ---- the operations ---- */

typedef struct op {
  const char *name;
  void (*prepare)(bench *b);              /* Unarmed set-up of one run, or NULL. */
  long (*run)(bench *b, test_resp *r);    /* The request made under the fault. */
  long ok;                                /* Its status when it succeeds. */
  void (*applied)(bench *b, test_resp *r); /* Checks the whole operation is stored. */
} op;

static void task_body(bench *b, const char *tag, char *out, size_t cap) {
  snprintf(out, cap, "{\"input\":{\"text\":\"%s-%d\"},\"idempotency_key\":\"%s-%d\"}", tag,
           b->iteration, tag, b->iteration);
}

static void submit_to(bench *b, const char *queue, char *id_out) {
  char body[256], path[64];
  task_body(b, queue, body, sizeof body);
  snprintf(path, sizeof path, "/v1/queues/%s/tasks", queue);
  test_resp r;
  if (tr(&b->http, "POST", path, b->agent, body, &r) != 201) fail_msg("submit: %s", r.body);
  snprintf(id_out, 64, "%s", tj_str(&r, "id"));
  tr_free(&r);
}

static void claim(bench *b, const char *queue, const char *token, const char *want_id) {
  char path[64];
  snprintf(path, sizeof path, "/v1/queues/%s/claim", queue);
  test_resp r;
  if (tr(&b->http, "POST", path, token, NULL, &r) != 200) fail_msg("claim: %ld %s", r.status, r.body);
  if (want_id && strcmp(tj_str(&r, "id"), want_id) != 0)
    fail_msg("claimed %s, not the task just submitted (%s)", tj_str(&r, "id"), want_id);
  snprintf(b->task, sizeof b->task, "%s", tj_str(&r, "id"));
  snprintf(b->lease, sizeof b->lease, "%s", tj_str(&r, "lease.id"));
  tr_free(&r);
}

static long approve(bench *b, const char *token, test_resp *r) {
  char path[96], body[128];
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", b->task);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", b->lease);
  return tr(&b->http, "POST", path, token, body, r);
}

static long long task_state(bench *b) {
  return load_sql_count(b->db, "SELECT state FROM tasks WHERE id = '%s'", b->task);
}

/* Queue put. */
static long put_run(bench *b, test_resp *r) {
  char path[64];
  snprintf(path, sizeof path, "/v1/queues/fq%d", b->iteration);
  return tr(&b->http, "PUT", path, ADMIN_TOKEN, q1_config, r);
}
static void put_applied(bench *b, test_resp *r) {
  (void)r;
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM queues WHERE name = 'fq%d'", b->iteration), 1);
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM events WHERE type = 'queue.created' AND "
                                    "queue = 'fq%d'", b->iteration), 1);
}

/* Token create. */
static long token_run(bench *b, test_resp *r) {
  char body[128];
  snprintf(body, sizeof body, "{\"name\":\"ftok%d\",\"roles\":[\"validator\"]}", b->iteration);
  return tr(&b->http, "POST", "/v1/tokens", ADMIN_TOKEN, body, r);
}
static void token_applied(bench *b, test_resp *r) {
  (void)r;
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM tokens WHERE name = 'ftok%d'", b->iteration), 1);
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM events WHERE type = 'token.created' AND "
                                    "data LIKE '%%\"ftok%d\"%%'", b->iteration), 1);
}

/* Submit one task. */
static long submit_run(bench *b, test_resp *r) {
  char body[256];
  task_body(b, "one", body, sizeof body);
  return tr(&b->http, "POST", "/v1/queues/q1/tasks", b->agent, body, r);
}
static void submit_applied_as(bench *b, test_resp *r, const char *tag) {
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM tasks WHERE idempotency_key = "
                                         "'%s-%d' AND id = '%s'", tag, b->iteration,
                                  tj_str(r, "id")), 1);
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM events WHERE type = 'task.submitted' "
                                    "AND task_id = '%s'", tj_str(r, "id")), 1);
}
static void submit_applied(bench *b, test_resp *r) { submit_applied_as(b, r, "one"); }

/* Submit a batch of three. */
static long batch_run(bench *b, test_resp *r) {
  char body[1024], t[3][256];
  for (int i = 0; i < 3; i++) {
    char tag[16];
    snprintf(tag, sizeof tag, "batch%d", i);
    task_body(b, tag, t[i], sizeof t[i]);
  }
  snprintf(body, sizeof body, "{\"tasks\":[%s,%s,%s]}", t[0], t[1], t[2]);
  return tr(&b->http, "POST", "/v1/queues/q1/tasks/batch", b->agent, body, r);
}
static void batch_applied(bench *b, test_resp *r) {
  (void)r;
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM tasks WHERE idempotency_key IN "
                                    "('batch0-%d', 'batch1-%d', 'batch2-%d')",
                             b->iteration, b->iteration, b->iteration), 3);
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM events e JOIN tasks t ON t.id = e.task_id "
                                    "WHERE e.type = 'task.submitted' AND t.idempotency_key LIKE "
                                    "'batch_-%d'", b->iteration), 3);
}

/* Submit to a queue with a webhook: the delivery is written with the task. */
static long hook_run(bench *b, test_resp *r) {
  char body[256];
  task_body(b, "hook", body, sizeof body);
  return tr(&b->http, "POST", "/v1/queues/q3/tasks", b->agent, body, r);
}
static void hook_applied(bench *b, test_resp *r) {
  submit_applied_as(b, r, "hook");
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM webhook_deliveries d JOIN events e "
                                         "ON e.seq = d.event_seq WHERE e.task_id = '%s'",
                                  tj_str(r, "id")), 1);
}

/* Claim: a task is submitted first, so one is pending. */
static void claim_prepare(bench *b) {
  char id[64];
  submit_to(b, "q1", id);
}
static long claim_run(bench *b, test_resp *r) {
  return tr(&b->http, "POST", "/v1/queues/q1/claim", b->rev1, NULL, r);
}
static void claim_applied(bench *b, test_resp *r) {
  snprintf(b->task, sizeof b->task, "%s", tj_str(r, "id"));
  assert_int_equal(task_state(b), 1);
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM tasks WHERE id = '%s' AND lease_id = "
                                    "'%s' AND lease_owner = 'rev1'", b->task, tj_str(r, "lease.id")), 1);
}

/* Respond: one answer decides (overlap 1). */
static void respond_prepare(bench *b) {
  char id[64];
  submit_to(b, "q1", id);
  claim(b, "q1", b->rev2, NULL);
}
static long respond_run(bench *b, test_resp *r) { return approve(b, b->rev2, r); }
static void respond_applied(bench *b, test_resp *r) {
  (void)r;
  assert_int_equal(task_state(b), 2);
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM responses WHERE task_seq = (SELECT seq "
                                    "FROM tasks WHERE id = '%s')", b->task), 1);
}

/* Decide: the second of two answers decides by consensus (overlap 2). */
static void decide_prepare(bench *b) {
  char id[64];
  submit_to(b, "q2", id);
  claim(b, "q2", b->rev1, id);
  test_resp r;
  if (approve(b, b->rev1, &r) != 200) fail_msg("first answer: %s", r.body);
  tr_free(&r);
  claim(b, "q2", b->rev2, id);
}
static long decide_run(bench *b, test_resp *r) { return approve(b, b->rev2, r); }
static void decide_applied(bench *b, test_resp *r) {
  assert_string_equal(tj_str(r, "decision.by"), "consensus");
  assert_int_equal(task_state(b), 2);
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM tasks WHERE id = '%s' AND decided_by = "
                                    "'consensus'", b->task), 1);
  assert_int_equal(load_sql_count(b->db, "SELECT count(*) FROM events WHERE type = 'task.decided' AND "
                                    "task_id = '%s'", b->task), 1);
}

/* Release a lease. */
static void release_prepare(bench *b) {
  char id[64];
  submit_to(b, "q1", id);
  claim(b, "q1", b->rev1, NULL);
}
static long release_run(bench *b, test_resp *r) {
  char path[96], body[128];
  snprintf(path, sizeof path, "/v1/tasks/%s/release", b->task);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\"}", b->lease);
  return tr(&b->http, "POST", path, b->rev1, body, r);
}
static void release_applied(bench *b, test_resp *r) {
  (void)r;
  assert_int_equal(task_state(b), 0);
}

/* Cancel a task. */
static void cancel_prepare(bench *b) { submit_to(b, "q1", b->task); }
static long cancel_run(bench *b, test_resp *r) {
  char path[96];
  snprintf(path, sizeof path, "/v1/tasks/%s/cancel", b->task);
  return tr(&b->http, "POST", path, ADMIN_TOKEN, "{}", r);
}
static void cancel_applied(bench *b, test_resp *r) {
  (void)r;
  assert_int_equal(task_state(b), 4);
}

static const op ops[] = {
    {"queue put", NULL, put_run, 201, put_applied},
    {"token create", NULL, token_run, 201, token_applied},
    {"submit", NULL, submit_run, 201, submit_applied},
    {"batch", NULL, batch_run, 201, batch_applied},
    {"webhook", NULL, hook_run, 201, hook_applied},
    {"claim", claim_prepare, claim_run, 200, claim_applied},
    {"respond", respond_prepare, respond_run, 200, respond_applied},
    {"decide", decide_prepare, decide_run, 200, decide_applied},
    {"release", release_prepare, release_run, 200, release_applied},
    {"cancel", cancel_prepare, cancel_run, 200, cancel_applied},
};

/* Waits (bounded) until the webhook worker has tried every delivery: it then only looks at the
 * outbox once a second, and its writes no longer mix with the run's. */
static void webhooks_quiet(bench *b) {
  for (int i = 0; load_sql_count(b->db, "SELECT count(*) FROM webhook_deliveries WHERE attempts "
                                        "= 0") > 0; i++) {
    if (i == 1000) fail_msg("the webhook worker did not try its deliveries in 10 s");
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

/* Brings the writer to a known state before a run, so that runs make the same calls: warm after
 * a commit (the chain's last link is known), cold after a failed transaction (it is read again).
 * A background call (the sweeper, the webhook worker) may take the armed failure instead: the
 * settling request then succeeds and is sent again. */
static void settle(bench *b, bool cold) {
  webhooks_quiet(b);
  for (int tries = 0;; tries++) {
    test_resp r;
    if (cold) hitl__store_fault_arm(1, false); /* The next begin fails. */
    long st = tr(&b->http, "PUT", "/v1/queues/settle", ADMIN_TOKEN, q1_config, &r);
    hitl__store_fault_disarm(NULL);
    bool settled = cold ? st == 503 : st == 200 || st == 201;
    if (!settled && (!cold || st != 200 || tries == 20)) fail_msg("settle: %ld %s", st, r.body);
    tr_free(&r);
    if (settled) return;
  }
}

/* Runs o with call N failing for N = 1, 2, ... until a run makes fewer than N calls; when
 * persistent, every call after the Nth fails too (the database went bad mid-operation). */
static void sweep(bench *b, const op *o, bool cold, bool persistent) {
  long n;
  int failed = 0;
  for (n = 1; n <= MAX_N; n++) {
    b->iteration++;
    if (o->prepare) o->prepare(b);
    settle(b, cold);
    char *before = snapshot(b->db);
    test_resp r;
    hitl__store_fault_arm(n, persistent);
    long st = o->run(b, &r);
    hitl_store_fault_report rep;
    hitl__store_fault_disarm(&rep);
    b->runs++;
    if (getenv("FAULTS_VERBOSE")) fprintf(stderr, "%s N=%ld %s -> %ld\n", o->name, n, rep.fired ? rep.function : "-", st);
    if (st == o->ok) {
      o->applied(b, &r);
      if (rep.fired) b->successes_with_fault++;
    } else {
      /* A clean error: JSON with a code, a server-side status, and nothing stored. */
      if (!rep.fired) fail_msg("%s failed with no fault (N=%ld): %ld %s", o->name, n, st, r.body);
      if (st != 500 && st != 503)
        fail_msg("%s with %s failing (N=%ld): status %ld %s", o->name, rep.function, n, st, r.body);
      const char *code = tj_str(&r, "error.code");
      if (code == NULL || code[0] == '\0')
        fail_msg("%s with %s failing: no error code in %s", o->name, rep.function, r.body);
      char *after = snapshot(b->db);
      if (strcmp(before, after) != 0)
        fail_msg("%s with %s failing (N=%ld) answered %ld but changed the database", o->name,
                 rep.function, n, st);
      free(after);
      failed++;
    }
    free(before);
    tr_free(&r);
    assert_chain_intact(b);
    if (!rep.fired) break; /* The operation made fewer than n calls: every one was failed. */
  }
  if (n > MAX_N) fail_msg("%s: still failing at N=%d", o->name, MAX_N);
  fprintf(stderr, "faults: %-12s %-4s %-10s %3ld calls, %3d failed cleanly\n", o->name,
          cold ? "cold" : "warm", persistent ? "persistent" : "once", n - 1, failed);
  assert_true(failed > 0);
  b->failures += failed;
}

/* ---- the test ---- */

static bench B;

static int start(void **state) {
  (void)state;
  memset(&B, 0, sizeof B);
  const char *tmp = getenv("TMPDIR");
  snprintf(B.dir, sizeof B.dir, "%s/hitl-faults-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  assert_non_null(mkdtemp(B.dir));
  snprintf(B.db, sizeof B.db, "%s/hitl.db", B.dir);
  hitl__store_fault_wrap_opened(true);
  hitl_server_config cfg = {.db = B.db, .host = "127.0.0.1", .admin_token = ADMIN_TOKEN,
                            .threads = 2, .webhook_retry_ms = 3600 * 1000};
  hitl_err err = {0};
  if (hitl_server_start(&cfg, &B.server, &err) != 0) fail_msg("start: %s", err.message);
  B.http.port = hitl_server_port(B.server);
  B.agent = ts_token(&B.http, "agent", "agent");
  B.rev1 = ts_token(&B.http, "rev1", "validator");
  B.rev2 = ts_token(&B.http, "rev2", "validator");
  test_resp r;
  assert_int_equal(tr(&B.http, "PUT", "/v1/queues/q1", ADMIN_TOKEN, q1_config, &r), 201);
  tr_free(&r);
  assert_int_equal(tr(&B.http, "PUT", "/v1/queues/q2", ADMIN_TOKEN, q2_config, &r), 201);
  tr_free(&r);
  assert_int_equal(tr(&B.http, "PUT", "/v1/queues/q3", ADMIN_TOKEN, q3_config, &r), 201);
  tr_free(&r);
  return 0;
}

static int stop(void **state) {
  (void)state;
  hitl_server_stop(B.server);
  hitl__store_fault_wrap_opened(false);
  free(B.agent);
  free(B.rev1);
  free(B.rev2);
  static const char *const files[] = {"hitl.db", "hitl.db-wal", "hitl.db-shm"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char p[320];
    snprintf(p, sizeof p, "%s/%s", B.dir, files[i]);
    unlink(p);
  }
  rmdir(B.dir);
  return 0;
}

static void test_every_store_failure_is_clean(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    for (int mode = 0; mode < 4; mode++) sweep(&B, &ops[i], mode & 1, mode & 2);
  }
  fprintf(stderr, "faults: %d runs, %d clean failures, %d successes despite a failed call\n",
          B.runs, B.failures, B.successes_with_fault);
  /* The live counts the server keeps agree with the database after all those rollbacks. */
  test_resp r;
  assert_int_equal(tr(&B.http, "GET", "/v1/queues/q1", ADMIN_TOKEN, NULL, &r), 200);
  static const char *const states[] = {"pending", "leased", "decided", "expired", "cancelled"};
  for (int s = 0; s < 5; s++) {
    char path[64];
    snprintf(path, sizeof path, "counts.%s", states[s]);
    long long db = load_sql_count(B.db, "SELECT count(*) FROM tasks WHERE state = %d AND queue_id = "
                                   "(SELECT id FROM queues WHERE name = 'q1')", s);
    if (tj_int(&r, path) != db)
      fail_msg("q1 %s: the server counts %lld, the database holds %lld", states[s],
               tj_int(&r, path), db);
  }
  tr_free(&r);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_store_failure_is_clean),
  };
  int rc = cmocka_run_group_tests(tests, start, stop);
  curl_global_cleanup();
  return rc;
}
