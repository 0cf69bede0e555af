/* SPDX-License-Identifier: MIT */
/* Queue routes: create or replace a configuration, read one, list all with live counts. */
#include <stdlib.h>
#include <string.h>

#include "api/calib.h"
#include "api/queue_json.h"
#include "api/queue_lookup.h"
#include "api/server_internal.h"
#include "api/sync.h"
#include "api/task_json.h"
#include "core/admin.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"

/* On a database other servers share, a queue another server created a moment ago may not have
 * reached this server's registry through the change feed yet: read it from the store, so that a
 * client may create a queue through one server and use it through another at once. NULL when the
 * store has none either (or answered 503 when the store could not be read). */
static hitl_queue_ref *load_from_shared_store(hitl_request *req, const char *name) {
  hitl_store *st = hitl__reader(req);
  if (st == NULL) return NULL;
  hitl_queue_row row = {0};
  int rc = st->vt->queue_get(st, name, &row);
  if (rc == 0) {
    hitl_err err = {0};
    rc = hitl__sync_load_queues(req->server, st, row.id, false, &err);
    hitl_queue_row_clear(&row);
    if (rc) hitl_log(HITL_LOG_WARN, "msg=\"cannot load a queue another server made\" detail=\"%s\"",
                     err.message);
  }
  if (rc != 0 && rc != HITL_ENOT_FOUND) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "the queue could not be read; retry");
    return NULL;
  }
  return rc == 0 ? hitl__registry_get(req->server->registry, name) : NULL;
}

hitl_queue_ref *hitl__queue_lookup(hitl_request *req, const char *name) {
  if (!hitl__queue_name_valid(name)) {
    hitl__reply_error(req, HITL_EVALIDATION, "queue",
                      "a queue name has 1 to 64 characters from A-Z a-z 0-9 _ . - and is not . or ..");
    return NULL;
  }
  hitl_queue_ref *q = hitl__registry_get(req->server->registry, name);
  if (q == NULL && req->server->feed) q = load_from_shared_store(req, name);
  if (q == NULL && req->phase != HITL_PHASE_ANSWERED)
    hitl__reply_error(req, HITL_ENOT_FOUND, "queue", "no queue named \"%s\"", name);
  return q;
}

/* Appends {"name","config","counts","created_at","updated_at"} for q; whole shows webhook URLs
 * with their credentials (orchestrators only). */
static void queue_json(hitl_buf *b, hitl_server *s, const hitl_queue_ref *q, bool whole) {
  hitl_queue_counts c;
  hitl__registry_counts(s->registry, q->id, &c);
  char created[HITL_TIME_LEN], updated[HITL_TIME_LEN];
  hitl_time_format(q->created_at, created);
  hitl_time_format(q->updated_at, updated);
  hitl_buf_puts(b, "{\"name\":");
  hitl_buf_json_cstr(b, q->name);
  hitl_buf_printf(b, ",\"config\":%s,\"counts\":{", hitl__queue_config_json(q->config, whole));
  for (int st = 0; st < HITL_TASK_NSTATES; st++)
    hitl_buf_printf(b, "%s\"%s\":%lld", st ? "," : "", hitl_task_state_name((hitl_task_state)st),
                    (long long)c.by_state[st]);
  hitl_buf_printf(b,
                  "},\"decided_by\":{\"policy\":%lld,\"human\":%lld,\"consensus\":%lld,\"sla\":%lld},"
                  "\"created_at\":\"%s\",\"updated_at\":\"%s\"}",
                  (long long)c.decided_policy, (long long)c.decided_human,
                  (long long)c.decided_consensus, (long long)c.decided_sla, created, updated);
}

typedef struct put_job {
  hitl_job job;
  hitl_request *req;
  char *name;
  hitl_queue_config *config;
  int64_t id;
  bool created;
} put_job;

static void put_job_free(void *p) {
  put_job *j = p;
  hitl_queue_config_free(j->config);
  free(j->name);
  free(j);
}

static int put_run(hitl_job *job, hitl_txn *x) {
  put_job *j = (put_job *)job;
  /* Events reach webhook receivers and streams: no receiver learns another's credentials. */
  int rc = hitl_queue_store(x, j->name, j->config->json, hitl__queue_config_json(j->config, false),
                            &j->req->actor, &j->id, &j->created, &job->err);
  if (rc) return rc;
  /* A queue that starts keeping calibration evidence gets the pairs of the tasks people already
   * decided, with this change (decisions on a queue that keeps none store nothing). */
  hitl_server *server = j->req->server;
  const hitl_queue_config *old = hitl__registry_config_by_id(server->registry, j->id);
  if (!j->created && hitl_calib_wanted(j->config) && (old == NULL || !hitl_calib_wanted(old))) {
    rc = hitl__calib_backfill(x->store, j->id, j->config);
    if (rc) return hitl_err_set(&job->err, rc, NULL, "could not rebuild the calibration evidence");
    hitl__calib_gained(server->calib, x->lane, j->id);
  }
  return 0;
}

/* Adds "webhook_secrets": the secrets this PUT generated, shown here once and never again, to
 * the queue object that b ends with. */
static void generated_secrets(hitl_buf *b, const hitl_queue_config *c) {
  bool any = false;
  for (size_t i = 0; i < c->n_webhooks; i++) {
    const hitl_webhook *w = &c->webhooks[i];
    if (!w->generated) continue;
    if (!any) {
      b->len--; /* The queue object's closing brace. */
      hitl_buf_puts(b, ",\"webhook_secrets\":[");
    } else {
      hitl_buf_putc(b, ',');
    }
    any = true;
    hitl_buf_puts(b, "{\"url\":");
    hitl_buf_json_cstr(b, w->url);
    hitl_buf_puts(b, ",\"secret\":");
    hitl_buf_json_cstr(b, w->secret);
    hitl_buf_putc(b, '}');
  }
  if (any) hitl_buf_puts(b, "]}");
}

static void put_done(hitl_job *job, int rc) {
  put_job *j = (put_job *)job;
  hitl_request *req = j->req;
  if (rc) {
    hitl__reply_err(req, &job->err);
  } else {
    hitl_server *s = req->server;
    hitl_queue_ref *old = hitl__registry_get(s->registry, j->name);
    int64_t now = hitl_now_ms(), created_at = old ? old->created_at : now;
    hitl__queue_ref_release(old);
    hitl_queue_stats zero = {0};
    hitl__registry_put(s->registry, j->id, j->name, j->config, created_at, now,
                       j->created ? &zero : NULL);
    j->config = NULL; /* The registry owns it now. */
    hitl_queue_ref *q = hitl__registry_get(s->registry, j->name);
    hitl_store *st = hitl__server_reader(s);
    if (q && st && hitl__calib_configure(s->calib, st, q->id, q->config) != 0)
      hitl_log(HITL_LOG_ERROR, "msg=\"cannot rebuild the calibration\" queue_id=%lld",
               (long long)q->id);
    hitl_buf b = HITL_BUF_INIT;
    queue_json(&b, s, q, true); /* Only orchestrators PUT. */
    generated_secrets(&b, q->config);
    hitl__queue_ref_release(q);
    hitl__reply_buf(req, j->created ? 201 : 200, &b);
  }
  hitl__request_resume(req);
}

void hitl__h_queue_put(hitl_request *req) {
  const char *name = req->params[0];
  if (!hitl__queue_name_valid(name)) {
    hitl__reply_error(req, HITL_EVALIDATION, "queue",
                      "a queue name has 1 to 64 characters from A-Z a-z 0-9 _ . - and is not . or ..");
    return;
  }
  json_t *body = hitl__body_json(req);
  if (body == NULL) return;
  hitl_queue_config *config = NULL;
  hitl_err err = {0};
  /* The secrets of the webhooks are settled against the configuration this one replaces. */
  hitl_queue_ref *previous = hitl__registry_get(req->server->registry, name);
  int rc = hitl__queue_config_from_put(body, previous ? previous->config : NULL, hitl_now_ms(),
                                       &config, &err);
  hitl__queue_ref_release(previous);
  json_decref(body);
  if (rc) {
    hitl__reply_err(req, &err);
    return;
  }
  put_job *j = hitl_xcalloc(1, sizeof *j);
  j->req = req;
  j->name = hitl_xstrdup(name);
  j->config = config;
  j->job.run = put_run;
  j->job.done = put_done;
  req->state = j;
  req->state_free = put_job_free;
  hitl__request_suspend(req);
  hitl__committer_enqueue(req->server->committer, &j->job);
}

void hitl__h_queue_get(hitl_request *req) {
  hitl_queue_ref *q = hitl__queue_lookup(req, req->params[0]);
  if (q == NULL) return;
  hitl_buf b = HITL_BUF_INIT;
  queue_json(&b, req->server, q, req->actor.orchestrator);
  hitl__queue_ref_release(q);
  hitl__reply_buf(req, 200, &b);
}

void hitl__h_queue_list(hitl_request *req) {
  hitl_queue_ref **qs = NULL;
  size_t n = hitl__registry_list(req->server->registry, &qs);
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"queues\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) hitl_buf_putc(&b, ',');
    queue_json(&b, req->server, qs[i], req->actor.orchestrator);
    hitl__queue_ref_release(qs[i]);
  }
  free(qs);
  hitl_buf_puts(&b, "]}");
  hitl__reply_buf(req, 200, &b);
}
