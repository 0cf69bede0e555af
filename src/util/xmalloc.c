/* SPDX-License-Identifier: MIT */
/* Aborting allocation wrappers (Redis's zmalloc idea): internal structures never handle OOM. */
#include "util/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n) {
  fprintf(stderr, "hitl: out of memory allocating %zu bytes\n", n);
  abort();
}

void *hitl_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) oom(n);
  return p;
}

void *hitl_xcalloc(size_t count, size_t size) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (p == NULL) oom(count * size);
  return p;
}

void *hitl_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (q == NULL) oom(n);
  return q;
}

char *hitl_xstrdup(const char *s) {
  if (s == NULL) return NULL;
  return hitl_xstrndup(s, strlen(s));
}

char *hitl_xstrndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *p = hitl_xmalloc(len + 1);
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}
