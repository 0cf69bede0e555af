/* SPDX-License-Identifier: MIT */
/* Fuzz target: the route table's matcher, on any method and path a client can send. */
#include <string.h>

#include "api/server_internal.h"
#include "fuzz.h"

/* The number of {} segments in a route pattern. */
static int count_params(const char *pattern) {
  int n = 0;
  for (const char *p = strstr(pattern, "{}"); p != NULL; p = strstr(p + 2, "{}")) n++;
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* "METHOD path": the method is the bytes before the first space (all of them when there is
   * none); like MHD's, both strings end at the first NUL. */
  char *text = fuzz_cstring(data, size);
  char *space = strchr(text, ' ');
  const char *method = text, *path = "";
  if (space != NULL) {
    *space = '\0';
    path = space + 1;
  }
  char *params[HITL_MAX_PARAMS] = {0};
  int status = 0;
  const hitl_route_def *r = hitl__route_match(method, path, params, &status);
  if (r != NULL) {
    int n = count_params(r->pattern);
    FUZZ_CHECK(strcmp(r->method, method) == 0 && r->handler != NULL);
    for (int i = 0; i < HITL_MAX_PARAMS; i++) FUZZ_CHECK((params[i] != NULL) == (i < n));
    for (int i = 0; i < n; i++) FUZZ_CHECK(params[i][0] != '\0');
  } else {
    FUZZ_CHECK(status == 400 || status == 404 || status == 405);
    for (int i = 0; i < HITL_MAX_PARAMS; i++) FUZZ_CHECK(params[i] == NULL);
  }
  for (int i = 0; i < HITL_MAX_PARAMS; i++) free(params[i]);
  /* The 405 answer's Allow header is built into a fixed buffer of the request. */
  char allow[sizeof ((hitl_request *)NULL)->allow];
  hitl__route_allow(path, allow, sizeof allow);
  FUZZ_CHECK(strlen(allow) < sizeof allow);
  if (r == NULL && status == 404) FUZZ_CHECK(allow[0] == '\0');
  if (r == NULL && status == 405) FUZZ_CHECK(allow[0] != '\0');
  free(text);
  return 0;
}
