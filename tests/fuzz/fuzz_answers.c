/* SPDX-License-Identifier: MIT */
/* Fuzz target: a response body, validated against queues that ask every type of question. */
#include <stdlib.h>
#include <string.h>

#include "api/answer_json.h"
#include "api/queue_json.h"
#include "fuzz.h"

/* One question of every type, and a field for the spans to point into. */
static const char multi_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"},{\"name\":\"photo\","
    "\"type\":\"image_url\"},{\"name\":\"rec\",\"type\":\"audio_url\"}],\"questions\":["
    "{\"name\":\"verdict\",\"type\":\"approve\"},"
    "{\"name\":\"category\",\"type\":\"label\",\"labels\":[\"spam\",\"ham\"]},"
    "{\"name\":\"tags\",\"type\":\"labels\",\"labels\":[\"urgent\",\"billing\",\"\\u00e9\"]},"
    "{\"name\":\"quality\",\"type\":\"rating\",\"max\":3},"
    "{\"name\":\"better\",\"type\":\"preference\"},"
    "{\"name\":\"fixed\",\"type\":\"text\"},"
    "{\"name\":\"entities\",\"type\":\"spans\",\"labels\":[\"PER\",\"ORG\"],\"field\":\"text\"},"
    "{\"name\":\"links\",\"type\":\"relations\",\"spans\":\"entities\",\"labels\":[\"w\"]},"
    "{\"name\":\"objects\",\"type\":\"boxes\",\"labels\":[\"car\"],\"field\":\"photo\"},"
    "{\"name\":\"said\",\"type\":\"transcription\",\"field\":\"rec\"}"
    "]}}";

/* Builds a queue configuration the harness trusts; aborts if it is refused. */
static hitl_queue_config *config(const char *text) {
  json_t *j = json_loads(text, 0, NULL);
  hitl_queue_config *q = NULL;
  hitl_err err = {0};
  FUZZ_CHECK(j != NULL);
  FUZZ_CHECK(hitl__queue_config_from_json(j, &q, &err) == 0);
  json_decref(j);
  return q;
}

/* Validates body against q and checks what every accepted response must be. */
static void check(const hitl_queue_config *q, const json_t *body) {
  hitl_answers a;
  hitl_err err = {0};
  if (hitl__answers_from_json(q, body, &a, &err) != 0) {
    FUZZ_CHECK(err.code == HITL_EVALIDATION && a.n == 0 && a.responses == NULL);
    return;
  }
  FUZZ_CHECK(a.lease_id != NULL && a.n >= 1 && a.n <= q->n_questions);
  for (size_t i = 0; i < a.n; i++) {
    const hitl_response *r = &a.responses[i];
    FUZZ_CHECK(r->kind != NULL);
    FUZZ_CHECK(r->question == NULL || hitl_queue_question_index(q, r->question) >= 0);
    /* Values are stored and sent back as raw JSON text. */
    FUZZ_CHECK(r->value == NULL || fuzz_json_valid(r->value));
    /* What validation accepts, the consensus codec reads. */
    if (r->value != NULL && strcmp(r->kind, "boxes") == 0) {
      hitl_boxes b;
      FUZZ_CHECK(q->codec->boxes(r->value, &b) == 0);
      for (size_t k = 0; k < b.n; k++) FUZZ_CHECK(hitl_box_check(&b.v[k]) == NULL);
      FUZZ_CHECK(hitl_boxes_match(&b, &b, 1.0, NULL));
      hitl_boxes_clear(&b);
    } else if (r->value != NULL && strcmp(r->kind, "transcription") == 0) {
      char *text = NULL;
      FUZZ_CHECK(q->codec->transcript(r->value, &text) == 0);
      FUZZ_CHECK(hitl_transcript_wer(text, text, 0.1) == 0);
      free(text);
    } else if (r->value != NULL && strcmp(r->kind, "relations") == 0) {
      hitl_relations rel;
      FUZZ_CHECK(q->codec->relations(r->value, &rel) == 0);
      hitl_relations_clear(&rel);
    }
  }
  hitl__answers_clear(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Built once and kept for the life of the process, as the server keeps its queues. */
  static hitl_queue_config *multi, *single;
  if (multi == NULL) {
    multi = config(multi_config);
    single = config("{}");
  }
  json_t *body = fuzz_json_load(data, size);
  if (body == NULL) return 0;
  check(multi, body);
  check(single, body);
  json_decref(body);
  return 0;
}
