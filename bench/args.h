/* SPDX-License-Identifier: MIT */
/* Number options of the bench programs, header-only for bench/. */
#ifndef HITL_BENCH_ARGS_H
#define HITL_BENCH_ARGS_H

#include <errno.h>
#include <stdlib.h>

/* s as a whole decimal number in [lo, hi] into *out: 0, or -1 (and *out untouched). */
static inline int bench_long(const char *s, long lo, long hi, long *out) {
  char *end = NULL;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* s as a whole number in [lo, hi] into *out: 0, or -1 (and *out untouched). */
static inline int bench_double(const char *s, double lo, double hi, double *out) {
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)) return -1;
  *out = v;
  return 0;
}

#endif
