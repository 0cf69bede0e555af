/* SPDX-License-Identifier: MIT */
/* The MCP tools (request_review, get_decision, ask_human, run_status) and the MCP Tasks methods:
 * arguments checked against each tool's schema, then the REST routes' own paths and core's rules. */
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
#define ASK_QUEUE "ask_human" /* ask_human's queue when the call names none. */

/* ---- the tools' schemas -------------------------------------------------------------------- */

/* JSON types an argument may have. */
enum { T_STRING = 1, T_NUMBER = 2, T_INTEGER = 4, T_OBJECT = 8, T_ARRAY = 16, T_ANY = 31 };

typedef struct arg_spec {
  const char *name;
  int types;
  bool required;
} arg_spec;

typedef struct tool_def {
  const char *name;
  const arg_spec *args;
  size_t n_args;
  const char *usage; /* The arguments, for messages. */
  const char *json;  /* Its tools/list entry. */
} tool_def;

static const arg_spec review_args[] = {
    {"queue", T_STRING, true},     {"input", T_ANY, true},        {"output", T_ANY, false},
    {"confidence", T_NUMBER, false}, {"context", T_ANY, false},   {"metadata", T_OBJECT, false},
    {"run_id", T_STRING, false},   {"wait_seconds", T_INTEGER, false},
};
static const arg_spec decision_args[] = {
    {"task_id", T_STRING, true},
    {"wait_seconds", T_INTEGER, false},
};
static const arg_spec run_args[] = {
    {"run_id", T_STRING, true},
};
static const arg_spec ask_args[] = {
    {"question", T_STRING, true},
    {"queue", T_STRING, false},
    {"choices", T_ARRAY, false},
    {"wait_seconds", T_INTEGER, false},
};

#define WAIT_SCHEMA                                                                              \
  "\"wait_seconds\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":300,\"default\":0,"          \
  "\"description\":\"Seconds to wait for people to decide before answering (0: answer at "     \
  "once).\"}"
#define TASK_OUTPUT_SCHEMA                                                                       \
  "\"outputSchema\":{\"type\":\"object\",\"properties\":{\"task_id\":{\"type\":\"string\"},"     \
  "\"queue\":{\"type\":\"string\"},\"state\":{\"type\":\"string\",\"enum\":[\"pending\","       \
  "\"leased\",\"decided\",\"expired\",\"cancelled\"]},\"route\":{\"type\":[\"object\","         \
  "\"null\"]},\"decision\":{\"type\":[\"object\",\"null\"]}},\"required\":[\"task_id\","        \
  "\"queue\",\"state\",\"route\",\"decision\"]}"

static const tool_def tools[] = {
    [HITL_MCP_REQUEST_REVIEW] =
        {"request_review", review_args, sizeof review_args / sizeof *review_args,
         "queue, input, output, confidence, context, metadata, run_id, wait_seconds",
         "{\"name\":\"request_review\",\"title\":\"Request a human review\",\"description\":"
         "\"Submits an output for review to a hitl queue. The queue's policy may decide at once "
         "(accept or reject); otherwise people review it. Waits up to wait_seconds for the "
         "decision and returns the task's id, state, route and decision.\","
         "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
         "\"queue\":{\"type\":\"string\",\"description\":\"The queue's name.\"},"
         "\"input\":{\"description\":\"The item to decide (any JSON).\"},"
         "\"output\":{\"description\":\"The automation's output, for people to review.\"},"
         "\"confidence\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1},"
         "\"context\":{\"description\":\"Evidence for the reviewer.\"},"
         "\"metadata\":{\"type\":\"object\"},"
         "\"run_id\":{\"type\":\"string\",\"description\":\"The agent run it belongs to.\"},"
         WAIT_SCHEMA "},\"required\":[\"queue\",\"input\"],\"additionalProperties\":false},"
         TASK_OUTPUT_SCHEMA ",\"execution\":{\"taskSupport\":\"optional\"}}"},
    [HITL_MCP_GET_DECISION] =
        {"get_decision", decision_args, sizeof decision_args / sizeof *decision_args,
         "task_id, wait_seconds",
         "{\"name\":\"get_decision\",\"title\":\"Get a review's decision\",\"description\":"
         "\"Returns a task's state and decision, waiting up to wait_seconds for people to "
         "decide.\",\"inputSchema\":{\"type\":\"object\",\"properties\":{"
         "\"task_id\":{\"type\":\"string\",\"description\":\"The task_id request_review gave.\"},"
         WAIT_SCHEMA "},\"required\":[\"task_id\"],\"additionalProperties\":false},"
         TASK_OUTPUT_SCHEMA "}"},
    [HITL_MCP_ASK_HUMAN] =
        {"ask_human", ask_args, sizeof ask_args / sizeof *ask_args,
         "question, queue, choices, wait_seconds",
         "{\"name\":\"ask_human\",\"title\":\"Ask a person\",\"description\":\"Asks a person a "
         "free-text question, or a multiple-choice one with choices (labels of the queue's "
         "label question). The queue (default \\\"" ASK_QUEUE "\\\") needs a text or label "
         "question. Waits up to wait_seconds and returns the answer (null while unanswered).\","
         "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
         "\"question\":{\"type\":\"string\"},"
         "\"queue\":{\"type\":\"string\",\"default\":\"" ASK_QUEUE "\"},"
         "\"choices\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":1},"
         WAIT_SCHEMA "},\"required\":[\"question\"],\"additionalProperties\":false},"
         "\"outputSchema\":{\"type\":\"object\",\"properties\":{\"task_id\":{\"type\":\"string\"},"
         "\"queue\":{\"type\":\"string\"},\"state\":{\"type\":\"string\"},"
         "\"question\":{\"type\":[\"string\",\"null\"]},\"answer\":{},"
         "\"decision\":{\"type\":[\"object\",\"null\"]}},\"required\":[\"task_id\",\"queue\","
         "\"state\",\"answer\",\"decision\"]},\"execution\":{\"taskSupport\":\"optional\"}}"},
    [HITL_MCP_RUN_STATUS] =
        {"run_status", run_args, sizeof run_args / sizeof *run_args, "run_id",
         "{\"name\":\"run_status\",\"title\":\"Read an agent run's state and commands\","
         "\"description\":\"Returns the state of an agent run registered with POST /v1/runs "
         "(running, paused, waiting, stopped, finished, lost) and the commands people gave it "
         "that it has not acknowledged yet (pause, resume, stop, goal), oldest first. Only the "
         "token that registered the run may read it.\",\"inputSchema\":{\"type\":\"object\","
         "\"properties\":{\"run_id\":{\"type\":\"string\",\"description\":\"The run's id.\"}},"
         "\"required\":[\"run_id\"],\"additionalProperties\":false},"
         "\"outputSchema\":{\"type\":\"object\",\"properties\":{\"run\":{\"type\":\"object\"},"
         "\"pending_commands\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}}},"
         "\"required\":[\"run\",\"pending_commands\"]}}"},
};
#define N_TOOLS (sizeof tools / sizeof *tools)

void hitl__mcp_tools_list(hitl_buf *b) {
  hitl_buf_puts(b, "{\"tools\":[");
  for (size_t i = 0; i < N_TOOLS; i++) {
    if (i) hitl_buf_putc(b, ',');
    hitl_buf_puts(b, tools[i].json);
  }
  hitl_buf_puts(b, "]}");
}

static bool type_fits(const json_t *v, int types) {
  if (types == T_ANY) return true;
  if ((types & T_STRING) && json_is_string(v)) return true;
  if ((types & T_NUMBER) && json_is_number(v)) return true;
  if ((types & T_INTEGER) && json_is_integer(v)) return true;
  if ((types & T_OBJECT) && json_is_object(v)) return true;
  return (types & T_ARRAY) && json_is_array(v);
}

static const char *type_name(int types) {
  switch (types) {
  case T_STRING: return "a string";
  case T_NUMBER: return "a number";
  case T_INTEGER: return "an integer";
  case T_OBJECT: return "an object";
  default: return "an array";
  }
}

/* Checks args against the tool's schema: every required argument present (null counts as
 * absent for the optional ones), no unknown one, each of its type. Answers -32602 and returns
 * false on the first that fails. */
static bool check_args(hitl_request *req, hitl_mcp_call *call, const tool_def *t,
                       const json_t *args) {
  const char *key;
  const json_t *v;
  char field[96];
  json_object_foreach((json_t *)args, key, v) {
    const arg_spec *a = NULL;
    for (size_t i = 0; i < t->n_args && a == NULL; i++)
      if (strcmp(t->args[i].name, key) == 0) a = &t->args[i];
    snprintf(field, sizeof field, "arguments.%.64s", key);
    if (a == NULL) {
      hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_PARAMS, HITL_EVALIDATION, field,
                            "unknown argument \"%.64s\"; %s takes %s", key, t->name, t->usage);
      return false;
    }
    if (json_is_null(v) && !a->required) continue;
    if (!type_fits(v, a->types)) {
      hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_PARAMS, HITL_EVALIDATION, field,
                            "argument %s of %s must be %s", key, t->name, type_name(a->types));
      return false;
    }
  }
  for (size_t i = 0; i < t->n_args; i++) {
    if (!t->args[i].required || json_object_get(args, t->args[i].name)) continue;
    snprintf(field, sizeof field, "arguments.%s", t->args[i].name);
    hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_PARAMS, HITL_EVALIDATION, field,
                          "%s needs the argument %s (it takes %s)", t->name, t->args[i].name,
                          t->usage);
    return false;
  }
  return true;
}

/* Reads wait_seconds (0 to HITL_MCP_MAX_WAIT_SECONDS) into *out; answers -32602 when out of
 * range. */
static bool wait_arg(hitl_request *req, hitl_mcp_call *call, const json_t *args, int *out) {
  const json_t *v = json_object_get(args, "wait_seconds");
  *out = 0;
  if (v == NULL || json_is_null(v)) return true;
  json_int_t s = json_integer_value(v);
  if (s < 0 || s > HITL_MCP_MAX_WAIT_SECONDS) {
    hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_PARAMS, HITL_EVALIDATION,
                          "arguments.wait_seconds", "wait_seconds must be from 0 to %d",
                          HITL_MCP_MAX_WAIT_SECONDS);
    return false;
  }
  *out = (int)s;
  return true;
}

/* ---- results ------------------------------------------------------------------------------- */

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
static void reply_tool_error(hitl_request *req, hitl_mcp_call *call, const hitl_err *err) {
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
static void put_task(hitl_buf *b, const hitl_task *t) {
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
static void reply_task(hitl_request *req, hitl_mcp_call *call, const hitl_task *t) {
  hitl_buf b = HITL_BUF_INIT;
  if (call->as_task) {
    hitl_buf_puts(&b, "{\"task\":");
    put_task(&b, t);
    hitl_buf_putc(&b, '}');
  } else {
    put_task_result(&b, call->tool, t, call->task_result);
  }
  hitl__mcp_reply_result(req, call, &b);
}

/* ---- waiting ------------------------------------------------------------------------------- */

/* Answers a wait that ended (decided, deadline, stop) with the task as it is now. */
static void answer_waited(hitl_request *req) {
  hitl_mcp_call *call = req->state;
  hitl_task t = {0};
  hitl_err err = {0};
  if (hitl__task_read(req, call->wait.task_id, &t, NULL, NULL, &err) != 0) {
    reply_tool_error(req, call, &err);
    return;
  }
  if (call->task_result && !hitl__task_state_final(t.state))
    hitl__reply_rpc_error(req, call->id, 0, HITL_EUNAVAILABLE, NULL,
                          "task %s is still %s after %d s: call tasks/result again", t.id,
                          hitl_task_state_name(t.state), HITL_MCP_MAX_WAIT_SECONDS);
  else
    reply_task(req, call, &t);
  hitl_task_clear(&t);
}

/* Waits (the request suspended) until call's task is final or seconds pass. The caller holds a
 * wait slot. */
static void wait_for(hitl_request *req, hitl_mcp_call *call, const char *task_id, int seconds) {
  snprintf(call->wait.task_id, sizeof call->wait.task_id, "%s", task_id);
  call->wait.deadline = hitl_now_ms() + (int64_t)seconds * 1000;
  call->wait.answer = answer_waited;
  hitl__task_wait(req, &call->wait);
}

static void start_wait(hitl_request *req) {
  hitl_mcp_call *call = req->state;
  hitl__task_wait(req, &call->wait);
}

/* ---- request_review and ask_human: a submission ------------------------------------------- */

/* Told the outcome of a submission (any thread: does not block). */
static void submitted(hitl_request *req, void *ctx, int rc, const hitl_err *err,
                      const hitl_task *t) {
  hitl_mcp_call *call = ctx;
  if (rc) {
    reply_tool_error(req, call, err);
  } else if (call->as_task || hitl__task_state_final(t->state) || call->wait.deadline == 0) {
    reply_task(req, call, t);
  } else {
    /* Undecided and asked to wait: the wait begins on an HTTP thread. */
    snprintf(call->wait.task_id, sizeof call->wait.task_id, "%s", t->id);
    call->wait.answer = answer_waited;
    req->on_resume = start_wait;
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

static void request_review(hitl_request *req, hitl_mcp_call *call, const json_t *args) {
  int wait;
  if (!wait_arg(req, call, args, &wait)) return;
  hitl_err err = {0};
  hitl_queue_ref *q = submit_queue(req, json_string_value(json_object_get(args, "queue")), &err);
  if (q == NULL) {
    reply_tool_error(req, call, &err);
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

static void ask_human(hitl_request *req, hitl_mcp_call *call, const json_t *args) {
  int wait;
  if (!wait_arg(req, call, args, &wait)) return;
  const json_t *choices = json_object_get(args, "choices");
  if (json_is_null(choices)) choices = NULL;
  const json_t *queue = json_object_get(args, "queue");
  const char *name = json_is_string(queue) ? json_string_value(queue) : ASK_QUEUE;
  hitl_err err = {0};
  hitl_queue_ref *q = submit_queue(req, name, &err);
  const hitl_question *question = q ? ask_question(q, choices, &err) : NULL;
  if (question == NULL) {
    hitl__queue_ref_release(q);
    reply_tool_error(req, call, &err);
    return;
  }
  json_t *input =
      json_pack("{ss}", "question", json_string_value(json_object_get(args, "question")));
  if (choices) json_object_set_new(input, "choices", json_deep_copy(choices));
  json_t *body = json_pack("{so s{ssss}}", "input", input, "metadata", "mcp_tool", "ask_human",
                           "question", question->name);
  submit(req, call, q, body, wait);
}

/* ---- get_decision -------------------------------------------------------------------------- */

/* Reads task_id for the caller and answers it, or waits up to wait seconds when it is open. */
static void answer_or_wait(hitl_request *req, hitl_mcp_call *call, const char *task_id, int wait) {
  hitl_task t = {0};
  hitl_err err = {0};
  if (hitl__task_read(req, task_id, &t, NULL, NULL, &err) != 0) {
    if (call->task_result)
      hitl__reply_rpc_error(req, call->id, 0, err.code, "params.taskId", "%s", err.message);
    else
      reply_tool_error(req, call, &err);
    return;
  }
  if (call->task_result) call->tool = tool_of(&t);
  if (wait == 0 || hitl__task_state_final(t.state)) {
    reply_task(req, call, &t);
  } else if (hitl__limits_wait_begin(req)) { /* Else answered 429. */
    wait_for(req, call, t.id, wait);
  }
  hitl_task_clear(&t);
}

static void get_decision(hitl_request *req, hitl_mcp_call *call, const json_t *args) {
  int wait;
  if (!wait_arg(req, call, args, &wait)) return;
  answer_or_wait(req, call, json_string_value(json_object_get(args, "task_id")), wait);
}

/* ---- run_status ---------------------------------------------------------------------------- */

static void run_status(hitl_request *req, hitl_mcp_call *call, const json_t *args) {
  hitl_store *st = hitl__server_reader(req->server);
  hitl_run run = {0};
  hitl_run_command *pending = NULL;
  size_t n = 0;
  hitl_err err = {0};
  int rc = st ? hitl_run_status(st, json_string_value(json_object_get(args, "run_id")),
                                &req->actor, &run, &pending, &n, &err)
              : hitl_err_set(&err, HITL_EUNAVAILABLE, NULL, "the database is not available");
  if (rc) {
    reply_tool_error(req, call, &err);
    return;
  }
  hitl_buf b = HITL_BUF_INIT, text = HITL_BUF_INIT;
  const char *state = hitl_run_state_name(hitl_run_shown_state(&run));
  hitl_buf_printf(&text, "run %s of agent %s is %s", run.id, run.agent, state);
  hitl_buf_puts(&b, "{\"structuredContent\":{\"run\":");
  hitl__run_to_json(&b, &run);
  hitl_buf_puts(&b, ",\"pending_commands\":[");
  for (size_t i = 0; i < n; i++) {
    if (i) hitl_buf_putc(&b, ',');
    hitl__run_command_to_json(&b, &pending[i]);
    hitl_buf_printf(&text, "%s%s", i ? ", " : "; commands to acknowledge: ",
                    hitl_run_command_name(pending[i].type));
    if (pending[i].type == HITL_RUN_GOAL && pending[i].goal)
      hitl_buf_printf(&text, " (%s)", pending[i].goal);
  }
  hitl__utf8_scrub(text.data);
  hitl_buf_puts(&b, "]},\"content\":[{\"type\":\"text\",\"text\":");
  hitl_buf_json_cstr(&b, hitl_buf_cstr(&text));
  hitl_buf_puts(&b, "}],\"isError\":false}");
  hitl__mcp_reply_result(req, call, &b);
  hitl_buf_free(&text);
  for (size_t i = 0; i < n; i++) hitl_run_command_clear(&pending[i]);
  free(pending);
  hitl_run_clear(&run);
}

/* ---- tools/call and the task methods ------------------------------------------------------- */

void hitl__mcp_tools_call(hitl_request *req, hitl_mcp_call *call, const json_t *params) {
  const json_t *name = json_object_get(params, "name");
  if (!json_is_string(name)) {
    hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_PARAMS, HITL_EVALIDATION, "params.name",
                          "tools/call needs params.name, the tool: request_review, get_decision, "
                          "ask_human or run_status");
    return;
  }
  size_t i = 0;
  while (i < N_TOOLS && strcmp(tools[i].name, json_string_value(name)) != 0) i++;
  if (i == N_TOOLS) {
    hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_PARAMS, HITL_ENOT_FOUND, "params.name",
                          "unknown tool \"%.64s\"; the tools are request_review, get_decision, "
                          "ask_human and run_status", json_string_value(name));
    return;
  }
  const json_t *args = json_object_get(params, "arguments");
  json_t *empty = NULL;
  if (args == NULL || json_is_null(args)) args = empty = json_object();
  if (!json_is_object(args)) {
    hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_PARAMS, HITL_EVALIDATION,
                          "params.arguments", "params.arguments must be an object");
    return;
  }
  const json_t *task = json_object_get(params, "task");
  call->tool = (hitl_mcp_tool)i;
  if (task && !json_is_null(task)) {
    if (!json_is_object(task)) {
      hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_PARAMS, HITL_EVALIDATION,
                            "params.task", "params.task must be an object ({\"ttl\": ms} or {})");
      json_decref(empty);
      return;
    }
    if (call->tool == HITL_MCP_GET_DECISION || call->tool == HITL_MCP_RUN_STATUS) {
      hitl__reply_rpc_error(req, call->id, HITL_RPC_METHOD_NOT_FOUND, HITL_EVALIDATION,
                            "params.task", "%s does not run as a task: call it as a plain tool",
                            tools[call->tool].name);
      json_decref(empty);
      return;
    }
    call->as_task = true;
  }
  if (check_args(req, call, &tools[i], args)) {
    switch (call->tool) {
    case HITL_MCP_REQUEST_REVIEW: request_review(req, call, args); break;
    case HITL_MCP_GET_DECISION: get_decision(req, call, args); break;
    case HITL_MCP_ASK_HUMAN: ask_human(req, call, args); break;
    case HITL_MCP_RUN_STATUS: run_status(req, call, args); break;
    }
  }
  json_decref(empty);
}

/* Reads params.taskId; answers -32602 when it is missing. */
static const char *task_id_param(hitl_request *req, hitl_mcp_call *call, const json_t *params) {
  const json_t *id = json_object_get(params, "taskId");
  if (json_is_string(id)) return json_string_value(id);
  hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_PARAMS, HITL_EVALIDATION, "params.taskId",
                        "params.taskId must be the taskId that tools/call gave");
  return NULL;
}

void hitl__mcp_tasks_get(hitl_request *req, hitl_mcp_call *call, const json_t *params) {
  const char *id = task_id_param(req, call, params);
  if (id == NULL) return;
  hitl_task t = {0};
  hitl_err err = {0};
  if (hitl__task_read(req, id, &t, NULL, NULL, &err) != 0) {
    hitl__reply_rpc_error(req, call->id, 0, err.code, "params.taskId", "%s", err.message);
    return;
  }
  hitl_buf b = HITL_BUF_INIT;
  put_task(&b, &t);
  hitl__mcp_reply_result(req, call, &b);
  hitl_task_clear(&t);
}

void hitl__mcp_tasks_result(hitl_request *req, hitl_mcp_call *call, const json_t *params) {
  const char *id = task_id_param(req, call, params);
  if (id == NULL) return;
  call->task_result = true;
  answer_or_wait(req, call, id, HITL_MCP_MAX_WAIT_SECONDS);
}
