/* SPDX-License-Identifier: MIT */
/* Fuzz target: RFC 3339 time parsing, and the format-then-parse round trip of what it accepts. */
#include <string.h>

#include "fuzz.h"
#include "util/clock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_cstring(data, size);
  int64_t ms;
  if (hitl_time_parse(text, &ms) == 0) {
    /* Every time hitl accepts, it can write back and read again as the same instant. */
    char out[HITL_TIME_LEN];
    int64_t again;
    hitl_time_format(ms, out);
    if (hitl_time_parse(out, &again) != 0 || again != ms)
      fprintf(stderr, "\"%s\" -> %lld -> \"%s\" does not read back\n", text, (long long)ms, out);
    FUZZ_CHECK(hitl_time_parse(out, &again) == 0 && again == ms);
    FUZZ_CHECK(strlen(out) == 24);
    /* A UTC time without a leap second names its own date: no day past the month's end was
     * carried into the next month. */
    size_t n = strlen(text);
    if (n >= 20 && (text[n - 1] == 'Z' || text[n - 1] == 'z') && memcmp(text + 17, "60", 2) != 0)
      FUZZ_CHECK(memcmp(text, out, 10) == 0);
  }
  free(text);
  return 0;
}
