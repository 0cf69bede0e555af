/* SPDX-License-Identifier: MIT */
/* GET /v1/queues/{queue}/webhook-deliveries: what the webhooks of a queue sent, and how it went;
 * POST .../{id}/redeliver: send a delivered or failed one again. */
#include <stdlib.h>
#include <string.h>

#include "api/queue_json.h"
#include "api/queue_lookup.h"
#include "api/server_internal.h"
#include "api/task_json.h"
#include "util/xmalloc.h"

static const char *const state_names[] = {"pending", "delivered", "failed"};

/* Appends the delivery; whole shows the URL with its credentials (orchestrators only). */
static void delivery_to_json(hitl_buf *b, const hitl_delivery *d, bool whole) {
  hitl_buf_puts(b, "{\"id\":");
  hitl_buf_json_cstr(b, d->id);
  hitl_buf_puts(b, ",\"url\":");
  char *url = whole ? NULL : hitl__url_redact(d->url);
  hitl_buf_json_cstr(b, url ? url : d->url);
  free(url);
  hitl_buf_printf(b, ",\"event_seq\":%lld,\"event_type\":", (long long)d->event_seq);
  hitl_buf_json_cstr(b, d->event_type);
  const char *state = d->state >= 0 && d->state <= 2 ? state_names[d->state] : "unknown";
  hitl_buf_printf(b, ",\"state\":\"%s\",\"attempts\":%d,\"last_status\":", state, d->attempts);
  if (d->last_status)
    hitl_buf_printf(b, "%d", d->last_status);
  else
    hitl_buf_puts(b, "null");
  hitl_buf_puts(b, ",\"last_error\":");
  hitl_buf_json_cstr(b, d->last_error);
  int64_t next = d->state == HITL_DELIVERY_PENDING ? d->next_attempt_at : 0;
  hitl__json_time_member(b, "next_attempt_at", next);
  hitl__json_time_member(b, "created_at", d->created_at);
  hitl__json_time_member(b, "updated_at", d->updated_at);
  hitl__json_time_member(b, "delivered_at", d->delivered_at);
  hitl_buf_putc(b, '}');
}

void hitl__h_webhook_deliveries(hitl_request *req) {
  hitl_queue_ref *q = hitl__queue_lookup(req, req->params[0]);
  if (q == NULL) return;
  hitl_delivery *rows = NULL;
  size_t n = 0;
  int state = -1;
  long long limit, cursor;
  const char *s;
  if ((s = hitl__query(req, "state"))) {
    for (int i = 0; i < 3; i++)
      if (strcmp(s, state_names[i]) == 0) state = i;
    if (state < 0) {
      hitl__reply_error(req, HITL_EVALIDATION, "state",
                        "state must be pending, delivered or failed");
      goto done;
    }
  }
  if (!hitl__query_page(req, 50, 1000, &limit, &cursor)) goto done;
  hitl_store *st = hitl__reader(req);
  if (st == NULL) goto done;
  if (st->vt->delivery_list(st, q->id, state, cursor, (size_t)limit, &rows, &n) != 0) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the deliveries");
    goto done;
  }
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"deliveries\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) hitl_buf_putc(&b, ',');
    delivery_to_json(&b, &rows[i], req->actor.orchestrator);
  }
  if (n == (size_t)limit)
    hitl_buf_printf(&b, "],\"next_cursor\":\"%lld\"}", (long long)rows[n - 1].seq);
  else
    hitl_buf_puts(&b, "],\"next_cursor\":null}");
  hitl__reply_buf(req, 200, &b);
done:
  for (size_t i = 0; i < n; i++) hitl_delivery_clear(&rows[i]);
  free(rows);
  hitl__queue_ref_release(q);
}

/* A redelivery: read and updated by the writer, answered when durable. */
typedef struct redeliver_job {
  hitl_job job;
  hitl_request *req;
  int64_t queue_id;
  char *id;
  hitl_delivery d;  /* As updated, for the answer. */
} redeliver_job;

static void redeliver_job_free(void *p) {
  redeliver_job *j = p;
  hitl_delivery_clear(&j->d);
  free(j->id);
  free(j);
}

static int redeliver_run(hitl_job *job, hitl_txn *x) {
  redeliver_job *j = (redeliver_job *)job;
  hitl_store *st = x->store;
  hitl_delivery_clear(&j->d); /* From an earlier run that lost a race. */
  int rc = st->vt->delivery_get(st, j->id, &j->d);
  if (rc == HITL_ENOT_FOUND || (rc == 0 && j->d.queue_id != j->queue_id))
    return hitl_err_set(&job->err, HITL_ENOT_FOUND, "delivery",
                        "the queue has no webhook delivery \"%s\"", j->id);
  if (rc) return hitl_err_set(&job->err, rc, NULL, "could not read the delivery");
  if (j->d.state == HITL_DELIVERY_PENDING)
    return hitl_err_set(&job->err, HITL_ECONFLICT, "delivery",
                        "the delivery is pending: its next attempt is already due");
  /* A new round of attempts with the same webhook-id, so a receiver can tell it is a repeat. */
  j->d.state = HITL_DELIVERY_PENDING;
  j->d.attempts = 0;
  j->d.next_attempt_at = x->now;
  j->d.delivered_at = 0;
  j->d.updated_at = x->now;
  rc = st->vt->delivery_update(st, &j->d);
  if (rc) return hitl_err_set(&job->err, rc, NULL, "could not store the redelivery");
  return 0;
}

static void redeliver_done(hitl_job *job, int rc) {
  redeliver_job *j = (redeliver_job *)job;
  hitl_request *req = j->req;
  if (rc) {
    hitl__reply_err(req, &job->err);
  } else {
    hitl__webhooks_wake(req->server->webhooks);
    hitl_buf b = HITL_BUF_INIT;
    delivery_to_json(&b, &j->d, true); /* Only orchestrators redeliver. */
    hitl__reply_buf(req, 200, &b);
  }
  hitl__request_resume(req);
}

void hitl__h_webhook_redeliver(hitl_request *req) {
  hitl_queue_ref *q = hitl__queue_lookup(req, req->params[0]);
  if (q == NULL) return;
  const char *id = req->params[1];
  if (strlen(id) == 0 || strlen(id) > 64) {
    hitl__reply_error(req, HITL_ENOT_FOUND, "delivery", "the queue has no such webhook delivery");
    hitl__queue_ref_release(q);
    return;
  }
  redeliver_job *j = hitl_xcalloc(1, sizeof *j);
  j->req = req;
  j->queue_id = q->id;
  j->id = hitl_xstrdup(id);
  j->job.run = redeliver_run;
  j->job.done = redeliver_done;
  hitl__queue_ref_release(q);
  req->state = j;
  req->state_free = redeliver_job_free;
  hitl__request_suspend(req);
  hitl__committer_enqueue(req->server->committer, &j->job);
}
