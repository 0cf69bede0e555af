/* SPDX-License-Identifier: MIT */
/* A log-linear latency histogram in microseconds (HdrHistogram-like), header-only for bench/. */
#ifndef HITL_BENCH_HIST_H
#define HITL_BENCH_HIST_H

#include <stdint.h>
#include <string.h>

/* Values below 2^BENCH_HIST_SUB_BITS are counted exactly; above, each power-of-two range is cut
 * into 2^(BENCH_HIST_SUB_BITS-1) equal bins, so a bin is at most 1/128 (0.8%) of its value wide.
 * Values past 2^BENCH_HIST_MAX_BITS us (about 71 minutes) land in the last bin. */
#define BENCH_HIST_SUB_BITS 8
#define BENCH_HIST_MAX_BITS 32
#define BENCH_HIST_SUB (1u << BENCH_HIST_SUB_BITS)
#define BENCH_HIST_HALF (BENCH_HIST_SUB / 2)
#define BENCH_HIST_BINS (BENCH_HIST_SUB + (BENCH_HIST_MAX_BITS - BENCH_HIST_SUB_BITS + 1) * BENCH_HIST_HALF)

typedef struct bench_hist {
  uint64_t bins[BENCH_HIST_BINS]; /* Counts per bin. */
  uint64_t count;                 /* Values recorded. */
  uint64_t sum;                   /* Their sum, for the mean. */
  uint64_t min;                   /* Smallest value (exact); meaningless while count is 0. */
  uint64_t max;                   /* Largest value (exact). */
} bench_hist;

static inline void bench_hist_init(bench_hist *h) {
  memset(h, 0, sizeof *h);
  h->min = UINT64_MAX;
}

/* The bin of value v. */
static inline unsigned bench_hist_index(uint64_t v) {
  if (v < BENCH_HIST_SUB) return (unsigned)v;
  unsigned msb = 63u - (unsigned)__builtin_clzll(v);
  if (msb > BENCH_HIST_MAX_BITS) return BENCH_HIST_BINS - 1;
  unsigned shift = msb - (BENCH_HIST_SUB_BITS - 1); /* >= 1: keeps the top SUB_BITS bits of v. */
  unsigned sub = (unsigned)(v >> shift);             /* In [HALF, SUB). */
  return BENCH_HIST_SUB + (shift - 1) * BENCH_HIST_HALF + (sub - BENCH_HIST_HALF);
}

/* The largest value that falls into bin i (reported percentiles are never optimistic). */
static inline uint64_t bench_hist_bin_high(unsigned i) {
  if (i < BENCH_HIST_SUB) return i;
  unsigned shift = (i - BENCH_HIST_SUB) / BENCH_HIST_HALF + 1;
  uint64_t sub = (i - BENCH_HIST_SUB) % BENCH_HIST_HALF + BENCH_HIST_HALF;
  return ((sub + 1) << shift) - 1;
}

static inline void bench_hist_record(bench_hist *h, uint64_t v) {
  h->bins[bench_hist_index(v)]++;
  h->count++;
  h->sum += v;
  if (v < h->min) h->min = v;
  if (v > h->max) h->max = v;
}

/* Adds every value of src to dst. */
static inline void bench_hist_merge(bench_hist *dst, const bench_hist *src) {
  for (unsigned i = 0; i < BENCH_HIST_BINS; i++) dst->bins[i] += src->bins[i];
  dst->count += src->count;
  dst->sum += src->sum;
  if (src->count > 0 && src->min < dst->min) dst->min = src->min;
  if (src->max > dst->max) dst->max = src->max;
}

/* The value at percentile p (0 < p <= 100): the high end of the bin holding the ceil(p% * count)th
 * smallest value, clamped to the exact maximum; 0 when the histogram is empty. */
static inline uint64_t bench_hist_percentile(const bench_hist *h, double p) {
  if (h->count == 0) return 0;
  double want = p / 100.0 * (double)h->count;
  uint64_t rank = (uint64_t)want;
  if ((double)rank < want) rank++;
  if (rank < 1) rank = 1;
  if (rank > h->count) rank = h->count;
  uint64_t seen = 0;
  for (unsigned i = 0; i < BENCH_HIST_BINS; i++) {
    seen += h->bins[i];
    if (seen >= rank) {
      uint64_t v = bench_hist_bin_high(i);
      return v > h->max ? h->max : v;
    }
  }
  return h->max;
}

#endif
