/* SPDX-License-Identifier: MIT */
/* Request counters and the latency histogram behind GET /metrics. */
#ifndef HITL_API_METRICS_H
#define HITL_API_METRICS_H

#include <stdint.h>

#define HITL_LATENCY_BUCKETS 14

/* Upper bounds of the latency buckets, in seconds (the last one is +Inf). */
extern const double hitl_latency_bounds[HITL_LATENCY_BUCKETS];

typedef struct hitl_metrics {
  uint64_t requests_by_class[6];        /* Index status/100 (1xx..5xx); atomics. */
  uint64_t latency[HITL_LATENCY_BUCKETS]; /* Cumulative counts are computed when written. */
  uint64_t latency_sum_us;
  uint64_t latency_count;
} hitl_metrics;

/* Records one finished request (thread-safe, lock-free). */
void hitl__metrics_observe(hitl_metrics *m, int status, int64_t micros);

#endif
