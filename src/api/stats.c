/* SPDX-License-Identifier: MIT */
/* GET /v1/stats: what the operations dashboard shows, over a time window. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/series.h"
#include "api/server_internal.h"
#include "util/clock.h"
#include "util/xmalloc.h"

/* Upper bounds of the time-to-decision histogram, in seconds; one bucket more holds the rest. */
static const double bounds[] = {1, 5, 30, 60, 300, 900, 3600, 14400, 86400};
#define NBOUNDS (sizeof bounds / sizeof bounds[0])
#define MAX_POINTS 360
#define STATS_PAGE 1000 /* Decided tasks read at once for the time to decision. */

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The p-th percentile (0..1) of sorted values, by the nearest-rank method. */
static double percentile(const double *v, size_t n, double p) {
  if (n == 0) return 0;
  size_t rank = (size_t)(p * (double)n + 0.999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1];
}

/* Appends one queue's figures; returns 0 or a store error. */
static int queue_json(hitl_request *req, hitl_store *st, const hitl_queue_ref *q, int64_t now,
                      int64_t since, hitl_buf *b) {
  hitl_queue_counts c;
  hitl__registry_counts(req->server->registry, q->id, &c);
  int64_t oldest_at = 0;
  int rc = st->vt->queue_oldest_pending(st, q->id, &oldest_at);
  if (rc) return rc;
  /* People's decisions since `since`, page by page, without the tasks' contents. */
  double *secs = NULL;
  size_t n = 0, cap = 0;
  int64_t buckets[NBOUNDS + 1] = {0}, breaches = 0;
  hitl_task_scan scan = {.queue_id = q->id, .state = -1, .decided_since = since, .summary = true};
  for (;;) {
    hitl_task *page = NULL;
    size_t got = 0;
    rc = st->vt->task_scan(st, &scan, STATS_PAGE, &page, &got);
    for (size_t i = 0; i < got; i++) {
      if (n == cap) {
        cap = cap ? 2 * cap : 256;
        secs = hitl_xrealloc(secs, cap * sizeof *secs);
      }
      secs[n] = (double)(page[i].decided_at - page[i].created_at) / 1000.0;
      size_t k = 0;
      while (k < NBOUNDS && secs[n] > bounds[k]) k++;
      buckets[k]++;
      if (page[i].decided_by && strcmp(page[i].decided_by, HITL_BY_SLA) == 0) breaches++;
      n++;
      scan.before_seq = page[i].seq;
      scan.before_decided_at = page[i].decided_at;
      hitl_task_clear(&page[i]);
    }
    free(page);
    if (rc || got < STATS_PAGE) break;
  }
  if (rc) {
    free(secs);
    return rc;
  }
  if (n) qsort(secs, n, sizeof *secs, cmp_double);
  hitl_buf_puts(b, "{\"name\":");
  hitl_buf_json_cstr(b, q->name);
  hitl_buf_puts(b, ",\"counts\":{");
  for (int s = 0; s < HITL_TASK_NSTATES; s++)
    hitl_buf_printf(b, "%s\"%s\":%lld", s ? "," : "", hitl_task_state_name((hitl_task_state)s),
                    (long long)c.by_state[s]);
  double oldest = oldest_at ? (double)(now - oldest_at) / 1000.0 : 0;
  hitl_buf_printf(b,
                  "},\"oldest_pending_age_seconds\":%.3f,\"decided_by\":{\"policy\":%lld,"
                  "\"human\":%lld,\"consensus\":%lld,\"sla\":%lld},\"time_to_decision\":{"
                  "\"count\":%zu,\"p50_seconds\":%.3f,\"p95_seconds\":%.3f},"
                  "\"histogram\":{\"bounds_seconds\":[",
                  oldest, (long long)c.decided_policy, (long long)c.decided_human,
                  (long long)c.decided_consensus, (long long)c.decided_sla, n,
                  percentile(secs, n, 0.50), percentile(secs, n, 0.95));
  for (size_t k = 0; k < NBOUNDS; k++) hitl_buf_printf(b, "%s%g", k ? "," : "", bounds[k]);
  hitl_buf_puts(b, "],\"counts\":[");
  for (size_t k = 0; k <= NBOUNDS; k++)
    hitl_buf_printf(b, "%s%lld", k ? "," : "", (long long)buckets[k]);
  hitl_buf_printf(b, "]},\"sla_breaches\":%lld}", (long long)breaches);
  free(secs);
  return 0;
}

void hitl__h_stats(hitl_request *req) {
  long long window = 3600;
  const char *s = hitl__query(req, "window");
  if (s) {
    char *end;
    errno = 0;
    window = strtoll(s, &end, 10);
    if (*s == '\0' || *end || window < 60 || window > 604800 || errno == ERANGE) {
      hitl__reply_error(req, HITL_EVALIDATION, "window",
                        "window must be a whole number of seconds from 60 to 604800");
      return;
    }
  }
  hitl_store *st = hitl__reader(req);
  if (st == NULL) return;
  int64_t now = hitl_now_ms(), since = now - window * 1000, last_seq = 0;
  uint8_t last_hash[HITL_HASH_LEN];
  /* The newest event: the dashboard follows the event stream from there. */
  if (st->vt->event_last(st, &last_seq, last_hash) != 0) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the statistics");
    return;
  }
  char at[HITL_TIME_LEN];
  hitl_time_format(now, at);
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_printf(&b, "{\"window_seconds\":%lld,\"generated_at\":\"%s\",\"last_seq\":%lld,\"queues\":[",
                  window, at, (long long)last_seq);
  hitl_queue_ref **qs = NULL;
  size_t n = hitl__registry_list(req->server->registry, &qs);
  int rc = 0;
  for (size_t i = 0; i < n; i++) {
    if (rc == 0) {
      if (i) hitl_buf_putc(&b, ',');
      rc = queue_json(req, st, qs[i], now, since, &b);
    }
    hitl__queue_ref_release(qs[i]);
  }
  free(qs);
  hitl_reviewer_count *act = NULL;
  size_t na = 0;
  if (rc == 0) rc = st->vt->reviewer_activity(st, since, &act, &na);
  if (rc) {
    hitl_buf_free(&b);
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the statistics");
    return;
  }
  hitl_buf_puts(&b, "],\"reviewers\":[");
  for (size_t i = 0; i < na; i++) {
    hitl_buf_puts(&b, i ? ",{\"name\":" : "{\"name\":");
    hitl_buf_json_cstr(&b, act[i].reviewer);
    hitl_buf_printf(&b, ",\"responses\":%lld,\"per_hour\":%.2f}", (long long)act[i].responses,
                    (double)act[i].responses * 3600.0 / (double)window);
    free(act[i].reviewer);
  }
  free(act);
  hitl_buf_puts(&b, "],\"series\":");
  hitl__series_json(req->server->series, &b, window, MAX_POINTS);
  hitl_buf_putc(&b, '}');
  hitl__reply_buf(req, 200, &b);
}
