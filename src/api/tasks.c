/* SPDX-License-Identifier: MIT */
/* Task routes: submit one or a batch, list a queue's tasks, read one task (with long-poll). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/calib.h"
#include "api/policy_json.h"
#include "api/policy_pool.h"
#include "api/queue_lookup.h"
#include "api/server_internal.h"
#include "api/task_prepare.h"
#include "api/task_json.h"
#include "api/task_read.h"
#include "api/task_submit.h"
#include "util/clock.h"
#include "util/xmalloc.h"

#define MAX_BATCH 1000
#define MAX_WAIT_SECONDS 120

/* ---- submit ------------------------------------------------------------------------------- */

/* A submit goes from the HTTP thread (parse the body) to a policy worker (read and route each
 * task; one task under a quick policy is routed on the HTTP thread) to the writer (store them),
 * suspended from the first hand-over until the answer. */
typedef struct submit_job {
  hitl_job job;
  hitl_policy_work work;
  hitl_request *req;
  hitl_queue_ref *queue;
  json_t *body;          /* The request body, parsed. */
  const json_t *items;   /* The task objects: body itself, or its "tasks" array. */
  char *header_key;      /* The Idempotency-Key header, or NULL. */
  int64_t now;
  hitl_task *tasks;      /* n routed tasks to store. */
  hitl_task *existing;   /* Per task: the stored task when the key replayed. */
  bool *replayed;
  hitl_policy_calib *calib; /* Per task: what calibration said when it was routed, */
  bool *calib_on;          /* when the queue has a calibrated leaf. */
  size_t n;
  bool batch;
  /* Set for a submission of another protocol (hitl__task_submit_one): told the outcome instead
   * of answering REST, and then the job frees itself (req->state is the caller's). */
  hitl_task_submitted_fn submitted;
  void *ctx;
  const char *prefix; /* Of error field paths (static storage), or NULL. */
} submit_job;

static void submit_job_free(void *p) {
  submit_job *j = p;
  for (size_t i = 0; i < j->n; i++) {
    hitl_task_clear(&j->tasks[i]);
    hitl_task_clear(&j->existing[i]);
  }
  free(j->tasks);
  free(j->existing);
  free(j->replayed);
  free(j->calib);
  free(j->calib_on);
  free(j->header_key);
  json_decref(j->body);
  hitl__queue_ref_release(j->queue);
  free(j);
}

static int submit_run(hitl_job *job, hitl_txn *x) {
  submit_job *j = (submit_job *)job;
  for (size_t i = 0; i < j->n; i++) {
    hitl_task_clear(&j->existing[i]); /* Left by an earlier run whose transaction rolled back. */
    int rc = hitl_task_submit(x, &j->tasks[i], j->req->who.name, &j->existing[i], &j->replayed[i],
                              &job->err);
    if (rc == 0 && j->calib_on[i] && !j->replayed[i] && j->tasks[i].state == HITL_TASK_PENDING &&
        !isnan(j->calib[i].score)) { /* A task without a score is no evidence. */
      /* The routing tag stays with the task until people decide it (api/calib.h). */
      hitl_calib_row row;
      hitl__calib_row_for(&j->calib[i], j->tasks[i].queue_id, &row);
      row.task_seq = j->tasks[i].seq;
      rc = x->store->vt->calib_put(x->store, &row);
      if (rc) hitl_err_set(&job->err, rc, NULL, "could not store the task's calibration tag");
    }
    if (rc) {
      if (j->batch) {
        char field[sizeof job->err.field];
        snprintf(field, sizeof field, "tasks[%zu]%s%s", i, job->err.field[0] ? "." : "",
                 job->err.field);
        snprintf(job->err.field, sizeof job->err.field, "%s", field);
      }
      return rc;
    }
    /* For the view's last day, written with the transaction's other submissions. */
    if (!j->replayed[i])
      hitl__calib_note_submit(j->req->server->calib, x->lane, j->tasks[i].id,
                              j->tasks[i].queue_id, j->calib_on[i], j->calib[i].fired,
                              j->calib[i].set_size);
  }
  return 0;
}

static void submit_done(hitl_job *job, int rc) {
  submit_job *j = (submit_job *)job;
  hitl_request *req = j->req;
  if (j->submitted) {
    j->submitted(req, j->ctx, rc, &job->err, j->replayed[0] ? &j->existing[0] : &j->tasks[0]);
    submit_job_free(j);
    hitl__request_resume(req);
    return;
  }
  if (rc) {
    hitl__reply_err(req, &job->err);
  } else {
    hitl_buf b = HITL_BUF_INIT;
    bool all_replayed = true;
    if (j->batch) hitl_buf_puts(&b, "{\"tasks\":[");
    for (size_t i = 0; i < j->n; i++) {
      if (i) hitl_buf_putc(&b, ',');
      hitl__task_to_json(&b, j->replayed[i] ? &j->existing[i] : &j->tasks[i], NULL, 0, 0);
      all_replayed = all_replayed && j->replayed[i];
    }
    if (j->batch) hitl_buf_puts(&b, "]}");
    if (!j->batch)
      snprintf(req->location, sizeof req->location, "/v1/tasks/%s",
               j->replayed[0] ? j->existing[0].id : j->tasks[0].id);
    hitl__reply_buf(req, all_replayed ? 200 : 201, &b);
  }
  hitl__request_resume(req);
}

int hitl__task_prepare(hitl_request *req, const hitl_queue_ref *q, const json_t *body,
                       const char *header_key, const char *prefix, int64_t now, hitl_task *t,
                       hitl_policy_calib *calib, bool *calib_on, hitl_err *err) {
  int rc = hitl__task_from_json(body, header_key, prefix, t, err);
  if (rc) return rc;
  hitl_calib_params params;
  if ((hitl_policy_calibration(q->config->policy, &params) || q->config->conformal) &&
      (rc = hitl__calib_check_body(q->config, body, prefix, err)) != 0)
    return rc;
  hitl_id_new("t", t->id);
  t->queue_id = q->id;
  t->queue = hitl_xstrdup(q->name);
  t->created_at = now;
  t->submitted_by = hitl_xstrdup(req->who.name);
  hitl_json_doc *doc = hitl__json_doc_new(body);
  hitl_policy_input in = {
      .lookup = hitl__json_doc_lookup,
      .ctx = doc,
      .sample_key = t->id,
      .has_confidence = t->has_confidence,
      .confidence = t->confidence,
  };
  if (calib) calib->set_size = -2;
  if (calib_on) {
    *calib_on = hitl__calib_route(req->server->calib, q->id, hitl__calib_score_of_body(body),
                                  t->id, calib);
    if (*calib_on) in.calib = calib;
  }
  if (q->config->conformal) {
    /* The prediction set is stored with the task, in its payload (docs/calibration.md). */
    hitl_buf set = HITL_BUF_INIT;
    int size = -2;
    if (hitl__calib_prediction_set(req->server->calib, q->id, body, &set, &size)) {
      in.prediction_set_size = size;
      in.has_prediction_set = true;
      size_t plen = strlen(t->payload);
      hitl_buf payload = HITL_BUF_INIT;
      hitl_buf_append(&payload, t->payload, plen - 1);
      hitl_buf_puts(&payload, plen > 2 ? ",\"prediction_set\":" : "\"prediction_set\":");
      hitl_buf_append(&payload, set.data, set.len);
      hitl_buf_putc(&payload, '}');
      free(t->payload);
      t->payload = hitl_buf_detach(&payload);
    }
    if (calib) calib->set_size = size; /* Counted for the view when the task is stored. */
    hitl_buf_free(&set);
  }
  rc = hitl_task_route(q->config, &in, t, now);
  hitl__json_doc_free(doc);
  if (rc == HITL_EUNAVAILABLE)
    return hitl_err_set(err, rc, NULL, "out of memory while evaluating the policy; retry later");
  if (rc) return hitl_err_set(err, HITL_EINTERNAL, NULL, "the policy could not be evaluated");
  return 0;
}

/* Reads and routes every task of j. Returns true, or false after answering the error (for a
 * submission of another protocol: after telling it and freeing j). Resumes nothing. */
static bool route_all(submit_job *j) {
  hitl_request *req = j->req;
  for (size_t i = 0; i < j->n; i++) {
    char prefix[32] = "";
    if (j->batch) snprintf(prefix, sizeof prefix, "tasks[%zu].", i);
    if (j->prefix) snprintf(prefix, sizeof prefix, "%s", j->prefix);
    hitl_err err = {0};
    const json_t *item = j->batch ? json_array_get(j->items, i) : j->items;
    if (hitl__task_prepare(req, j->queue, item, j->header_key, prefix, j->now, &j->tasks[i],
                           &j->calib[i], &j->calib_on[i], &err) != 0) {
      if (j->submitted) {
        j->submitted(req, j->ctx, err.code ? err.code : HITL_EINTERNAL, &err, NULL);
        submit_job_free(j);
        return false;
      }
      if (j->batch && err.field[0] == '\0') snprintf(err.field, sizeof err.field, "tasks[%zu]", i);
      hitl__reply_err(req, &err);
      return false;
    }
  }
  j->job.run = submit_run;
  j->job.done = submit_done;
  return true;
}

/* Runs on a policy worker: routes every task, then hands the job to the writer, or answers the
 * error. The request is suspended meanwhile. */
static void route_tasks(hitl_policy_work *w) {
  submit_job *j = (submit_job *)((char *)w - offsetof(submit_job, work));
  hitl_request *req = j->req; /* j may be gone after route_all. */
  if (route_all(j))
    hitl__committer_enqueue(req->server->committer, &j->job);
  else
    hitl__request_resume(req);
}

static void submit(hitl_request *req, bool batch) {
  hitl_queue_ref *q = hitl__queue_lookup(req, req->params[0]);
  if (q == NULL) return;
  json_t *body = NULL;
  submit_job *j = NULL;
  body = hitl__body_json(req);
  if (body == NULL) goto fail;
  const json_t *items = body;
  size_t n = 1;
  if (batch) {
    items = json_is_object(body) ? json_object_get(body, "tasks") : NULL;
    if (!json_is_array(items) || json_array_size(items) == 0) {
      hitl__reply_error(req, HITL_EVALIDATION, "tasks",
                        "a batch is {\"tasks\": [...]} with 1 to %d tasks", MAX_BATCH);
      goto fail;
    }
    if (json_object_size(body) != 1) {
      const char *key;
      json_t *v;
      json_object_foreach(body, key, v) {
        if (strcmp(key, "tasks") != 0) break; /* There is one: the body has more than "tasks". */
      }
      hitl__reply_error(req, HITL_EVALIDATION, key,
                        "unknown field \"%.64s\"; a batch is {\"tasks\": [...]} and nothing else",
                        key);
      goto fail;
    }
    n = json_array_size(items);
    if (n > MAX_BATCH) {
      hitl__reply_error(req, HITL_EVALIDATION, "tasks",
                        "a batch holds at most %d tasks; this one has %zu: split it", MAX_BATCH, n);
      goto fail;
    }
  }
  j = hitl_xcalloc(1, sizeof *j);
  j->req = req;
  j->queue = q;
  q = NULL;
  j->body = body;
  j->items = items;
  body = NULL;
  j->n = n;
  j->batch = batch;
  j->tasks = hitl_xcalloc(n, sizeof *j->tasks);
  j->existing = hitl_xcalloc(n, sizeof *j->existing);
  j->replayed = hitl_xcalloc(n, sizeof *j->replayed);
  j->calib = hitl_xcalloc(n, sizeof *j->calib);
  j->calib_on = hitl_xcalloc(n, sizeof *j->calib_on);
  j->header_key = batch ? NULL : hitl_xstrdup(hitl__header(req, "Idempotency-Key"));
  j->now = hitl_now_ms();
  j->work.run = route_tasks;
  req->state = j;
  req->state_free = submit_job_free;
  /* One task under a quick policy is routed here: the hand-over to a worker would cost more
   * than the routing. Anything that may take a while goes to a policy worker. */
  if (!batch && hitl_policy_is_quick(j->queue->config->policy)) {
    if (!route_all(j)) return; /* Answered; j is freed with the request. */
    hitl__request_suspend(req);
    hitl__committer_enqueue(req->server->committer, &j->job);
    return;
  }
  hitl__request_suspend(req);
  hitl__policy_pool_submit(req->server->policy_pool, &j->work);
  return;
fail:
  json_decref(body);
  hitl__queue_ref_release(q);
}

void hitl__h_task_submit(hitl_request *req) { submit(req, false); }

void hitl__task_submit_one(hitl_request *req, hitl_queue_ref *q, json_t *body, const char *prefix,
                           hitl_task_submitted_fn done, void *ctx) {
  submit_job *j = hitl_xcalloc(1, sizeof *j);
  j->req = req;
  j->queue = q;
  j->body = body;
  j->items = body;
  j->n = 1;
  j->tasks = hitl_xcalloc(1, sizeof *j->tasks);
  j->existing = hitl_xcalloc(1, sizeof *j->existing);
  j->replayed = hitl_xcalloc(1, sizeof *j->replayed);
  j->calib = hitl_xcalloc(1, sizeof *j->calib);
  j->calib_on = hitl_xcalloc(1, sizeof *j->calib_on);
  j->now = hitl_now_ms();
  j->submitted = done;
  j->ctx = ctx;
  j->prefix = prefix;
  j->work.run = route_tasks;
  /* As submit: a quick policy is evaluated here, anything else on a policy worker. */
  if (hitl_policy_is_quick(q->config->policy)) {
    if (!route_all(j)) return; /* Told, and j freed; the request was never suspended. */
    hitl__request_suspend(req);
    hitl__committer_enqueue(req->server->committer, &j->job);
    return;
  }
  hitl__request_suspend(req);
  hitl__policy_pool_submit(req->server->policy_pool, &j->work);
}
void hitl__h_task_batch(hitl_request *req) { submit(req, true); }

/* ---- list --------------------------------------------------------------------------------- */

void hitl__h_task_list(hitl_request *req) {
  hitl_queue_ref *q = hitl__queue_lookup(req, req->params[0]);
  if (q == NULL) return;
  hitl_task *tasks = NULL;
  size_t n = 0;
  int state = -1;
  long long limit, cursor;
  const char *s;
  /* Orchestrators and the queue's reviewers may list it; agents read their own tasks by id. */
  if (!hitl_actor_may_review(&req->actor, q->config)) {
    hitl__reply_error(req, HITL_EFORBIDDEN, NULL, "token \"%s\" may not read queue \"%s\"",
                      req->who.name, q->name);
    goto done;
  }
  if ((s = hitl__query(req, "state")) && (state = hitl_task_state_parse(s)) < 0) {
    hitl__reply_error(req, HITL_EVALIDATION, "state",
                      "state must be pending, leased, decided, expired or cancelled");
    goto done;
  }
  if (!hitl__query_page(req, 50, 1000, &limit, &cursor)) goto done;
  hitl_store *st = hitl__reader(req);
  if (st == NULL) goto done;
  hitl_task_scan scan = {.queue_id = q->id, .state = state, .before_seq = cursor};
  if (st->vt->task_scan(st, &scan, (size_t)limit, &tasks, &n) != 0) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the tasks");
    goto done;
  }
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"tasks\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) hitl_buf_putc(&b, ',');
    hitl__task_to_json(&b, &tasks[i], NULL, 0, req->actor.orchestrator ? HITL_TASK_JSON_LEASE : 0);
  }
  if (n == (size_t)limit)
    hitl_buf_printf(&b, "],\"next_cursor\":\"%lld\"}", (long long)tasks[n - 1].seq);
  else
    hitl_buf_puts(&b, "],\"next_cursor\":null}");
  hitl__reply_buf(req, 200, &b);
done:
  for (size_t i = 0; i < n; i++) hitl_task_clear(&tasks[i]);
  free(tasks);
  hitl__queue_ref_release(q);
}

/* ---- get one, with long-poll -------------------------------------------------------------- */

/* Reads the task and answers with it; returns its state, or -1 when it answered an error. */
static int answer_task(hitl_request *req, const char *id) {
  hitl_task t = {0};
  hitl_response *rs = NULL;
  size_t n = 0;
  hitl_err err = {0};
  if (hitl__task_read(req, id, &t, &rs, &n, &err) != 0) {
    hitl__reply_err(req, &err);
    return -1;
  }
  hitl_buf b = HITL_BUF_INIT;
  bool holder = t.lease_owner && strcmp(t.lease_owner, req->who.name) == 0;
  hitl__task_to_json(&b, &t, rs, n,
                     HITL_TASK_JSON_RESPONSES |
                         (holder || req->actor.orchestrator ? HITL_TASK_JSON_LEASE : 0));
  hitl__reply_buf(req, 200, &b);
  int state = (int)t.state;
  for (size_t i = 0; i < n; i++) hitl_response_clear(&rs[i]);
  free(rs);
  hitl_task_clear(&t);
  return state;
}

static void answer_waited(hitl_request *req) {
  hitl_task_wait *w = req->state;
  answer_task(req, w->task_id);
}

void hitl__h_task_get(hitl_request *req) {
  const char *id = req->params[0];
  long long wait = 0;
  const char *s = hitl__query(req, "wait");
  if (s) {
    char *end;
    wait = strtoll(s, &end, 10);
    if (*s == '\0' || *end || wait < 0 || wait > MAX_WAIT_SECONDS) {
      hitl__reply_error(req, HITL_EVALIDATION, "wait",
                        "wait must be a whole number of seconds from 0 to %d", MAX_WAIT_SECONDS);
      return;
    }
  }
  int state = answer_task(req, id);
  if (state < 0 || wait == 0 || hitl__task_state_final((hitl_task_state)state)) return;
  if (!hitl__limits_wait_begin(req)) return; /* 429: the token has its waits open already. */

  /* Not decided yet: wait. The answer read is dropped; the task is read again at the end. */
  hitl_task_wait *w = hitl_xcalloc(1, sizeof *w);
  snprintf(w->task_id, sizeof w->task_id, "%s", id);
  w->deadline = hitl_now_ms() + wait * 1000;
  w->answer = answer_waited;
  req->state = w;
  req->state_free = free;
  hitl__task_wait(req, w);
}
