/* SPDX-License-Identifier: MIT */
/* POST /v1/queues/{queue}/import?format=label-studio: tasks with their predictions and
 * annotations from Label Studio, stored all or nothing. */
#include <stdlib.h>
#include <string.h>

#include "api/label_studio.h"
#include "api/policy_pool.h"
#include "api/queue_lookup.h"
#include "api/server_internal.h"
#include "api/task_json.h"
#include "api/task_prepare.h"
#include "util/clock.h"
#include "util/xmalloc.h"

#define MAX_IMPORT 1000 /* Tasks in one import, as in a batch. */

/* An import goes from the HTTP thread (parse the body) to a policy worker (read each Label
 * Studio task and route it) to the writer (store them all in one transaction). */
typedef struct import_job {
  hitl_job job;
  hitl_policy_work work;
  hitl_request *req;
  hitl_queue_ref *queue;
  json_t *body;          /* The Label Studio tasks, an array. */
  int64_t now;
  hitl_ls_task *read;    /* n tasks as read. */
  hitl_task *tasks;      /* n routed tasks to store. */
  size_t n;
} import_job;

static void import_job_free(void *p) {
  import_job *j = p;
  for (size_t i = 0; i < j->n; i++) {
    hitl__ls_task_clear(&j->read[i]);
    hitl_task_clear(&j->tasks[i]);
  }
  free(j->read);
  free(j->tasks);
  json_decref(j->body);
  hitl__queue_ref_release(j->queue);
  free(j);
}

/* Runs on the writer: every task or none (a failing job's writes are undone). */
static int import_run(hitl_job *job, hitl_txn *x) {
  import_job *j = (import_job *)job;
  for (size_t i = 0; i < j->n; i++) {
    int rc = hitl_task_import(x, j->queue->config, &j->tasks[i], j->req->who.name,
                              j->read[i].answers, j->read[i].n_answers, &job->err);
    if (rc) {
      char field[sizeof job->err.field];
      snprintf(field, sizeof field, "[%zu]%s%s", i, job->err.field[0] ? "." : "", job->err.field);
      snprintf(job->err.field, sizeof job->err.field, "%s", field);
      return rc;
    }
  }
  return 0;
}

static void import_done(hitl_job *job, int rc) {
  import_job *j = (import_job *)job;
  hitl_request *req = j->req;
  if (rc) {
    hitl__reply_err(req, &job->err);
  } else {
    hitl_buf b = HITL_BUF_INIT;
    hitl_buf_printf(&b, "{\"imported\":%zu,\"tasks\":[", j->n);
    for (size_t i = 0; i < j->n; i++) {
      if (i) hitl_buf_putc(&b, ',');
      hitl__task_to_json(&b, &j->tasks[i], NULL, 0, 0);
    }
    hitl_buf_puts(&b, "]}");
    hitl__reply_buf(req, 201, &b);
  }
  hitl__request_resume(req);
}

/* Runs on a policy worker: reads and routes every task, then hands the job to the writer, or
 * answers the first task's error. */
static void read_tasks(hitl_policy_work *w) {
  import_job *j = (import_job *)((char *)w - offsetof(import_job, work));
  hitl_request *req = j->req;
  for (size_t i = 0; i < j->n; i++) {
    hitl_err err = {0};
    char prefix[32];
    snprintf(prefix, sizeof prefix, "[%zu].", i);
    int rc = hitl__ls_task_read(j->queue->config, json_array_get(j->body, i), i, &j->read[i], &err);
    if (rc == 0)
      rc = hitl__task_prepare(req, j->queue, j->read[i].submit, NULL, prefix, j->now,
                              &j->tasks[i], &err);
    if (rc) {
      if (err.field[0] == '\0') snprintf(err.field, sizeof err.field, "[%zu]", i);
      hitl__reply_err(req, &err);
      hitl__request_resume(req);
      return;
    }
  }
  j->job.run = import_run;
  j->job.done = import_done;
  hitl__committer_enqueue(req->server->committer, &j->job);
}

void hitl__h_import(hitl_request *req) {
  const char *format = hitl__query(req, "format");
  if (format != NULL && strcmp(format, "label-studio") != 0) {
    hitl__reply_error(req, HITL_EVALIDATION, "format",
                      "format must be label-studio (Label Studio's task JSON)");
    return;
  }
  hitl_queue_ref *q = hitl__queue_lookup(req, req->params[0]);
  if (q == NULL) return;
  json_t *body = hitl__body_json(req);
  if (body == NULL) goto fail;
  if (!json_is_array(body) || json_array_size(body) == 0 || json_array_size(body) > MAX_IMPORT) {
    hitl__reply_error(req, HITL_EVALIDATION, NULL,
                      "an import is a JSON array of 1 to %d Label Studio tasks "
                      "[{\"data\": {...}, \"predictions\": [...], \"annotations\": [...]}]",
                      MAX_IMPORT);
    goto fail;
  }
  import_job *j = hitl_xcalloc(1, sizeof *j);
  j->req = req;
  j->queue = q;
  j->body = body;
  j->n = json_array_size(body);
  j->read = hitl_xcalloc(j->n, sizeof *j->read);
  j->tasks = hitl_xcalloc(j->n, sizeof *j->tasks);
  j->now = hitl_now_ms();
  j->work.run = read_tasks;
  req->state = j;
  req->state_free = import_job_free;
  hitl__request_suspend(req);
  hitl__policy_pool_submit(req->server->policy_pool, &j->work);
  return;
fail:
  json_decref(body);
  hitl__queue_ref_release(q);
}
