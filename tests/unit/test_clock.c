/* SPDX-License-Identifier: MIT */
/* Unit tests of RFC 3339 time parsing: calendar dates only, leap years right, round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "util/clock.h"

static void accepts(const char *s, const char *expect_formatted) {
  int64_t ms = 0x7eadbeef;
  if (hitl_time_parse(s, &ms) != 0) fail_msg("\"%s\" was refused", s);
  char out[HITL_TIME_LEN];
  hitl_time_format(ms, out);
  if (strcmp(out, expect_formatted) != 0) fail_msg("\"%s\" read as %s, not %s", s, out, expect_formatted);
}

static void refuses(const char *s) {
  int64_t ms = 12345;
  if (hitl_time_parse(s, &ms) == 0) fail_msg("\"%s\" was accepted", s);
  assert_int_equal(ms, 12345); /* Left alone. */
}

static void test_impossible_dates_refused(void **state) {
  (void)state;
  refuses("2020-02-30T00:00:00Z");
  refuses("2020-02-31T00:00:00Z");
  refuses("2021-02-29T00:00:00Z"); /* Not a leap year. */
  refuses("1900-02-29T00:00:00Z"); /* Divisible by 100, not by 400. */
  refuses("2100-02-29T00:00:00Z");
  refuses("2026-04-31T00:00:00Z");
  refuses("2026-06-31T00:00:00Z");
  refuses("2026-09-31T00:00:00Z");
  refuses("2026-11-31T00:00:00Z");
  refuses("2026-01-32T00:00:00Z");
  refuses("2026-00-10T00:00:00Z");
  refuses("2026-13-10T00:00:00Z");
  refuses("2026-01-00T00:00:00Z");
  refuses("2026-01-01T24:00:00Z");
  refuses("2026-01-01T23:60:00Z");
  refuses("2026-01-01T23:59:61Z");
}

static void test_real_dates_accepted(void **state) {
  (void)state;
  accepts("2020-02-29T00:00:00Z", "2020-02-29T00:00:00.000Z"); /* Leap year. */
  accepts("2000-02-29T12:00:00Z", "2000-02-29T12:00:00.000Z"); /* Divisible by 400. */
  accepts("2026-02-28T23:59:59.5Z", "2026-02-28T23:59:59.500Z");
  accepts("2026-04-30T00:00:00Z", "2026-04-30T00:00:00.000Z");
  accepts("2026-12-31T23:59:59Z", "2026-12-31T23:59:59.000Z");
  accepts("2026-01-31T00:00:00+01:00", "2026-01-30T23:00:00.000Z");
  accepts("2026-03-01t00:00:00z", "2026-03-01T00:00:00.000Z");
  /* A leap second reads as the next instant (as POSIX time has no room for it). */
  accepts("2016-12-31T23:59:60Z", "2017-01-01T00:00:00.000Z");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_impossible_dates_refused),
      cmocka_unit_test(test_real_dates_accepted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
