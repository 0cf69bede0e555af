/* SPDX-License-Identifier: MIT */
/* The MCP server's parts: the JSON-RPC call in progress, and the tools that api/mcp.c calls. */
#ifndef HITL_API_MCP_H
#define HITL_API_MCP_H

#include <jansson.h>
#include <stdbool.h>

#include "api/http.h"
#include "api/task_read.h"

/* The tools, in the order tools/list gives them. */
typedef enum hitl_mcp_tool {
  HITL_MCP_REQUEST_REVIEW = 0,
  HITL_MCP_GET_DECISION,
  HITL_MCP_ASK_HUMAN,
  HITL_MCP_RUN_STATUS,
} hitl_mcp_tool;

/* Most seconds a tool waits for people (wait_seconds), and tasks/result for a task to end. */
#define HITL_MCP_MAX_WAIT_SECONDS 300
#define HITL_MCP_ASK_QUEUE "ask_human" /* ask_human's queue when the call names none. */

/* One JSON-RPC request in progress: the request's state (req->state) from parse to answer. */
typedef struct hitl_mcp_call {
  hitl_task_wait wait;  /* First: a long-poll finds it at req->state (api/task_read.h). */
  char *id;             /* The request's id as JSON text, malloc'd. */
  hitl_mcp_tool tool;   /* The tool called, for the shape of its result. */
  bool as_task;         /* Called as an MCP task: answered with the task's handle. */
  bool task_result;     /* tasks/result: the tool result carries the related-task _meta. */
} hitl_mcp_call;

/* Answers call's request with the JSON-RPC result whose JSON text is in result (taken). */
void hitl__mcp_reply_result(hitl_request *req, const hitl_mcp_call *call, hitl_buf *result);

/* Appends the result of tools/list: every tool with its input and output JSON Schema. */
void hitl__mcp_tools_list(hitl_buf *b);
/* tools/call with params (an object): checks the arguments against the tool's schema (-32602
 * naming the argument at fault), then answers the tool's result or suspends the request until
 * it can. A failure of the tool itself is a result with isError, as MCP has it. */
void hitl__mcp_tools_call(hitl_request *req, hitl_mcp_call *call, const json_t *params);
/* tasks/get and tasks/result of the MCP Tasks utility; an MCP task id is the hitl task id. */
void hitl__mcp_tasks_get(hitl_request *req, hitl_mcp_call *call, const json_t *params);
void hitl__mcp_tasks_result(hitl_request *req, hitl_mcp_call *call, const json_t *params);

/* The tools' parts shared across their files (mcp_tools.c, mcp_result.c, mcp_submit.c). */
/* Reads arguments.wait_seconds (0 to HITL_MCP_MAX_WAIT_SECONDS; absent: 0) into *out; false when
 * it is out of range, the request then answered -32602 (mcp_tools.c). */
bool hitl__mcp_wait_arg(hitl_request *req, hitl_mcp_call *call, const json_t *args, int *out);
/* Answers with a tool failure: a wrong argument (HITL_EVALIDATION) is the caller's -32602;
 * anything else is a result with isError (mcp_result.c). */
void hitl__mcp_reply_tool_error(hitl_request *req, hitl_mcp_call *call, const hitl_err *err);
/* Appends t as an MCP task (its taskId, status and poll interval) (mcp_result.c). */
void hitl__mcp_put_task(hitl_buf *b, const hitl_task *t);
/* Answers call with t: the MCP task when call runs as one, else the tool's result
 * (mcp_result.c). */
void hitl__mcp_reply_task(hitl_request *req, hitl_mcp_call *call, const hitl_task *t);
/* The wait's answer (hitl_task_wait.answer): call's task as it is now (mcp_result.c). */
void hitl__mcp_answer_waited(hitl_request *req);
/* The request's on_resume: starts the wait in req->state's call (mcp_result.c). */
void hitl__mcp_start_wait(hitl_request *req);
/* Reads task_id for the caller and answers it, or waits up to wait seconds while it is open
 * (mcp_result.c). */
void hitl__mcp_answer_or_wait(hitl_request *req, hitl_mcp_call *call, const char *task_id,
                              int wait);
/* The tools, with their arguments checked against the schema: get_decision (mcp_result.c),
 * request_review and ask_human (mcp_submit.c). */
void hitl__mcp_get_decision(hitl_request *req, hitl_mcp_call *call, const json_t *args);
void hitl__mcp_request_review(hitl_request *req, hitl_mcp_call *call, const json_t *args);
void hitl__mcp_ask_human(hitl_request *req, hitl_mcp_call *call, const json_t *args);

#endif
