/* SPDX-License-Identifier: MIT */
/* hitl__json_text: numbers as short as they can be, and always read back exactly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/json_text.h"

/* Encodes text parsed from in and checks the result is want. */
static void check(const char *in, const char *want) {
  json_error_t e;
  json_t *v = json_loads(in, JSON_DECODE_ANY, &e);
  assert_non_null(v);
  char *out = hitl__json_text(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  assert_non_null(out);
  assert_string_equal(out, want);
  /* And it reads back as the same value. */
  json_t *back = json_loads(out, JSON_DECODE_ANY, &e);
  assert_non_null(back);
  assert_true(json_equal(v, back));
  json_decref(back);
  free(out);
  json_decref(v);
}

static void test_short_reals_stay_short(void **state) {
  (void)state;
  check("0.8", "0.8");
  check("{\"b\":0.1,\"a\":[1.5,2,-0.25]}", "{\"a\":[1.5,2,-0.25],\"b\":0.1}");
  check("1e-7", "1e-7");
  check("3.0", "3.0");
}

static void test_long_reals_stay_exact(void **state) {
  (void)state;
  /* 0.1 + 0.2 needs all 17 digits; the whole text then uses 17, and 0.1 still reads back. */
  check("[0.30000000000000004,0.1]", "[0.30000000000000004,0.10000000000000001]");
  /* 16 digits are enough for this one. */
  check("0.1234567890123456", "0.1234567890123456");
}

static void test_no_reals(void **state) {
  (void)state;
  check("{\"s\":\"x\",\"n\":null,\"t\":true,\"i\":12345678901234}",
        "{\"i\":12345678901234,\"n\":null,\"s\":\"x\",\"t\":true}");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_short_reals_stay_short),
      cmocka_unit_test(test_long_reals_stay_exact),
      cmocka_unit_test(test_no_reals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
