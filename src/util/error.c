/* SPDX-License-Identifier: MIT */
/* The error table turned into look-ups, and the helper that fills a hitl_err. */
#include "hitl/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *hitl_err_code(int e) {
  switch (e) {
#define XX(name, status, code) \
  case HITL_E##name:           \
    return code;
    HITL_ERRNO_MAP(XX)
#undef XX
  default:
    return "internal";
  }
}

int hitl_err_status(int e) {
  switch (e) {
#define XX(name, status, code) \
  case HITL_E##name:           \
    return status;
    HITL_ERRNO_MAP(XX)
#undef XX
  default:
    return 500;
  }
}

int hitl_err_set(hitl_err *err, int code, const char *field, const char *fmt, ...) {
  if (err == NULL) return code;
  err->code = code;
  snprintf(err->field, sizeof err->field, "%s", field ? field : "");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof err->message, fmt, ap);
  va_end(ap);
  return code;
}
