/* SPDX-License-Identifier: MIT */
/* The MCP tools (request_review, get_decision, ask_human, run_status) and the MCP Tasks methods:
 * arguments checked against each tool's schema, then the REST routes' own paths and core's rules
 * (tool results and get_decision in mcp_result.c, the submitting tools in mcp_submit.c). */
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
         "label question). The queue (default \\\"" HITL_MCP_ASK_QUEUE "\\\") needs a text or "
         "label question. Waits up to wait_seconds and returns the answer (null while "
         "unanswered).\","
         "\"inputSchema\":{\"type\":\"object\",\"properties\":{"
         "\"question\":{\"type\":\"string\"},"
         "\"queue\":{\"type\":\"string\",\"default\":\"" HITL_MCP_ASK_QUEUE "\"},"
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
bool hitl__mcp_wait_arg(hitl_request *req, hitl_mcp_call *call, const json_t *args,
                        int *out) {
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
    hitl__mcp_reply_tool_error(req, call, &err);
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
    case HITL_MCP_REQUEST_REVIEW: hitl__mcp_request_review(req, call, args); break;
    case HITL_MCP_GET_DECISION: hitl__mcp_get_decision(req, call, args); break;
    case HITL_MCP_ASK_HUMAN: hitl__mcp_ask_human(req, call, args); break;
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
  hitl__mcp_put_task(&b, &t);
  hitl__mcp_reply_result(req, call, &b);
  hitl_task_clear(&t);
}

void hitl__mcp_tasks_result(hitl_request *req, hitl_mcp_call *call, const json_t *params) {
  const char *id = task_id_param(req, call, params);
  if (id == NULL) return;
  call->task_result = true;
  hitl__mcp_answer_or_wait(req, call, id, HITL_MCP_MAX_WAIT_SECONDS);
}
