/* SPDX-License-Identifier: MIT */
/* Wall-clock and monotonic time in milliseconds, and RFC 3339 formatting. */
#ifndef HITL_UTIL_CLOCK_H
#define HITL_UTIL_CLOCK_H

#include <stdint.h>

#define HITL_TIME_LEN 32 /* Room for "2026-11-23T23:21:21.123Z" and its NUL. */

/* Milliseconds since the Unix epoch (wall clock; used for stored times). */
int64_t hitl_now_ms(void);
/* Microseconds from an arbitrary start (monotonic; used for durations). */
int64_t hitl_mono_us(void);
/* Writes ms since the epoch as RFC 3339 UTC with milliseconds: "2026-11-23T23:21:21.123Z". */
void hitl_time_format(int64_t ms, char out[HITL_TIME_LEN]);
/* Parses an RFC 3339 time ("...Z" or "+hh:mm" offset, optional fraction) into ms since the epoch.
 * Returns 0 on success, -1 when s is not such a time or, offset applied, falls outside the years
 * 0000 to 9999 (which hitl_time_format could not write back). */
int hitl_time_parse(const char *s, int64_t *ms);

#endif
