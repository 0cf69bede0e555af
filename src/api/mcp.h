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

#endif
