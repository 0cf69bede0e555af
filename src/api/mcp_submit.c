/* SPDX-License-Identifier: MIT */
/* The MCP tools that submit a task, request_review and ask_human: the REST route's submission
 * with its queue's rules, then the task's result now or after a wait. */
#include <stdlib.h>
#include <string.h>

#include "api/mcp.h"
#include "api/run_json.h"
#include "api/server_internal.h"
#include "api/task_json.h"
#include "api/task_submit.h"
#include "core/run_control.h"
#include "util/clock.h"
#include "util/xmalloc.h"


/* ---- request_review and ask_human: a submission ------------------------------------------- */

/* Told the outcome of a submission (any thread: does not block). */
static void submitted(hitl_request *req, void *ctx, int rc, const hitl_err *err,
                      const hitl_task *t) {
  hitl_mcp_call *call = ctx;
  if (rc) {
    hitl__mcp_reply_tool_error(req, call, err);
  } else if (call->as_task || hitl__task_state_final(t->state) || call->wait.deadline == 0) {
    hitl__mcp_reply_task(req, call, t);
  } else {
    /* Undecided and asked to wait: the wait begins on an HTTP thread. */
    snprintf(call->wait.task_id, sizeof call->wait.task_id, "%s", t->id);
    call->wait.answer = hitl__mcp_answer_waited;
    req->on_resume = hitl__mcp_start_wait;
  }
}

/* Looks up the queue a submitting tool names and checks that the caller may submit to it (the
 * agent role, as POST /v1/queues/{queue}/tasks). NULL with err set when not. */
static hitl_queue_ref *submit_queue(hitl_request *req, const char *name, hitl_err *err) {
  if (!hitl_actor_has_role(&req->actor, "agent")) {
    hitl_err_set(err, HITL_EFORBIDDEN, NULL, "submitting needs the agent role, which token \"%s\" "
                 "lacks", req->who.name);
    return NULL;
  }
  hitl_queue_ref *q = hitl__queue_name_valid(name) ? hitl__registry_get(req->server->registry, name)
                                                   : NULL;
  if (q == NULL)
    hitl_err_set(err, HITL_ENOT_FOUND, "arguments.queue",
                 "no queue named \"%.64s\": create it with PUT /v1/queues/{queue} first", name);
  return q;
}

/* Submits body (taken) to q (taken) for call, waiting up to wait seconds for the decision. */
static void submit(hitl_request *req, hitl_mcp_call *call, hitl_queue_ref *q, json_t *body,
                   int wait) {
  /* The wait slot is taken before anything is stored, so that a refusal (429) stores nothing. */
  if (wait > 0 && !call->as_task && !hitl__limits_wait_begin(req)) {
    json_decref(body);
    hitl__queue_ref_release(q);
    return;
  }
  call->wait.deadline = wait > 0 ? hitl_now_ms() + (int64_t)wait * 1000 : 0;
  hitl__task_submit_one(req, q, body, "arguments.", submitted, call);
}

void hitl__mcp_request_review(hitl_request *req, hitl_mcp_call *call, const json_t *args) {
  int wait;
  if (!hitl__mcp_wait_arg(req, call, args, &wait)) return;
  hitl_err err = {0};
  hitl_queue_ref *q = submit_queue(req, json_string_value(json_object_get(args, "queue")), &err);
  if (q == NULL) {
    hitl__mcp_reply_tool_error(req, call, &err);
    return;
  }
  /* The task body as POST /v1/queues/{queue}/tasks takes it: the arguments but queue and wait. */
  json_t *body = json_object();
  const char *key;
  const json_t *v;
  json_object_foreach((json_t *)args, key, v) {
    if (strcmp(key, "queue") != 0 && strcmp(key, "wait_seconds") != 0)
      json_object_set_new(body, key, json_deep_copy(v));
  }
  submit(req, call, q, body, wait);
}

/* The question of q that ask_human asks: with choices, a label question holding every choice;
 * without, the first text question, else the first label question. NULL with err when none. */
static bool holds_choices(const hitl_question *qu, const json_t *choices) {
  size_t k;
  const json_t *choice;
  json_array_foreach(choices, k, choice) {
    bool found = false;
    for (size_t l = 0; l < qu->n_labels && !found; l++)
      found = json_is_string(choice) && strcmp(json_string_value(choice), qu->labels[l]) == 0;
    if (!found) return false;
  }
  return true;
}

static const hitl_question *ask_question(const hitl_queue_ref *q, const json_t *choices,
                                         hitl_err *err) {
  const hitl_queue_config *c = q->config;
  const hitl_question *label = NULL;
  for (size_t i = 0; i < c->n_questions; i++) {
    const hitl_question *qu = &c->questions[i];
    if (choices == NULL && qu->type == HITL_QUESTION_TEXT) return qu;
    if (qu->type != HITL_QUESTION_LABEL || label) continue;
    if (choices == NULL || holds_choices(qu, choices)) label = qu;
  }
  if (label) return label;
  if (choices)
    hitl_err_set(err, HITL_EVALIDATION, "arguments.choices",
                 "choices must be strings and labels of one label question of queue \"%s\"",
                 q->name);
  else
    hitl_err_set(err, HITL_EVALIDATION, "arguments.queue",
                 "queue \"%s\" has no text or label question for ask_human to ask", q->name);
  return NULL;
}

void hitl__mcp_ask_human(hitl_request *req, hitl_mcp_call *call, const json_t *args) {
  int wait;
  if (!hitl__mcp_wait_arg(req, call, args, &wait)) return;
  const json_t *choices = json_object_get(args, "choices");
  if (json_is_null(choices)) choices = NULL;
  const json_t *queue = json_object_get(args, "queue");
  const char *name = json_is_string(queue) ? json_string_value(queue) : HITL_MCP_ASK_QUEUE;
  hitl_err err = {0};
  hitl_queue_ref *q = submit_queue(req, name, &err);
  const hitl_question *question = q ? ask_question(q, choices, &err) : NULL;
  if (question == NULL) {
    hitl__queue_ref_release(q);
    hitl__mcp_reply_tool_error(req, call, &err);
    return;
  }
  json_t *input =
      json_pack("{ss}", "question", json_string_value(json_object_get(args, "question")));
  if (choices) json_object_set_new(input, "choices", json_deep_copy(choices));
  json_t *body = json_pack("{so s{ssss}}", "input", input, "metadata", "mcp_tool", "ask_human",
                           "question", question->name);
  submit(req, call, q, body, wait);
}
