/* SPDX-License-Identifier: MIT */
/* The log line writer: one write(2) per line, so lines from many threads never interleave. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

hitl_log_level hitl_log_threshold = HITL_LOG_INFO;

static const char *names[] = {"debug", "info", "warn", "error", "off"};

/* Each thread keeps the text of the current second, so that most lines format no date. */
static _Thread_local time_t cached_second = -1;
static _Thread_local char cached_prefix[24]; /* "2026-11-23T23:21:21" */

void hitl__log_write(hitl_log_level level, const char *fmt, ...) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec != cached_second) {
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(cached_prefix, sizeof cached_prefix, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_second = ts.tv_sec;
  }
  char line[2048];
  int n = snprintf(line, sizeof line, "ts=%s.%03ldZ level=%s ", cached_prefix,
                   ts.tv_nsec / 1000000, names[level]);
  if (n < 0) return;
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  size_t len = (size_t)n + (m > 0 ? (size_t)m : 0);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = write(STDERR_FILENO, line, len);
  (void)w; /* Nowhere to report a failure to log. */
}

int hitl_log_level_parse(const char *s) {
  for (int i = 0; i <= HITL_LOG_OFF; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}
