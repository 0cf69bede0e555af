/* SPDX-License-Identifier: MIT */
/* One task for a caller: the access-checked read, and the long-poll that waits for its end. */
#include "api/task_read.h"

#include <stdlib.h>
#include <string.h>

#include "api/server_internal.h"
#include "api/session.h"
#include "util/clock.h"

#define RECHECK_MS 5000 /* A long-poll looks again at its token at least this often. */

bool hitl__task_state_final(hitl_task_state s) {
  return s == HITL_TASK_DECIDED || s == HITL_TASK_EXPIRED || s == HITL_TASK_CANCELLED;
}

int hitl__task_read(hitl_request *req, const char *id, hitl_task *t, hitl_response **rs,
                    size_t *n, hitl_err *err) {
  hitl_store *st = hitl__server_reader(req->server);
  if (st == NULL)
    return hitl_err_set(err, HITL_EUNAVAILABLE, NULL, "the database is not available");
  int rc = st->vt->task_get(st, id, t);
  if (rc == HITL_ENOT_FOUND)
    return hitl_err_set(err, HITL_ENOT_FOUND, "task_id", "no task with id \"%s\"", id);
  if (rc) return hitl_err_set(err, HITL_EUNAVAILABLE, NULL, "could not read the task");
  hitl_queue_ref *q = hitl__registry_get(req->server->registry, t->queue);
  bool allowed = hitl_actor_may_read_task(&req->actor, t, q ? q->config : NULL);
  hitl__queue_ref_release(q);
  if (!allowed) {
    hitl_err_set(err, HITL_EFORBIDDEN, NULL, "token \"%s\" may not read tasks of queue \"%s\"",
                 req->who.name, t->queue);
    hitl_task_clear(t);
    return HITL_EFORBIDDEN;
  }
  if (rs && st->vt->response_list(st, t->seq, rs, n) != 0) {
    hitl_task_clear(t);
    return hitl_err_set(err, HITL_EUNAVAILABLE, NULL, "could not read the responses");
  }
  return 0;
}

/* True when the task is still to be waited for: it exists and is not final. */
static bool still_open(hitl_server *s, const char *task_id) {
  hitl_store *st = hitl__server_reader(s);
  hitl_task t = {0};
  bool open = st && st->vt->task_get(st, task_id, &t) == 0 && !hitl__task_state_final(t.state);
  hitl_task_clear(&t);
  return open;
}

static void wait_resumed(hitl_request *req);

/* Suspends req until its task is final, its deadline, a revocation or the next look at its
 * token; then looks again, so that a decision committed before the registration is not missed. */
static void wait_register(hitl_request *req, hitl_task_wait *w) {
  int64_t wake = hitl_now_ms() + RECHECK_MS;
  req->on_resume = wait_resumed;
  hitl__request_suspend(req);
  hitl__waiters_add(req->server->waiters, req, w->task_id, wake < w->deadline ? wake : w->deadline);
  if (!still_open(req->server, w->task_id) &&
      hitl__waiters_remove(req->server->waiters, req, w->task_id))
    hitl__request_resume(req);
}

static void wait_resumed(hitl_request *req) {
  hitl_task_wait *w = req->state;
  /* The token may have been revoked, or the session ended, while the request waited. */
  if (!hitl__principal_recheck(req)) {
    hitl__reply_error(req, HITL_EUNAUTHORIZED, NULL,
                      "the token was revoked or the session ended while waiting");
    return;
  }
  bool stopping = __atomic_load_n(&req->server->stopping, __ATOMIC_ACQUIRE);
  /* Woken early: by the task, or only to look at the token. Wait on when still undecided. */
  if (!stopping && hitl_now_ms() < w->deadline && still_open(req->server, w->task_id)) {
    wait_register(req, w);
    return;
  }
  w->answer(req);
}

void hitl__task_wait(hitl_request *req, hitl_task_wait *w) { wait_register(req, w); }
