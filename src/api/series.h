/* SPDX-License-Identifier: MIT */
/* Queue counts over time: sampled in memory every few seconds for the dashboard's charts. */
#ifndef HITL_API_SERIES_H
#define HITL_API_SERIES_H

#include <stdint.h>

#include "api/registry.h"
#include "util/buf.h"

#define HITL_SERIES_INTERVAL_S 10
#define HITL_SERIES_KEEP (24 * 3600 / HITL_SERIES_INTERVAL_S) /* A day of samples. */

typedef struct hitl_series hitl_series; /* Also named in server_internal.h. */

/* Starts sampling the registry's counts every HITL_SERIES_INTERVAL_S seconds (and once now). */
hitl_series *hitl__series_start(hitl_registry *r);
/* Stops the sampler and frees everything. NULL is a no-op. */
void hitl__series_stop(hitl_series *s);
/* Appends {"interval_seconds":N,"points":[{"at","queues":{name:{pending,leased,decided_total,
 * decided_policy_total,decided_human_total}}}]} for the samples of the last window_s seconds,
 * thinned to at most max_points evenly spaced points. */
void hitl__series_json(hitl_series *s, hitl_buf *b, int64_t window_s, int max_points);

#endif
