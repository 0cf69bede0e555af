/* SPDX-License-Identifier: MIT */
/* POST /mcp: the Model Context Protocol over Streamable HTTP, one JSON-RPC 2.0 message a POST,
 * answered with application/json. A translator: the tools call the REST routes' own paths. */
#include "api/mcp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hitl/version.h"
#include "util/xmalloc.h"

/* The protocol versions this server speaks, newest first: every version the official TypeScript
 * SDK (@modelcontextprotocol/sdk 1.32.2, SUPPORTED_PROTOCOL_VERSIONS) negotiates. The messages
 * hitl sends are the same in each; what a version lacks (structured content before 2025-06-18,
 * tasks before 2025-11-25) its clients ignore. */
static const char *const versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05",
                                       "2024-10-07"};
#define N_VERSIONS (sizeof versions / sizeof *versions)

static bool version_known(const char *v) {
  for (size_t i = 0; i < N_VERSIONS; i++)
    if (strcmp(v, versions[i]) == 0) return true;
  return false;
}

/* True when origin (an Origin header) names the host the request was sent to (its Host header):
 * a page of another site that a browser was made to send here (DNS rebinding) is refused. */
static bool same_origin(const char *origin, const char *host) {
  if (host == NULL) return false;
  if (strncasecmp(origin, "http://", 7) == 0) origin += 7;
  else if (strncasecmp(origin, "https://", 8) == 0) origin += 8;
  else return false;
  return strcasecmp(origin, host) == 0;
}

static void call_free(void *p) {
  hitl_mcp_call *call = p;
  free(call->id);
  free(call);
}

void hitl__mcp_reply_result(hitl_request *req, const hitl_mcp_call *call, hitl_buf *result) {
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_printf(&b, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"result\":", call->id ? call->id : "null");
  hitl_buf_append(&b, result->data, result->len);
  hitl_buf_putc(&b, '}');
  hitl_buf_free(result);
  hitl__reply_buf(req, 200, &b);
}

/* initialize: agrees on the client's version when it is one of ours, else offers the newest. */
static void initialize(hitl_request *req, hitl_mcp_call *call, const json_t *params) {
  const json_t *asked = json_object_get(params, "protocolVersion");
  if (!json_is_string(asked)) {
    hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_PARAMS, HITL_EVALIDATION,
                          "params.protocolVersion",
                          "initialize needs params.protocolVersion, a string such as \"%s\"",
                          versions[0]);
    return;
  }
  const char *v = json_string_value(asked);
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"protocolVersion\":");
  hitl_buf_json_cstr(&b, version_known(v) ? v : versions[0]);
  hitl_buf_puts(&b, ",\"capabilities\":{\"tools\":{\"listChanged\":false},"
                    "\"tasks\":{\"requests\":{\"tools\":{\"call\":{}}}}},"
                    "\"serverInfo\":{\"name\":\"hitl\",\"title\":\"hitl human-in-the-loop server\","
                    "\"version\":\"" HITL_VERSION "\"},"
                    "\"instructions\":\"Ask people to review an output (request_review), read "
                    "their decision (get_decision), ask them a question (ask_human) or read what "
                    "they told your run (run_status). Decisions "
                    "can take minutes or days: pass wait_seconds to wait up to 300 s, or call "
                    "the tools as MCP tasks.\"}");
  hitl__mcp_reply_result(req, call, &b);
}

/* Answers a method this server does not have, naming those it has. */
static void unknown_method(hitl_request *req, hitl_mcp_call *call, const char *method) {
  hitl__reply_rpc_error(req, call->id, HITL_RPC_METHOD_NOT_FOUND, HITL_ENOT_FOUND, "method",
                        "method \"%.64s\" is not supported; this server answers initialize, ping, "
                        "tools/list, tools/call, tasks/get and tasks/result", method);
}

void hitl__h_mcp(hitl_request *req) {
  hitl_mcp_call *call = hitl_xcalloc(1, sizeof *call);
  req->state = call;
  req->state_free = call_free;
  json_t *msg = NULL;
  const char *origin = hitl__header(req, "Origin");
  if (origin && !same_origin(origin, hitl__header(req, "Host"))) {
    hitl__reply_rpc_error(req, NULL, HITL_RPC_INVALID_REQUEST, HITL_EFORBIDDEN, "Origin",
                          "Origin \"%.80s\" is not this server: /mcp answers programs, and pages "
                          "of this server only", origin);
    req->status = 403; /* What the transport says a foreign Origin gets. */
    return;
  }
  const char *version = hitl__header(req, "MCP-Protocol-Version");
  if (version && !version_known(version)) {
    hitl__reply_rpc_error(req, NULL, HITL_RPC_INVALID_REQUEST, HITL_EVALIDATION,
                          "MCP-Protocol-Version",
                          "MCP-Protocol-Version \"%.32s\" is not supported; use %s, %s, %s, %s "
                          "or %s", version, versions[0], versions[1], versions[2], versions[3],
                          versions[4]);
    return;
  }
  hitl_err err = {0};
  msg = hitl__json_parse(req->body.data, req->body.len, &err);
  if (msg == NULL) {
    hitl__reply_rpc_error(req, NULL, HITL_RPC_PARSE_ERROR, HITL_EINVALID_JSON, NULL, "%s",
                          err.message);
    return;
  }
  if (!json_is_object(msg)) {
    hitl__reply_rpc_error(req, NULL, HITL_RPC_INVALID_REQUEST, HITL_EVALIDATION, NULL,
                          json_is_array(msg) ? "JSON-RPC batches are not supported: send one "
                                               "message per POST"
                                             : "a JSON-RPC message is an object");
    goto done;
  }
  const json_t *id = json_object_get(msg, "id");
  if (id && (json_is_string(id) || json_is_integer(id)))
    call->id = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
  const json_t *jsonrpc = json_object_get(msg, "jsonrpc");
  if (!json_is_string(jsonrpc) || strcmp(json_string_value(jsonrpc), "2.0") != 0) {
    hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_REQUEST, HITL_EVALIDATION, "jsonrpc",
                          "a JSON-RPC message has \"jsonrpc\": \"2.0\"");
    goto done;
  }
  if (id && call->id == NULL) {
    hitl__reply_rpc_error(req, NULL, HITL_RPC_INVALID_REQUEST, HITL_EVALIDATION, "id",
                          "id must be a string or an integer (MCP allows no null id)");
    goto done;
  }
  const json_t *method = json_object_get(msg, "method");
  if (method == NULL && id &&
      (json_object_get(msg, "result") || json_object_get(msg, "error"))) {
    hitl__reply_empty(req, 202); /* A response to a request of ours: there are none to await. */
    goto done;
  }
  if (!json_is_string(method)) {
    hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_REQUEST, HITL_EVALIDATION, "method",
                          "a JSON-RPC request has a string \"method\"");
    goto done;
  }
  const char *name = json_string_value(method);
  if (id == NULL) {
    hitl__reply_empty(req, 202); /* A notification (initialized, cancelled, ...): noted. */
    goto done;
  }
  const json_t *params = json_object_get(msg, "params");
  if (params && !json_is_object(params)) {
    hitl__reply_rpc_error(req, call->id, HITL_RPC_INVALID_PARAMS, HITL_EVALIDATION, "params",
                          "params must be an object");
    goto done;
  }
  json_t *empty = NULL;
  if (params == NULL) params = empty = json_object();
  if (strcmp(name, "tools/call") == 0) {
    hitl__mcp_tools_call(req, call, params);
  } else if (strcmp(name, "initialize") == 0) {
    initialize(req, call, params);
  } else if (strcmp(name, "tools/list") == 0) {
    hitl_buf b = HITL_BUF_INIT;
    hitl__mcp_tools_list(&b);
    hitl__mcp_reply_result(req, call, &b);
  } else if (strcmp(name, "ping") == 0) {
    hitl_buf b = HITL_BUF_INIT;
    hitl_buf_puts(&b, "{}");
    hitl__mcp_reply_result(req, call, &b);
  } else if (strcmp(name, "tasks/get") == 0) {
    hitl__mcp_tasks_get(req, call, params);
  } else if (strcmp(name, "tasks/result") == 0) {
    hitl__mcp_tasks_result(req, call, params);
  } else {
    unknown_method(req, call, name);
  }
  json_decref(empty);
done:
  json_decref(msg);
}
