/* SPDX-License-Identifier: MIT */
/* The sampler: a ring of queue-count snapshots, one every HITL_SERIES_INTERVAL_S seconds. */
#include "api/series.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/xmalloc.h"

typedef struct point {
  char *name;
  hitl_queue_counts counts;
} point;

typedef struct sample {
  int64_t at;   /* Wall-clock ms. */
  point *queues;
  size_t n;
} sample;

struct hitl_series {
  hitl_registry *registry;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  bool stopping;
  pthread_t thread;
  sample ring[HITL_SERIES_KEEP];
  size_t next;  /* Where the next sample goes. */
  size_t count; /* Samples held. */
};

static void sample_clear(sample *x) {
  for (size_t i = 0; i < x->n; i++) free(x->queues[i].name);
  free(x->queues);
  memset(x, 0, sizeof *x);
}

static void take(hitl_series *s) {
  sample x = {.at = hitl_now_ms()};
  hitl_queue_ref **qs = NULL;
  x.n = hitl__registry_list(s->registry, &qs);
  x.queues = hitl_xcalloc(x.n ? x.n : 1, sizeof *x.queues);
  for (size_t i = 0; i < x.n; i++) {
    x.queues[i].name = hitl_xstrdup(qs[i]->name);
    hitl__registry_counts(s->registry, qs[i]->id, &x.queues[i].counts);
    hitl__queue_ref_release(qs[i]);
  }
  free(qs);
  pthread_mutex_lock(&s->lock);
  sample_clear(&s->ring[s->next]);
  s->ring[s->next] = x;
  s->next = (s->next + 1) % HITL_SERIES_KEEP;
  if (s->count < HITL_SERIES_KEEP) s->count++;
  pthread_mutex_unlock(&s->lock);
}

static void *sampler_main(void *arg) {
  hitl_series *s = arg;
  pthread_setname_np(pthread_self(), "hitl-sampler");
  for (;;) {
    take(s);
    pthread_mutex_lock(&s->lock);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += HITL_SERIES_INTERVAL_S;
    while (!s->stopping && pthread_cond_timedwait(&s->wake, &s->lock, &until) == 0) {
    }
    bool stop = s->stopping;
    pthread_mutex_unlock(&s->lock);
    if (stop) return NULL;
  }
}

hitl_series *hitl__series_start(hitl_registry *r) {
  hitl_series *s = hitl_xcalloc(1, sizeof *s);
  s->registry = r;
  pthread_mutex_init(&s->lock, NULL);
  pthread_cond_init(&s->wake, NULL);
  pthread_create(&s->thread, NULL, sampler_main, s);
  return s;
}

void hitl__series_stop(hitl_series *s) {
  if (s == NULL) return;
  pthread_mutex_lock(&s->lock);
  s->stopping = true;
  pthread_cond_signal(&s->wake);
  pthread_mutex_unlock(&s->lock);
  pthread_join(s->thread, NULL);
  for (size_t i = 0; i < HITL_SERIES_KEEP; i++) sample_clear(&s->ring[i]);
  pthread_mutex_destroy(&s->lock);
  pthread_cond_destroy(&s->wake);
  free(s);
}

void hitl__series_json(hitl_series *s, hitl_buf *b, int64_t window_s, int max_points) {
  pthread_mutex_lock(&s->lock);
  int64_t since = hitl_now_ms() - window_s * 1000;
  /* Oldest first: the held samples start at next - count (mod ring size). */
  size_t first = (s->next + HITL_SERIES_KEEP - s->count) % HITL_SERIES_KEEP, in_window = 0;
  for (size_t k = 0; k < s->count; k++)
    if (s->ring[(first + k) % HITL_SERIES_KEEP].at >= since) in_window++;
  size_t stride = max_points > 0 && in_window > (size_t)max_points
                      ? (in_window + (size_t)max_points - 1) / (size_t)max_points
                      : 1;
  hitl_buf_printf(b, "{\"interval_seconds\":%zu,\"points\":[", HITL_SERIES_INTERVAL_S * stride);
  size_t seen = 0, written = 0;
  for (size_t k = 0; k < s->count; k++) {
    const sample *x = &s->ring[(first + k) % HITL_SERIES_KEEP];
    if (x->at < since) continue;
    /* Keep every stride-th sample, and always the newest. */
    bool last = seen + 1 == in_window;
    if (seen++ % stride != 0 && !last) continue;
    char at[HITL_TIME_LEN];
    hitl_time_format(x->at, at);
    hitl_buf_printf(b, "%s{\"at\":\"%s\",\"queues\":{", written++ ? "," : "", at);
    for (size_t i = 0; i < x->n; i++) {
      const hitl_queue_counts *c = &x->queues[i].counts;
      if (i) hitl_buf_putc(b, ',');
      hitl_buf_json_cstr(b, x->queues[i].name);
      hitl_buf_printf(b,
                      ":{\"pending\":%lld,\"leased\":%lld,\"decided_total\":%lld,"
                      "\"decided_policy_total\":%lld,\"decided_human_total\":%lld}",
                      (long long)c->by_state[HITL_TASK_PENDING],
                      (long long)c->by_state[HITL_TASK_LEASED],
                      (long long)c->by_state[HITL_TASK_DECIDED], (long long)c->decided_policy,
                      (long long)(c->decided_human + c->decided_consensus));
    }
    hitl_buf_puts(b, "}}");
  }
  hitl_buf_puts(b, "]}");
  pthread_mutex_unlock(&s->lock);
}
