/* SPDX-License-Identifier: MIT */
/* JSON values to text, with numbers written as short as they can be and still read back exactly. */
#include "api/json_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* True when every real in v reads back exactly from digits significant digits. Nesting is
 * bounded where JSON enters the server (64 levels), so the recursion is too. */
static bool reals_fit(const json_t *v, int digits) {
  switch (json_typeof(v)) {
  case JSON_REAL: {
    char s[40];
    double d = json_real_value(v);
    snprintf(s, sizeof s, "%.*g", digits, d);
    return strtod(s, NULL) == d;
  }
  case JSON_ARRAY: {
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) if (!reals_fit(e, digits)) return false;
    return true;
  }
  case JSON_OBJECT: {
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e) if (!reals_fit(e, digits)) return false;
    return true;
  }
  default:
    return true;
  }
}

size_t hitl__json_real_flags(const json_t *v) {
  int digits = 17; /* Always enough for a double. */
  for (int p = 15; p < 17; p++)
    if (reals_fit(v, p)) {
      digits = p;
      break;
    }
  return JSON_REAL_PRECISION(digits);
}

char *hitl__json_text(const json_t *v, size_t flags) {
  flags |= hitl__json_real_flags(v);
  /* Into our own allocation, so the text is freed with free() whatever allocator jansson has. */
  size_t n = json_dumpb(v, NULL, 0, flags);
  char *s = n ? malloc(n + 1) : NULL;
  if (s == NULL || json_dumpb(v, s, n, flags) != n) {
    free(s);
    return NULL;
  }
  s[n] = '\0';
  return s;
}
