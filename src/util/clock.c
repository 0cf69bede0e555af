/* SPDX-License-Identifier: MIT */
/* Clocks and RFC 3339 time strings. */
#include "util/clock.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t hitl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t hitl_mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the times RFC 3339 can write. */
#define TIME_MIN_MS INT64_C(-62167219200000)
#define TIME_MAX_MS INT64_C(253402300799999)

/* Writes v (0 to 10^n - 1) as n decimal digits at p. */
static void put_digits(char *p, int n, unsigned v) {
  for (int i = n - 1; i >= 0; i--) {
    p[i] = (char)('0' + v % 10);
    v /= 10;
  }
}

/* Every answer that carries a task or a run writes several times, so this is arithmetic, not
 * gmtime_r and snprintf (which were a tenth of a heartbeat's instructions): the civil date from a
 * day count is Howard Hinnant's days_to_civil for the proleptic Gregorian calendar. */
void hitl_time_format(int64_t ms, char out[HITL_TIME_LEN]) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int frac = (int)(ms - secs * 1000);
  if (ms < TIME_MIN_MS || ms > TIME_MAX_MS) { /* Years RFC 3339 cannot write: as before. */
    time_t t = (time_t)secs;
    struct tm tm = {0};
    gmtime_r(&t, &tm);
    snprintf(out, HITL_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return;
  }
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  unsigned sod = (unsigned)(secs - days * 86400); /* Seconds into the day. */
  int64_t z = days + 719468;                       /* Days since 0000-03-01. */
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);     /* Day of the 400-year era. */
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;               /* Month from March. */
  unsigned d = doy - (153 * mp + 2) / 5 + 1;
  unsigned m = mp < 10 ? mp + 3 : mp - 9;
  unsigned y = (unsigned)((int64_t)yoe + era * 400 + (m <= 2));
  memcpy(out, "0000-00-00T00:00:00.000Z", 25);
  put_digits(out, 4, y);
  put_digits(out + 5, 2, m);
  put_digits(out + 8, 2, d);
  put_digits(out + 11, 2, sod / 3600);
  put_digits(out + 14, 2, sod / 60 % 60);
  put_digits(out + 17, 2, sod % 60);
  put_digits(out + 20, 3, (unsigned)frac);
}

/* The days of month mo (1 to 12) of year y in the proleptic Gregorian calendar. */
static int days_in_month(int y, int mo) {
  static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return mo == 2 && leap ? 29 : days[mo - 1];
}

static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)(*p)[i])) return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

int hitl_time_parse(const char *s, int64_t *ms) {
  int y, mo, d, h, mi, se;
  const char *p = s;
  if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
      digits(&p, 2, &d) || (*p != 'T' && *p != 't' && *p != ' '))
    return -1;
  p++;
  if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &se))
    return -1;
  /* timegm would carry 2020-02-30 into March: a date that does not exist is refused. */
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60)
    return -1;
  int frac_ms = 0;
  if (*p == '.') {
    p++;
    int scale = 100, n = 0;
    while (isdigit((unsigned char)*p)) {
      frac_ms += (*p - '0') * scale;
      scale /= 10;
      p++;
      n++;
    }
    if (n == 0) return -1;
  }
  int offset_min = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1, oh, om;
    if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59) return -1;
    offset_min = sign * (oh * 60 + om);
  } else {
    return -1;
  }
  if (*p != '\0') return -1;
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h,
                  .tm_min = mi, .tm_sec = se};
  time_t t = timegm(&tm);
  int64_t result = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + frac_ms;
  /* An offset can carry the year 0000 or 9999 out of the four digits RFC 3339 allows. */
  if (result < TIME_MIN_MS || result > TIME_MAX_MS) return -1;
  *ms = result;
  return 0;
}
