/* SPDX-License-Identifier: MIT */
/* A growable byte buffer, used to build JSON text, SQL and HTTP bodies. */
#ifndef HITL_UTIL_BUF_H
#define HITL_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct hitl_buf {
  char *data; /* Always NUL-terminated once anything was appended; NULL while empty. */
  size_t len; /* Bytes used, not counting the terminating NUL. */
  size_t cap; /* Bytes allocated. */
} hitl_buf;

#define HITL_BUF_INIT {NULL, 0, 0}

void hitl_buf_init(hitl_buf *b);
/* Frees the storage; the buffer is empty and reusable afterwards. */
void hitl_buf_free(hitl_buf *b);
/* Empties the buffer but keeps its storage. */
void hitl_buf_reset(hitl_buf *b);
void hitl_buf_append(hitl_buf *b, const void *data, size_t n);
void hitl_buf_puts(hitl_buf *b, const char *s);
void hitl_buf_putc(hitl_buf *b, char c);
void hitl_buf_printf(hitl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hitl_buf_vprintf(hitl_buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends s (n bytes, UTF-8) as a JSON string literal with quotes and escapes. */
void hitl_buf_json_string(hitl_buf *b, const char *s, size_t n);
/* Appends the JSON string literal of a NUL-terminated string, or `null` when s is NULL. */
void hitl_buf_json_cstr(hitl_buf *b, const char *s);
/* Appends v in decimal (what "%lld" writes, without printf's cost on hot answers). */
void hitl_buf_int(hitl_buf *b, long long v);
/* Appends a finite double in the shortest form that reads back as the same value (0.8, not
 * 0.80000000000000004). */
void hitl_buf_double(hitl_buf *b, double x);
/* Returns the contents as a malloc'd NUL-terminated string owned by the caller ("" if empty) and
 * leaves the buffer empty. */
char *hitl_buf_detach(hitl_buf *b);
/* Returns the contents as a C string valid until the next change of b ("" if empty). */
const char *hitl_buf_cstr(const hitl_buf *b);

#endif
