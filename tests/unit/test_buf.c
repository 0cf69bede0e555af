/* SPDX-License-Identifier: MIT */
/* Unit tests of the growable buffer's number writers: what printf would write. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util/buf.h"

static void int_as_printf(long long v) {
  char want[32];
  snprintf(want, sizeof want, "x%lldy", v);
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_putc(&b, 'x');
  hitl_buf_int(&b, v);
  hitl_buf_putc(&b, 'y');
  assert_string_equal(hitl_buf_cstr(&b), want);
  hitl_buf_free(&b);
}

static void test_int(void **state) {
  (void)state;
  static const long long edges[] = {0, 1, -1, 9, 10, -10, 99, 100, 1234567890123LL,
                                    LLONG_MAX, LLONG_MIN, LLONG_MIN + 1, INT_MAX, INT_MIN};
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) int_as_printf(edges[i]);
  for (long long v = 1; v < LLONG_MAX / 7; v = v * 7 + 3) {
    int_as_printf(v);
    int_as_printf(-v);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_int),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
