/* SPDX-License-Identifier: MIT */
/* The MCP tools' results: a task as a tool's result or as an MCP task, a tool's failure, waiting
 * for people to decide, and get_decision. */
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


#define POLL_INTERVAL_MS 2000 /* What an MCP task's poller is told to wait between tasks/get. */


/* Appends a tool's failure as MCP has it: a result with isError and the message as text. */
static void put_tool_error(hitl_buf *b, const hitl_err *err) {
  hitl_buf b_text = HITL_BUF_INIT;
  hitl_buf_printf(&b_text, "%s: %s", hitl_err_code(err->code),
                  err->message[0] ? err->message : "internal error");
  hitl__utf8_scrub(b_text.data); /* The message may echo input cut short. */
  hitl_buf_puts(b, "{\"content\":[{\"type\":\"text\",\"text\":");
  hitl_buf_json_cstr(b, hitl_buf_cstr(&b_text));
  hitl_buf_puts(b, "}],\"isError\":true}");
  hitl_buf_free(&b_text);
}

/* Answers with a tool failure: a wrong argument is the caller's (-32602); anything else is the
 * tool's own failure (a result with isError). */
void hitl__mcp_reply_tool_error(hitl_request *req, hitl_mcp_call *call,
                                const hitl_err *err) {
  if (err->code == HITL_EVALIDATION) {
    hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_PARAMS, err->code, err->field, "%s",
                          err->message);
    return;
  }
  hitl_buf b = HITL_BUF_INIT;
  put_tool_error(&b, err);
  hitl__mcp_reply_result(req, call, &b);
}

/* The MCP task status of a hitl task state. */
static const char *task_status(hitl_task_state s) {
  switch (s) {
  case HITL_TASK_DECIDED:
  case HITL_TASK_EXPIRED: return "completed";
  case HITL_TASK_CANCELLED: return "cancelled";
  default: return "working";
  }
}

/* The one-line summary of a task for people and models. */
static void put_summary(hitl_buf *b, const hitl_task *t, const json_t *decision) {
  hitl_buf_printf(b, "task %s in queue %s is %s", t->id, t->queue, hitl_task_state_name(t->state));
  const char *by = json_string_value(json_object_get(decision, "by"));
  const char *outcome = json_string_value(json_object_get(decision, "outcome"));
  if (by && outcome) hitl_buf_printf(b, ": %s by %s", outcome, by);
  const char *rule = json_string_value(json_object_get(decision, "rule"));
  if (rule) hitl_buf_printf(b, " (rule %s)", rule);
  if (!hitl__task_state_final(t->state)) hitl_buf_puts(b, ": waiting for people");
}

/* The question whose answer ask_human returns, as its call recorded it in the task. */
static const char *asked_question(const json_t *payload) {
  const json_t *md = json_object_get(payload, "metadata");
  const char *tool = json_string_value(json_object_get(md, "mcp_tool"));
  if (tool == NULL || strcmp(tool, "ask_human") != 0) return NULL;
  return json_string_value(json_object_get(md, "question"));
}

/* Appends the result of tool for task t: structured content and a one-line text. With meta,
 * the related-task _meta that tasks/result adds. */
static void put_task_result(hitl_buf *b, hitl_mcp_tool tool, const hitl_task *t, bool meta) {
  json_t *decision = t->decision ? json_loads(t->decision, 0, NULL) : NULL;
  hitl_buf text = HITL_BUF_INIT;
  put_summary(&text, t, decision);
  hitl_buf_puts(b, "{\"structuredContent\":{\"task_id\":");
  hitl_buf_json_cstr(b, t->id);
  hitl_buf_puts(b, ",\"queue\":");
  hitl_buf_json_cstr(b, t->queue);
  hitl_buf_puts(b, ",\"state\":");
  hitl_buf_json_cstr(b, hitl_task_state_name(t->state));
  if (tool == HITL_MCP_ASK_HUMAN) {
    json_t *payload = t->payload ? json_loads(t->payload, 0, NULL) : NULL;
    const char *question = asked_question(payload);
    const json_t *answers = json_object_get(decision, "answers");
    const json_t *answer =
        json_object_get(json_object_get(answers, question ? question : ""), "value");
    hitl_buf_puts(b, ",\"question\":");
    if (question) hitl_buf_json_cstr(b, question);
    else hitl_buf_puts(b, "null");
    char *a = answer ? json_dumps(answer, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    hitl_buf_puts(b, ",\"answer\":");
    hitl_buf_puts(b, a ? a : "null");
    if (answer && json_is_string(answer))
      hitl_buf_printf(&text, "; answer: %s", json_string_value(answer));
    free(a);
    json_decref(payload);
  } else {
    hitl_buf_puts(b, ",\"route\":");
    hitl_buf_puts(b, t->route ? t->route : "null");
  }
  hitl_buf_puts(b, ",\"decision\":");
  hitl_buf_puts(b, t->decision ? t->decision : "null");
  hitl_buf_puts(b, "},\"content\":[{\"type\":\"text\",\"text\":");
  hitl_buf_json_cstr(b, hitl_buf_cstr(&text));
  hitl_buf_puts(b, "}],\"isError\":false");
  if (meta) {
    hitl_buf_puts(b, ",\"_meta\":{\"io.modelcontextprotocol/related-task\":{\"taskId\":");
    hitl_buf_json_cstr(b, t->id);
    hitl_buf_puts(b, "}}");
  }
  hitl_buf_putc(b, '}');
  hitl_buf_free(&text);
  json_decref(decision);
}

/* Appends the MCP Task object of t. */
void hitl__mcp_put_task(hitl_buf *b, const hitl_task *t) {
  hitl_buf_puts(b, "{\"taskId\":");
  hitl_buf_json_cstr(b, t->id);
  hitl_buf_printf(b, ",\"status\":\"%s\",\"statusMessage\":\"hitl task %s\"",
                  task_status(t->state), hitl_task_state_name(t->state));
  hitl__json_time_member(b, "createdAt", t->created_at);
  hitl__json_time_member(b, "lastUpdatedAt", t->updated_at ? t->updated_at : t->created_at);
  hitl_buf_printf(b, ",\"ttl\":null,\"pollInterval\":%d}", POLL_INTERVAL_MS);
}

/* The tool whose result shape a task's result takes (an ask_human task keeps its own). */
static hitl_mcp_tool tool_of(const hitl_task *t) {
  json_t *payload = t->payload ? json_loads(t->payload, 0, NULL) : NULL;
  bool asked = asked_question(payload) != NULL;
  json_decref(payload);
  return asked ? HITL_MCP_ASK_HUMAN : HITL_MCP_REQUEST_REVIEW;
}

/* Answers call with task t as its tool (or task method) answers. */
void hitl__mcp_reply_task(hitl_request *req, hitl_mcp_call *call, const hitl_task *t) {
  hitl_buf b = HITL_BUF_INIT;
  if (call->as_task) {
    hitl_buf_puts(&b, "{\"task\":");
    hitl__mcp_put_task(&b, t);
    hitl_buf_putc(&b, '}');
  } else {
    put_task_result(&b, call->tool, t, call->task_result);
  }
  hitl__mcp_reply_result(req, call, &b);
}

/* ---- waiting ------------------------------------------------------------------------------- */

/* Answers a wait that ended (decided, deadline, stop) with the task as it is now. */
void hitl__mcp_answer_waited(hitl_request *req) {
  hitl_mcp_call *call = req->state;
  hitl_task t = {0};
  hitl_err err = {0};
  if (hitl__task_read(req, call->wait.task_id, &t, NULL, NULL, &err) != 0) {
    hitl__mcp_reply_tool_error(req, call, &err);
    return;
  }
  if (call->task_result && !hitl__task_state_final(t.state))
    hitl__reply_rpc_error(req, call->id, 0, HITL_EUNAVAILABLE, NULL,
                          "task %s is still %s after %d s: call tasks/result again", t.id,
                          hitl_task_state_name(t.state), HITL_MCP_MAX_WAIT_SECONDS);
  else
    hitl__mcp_reply_task(req, call, &t);
  hitl_task_clear(&t);
}

/* Waits (the request suspended) until call's task is final or seconds pass. The caller holds a
 * wait slot. */
static void wait_for(hitl_request *req, hitl_mcp_call *call, const char *task_id, int seconds) {
  snprintf(call->wait.task_id, sizeof call->wait.task_id, "%s", task_id);
  call->wait.deadline = hitl_now_ms() + (int64_t)seconds * 1000;
  call->wait.answer = hitl__mcp_answer_waited;
  hitl__task_wait(req, &call->wait);
}

void hitl__mcp_start_wait(hitl_request *req) {
  hitl_mcp_call *call = req->state;
  hitl__task_wait(req, &call->wait);
}

/* ---- get_decision -------------------------------------------------------------------------- */

/* Reads task_id for the caller and answers it, or waits up to wait seconds when it is open. */
void hitl__mcp_answer_or_wait(hitl_request *req, hitl_mcp_call *call, const char *task_id,
                              int wait) {
  hitl_task t = {0};
  hitl_err err = {0};
  if (hitl__task_read(req, task_id, &t, NULL, NULL, &err) != 0) {
    if (call->task_result)
      hitl__reply_rpc_error(req, call->id, 0, err.code, "params.taskId", "%s", err.message);
    else
      hitl__mcp_reply_tool_error(req, call, &err);
    return;
  }
  if (call->task_result) call->tool = tool_of(&t);
  if (wait == 0 || hitl__task_state_final(t.state)) {
    hitl__mcp_reply_task(req, call, &t);
  } else if (hitl__limits_wait_begin(req)) { /* Else answered 429. */
    wait_for(req, call, t.id, wait);
  }
  hitl_task_clear(&t);
}

void hitl__mcp_get_decision(hitl_request *req, hitl_mcp_call *call, const json_t *args) {
  int wait;
  if (!hitl__mcp_wait_arg(req, call, args, &wait)) return;
  hitl__mcp_answer_or_wait(req, call, json_string_value(json_object_get(args, "task_id")), wait);
}
