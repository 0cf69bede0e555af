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

void hitl_time_format(int64_t ms, char out[HITL_TIME_LEN]) {
  time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int frac = (int)(ms - (int64_t)secs * 1000);
  struct tm tm = {0};
  gmtime_r(&secs, &tm);
  /* Not strftime's %Y, which writes the year 812 as "812": RFC 3339 wants four digits. */
  snprintf(out, HITL_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

/* 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the times RFC 3339 can write. */
#define TIME_MIN_MS INT64_C(-62167219200000)
#define TIME_MAX_MS INT64_C(253402300799999)

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
