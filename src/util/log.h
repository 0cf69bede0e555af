/* SPDX-License-Identifier: MIT */
/* Leveled logging to stderr: the level is checked before anything is formatted. */
#ifndef HITL_UTIL_LOG_H
#define HITL_UTIL_LOG_H

typedef enum { HITL_LOG_DEBUG = 0, HITL_LOG_INFO, HITL_LOG_WARN, HITL_LOG_ERROR, HITL_LOG_OFF } hitl_log_level;

extern hitl_log_level hitl_log_threshold; /* Messages below this level are dropped. */

/* Writes one line "ts=... level=... <message>" to stderr. Never pass tokens or payloads. */
void hitl__log_write(hitl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define hitl_log(level, ...)                                             \
  do {                                                                   \
    if ((level) >= hitl_log_threshold) hitl__log_write((level), __VA_ARGS__); \
  } while (0)

/* Parses "debug", "info", "warn", "error" or "off"; returns -1 for anything else. */
int hitl_log_level_parse(const char *s);

#endif
