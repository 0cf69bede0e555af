/* SPDX-License-Identifier: MIT */
/* Reviewer routes: claim the next task, answer it under the lease, give it back; and cancel. */
#include <stdlib.h>
#include <string.h>

#include "api/answer_json.h"
#include "api/queue_lookup.h"
#include "api/server_internal.h"
#include "api/task_json.h"
#include "util/xmalloc.h"

/* One job type serves the four routes: what differs is the operation and the answer. */
typedef enum op { OP_CLAIM, OP_RESPOND, OP_RELEASE, OP_CANCEL, OP_RENEW } op;

typedef struct lease_job {
  hitl_job job;
  hitl_request *req;
  op kind;
  hitl_queue_ref *queue;
  char task_id[HITL_ID_LEN];
  char *lease_id;
  hitl_answers answers;
  hitl_task task; /* The task after the operation. */
  bool want_next; /* Respond, then lease the caller's next task of the queue in the same commit. */
  bool has_next;
  hitl_task next;
} lease_job;

static void lease_job_free(void *p) {
  lease_job *j = p;
  hitl__queue_ref_release(j->queue);
  free(j->lease_id);
  hitl__answers_clear(&j->answers);
  hitl_task_clear(&j->task);
  hitl_task_clear(&j->next);
  free(j);
}

static int lease_run(hitl_job *job, hitl_txn *x) {
  lease_job *j = (lease_job *)job;
  const hitl_actor *a = &j->req->actor;
  hitl_task_clear(&j->task); /* Left by an earlier run whose transaction was rolled back. */
  hitl_task_clear(&j->next);
  j->has_next = false;
  switch (j->kind) {
  case OP_CLAIM:
    return hitl_task_claim(x, j->queue->config, j->queue->id, a, &j->task, &job->err);
  case OP_RESPOND: {
    int rc = hitl_task_respond(x, j->queue->config, j->task_id, j->lease_id, a,
                               j->answers.responses, j->answers.n, &j->task, &job->err);
    if (rc || !j->want_next) return rc;
    /* Submit-and-next: one durable commit holds the answer and the next lease. */
    rc = hitl_task_claim(x, j->queue->config, j->queue->id, a, &j->next, &job->err);
    if (rc == HITL_ENOT_FOUND) return 0;
    j->has_next = rc == 0;
    return rc;
  }
  case OP_RELEASE:
    return hitl_task_release(x, j->task_id, j->lease_id, a, &j->task, &job->err);
  case OP_CANCEL:
    return hitl_task_cancel(x, j->task_id, a, &j->task, &job->err);
  case OP_RENEW:
    return hitl_task_renew(x, j->queue->config, j->task_id, j->lease_id, a, &j->task, &job->err);
  }
  return HITL_EINTERNAL;
}

static void lease_done(hitl_job *job, int rc) {
  lease_job *j = (lease_job *)job;
  hitl_request *req = j->req;
  if (j->kind == OP_CLAIM && rc == HITL_ENOT_FOUND) {
    hitl__reply_empty(req, 204);
  } else if (rc) {
    hitl__reply_err(req, &job->err);
  } else {
    hitl_buf b = HITL_BUF_INIT;
    hitl__task_to_json(&b, &j->task, NULL, 0, HITL_TASK_JSON_LEASE);
    if (j->want_next) {
      /* The answered task with one more member: "next", the task now leased, or null. */
      b.len--;
      hitl_buf_puts(&b, ",\"next\":");
      if (j->has_next)
        hitl__task_to_json(&b, &j->next, NULL, 0, HITL_TASK_JSON_LEASE);
      else
        hitl_buf_puts(&b, "null");
      hitl_buf_putc(&b, '}');
    }
    hitl__reply_buf(req, 200, &b);
  }
  hitl__request_resume(req);
}

static lease_job *new_job(hitl_request *req, op kind) {
  lease_job *j = hitl_xcalloc(1, sizeof *j);
  j->req = req;
  j->kind = kind;
  j->job.run = lease_run;
  j->job.done = lease_done;
  req->state = j;
  req->state_free = lease_job_free;
  return j;
}

static void enqueue(hitl_request *req, lease_job *j) {
  hitl__request_suspend(req);
  hitl__committer_enqueue(req->server->committer, &j->job);
}

/* Reads the task named by the path and the current configuration of its queue; answers 404
 * and returns NULL when there is no such task. */
static hitl_queue_ref *queue_of_task(hitl_request *req, const char *task_id, hitl_task *t) {
  hitl_store *st = hitl__reader(req);
  if (st == NULL) return NULL;
  int rc = st->vt->task_get(st, task_id, t);
  if (rc == HITL_ENOT_FOUND) {
    hitl__reply_error(req, HITL_ENOT_FOUND, "task_id", "no task with id \"%s\"", task_id);
    return NULL;
  }
  if (rc) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "could not read the task");
    return NULL;
  }
  hitl_queue_ref *q = hitl__registry_get(req->server->registry, t->queue);
  if (q == NULL) hitl__reply_error(req, HITL_ENOT_FOUND, NULL, "the task's queue no longer exists");
  return q;
}

static bool may_review(hitl_request *req, const hitl_queue_ref *q) {
  if (hitl_actor_may_review(&req->actor, q->config)) return true;
  hitl__reply_error(req, HITL_EFORBIDDEN, NULL,
                    "token \"%s\" has none of the roles that may answer queue \"%s\"",
                    req->who.name, q->name);
  return false;
}

/* Reads the task named by the path and its queue, and checks that the caller may still answer
 * that queue: a reviewer whose role was taken off the queue holds a lease it may no longer use,
 * and reads nothing through it (the rule of GET /v1/tasks/{id}). Answers 404 or 403 and returns
 * NULL otherwise. */
static hitl_queue_ref *reviewed_queue_of_task(hitl_request *req) {
  hitl_task t = {0};
  hitl_queue_ref *q = queue_of_task(req, req->params[0], &t);
  hitl_task_clear(&t);
  if (q != NULL && !may_review(req, q)) {
    hitl__queue_ref_release(q);
    return NULL;
  }
  return q;
}

void hitl__h_claim(hitl_request *req) {
  hitl_queue_ref *q = hitl__queue_lookup(req, req->params[0]);
  if (q == NULL) return;
  if (!may_review(req, q)) {
    hitl__queue_ref_release(q);
    return;
  }
  lease_job *j = new_job(req, OP_CLAIM);
  j->queue = q;
  enqueue(req, j);
}

/* Reads "lease_id" from a body that is only {"lease_id": "..."}. */
static char *lease_from_body(hitl_request *req) {
  json_t *body = hitl__body_json(req);
  if (body == NULL) return NULL;
  const json_t *lease = json_is_object(body) ? json_object_get(body, "lease_id") : NULL;
  char *out = NULL;
  if (!json_is_string(lease) || json_string_length(lease) == 0)
    hitl__reply_error(req, HITL_EVALIDATION, "lease_id",
                      "lease_id is required: the id of the lease from the claim");
  else
    out = hitl_xstrdup(json_string_value(lease));
  json_decref(body);
  return out;
}

void hitl__h_respond(hitl_request *req) {
  hitl_queue_ref *q = reviewed_queue_of_task(req);
  if (q == NULL) return;
  json_t *body = hitl__body_json(req);
  if (body == NULL) {
    hitl__queue_ref_release(q);
    return;
  }
  lease_job *j = new_job(req, OP_RESPOND);
  j->queue = q;
  snprintf(j->task_id, sizeof j->task_id, "%s", req->params[0]);
  const char *next = hitl__query(req, "next");
  if (next && strcmp(next, "true") != 0 && strcmp(next, "false") != 0) {
    json_decref(body);
    hitl__reply_error(req, HITL_EVALIDATION, "next",
                      "next must be true (answer, then lease the next task) or false");
    return;
  }
  j->want_next = next && strcmp(next, "true") == 0;
  hitl_err err = {0};
  int rc = hitl__answers_from_json(q->config, body, &j->answers, &err);
  json_decref(body);
  if (rc) {
    hitl__reply_err(req, &err);
    return;
  }
  j->lease_id = hitl_xstrdup(j->answers.lease_id);
  enqueue(req, j);
}

void hitl__h_release(hitl_request *req) {
  if (strlen(req->params[0]) >= HITL_ID_LEN) {
    hitl__reply_error(req, HITL_ENOT_FOUND, "task_id", "no task with id \"%.40s...\"",
                      req->params[0]);
    return;
  }
  hitl_queue_ref *q = reviewed_queue_of_task(req);
  if (q == NULL) return;
  char *lease = lease_from_body(req);
  if (lease == NULL) {
    hitl__queue_ref_release(q);
    return;
  }
  lease_job *j = new_job(req, OP_RELEASE);
  j->queue = q;
  j->lease_id = lease;
  snprintf(j->task_id, sizeof j->task_id, "%s", req->params[0]);
  enqueue(req, j);
}

void hitl__h_cancel(hitl_request *req) {
  hitl_task t = {0};
  hitl_queue_ref *q = queue_of_task(req, req->params[0], &t);
  /* Answered at once when the rule says no; the job checks it again on the locked task. */
  bool allowed = hitl_actor_may_cancel_task(&req->actor, &t);
  hitl_task_clear(&t);
  if (q == NULL) return;
  hitl__queue_ref_release(q);
  if (!allowed) {
    hitl__reply_error(req, HITL_EFORBIDDEN, NULL,
                      "only an orchestrator or the agent that submitted a task may cancel it");
    return;
  }
  lease_job *j = new_job(req, OP_CANCEL);
  snprintf(j->task_id, sizeof j->task_id, "%s", req->params[0]);
  enqueue(req, j);
}

void hitl__h_renew(hitl_request *req) {
  hitl_queue_ref *q = reviewed_queue_of_task(req);
  if (q == NULL) return;
  char *lease = lease_from_body(req);
  if (lease == NULL) {
    hitl__queue_ref_release(q);
    return;
  }
  lease_job *j = new_job(req, OP_RENEW);
  j->queue = q;
  j->lease_id = lease;
  snprintf(j->task_id, sizeof j->task_id, "%s", req->params[0]);
  enqueue(req, j);
}
