/* SPDX-License-Identifier: MIT */
/* Unit tests of RFC 3339 time parsing: calendar dates only, leap years right, round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
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

/* What hitl_time_format wrote when it was gmtime_r and snprintf: the reference it must match. */
static void reference_format(int64_t ms, char out[HITL_TIME_LEN]) {
  time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int frac = (int)(ms - (int64_t)secs * 1000);
  struct tm tm = {0};
  gmtime_r(&secs, &tm);
  snprintf(out, HITL_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static void same_as_reference(int64_t ms) {
  char got[HITL_TIME_LEN], want[HITL_TIME_LEN];
  memset(got, 0x7f, sizeof got);
  hitl_time_format(ms, got);
  reference_format(ms, want);
  if (strcmp(got, want) != 0) fail_msg("%lld ms wrote %s, not %s", (long long)ms, got, want);
}

static void test_format_matches_gmtime(void **state) {
  (void)state;
  /* Edges: the range RFC 3339 can write, the epoch, leap days, centuries, the last ms of a day. */
  static const int64_t edges[] = {
      INT64_C(-62167219200000), INT64_C(-62167219199999), INT64_C(253402300799999),
      INT64_C(253402300799000), -1, 0, 1, 999, 1000, 86399999, 86400000,
      INT64_C(951782400000),  /* 2000-02-29. */
      INT64_C(951868800000),  /* 2000-03-01. */
      INT64_C(4107456000000), /* 2100-02-28. */
      INT64_C(-2203891200000), /* 1900-03-01. */
      INT64_C(-62162035200000), /* 0000-03-01 ... */
      INT64_C(-62162035200001), /* ... and the last ms of 0000-02-29: year 0 leaps. */
      INT64_C(1798761599999), /* 2026-12-31T23:59:59.999. */
      INT64_C(-62167219200001), INT64_C(253402300800000), /* Just outside: the old path. */
  };
  for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) same_as_reference(edges[i]);
  /* A sweep over every day of the range, each at a different time of day. */
  for (int64_t ms = INT64_C(-62167219200000), k = 0; ms <= INT64_C(253402300799999);
       ms += INT64_C(86400000) + 1234567, k++)
    same_as_reference(ms + k % 1000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_impossible_dates_refused),
      cmocka_unit_test(test_real_dates_accepted),
      cmocka_unit_test(test_format_matches_gmtime),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
