/* SPDX-License-Identifier: MIT */
/* Tests of reading Label Studio tasks for import (api/label_studio_import.c): what each result
 * shape becomes, and that nothing is kept when a task is refused (run under LeakSanitizer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/label_studio.h"
#include "api/queue_json.h"

static const char config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"},{\"name\":\"photo\",\"type\":\"image_url\"},"
    "{\"name\":\"rec\",\"type\":\"audio_url\"}],\"questions\":["
    "{\"name\":\"entities\",\"type\":\"spans\",\"labels\":[\"PER\",\"ORG\"],\"field\":\"text\"},"
    "{\"name\":\"links\",\"type\":\"relations\",\"spans\":\"entities\",\"labels\":[\"w\"]},"
    "{\"name\":\"objects\",\"type\":\"boxes\",\"field\":\"photo\",\"labels\":[\"car\"]},"
    "{\"name\":\"said\",\"type\":\"transcription\",\"field\":\"rec\"},"
    "{\"name\":\"better\",\"type\":\"preference\"},{\"name\":\"verdict\",\"type\":\"approve\"}]}}";

#define DATA "\"data\":{\"text\":\"Ann works at Acme\",\"photo\":\"p\",\"rec\":\"r\"}"
/* Two span results and two boxes of one question: answers built from several results. */
#define RESULTS                                                                                      \
  "[{\"id\":\"s1\",\"from_name\":\"entities\",\"to_name\":\"text\",\"type\":\"labels\",\"value\":{\"start\":0,\"end\":3,\"labels\":[\"PER\"]}}," \
  "{\"id\":\"s2\",\"from_name\":\"entities\",\"to_name\":\"text\",\"type\":\"labels\",\"value\":{\"start\":13,\"end\":17,\"labels\":[\"ORG\"]}}," \
  "{\"from_id\":\"s2\",\"to_id\":\"s1\",\"type\":\"relation\",\"labels\":[\"w\"]},"                  \
  "{\"from_name\":\"said\",\"to_name\":\"rec\",\"type\":\"textarea\",\"value\":{\"text\":[\"hi\",\"there\"]}}," \
  "{\"from_name\":\"said\",\"to_name\":\"rec\",\"type\":\"textarea\",\"value\":{\"start\":0,\"end\":1,\"text\":[\"hi\"]}}," \
  "{\"from_name\":\"better\",\"to_name\":\"candidates\",\"type\":\"ranker\",\"value\":{\"ranker\":{\"better\":[\"b\",\"a\"]}}}," \
  "{\"from_name\":\"verdict\",\"to_name\":\"text\",\"type\":\"choices\",\"value\":{\"choices\":[\"modify\"]}}," \
  "{\"from_name\":\"output\",\"to_name\":\"text\",\"type\":\"textarea\",\"value\":{\"text\":[\"fixed\"]}}," \
  "{\"from_name\":\"objects\",\"to_name\":\"photo\",\"type\":\"rectanglelabels\",\"original_width\":10,\"original_height\":20,\"value\":{\"x\":1,\"y\":1,\"width\":5,\"height\":5,\"rectanglelabels\":[\"car\"]}}," \
  "{\"from_name\":\"objects\",\"to_name\":\"photo\",\"type\":\"rectanglelabels\",\"original_width\":10,\"original_height\":20,\"value\":{\"x\":50,\"y\":1,\"width\":5,\"height\":5,\"rectanglelabels\":[\"car\"]}}]"

static hitl_queue_config *load_config(void) {
  json_t *j = json_loads(config, 0, NULL);
  hitl_queue_config *q = NULL;
  hitl_err err = {0};
  if (j == NULL || hitl__queue_config_from_json(j, &q, &err) != 0) fail_msg("config: %s", err.message);
  json_decref(j);
  return q;
}

static const hitl_response *answer(const hitl_ls_task *t, const char *reviewer, const char *question) {
  for (size_t i = 0; i < t->n_answers; i++)
    if (strcmp(t->answers[i].reviewer, reviewer) == 0 && strcmp(t->answers[i].question, question) == 0)
      return &t->answers[i];
  fail_msg("no answer of %s to %s", reviewer, question);
  return NULL;
}

static void test_every_shape(void **state) {
  (void)state;
  hitl_queue_config *q = load_config();
  json_t *item = json_loads("{\"id\":5," DATA ",\"annotations\":[{\"completed_by\":{\"email\":\"ann@x\"},\"result\":" RESULTS
                            "},{\"completed_by\":9,\"result\":" RESULTS "},{\"was_cancelled\":true,\"result\":[]}],"
                            "\"predictions\":[{\"score\":0.25,\"model_version\":\"m\",\"result\":" RESULTS "}]}",
                            0, NULL);
  assert_non_null(item);
  hitl_ls_task t;
  hitl_err err = {0};
  int rc = hitl__ls_task_read(q, item, 0, &t, &err);
  if (rc) fail_msg("%s: %s", err.field, err.message);
  assert_int_equal(t.n_answers, 12); /* Two annotators, six questions each; the cancelled one none. */
  assert_string_equal(answer(&t, "ann@x", "entities")->value,
                      "[{\"end\":3,\"label\":\"PER\",\"start\":0},{\"end\":17,\"label\":\"ORG\",\"start\":13}]");
  assert_string_equal(answer(&t, "ann@x", "links")->value, "[{\"from\":1,\"label\":\"w\",\"to\":0}]");
  assert_string_equal(answer(&t, "label-studio-user-9", "said")->value,
                      "{\"segments\":[{\"end\":1,\"start\":0,\"text\":\"hi\"}],\"text\":\"hi\\nthere\"}");
  assert_string_equal(answer(&t, "ann@x", "better")->value, "[\"b\",\"a\"]");
  assert_string_equal(answer(&t, "ann@x", "verdict")->kind, "modify");
  assert_string_equal(answer(&t, "ann@x", "verdict")->value, "\"fixed\"");
  assert_string_equal(answer(&t, "ann@x", "objects")->value,
                      "{\"boxes\":[{\"height\":5,\"label\":\"car\",\"width\":5,\"x\":1,\"y\":1},"
                      "{\"height\":5,\"label\":\"car\",\"width\":5,\"x\":50,\"y\":1}],\"image_height\":20,\"image_width\":10}");
  /* The prediction: an object of answers by question, its score and version. */
  json_t *s = t.submit;
  assert_true(json_real_value(json_object_get(s, "confidence")) == 0.25);
  assert_string_equal(json_string_value(json_object_get(s, "model_version")), "m");
  assert_string_equal(json_string_value(json_object_get(s, "external_id")), "5");
  json_t *out = json_object_get(s, "output");
  assert_int_equal(json_array_size(json_object_get(json_object_get(out, "objects"), "boxes")), 2);
  assert_string_equal(json_string_value(json_object_get(out, "verdict")), "fixed");
  assert_string_equal(json_string_value(json_object_get(json_object_get(out, "said"), "text")), "hi\nthere");
  hitl__ls_task_clear(&t);
  json_decref(item);
  hitl_queue_config_free(q);
}

/* Refusals leave nothing behind (LeakSanitizer checks it) and name the place. */
static void test_refused(void **state) {
  (void)state;
  hitl_queue_config *q = load_config();
  static const char *const bad[][2] = {
      {"{" DATA ",\"annotations\":[{\"result\":" RESULTS "},{\"result\":[{\"from_name\":\"x\",\"type\":\"choices\",\"value\":{}}]}]}",
       "[2].annotations[1].result[0].from_name"},
      {"{" DATA ",\"predictions\":[{\"result\":[{\"from_name\":\"objects\",\"type\":\"rectanglelabels\",\"value\":{\"x\":1}}]}]}",
       "[2].predictions[0].result[0].value"},
      {"{" DATA ",\"annotations\":[{\"result\":[" "{\"id\":\"s1\",\"from_name\":\"entities\",\"type\":\"labels\",\"value\":{\"start\":0,\"end\":3,\"labels\":[\"PER\"]}},"
       "{\"from_id\":\"s1\",\"to_id\":\"s1\",\"type\":\"relation\",\"labels\":[\"w\"]}]}]}",
       "[2].annotations[0].result.value[0]"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *item = json_loads(bad[i][0], 0, NULL);
    assert_non_null(item);
    hitl_ls_task t;
    hitl_err err = {0};
    assert_int_equal(hitl__ls_task_read(q, item, 2, &t, &err), HITL_EVALIDATION);
    if (strcmp(err.field, bad[i][1]) != 0) fail_msg("case %zu: field %s (%s)", i, err.field, err.message);
    assert_null(t.submit);
    assert_null(t.answers);
    json_decref(item);
  }
  hitl_queue_config_free(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_shape), cmocka_unit_test(test_refused)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
