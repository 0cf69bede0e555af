/* SPDX-License-Identifier: MIT */
/* The error codes of hitl: one table gives each its name, HTTP status and wire code. */
#ifndef HITL_ERROR_H
#define HITL_ERROR_H

#include <stddef.h>

/* XX(NAME, HTTP status, wire code). The order fixes the numeric values: append only.
 * RETRY: a write transaction lost a race with another writer (a serialization failure or a
 * deadlock) and was rolled back, so running it again may succeed. The committer does; should one
 * reach a client, it is a 503 to retry like any other. */
#define HITL_ERRNO_MAP(XX)                                  \
  XX(INVALID_JSON, 400, "invalid_json")                     \
  XX(VALIDATION, 400, "validation_failed")                  \
  XX(UNAUTHORIZED, 401, "unauthorized")                     \
  XX(FORBIDDEN, 403, "forbidden")                           \
  XX(NOT_FOUND, 404, "not_found")                           \
  XX(METHOD, 405, "method_not_allowed")                     \
  XX(CONFLICT, 409, "conflict")                             \
  XX(TOO_LARGE, 413, "too_large")                           \
  XX(UNSUPPORTED_MEDIA, 415, "unsupported_media_type")      \
  XX(RATE_LIMITED, 429, "rate_limited")                     \
  XX(INTERNAL, 500, "internal")                             \
  XX(STORE, 500, "store_failed")                            \
  XX(UNAVAILABLE, 503, "unavailable")                       \
  XX(RETRY, 503, "unavailable")

/* Error codes are negative: HITL_EINVALID_JSON == -1, and so on. 0 means success. */
typedef enum hitl_errno {
  HITL_OK = 0,
#define HITL__ERR_ENUM(name, status, code) HITL__E_INDEX_##name,
  HITL__E_FIRST_UNUSED = 0,
  HITL_ERRNO_MAP(HITL__ERR_ENUM)
#undef HITL__ERR_ENUM
} hitl_errno;

#define HITL__ERR_CONST(name, status, code) HITL_E##name = -HITL__E_INDEX_##name,
enum { HITL_ERRNO_MAP(HITL__ERR_CONST) };
#undef HITL__ERR_CONST

/* Detail of a failure: a human message and, when it applies, the input field at fault. */
typedef struct hitl_err {
  int code;          /* A negative HITL_E* value, or 0. */
  char message[512]; /* What went wrong and what to do about it, one sentence. */
  char field[160];   /* The offending field as a path ("policy.rules[2].when"), or empty. */
} hitl_err;

/* Returns the wire code ("not_found") of a HITL_E* value; "internal" for unknown values. */
const char *hitl_err_code(int e);

/* Returns the HTTP status that goes with a HITL_E* value; 500 for unknown values. */
int hitl_err_status(int e);

/* Fills err (when not NULL) with code, field (may be NULL) and a formatted message, and returns
 * code, so that a caller can write `return hitl_err_set(err, HITL_ENOT_FOUND, NULL, "...")`. */
int hitl_err_set(hitl_err *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
