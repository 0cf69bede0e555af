/* SPDX-License-Identifier: MIT */
/* Growable byte buffer with JSON string escaping. */
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

void hitl_buf_init(hitl_buf *b) {
  b->data = NULL;
  b->len = b->cap = 0;
}

void hitl_buf_free(hitl_buf *b) {
  free(b->data);
  hitl_buf_init(b);
}

void hitl_buf_reset(hitl_buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

static void reserve(hitl_buf *b, size_t extra) {
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap < need) cap *= 2;
  b->data = hitl_xrealloc(b->data, cap);
  b->cap = cap;
}

void hitl_buf_append(hitl_buf *b, const void *data, size_t n) {
  reserve(b, n);
  if (n) memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
}

void hitl_buf_puts(hitl_buf *b, const char *s) { hitl_buf_append(b, s, strlen(s)); }

void hitl_buf_putc(hitl_buf *b, char c) { hitl_buf_append(b, &c, 1); }

void hitl_buf_vprintf(hitl_buf *b, const char *fmt, va_list ap) {
  va_list copy;
  va_copy(copy, ap);
  char small[256];
  int n = vsnprintf(small, sizeof small, fmt, copy);
  va_end(copy);
  if (n < 0) return;
  if ((size_t)n < sizeof small) {
    hitl_buf_append(b, small, (size_t)n);
    return;
  }
  reserve(b, (size_t)n);
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
}

void hitl_buf_printf(hitl_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  hitl_buf_vprintf(b, fmt, ap);
  va_end(ap);
}

void hitl_buf_json_string(hitl_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  reserve(b, n + 2);
  hitl_buf_putc(b, '"');
  size_t run = 0; /* Start of the current run of bytes that need no escape. */
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    hitl_buf_append(b, s + run, i - run);
    run = i + 1;
    switch (c) {
    case '"': hitl_buf_append(b, "\\\"", 2); break;
    case '\\': hitl_buf_append(b, "\\\\", 2); break;
    case '\n': hitl_buf_append(b, "\\n", 2); break;
    case '\r': hitl_buf_append(b, "\\r", 2); break;
    case '\t': hitl_buf_append(b, "\\t", 2); break;
    default: {
      char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      hitl_buf_append(b, esc, 6);
    }
    }
  }
  hitl_buf_append(b, s + run, n - run);
  hitl_buf_putc(b, '"');
}

void hitl_buf_json_cstr(hitl_buf *b, const char *s) {
  if (s == NULL)
    hitl_buf_append(b, "null", 4);
  else
    hitl_buf_json_string(b, s, strlen(s));
}

void hitl_buf_int(hitl_buf *b, long long v) {
  char s[24];
  size_t i = sizeof s;
  /* Digits from the end; the magnitude as unsigned, so LLONG_MIN does not overflow. */
  unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
  do {
    s[--i] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) s[--i] = '-';
  hitl_buf_append(b, s + i, sizeof s - i);
}

void hitl_buf_double(hitl_buf *b, double x) {
  char s[32];
  for (int precision = 15; precision <= 17; precision++) {
    snprintf(s, sizeof s, "%.*g", precision, x);
    if (strtod(s, NULL) == x) break;
  }
  hitl_buf_puts(b, s);
}

char *hitl_buf_detach(hitl_buf *b) {
  char *p = b->data ? b->data : hitl_xstrdup("");
  hitl_buf_init(b);
  return p;
}

const char *hitl_buf_cstr(const hitl_buf *b) { return b->data ? b->data : ""; }
