/* SPDX-License-Identifier: MIT */
/* Tests of response body validation: each kind per question type, valid and invalid, both forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/answer_json.h"
#include "api/queue_json.h"

/* One question of every type. */
static const char *multi_config =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],\"questions\":["
    "{\"name\":\"verdict\",\"type\":\"approve\"},"
    "{\"name\":\"category\",\"type\":\"label\",\"labels\":[\"spam\",\"ham\"]},"
    "{\"name\":\"tags\",\"type\":\"labels\",\"labels\":[\"urgent\",\"billing\"]},"
    "{\"name\":\"quality\",\"type\":\"rating\"},"
    "{\"name\":\"better\",\"type\":\"preference\"},"
    "{\"name\":\"fixed\",\"type\":\"text\"},"
    "{\"name\":\"entities\",\"type\":\"spans\",\"labels\":[\"PER\",\"ORG\"],\"field\":\"text\"}"
    "]}}";

typedef struct fixture {
  hitl_queue_config *multi;  /* multi_config. */
  hitl_queue_config *single; /* The default: one approve question, "verdict". */
} fixture;

static json_t *load(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  if (j == NULL) fail_msg("bad test JSON: %s: %s", je.text, text);
  return j;
}

static hitl_queue_config *config(const char *text) {
  json_t *j = load(text);
  hitl_queue_config *q = NULL;
  hitl_err err = {0};
  if (hitl__queue_config_from_json(j, &q, &err) != 0) fail_msg("config: %s", err.message);
  json_decref(j);
  return q;
}

static int setup(void **state) {
  fixture *f = calloc(1, sizeof *f);
  f->multi = config(multi_config);
  f->single = config("{}");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  hitl_queue_config_free(f->multi);
  hitl_queue_config_free(f->single);
  free(f);
  return 0;
}

/* Validates text against q, which must succeed; the caller clears *a. */
static void ok(const hitl_queue_config *q, const char *text, hitl_answers *a) {
  json_t *j = load(text);
  hitl_err err = {0};
  int rc = hitl__answers_from_json(q, j, a, &err);
  json_decref(j);
  if (rc != 0) fail_msg("%s: unexpected error at \"%s\": %s", text, err.field, err.message);
}

/* Validates one answer and checks the response's question, kind and value. */
static void ok1(const hitl_queue_config *q, const char *text, const char *question,
                const char *kind, const char *value) {
  hitl_answers a;
  ok(q, text, &a);
  assert_int_equal(a.n, 1);
  if (question) assert_string_equal(a.responses[0].question, question);
  else assert_null(a.responses[0].question);
  assert_string_equal(a.responses[0].kind, kind);
  if (value) assert_string_equal(a.responses[0].value, value);
  else assert_null(a.responses[0].value);
  hitl__answers_clear(&a);
}

static void bad_json(const hitl_queue_config *q, json_t *body, const char *field,
                     const char *part) {
  hitl_answers a;
  hitl_err err = {0};
  int rc = hitl__answers_from_json(q, body, &a, &err);
  char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
  if (rc != HITL_EVALIDATION || strcmp(err.field, field) != 0 || strstr(err.message, part) == NULL)
    fail_msg("body %s: got rc %d field \"%s\" message \"%s\"; want field \"%s\" message with "
             "\"%s\"",
             text, rc, err.field, err.message, field, part);
  free(text);
  /* Nothing is left behind in a failed result. */
  assert_null(a.lease_id);
  assert_null(a.comment);
  assert_null(a.responses);
  assert_int_equal(a.n, 0);
}

static void bad(const hitl_queue_config *q, const char *text, const char *field,
                const char *part) {
  json_t *j = load(text);
  bad_json(q, j, field, part);
  json_decref(j);
}

#define L "\"lease_id\":\"l_1\","

static void test_approve_question(void **state) {
  fixture *f = *state;
  /* A single question may be left unnamed. */
  ok1(f->single, "{" L "\"kind\":\"approve\"}", "verdict", "approve", NULL);
  ok1(f->single, "{" L "\"kind\":\"reject\",\"value\":null}", "verdict", "reject", NULL);
  ok1(f->single,
      "{" L "\"question\":\"verdict\",\"kind\":\"modify\",\"value\":{\"b\":1,\"a\":[2]}}",
      "verdict", "modify", "{\"a\":[2],\"b\":1}");
  ok1(f->single, "{" L "\"kind\":\"modify\",\"value\":\"new text\"}", "verdict", "modify",
      "\"new text\"");
  ok1(f->multi, "{" L "\"question\":\"verdict\",\"kind\":\"approve\"}", "verdict", "approve",
      NULL);

  bad(f->single, "{" L "\"kind\":\"approve\",\"value\":1}", "value", "approve takes no value");
  bad(f->single, "{" L "\"kind\":\"reject\",\"value\":\"no\"}", "value", "reject takes no value");
  bad(f->single, "{" L "\"kind\":\"modify\"}", "value",
      "value is required for kind modify: the corrected output");
  bad(f->single, "{" L "\"kind\":\"label\",\"value\":\"x\"}", "kind",
      "kind \"label\" does not answer question \"verdict\" (approve); it takes approve, reject, "
      "modify");
  bad(f->single, "{" L "\"kind\":\"accept\"}", "kind", "it takes approve, reject, modify");
}

static void test_label_question(void **state) {
  fixture *f = *state;
  ok1(f->multi, "{" L "\"question\":\"category\",\"kind\":\"label\",\"value\":\"ham\"}", "category",
      "label", "\"ham\"");
  bad(f->multi, "{" L "\"question\":\"category\",\"kind\":\"label\",\"value\":\"eggs\"}", "value",
      "\"eggs\" is not a label of question \"category\"; use one of \"spam\", \"ham\"");
  bad(f->multi, "{" L "\"question\":\"category\",\"kind\":\"label\",\"value\":[\"spam\"]}",
      "value", "must be a string");
  bad(f->multi, "{" L "\"question\":\"category\",\"kind\":\"label\"}", "value",
      "value is required for kind label");
  bad(f->multi, "{" L "\"question\":\"category\",\"kind\":\"labels\",\"value\":[\"spam\"]}", "kind",
      "it takes label,");
  bad(f->multi, "{" L "\"question\":\"category\",\"kind\":\"approve\"}", "kind", "it takes label,");
}

static void test_labels_question(void **state) {
  fixture *f = *state;
  ok1(f->multi,
      "{" L "\"question\":\"tags\",\"kind\":\"labels\",\"value\":[\"billing\",\"urgent\"]}",
      "tags", "labels", "[\"billing\",\"urgent\"]");
  ok1(f->multi, "{" L "\"question\":\"tags\",\"kind\":\"labels\",\"value\":[]}", "tags", "labels",
      "[]");
  bad(f->multi, "{" L "\"question\":\"tags\",\"kind\":\"labels\",\"value\":\"urgent\"}", "value",
      "value must be an array of distinct labels of question \"tags\"");
  bad(f->multi,
      "{" L "\"question\":\"tags\",\"kind\":\"labels\",\"value\":[\"urgent\",\"urgent\"]}",
      "value[1]", "label \"urgent\" is given twice");
  bad(f->multi, "{" L "\"question\":\"tags\",\"kind\":\"labels\",\"value\":[\"urgent\",\"spam\"]}",
      "value[1]", "\"spam\" is not a label of question \"tags\"");
  bad(f->multi, "{" L "\"question\":\"tags\",\"kind\":\"labels\",\"value\":[1]}", "value[0]",
      "must be a string");
  bad(f->multi, "{" L "\"question\":\"tags\",\"kind\":\"label\",\"value\":\"urgent\"}", "kind",
      "it takes labels,");
}

static void test_rating_question(void **state) {
  fixture *f = *state;
  ok1(f->multi, "{" L "\"question\":\"quality\",\"kind\":\"rating\",\"value\":1}", "quality",
      "rating", "1");
  ok1(f->multi, "{" L "\"question\":\"quality\",\"kind\":\"rating\",\"value\":5}", "quality",
      "rating", "5");
  const char *wrong[] = {"0", "6", "2.5", "\"3\"", "true", "-1"};
  for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
    char body[200];
    snprintf(body, sizeof body,
             "{" L "\"question\":\"quality\",\"kind\":\"rating\",\"value\":%s}", wrong[i]);
    bad(f->multi, body, "value", "value must be an integer from 1 to 5");
  }
  bad(f->multi, "{" L "\"question\":\"quality\",\"kind\":\"rating\"}", "value",
      "value is required");
  bad(f->multi, "{" L "\"question\":\"quality\",\"kind\":\"label\",\"value\":\"5\"}", "kind",
      "it takes rating,");

  /* The question's own max bounds the value. */
  hitl_queue_config *q =
      config("{\"schema\":{\"questions\":[{\"name\":\"q\",\"type\":\"rating\",\"max\":10}]}}");
  ok1(q, "{" L "\"kind\":\"rating\",\"value\":10}", "q", "rating", "10");
  bad(q, "{" L "\"kind\":\"rating\",\"value\":11}", "value", "from 1 to 10");
  hitl_queue_config_free(q);
}

static void test_preference_question(void **state) {
  fixture *f = *state;
  ok1(f->multi, "{" L "\"question\":\"better\",\"kind\":\"ranking\",\"value\":[\"b\",\"a\"]}",
      "better", "ranking", "[\"b\",\"a\"]");
  bad(f->multi, "{" L "\"question\":\"better\",\"kind\":\"ranking\",\"value\":[\"a\"]}", "value",
      "value must be an array of 2 to 1000 distinct candidate names, best first");
  bad(f->multi, "{" L "\"question\":\"better\",\"kind\":\"ranking\",\"value\":\"a\"}", "value",
      "2 to 1000 distinct candidate names");
  bad(f->multi, "{" L "\"question\":\"better\",\"kind\":\"ranking\",\"value\":[\"a\",\"a\"]}",
      "value[1]", "candidate \"a\" is ranked twice");
  bad(f->multi, "{" L "\"question\":\"better\",\"kind\":\"ranking\",\"value\":[\"a\",\"\"]}",
      "value[1]", "a candidate name must be a string of 1 to 256 bytes");
  bad(f->multi, "{" L "\"question\":\"better\",\"kind\":\"ranking\",\"value\":[\"a\",2]}",
      "value[1]", "a candidate name must be a string");
  bad(f->multi, "{" L "\"question\":\"better\",\"kind\":\"label\",\"value\":\"a\"}", "kind",
      "it takes ranking,");
}

static void test_text_question(void **state) {
  fixture *f = *state;
  ok1(f->multi,
      "{" L "\"question\":\"fixed\",\"kind\":\"text\",\"value\":\"Better \\\"reply\\\"\"}",
      "fixed", "text", "\"Better \\\"reply\\\"\"");
  ok1(f->multi, "{" L "\"question\":\"fixed\",\"kind\":\"text\",\"value\":\"\"}", "fixed", "text",
      "\"\"");
  bad(f->multi, "{" L "\"question\":\"fixed\",\"kind\":\"text\",\"value\":5}", "value",
      "value must be a string of at most 100000 bytes");
  bad(f->multi, "{" L "\"question\":\"fixed\",\"kind\":\"modify\",\"value\":\"x\"}", "kind",
      "it takes text,");

  char *big = malloc(100002);
  memset(big, 'a', 100001);
  big[100001] = '\0';
  json_t *b = json_pack("{s:s,s:s,s:s,s:s}", "lease_id", "l", "question", "fixed", "kind", "text",
                        "value", big);
  bad_json(f->multi, b, "value", "at most 100000 bytes");
  json_object_set_new(b, "value", json_stringn(big, 100000));
  hitl_answers a;
  hitl_err err;
  assert_int_equal(hitl__answers_from_json(f->multi, b, &a, &err), 0);
  assert_int_equal(strlen(a.responses[0].value), 100002);
  hitl__answers_clear(&a);
  json_decref(b);
  free(big);
}

static void test_spans_question(void **state) {
  fixture *f = *state;
  ok1(f->multi,
      "{" L "\"question\":\"entities\",\"kind\":\"spans\",\"value\":[{\"start\":0,\"end\":4,"
      "\"label\":\"PER\"},{\"label\":\"ORG\",\"start\":10,\"end\":12}]}",
      "entities", "spans",
      "[{\"end\":4,\"label\":\"PER\",\"start\":0},{\"end\":12,\"label\":\"ORG\",\"start\":10}]");
  ok1(f->multi, "{" L "\"question\":\"entities\",\"kind\":\"spans\",\"value\":[]}", "entities",
      "spans", "[]");
#define S(v) "{" L "\"question\":\"entities\",\"kind\":\"spans\",\"value\":" v "}"
  bad(f->multi, S("{}"), "value", "value must be an array of at most 10000 spans");
  bad(f->multi, S("[5]"), "value[0]", "a span must be an object");
  bad(f->multi, S("[{\"start\":-1,\"end\":2,\"label\":\"PER\"}]"), "value[0].start",
      "start must be an integer >= 0");
  bad(f->multi, S("[{\"end\":2,\"label\":\"PER\"}]"), "value[0].start", "start must be an integer");
  bad(f->multi, S("[{\"start\":1.5,\"end\":2,\"label\":\"PER\"}]"), "value[0].start",
      "start must be an integer");
  bad(f->multi, S("[{\"start\":0,\"end\":1,\"label\":\"PER\"},{\"start\":3,\"end\":3,\"label\":"
                  "\"PER\"}]"),
      "value[1].end", "end must be an integer greater than start");
  bad(f->multi, S("[{\"start\":3,\"label\":\"PER\"}]"), "value[0].end",
      "end must be an integer greater than start");
  bad(f->multi, S("[{\"start\":0,\"end\":2,\"label\":\"LOC\"}]"), "value[0].label",
      "\"LOC\" is not a label of question \"entities\"; use one of \"PER\", \"ORG\"");
  bad(f->multi, S("[{\"start\":0,\"end\":2}]"), "value[0].label", "must be a string");
  bad(f->multi, S("[{\"start\":0,\"end\":2,\"label\":\"PER\",\"text\":\"Ann\"}]"), "value[0].text",
      "unknown key \"text\" in a span");
#undef S
  bad(f->multi, "{" L "\"question\":\"entities\",\"kind\":\"labels\",\"value\":[\"PER\"]}", "kind",
      "it takes spans,");
}


/* Boxes, transcription and relations questions. */
static const char *media_config =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"},{\"name\":\"photo\",\"type\":"
    "\"image_url\"},{\"name\":\"rec\",\"type\":\"audio_url\"}],\"questions\":["
    "{\"name\":\"entities\",\"type\":\"spans\",\"labels\":[\"PER\",\"ORG\"],\"field\":\"text\"},"
    "{\"name\":\"links\",\"type\":\"relations\",\"spans\":\"entities\",\"labels\":[\"works_for\"]},"
    "{\"name\":\"objects\",\"type\":\"boxes\",\"field\":\"photo\",\"labels\":[\"car\",\"person\"]},"
    "{\"name\":\"said\",\"type\":\"transcription\",\"field\":\"rec\"}]}}";

static void test_boxes_question(void **state) {
  (void)state;
  hitl_queue_config *q = config(media_config);
#define B(v) "{" L "\"question\":\"objects\",\"kind\":\"boxes\",\"value\":" v "}"
#define IMG ",\"image_width\":640,\"image_height\":480}"
  ok1(q, B("{\"boxes\":[{\"label\":\"car\",\"x\":10,\"y\":20.5,\"width\":30,\"height\":40}]" IMG),
      "objects", "boxes",
      "{\"boxes\":[{\"height\":40,\"label\":\"car\",\"width\":30,\"x\":10,\"y\":20.5}],"
      "\"image_height\":480,\"image_width\":640}");
  /* A box touching the right and bottom edges is inside. */
  ok1(q, B("{\"boxes\":[{\"label\":\"person\",\"x\":50,\"y\":0,\"width\":50,\"height\":100}]" IMG),
      "objects", "boxes",
      "{\"boxes\":[{\"height\":100,\"label\":\"person\",\"width\":50,\"x\":50,\"y\":0}],"
      "\"image_height\":480,\"image_width\":640}");
  ok1(q, B("{\"boxes\":[]" IMG), "objects", "boxes",
      "{\"boxes\":[],\"image_height\":480,\"image_width\":640}");
  bad(q, B("[]"), "value", "value must be an object {\"boxes\"");
  bad(q, B("{\"boxes\":[]}"), "value.image_width", "image_width is required: the image's natural size");
  bad(q, B("{\"boxes\":[],\"image_width\":0,\"image_height\":480}"), "value.image_width", "an integer from 1");
  bad(q, B("{\"boxes\":[],\"image_width\":640,\"image_height\":4.5}"), "value.image_height", "image_height is required");
  bad(q, B("{\"boxes\":{}" IMG), "value.boxes", "boxes must be an array of at most 500 boxes");
  bad(q, B("{\"boxes\":[],\"rotation\":0" IMG), "value.rotation", "unknown key \"rotation\" in a boxes answer");
  bad(q, B("{\"boxes\":[7]" IMG), "value.boxes[0]", "a box must be an object");
  bad(q, B("{\"boxes\":[{\"label\":\"car\",\"x\":10,\"y\":20,\"width\":30}]" IMG),
      "value.boxes[0].height", "height is required: a number");
  bad(q, B("{\"boxes\":[{\"label\":\"car\",\"x\":\"10\",\"y\":20,\"width\":30,\"height\":5}]" IMG),
      "value.boxes[0].x", "x is required: a number");
  /* Outside the image, negative or empty sizes, unknown labels: each names the box. */
  bad(q, B("{\"boxes\":[{\"label\":\"car\",\"x\":1,\"y\":1,\"width\":1,\"height\":1},"
           "{\"label\":\"car\",\"x\":80,\"y\":20,\"width\":30,\"height\":10}]" IMG),
      "value.boxes[1]", "box 1: the box must lie inside the image");
  bad(q, B("{\"boxes\":[{\"label\":\"car\",\"x\":-1,\"y\":20,\"width\":30,\"height\":10}]" IMG),
      "value.boxes[0]", "box 0: x and y must be from 0 to 100");
  bad(q, B("{\"boxes\":[{\"label\":\"car\",\"x\":10,\"y\":101,\"width\":30,\"height\":10}]" IMG),
      "value.boxes[0]", "x and y must be from 0 to 100");
  bad(q, B("{\"boxes\":[{\"label\":\"car\",\"x\":10,\"y\":20,\"width\":-5,\"height\":10}]" IMG),
      "value.boxes[0]", "box 0: width and height must be greater than 0");
  bad(q, B("{\"boxes\":[{\"label\":\"car\",\"x\":10,\"y\":20,\"width\":5,\"height\":0}]" IMG),
      "value.boxes[0]", "width and height must be greater than 0");
  bad(q, B("{\"boxes\":[{\"label\":\"car\",\"x\":10,\"y\":20,\"width\":5,\"height\":90}]" IMG),
      "value.boxes[0]", "y + height at most 100");
  bad(q, B("{\"boxes\":[{\"label\":\"truck\",\"x\":10,\"y\":20,\"width\":5,\"height\":9}]" IMG),
      "value.boxes[0].label", "box 0: the label must be one of the labels of question \"objects\"");
  bad(q, B("{\"boxes\":[{\"x\":10,\"y\":20,\"width\":5,\"height\":9}]" IMG), "value.boxes[0].label",
      "the label must be one of");
  bad(q, B("{\"boxes\":[{\"label\":\"car\",\"x\":10,\"y\":20,\"width\":5,\"height\":9,\"score\":1}]" IMG),
      "value.boxes[0].score", "unknown key \"score\" in a box");
#undef IMG
#undef B
  bad(q, "{" L "\"question\":\"objects\",\"kind\":\"spans\",\"value\":[]}", "kind", "it takes boxes,");
  hitl_queue_config_free(q);
}

static void test_transcription_question(void **state) {
  (void)state;
  hitl_queue_config *q = config(media_config);
#define T(v) "{" L "\"question\":\"said\",\"kind\":\"transcription\",\"value\":" v "}"
  ok1(q, T("{\"text\":\"hello there\"}"), "said", "transcription", "{\"text\":\"hello there\"}");
  ok1(q, T("{\"text\":\"hi\",\"segments\":[{\"start\":0,\"end\":0.5,\"text\":\"hi\"}]}"), "said",
      "transcription", "{\"segments\":[{\"end\":0.5,\"start\":0,\"text\":\"hi\"}],\"text\":\"hi\"}");
  bad(q, T("\"hello\""), "value", "value must be an object {\"text\", \"segments\"}");
  bad(q, T("{}"), "value.text", "text is required: a string");
  bad(q, T("{\"text\":3}"), "value.text", "text is required");
  bad(q, T("{\"text\":\"a\",\"lang\":\"en\"}"), "value.lang", "unknown key \"lang\" in a transcription");
  bad(q, T("{\"text\":\"a\",\"segments\":{}}"), "value.segments", "segments must be an array");
  bad(q, T("{\"text\":\"a\",\"segments\":[1]}"), "value.segments[0]", "a segment must be an object");
  bad(q, T("{\"text\":\"a\",\"segments\":[{\"start\":0,\"text\":\"a\"}]}"), "value.segments[0].end",
      "end is required: a number");
  bad(q, T("{\"text\":\"a\",\"segments\":[{\"start\":2,\"end\":1,\"text\":\"a\"}]}"),
      "value.segments[0]", "segment 0: times are seconds with 0 <= start < end");
  bad(q, T("{\"text\":\"a\",\"segments\":[{\"start\":-1,\"end\":1,\"text\":\"a\"}]}"),
      "value.segments[0]", "0 <= start < end");
  bad(q, T("{\"text\":\"a\",\"segments\":[{\"start\":0,\"end\":1}]}"), "value.segments[0].text",
      "segment 0: text is required");
#undef T
  hitl_queue_config_free(q);
}

static void test_relations_question(void **state) {
  (void)state;
  hitl_queue_config *q = config(media_config);
#define SP "{\"question\":\"entities\",\"kind\":\"spans\",\"value\":[{\"start\":0,\"end\":3," \
           "\"label\":\"PER\"},{\"start\":13,\"end\":17,\"label\":\"ORG\"}]}"
#define R(v) "{" L "\"answers\":[" SP ",{\"question\":\"links\",\"kind\":\"relations\",\"value\":" v "}]}"
  hitl_answers a;
  ok(q, R("[{\"from\":0,\"to\":1,\"label\":\"works_for\"}]"), &a);
  assert_int_equal(a.n, 2);
  assert_string_equal(a.responses[1].kind, "relations");
  assert_string_equal(a.responses[1].value, "[{\"from\":0,\"label\":\"works_for\",\"to\":1}]");
  hitl__answers_clear(&a);
  /* The relations answer may come first in the body. */
  ok(q, "{" L "\"answers\":[{\"question\":\"links\",\"kind\":\"relations\",\"value\":[]}," SP "]}", &a);
  hitl__answers_clear(&a);
  bad(q, R("{}"), "answers[1].value", "value must be an array of at most 1000 relations");
  bad(q, R("[3]"), "answers[1].value[0]", "a relation must be an object");
  bad(q, R("[{\"from\":-1,\"to\":1,\"label\":\"works_for\"}]"), "answers[1].value[0]",
      "relation 0: from and to must be integers >= 0");
  bad(q, R("[{\"from\":0,\"to\":1}]"), "answers[1].value[0]", "relation 0: label must be a string");
  bad(q, R("[{\"from\":0,\"to\":1,\"label\":\"x\",\"dir\":1}]"), "answers[1].value[0].dir",
      "unknown key \"dir\" in a relation");
  /* What they point at. */
  bad(q, R("[{\"from\":0,\"to\":1,\"label\":\"works_for\"},{\"from\":0,\"to\":2,\"label\":\"works_for\"}]"),
      "answers[1].value[1]", "relation 1 of question \"links\": from and to must be indexes into the "
      "spans answer given in the same body (the spans answer to \"entities\" has 2 spans)");
  bad(q, R("[{\"from\":1,\"to\":1,\"label\":\"works_for\"}]"), "answers[1].value[0]",
      "a relation links two different spans");
  bad(q, R("[{\"from\":0,\"to\":1,\"label\":\"knows\"}]"), "answers[1].value[0]",
      "the label is not one of the question's labels");
  bad(q, R("[{\"from\":0,\"to\":1,\"label\":\"works_for\"},{\"from\":0,\"to\":1,\"label\":\"works_for\"}]"),
      "answers[1].value[1]", "the same link is given twice");
  /* Without the spans answer in the same body. */
  bad(q, "{" L "\"question\":\"links\",\"kind\":\"relations\",\"value\":[]}", "value",
      "relations of question \"links\" link spans: give them in the same body as a spans answer to "
      "question \"entities\"");
  bad(q, "{" L "\"answers\":[{\"question\":\"links\",\"kind\":\"relations\",\"value\":[]},"
      "{\"question\":\"said\",\"kind\":\"transcription\",\"value\":{\"text\":\"\"}}]}",
      "answers[0].value", "give them in the same body");
#undef R
#undef SP
  hitl_queue_config_free(q);
}

static void test_skip_and_escalate(void **state) {
  fixture *f = *state;
  /* With several questions an unnamed skip is about the whole task. */
  ok1(f->multi, "{" L "\"kind\":\"skip\"}", NULL, "skip", NULL);
  ok1(f->multi, "{" L "\"kind\":\"escalate\",\"comment\":\"unsure\"}", NULL, "escalate", NULL);
  ok1(f->multi, "{" L "\"question\":\"tags\",\"kind\":\"escalate\"}", "tags", "escalate", NULL);
  ok1(f->single, "{" L "\"kind\":\"skip\"}", "verdict", "skip", NULL);
  ok1(f->multi, "{" L "\"answers\":[{\"kind\":\"skip\"}]}", NULL, "skip", NULL);

  bad(f->multi, "{" L "\"kind\":\"skip\",\"value\":1}", "value", "skip takes no value");
  bad(f->single, "{" L "\"kind\":\"escalate\",\"value\":\"x\"}", "value",
      "escalate takes no value");
  bad(f->multi,
      "{" L "\"answers\":[{\"question\":\"verdict\",\"kind\":\"approve\"},{\"kind\":\"skip\"}]}",
      "answers[1].kind", "skip must be the only answer in a response");
  bad(f->multi,
      "{" L "\"answers\":[{\"question\":\"fixed\",\"kind\":\"escalate\"},{\"question\":\"tags\","
      "\"kind\":\"labels\",\"value\":[]}]}",
      "answers[0].kind", "escalate must be the only answer in a response");
}

static void test_body_fields(void **state) {
  fixture *f = *state;
  hitl_answers a;
  ok(f->single, "{\"lease_id\":\"l_abc\",\"kind\":\"approve\",\"comment\":\"fine\","
                "\"time_spent_ms\":1234}",
     &a);
  assert_string_equal(a.lease_id, "l_abc");
  assert_string_equal(a.comment, "fine");
  assert_int_equal(a.time_spent_ms, 1234);
  assert_string_equal(a.responses[0].comment, "fine");
  assert_int_equal(a.responses[0].time_spent_ms, 1234);
  /* Left to the caller. */
  assert_null(a.responses[0].reviewer);
  assert_int_equal(a.responses[0].seq, 0);
  assert_string_equal(a.responses[0].id, "");
  hitl__answers_clear(&a);
  assert_null(a.responses);
  hitl__answers_clear(NULL);

  ok(f->single, "{" L "\"kind\":\"approve\",\"comment\":null,\"time_spent_ms\":0}", &a);
  assert_null(a.comment);
  assert_null(a.responses[0].comment);
  assert_int_equal(a.time_spent_ms, 0);
  hitl__answers_clear(&a);

  bad(f->single, "[]", "", "the response must be a JSON object");
  bad(f->single, "{\"kind\":\"approve\"}", "lease_id", "lease_id is required");
  bad(f->single, "{\"lease_id\":\"\",\"kind\":\"approve\"}", "lease_id", "lease_id is required");
  bad(f->single, "{\"lease_id\":7,\"kind\":\"approve\"}", "lease_id", "lease_id is required");
  bad(f->single, "{" L "\"kind\":\"approve\",\"valeu\":1}", "valeu",
      "unknown key \"valeu\" in a response");
  bad(f->single, "{" L "\"kind\":\"approve\",\"comment\":5}", "comment",
      "comment must be a string of at most 10000 bytes");
  bad(f->single, "{" L "\"kind\":\"approve\",\"time_spent_ms\":-1}", "time_spent_ms",
      "time_spent_ms must be an integer >= 0");
  bad(f->single, "{" L "\"kind\":\"approve\",\"time_spent_ms\":1.5}", "time_spent_ms",
      "time_spent_ms must be an integer >= 0");
  bad(f->single, "{" L "\"value\":1}", "kind", "kind is required");
  bad(f->single, "{" L "\"kind\":[\"approve\"]}", "kind", "kind must be a string");

  char *c = malloc(10002);
  memset(c, 'c', 10001);
  c[10001] = '\0';
  json_t *b = json_pack("{s:s,s:s,s:s}", "lease_id", "l", "kind", "approve", "comment", c);
  bad_json(f->single, b, "comment", "at most 10000 bytes");
  json_decref(b);
  free(c);
}

static void test_question_naming(void **state) {
  fixture *f = *state;
  bad(f->multi, "{" L "\"kind\":\"approve\"}", "question",
      "question is required: this queue asks 7 questions");
  bad(f->multi, "{" L "\"question\":\"colour\",\"kind\":\"label\",\"value\":\"red\"}", "question",
      "question \"colour\" is not in this queue; its questions are \"verdict\", \"category\"");
  bad(f->multi, "{" L "\"question\":1,\"kind\":\"approve\"}", "question",
      "question must be a string");
  bad(f->single, "{" L "\"question\":\"other\",\"kind\":\"approve\"}", "question",
      "question \"other\" is not in this queue");
  bad(f->multi, "{" L "\"question\":\"verdict\",\"kind\":\"thumbs_up\"}", "kind",
      "kind \"thumbs_up\" does not answer question \"verdict\"");
}

static void test_several_answers(void **state) {
  fixture *f = *state;
  hitl_answers a;
  ok(f->multi,
     "{" L "\"comment\":\"c\",\"time_spent_ms\":9,\"answers\":["
     "{\"question\":\"category\",\"kind\":\"label\",\"value\":\"spam\"},"
     "{\"question\":\"verdict\",\"kind\":\"reject\"},"
     "{\"question\":\"quality\",\"kind\":\"rating\",\"value\":2}]}",
     &a);
  assert_int_equal(a.n, 3);
  assert_string_equal(a.responses[0].question, "category");
  assert_string_equal(a.responses[0].value, "\"spam\"");
  assert_string_equal(a.responses[1].question, "verdict");
  assert_string_equal(a.responses[1].kind, "reject");
  assert_null(a.responses[1].value);
  assert_string_equal(a.responses[2].value, "2");
  for (size_t i = 0; i < 3; i++) {
    assert_string_equal(a.responses[i].comment, "c");
    assert_int_equal(a.responses[i].time_spent_ms, 9);
  }
  hitl__answers_clear(&a);

  /* The single question of a queue may be left unnamed here as well. */
  ok1(f->single, "{" L "\"answers\":[{\"kind\":\"approve\"}]}", "verdict", "approve", NULL);

  bad(f->multi, "{" L "\"answers\":[]}", "answers", "answers must be an array of 1 to 7 answers");
  bad(f->multi, "{" L "\"answers\":{}}", "answers", "answers must be an array");
  bad(f->single,
      "{" L "\"answers\":[{\"kind\":\"approve\"},{\"kind\":\"approve\"}]}", "answers",
      "answers must be an array of 1 to 1 answers");
  bad(f->multi, "{" L "\"answers\":[\"approve\"]}", "answers[0]", "an answer must be an object");
  bad(f->multi,
      "{" L "\"answers\":[{\"question\":\"verdict\",\"kind\":\"approve\",\"comment\":\"x\"}]}",
      "answers[0].comment", "unknown key \"comment\" in an answer");
  bad(f->multi,
      "{" L "\"answers\":[{\"question\":\"verdict\",\"kind\":\"approve\"},{\"question\":"
      "\"verdict\",\"kind\":\"reject\"}]}",
      "answers[1].question", "question \"verdict\" is answered twice");
  bad(f->multi,
      "{" L "\"answers\":[{\"question\":\"verdict\",\"kind\":\"approve\"},{\"question\":"
      "\"quality\",\"kind\":\"rating\",\"value\":9}]}",
      "answers[1].value", "value must be an integer from 1 to 5");
  bad(f->multi, "{" L "\"answers\":[{\"kind\":\"approve\"}]}", "answers[0].question",
      "question is required");
  bad(f->multi, "{" L "\"answers\":[{\"question\":\"verdict\"}]}", "answers[0].kind",
      "kind is required");
  bad(f->multi,
      "{" L "\"kind\":\"approve\",\"answers\":[{\"question\":\"verdict\",\"kind\":\"approve\"}]}",
      "kind", "kind is not allowed next to answers");
  bad(f->multi,
      "{" L "\"question\":\"verdict\",\"answers\":[{\"question\":\"verdict\","
      "\"kind\":\"approve\"}]}",
      "question", "question is not allowed next to answers");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_approve_question),   cmocka_unit_test(test_label_question),
      cmocka_unit_test(test_labels_question),    cmocka_unit_test(test_rating_question),
      cmocka_unit_test(test_preference_question), cmocka_unit_test(test_text_question),
      cmocka_unit_test(test_spans_question),     cmocka_unit_test(test_skip_and_escalate),
      cmocka_unit_test(test_body_fields),        cmocka_unit_test(test_question_naming),
      cmocka_unit_test(test_several_answers),
      cmocka_unit_test(test_boxes_question),
      cmocka_unit_test(test_transcription_question),
      cmocka_unit_test(test_relations_question),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
