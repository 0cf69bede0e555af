/* SPDX-License-Identifier: MIT */
/* API tests of the Label Studio round trip: a Label Studio export file imported, answered in
 * hitl, exported again and checked against Label Studio's result shapes field by field; and
 * every refusal of the import, each leaving the queue as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static test_server srv;
static char *validator;

static const char queue_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"},"
    "{\"name\":\"photo\",\"type\":\"image_url\"},{\"name\":\"recording\",\"type\":\"audio_url\"}],"
    "\"questions\":[{\"name\":\"entities\",\"type\":\"spans\",\"labels\":[\"PER\",\"ORG\"],\"field\":\"text\"},"
    "{\"name\":\"links\",\"type\":\"relations\",\"spans\":\"entities\",\"labels\":[\"works_for\"]},"
    "{\"name\":\"objects\",\"type\":\"boxes\",\"field\":\"photo\",\"labels\":[\"car\",\"person\"]},"
    "{\"name\":\"said\",\"type\":\"transcription\",\"field\":\"recording\"}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"]}}";

/* A queue with one boxes question: a prediction's boxes are the task's output. */
static const char boxes_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"photo\",\"type\":\"image_url\"}],"
    "\"questions\":[{\"name\":\"objects\",\"type\":\"boxes\",\"field\":\"photo\",\"labels\":[\"car\",\"person\"]}]}}";

static int setup(void **state) {
  (void)state;
  ts_start(&srv, NULL);
  validator = ts_token(&srv, "val", "validator");
  const char *names[] = {"ls", "ls2", "bad"};
  for (size_t i = 0; i < 3; i++) {
    char path[64];
    snprintf(path, sizeof path, "/v1/queues/%s", names[i]);
    test_resp r;
    assert_int_equal(tr(&srv, "PUT", path, ADMIN_TOKEN, queue_config, &r), 201);
    tr_free(&r);
  }
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/boxes", ADMIN_TOKEN, boxes_config, &r), 201);
  tr_free(&r);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ts_cleanup(&srv);
  free(validator);
  return 0;
}

static json_t *data(const char *text) {
  return json_pack("{ssssss}", "text", text, "photo", "https://img.example/1.jpg", "recording",
                   "https://audio.example/1.wav");
}

static json_t *rect(const char *id, const char *label, double x, double y, double w, double h) {
  return json_pack("{sssssssssisi s{sfsfsfsfsis[s]}}", "id", id, "from_name", "objects", "to_name",
                   "photo", "type", "rectanglelabels", "original_width", 640, "original_height", 480,
                   "value", "x", x, "y", y, "width", w, "height", h, "rotation", 0,
                   "rectanglelabels", label);
}

static json_t *span(const char *id, int start, int end, const char *label) {
  return json_pack("{ssssssss s{sisis[s]}}", "id", id, "from_name", "entities", "to_name", "text",
                   "type", "labels", "value", "start", start, "end", end, "labels", label);
}

/* Label Studio's export of three tasks, as its documentation describes the format: one with a
 * model's prediction only, one annotated (spans, a relation, a box, a transcript), one whose
 * only annotation was cancelled. Written to a file, as a user would have it. */
static char *write_export_file(void) {
  json_t *tasks = json_array();
  json_array_append_new(tasks, json_pack(
      "{sis o s[{sssf s[o]}] s[]}", "id", 101, "data", data("Ann works at Acme."),
      "predictions", "model_version", "det-1", "score", 0.62, "result",
      rect("p1", "car", 10, 20, 30, 40), "annotations"));
  json_t *result = json_pack(
      "[o o {ssssssss s[s]} o {ssssssss s{s[s]}}]", span("s1", 0, 3, "PER"), span("s2", 13, 17, "ORG"),
      "from_id", "s1", "to_id", "s2", "type", "relation", "direction", "right", "labels", "works_for",
      rect("b1", "person", 50, 10, 25, 60), "from_name", "said", "to_name", "recording", "type",
      "textarea", "id", "t1", "value", "text", "Ann works at Acme");
  json_array_append_new(tasks, json_pack(
      "{sis o s[{s o s{ss} sb sf}]}", "id", 102, "data", data("Ann works at Acme."),
      "annotations", "result", result, "completed_by", "email", "ann@example.com",
      "was_cancelled", 0, "lead_time", 12.5));
  json_array_append_new(tasks, json_pack(
      "{sis o s[{s[] si sb}]}", "id", 103, "data", data("Bob left."), "annotations", "result",
      "completed_by", 7, "was_cancelled", 1));
  char path[] = "/tmp/hitl-ls-export-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  assert_int_equal(json_dump_file(tasks, path, JSON_INDENT(2)), 0);
  json_decref(tasks);
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  char *text = calloc(1, 1 << 16);
  size_t n = fread(text, 1, (1 << 16) - 1, f);
  fclose(f);
  unlink(path);
  assert_true(n > 0);
  return text;
}

/* The task of an export with the given meta.task_id. */
static json_t *ls_task(json_t *tasks, const char *id) {
  size_t i;
  json_t *t;
  json_array_foreach(tasks, i, t) {
    if (strcmp(json_string_value(json_object_get(json_object_get(t, "meta"), "task_id")), id) == 0)
      return t;
  }
  fail_msg("task %s is not in the export", id);
  return NULL;
}

/* The first region of result with from_name and type (from_name NULL: any). */
static json_t *region(json_t *result, const char *from, const char *type, size_t nth) {
  size_t i;
  json_t *r;
  json_array_foreach(result, i, r) {
    const char *f = json_string_value(json_object_get(r, "from_name"));
    if ((from == NULL || (f && strcmp(f, from) == 0)) &&
        strcmp(json_string_value(json_object_get(r, "type")), type) == 0 && nth-- == 0)
      return r;
  }
  fail_msg("no %s region of %s", type, from ? from : "any");
  return NULL;
}

static void assert_number(json_t *obj, const char *key, double want) {
  json_t *v = json_object_get(obj, key);
  if (!json_is_number(v) || json_number_value(v) != want)
    fail_msg("%s: want %g", key, want);
}

static void assert_json(json_t *v, const char *want) {
  json_t *w = json_loads(want, JSON_DECODE_ANY, NULL);
  assert_non_null(w);
  if (!json_equal(v, w)) {
    char *got = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    fprintf(stderr, "got  %s\nwant %s\n", got, want);
    free(got);
    json_decref(w);
    fail_msg("JSON differs");
  }
  json_decref(w);
}

/* Checks a rectanglelabels region field by field against Label Studio's documented shape. */
static void assert_rect(json_t *r, const char *label, double x, double y, double w, double h) {
  assert_string_equal(json_string_value(json_object_get(r, "type")), "rectanglelabels");
  assert_string_equal(json_string_value(json_object_get(r, "from_name")), "objects");
  assert_string_equal(json_string_value(json_object_get(r, "to_name")), "photo");
  assert_true(json_is_string(json_object_get(r, "id")));
  assert_number(r, "original_width", 640);
  assert_number(r, "original_height", 480);
  json_t *v = json_object_get(r, "value");
  assert_number(v, "x", x);
  assert_number(v, "y", y);
  assert_number(v, "width", w);
  assert_number(v, "height", h);
  assert_number(v, "rotation", 0);
  json_t *labels = json_object_get(v, "rectanglelabels");
  assert_int_equal(json_array_size(labels), 1);
  assert_string_equal(json_string_value(json_array_get(labels, 0)), label);
}

static void test_round_trip(void **state) {
  (void)state;
  char *file = write_export_file();
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/queues/ls/import?format=label-studio", ADMIN_TOKEN, file, &r), 201);
  free(file);
  assert_int_equal(tj_int(&r, "imported"), 3);
  json_t *tasks = json_object_get(r.json, "tasks");
  assert_int_equal(json_array_size(tasks), 3);
  char *pending = strdup(json_string_value(json_object_get(json_array_get(tasks, 0), "id")));
  char *annotated = strdup(json_string_value(json_object_get(json_array_get(tasks, 1), "id")));
  char *cancelled = strdup(json_string_value(json_object_get(json_array_get(tasks, 2), "id")));
  assert_string_equal(json_string_value(json_object_get(json_array_get(tasks, 0), "state")), "pending");
  assert_string_equal(json_string_value(json_object_get(json_array_get(tasks, 1), "state")), "decided");
  assert_string_equal(json_string_value(json_object_get(json_array_get(tasks, 2), "state")), "pending");
  tr_free(&r);

  /* The prediction became the suggestion (output) and the confidence; the id the external id. */
  char path[160];
  snprintf(path, sizeof path, "/v1/tasks/%s", pending);
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  assert_json(json_object_get(r.json, "output"),
              "{\"boxes\":[{\"label\":\"car\",\"x\":10.0,\"y\":20.0,\"width\":30.0,\"height\":40.0}],"
              "\"image_width\":640,\"image_height\":480}");
  assert_true(json_real_value(json_object_get(r.json, "confidence")) == 0.62);
  assert_string_equal(tj_str(&r, "external_id"), "101");
  assert_string_equal(tj_str(&r, "model_version"), "det-1");
  tr_free(&r);

  /* The annotation became ann's answers and the decision. */
  snprintf(path, sizeof path, "/v1/tasks/%s", annotated);
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "decision.by"), "human");
  json_t *answers = json_object_get(json_object_get(r.json, "decision"), "answers");
  assert_json(json_object_get(answers, "links"),
              "{\"kind\":\"relations\",\"value\":[{\"from\":0,\"label\":\"works_for\",\"to\":1}]}");
  assert_json(json_object_get(answers, "said"),
              "{\"kind\":\"transcription\",\"value\":{\"text\":\"Ann works at Acme\"}}");
  assert_json(json_object_get(json_object_get(answers, "objects"), "value"),
              "{\"boxes\":[{\"height\":60.0,\"label\":\"person\",\"width\":25.0,\"x\":50.0,\"y\":10.0}],"
              "\"image_height\":480,\"image_width\":640}");
  assert_json(json_object_get(json_object_get(r.json, "decision"), "reviewers"), "[\"ann@example.com\"]");
  tr_free(&r);

  /* Answered in hitl: the pending task, by a validator, every new type in one body. */
  for (int k = 0; k < 2; k++) {
    assert_int_equal(tr(&srv, "POST", "/v1/queues/ls/claim", validator, NULL, &r), 200);
    char *id = strdup(tj_str(&r, "id")), body[2048];
    snprintf(body, sizeof body,
             "{\"lease_id\":\"%s\",\"answers\":["
             "{\"question\":\"entities\",\"kind\":\"spans\",\"value\":[{\"start\":0,\"end\":3,\"label\":\"PER\"},"
             "{\"start\":13,\"end\":17,\"label\":\"ORG\"}]},"
             "{\"question\":\"links\",\"kind\":\"relations\",\"value\":[{\"from\":0,\"to\":1,\"label\":\"works_for\"}]},"
             "{\"question\":\"objects\",\"kind\":\"boxes\",\"value\":{\"boxes\":[{\"label\":\"car\",\"x\":11,"
             "\"y\":20,\"width\":30,\"height\":40}],\"image_width\":640,\"image_height\":480}},"
             "{\"question\":\"said\",\"kind\":\"transcription\",\"value\":{\"text\":\"Ann works at Acme.\","
             "\"segments\":[{\"start\":0,\"end\":1.5,\"text\":\"Ann works\"},{\"start\":1.5,\"end\":2.25,"
             "\"text\":\"at Acme.\"}]}}],\"time_spent_ms\":3000}",
             tj_str(&r, "lease.id"));
    tr_free(&r);
    snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
    assert_int_equal(tr(&srv, "POST", path, validator, body, &r), 200);
    assert_string_equal(tj_str(&r, "state"), "decided");
    tr_free(&r);
    free(id);
  }

  /* Exported: every region in Label Studio's shape. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues/ls/export?format=label-studio", ADMIN_TOKEN, NULL, &r), 200);
  json_t *exported = json_loads(r.body, 0, NULL);
  char *export_text = strdup(r.body);
  tr_free(&r);
  assert_int_equal(json_array_size(exported), 3);
  json_t *t = ls_task(exported, pending);
  assert_json(json_object_get(t, "data"),
              "{\"text\":\"Ann works at Acme.\",\"photo\":\"https://img.example/1.jpg\","
              "\"recording\":\"https://audio.example/1.wav\"}");
  /* The prediction: the model's box as rectanglelabels, with its score and version. */
  json_t *pred = json_array_get(json_object_get(t, "predictions"), 0);
  assert_true(json_real_value(json_object_get(pred, "score")) == 0.62);
  assert_string_equal(json_string_value(json_object_get(pred, "model_version")), "det-1");
  assert_rect(region(json_object_get(pred, "result"), "objects", "rectanglelabels", 0), "car", 10, 20, 30, 40);
  assert_json(json_object_get(json_object_get(region(json_object_get(pred, "result"), "objects", "rectanglelabels", 0), "value"), "rectanglelabels"), "[\"car\"]");
  /* The annotation. */
  json_t *ann = json_array_get(json_object_get(t, "annotations"), 0);
  assert_string_equal(json_string_value(json_object_get(json_object_get(ann, "completed_by"), "email")), "val");
  assert_true(json_is_false(json_object_get(ann, "was_cancelled")));
  json_t *result = json_object_get(ann, "result");
  json_t *s0 = region(result, "entities", "labels", 0), *s1 = region(result, "entities", "labels", 1);
  assert_string_equal(json_string_value(json_object_get(s0, "to_name")), "text");
  assert_json(json_object_get(s0, "value"), "{\"start\":0,\"end\":3,\"text\":\"Ann\",\"labels\":[\"PER\"]}");
  assert_json(json_object_get(s1, "value"), "{\"start\":13,\"end\":17,\"text\":\"Acme\",\"labels\":[\"ORG\"]}");
  json_t *rel = region(result, NULL, "relation", 0);
  assert_string_equal(json_string_value(json_object_get(rel, "from_id")), json_string_value(json_object_get(s0, "id")));
  assert_string_equal(json_string_value(json_object_get(rel, "to_id")), json_string_value(json_object_get(s1, "id")));
  assert_string_equal(json_string_value(json_object_get(rel, "direction")), "right");
  assert_json(json_object_get(rel, "labels"), "[\"works_for\"]");
  assert_null(json_object_get(rel, "from_name"));
  json_t *box = region(result, "objects", "rectanglelabels", 0);
  assert_rect(box, "car", 11, 20, 30, 40);
  assert_json(json_object_get(json_object_get(box, "value"), "rectanglelabels"), "[\"car\"]");
  json_t *said = region(result, "said", "textarea", 0);
  assert_string_equal(json_string_value(json_object_get(said, "to_name")), "recording");
  assert_json(json_object_get(said, "value"), "{\"text\":[\"Ann works at Acme.\"]}");
  assert_json(json_object_get(region(result, "said", "textarea", 1), "value"),
              "{\"start\":0,\"end\":1.5,\"text\":[\"Ann works\"]}");
  assert_json(json_object_get(region(result, "said", "textarea", 2), "value"),
              "{\"start\":1.5,\"end\":2.25,\"text\":[\"at Acme.\"]}");
  /* Region ids are unique within the annotation. */
  for (size_t i = 0; i < json_array_size(result); i++)
    for (size_t j = 0; j < i; j++) {
      const char *a = json_string_value(json_object_get(json_array_get(result, i), "id"));
      const char *b = json_string_value(json_object_get(json_array_get(result, j), "id"));
      assert_true(a == NULL || b == NULL || strcmp(a, b) != 0);
    }

  /* The imported annotation goes out as it came in, by its annotator. */
  t = ls_task(exported, annotated);
  ann = json_array_get(json_object_get(t, "annotations"), 0);
  assert_string_equal(json_string_value(json_object_get(json_object_get(ann, "completed_by"), "email")), "ann@example.com");
  result = json_object_get(ann, "result");
  assert_rect(region(result, "objects", "rectanglelabels", 0), "person", 50, 10, 25, 60);
  rel = region(result, NULL, "relation", 0);
  assert_string_equal(json_string_value(json_object_get(rel, "from_id")),
                      json_string_value(json_object_get(region(result, "entities", "labels", 0), "id")));
  json_decref(exported);

  /* And what hitl exported imports again: the decided tasks come back decided, the same. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/ls2/import", ADMIN_TOKEN, export_text, &r), 201);
  free(export_text);
  assert_int_equal(tj_int(&r, "imported"), 3);
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/ls2/tasks?state=decided", ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "tasks")), 3);
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/ls2/export?format=labels", ADMIN_TOKEN, NULL, &r), 200);
  assert_non_null(strstr(r.body, "\"links\":[{\"from\":0,\"label\":\"works_for\",\"to\":1}]"));
  assert_non_null(strstr(r.body, "\"said\":{\"segments\":[{\"end\":1.5,\"start\":0,\"text\":\"Ann works\"},"
                                 "{\"end\":2.25,\"start\":1.5,\"text\":\"at Acme.\"}],\"text\":\"Ann works at Acme.\"}"));
  tr_free(&r);
  free(pending);
  free(annotated);
  free(cancelled);
}

/* A one-question boxes queue: the prediction is the output, and goes out as it came in. */
static void test_prediction_is_output(void **state) {
  (void)state;
  test_resp r;
  const char *body =
      "[{\"data\":{\"photo\":\"https://img.example/2.jpg\"},\"predictions\":[{\"score\":0.3,\"result\":["
      "{\"id\":\"a\",\"from_name\":\"objects\",\"to_name\":\"photo\",\"type\":\"rectanglelabels\","
      "\"original_width\":100,\"original_height\":50,\"value\":{\"x\":0,\"y\":0,\"width\":50,\"height\":50,"
      "\"rotation\":0,\"rectanglelabels\":[\"car\"]}},"
      "{\"id\":\"b\",\"from_name\":\"objects\",\"to_name\":\"photo\",\"type\":\"rectanglelabels\","
      "\"original_width\":100,\"original_height\":50,\"value\":{\"x\":50,\"y\":50,\"width\":50,\"height\":50,"
      "\"rectanglelabels\":[\"person\"]}}]}]}]";
  assert_int_equal(tr(&srv, "POST", "/v1/queues/boxes/import", ADMIN_TOKEN, body, &r), 201);
  char path[160];
  snprintf(path, sizeof path, "/v1/tasks/%s", json_string_value(json_object_get(json_array_get(json_object_get(r.json, "tasks"), 0), "id")));
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  assert_json(json_object_get(r.json, "output"),
              "{\"boxes\":[{\"label\":\"car\",\"x\":0,\"y\":0,\"width\":50,\"height\":50},"
              "{\"label\":\"person\",\"x\":50,\"y\":50,\"width\":50,\"height\":50}],"
              "\"image_width\":100,\"image_height\":50}");
  tr_free(&r);
}

/* Posts body to queue "bad" and expects 400 naming field with part in the message. */
static void refused(const char *query, const char *body, const char *field, const char *part) {
  test_resp r;
  char path[128];
  snprintf(path, sizeof path, "/v1/queues/bad/import%s", query);
  long st = tr(&srv, "POST", path, ADMIN_TOKEN, body, &r);
  const char *f = tj_str(&r, "error.field"), *m = tj_str(&r, "error.message");
  if (st != 400 || (field && (f == NULL || strcmp(f, field) != 0)) || m == NULL || strstr(m, part) == NULL)
    fail_msg("%s: got %ld %s; want field %s with \"%s\"", body, st, r.body, field ? field : "(none)", part);
  assert_string_equal(tj_str(&r, "error.code"), "validation_failed");
  tr_free(&r);
}

#define D "\"data\":{\"text\":\"Ann works at Acme.\",\"photo\":\"p\",\"recording\":\"r\"}"
#define GOOD "{" D "}"
#define ANN(results) "{" D ",\"annotations\":[{\"completed_by\":1,\"result\":[" results "]}]}"
#define RECT(x, w, label) \
  "{\"id\":\"b\",\"from_name\":\"objects\",\"to_name\":\"photo\",\"type\":\"rectanglelabels\"," \
  "\"original_width\":640,\"original_height\":480,\"value\":{\"x\":" #x ",\"y\":0,\"width\":" #w \
  ",\"height\":10,\"rectanglelabels\":[\"" label "\"]}}"
#define SPAN(id, s, e) \
  "{\"id\":\"" id "\",\"from_name\":\"entities\",\"to_name\":\"text\",\"type\":\"labels\",\"value\":" \
  "{\"start\":" #s ",\"end\":" #e ",\"labels\":[\"PER\"]}}"

static void test_refusals(void **state) {
  (void)state;
  refused("?format=csv", "[" GOOD "]", "format", "format must be label-studio");
  refused("", "{\"tasks\":[]}", NULL, "an import is a JSON array of 1 to 1000");
  refused("", "[]", NULL, "an import is a JSON array of 1 to 1000");
  refused("", "[" GOOD ",7]", "[1]", "a Label Studio task must be an object");
  refused("", "[" GOOD ",{\"id\":3}]", "[1].data", "data is required");
  /* A task that does not fit the schema: refused whole, naming the first such task. */
  refused("", "[" GOOD "," GOOD ",{\"data\":{\"text\":\"x\",\"recording\":\"r\"}}," GOOD "]", "[2].data.photo",
          "field \"photo\" of the queue's schema is missing from data");
  refused("", "[{" D ",\"predictions\":{}}]", "[0].predictions", "predictions must be an array");
  refused("", "[{" D ",\"predictions\":[{\"result\":[{\"from_name\":\"nope\",\"type\":\"choices\",\"value\":{}}]}]}]",
          "[0].predictions[0].result[0].from_name", "\"nope\" is not a question of this queue");
  refused("", "[{" D ",\"predictions\":[{\"score\":1.5,\"result\":[]}]}]", "[0].confidence", "confidence");
  refused("", "[{" D ",\"annotations\":7}]", "[0].annotations", "annotations must be an array");
  refused("", "[{" D ",\"annotations\":[{\"completed_by\":[1],\"result\":[]}]}]",
          "[0].annotations[0].completed_by", "completed_by must be");
  refused("", "[{" D ",\"annotations\":[{\"result\":{}}]}]", "[0].annotations[0].result",
          "result must be an array");
  refused("", "[" ANN("7") "]", "[0].annotations[0].result[0]", "a result must be an object");
  refused("", "[" ANN("{\"from_name\":\"objects\",\"type\":\"rectanglelabels\",\"value\":3}") "]",
          "[0].annotations[0].result[0].value", "value must be an object");
  refused("", "[" ANN("{\"from_name\":\"objects\",\"type\":\"choices\",\"value\":{\"choices\":[\"x\"]}}") "]",
          "[0].annotations[0].result[0].type", "a choices result does not answer question \"objects\" (boxes)");
  /* Boxes outside the image, with a negative size or an unknown label name the box. */
  refused("", "[" GOOD "," ANN(RECT(1, 5, "car") "," RECT(90, 20, "car")) "]",
          "[1].annotations[0].result.value.boxes[1]", "question \"objects\", value.boxes[1]: box 1: the box must lie inside the image");
  refused("", "[" ANN(RECT(10, -5, "car")) "]", "[0].annotations[0].result.value.boxes[0]",
          "width and height must be greater than 0");
  refused("", "[" ANN(RECT(10, 5, "truck")) "]", "[0].annotations[0].result.value.boxes[0].label",
          "the label must be one of the labels of question \"objects\"");
  refused("", "[" ANN("{\"from_name\":\"objects\",\"type\":\"rectanglelabels\",\"value\":{\"x\":1,\"y\":1,"
                      "\"width\":1,\"height\":1,\"rectanglelabels\":[\"car\"]}}") "]",
          "[0].annotations[0].result.value.image_width", "image_width is required");
  refused("", "[" ANN("{\"from_name\":\"objects\",\"type\":\"rectanglelabels\",\"original_width\":9,"
                      "\"original_height\":9,\"value\":{\"x\":1,\"y\":1,\"width\":1}}") "]",
          "[0].annotations[0].result[0].value", "a rectanglelabels result needs x, y, width, height");
  /* Relations must link span regions of the same annotation, with a known label. */
  refused("", "[" ANN(SPAN("s1", 0, 3) ",{\"from_id\":\"s1\",\"to_id\":\"zz\",\"type\":\"relation\",\"labels\":[\"works_for\"]}") "]",
          "[0].annotations[0].result[1]", "from_id and to_id must name span regions");
  refused("", "[" ANN(SPAN("s1", 0, 3) "," SPAN("s2", 4, 9) ",{\"from_id\":\"s1\",\"to_id\":\"s2\",\"type\":\"relation\",\"labels\":[\"knows\"]}") "]",
          "[0].annotations[0].result.value[0]", "the label is not one of the question's labels");
  refused("", "[" ANN(SPAN("s1", 5, 3)) "]", "[0].annotations[0].result.value[0].end",
          "end must be an integer greater than start");
  refused("", "[" ANN("{\"from_name\":\"said\",\"type\":\"textarea\",\"value\":{\"text\":[1]}}") "]",
          "[0].annotations[0].result.value.text", "text is required");

  /* Nothing of the refused imports was stored. */
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/v1/queues/bad/tasks", ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "tasks")), 0);
  tr_free(&r);

  /* Who may import, and where. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/bad/import", validator, "[" GOOD "]", &r), 403);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/nope/import", ADMIN_TOKEN, "[" GOOD "]", &r), 404);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/bad/import", ADMIN_TOKEN, "[" GOOD, &r), 400);
  assert_string_equal(tj_str(&r, "error.code"), "invalid_json");
  tr_free(&r);
  /* More than 1000 tasks. */
  size_t cap = 1001 * (sizeof GOOD + 1) + 8, used = 0;
  char *many = malloc(cap);
  many[used++] = '[';
  for (int i = 0; i < 1001; i++) used += (size_t)snprintf(many + used, cap - used, "%s" GOOD, i ? "," : "");
  snprintf(many + used, cap - used, "]");
  refused("", many, NULL, "1 to 1000 Label Studio tasks");
  free(many);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_prediction_is_output),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
