/* SPDX-License-Identifier: MIT */
/* GET /metrics in the Prometheus text format, and the request counters behind it. */
#include "api/metrics.h"

#include <stdlib.h>

#include "api/server_internal.h"
#include "util/clock.h"
#include "util/xmalloc.h"

const double hitl_latency_bounds[HITL_LATENCY_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 1e300};

void hitl__metrics_observe(hitl_metrics *m, int status, int64_t micros) {
  int cls = status / 100;
  if (cls < 0 || cls > 5) cls = 0;
  __atomic_add_fetch(&m->requests_by_class[cls], 1, __ATOMIC_RELAXED);
  double secs = (double)micros / 1e6;
  int b = 0;
  while (b < HITL_LATENCY_BUCKETS - 1 && secs > hitl_latency_bounds[b]) b++;
  __atomic_add_fetch(&m->latency[b], 1, __ATOMIC_RELAXED);
  __atomic_add_fetch(&m->latency_sum_us, (uint64_t)micros, __ATOMIC_RELAXED);
  __atomic_add_fetch(&m->latency_count, 1, __ATOMIC_RELAXED);
}

/* Healthy means able to serve: the database answers a read (the newest event, one index
 * lookup) on this thread's handle, which connects again first when its connection broke. A load
 * balancer thus takes a server that lost its database out of rotation, and back once it
 * reconnected by itself. */
void hitl__h_healthz(hitl_request *req) {
  static const char ok[] = "{\"status\":\"ok\"}";
  hitl_store *reader = hitl__server_reader(req->server);
  int64_t seq = 0;
  uint8_t hash[HITL_HASH_LEN];
  if (reader == NULL || reader->vt->event_last(reader, &seq, hash) != 0) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "the database cannot be reached");
    return;
  }
  hitl__reply_json(req, 200, ok, sizeof ok - 1);
}

/* Writes a Prometheus label value (escapes \, " and newline). */
static void label(hitl_buf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '\\' || *s == '"') hitl_buf_putc(b, '\\');
    if (*s == '\n') {
      hitl_buf_puts(b, "\\n");
      continue;
    }
    hitl_buf_putc(b, *s);
  }
}

void hitl__h_metrics(hitl_request *req) {
  hitl_server *s = req->server;
  hitl_buf b = HITL_BUF_INIT;
  hitl_queue_ref **queues = NULL;
  size_t n = hitl__registry_list(s->registry, &queues);
  int64_t now = hitl_now_ms();
  hitl_store *reader = hitl__reader(req);
  if (reader == NULL) goto done;

  hitl_buf_puts(&b, "# HELP hitl_tasks Tasks by queue and state.\n# TYPE hitl_tasks gauge\n");
  for (size_t i = 0; i < n; i++) {
    hitl_queue_counts c;
    hitl__registry_counts(s->registry, queues[i]->id, &c);
    for (int st = 0; st < HITL_TASK_NSTATES; st++) {
      hitl_buf_puts(&b, "hitl_tasks{queue=\"");
      label(&b, queues[i]->name);
      hitl_buf_printf(&b, "\",state=\"%s\"} %lld\n", hitl_task_state_name((hitl_task_state)st),
                      (long long)c.by_state[st]);
    }
  }
  hitl_buf_puts(&b, "# HELP hitl_tasks_submitted_total Tasks submitted.\n"
                    "# TYPE hitl_tasks_submitted_total counter\n");
  for (size_t i = 0; i < n; i++) {
    hitl_queue_counts c;
    hitl__registry_counts(s->registry, queues[i]->id, &c);
    hitl_buf_puts(&b, "hitl_tasks_submitted_total{queue=\"");
    label(&b, queues[i]->name);
    hitl_buf_printf(&b, "\"} %lld\n", (long long)c.submitted);
  }
  hitl_buf_puts(&b, "# HELP hitl_tasks_decided_total Tasks decided, by who decided.\n"
                    "# TYPE hitl_tasks_decided_total counter\n");
  for (size_t i = 0; i < n; i++) {
    hitl_queue_counts c;
    hitl__registry_counts(s->registry, queues[i]->id, &c);
    const char *bys[] = {"policy", "human", "consensus", "sla"};
    int64_t vals[] = {c.decided_policy, c.decided_human, c.decided_consensus, c.decided_sla};
    for (int k = 0; k < 4; k++) {
      hitl_buf_puts(&b, "hitl_tasks_decided_total{queue=\"");
      label(&b, queues[i]->name);
      hitl_buf_printf(&b, "\",by=\"%s\"} %lld\n", bys[k], (long long)vals[k]);
    }
  }
  hitl_buf_puts(&b, "# HELP hitl_oldest_pending_age_seconds Age of the oldest pending task.\n"
                    "# TYPE hitl_oldest_pending_age_seconds gauge\n");
  for (size_t i = 0; i < n; i++) {
    int64_t oldest = 0;
    if (reader->vt->queue_oldest_pending(reader, queues[i]->id, &oldest) != 0) continue;
    double age = oldest ? (double)(now - oldest) / 1000.0 : 0.0;
    hitl_buf_puts(&b, "hitl_oldest_pending_age_seconds{queue=\"");
    label(&b, queues[i]->name);
    hitl_buf_printf(&b, "\"} %.3f\n", age);
  }
  hitl_metrics *m = &s->metrics;
  hitl__limits_metrics(req->server->limits, &b);
  hitl_buf_puts(&b, "# HELP hitl_http_requests_total HTTP requests by status class.\n"
                    "# TYPE hitl_http_requests_total counter\n");
  for (int k = 1; k <= 5; k++)
    hitl_buf_printf(&b, "hitl_http_requests_total{code=\"%dxx\"} %llu\n", k,
                    (unsigned long long)__atomic_load_n(&m->requests_by_class[k], __ATOMIC_RELAXED));
  hitl_buf_puts(&b, "# HELP hitl_http_request_duration_seconds Time to answer a request.\n"
                    "# TYPE hitl_http_request_duration_seconds histogram\n");
  uint64_t cum = 0;
  for (int k = 0; k < HITL_LATENCY_BUCKETS; k++) {
    cum += __atomic_load_n(&m->latency[k], __ATOMIC_RELAXED);
    if (k == HITL_LATENCY_BUCKETS - 1)
      hitl_buf_printf(&b, "hitl_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                      (unsigned long long)cum);
    else
      hitl_buf_printf(&b, "hitl_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                      hitl_latency_bounds[k], (unsigned long long)cum);
  }
  hitl_buf_printf(&b, "hitl_http_request_duration_seconds_sum %.6f\n",
                  (double)__atomic_load_n(&m->latency_sum_us, __ATOMIC_RELAXED) / 1e6);
  hitl_buf_printf(&b, "hitl_http_request_duration_seconds_count %llu\n",
                  (unsigned long long)__atomic_load_n(&m->latency_count, __ATOMIC_RELAXED));
  uint64_t delivered = 0, retried = 0, failed = 0;
  hitl__webhooks_counts(s->webhooks, &delivered, &retried, &failed);
  hitl_buf_printf(&b,
                  "# HELP hitl_webhook_attempts_total Webhook delivery attempts by outcome.\n"
                  "# TYPE hitl_webhook_attempts_total counter\n"
                  "hitl_webhook_attempts_total{result=\"delivered\"} %llu\n"
                  "hitl_webhook_attempts_total{result=\"retry\"} %llu\n"
                  "hitl_webhook_attempts_total{result=\"failed\"} %llu\n",
                  (unsigned long long)delivered, (unsigned long long)retried,
                  (unsigned long long)failed);
  hitl__reply_buf(req, 200, &b);
  req->content_type = "text/plain; version=0.0.4";
done:
  for (size_t i = 0; i < n; i++) hitl__queue_ref_release(queues[i]);
  free(queues);
  hitl_buf_free(&b);
}
