/* SPDX-License-Identifier: MIT */
/* The log line writer. */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/clock.h"

hitl_log_level hitl_log_threshold = HITL_LOG_INFO;

static const char *names[] = {"debug", "info", "warn", "error", "off"};

void hitl__log_write(hitl_log_level level, const char *fmt, ...) {
  char line[2048], ts[HITL_TIME_LEN];
  hitl_time_format(hitl_now_ms(), ts);
  int n = snprintf(line, sizeof line, "ts=%s level=%s ", ts, names[level]);
  va_list ap;
  va_start(ap, fmt);
  if (n > 0 && (size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s\n", line); /* One fprintf per line keeps lines whole between threads. */
}

int hitl_log_level_parse(const char *s) {
  for (int i = 0; i <= HITL_LOG_OFF; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}
