/* SPDX-License-Identifier: MIT */
/* Helpers shared by the JSON decoders of api/: field paths, members and unknown-key checks. */
#ifndef HITL_API_JSON_CHECK_H
#define HITL_API_JSON_CHECK_H

#include <jansson.h>
#include <stddef.h>

#include "hitl/error.h"

#define HITL_FIELD_PATH_LEN 160 /* As hitl_err.field. */

/* Fills err with HITL_EVALIDATION, field and a formatted message; returns HITL_EVALIDATION. */
int hitl__invalid(hitl_err *err, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes "base.key" (or "key" when base is empty) into dst. */
void hitl__path_key(char dst[HITL_FIELD_PATH_LEN], const char *base, const char *key);
/* Writes "base[i]" into dst. */
void hitl__path_index(char dst[HITL_FIELD_PATH_LEN], const char *base, size_t i);
/* The member key of obj, or NULL when it is absent or null (both mean "use the default"). */
json_t *hitl__json_member(const json_t *obj, const char *key);
/* Refuses (HITL_EVALIDATION naming base.key) a key of obj that allowed (NULL-terminated) does
 * not list; what names obj in the message. Returns 0 when every key is allowed. */
int hitl__json_check_keys(const json_t *obj, const char *base, const char *what,
                          const char *const *allowed, hitl_err *err);

#endif
