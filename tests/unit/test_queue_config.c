/* SPDX-License-Identifier: MIT */
/* Tests of queue configuration parsing: defaults, normalization, and every validation error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/queue_json.h"
#include "core/queue.h"

static const char *full_example =
    "{\"schema\": {"
    "  \"fields\": [{\"name\": \"text\", \"type\": \"text\"}, {\"name\": \"photo\", \"type\": "
    "\"image_url\"},"
    "               {\"name\": \"features\", \"type\": \"json\"}],"
    "  \"questions\": [{\"name\": \"verdict\", \"type\": \"approve\"},"
    "                {\"name\": \"category\", \"type\": \"label\", \"labels\": [\"spam\", "
    "\"ham\"]},"
    "                {\"name\": \"tags\", \"type\": \"labels\", \"labels\": [\"urgent\", "
    "\"billing\"]},"
    "                {\"name\": \"quality\", \"type\": \"rating\", \"max\": 7},"
    "                {\"name\": \"better\", \"type\": \"preference\"},"
    "                {\"name\": \"fixed\", \"type\": \"text\"},"
    "                {\"name\": \"entities\", \"type\": \"spans\", \"labels\": [\"PER\", "
    "\"ORG\"], \"field\": \"text\"}]},"
    " \"policy\": {\"rules\": []},"
    " \"assignment\": {\"overlap\": 3, \"roles\": [\"validator\", \"arbiter\"], "
    "\"lease_seconds\": 120, \"consensus\": \"unanimous\"},"
    " \"sla\": {\"deadline_seconds\": 86400, \"on_timeout\": \"reject\"},"
    " \"webhooks\": [{\"url\": \"https://example.com/hook\", \"events\": [\"task.decided\"]},"
    "              {\"url\": \"http://127.0.0.1:9/x\"}],"
    " \"description\": \"Support replies\"}";

static json_t *load(const char *text) {
  json_error_t je;
  json_t *j = json_loads(text, 0, &je);
  if (j == NULL) fail_msg("bad test JSON: %s: %s", je.text, text);
  return j;
}

static hitl_queue_config *parse_ok(const char *text) {
  json_t *j = load(text);
  hitl_queue_config *q = NULL;
  hitl_err err = {0};
  int rc = hitl__queue_config_from_json(j, &q, &err);
  json_decref(j);
  if (rc != 0) fail_msg("unexpected error at \"%s\": %s", err.field, err.message);
  assert_non_null(q);
  return q;
}

/* Parses body and checks the error's code, field and (when not NULL) a part of its message. */
static void expect_error_json(json_t *body, const char *field, const char *part) {
  hitl_queue_config *q = (hitl_queue_config *)1;
  hitl_err err = {0};
  int rc = hitl__queue_config_from_json(body, &q, &err);
  char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
  if (rc != HITL_EVALIDATION || q != NULL || strcmp(err.field, field) != 0 ||
      (part != NULL && strstr(err.message, part) == NULL) || err.message[0] == '\0')
    fail_msg("body %s: got rc %d field \"%s\" message \"%s\"; want field \"%s\" message with "
             "\"%s\"",
             text, rc, err.field, err.message, field, part ? part : "");
  assert_int_equal(err.code, HITL_EVALIDATION);
  free(text);
}

static void expect_error(const char *text, const char *field, const char *part) {
  json_t *j = load(text);
  expect_error_json(j, field, part);
  json_decref(j);
}

static void test_defaults(void **state) {
  (void)state;
  hitl_queue_config *q = parse_ok("{}");
  assert_int_equal(q->n_fields, 0);
  assert_int_equal(q->n_questions, 1);
  assert_string_equal(q->questions[0].name, "verdict");
  assert_int_equal(q->questions[0].type, HITL_QUESTION_APPROVE);
  assert_non_null(q->policy);
  assert_int_equal(q->overlap, 1);
  assert_int_equal(q->n_roles, 1);
  assert_string_equal(q->roles[0], "validator");
  assert_int_equal(q->lease_seconds, 600);
  assert_int_equal(q->consensus, HITL_CONSENSUS_MAJORITY);
  assert_int_equal(q->deadline_seconds, 0);
  assert_int_equal(q->on_timeout, HITL_SLA_ESCALATE);
  assert_string_equal(
      q->json,
      "{\"assignment\":{\"consensus\":\"majority\",\"lease_seconds\":600,\"overlap\":1,"
      "\"roles\":[\"validator\"]},\"policy\":{\"rules\":[]},\"schema\":{\"fields\":[],"
      "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},\"sla\":{"
      "\"deadline_seconds\":null,\"on_timeout\":\"escalate\"},\"webhooks\":[]}");
  hitl_queue_config_free(q);
}

/* null members mean "the default", like absent ones. */
static void test_null_members_take_defaults(void **state) {
  (void)state;
  hitl_queue_config *a = parse_ok("{}");
  hitl_queue_config *b = parse_ok(
      "{\"schema\":null,\"policy\":null,\"assignment\":{\"overlap\":null,\"roles\":null,"
      "\"lease_seconds\":null,\"consensus\":null},\"sla\":{\"deadline_seconds\":null,"
      "\"on_timeout\":null},\"webhooks\":null,\"description\":null}");
  assert_string_equal(a->json, b->json);
  hitl_queue_config_free(a);
  hitl_queue_config_free(b);
}


/* The newer question types: boxes on an image, transcription of audio, relations over spans
 * (which may come before the spans question it names), with their thresholds. */
static void test_annotation_types(void **state) {
  (void)state;
  hitl_queue_config *q = parse_ok(
      "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"},{\"name\":\"photo\","
      "\"type\":\"image_url\"},{\"name\":\"recording\",\"type\":\"audio_url\"}],\"questions\":["
      "{\"name\":\"links\",\"type\":\"relations\",\"spans\":\"entities\",\"labels\":[\"works_for\"]},"
      "{\"name\":\"entities\",\"type\":\"spans\",\"labels\":[\"PER\",\"ORG\"],\"field\":\"text\"},"
      "{\"name\":\"objects\",\"type\":\"boxes\",\"field\":\"photo\",\"labels\":[\"car\",\"person\"]},"
      "{\"name\":\"strict\",\"type\":\"boxes\",\"field\":\"photo\",\"labels\":[\"car\"],\"iou_threshold\":0.75},"
      "{\"name\":\"said\",\"type\":\"transcription\",\"field\":\"recording\",\"wer_threshold\":0.25}]}}");
  assert_int_equal(q->fields[2].type, HITL_FIELD_AUDIO_URL);
  assert_int_equal(q->questions[0].type, HITL_QUESTION_RELATIONS);
  assert_string_equal(q->questions[0].spans, "entities");
  assert_string_equal(q->questions[0].labels[0], "works_for");
  assert_int_equal(q->questions[2].type, HITL_QUESTION_BOXES);
  assert_string_equal(q->questions[2].field, "photo");
  assert_true(q->questions[2].threshold == 0.5);
  assert_true(q->questions[3].threshold == 0.75);
  assert_int_equal(q->questions[4].type, HITL_QUESTION_TRANSCRIPTION);
  assert_string_equal(q->questions[4].field, "recording");
  assert_true(q->questions[4].threshold == 0.25);
  assert_non_null(q->codec);
  assert_non_null(strstr(q->json, "{\"field\":\"photo\",\"iou_threshold\":0.5,\"labels\":[\"car\",\"person\"],\"name\":\"objects\",\"type\":\"boxes\"}"));
  assert_non_null(strstr(q->json, "{\"field\":\"recording\",\"name\":\"said\",\"type\":\"transcription\",\"wer_threshold\":0.25}"));
  assert_non_null(strstr(q->json, "{\"labels\":[\"works_for\"],\"name\":\"links\",\"spans\":\"entities\",\"type\":\"relations\"}"));
  assert_string_equal(hitl_question_type_name(HITL_QUESTION_BOXES), "boxes");
  assert_string_equal(hitl_question_type_name(HITL_QUESTION_TRANSCRIPTION), "transcription");
  assert_string_equal(hitl_question_type_name(HITL_QUESTION_RELATIONS), "relations");
  /* The normalized form parses to itself. */
  hitl_queue_config *again = parse_ok(q->json);
  assert_string_equal(again->json, q->json);
  hitl_queue_config_free(again);
  hitl_queue_config_free(q);
}

static void test_full_example(void **state) {
  (void)state;
  hitl_queue_config *q = parse_ok(full_example);
  assert_int_equal(q->n_fields, 3);
  assert_string_equal(q->fields[1].name, "photo");
  assert_int_equal(q->fields[1].type, HITL_FIELD_IMAGE_URL);
  assert_int_equal(q->fields[2].type, HITL_FIELD_JSON);
  assert_int_equal(q->n_questions, 7);
  assert_int_equal(q->questions[1].type, HITL_QUESTION_LABEL);
  assert_int_equal(q->questions[1].n_labels, 2);
  assert_string_equal(q->questions[1].labels[1], "ham");
  assert_int_equal(q->questions[2].type, HITL_QUESTION_LABELS);
  assert_int_equal(q->questions[3].type, HITL_QUESTION_RATING);
  assert_int_equal(q->questions[3].max, 7);
  assert_int_equal(q->questions[4].type, HITL_QUESTION_PREFERENCE);
  assert_int_equal(q->questions[5].type, HITL_QUESTION_TEXT);
  assert_int_equal(q->questions[6].type, HITL_QUESTION_SPANS);
  assert_string_equal(q->questions[6].field, "text");
  assert_int_equal(q->questions[6].n_labels, 2);
  assert_int_equal(q->overlap, 3);
  assert_int_equal(q->n_roles, 2);
  assert_string_equal(q->roles[1], "arbiter");
  assert_int_equal(q->lease_seconds, 120);
  assert_int_equal(q->consensus, HITL_CONSENSUS_UNANIMOUS);
  assert_int_equal(q->deadline_seconds, 86400);
  assert_int_equal(q->on_timeout, HITL_SLA_REJECT);

  json_t *norm = load(q->json);
  assert_string_equal(json_string_value(json_object_get(norm, "description")), "Support replies");
  json_t *hooks = json_object_get(norm, "webhooks");
  assert_int_equal(json_array_size(hooks), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(hooks, 0), "url")),
                      "https://example.com/hook");
  assert_int_equal(json_array_size(json_object_get(json_array_get(hooks, 0), "events")), 1);
  assert_null(json_object_get(json_array_get(hooks, 1), "events"));
  json_decref(norm);
  /* The parsed webhooks, which the delivery worker matches events against. */
  assert_int_equal(q->n_webhooks, 2);
  assert_string_equal(q->webhooks[1].url, "http://127.0.0.1:9/x");
  assert_true(hitl_webhook_wants(&q->webhooks[0], "task.decided"));
  assert_false(hitl_webhook_wants(&q->webhooks[0], "task.submitted"));
  assert_true(hitl_webhook_wants(&q->webhooks[1], "task.submitted"));
  hitl_queue_config_free(q);
}

/* A rating without max gets 5, and the normalized text says so. */
static void test_rating_default_max(void **state) {
  (void)state;
  hitl_queue_config *q =
      parse_ok("{\"schema\":{\"questions\":[{\"name\":\"q\",\"type\":\"rating\"}]}}");
  assert_int_equal(q->questions[0].max, 5);
  assert_non_null(strstr(q->json, "{\"max\":5,\"name\":\"q\",\"type\":\"rating\"}"));
  hitl_queue_config_free(q);
}

/* The stored text parses back into the same configuration. */
static void test_normalized_round_trip(void **state) {
  (void)state;
  const char *bodies[] = {"{}", full_example};
  for (size_t i = 0; i < 2; i++) {
    hitl_queue_config *a = parse_ok(bodies[i]);
    hitl_queue_config *b = parse_ok(a->json);
    assert_string_equal(a->json, b->json);
    hitl_queue_config_free(a);
    hitl_queue_config_free(b);
  }
}

static void test_lookups_and_names(void **state) {
  (void)state;
  hitl_queue_config *q = parse_ok(full_example);
  assert_int_equal(hitl_queue_question_index(q, "verdict"), 0);
  assert_int_equal(hitl_queue_question_index(q, "entities"), 6);
  assert_int_equal(hitl_queue_question_index(q, "nope"), -1);
  assert_int_equal(hitl_queue_question_index(q, NULL), -1);
  assert_true(hitl_queue_allows_role(q, "arbiter"));
  assert_true(hitl_queue_allows_role(q, "validator"));
  assert_false(hitl_queue_allows_role(q, "labeler"));
  assert_false(hitl_queue_allows_role(q, NULL));
  hitl_queue_config_free(q);
  hitl_queue_config_free(NULL);

  assert_string_equal(hitl_question_type_name(HITL_QUESTION_APPROVE), "approve");
  assert_string_equal(hitl_question_type_name(HITL_QUESTION_PREFERENCE), "preference");
  assert_string_equal(hitl_question_type_name(HITL_QUESTION_SPANS), "spans");
  assert_null(hitl_question_type_name((hitl_question_type)99));
  assert_string_equal(hitl_consensus_name(HITL_CONSENSUS_FIRST), "first");
  assert_string_equal(hitl_consensus_name(HITL_CONSENSUS_UNANIMOUS), "unanimous");
  assert_null(hitl_consensus_name((hitl_consensus_method)99));
  assert_string_equal(hitl_sla_action_name(HITL_SLA_ESCALATE), "escalate");
  assert_string_equal(hitl_sla_action_name(HITL_SLA_EXPIRE), "expire");
  assert_null(hitl_sla_action_name((hitl_sla_action)99));
}

#define Q1(extra) "{\"schema\":{\"questions\":[" extra "]}}"

static const struct {
  const char *body, *field, *message;
} errors[] = {
    {"[]", "", "must be a JSON object"},
    {"{\"foo\":1}", "foo", "unknown key \"foo\" in the queue configuration"},
    /* schema */
    {"{\"schema\":[]}", "schema", "schema must be an object"},
    {"{\"schema\":{\"questions\":[{\"name\":\"a\",\"type\":\"text\"}],\"x\":1}}", "schema.x",
     "unknown key \"x\" in schema"},
    {"{\"schema\":{}}", "schema.questions", "questions is required"},
    {"{\"schema\":{\"questions\":[]}}", "schema.questions", "1 to 32 questions"},
    {"{\"schema\":{\"questions\":{}}}", "schema.questions", "1 to 32 questions"},
    {Q1("1"), "schema.questions[0]", "a question must be an object"},
    {Q1("{\"type\":\"text\"}"), "schema.questions[0].name", "name is required"},
    {Q1("{\"name\":7,\"type\":\"text\"}"), "schema.questions[0].name", "name must be a string"},
    {Q1("{\"name\":\"\",\"type\":\"text\"}"), "schema.questions[0].name", "1 to 64 characters"},
    {Q1("{\"name\":\"a b\",\"type\":\"text\"}"), "schema.questions[0].name",
     "may only contain letters, digits"},
    {Q1("{\"name\":\"ab\",\"type\":\"text\"},{\"name\":\"ab\",\"type\":\"approve\"}"),
     "schema.questions[1].name", "question name \"ab\" is used twice"},
    {Q1("{\"name\":\"a\"}"), "schema.questions[0].type", "type is required"},
    {Q1("{\"name\":\"a\",\"type\":\"essay\"}"), "schema.questions[0].type",
     "question type \"essay\" is not known"},
    {Q1("{\"name\":\"a\",\"type\":3}"), "schema.questions[0].type",
     "question type must be a string"},
    {Q1("{\"name\":\"a\",\"type\":\"text\",\"prompt\":\"?\"}"), "schema.questions[0].prompt",
     "unknown key \"prompt\" in a question"},
    {Q1("{\"name\":\"a\",\"type\":\"label\"}"), "schema.questions[0].labels",
     "labels is required for a label question"},
    {Q1("{\"name\":\"a\",\"type\":\"labels\",\"labels\":[]}"), "schema.questions[0].labels",
     "labels must be an array of 1 to 1000 strings"},
    {Q1("{\"name\":\"a\",\"type\":\"label\",\"labels\":\"x\"}"), "schema.questions[0].labels",
     "labels must be an array"},
    {Q1("{\"name\":\"a\",\"type\":\"label\",\"labels\":[\"x\",\"\"]}"),
     "schema.questions[0].labels[1]", "a label must be a string of 1 to 256 bytes"},
    {Q1("{\"name\":\"a\",\"type\":\"label\",\"labels\":[\"x\",2]}"),
     "schema.questions[0].labels[1]", "a label must be a string"},
    {Q1("{\"name\":\"a\",\"type\":\"label\",\"labels\":[\"x\",\"y\",\"x\"]}"),
     "schema.questions[0].labels[2]", "label \"x\" is listed twice"},
    {Q1("{\"name\":\"a\",\"type\":\"approve\",\"labels\":[\"x\"]}"),
     "schema.questions[0].labels", "labels is only allowed for label, labels, spans, boxes and relations"},
    {Q1("{\"name\":\"a\",\"type\":\"rating\",\"max\":1}"), "schema.questions[0].max",
     "max must be an integer from 2 to 10"},
    {Q1("{\"name\":\"a\",\"type\":\"rating\",\"max\":11}"), "schema.questions[0].max",
     "max must be an integer from 2 to 10"},
    {Q1("{\"name\":\"a\",\"type\":\"rating\",\"max\":5.0}"), "schema.questions[0].max",
     "max must be an integer from 2 to 10"},
    {Q1("{\"name\":\"a\",\"type\":\"rating\",\"max\":\"5\"}"), "schema.questions[0].max",
     "max must be an integer from 2 to 10"},
    {Q1("{\"name\":\"a\",\"type\":\"label\",\"labels\":[\"x\"],\"max\":3}"),
     "schema.questions[0].max", "max is only allowed for rating questions, not label"},
    {Q1("{\"name\":\"a\",\"type\":\"spans\",\"labels\":[\"X\"]}"), "schema.questions[0].field",
     "field is required for a spans question"},
    {Q1("{\"name\":\"a\",\"type\":\"spans\",\"labels\":[\"X\"],\"field\":\"body\"}"),
     "schema.questions[0].field", "field \"body\" is not one of schema.fields"},
    {Q1("{\"name\":\"a\",\"type\":\"spans\",\"labels\":[\"X\"],\"field\":1}"),
     "schema.questions[0].field", "field must be a string"},
    {"{\"schema\":{\"fields\":[{\"name\":\"f\",\"type\":\"json\"}],\"questions\":[{\"name\":"
     "\"a\",\"type\":\"spans\",\"labels\":[\"X\"],\"field\":\"f\"}]}}",
     "schema.questions[0].field", "field \"f\" must be of type text or markdown"},
    {"{\"schema\":{\"fields\":[{\"name\":\"f\",\"type\":\"text\"}],\"questions\":[{\"name\":"
     "\"a\",\"type\":\"text\",\"field\":\"f\"}]}}",
     "schema.questions[0].field", "field is only allowed for spans, boxes and transcription questions, not text"},
    {Q1("{\"name\":\"a\",\"type\":\"spans\",\"field\":\"f\"}"), "schema.questions[0].labels",
     "labels is required for a spans question"},
    /* boxes, transcription, relations */
#define MEDIA(q) "{\"schema\":{\"fields\":[{\"name\":\"t\",\"type\":\"text\"},{\"name\":\"img\"," \
                 "\"type\":\"image_url\"},{\"name\":\"rec\",\"type\":\"audio_url\"}],\"questions\":[" q "]}}"
    {MEDIA("{\"name\":\"a\",\"type\":\"boxes\",\"labels\":[\"car\"]}"), "schema.questions[0].field",
     "field is required for a boxes question: the image_url field"},
    {MEDIA("{\"name\":\"a\",\"type\":\"boxes\",\"labels\":[\"car\"],\"field\":\"t\"}"),
     "schema.questions[0].field", "field \"t\" must be of type image_url to hold boxes answers"},
    {MEDIA("{\"name\":\"a\",\"type\":\"boxes\",\"field\":\"img\"}"), "schema.questions[0].labels",
     "labels is required for a boxes question"},
    {MEDIA("{\"name\":\"a\",\"type\":\"boxes\",\"labels\":[\"car\"],\"field\":\"img\",\"iou_threshold\":0}"),
     "schema.questions[0].iou_threshold", "iou_threshold must be a number greater than 0 and at most 1"},
    {MEDIA("{\"name\":\"a\",\"type\":\"boxes\",\"labels\":[\"car\"],\"field\":\"img\",\"iou_threshold\":1.5}"),
     "schema.questions[0].iou_threshold", "at most 1"},
    {MEDIA("{\"name\":\"a\",\"type\":\"boxes\",\"labels\":[\"car\"],\"field\":\"img\",\"wer_threshold\":0.2}"),
     "schema.questions[0].wer_threshold", "wer_threshold is only allowed for transcription questions, not boxes"},
    {MEDIA("{\"name\":\"a\",\"type\":\"transcription\",\"field\":\"img\"}"), "schema.questions[0].field",
     "field \"img\" must be of type audio_url to hold transcription answers"},
    {MEDIA("{\"name\":\"a\",\"type\":\"transcription\",\"field\":\"rec\",\"labels\":[\"x\"]}"),
     "schema.questions[0].labels", "labels is only allowed for"},
    {MEDIA("{\"name\":\"a\",\"type\":\"transcription\",\"field\":\"rec\",\"wer_threshold\":\"low\"}"),
     "schema.questions[0].wer_threshold", "wer_threshold must be a number"},
    {MEDIA("{\"name\":\"a\",\"type\":\"text\",\"iou_threshold\":0.5}"),
     "schema.questions[0].iou_threshold", "iou_threshold is only allowed for boxes questions, not text"},
    {MEDIA("{\"name\":\"e\",\"type\":\"spans\",\"labels\":[\"P\"],\"field\":\"t\"},"
           "{\"name\":\"a\",\"type\":\"relations\",\"labels\":[\"r\"]}"),
     "schema.questions[1].spans", "spans is required for a relations question"},
    {MEDIA("{\"name\":\"e\",\"type\":\"spans\",\"labels\":[\"P\"],\"field\":\"t\"},"
           "{\"name\":\"a\",\"type\":\"relations\",\"spans\":\"e\"}"),
     "schema.questions[1].labels", "labels is required for a relations question"},
    {MEDIA("{\"name\":\"a\",\"type\":\"relations\",\"labels\":[\"r\"],\"spans\":\"nope\"}"),
     "schema.questions[0].spans", "spans \"nope\" is not a question of this schema"},
    {MEDIA("{\"name\":\"a\",\"type\":\"relations\",\"labels\":[\"r\"],\"spans\":3}"),
     "schema.questions[0].spans", "spans must be a string"},
    {MEDIA("{\"name\":\"c\",\"type\":\"label\",\"labels\":[\"x\"]},"
           "{\"name\":\"a\",\"type\":\"relations\",\"labels\":[\"r\"],\"spans\":\"c\"}"),
     "schema.questions[1].spans", "question \"c\" is a label question; relations link the answers of a spans question"},
    {MEDIA("{\"name\":\"c\",\"type\":\"label\",\"labels\":[\"x\"],\"spans\":\"c\"}"),
     "schema.questions[0].spans", "spans is only allowed for relations questions, not label"},
    {MEDIA("{\"name\":\"a\",\"type\":\"relations\",\"labels\":[\"r\"],\"spans\":\"e\",\"field\":\"t\"},"
           "{\"name\":\"e\",\"type\":\"spans\",\"labels\":[\"P\"],\"field\":\"t\"}"),
     "schema.questions[0].field", "field is only allowed for spans, boxes and transcription questions, not relations"},

    /* schema.fields */
    {"{\"schema\":{\"fields\":{},\"questions\":[{\"name\":\"a\",\"type\":\"text\"}]}}",
     "schema.fields", "fields must be an array"},
    {"{\"schema\":{\"fields\":[\"f\"],\"questions\":[{\"name\":\"a\",\"type\":\"text\"}]}}",
     "schema.fields[0]", "a field must be an object"},
    {"{\"schema\":{\"fields\":[{\"type\":\"text\"}],\"questions\":[]}}",
     "schema.fields[0].name", "name is required"},
    {"{\"schema\":{\"fields\":[{\"name\":\"f/g\",\"type\":\"text\"}],\"questions\":[]}}",
     "schema.fields[0].name", "may only contain"},
    {"{\"schema\":{\"fields\":[{\"name\":\"f\",\"type\":\"text\"},{\"name\":\"f\",\"type\":"
     "\"json\"}],\"questions\":[]}}",
     "schema.fields[1].name", "field name \"f\" is used twice"},
    {"{\"schema\":{\"fields\":[{\"name\":\"f\"}],\"questions\":[]}}", "schema.fields[0].type",
     "type is required"},
    {"{\"schema\":{\"fields\":[{\"name\":\"f\",\"type\":\"video\"}],\"questions\":[]}}",
     "schema.fields[0].type",
     "field type \"video\" is not known; use one of text, markdown, json, image_url, diff, audio_url"},
    {"{\"schema\":{\"fields\":[{\"name\":\"f\",\"type\":\"text\",\"label\":\"F\"}],"
     "\"questions\":[]}}",
     "schema.fields[0].label", "unknown key \"label\" in a field"},
    /* assignment */
    {"{\"assignment\":3}", "assignment", "assignment must be an object"},
    {"{\"assignment\":{\"retries\":2}}", "assignment.retries",
     "unknown key \"retries\" in assignment"},
    {"{\"assignment\":{\"overlap\":0}}", "assignment.overlap",
     "overlap must be an integer from 1 to 9"},
    {"{\"assignment\":{\"overlap\":10}}", "assignment.overlap",
     "overlap must be an integer from 1 to 9"},
    {"{\"assignment\":{\"overlap\":\"2\"}}", "assignment.overlap",
     "overlap must be an integer from 1 to 9"},
    {"{\"assignment\":{\"overlap\":1.5}}", "assignment.overlap",
     "overlap must be an integer from 1 to 9"},
    {"{\"assignment\":{\"roles\":[]}}", "assignment.roles", "roles must be a non-empty array"},
    {"{\"assignment\":{\"roles\":\"validator\"}}", "assignment.roles",
     "roles must be a non-empty array"},
    {"{\"assignment\":{\"roles\":[\"agent\"]}}", "assignment.roles[0]",
     "role \"agent\" is not known; use one of annotator, validator, corrector, arbiter, labeler, "
     "orchestrator"},
    {"{\"assignment\":{\"roles\":[\"validator\",1]}}", "assignment.roles[1]",
     "role must be a string"},
    {"{\"assignment\":{\"roles\":[\"arbiter\",\"arbiter\"]}}", "assignment.roles[1]",
     "role \"arbiter\" is listed twice"},
    {"{\"assignment\":{\"lease_seconds\":4}}", "assignment.lease_seconds",
     "lease_seconds must be an integer from 5 to 86400"},
    {"{\"assignment\":{\"lease_seconds\":86401}}", "assignment.lease_seconds",
     "lease_seconds must be an integer from 5 to 86400"},
    {"{\"assignment\":{\"consensus\":\"most\"}}", "assignment.consensus",
     "consensus \"most\" is not known; use one of first, majority, unanimous"},
    {"{\"assignment\":{\"consensus\":true}}", "assignment.consensus",
     "consensus must be a string"},
    /* sla */
    {"{\"sla\":[]}", "sla", "sla must be an object"},
    {"{\"sla\":{\"deadline\":5}}", "sla.deadline", "unknown key \"deadline\" in sla"},
    {"{\"sla\":{\"deadline_seconds\":0}}", "sla.deadline_seconds",
     "deadline_seconds must be an integer from 1 to 31536000"},
    {"{\"sla\":{\"deadline_seconds\":31536001}}", "sla.deadline_seconds",
     "deadline_seconds must be an integer from 1 to 31536000"},
    {"{\"sla\":{\"deadline_seconds\":\"1h\"}}", "sla.deadline_seconds",
     "deadline_seconds must be an integer"},
    {"{\"sla\":{\"on_timeout\":\"retry\"}}", "sla.on_timeout",
     "on_timeout \"retry\" is not known; use one of escalate, accept, reject, expire"},
    /* webhooks */
    {"{\"webhooks\":{}}", "webhooks", "webhooks must be an array of at most 16 objects"},
    {"{\"webhooks\":[\"http://a\"]}", "webhooks[0]", "a webhook must be an object"},
    {"{\"webhooks\":[{}]}", "webhooks[0].url", "url is required"},
    {"{\"webhooks\":[{\"url\":\"http://a\"},{\"url\":\"ftp://a\"}]}", "webhooks[1].url",
     "url must be an http:// or https:// URL"},
    {"{\"webhooks\":[{\"url\":\"https://\"}]}", "webhooks[0].url", "http:// or https://"},
    {"{\"webhooks\":[{\"url\":\"http://a\",\"events\":[\"task.decided\",\"task.decide\"]}]}",
     "webhooks[0].events[1]", "is not an event type of a queue"},
    {"{\"webhooks\":[{\"url\":\"http://a b\"}]}", "webhooks[0].url", "http:// or https://"},
    {"{\"webhooks\":[{\"url\":7}]}", "webhooks[0].url", "http:// or https://"},
    {"{\"webhooks\":[{\"url\":\"http://a\",\"events\":\"task.decided\"}]}", "webhooks[0].events",
     "events must be an array"},
    {"{\"webhooks\":[{\"url\":\"http://a\",\"events\":[\"task.decided\",\"\"]}]}",
     "webhooks[0].events[1]", "an event type must be a string of 1 to 64 bytes"},
    {"{\"webhooks\":[{\"url\":\"http://a\",\"secret\":\"s\"}]}", "webhooks[0].secret",
     "secret must be \"whsec_\" followed by the standard base64"},
    {"{\"webhooks\":[{\"url\":\"http://a\",\"secret\":\"whsec_c2hvcnQ=\"}]}",
     "webhooks[0].secret", "of 24 to 64 random bytes"},
    {"{\"webhooks\":[{\"url\":\"http://a\",\"rotate_secret\":1}]}", "webhooks[0].rotate_secret",
     "rotate_secret must be true or false"},
    {"{\"webhooks\":[{\"url\":\"http://a\"},{\"url\":\"http://a\"}]}", "webhooks[1].url",
     "another webhook of the queue has this url"},
    {"{\"webhooks\":[{\"url\":\"http://a\",\"secret_hint\":3}]}", "webhooks[0].secret_hint",
     "secret_hint is shown by the server"},
    /* description */
    {"{\"description\":5}", "description", "description must be a string of at most 4096 bytes"},
    /* policy: the message is the policy compiler's. */
    {"{\"policy\":\"none\"}", "policy", NULL},
};

static void test_errors(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
    expect_error(errors[i].body, errors[i].field, errors[i].message);
}

/* Limits that need long inputs: counts and lengths. */
static void test_limits(void **state) {
  (void)state;
  char name[70];
  memset(name, 'n', 65);
  name[65] = '\0';
  json_t *b = json_pack("{s:{s:[{s:s,s:s}]}}", "schema", "questions", "name", name, "type",
                        "text");
  expect_error_json(b, "schema.questions[0].name", "1 to 64 characters");
  json_decref(b);
  name[64] = '\0'; /* 64 characters are fine. */
  b = json_pack("{s:{s:[{s:s,s:s}]}}", "schema", "questions", "name", name, "type", "text");
  hitl_queue_config *q = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl__queue_config_from_json(b, &q, &err), 0);
  hitl_queue_config_free(q);
  json_decref(b);

  json_t *questions = json_array();
  for (int i = 0; i < 33; i++) {
    char n[16];
    snprintf(n, sizeof n, "q%d", i);
    json_array_append_new(questions, json_pack("{s:s,s:s}", "name", n, "type", "text"));
  }
  b = json_pack("{s:{s:o}}", "schema", "questions", questions);
  expect_error_json(b, "schema.questions", "1 to 32 questions");
  json_array_remove(questions, 32);
  assert_int_equal(hitl__queue_config_from_json(b, &q, &err), 0);
  assert_int_equal(q->n_questions, 32);
  hitl_queue_config_free(q);
  json_decref(b);

  json_t *labels = json_array();
  for (int i = 0; i < 1001; i++) {
    char n[16];
    snprintf(n, sizeof n, "l%d", i);
    json_array_append_new(labels, json_string(n));
  }
  b = json_pack("{s:{s:[{s:s,s:s,s:o}]}}", "schema", "questions", "name", "c", "type", "labels",
                "labels", labels);
  expect_error_json(b, "schema.questions[0].labels", "1 to 1000 strings");
  json_array_remove(labels, 1000);
  assert_int_equal(hitl__queue_config_from_json(b, &q, &err), 0);
  assert_int_equal(q->questions[0].n_labels, 1000);
  hitl_queue_config_free(q);
  json_decref(b);

  char *long_label = malloc(258);
  memset(long_label, 'x', 257);
  long_label[257] = '\0';
  b = json_pack("{s:{s:[{s:s,s:s,s:[s]}]}}", "schema", "questions", "name", "c", "type", "label",
                "labels", long_label);
  expect_error_json(b, "schema.questions[0].labels[0]", "1 to 256 bytes");
  json_decref(b);
  free(long_label);

  char *desc = malloc(4098);
  memset(desc, 'd', 4097);
  desc[4097] = '\0';
  b = json_pack("{s:s}", "description", desc);
  expect_error_json(b, "description", "at most 4096 bytes");
  json_decref(b);
  free(desc);
}

/* Boundary values that are accepted. */
static void test_bounds_accepted(void **state) {
  (void)state;
  hitl_queue_config *q = parse_ok(
      "{\"assignment\":{\"overlap\":9,\"lease_seconds\":5,\"consensus\":\"first\","
      "\"roles\":[\"annotator\",\"validator\",\"corrector\",\"arbiter\",\"labeler\","
      "\"orchestrator\"]},\"sla\":{\"deadline_seconds\":31536000,\"on_timeout\":\"expire\"}}");
  assert_int_equal(q->overlap, 9);
  assert_int_equal(q->lease_seconds, 5);
  assert_int_equal(q->consensus, HITL_CONSENSUS_FIRST);
  assert_int_equal(q->n_roles, 6);
  assert_int_equal(q->deadline_seconds, 31536000);
  assert_int_equal(q->on_timeout, HITL_SLA_EXPIRE);
  hitl_queue_config_free(q);

  q = parse_ok("{\"schema\":{\"fields\":[{\"name\":\"m\",\"type\":\"markdown\"},{\"name\":"
               "\"d\",\"type\":\"diff\"}],\"questions\":[{\"name\":\"A.b-c_1\",\"type\":\"spans\","
               "\"labels\":[\"X\"],\"field\":\"m\"},{\"name\":\"r\",\"type\":\"rating\",\"max\":"
               "2},{\"name\":\"r10\",\"type\":\"rating\",\"max\":10}]}}");
  assert_int_equal(q->fields[0].type, HITL_FIELD_MARKDOWN);
  assert_int_equal(q->fields[1].type, HITL_FIELD_DIFF);
  assert_string_equal(q->questions[0].field, "m");
  assert_int_equal(q->questions[1].max, 2);
  assert_int_equal(q->questions[2].max, 10);
  hitl_queue_config_free(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),
      cmocka_unit_test(test_null_members_take_defaults),
      cmocka_unit_test(test_full_example),
      cmocka_unit_test(test_annotation_types),
      cmocka_unit_test(test_rating_default_max),
      cmocka_unit_test(test_normalized_round_trip),
      cmocka_unit_test(test_lookups_and_names),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_bounds_accepted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
