/* SPDX-License-Identifier: MIT */
/* An incremental HTTP/1.1 response parser (Content-Length, chunked, read-to-close), for bench/. */
#ifndef HITL_BENCH_HTTP_RESP_H
#define HITL_BENCH_HTTP_RESP_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

#define BENCH_RESP_MAX_HEAD (64u * 1024u)          /* Status line and headers together. */
#define BENCH_RESP_MAX_BODY (256u * 1024u * 1024u) /* A decoded body. */
#define BENCH_RESP_MAX_LINE 4096u                  /* A chunk-size or trailer line. */

typedef enum bench_resp_state {
  BENCH_RESP_HEAD,       /* Waiting for the status line and headers. */
  BENCH_RESP_BODY_LEN,   /* Reading a Content-Length body; `left` bytes to go. */
  BENCH_RESP_BODY_EOF,   /* Reading a body that ends when the server closes. */
  BENCH_RESP_CHUNK_SIZE, /* Waiting for a chunk-size line. */
  BENCH_RESP_CHUNK_DATA, /* Reading chunk data; `left` bytes to go. */
  BENCH_RESP_CHUNK_CRLF, /* Waiting for the CRLF after chunk data. */
  BENCH_RESP_TRAILER,    /* Skipping trailer fields up to the empty line. */
  BENCH_RESP_DONE        /* The response is complete. */
} bench_resp_state;

typedef struct bench_resp {
  bench_resp_state state;
  int status;             /* The final (non-1xx) status code once the head is parsed. */
  bool close;             /* The server closes the connection after this response. */
  bool chunked;           /* Transfer-Encoding: chunked. */
  int64_t content_length; /* -1 when absent. */
  size_t pos;             /* Bytes of the input consumed so far. */
  uint64_t left;          /* Bytes left in the body or the current chunk. */
  hitl_buf body;          /* The decoded body. */
  const char *error;      /* Why parsing failed (static text), or NULL. */
} bench_resp;

static inline void bench_resp_reset(bench_resp *r) {
  r->state = BENCH_RESP_HEAD;
  r->status = 0;
  r->close = false;
  r->chunked = false;
  r->content_length = -1;
  r->pos = 0;
  r->left = 0;
  hitl_buf_reset(&r->body);
  r->error = NULL;
}

static inline void bench_resp_init(bench_resp *r) {
  hitl_buf_init(&r->body);
  bench_resp_reset(r);
}

static inline void bench_resp_free(bench_resp *r) { hitl_buf_free(&r->body); }

static inline int bench_resp_fail(bench_resp *r, const char *why) {
  r->error = why;
  return -1;
}

/* Whether the comma-separated header value v (n bytes) holds token tok, case-insensitively. */
static inline bool bench_resp_has_token(const char *v, size_t n, const char *tok) {
  size_t tl = strlen(tok), i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t start = i;
    while (i < n && v[i] != ',') i++;
    size_t end = i;
    while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t')) end--;
    if (end - start == tl && strncasecmp(v + start, tok, tl) == 0) return true;
  }
  return false;
}

/* Parses a status line and headers in s[0..n) (without the final empty line). */
static inline int bench_resp_head(bench_resp *r, const char *s, size_t n) {
  if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') || s[8] != ' ')
    return bench_resp_fail(r, "bad status line");
  bool http10 = s[7] == '0';
  int status = 0;
  for (int i = 9; i < 12; i++) {
    if (s[i] < '0' || s[i] > '9') return bench_resp_fail(r, "bad status code");
    status = status * 10 + (s[i] - '0');
  }
  if (status < 100 || (n > 12 && s[12] != ' ' && s[12] != '\r')) return bench_resp_fail(r, "bad status code");
  bool keep_alive = false, close = false, chunked = false;
  int64_t length = -1;
  const char *line = memchr(s, '\n', n);
  while (line != NULL) {
    line++;
    size_t rest = n - (size_t)(line - s);
    if (rest == 0) break;
    const char *eol = memchr(line, '\n', rest);
    size_t len = eol ? (size_t)(eol - line) : rest;
    if (len > 0 && line[len - 1] == '\r') len--;
    const char *colon = memchr(line, ':', len);
    if (colon == NULL || colon == line) return bench_resp_fail(r, "bad header line");
    size_t name_len = (size_t)(colon - line);
    const char *v = colon + 1;
    size_t vlen = len - name_len - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) v++, vlen--;
    while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) vlen--;
    if (name_len == 14 && strncasecmp(line, "content-length", 14) == 0) {
      if (vlen == 0 || vlen > 15) return bench_resp_fail(r, "bad content-length");
      int64_t cl = 0;
      for (size_t i = 0; i < vlen; i++) {
        if (v[i] < '0' || v[i] > '9') return bench_resp_fail(r, "bad content-length");
        cl = cl * 10 + (v[i] - '0');
      }
      if (length >= 0 && length != cl) return bench_resp_fail(r, "conflicting content-length");
      length = cl;
    } else if (name_len == 17 && strncasecmp(line, "transfer-encoding", 17) == 0) {
      if (bench_resp_has_token(v, vlen, "chunked")) chunked = true;
      else if (vlen > 0 && !bench_resp_has_token(v, vlen, "identity"))
        return bench_resp_fail(r, "unsupported transfer-encoding");
    } else if (name_len == 10 && strncasecmp(line, "connection", 10) == 0) {
      if (bench_resp_has_token(v, vlen, "close")) close = true;
      if (bench_resp_has_token(v, vlen, "keep-alive")) keep_alive = true;
    }
    line = eol;
  }
  r->status = status;
  r->chunked = chunked;
  r->content_length = chunked ? -1 : length;
  r->close = close || (http10 && !keep_alive);
  return 0;
}

/* Moves up to `left` bytes of input into the body; returns false when the body grew too big. */
static inline bool bench_resp_take(bench_resp *r, const char *data, size_t len) {
  size_t n = len - r->pos;
  if (n > r->left) n = (size_t)r->left;
  if (r->body.len + n > BENCH_RESP_MAX_BODY) return false;
  hitl_buf_append(&r->body, data + r->pos, n);
  r->pos += n;
  r->left -= n;
  return true;
}

/* Parses data[0..len), all the bytes received for this response so far (the caller keeps
 * appending to the same buffer); eof says the server closed the connection. Returns 1 when the
 * response is complete (r->pos bytes belong to it), 0 when more input is needed, -1 on a protocol
 * error (r->error says which). 1xx interim responses are skipped. */
static inline int bench_resp_parse(bench_resp *r, const char *data, size_t len, bool eof) {
  for (;;) {
    size_t avail = len - r->pos;
    const char *p = data + r->pos;
    switch (r->state) {
    case BENCH_RESP_HEAD: {
      const char *end = avail >= 4 ? memmem(p, avail, "\r\n\r\n", 4) : NULL;
      if (end == NULL) {
        if (avail > BENCH_RESP_MAX_HEAD) return bench_resp_fail(r, "head too large");
        if (eof) return bench_resp_fail(r, avail ? "truncated head" : "closed before a response");
        return 0;
      }
      size_t head_len = (size_t)(end - p);
      if (head_len + 4 > BENCH_RESP_MAX_HEAD) return bench_resp_fail(r, "head too large");
      if (bench_resp_head(r, p, head_len + 2) != 0) return -1;
      r->pos += head_len + 4;
      if (r->status < 200) { /* Interim: the real response follows. */
        r->status = 0;
        r->close = r->chunked = false;
        r->content_length = -1;
        break;
      }
      if (r->status == 204 || r->status == 304) {
        r->state = BENCH_RESP_DONE;
      } else if (r->chunked) {
        r->state = BENCH_RESP_CHUNK_SIZE;
      } else if (r->content_length >= 0) {
        if ((uint64_t)r->content_length > BENCH_RESP_MAX_BODY) return bench_resp_fail(r, "body too large");
        r->left = (uint64_t)r->content_length;
        r->state = r->left ? BENCH_RESP_BODY_LEN : BENCH_RESP_DONE;
      } else {
        r->close = true;
        r->state = BENCH_RESP_BODY_EOF;
      }
      break;
    }
    case BENCH_RESP_BODY_LEN:
    case BENCH_RESP_CHUNK_DATA:
      if (avail == 0 && r->left > 0) {
        if (eof) return bench_resp_fail(r, "truncated body");
        return 0;
      }
      if (!bench_resp_take(r, data, len)) return bench_resp_fail(r, "body too large");
      if (r->left == 0)
        r->state = r->state == BENCH_RESP_BODY_LEN ? BENCH_RESP_DONE : BENCH_RESP_CHUNK_CRLF;
      break;
    case BENCH_RESP_BODY_EOF:
      if (r->body.len + avail > BENCH_RESP_MAX_BODY) return bench_resp_fail(r, "body too large");
      hitl_buf_append(&r->body, p, avail);
      r->pos = len;
      if (!eof) return 0;
      r->state = BENCH_RESP_DONE;
      break;
    case BENCH_RESP_CHUNK_SIZE: {
      const char *eol = memmem(p, avail, "\r\n", 2);
      if (eol == NULL) {
        if (avail > BENCH_RESP_MAX_LINE) return bench_resp_fail(r, "chunk-size line too long");
        if (eof) return bench_resp_fail(r, "truncated chunk size");
        return 0;
      }
      uint64_t size = 0;
      size_t i = 0, n = (size_t)(eol - p);
      for (; i < n; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) break;
        if (size > (BENCH_RESP_MAX_BODY >> 4)) return bench_resp_fail(r, "chunk too large");
        size = size * 16 + (uint64_t)d;
      }
      if (i == 0) return bench_resp_fail(r, "bad chunk size");
      while (i < n && (p[i] == ' ' || p[i] == '\t')) i++;
      if (i < n && p[i] != ';') return bench_resp_fail(r, "bad chunk size");
      r->pos += n + 2;
      r->left = size;
      r->state = size ? BENCH_RESP_CHUNK_DATA : BENCH_RESP_TRAILER;
      break;
    }
    case BENCH_RESP_CHUNK_CRLF:
      if (avail < 2) {
        if (eof) return bench_resp_fail(r, "truncated chunk");
        return 0;
      }
      if (p[0] != '\r' || p[1] != '\n') return bench_resp_fail(r, "missing CRLF after chunk");
      r->pos += 2;
      r->state = BENCH_RESP_CHUNK_SIZE;
      break;
    case BENCH_RESP_TRAILER: {
      const char *eol = memmem(p, avail, "\r\n", 2);
      if (eol == NULL) {
        if (avail > BENCH_RESP_MAX_LINE) return bench_resp_fail(r, "trailer line too long");
        if (eof) return bench_resp_fail(r, "truncated trailer");
        return 0;
      }
      r->pos += (size_t)(eol - p) + 2;
      if (eol == p) r->state = BENCH_RESP_DONE;
      break;
    }
    case BENCH_RESP_DONE:
      return 1;
    }
  }
}

#endif
