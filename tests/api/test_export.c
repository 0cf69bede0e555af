/* SPDX-License-Identifier: MIT */
/* API tests of the export formats (jsonl, sft, dpo, labels, label-studio) and their filters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static test_server srv;
static char *agent, *alice, *bob;

/* Task ids, in the order submitted (the export lists them newest first). */
enum { T_APPROVE, T_MODIFY, T_REJECT, T_RANKING, T_SKIPPED, T_POLICY, N_TASKS };
static char *ids[N_TASKS];

static const char queue_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"},"
    "{\"name\":\"category\",\"type\":\"label\",\"labels\":[\"spam\",\"ham\"]},"
    "{\"name\":\"better\",\"type\":\"preference\"},"
    "{\"name\":\"entities\",\"type\":\"spans\",\"labels\":[\"PER\",\"ORG\"],\"field\":\"text\"}]},"
    "\"policy\":{\"rules\":[{\"name\":\"auto\",\"when\":{\"eq\":{\"path\":\"/metadata/auto\",\"value\":true}},"
    "\"then\":{\"action\":\"accept\"}}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":60}}";

/* Submits body to queue "exp" and returns the task id (malloc'd). */
static char *submit(const char *body) {
  test_resp r;
  long st = tr(&srv, "POST", "/v1/queues/exp/tasks", agent, body, &r);
  if (st != 201) fail_msg("submit: %ld %s", st, r.body);
  char *id = strdup(tj_str(&r, "id"));
  tr_free(&r);
  return id;
}

/* Claims the next task of "exp" as token, checks it is id, and answers with the JSON members
 * answers (without lease_id); expects the task to end in state. */
static void review(const char *token, const char *id, const char *answers, const char *state) {
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/queues/exp/claim", token, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "id"), id);
  char path[128], body[1024];
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",%s}", tj_str(&r, "lease.id"), answers);
  tr_free(&r);
  long st = tr(&srv, "POST", path, token, body, &r);
  if (st != 200) fail_msg("respond: %ld %s", st, r.body);
  assert_string_equal(tj_str(&r, "state"), state);
  tr_free(&r);
}

static int setup(void **state) {
  (void)state;
  ts_start(&srv, NULL);
  agent = ts_token(&srv, "agent-1", "agent");
  alice = ts_token(&srv, "alice@example.com", "validator");
  bob = ts_token(&srv, "bob", "validator");
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/exp", ADMIN_TOKEN, queue_config, &r), 201);
  tr_free(&r);

  /* Approved, with a label and two spans; "Zoë" makes byte and character offsets differ. */
  ids[T_APPROVE] = submit("{\"input\":{\"text\":\"Zoë Lovelace joined IBM\"},"
                          "\"output\":\"Zoë joined IBM.\",\"confidence\":0.5,"
                          "\"model_version\":\"m-1\",\"inference_id\":\"inf-1\"}");
  review(alice, ids[T_APPROVE],
         "\"answers\":[{\"question\":\"verdict\",\"kind\":\"approve\"},"
         "{\"question\":\"category\",\"kind\":\"label\",\"value\":\"ham\"},"
         "{\"question\":\"entities\",\"kind\":\"spans\",\"value\":[{\"start\":0,\"end\":12,\"label\":\"PER\"},"
         "{\"start\":20,\"end\":23,\"label\":\"ORG\"}]}],\"time_spent_ms\":4500",
         "decided");
  /* Corrected. */
  ids[T_MODIFY] = submit("{\"input\":{\"text\":\"Write a greeting\"},\"output\":\"hi\","
                         "\"model_version\":\"m-2\",\"inference_id\":\"inf-2\"}");
  review(alice, ids[T_MODIFY],
         "\"answers\":[{\"question\":\"verdict\",\"kind\":\"modify\",\"value\":\"Hello, and welcome!\"},"
         "{\"question\":\"category\",\"kind\":\"label\",\"value\":\"ham\"}]",
         "decided");
  /* Rejected. */
  ids[T_REJECT] = submit("{\"input\":{\"text\":\"Buy now\"},\"output\":\"sure\","
                         "\"model_version\":\"m-1\",\"inference_id\":\"inf-3\"}");
  review(bob, ids[T_REJECT],
         "\"answers\":[{\"question\":\"verdict\",\"kind\":\"reject\"},"
         "{\"question\":\"category\",\"kind\":\"label\",\"value\":\"spam\"}]",
         "decided");
  /* Three candidates ranked; no verdict, so the outcome is "answered". */
  ids[T_RANKING] = submit("{\"input\":{\"text\":\"Pick a reply\"},"
                          "\"output\":{\"a\":\"Reply A\",\"b\":\"Reply B\",\"c\":\"Reply C\"},"
                          "\"model_version\":\"m-2\",\"inference_id\":\"inf-4\"}");
  review(bob, ids[T_RANKING],
         "\"question\":\"better\",\"kind\":\"ranking\",\"value\":[\"b\",\"a\",\"c\"]", "decided");
  /* Skipped by one reviewer, approved by the next; no model version. */
  ids[T_SKIPPED] = submit("{\"input\":{\"text\":\"Skipped once\"},\"output\":\"ok\"}");
  review(alice, ids[T_SKIPPED], "\"kind\":\"skip\"", "pending");
  review(bob, ids[T_SKIPPED], "\"question\":\"verdict\",\"kind\":\"approve\"", "decided");
  /* Accepted by the policy, never seen by a person. */
  ids[T_POLICY] = submit("{\"input\":{\"text\":\"auto\"},\"output\":\"fine\",\"metadata\":{\"auto\":true,\"rate\":0.1},"
                         "\"model_version\":\"m-1\",\"inference_id\":\"inf-6\"}");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ts_cleanup(&srv);
  free(agent); free(alice); free(bob);
  for (int i = 0; i < N_TASKS; i++) free(ids[i]);
  return 0;
}

/* The parsed lines of a JSON Lines export (a JSON array of them); fails on a line that is not
 * an object. */
static json_t *export_lines(const char *query) {
  char path[256];
  snprintf(path, sizeof path, "/v1/queues/exp/export?%s", query);
  test_resp r;
  long st = tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r);
  if (st != 200) fail_msg("export %s: %ld %s", query, st, r.body);
  assert_string_equal(r.content_type, "application/x-ndjson");
  json_t *lines = json_array();
  for (char *save = NULL, *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    json_error_t e;
    json_t *v = json_loads(line, 0, &e);
    if (!json_is_object(v)) fail_msg("not a JSON object line: %s (%s)", line, e.text);
    json_array_append_new(lines, v);
  }
  tr_free(&r);
  return lines;
}

/* The decided_at of a task, from the jsonl export's decision (borrowed from lines). */
static const char *decided_at(json_t *jsonl, const char *id) {
  size_t i;
  json_t *t;
  json_array_foreach(jsonl, i, t) {
    if (strcmp(json_string_value(json_object_get(t, "id")), id) == 0)
      return json_string_value(json_object_get(json_object_get(t, "decision"), "decided_at"));
  }
  fail_msg("task %s is not in the export", id);
  return NULL;
}

/* Asserts that line equals the JSON text expected once the origin members are added. */
static void assert_record(json_t *line, const char *expected_text, const char *id, json_t *jsonl) {
  json_error_t e;
  json_t *expected = json_loads(expected_text, 0, &e);
  if (expected == NULL) fail_msg("bad expected JSON: %s", e.text);
  json_object_set_new(expected, "task_id", json_string(id));
  json_object_set_new(expected, "decided_at", json_string(decided_at(jsonl, id)));
  if (!json_equal(line, expected)) {
    char *a = json_dumps(line, JSON_SORT_KEYS), *b = json_dumps(expected, JSON_SORT_KEYS);
    fprintf(stderr, "got:      %s\nexpected: %s\n", a, b);
    free(a);
    free(b);
    json_decref(expected);
    fail_msg("the record differs");
  }
  json_decref(expected);
}

static void test_jsonl_has_every_decided_task(void **state) {
  (void)state;
  json_t *lines = export_lines("format=jsonl");
  assert_int_equal(json_array_size(lines), N_TASKS);
  /* Newest first. */
  for (int i = 0; i < N_TASKS; i++)
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, (size_t)i), "id")),
                        ids[N_TASKS - 1 - i]);
  json_decref(lines);
  /* Numbers come out as they went in: 0.1, not 0.10000000000000001 (the same double). */
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/v1/queues/exp/export?format=jsonl", ADMIN_TOKEN, NULL, &r), 200);
  assert_non_null(strstr(r.body, "\"rate\":0.1}"));
  assert_null(strstr(r.body, "0.10000000000000001"));
  tr_free(&r);
  /* jsonl is the default. */
  lines = export_lines("");
  assert_int_equal(json_array_size(lines), N_TASKS);
  json_decref(lines);
}

static void test_sft(void **state) {
  (void)state;
  json_t *jsonl = export_lines("format=jsonl");
  json_t *lines = export_lines("format=sft");
  /* Rejected and merely ranked tasks yield no example. */
  assert_int_equal(json_array_size(lines), 4);
  assert_record(json_array_get(lines, 0),
                "{\"prompt\":{\"text\":\"auto\"},\"completion\":\"fine\",\"model_version\":\"m-1\","
                "\"inference_id\":\"inf-6\",\"outcome\":\"approve\",\"by\":\"policy\"}",
                ids[T_POLICY], jsonl);
  assert_record(json_array_get(lines, 1),
                "{\"prompt\":{\"text\":\"Skipped once\"},\"completion\":\"ok\",\"model_version\":null,"
                "\"inference_id\":null,\"outcome\":\"approve\",\"by\":\"human\"}",
                ids[T_SKIPPED], jsonl);
  assert_record(json_array_get(lines, 2),
                "{\"prompt\":{\"text\":\"Write a greeting\"},\"completion\":\"Hello, and welcome!\","
                "\"model_version\":\"m-2\",\"inference_id\":\"inf-2\",\"outcome\":\"modify\",\"by\":\"human\"}",
                ids[T_MODIFY], jsonl);
  assert_record(json_array_get(lines, 3),
                "{\"prompt\":{\"text\":\"Zoë Lovelace joined IBM\"},\"completion\":\"Zoë joined IBM.\","
                "\"model_version\":\"m-1\",\"inference_id\":\"inf-1\",\"outcome\":\"approve\",\"by\":\"human\"}",
                ids[T_APPROVE], jsonl);
  json_decref(lines);
  json_decref(jsonl);
}

static void test_dpo(void **state) {
  (void)state;
  json_t *jsonl = export_lines("format=jsonl");
  json_t *lines = export_lines("format=dpo");
  /* The ranking [b, a, c] gives b over a and b over c; the correction gives one pair. */
  assert_int_equal(json_array_size(lines), 3);
  assert_record(json_array_get(lines, 0),
                "{\"prompt\":{\"text\":\"Pick a reply\"},\"chosen\":\"Reply B\",\"rejected\":\"Reply A\","
                "\"model_version\":\"m-2\",\"inference_id\":\"inf-4\",\"source\":\"ranking\","
                "\"question\":\"better\",\"chosen_name\":\"b\",\"rejected_name\":\"a\"}",
                ids[T_RANKING], jsonl);
  assert_record(json_array_get(lines, 1),
                "{\"prompt\":{\"text\":\"Pick a reply\"},\"chosen\":\"Reply B\",\"rejected\":\"Reply C\","
                "\"model_version\":\"m-2\",\"inference_id\":\"inf-4\",\"source\":\"ranking\","
                "\"question\":\"better\",\"chosen_name\":\"b\",\"rejected_name\":\"c\"}",
                ids[T_RANKING], jsonl);
  assert_record(json_array_get(lines, 2),
                "{\"prompt\":{\"text\":\"Write a greeting\"},\"chosen\":\"Hello, and welcome!\","
                "\"rejected\":\"hi\",\"model_version\":\"m-2\",\"inference_id\":\"inf-2\","
                "\"source\":\"modify\",\"question\":\"verdict\"}",
                ids[T_MODIFY], jsonl);
  json_decref(lines);
  json_decref(jsonl);
}

static void test_labels(void **state) {
  (void)state;
  json_t *jsonl = export_lines("format=jsonl");
  json_t *lines = export_lines("format=labels");
  assert_int_equal(json_array_size(lines), 3);
  assert_record(json_array_get(lines, 0),
                "{\"input\":{\"text\":\"Buy now\"},\"labels\":{\"category\":\"spam\"},"
                "\"model_version\":\"m-1\",\"inference_id\":\"inf-3\"}",
                ids[T_REJECT], jsonl);
  assert_record(json_array_get(lines, 1),
                "{\"input\":{\"text\":\"Write a greeting\"},\"labels\":{\"category\":\"ham\"},"
                "\"model_version\":\"m-2\",\"inference_id\":\"inf-2\"}",
                ids[T_MODIFY], jsonl);
  assert_record(json_array_get(lines, 2),
                "{\"input\":{\"text\":\"Zoë Lovelace joined IBM\"},\"labels\":{\"category\":\"ham\","
                "\"entities\":[{\"end\":12,\"label\":\"PER\",\"start\":0},{\"end\":23,\"label\":\"ORG\",\"start\":20}]},"
                "\"model_version\":\"m-1\",\"inference_id\":\"inf-1\"}",
                ids[T_APPROVE], jsonl);
  json_decref(lines);
  json_decref(jsonl);
}

/* The Label Studio task for id in the array tasks. */
static json_t *ls_task(json_t *tasks, const char *id) {
  size_t i;
  json_t *t;
  json_array_foreach(tasks, i, t) {
    const char *tid = json_string_value(json_object_get(json_object_get(t, "meta"), "task_id"));
    if (tid && strcmp(tid, id) == 0) return t;
  }
  fail_msg("task %s is not in the Label Studio export", id);
  return NULL;
}

/* Asserts that region has from_name, to_name, type and the value given as JSON text. */
static void assert_region(json_t *region, const char *from, const char *to, const char *type,
                          const char *value) {
  assert_non_null(region);
  assert_string_equal(json_string_value(json_object_get(region, "from_name")), from);
  assert_string_equal(json_string_value(json_object_get(region, "to_name")), to);
  assert_string_equal(json_string_value(json_object_get(region, "type")), type);
  assert_non_null(json_string_value(json_object_get(region, "id")));
  json_t *expected = json_loads(value, 0, NULL);
  assert_non_null(expected);
  if (!json_equal(json_object_get(region, "value"), expected)) {
    char *a = json_dumps(json_object_get(region, "value"), JSON_SORT_KEYS);
    fprintf(stderr, "region %s: got %s, expected %s\n", from, a, value);
    free(a);
    json_decref(expected);
    fail_msg("the region's value differs");
  }
  json_decref(expected);
}

static void test_label_studio(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/v1/queues/exp/export?format=label-studio", ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(r.content_type, "application/json");
  json_t *tasks = json_loads(r.body, 0, NULL);
  tr_free(&r);
  assert_true(json_is_array(tasks));
  assert_int_equal(json_array_size(tasks), N_TASKS);
  for (size_t i = 0; i < N_TASKS; i++) assert_true(json_is_integer(json_object_get(json_array_get(tasks, i), "id")));

  json_t *t = ls_task(tasks, ids[T_APPROVE]);
  json_t *data = json_loads("{\"text\":\"Zoë Lovelace joined IBM\"}", 0, NULL);
  assert_true(json_equal(json_object_get(t, "data"), data));
  json_decref(data);
  json_t *meta = json_object_get(t, "meta");
  assert_string_equal(json_string_value(json_object_get(meta, "model_version")), "m-1");
  assert_string_equal(json_string_value(json_object_get(meta, "inference_id")), "inf-1");
  assert_string_equal(json_string_value(json_object_get(meta, "outcome")), "approve");
  json_t *anns = json_object_get(t, "annotations");
  assert_int_equal(json_array_size(anns), 1);
  json_t *ann = json_array_get(anns, 0);
  assert_string_equal(json_string_value(json_object_get(json_object_get(ann, "completed_by"), "email")),
                      "alice@example.com");
  assert_true(json_is_false(json_object_get(ann, "was_cancelled")));
  assert_true(json_real_value(json_object_get(ann, "lead_time")) == 4.5);
  json_t *result = json_object_get(ann, "result");
  assert_int_equal(json_array_size(result), 4);
  assert_region(json_array_get(result, 0), "verdict", "text", "choices", "{\"choices\":[\"approve\"]}");
  assert_region(json_array_get(result, 1), "category", "text", "choices", "{\"choices\":[\"ham\"]}");
  /* Span text is cut by characters, not bytes. */
  assert_region(json_array_get(result, 2), "entities", "text", "labels",
                "{\"start\":0,\"end\":12,\"text\":\"Zoë Lovelace\",\"labels\":[\"PER\"]}");
  assert_region(json_array_get(result, 3), "entities", "text", "labels",
                "{\"start\":20,\"end\":23,\"text\":\"IBM\",\"labels\":[\"ORG\"]}");
  json_t *preds = json_object_get(t, "predictions");
  assert_int_equal(json_array_size(preds), 1);
  json_t *pred = json_array_get(preds, 0);
  assert_string_equal(json_string_value(json_object_get(pred, "model_version")), "m-1");
  assert_true(json_real_value(json_object_get(pred, "score")) == 0.5);
  assert_region(json_array_get(json_object_get(pred, "result"), 0), "output", "text", "textarea",
                "{\"text\":[\"Zoë joined IBM.\"]}");

  /* A correction is the verdict and the corrected output. */
  t = ls_task(tasks, ids[T_MODIFY]);
  result = json_object_get(json_array_get(json_object_get(t, "annotations"), 0), "result");
  assert_int_equal(json_array_size(result), 3);
  assert_region(json_array_get(result, 0), "verdict", "text", "choices", "{\"choices\":[\"modify\"]}");
  assert_region(json_array_get(result, 1), "output", "text", "textarea", "{\"text\":[\"Hello, and welcome!\"]}");
  assert_region(json_array_get(result, 2), "category", "text", "choices", "{\"choices\":[\"ham\"]}");

  /* A ranking is a ranker over the candidates, which join the data as a List's items. */
  t = ls_task(tasks, ids[T_RANKING]);
  data = json_loads("{\"text\":\"Pick a reply\",\"candidates\":["
                    "{\"id\":\"a\",\"title\":\"a\",\"body\":\"Reply A\"},"
                    "{\"id\":\"b\",\"title\":\"b\",\"body\":\"Reply B\"},"
                    "{\"id\":\"c\",\"title\":\"c\",\"body\":\"Reply C\"}]}", 0, NULL);
  assert_true(json_equal(json_object_get(t, "data"), data));
  json_decref(data);
  result = json_object_get(json_array_get(json_object_get(t, "annotations"), 0), "result");
  assert_int_equal(json_array_size(result), 1);
  /* Current Label Studio reads the ranking under the question's name (its bucket), not bare. */
  assert_region(json_array_get(result, 0), "better", "candidates", "ranker",
                "{\"ranker\":{\"better\":[\"b\",\"a\",\"c\"]}}");
  /* An output that is not a string is shown as its JSON text. */
  pred = json_array_get(json_object_get(t, "predictions"), 0);
  assert_region(json_array_get(json_object_get(pred, "result"), 0), "output", "text", "textarea",
                "{\"text\":[\"{\\\"a\\\":\\\"Reply A\\\",\\\"b\\\":\\\"Reply B\\\",\\\"c\\\":\\\"Reply C\\\"}\"]}");
  assert_null(json_object_get(pred, "score"));

  /* A skip is a cancelled annotation; the next reviewer's answer follows it. */
  t = ls_task(tasks, ids[T_SKIPPED]);
  anns = json_object_get(t, "annotations");
  assert_int_equal(json_array_size(anns), 2);
  assert_true(json_is_true(json_object_get(json_array_get(anns, 0), "was_cancelled")));
  assert_int_equal(json_array_size(json_object_get(json_array_get(anns, 0), "result")), 0);
  assert_true(json_is_false(json_object_get(json_array_get(anns, 1), "was_cancelled")));
  assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(anns, 1), "completed_by"), "email")),
                      "bob");
  pred = json_array_get(json_object_get(t, "predictions"), 0);
  assert_null(json_object_get(pred, "model_version"));

  /* Accepted by the policy: a prediction and no annotation. */
  t = ls_task(tasks, ids[T_POLICY]);
  assert_int_equal(json_array_size(json_object_get(t, "annotations")), 0);
  assert_int_equal(json_array_size(json_object_get(t, "predictions")), 1);
  assert_string_equal(json_string_value(json_object_get(json_object_get(t, "meta"), "decided_by")), "policy");
  json_decref(tasks);

  /* No task: an empty array. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues/exp/export?format=label-studio&model_version=none",
                      ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(r.body, "[]\n");
  tr_free(&r);
}

static bool has_task(json_t *lines, const char *key, const char *id) {
  size_t i;
  json_t *l;
  json_array_foreach(lines, i, l) {
    if (strcmp(json_string_value(json_object_get(l, key)), id) == 0) return true;
  }
  return false;
}

static void test_filters(void **state) {
  (void)state;
  json_t *lines = export_lines("format=sft&model_version=m-2");
  assert_int_equal(json_array_size(lines), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 0), "task_id")), ids[T_MODIFY]);
  json_decref(lines);
  lines = export_lines("format=dpo&model_version=m-2");
  assert_int_equal(json_array_size(lines), 3);
  json_decref(lines);
  lines = export_lines("format=jsonl&model_version=m-1");
  assert_int_equal(json_array_size(lines), 3);
  assert_true(has_task(lines, "id", ids[T_APPROVE]) && has_task(lines, "id", ids[T_REJECT]) &&
              has_task(lines, "id", ids[T_POLICY]));
  json_decref(lines);

  /* since keeps the tasks decided at or after it: compare with the decided_at of each. */
  json_t *jsonl = export_lines("format=jsonl");
  char query[128];
  const char *cut = decided_at(jsonl, ids[T_RANKING]);
  snprintf(query, sizeof query, "format=jsonl&since=%s", cut);
  lines = export_lines(query);
  size_t expected = 0;
  for (int i = 0; i < N_TASKS; i++) {
    bool after = strcmp(decided_at(jsonl, ids[i]), cut) >= 0; /* Same format: text order is time order. */
    expected += after;
    assert_true(has_task(lines, "id", ids[i]) == after);
  }
  assert_int_equal(json_array_size(lines), expected);
  assert_true(expected >= 3); /* The ranked task and the two decided after it. */
  json_decref(lines);
  /* A time with an offset is the same instant. */
  lines = export_lines("format=labels&since=2000-01-01T01:00:00%2B01:00&model_version=m-1");
  assert_int_equal(json_array_size(lines), 2);
  json_decref(lines);
  lines = export_lines("format=sft&since=2999-01-01T00:00:00Z");
  assert_int_equal(json_array_size(lines), 0);
  json_decref(lines);
  json_decref(jsonl);
}

static void test_bad_requests(void **state) {
  (void)state;
  static const struct {
    const char *query, *field;
  } cases[] = {
      {"format=csv", "format"},
      {"format=", "format"},
      {"format=SFT", "format"},
      {"format=sft&since=yesterday", "since"},
      {"format=sft&since=2026-13-01T00:00:00Z", "since"},
      {"since=2026-01-01", "since"},
      {"since=%zz", "since"},
      {"format=dpo&model_version=", "model_version"},
      {"model_version=a%01b", "model_version"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char path[256];
    snprintf(path, sizeof path, "/v1/queues/exp/export?%s", cases[i].query);
    test_resp r;
    long st = tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r);
    if (st != 400) fail_msg("%s: expected 400, got %ld %s", cases[i].query, st, r.body);
    assert_string_equal(tj_str(&r, "error.code"), "validation_failed");
    assert_string_equal(tj_str(&r, "error.field"), cases[i].field);
    tr_free(&r);
  }
  char long_version[300];
  memset(long_version, 'v', 257);
  long_version[257] = '\0';
  char path[400];
  snprintf(path, sizeof path, "/v1/queues/exp/export?format=sft&model_version=%s", long_version);
  test_resp r;
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 400);
  assert_string_equal(tj_str(&r, "error.field"), "model_version");
  tr_free(&r);
  /* Only orchestrators export, whatever the format. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues/exp/export?format=sft", agent, NULL, &r), 403);
  assert_string_equal(tj_str(&r, "error.code"), "forbidden");
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/exp/export?format=label-studio", alice, NULL, &r), 403);
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/nope/export?format=dpo", ADMIN_TOKEN, NULL, &r), 404);
  tr_free(&r);
}

/* More tasks than one page of the store: the stream stays one valid document. */
static void test_many_pages(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/bulk", ADMIN_TOKEN,
                      "{\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"accept\"}}]}}", &r), 201);
  tr_free(&r);
  enum { N = 450 };
  size_t cap = N * 96 + 32, len = 0;
  char *body = malloc(cap);
  len += (size_t)snprintf(body + len, cap - len, "{\"tasks\":[");
  for (int i = 0; i < N; i++)
    len += (size_t)snprintf(body + len, cap - len, "%s{\"input\":\"q%d\",\"output\":\"a%d\",\"model_version\":\"%s\"}",
                            i ? "," : "", i, i, i % 3 == 0 ? "x" : "y");
  snprintf(body + len, cap - len, "]}");
  assert_int_equal(tr(&srv, "POST", "/v1/queues/bulk/tasks/batch", agent, body, &r), 201);
  tr_free(&r);
  free(body);

  assert_int_equal(tr(&srv, "GET", "/v1/queues/bulk/export?format=label-studio", ADMIN_TOKEN, NULL, &r), 200);
  json_t *tasks = json_loads(r.body, 0, NULL);
  tr_free(&r);
  assert_int_equal(json_array_size(tasks), N);
  /* A string input goes under data.input; newest first. */
  assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(tasks, 0), "data"), "input")),
                      "q449");
  assert_string_equal(json_string_value(json_object_get(json_object_get(json_array_get(tasks, N - 1), "data"), "input")),
                      "q0");
  json_decref(tasks);

  assert_int_equal(tr(&srv, "GET", "/v1/queues/bulk/export?format=sft&model_version=x", ADMIN_TOKEN, NULL, &r), 200);
  size_t lines = 0;
  for (char *save = NULL, *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    json_t *v = json_loads(line, 0, NULL);
    assert_non_null(v);
    int n = atoi(json_string_value(json_object_get(v, "prompt")) + 1);
    assert_int_equal(n % 3, 0);
    assert_int_equal(atoi(json_string_value(json_object_get(v, "completion")) + 1), n);
    json_decref(v);
    lines++;
  }
  tr_free(&r);
  assert_int_equal(lines, N / 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_jsonl_has_every_decided_task),
      cmocka_unit_test(test_sft),
      cmocka_unit_test(test_dpo),
      cmocka_unit_test(test_labels),
      cmocka_unit_test(test_label_studio),
      cmocka_unit_test(test_filters),
      cmocka_unit_test(test_bad_requests),
      cmocka_unit_test(test_many_pages),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
