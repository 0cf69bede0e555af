/* SPDX-License-Identifier: MIT */
/* Fuzz target: a task submit body (and an Idempotency-Key header), and the task's JSON out. */
#include <string.h>

#include "api/task_json.h"
#include "fuzz.h"

/* Reads body into a task as the submit handler does, and checks that the task's API JSON, which
 * embeds the payload as raw text, is valid JSON. */
static void check(const json_t *body, const char *header_key, const char *prefix) {
  hitl_task t = {0};
  hitl_err err = {0};
  if (hitl__task_from_json(body, header_key, prefix, &t, &err) == 0) {
    FUZZ_CHECK(t.payload != NULL && fuzz_json_valid(t.payload));
    FUZZ_CHECK(!t.has_confidence || (t.confidence >= 0 && t.confidence <= 1));
    strcpy(t.id, "t_fuzz");
    t.queue = strdup("q");
    t.state = HITL_TASK_PENDING;
    hitl_buf b = HITL_BUF_INIT;
    hitl__task_to_json(&b, &t, NULL, 0, HITL_TASK_JSON_LEASE | HITL_TASK_JSON_RESPONSES);
    FUZZ_CHECK(fuzz_json_valid(hitl_buf_cstr(&b)));
    hitl_buf_free(&b);
  } else {
    FUZZ_CHECK(err.code == HITL_EVALIDATION);
  }
  hitl_task_clear(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Bytes before the first NUL, if any, are the Idempotency-Key header; the rest the body. */
  const uint8_t *nul = memchr(data, '\0', size);
  char *header_key = NULL;
  if (nul != NULL) {
    header_key = fuzz_cstring(data, (size_t)(nul - data));
    size -= (size_t)(nul - data) + 1;
    data = nul + 1;
  }
  json_t *body = fuzz_json_load(data, size);
  if (body != NULL) {
    check(body, header_key, "");
    check(body, NULL, "tasks[3].");
    json_decref(body);
  }
  free(header_key);
  return 0;
}
