/* SPDX-License-Identifier: MIT */
/* JSON values to text, with numbers written as short as they can be and still read back exactly. */
#ifndef HITL_API_JSON_TEXT_H
#define HITL_API_JSON_TEXT_H

#include <jansson.h>

/* Encodes v as json_dumps(v, flags) would, but writes every real with the fewest significant
 * digits (15, 16 or 17) that give all of v's reals back exactly: 0.8 stays "0.8" rather than
 * "0.80000000000000004". Returns a NUL-terminated string to free with free(), or NULL when v
 * cannot be encoded or memory runs out. */
char *hitl__json_text(const json_t *v, size_t flags);
/* The JSON_REAL_PRECISION flag hitl__json_text uses for v, for callers that encode otherwise
 * (json_dump_callback). */
size_t hitl__json_real_flags(const json_t *v);

#endif
