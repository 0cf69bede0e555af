/* SPDX-License-Identifier: MIT */
/* API tests of calibrated auto-approval: the calibrated leaf, its evidence, audits, drift, the
 * calibration view and its bad inputs, against the real server. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "harness.h"

static test_server srv;
static char *agent, *alice;

/* max_error 0.1 at confidence 0.9: 22 right answers in a row can certify. */
static const char cal_queue[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"policy\":{\"rules\":[{\"name\":\"auto\",\"when\":{\"calibrated\":{\"max_error\":0.1,"
    "\"confidence\":0.9,\"audit_percent\":20}},\"then\":{\"action\":\"accept\"}}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":60},"
    /* Port 1 refuses: the deliveries wait in the outbox, where the test sees them. */
    "\"webhooks\":[{\"url\":\"http://127.0.0.1:1/hook\","
    "\"events\":[\"calibration.certified\",\"calibration.withdrawn\"]}]}";

static int setup(void **state) {
  (void)state;
  ts_start(&srv, NULL);
  agent = ts_token(&srv, "agent-1", "agent");
  alice = ts_token(&srv, "alice", "validator");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ts_cleanup(&srv);
  free(agent);
  free(alice);
  return 0;
}

/* PUTs body as queue name and expects status; for a 400, the error's field must be field. */
static void put_queue(const char *name, const char *body, long status, const char *field) {
  char path[128];
  snprintf(path, sizeof path, "/v1/queues/%s", name);
  test_resp r;
  long st = tr(&srv, "PUT", path, ADMIN_TOKEN, body, &r);
  if (st != status) fail_msg("PUT %s: expected %ld, got %ld: %s", name, status, st, r.body);
  if (field) assert_string_equal(tj_str(&r, "error.field"), field);
  tr_free(&r);
}

/* Submits n tasks with this confidence as one batch; counts those decided by the policy. */
static int submit_batch(const char *queue, int n, double confidence) {
  json_t *tasks = json_array();
  for (int i = 0; i < n; i++)
    json_array_append_new(tasks, json_pack("{s{si}s{ss}sf}", "input", "text", i, "output",
                                           "label", "ok", "confidence", confidence));
  json_t *body = json_pack("{so}", "tasks", tasks);
  char *text = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  char path[128];
  snprintf(path, sizeof path, "/v1/queues/%s/tasks/batch", queue);
  test_resp r;
  long st = tr(&srv, "POST", path, agent, text, &r);
  free(text);
  if (st != 201) fail_msg("batch: expected 201, got %ld: %s", st, r.body);
  int decided = 0;
  json_t *list = json_object_get(r.json, "tasks");
  for (size_t i = 0; i < json_array_size(list); i++) {
    const char *s = json_string_value(json_object_get(json_array_get(list, i), "state"));
    decided += strcmp(s, "decided") == 0;
  }
  tr_free(&r);
  return decided;
}

/* Claims and answers (kind) every pending task of the queue; returns how many. */
static int answer_all(const char *queue, const char *kind) {
  char path[128], body[256];
  int n = 0;
  for (;;) {
    test_resp r;
    snprintf(path, sizeof path, "/v1/queues/%s/claim", queue);
    long st = tr(&srv, "POST", path, alice, NULL, &r);
    if (st == 204) {
      tr_free(&r);
      return n;
    }
    assert_int_equal(st, 200);
    snprintf(path, sizeof path, "/v1/tasks/%s/responses", tj_str(&r, "id"));
    snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"%s\"}", tj_str(&r, "lease.id"),
             kind);
    tr_free(&r);
    assert_int_equal(tr(&srv, "POST", path, alice, body, &r), 200);
    tr_free(&r);
    n++;
  }
}

/* GETs the queue's calibration view into *r (200 expected). */
static void get_calibration(const char *queue, test_resp *r) {
  char path[128];
  snprintf(path, sizeof path, "/v1/queues/%s/calibration", queue);
  long st = tr(&srv, "GET", path, alice, NULL, r);
  if (st != 200) fail_msg("calibration: expected 200, got %ld: %s", st, r->body);
}

static bool certified(const test_resp *r) {
  return json_is_true(json_object_get(r->json, "certified"));
}

static void test_certify_accept_audit_drift_restart(void **state) {
  (void)state;
  put_queue("cal", cal_queue, 201, NULL);
  test_resp r;
  get_calibration("cal", &r);
  assert_false(certified(&r));
  assert_true(json_is_null(json_object_get(r.json, "threshold")));
  assert_non_null(tj_str(&r, "reason"));
  tr_free(&r);

  /* A task without a score goes to people, whatever the certificate. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/cal/tasks", agent, "{\"input\":{\"text\":\"x\"}}", &r),
                   201);
  assert_string_equal(tj_str(&r, "state"), "pending");
  tr_free(&r);
  assert_int_equal(answer_all("cal", "approve"), 1);

  /* Until a threshold is certified, the leaf holds for nothing: everything goes to people. */
  assert_int_equal(submit_batch("cal", 300, 0.95), 0);
  assert_int_equal(answer_all("cal", "approve"), 300);
  get_calibration("cal", &r);
  assert_true(certified(&r));
  double threshold = json_number_value(json_object_get(r.json, "threshold"));
  assert_true(threshold > 0.5 && threshold <= 0.95);
  assert_true(json_number_value(json_object_get(r.json, "n")) >= 22);
  assert_true(json_number_value(json_object_get(r.json, "bound")) <= 0.1);
  assert_true(json_array_size(json_object_get(r.json, "risk_coverage")) > 0);
  assert_int_equal(json_array_size(json_object_get(json_object_get(r.json, "reliability"), "bins")), 10);
  assert_int_equal(json_array_size(json_object_get(r.json, "certifications")), 1);
  tr_free(&r);

  /* Above the threshold: accepted by the leaf, with the certificate in the trace; about 20%
   * still go to a person as audits. Below it: people. */
  int accepted = submit_batch("cal", 100, 0.95);
  assert_true(accepted > 50 && accepted < 100);
  assert_int_equal(submit_batch("cal", 5, 0.2), 0);
  test_resp list;
  assert_int_equal(tr(&srv, "GET", "/v1/queues/cal/tasks?state=decided&limit=1", ADMIN_TOKEN,
                      NULL, &list), 200);
  json_t *task = json_array_get(json_object_get(list.json, "tasks"), 0);
  json_t *route = json_object_get(task, "route");
  assert_string_equal(json_string_value(json_object_get(route, "rule")), "auto");
  json_t *leaf = json_array_get(json_object_get(route, "trace"), 0);
  assert_string_equal(json_string_value(json_object_get(leaf, "op")), "calibrated");
  assert_true(json_number_value(json_object_get(leaf, "threshold")) == threshold);
  assert_true(json_is_number(json_object_get(leaf, "n")));
  assert_true(json_is_number(json_object_get(leaf, "k")));
  assert_true(json_is_number(json_object_get(leaf, "bound")));
  tr_free(&list);
  int audits = answer_all("cal", "approve");
  assert_int_equal(audits, 100 - accepted + 5);
  get_calibration("cal", &r);
  assert_true(json_integer_value(json_object_get(json_object_get(r.json, "last_day"),
                                                 "auto_accepted")) == accepted);
  assert_true(certified(&r));
  double before[3];
  const char *keys[] = {"threshold", "n", "k"};
  for (int i = 0; i < 3; i++) before[i] = json_number_value(json_object_get(r.json, keys[i]));
  tr_free(&r);

  /* A restart keeps the certificate: it is rebuilt from the stored evidence. The last day's
   * auto-accepted share is stored with the submits, so it is still there too. */
  ts_stop(&srv, SIGKILL);
  ts_start(&srv, NULL);
  get_calibration("cal", &r);
  assert_true(certified(&r));
  json_t *day = json_object_get(r.json, "last_day");
  assert_int_equal(json_integer_value(json_object_get(day, "auto_accepted")), accepted);
  assert_int_equal(json_integer_value(json_object_get(day, "routed")), 1 + 300 + 100 + 5);
  assert_true(json_number_value(json_object_get(day, "share")) ==
              (double)accepted / (1 + 300 + 100 + 5));
  for (int i = 0; i < 3; i++)
    assert_true(json_number_value(json_object_get(r.json, keys[i])) == before[i]);
  tr_free(&r);

  /* Drift: the model goes bad and the reviewer rejects the audits. The drift test withdraws the
   * threshold: an event says so, and every task goes to people again. */
  bool withdrawn = false;
  for (int round = 0; round < 40 && !withdrawn; round++) {
    submit_batch("cal", 20, 0.95);
    answer_all("cal", "reject");
    get_calibration("cal", &r);
    withdrawn = json_array_size(json_object_get(r.json, "withdrawals")) > 0;
    if (withdrawn) {
      assert_false(certified(&r));
      assert_true(json_is_null(json_object_get(r.json, "threshold")));
      assert_int_equal(json_integer_value(json_object_get(json_object_get(r.json, "audit"),
                                                          "withdrawals")), 1);
    }
    tr_free(&r);
  }
  assert_true(withdrawn);
  assert_int_equal(tr(&srv, "GET", "/v1/events?type=calibration.withdrawn", ADMIN_TOKEN, NULL, &r),
                   200);
  json_t *events = json_object_get(r.json, "events");
  assert_int_equal(json_array_size(events), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(events, 0), "queue")), "cal");
  tr_free(&r);
  assert_int_equal(submit_batch("cal", 20, 0.99), 0);
  assert_int_equal(answer_all("cal", "approve"), 20);
  /* Webhooks got both: the certification and the withdrawal. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues/cal/webhook-deliveries", ADMIN_TOKEN, NULL, &r), 200);
  json_t *deliveries = json_object_get(r.json, "deliveries");
  assert_int_equal(json_array_size(deliveries), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(deliveries, 0), "event_type")),
                      "calibration.withdrawn");
  assert_string_equal(json_string_value(json_object_get(json_array_get(deliveries, 1), "event_type")),
                      "calibration.certified");
  tr_free(&r);
}

static void test_bad_inputs(void **state) {
  (void)state;
  char body[1024];
  const char *cases[][2] = {
      {"{\"max_error\":0}", "policy.rules[0].when.calibrated.max_error"},
      {"{\"max_error\":1}", "policy.rules[0].when.calibrated.max_error"},
      {"{\"max_error\":\"x\"}", "policy.rules[0].when.calibrated.max_error"},
      {"{\"confidence\":0}", "policy.rules[0].when.calibrated.confidence"},
      {"{\"confidence\":1}", "policy.rules[0].when.calibrated.confidence"},
      {"{\"audit_percent\":101}", "policy.rules[0].when.calibrated.audit_percent"},
      {"{\"bogus\":1}", "policy.rules[0].when.calibrated.bogus"},
      {"0.9", "policy.rules[0].when.calibrated"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    snprintf(body, sizeof body,
             "{\"schema\":{\"questions\":[{\"name\":\"v\",\"type\":\"approve\"}]},"
             "\"policy\":{\"rules\":[{\"name\":\"auto\",\"when\":{\"calibrated\":%s},"
             "\"then\":{\"action\":\"accept\"}}]}}", cases[i][0]);
    put_queue("bad", body, 400, cases[i][1]);
  }
  /* One calibrated condition per policy. */
  put_queue("bad",
            "{\"schema\":{\"questions\":[{\"name\":\"v\",\"type\":\"approve\"}]},"
            "\"policy\":{\"rules\":[{\"name\":\"a\",\"when\":{\"calibrated\":{}},"
            "\"then\":{\"action\":\"accept\"}},{\"name\":\"b\",\"when\":{\"any\":[{\"calibrated\":{}}]},"
            "\"then\":{\"action\":\"accept\"}}]}}",
            400, "policy.rules[1].when.any[0].calibrated");

  /* Probabilities on a calibrated label queue: they must add up to 1 and name its labels. */
  put_queue("lab",
            "{\"schema\":{\"questions\":[{\"name\":\"kind\",\"type\":\"label\","
            "\"labels\":[\"cat\",\"dog\"]}]},"
            "\"policy\":{\"rules\":[{\"name\":\"auto\",\"when\":{\"calibrated\":{}},"
            "\"then\":{\"action\":\"accept\"}}]}}",
            201, NULL);
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/queues/lab/tasks", agent,
                      "{\"input\":1,\"probabilities\":{\"cat\":0.5,\"dog\":0.2}}", &r), 400);
  assert_string_equal(tj_str(&r, "error.field"), "probabilities");
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/lab/tasks", agent,
                      "{\"input\":1,\"probabilities\":{\"cat\":0.5,\"cow\":0.5}}", &r), 400);
  assert_string_equal(tj_str(&r, "error.field"), "probabilities");
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/lab/tasks/batch", agent,
                      "{\"tasks\":[{\"input\":1,\"probabilities\":{\"cat\":0.5,\"dog\":0.5}},"
                      "{\"input\":2,\"probabilities\":{\"cat\":0.9}}]}", &r), 400);
  assert_string_equal(tj_str(&r, "error.field"), "tasks[1].probabilities");
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/lab/tasks", agent,
                      "{\"input\":1,\"probabilities\":{\"cat\":0.25,\"dog\":0.75}}", &r), 201);
  tr_free(&r);

  /* The view: an unknown queue is 404; a queue without the leaf says so. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues/nope/calibration", ADMIN_TOKEN, NULL, &r), 404);
  tr_free(&r);
  put_queue("plain", "{\"schema\":{\"questions\":[{\"name\":\"v\",\"type\":\"approve\"}]}}", 201,
            NULL);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/plain/calibration", ADMIN_TOKEN, NULL, &r), 200);
  assert_false(json_is_true(json_object_get(r.json, "enabled")));
  assert_non_null(tj_str(&r, "reason"));
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/plain/calibration", NULL, NULL, &r), 401);
  tr_free(&r);
}

/* Claims the next task of the queue and answers it with label; returns the task's id. */
static char *answer_label(const char *queue, const char *label) {
  char path[128], body[256];
  test_resp r;
  snprintf(path, sizeof path, "/v1/queues/%s/claim", queue);
  assert_int_equal(tr(&srv, "POST", path, alice, NULL, &r), 200);
  char *id = strdup(tj_str(&r, "id"));
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"label\",\"value\":\"%s\"}",
           tj_str(&r, "lease.id"), label);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", path, alice, body, &r), 200);
  tr_free(&r);
  return id;
}

static void test_conformal_prediction_sets(void **state) {
  (void)state;
  const char *schema =
      "{\"schema\":{\"questions\":[{\"name\":\"kind\",\"type\":\"label\","
      "\"labels\":[\"a\",\"b\",\"c\"]}]},"
      "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"]},";
  char body[1024];
  const char *bad[][2] = {
      {"{\"conformal\":{\"coverage\":1.5}}", "calibration.conformal.coverage"},
      {"{\"conformal\":{\"coverage\":0}}", "calibration.conformal.coverage"},
      {"{\"conformal\":{\"score\":\"xyz\"}}", "calibration.conformal.score"},
      {"{\"conformal\":{\"bogus\":1}}", "calibration.conformal.bogus"},
      {"{\"conformal\":3}", "calibration.conformal"},
      {"{\"other\":{}}", "calibration.other"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    snprintf(body, sizeof body, "%s\"calibration\":%s}", schema, bad[i][0]);
    put_queue("conf", body, 400, bad[i][1]);
  }
  /* Prediction sets need a label question. */
  put_queue("conf",
            "{\"schema\":{\"questions\":[{\"name\":\"v\",\"type\":\"approve\"}]},"
            "\"calibration\":{\"conformal\":{\"coverage\":0.9}}}",
            400, "calibration.conformal");
  put_queue("conf", "{\"schema\":{\"questions\":[{\"name\":\"v\",\"type\":\"approve\"}]},"
                    "\"policy\":{\"rules\":[{\"name\":\"x\",\"when\":"
                    "{\"prediction_set_size_at_most\":-1},\"then\":{\"action\":\"accept\"}}]}}",
            400, "policy.rules[0].when.prediction_set_size_at_most");

  snprintf(body, sizeof body,
           "%s\"calibration\":{\"conformal\":{\"coverage\":0.9,\"score\":\"lac\"}},"
           "\"policy\":{\"rules\":[{\"name\":\"sure\",\"when\":"
           "{\"prediction_set_size_at_most\":1},\"then\":{\"action\":\"accept\"}}]}}",
           schema);
  put_queue("conf", body, 201, NULL);
  const char *task = "{\"input\":1,\"probabilities\":{\"a\":0.7,\"b\":0.2,\"c\":0.1}}";
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/queues/conf/tasks", agent,
                      "{\"input\":1,\"probabilities\":{\"a\":0.7,\"z\":0.3}}", &r), 400);
  assert_string_equal(tj_str(&r, "error.field"), "probabilities");
  tr_free(&r);
  /* Fewer than 9 labelled tasks: no set, so the leaf does not hold. */
  for (int i = 0; i < 9; i++) {
    assert_int_equal(tr(&srv, "POST", "/v1/queues/conf/tasks", agent, task, &r), 201);
    assert_null(json_object_get(r.json, "prediction_set"));
    assert_string_equal(tj_str(&r, "state"), "pending");
    tr_free(&r);
    free(answer_label("conf", "a"));
  }
  assert_int_equal(tr(&srv, "POST", "/v1/queues/conf/tasks", agent, task, &r), 201);
  json_t *set = json_object_get(r.json, "prediction_set");
  assert_non_null(set);
  assert_int_equal(json_array_size(json_object_get(set, "labels")), 1);
  assert_string_equal(json_string_value(json_array_get(json_object_get(set, "labels"), 0)), "a");
  assert_int_equal(json_integer_value(json_object_get(set, "n_calibration")), 9);
  assert_true(json_number_value(json_object_get(set, "coverage")) == 0.9);
  assert_string_equal(tj_str(&r, "state"), "decided");
  assert_string_equal(tj_str(&r, "route.rule"), "sure");
  char path[160];
  snprintf(path, sizeof path, "/v1/tasks/%s", tj_str(&r, "id"));
  tr_free(&r);
  /* Stored with the task. */
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  assert_non_null(json_object_get(r.json, "prediction_set"));
  tr_free(&r);
  get_calibration("conf", &r);
  json_t *conf = json_object_get(r.json, "conformal");
  assert_int_equal(json_integer_value(json_object_get(conf, "n_calibration")), 9);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(conf, "set_sizes"), "1")), 1);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(conf, "set_sizes"), "none")), 9);
  tr_free(&r);
  /* A restart rebuilds the calibration scores from the stored evidence; the set sizes of the
   * last day are stored with the submits. */
  ts_stop(&srv, SIGKILL);
  ts_start(&srv, NULL);
  get_calibration("conf", &r);
  conf = json_object_get(r.json, "conformal");
  assert_int_equal(json_integer_value(json_object_get(conf, "n_calibration")), 9);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(conf, "set_sizes"), "1")), 1);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(conf, "set_sizes"), "none")), 9);
  tr_free(&r);
}

/* Expects the queue's calibration view to count pairs verified pairs, wrong of them wrong. */
static void expect_evidence(const char *queue, long pairs, long wrong) {
  test_resp r;
  get_calibration(queue, &r);
  json_t *evidence = json_object_get(r.json, "evidence");
  assert_int_equal(json_integer_value(json_object_get(evidence, "pairs")), pairs);
  assert_int_equal(json_integer_value(json_object_get(evidence, "wrong")), wrong);
  tr_free(&r);
}

/* A queue people decide without calibration, and the same queue with a calibrated leaf. */
static const char plain_queue[] =
    "{\"schema\":{\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"]}}";
static const char plain_calibrated[] =
    "{\"schema\":{\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"]},"
    "\"policy\":{\"rules\":[{\"name\":\"auto\",\"when\":{\"calibrated\":{}},"
    "\"then\":{\"action\":\"accept\"}}]}}";

/* A database from before calibration's evidence table: a calibrated queue's tasks people decided,
 * no evidence stored. The server derives it from the decided tasks when it starts. */
static void test_evidence_rebuilt_from_decided_tasks(void **state) {
  (void)state;
  put_queue("old", plain_calibrated, 201, NULL);
  assert_int_equal(submit_batch("old", 30, 0.9), 0);
  assert_int_equal(answer_all("old", "approve"), 30);
  ts_stop(&srv, SIGTERM);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(srv.db, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "DELETE FROM calibration", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  ts_start(&srv, NULL);
  expect_evidence("old", 30, 0);
}

/* Rows of the calibration table of queue name (the server stopped or not: SQLite reads it). */
static int stored_pairs(const char *name) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_open(srv.db, &db), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT count(*) FROM calibration c JOIN queues q "
                                      "ON q.id = c.queue_id WHERE q.name = ?1",
                                      -1, &st, NULL),
                   SQLITE_OK);
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  int n = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

/* Decisions on a queue without calibration store nothing (they cost nothing more); when its
 * policy gains a calibrated leaf, the tasks people decided before count at once, and again
 * after the leaf was taken away and given back. */
static void test_gaining_calibration_counts_earlier_decisions(void **state) {
  (void)state;
  put_queue("late", plain_queue, 201, NULL);
  assert_int_equal(submit_batch("late", 20, 0.9), 0);
  assert_int_equal(answer_all("late", "approve"), 20);
  assert_int_equal(submit_batch("late", 5, 0.3), 0);
  assert_int_equal(answer_all("late", "reject"), 5);
  assert_int_equal(stored_pairs("late"), 0);

  put_queue("late", plain_calibrated, 200, NULL);
  expect_evidence("late", 25, 5);
  /* New decisions add to them. */
  assert_int_equal(submit_batch("late", 3, 0.9), 0);
  assert_int_equal(answer_all("late", "approve"), 3);
  expect_evidence("late", 28, 5);

  /* Taken away: decisions store nothing; given back: they count too, once each. */
  put_queue("late", plain_queue, 200, NULL);
  assert_int_equal(submit_batch("late", 4, 0.6), 0);
  assert_int_equal(answer_all("late", "reject"), 4);
  assert_int_equal(stored_pairs("late"), 28);
  put_queue("late", plain_calibrated, 200, NULL);
  expect_evidence("late", 32, 9);
  /* And a restart rebuilds the same state from them. */
  ts_stop(&srv, SIGKILL);
  ts_start(&srv, NULL);
  expect_evidence("late", 32, 9);
}

/* Tasks routed while a threshold was in force, then decided while the queue had no calibrated
 * condition, keep the routing tags stored when they were routed once the condition comes back:
 * those below the threshold outside the audit draw are not uniform pairs. */
static void test_gain_keeps_routing_tags(void **state) {
  (void)state;
  char plain[1024];
  snprintf(plain, sizeof plain, "%.*s}", (int)(strstr(cal_queue, ",\"policy\"") - cal_queue),
           cal_queue);
  put_queue("tag", cal_queue, 201, NULL);
  assert_int_equal(submit_batch("tag", 300, 0.95), 0);
  assert_int_equal(answer_all("tag", "approve"), 300);
  test_resp r;
  get_calibration("tag", &r);
  assert_true(certified(&r));
  tr_free(&r);
  /* Below the threshold: reviewed, in the uniform sample only as their audit draw says. */
  assert_int_equal(submit_batch("tag", 30, 0.2), 0);
  put_queue("tag", plain, 200, NULL);
  assert_int_equal(answer_all("tag", "approve"), 30);
  put_queue("tag", cal_queue, 200, NULL);
  get_calibration("tag", &r);
  json_t *evidence = json_object_get(r.json, "evidence");
  long pairs = (long)json_integer_value(json_object_get(evidence, "pairs"));
  long uniform = (long)json_integer_value(json_object_get(evidence, "uniform"));
  assert_int_equal(pairs, 330);
  assert_true(uniform >= 300 && uniform < 320); /* About 20% of the 30 are uniform. */
  tr_free(&r);
}

/* One integer from the stopped server's database (SQLite). */
static long long db_integer(const char *sql) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  assert_int_equal(sqlite3_open(srv.db, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  long long v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

/* A start resumes from the stored snapshot of the calibration state: with the pairs it holds
 * deleted from the evidence, the restarted server still counts them (it did not replay them);
 * under other parameters the snapshot is not used. */
static void test_start_resumes_from_snapshot(void **state) {
  (void)state;
  static const char *const every10[] = {"--calibration-snapshot-every", "10", NULL};
  ts_stop(&srv, SIGTERM);
  ts_start(&srv, every10);
  put_queue("snap", plain_calibrated, 201, NULL);
  assert_int_equal(submit_batch("snap", 25, 0.9), 0);
  assert_int_equal(answer_all("snap", "approve"), 25);
  assert_int_equal(submit_batch("snap", 3, 0.4), 0);
  assert_int_equal(answer_all("snap", "reject"), 3);
  expect_evidence("snap", 28, 3);
  test_resp r;
  get_calibration("snap", &r);
  char *before = json_dumps(json_object_get(r.json, "reliability"), JSON_COMPACT | JSON_SORT_KEYS);
  tr_free(&r);
  ts_stop(&srv, SIGKILL);
  long long upto = db_integer("SELECT s.last_seq FROM calibration_snapshot s JOIN queues q "
                              "ON q.id = s.queue_id WHERE q.name = 'snap'");
  assert_true(upto > 0);
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM calibration c JOIN queues q ON q.id = c.queue_id "
           "WHERE q.name = 'snap' AND c.correct >= 0 AND c.decided_seq <= %lld", upto);
  long long in_snapshot = db_integer(sql);
  assert_true(in_snapshot >= 20);
  sqlite3 *db = NULL;
  assert_int_equal(sqlite3_open(srv.db, &db), SQLITE_OK);
  snprintf(sql, sizeof sql, "DELETE FROM calibration WHERE decided_seq <= %lld AND queue_id = "
           "(SELECT id FROM queues WHERE name = 'snap')", upto);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);

  ts_start(&srv, every10);
  expect_evidence("snap", 28, 3);
  get_calibration("snap", &r);
  char *after = json_dumps(json_object_get(r.json, "reliability"), JSON_COMPACT | JSON_SORT_KEYS);
  assert_string_equal(after, before);
  tr_free(&r);
  free(before);
  free(after);
  /* Other parameters: rebuilt from the stored pairs alone. */
  char other[1024];
  snprintf(other, sizeof other, "%.*s\"max_error\":0.05}},\"then\":{\"action\":\"accept\"}}]}}",
           (int)(strstr(plain_calibrated, "{}}") - plain_calibrated) + 1, plain_calibrated);
  put_queue("snap", other, 200, NULL);
  long wrong_after = 3 - (in_snapshot > 25 ? (long)in_snapshot - 25 : 0);
  expect_evidence("snap", 28 - (long)in_snapshot, wrong_after);
  ts_stop(&srv, SIGTERM);
  ts_start(&srv, NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_inputs),
      cmocka_unit_test(test_certify_accept_audit_drift_restart),
      cmocka_unit_test(test_evidence_rebuilt_from_decided_tasks),
      cmocka_unit_test(test_conformal_prediction_sets),
      cmocka_unit_test(test_gaining_calibration_counts_earlier_decisions),
      cmocka_unit_test(test_start_resumes_from_snapshot),
      cmocka_unit_test(test_gain_keeps_routing_tags),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
