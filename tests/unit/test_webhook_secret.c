/* SPDX-License-Identifier: MIT */
/* Tests of webhook secrets: their form, the Standard Webhooks signature, rotation on a PUT, what
 * readers see of them, and the retry schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "api/queue_json.h"
#include "api/webhook_secret.h"
#include "api/webhooks.h"

/* The test vector of the Standard Webhooks libraries. */
#define VECTOR_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SECRET_B "whsec_QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="
#define HOUR_MS (3600LL * 1000)

static void test_secret_form(void **state) {
  (void)state;
  assert_true(hitl__webhook_secret_valid(VECTOR_SECRET));
  assert_true(hitl__webhook_secret_valid(SECRET_B));
  assert_false(hitl__webhook_secret_valid(NULL));
  assert_false(hitl__webhook_secret_valid(""));
  assert_false(hitl__webhook_secret_valid("whsec_"));
  assert_false(hitl__webhook_secret_valid("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));  /* No prefix. */
  assert_false(hitl__webhook_secret_valid("whsec_c2hvcnQ="));                    /* 5 bytes. */
  assert_false(hitl__webhook_secret_valid("whsec_QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI")); /* Padding. */
  assert_false(hitl__webhook_secret_valid("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS-"));  /* URL-safe. */
  assert_false(hitl__webhook_secret_valid("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw "));
  char s[HITL_WEBHOOK_SECRET_LEN], t[HITL_WEBHOOK_SECRET_LEN];
  hitl__webhook_secret_generate(s);
  hitl__webhook_secret_generate(t);
  assert_true(hitl__webhook_secret_valid(s));
  assert_string_not_equal(s, t);
  assert_int_equal(strlen(s), 6 + 44); /* 32 bytes in base64. */
  char hint[HITL_WEBHOOK_HINT_LEN];
  hitl__webhook_secret_hint(VECTOR_SECRET, hint);
  assert_string_equal(hint, "whsec_...LaSw");
}

static void test_signature_vector(void **state) {
  (void)state;
  const char *secrets[] = {VECTOR_SECRET, SECRET_B};
  const char *body = "{\"test\": 2432232314}";
  char sig[2 * HITL_WEBHOOK_SIGNATURE_LEN];
  assert_int_equal(hitl__webhook_signature(secrets, 1, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                           body, strlen(body), sig, sizeof sig),
                   0);
  assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  /* Two secrets: two signatures, space-separated, the first as before. */
  assert_int_equal(hitl__webhook_signature(secrets, 2, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                           body, strlen(body), sig, sizeof sig),
                   0);
  assert_non_null(strstr(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,"));
  assert_int_equal(strlen(sig), 2 * 47 + 1);
  /* Too small a buffer or a bad secret: nothing. */
  assert_int_equal(hitl__webhook_signature(secrets, 2, "m", 1, body, strlen(body), sig, 60), -1);
  assert_string_equal(sig, "");
  const char *bad[] = {"whsec_x"};
  assert_int_equal(hitl__webhook_signature(bad, 1, "m", 1, body, strlen(body), sig, sizeof sig), -1);
}

static hitl_queue_config *put(const char *text, const hitl_queue_config *previous, int64_t now) {
  json_t *j = json_loads(text, 0, NULL);
  assert_non_null(j);
  hitl_queue_config *q = NULL;
  hitl_err err = {0};
  int rc = hitl__queue_config_from_put(j, previous, now, &q, &err);
  json_decref(j);
  if (rc) fail_msg("unexpected error at \"%s\": %s", err.field, err.message);
  return q;
}

/* Parses q's stored form again, as a restart does. */
static hitl_queue_config *reload(const hitl_queue_config *q) {
  json_t *j = json_loads(q->json, 0, NULL);
  hitl_queue_config *r = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl__queue_config_from_json(j, &r, &err), 0);
  json_decref(j);
  return r;
}

static void test_put_generates_keeps_and_rotates(void **state) {
  (void)state;
  int64_t now = 1000 * HOUR_MS;
  /* Generated when not given, and only the PUT's answer (generated) and the store see it. */
  hitl_queue_config *a = put("{\"webhooks\":[{\"url\":\"http://h/a\"}]}", NULL, now);
  const hitl_webhook *wa = &a->webhooks[0];
  assert_true(wa->generated);
  assert_true(hitl__webhook_secret_valid(wa->secret));
  assert_null(wa->previous_secret);
  assert_non_null(strstr(a->json, wa->secret));
  assert_null(strstr(hitl__queue_config_json(a, true), wa->secret));
  assert_null(strstr(hitl__queue_config_json(a, false), wa->secret));
  char hint[HITL_WEBHOOK_HINT_LEN];
  hitl__webhook_secret_hint(wa->secret, hint);
  assert_non_null(strstr(hitl__queue_config_json(a, true), hint));

  /* A PUT of what GET shows keeps the secret (matched by URL). */
  hitl_queue_config *b = put(hitl__queue_config_json(a, true), a, now + 1);
  assert_false(b->webhooks[0].generated);
  assert_string_equal(b->webhooks[0].secret, wa->secret);
  assert_null(b->webhooks[0].previous_secret);

  /* A given secret replaces it; the old one signs beside it for 24 hours. */
  hitl_queue_config *c =
      put("{\"webhooks\":[{\"url\":\"http://h/a\",\"secret\":\"" SECRET_B "\"}]}", b, now + 2);
  const hitl_webhook *wc = &c->webhooks[0];
  assert_false(wc->generated);
  assert_string_equal(wc->secret, SECRET_B);
  assert_string_equal(wc->previous_secret, wa->secret);
  assert_true(wc->previous_until == now + 2 + HITL_WEBHOOK_ROTATION_MS);
  const char *valid[2];
  assert_int_equal(hitl__webhook_secrets_valid(wc, now + 3, valid), 2);
  assert_string_equal(valid[0], SECRET_B);
  assert_string_equal(valid[1], wa->secret);
  assert_int_equal(hitl__webhook_secrets_valid(wc, wc->previous_until, valid), 1);
  assert_non_null(strstr(hitl__queue_config_json(c, true), "\"rotation_ends_at\""));
  assert_null(strstr(hitl__queue_config_json(c, true), wa->secret));

  /* The rotation survives a restart and a PUT that changes nothing. */
  hitl_queue_config *d = reload(c);
  assert_string_equal(d->webhooks[0].previous_secret, wa->secret);
  assert_true(d->webhooks[0].previous_until == wc->previous_until);
  hitl_queue_config *e = put("{\"webhooks\":[{\"url\":\"http://h/a\"}]}", d, now + 4);
  assert_string_equal(e->webhooks[0].previous_secret, wa->secret);
  /* ... but not its end: a PUT after it drops the old secret. */
  hitl_queue_config *f = put("{\"webhooks\":[{\"url\":\"http://h/a\"}]}", e,
                             now + 5 + HITL_WEBHOOK_ROTATION_MS);
  assert_string_equal(f->webhooks[0].secret, SECRET_B);
  assert_null(f->webhooks[0].previous_secret);

  /* rotate_secret generates a new one, the old one signing for a while. */
  hitl_queue_config *g =
      put("{\"webhooks\":[{\"url\":\"http://h/a\",\"rotate_secret\":true}]}", f, now + 6);
  assert_true(g->webhooks[0].generated);
  assert_string_not_equal(g->webhooks[0].secret, SECRET_B);
  assert_string_equal(g->webhooks[0].previous_secret, SECRET_B);
  assert_null(strstr(g->json, "rotate_secret"));

  /* Another URL is another webhook: a secret of its own. */
  hitl_queue_config *h = put("{\"webhooks\":[{\"url\":\"http://h/b\"}]}", g, now + 7);
  assert_true(h->webhooks[0].generated);
  assert_string_not_equal(h->webhooks[0].secret, g->webhooks[0].secret);

  hitl_queue_config *all[] = {a, b, c, d, e, f, g, h};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++) hitl_queue_config_free(all[i]);
}

static void test_put_may_not_set_the_previous_secret(void **state) {
  (void)state;
  json_t *j = json_loads("{\"webhooks\":[{\"url\":\"http://h/a\",\"previous_secret\":\"" SECRET_B
                         "\",\"previous_secret_until\":1}]}",
                         0, NULL);
  hitl_queue_config *q = NULL;
  hitl_err err = {0};
  assert_int_equal(hitl__queue_config_from_put(j, NULL, 1, &q, &err), HITL_EVALIDATION);
  assert_null(q);
  assert_string_equal(err.field, "webhooks[0].previous_secret");
  /* The stored form may (a restart reads it). */
  assert_int_equal(hitl__queue_config_from_json(j, &q, &err), 0);
  hitl_queue_config_free(q);
  json_decref(j);
  j = json_loads("{\"webhooks\":[{\"url\":\"http://h/a\",\"secret\":\"" SECRET_B
                 "\",\"rotate_secret\":true}]}", 0, NULL);
  assert_int_equal(hitl__queue_config_from_put(j, NULL, 1, &q, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "webhooks[0].rotate_secret");
  json_decref(j);
  /* A valid secret followed by a NUL and more (a parser that allows NUL could hand one over). */
  const char with_nul[] = VECTOR_SECRET "\0x";
  j = json_pack("{s:[{s:s,s:o}]}", "webhooks", "url", "http://h/a", "secret",
                json_stringn(with_nul, sizeof with_nul - 1));
  assert_int_equal(hitl__queue_config_from_put(j, NULL, 1, &q, &err), HITL_EVALIDATION);
  assert_string_equal(err.field, "webhooks[0].secret");
  json_decref(j);
}

/* The retry schedule: growing, and more than a day from the first attempt to the last. */
static void test_retry_schedule(void **state) {
  (void)state;
  int64_t base = HITL_WEBHOOK_DEFAULT_RETRY_MS, total = 0, previous = 0;
  for (int attempts = 1; attempts < HITL_WEBHOOK_MAX_ATTEMPTS; attempts++) {
    int64_t nominal = base << (attempts - 1 < 11 ? attempts - 1 : 11);
    for (int k = 0; k < 20; k++) { /* The random part stays within a tenth. */
      int64_t d = hitl__webhooks_backoff(base, attempts);
      assert_true(d >= nominal && d <= nominal + nominal / 10);
    }
    assert_true(nominal >= previous);
    previous = nominal;
    total += nominal;
  }
  assert_true(total >= 24 * HOUR_MS);
  assert_true(total <= 30 * HOUR_MS);
  assert_true(previous <= 6 * HOUR_MS); /* The longest wait. */
  /* The base scales the whole schedule (tests run it in milliseconds). */
  assert_int_equal(hitl__webhooks_backoff(1, 1), 1);
  int64_t last = hitl__webhooks_backoff(1, 15), beyond = hitl__webhooks_backoff(1, 40);
  assert_true(last >= 2048 && last <= 2048 + 204);
  assert_true(beyond >= 2048 && beyond <= 2048 + 204);
}

int main(void) {
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_secret_form),
      cmocka_unit_test(test_signature_vector),
      cmocka_unit_test(test_put_generates_keeps_and_rotates),
      cmocka_unit_test(test_put_may_not_set_the_previous_secret),
      cmocka_unit_test(test_retry_schedule),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
