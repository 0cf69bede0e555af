/* SPDX-License-Identifier: MIT */
/* Webhook URL redaction: what a reader who is not an orchestrator sees of a queue's webhooks. */
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

static void check(const char *url, const char *want) {
  char *got = hitl__url_redact(url);
  if (strcmp(got, want) != 0) fail_msg("%s: got %s, want %s", url, got, want);
  free(got);
}

static void test_url_redact(void **state) {
  (void)state;
  check("https://user:pass@hooks.example/in/x?token=abc&v=1#frag",
        "https://***@hooks.example/in/x?token=***&v=***#***");
  check("http://127.0.0.1:8080/hook", "http://127.0.0.1:8080/hook");
  check("https://hooks.example/p?s3cret", "https://hooks.example/p?***");
  check("https://hooks.example?a=&b=2", "https://hooks.example?a=***&b=***");
  check("https://a@b@hooks.example:9/x", "https://***@hooks.example:9/x");
  check("https://hooks.example/p@x", "https://hooks.example/p@x"); /* '@' in the path. */
  check("https://hooks.example/p?a=1&&b=2", "https://hooks.example/p?a=***&&b=***");
  check("https://tok@hooks.example", "https://***@hooks.example");
}

/* The configuration keeps the URL whole for orchestrators and redacted for everyone else; with
 * nothing to hide, both are the same text. */
static void test_config_json_for_readers(void **state) {
  (void)state;
  json_t *body = json_loads("{\"webhooks\":[{\"url\":\"https://u:p@hooks.example/a?key=k1\"},"
                            "{\"url\":\"http://127.0.0.1:9/x\"}]}",
                            0, NULL);
  hitl_queue_config *q = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl__queue_config_from_json(body, &q, &err), 0);
  const char *whole = hitl__queue_config_json(q, true), *shown = hitl__queue_config_json(q, false);
  assert_non_null(strstr(whole, "https://u:p@hooks.example/a?key=k1"));
  assert_non_null(strstr(shown, "https://***@hooks.example/a?key=***"));
  assert_non_null(strstr(shown, "http://127.0.0.1:9/x"));
  assert_null(strstr(shown, "k1"));
  assert_null(strstr(shown, "u:p"));
  assert_string_equal(q->webhooks[0].url, "https://u:p@hooks.example/a?key=k1"); /* Delivery. */
  hitl_queue_config_free(q);
  json_decref(body);

  body = json_loads("{\"webhooks\":[{\"url\":\"http://127.0.0.1:9/x\"}]}", 0, NULL);
  assert_int_equal(hitl__queue_config_from_json(body, &q, &err), 0);
  assert_string_equal(hitl__queue_config_json(q, false), hitl__queue_config_json(q, true));
  hitl_queue_config_free(q);
  json_decref(body);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_url_redact),
      cmocka_unit_test(test_config_json_for_readers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
