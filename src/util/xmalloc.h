/* SPDX-License-Identifier: MIT */
/* Allocation for internal structures: on out-of-memory these abort, so callers need not check. */
#ifndef HITL_UTIL_XMALLOC_H
#define HITL_UTIL_XMALLOC_H

#include <stddef.h>

/* Like malloc/calloc/realloc/strdup, but abort the process with a message on failure.
 * Sizes that come from a client must not use these: use malloc and map failure to 413/503. */
void *hitl_xmalloc(size_t n);
void *hitl_xcalloc(size_t count, size_t size);
void *hitl_xrealloc(void *p, size_t n);
char *hitl_xstrdup(const char *s);           /* hitl_xstrdup(NULL) returns NULL. */
char *hitl_xstrndup(const char *s, size_t n); /* Copies at most n bytes and terminates. */

#endif
