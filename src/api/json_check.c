/* SPDX-License-Identifier: MIT */
/* Field paths, members and unknown-key checks for the JSON decoders. */
#include "api/json_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int hitl__invalid(hitl_err *err, const char *field, const char *fmt, ...) {
  char message[sizeof err->message];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  return hitl_err_set(err, HITL_EVALIDATION, field, "%s", message);
}

void hitl__path_key(char dst[HITL_FIELD_PATH_LEN], const char *base, const char *key) {
  snprintf(dst, HITL_FIELD_PATH_LEN, "%s%s%s", base, base[0] ? "." : "", key);
}

void hitl__path_index(char dst[HITL_FIELD_PATH_LEN], const char *base, size_t i) {
  snprintf(dst, HITL_FIELD_PATH_LEN, "%s[%zu]", base, i);
}

json_t *hitl__json_member(const json_t *obj, const char *key) {
  json_t *v = json_object_get(obj, key);
  return json_is_null(v) ? NULL : v;
}

int hitl__json_check_keys(const json_t *obj, const char *base, const char *what,
                          const char *const *allowed, hitl_err *err) {
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)obj, key, value) {
    size_t i = 0;
    while (allowed[i] != NULL && strcmp(allowed[i], key) != 0) i++;
    if (allowed[i] != NULL) continue;
    char field[HITL_FIELD_PATH_LEN], names[256];
    size_t used = 0;
    names[0] = '\0';
    for (size_t j = 0; allowed[j] != NULL && used < sizeof names; j++)
      used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", j ? ", " : "",
                               allowed[j]);
    hitl__path_key(field, base, key);
    return hitl__invalid(err, field, "unknown key \"%.64s\" in %s; allowed keys are %s", key,
                         what, names);
  }
  return 0;
}
