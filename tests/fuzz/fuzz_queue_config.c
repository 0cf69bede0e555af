/* SPDX-License-Identifier: MIT */
/* Fuzz target: a queue configuration (PUT body) and the round trip of its normalized JSON. */
#include <string.h>

#include "api/queue_json.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_t *body = fuzz_json_load(data, size);
  if (body == NULL) return 0;
  hitl_queue_config *q = NULL, *again = NULL;
  hitl_err err = {0};
  if (hitl__queue_config_from_json(body, &q, &err) == 0) {
    FUZZ_CHECK(q != NULL && q->json != NULL && q->policy != NULL && q->n_questions > 0);
    /* queue_json.h promises that the normalized text parses again into the same configuration;
     * the server stores that text and rebuilds the queue from it at every start. */
    json_t *norm = json_loads(q->json, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(norm != NULL);
    hitl_err err2 = {0};
    int rc = hitl__queue_config_from_json(norm, &again, &err2);
    if (rc != 0) fprintf(stderr, "re-parse failed at %s: %s\n", err2.field, err2.message);
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(strcmp(q->json, again->json) == 0);
    FUZZ_CHECK(q->n_questions == again->n_questions && q->n_fields == again->n_fields &&
               q->n_roles == again->n_roles && q->overlap == again->overlap &&
               q->lease_seconds == again->lease_seconds && q->consensus == again->consensus &&
               q->deadline_seconds == again->deadline_seconds &&
               q->on_timeout == again->on_timeout);
    json_decref(norm);
    hitl_queue_config_free(again);
    hitl_queue_config_free(q);
  } else {
    FUZZ_CHECK(q == NULL && err.code < 0);
  }
  json_decref(body);
  return 0;
}
