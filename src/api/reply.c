/* SPDX-License-Identifier: MIT */
/* Answers: the functions every handler answers through, and the one JSON error body. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#include "api/http.h"

void hitl__reply_buf(hitl_request *req, int status, hitl_buf *b) {
  hitl_buf_free(&req->out);
  req->out = *b;
  hitl_buf_init(b);
  req->status = status;
  req->content_type = "application/json";
  req->phase = HITL_PHASE_ANSWERED;
}

void hitl__reply_json(hitl_request *req, int status, const char *json, size_t len) {
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_append(&b, json, len);
  hitl__reply_buf(req, status, &b);
}

void hitl__reply_empty(hitl_request *req, int status) {
  hitl_buf_free(&req->out);
  req->status = status;
  req->content_type = NULL;
  req->phase = HITL_PHASE_ANSWERED;
}

/* Length of the well-formed UTF-8 sequence at s (NUL-terminated), or 0 when there is none. */
static size_t utf8_sequence(const unsigned char *s) {
  unsigned char c = s[0], lo = 0x80, hi = 0xBF;
  size_t n;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0; /* Overlong. */
    if (c == 0xED) hi = 0x9F; /* Surrogates. */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90; /* Overlong. */
    if (c == 0xF4) hi = 0x8F; /* Past U+10FFFF. */
  } else {
    return 0;
  }
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return n;
}

void hitl__utf8_scrub(char *s) {
  unsigned char *p = (unsigned char *)s;
  while (*p) {
    size_t n = utf8_sequence(p);
    if (n == 0) {
      *p = '?';
      n = 1;
    }
    p += n;
  }
}

/* Formats an error's message and field (either may echo input) into scrubbed copies. */
__attribute__((format(printf, 4, 0))) static void error_text(char message[512],
                                                             char field_copy[160],
                                                             const char **field, const char *fmt,
                                                             va_list ap) {
  vsnprintf(message, 512, fmt, ap);
  hitl__utf8_scrub(message);
  if (*field) {
    snprintf(field_copy, 160, "%s", *field);
    hitl__utf8_scrub(field_copy);
    *field = field_copy;
  }
}

void hitl__reply_error(hitl_request *req, int code, const char *field, const char *fmt, ...) {
  char message[512], field_copy[160]; /* As hitl_err.field. */
  va_list ap;
  va_start(ap, fmt);
  error_text(message, field_copy, &field, fmt, ap);
  va_end(ap);
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"error\":{\"code\":");
  hitl_buf_json_cstr(&b, hitl_err_code(code));
  hitl_buf_puts(&b, ",\"message\":");
  hitl_buf_json_cstr(&b, message);
  if (field && *field) {
    hitl_buf_puts(&b, ",\"field\":");
    hitl_buf_json_cstr(&b, field);
  }
  hitl_buf_puts(&b, "}}");
  hitl__reply_buf(req, hitl_err_status(code), &b);
}

/* The JSON-RPC error code for a HITL_E* code, when the protocol layer named none. */
static int rpc_code_of(int code) {
  switch (code) {
  case HITL_EINVALID_JSON: return HITL_RPC_PARSE_ERROR;
  case HITL_EVALIDATION:
  case HITL_ENOT_FOUND: return HITL_RPC_INVALID_PARAMS;
  default: return HITL_RPC_INTERNAL_ERROR;
  }
}

void hitl__reply_rpc_error(hitl_request *req, const char *id, int rpc_code, int code,
                           const char *field, const char *fmt, ...) {
  char message[512], field_copy[160];
  va_list ap;
  va_start(ap, fmt);
  error_text(message, field_copy, &field, fmt, ap);
  va_end(ap);
  if (rpc_code == 0) rpc_code = rpc_code_of(code);
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_printf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":%d,\"message\":",
                  id ? id : "null", rpc_code);
  hitl_buf_json_cstr(&b, message);
  /* The data is the REST error of the same failure, from the one table. */
  hitl_buf_puts(&b, ",\"data\":{\"code\":");
  hitl_buf_json_cstr(&b, hitl_err_code(code));
  hitl_buf_printf(&b, ",\"status\":%d", hitl_err_status(code));
  if (field && *field) {
    hitl_buf_puts(&b, ",\"field\":");
    hitl_buf_json_cstr(&b, field);
  }
  hitl_buf_puts(&b, "}}}");
  /* A message that is no JSON-RPC request at all is a bad HTTP request; any other error is a
   * JSON-RPC answer like a result (as the MCP Streamable HTTP transport has it). */
  bool bad = rpc_code == HITL_RPC_PARSE_ERROR || rpc_code == HITL_RPC_INVALID_REQUEST;
  hitl__reply_buf(req, bad ? 400 : 200, &b);
}

void hitl__reply_err(hitl_request *req, const hitl_err *err) {
  int code = err->code ? err->code : HITL_EINTERNAL;
  hitl__reply_error(req, code, err->field, "%s", err->message[0] ? err->message : "internal error");
}
