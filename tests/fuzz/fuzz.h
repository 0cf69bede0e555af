/* SPDX-License-Identifier: MIT */
/* What every fuzz target shares: its entry point, the server's JSON decoding, invariant checks. */
#ifndef HITL_TESTS_FUZZ_H
#define HITL_TESTS_FUZZ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/http.h"

/* Runs one input through the target. Always returns 0; a broken invariant aborts the process,
 * so that libFuzzer (and the replay runner) report it as a crash. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a message when cond is false: the check of an invariant, kept in release builds. */
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);       \
      abort();                                                                            \
    }                                                                                     \
  } while (0)

/* Decodes size bytes as a request body, the way the server does (hitl__json_parse): empty bodies
 * and bodies nested deeper than the server allows are refused before jansson sees them. Returns
 * the value (the caller decrefs it) or NULL. */
static inline json_t *fuzz_json_load(const uint8_t *data, size_t size) {
  hitl_err err = {0};
  return hitl__json_parse((const char *)data, size, &err);
}

/* True when text is one complete JSON value. */
static inline bool fuzz_json_valid(const char *text) {
  json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
  json_decref(j);
  return j != NULL;
}

/* Copies size bytes into a new NUL-terminated string (the caller frees it). */
static inline char *fuzz_cstring(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (s == NULL) abort();
  for (size_t i = 0; i < size; i++) s[i] = (char)data[i];
  s[size] = '\0';
  return s;
}

#endif
