/* SPDX-License-Identifier: MIT */
/* One HTTP request as the handlers see it, and the functions that answer it. */
#ifndef HITL_API_HTTP_H
#define HITL_API_HTTP_H

#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/intake.h"
#include "core/lifecycle.h"
#include "hitl/error.h"
#include "util/buf.h"

typedef struct hitl_server hitl_server;
typedef struct hitl_request hitl_request;

/* A handler answers (hitl__reply_*) or suspends the request (hitl__request_suspend) and
 * arranges for someone to answer and resume it later. */
typedef void (*hitl_handler_fn)(hitl_request *req);

/* Where a request is in its life. */
typedef enum hitl_request_phase {
  HITL_PHASE_READING = 0, /* Receiving the body. */
  HITL_PHASE_WAITING,     /* Suspended: waiting on a commit or a decision. */
  HITL_PHASE_ANSWERED,    /* The answer is ready to send. */
} hitl_request_phase;

#define HITL_MAX_PARAMS 2
#define HITL_MAX_ROLES 8
#define HITL_MAX_QUERY 8

/* The caller, as authenticated. */
typedef struct hitl_principal {
  char name[96];
  char role_buf[HITL_MAX_ROLES][24];
  const char *roles[HITL_MAX_ROLES];
  size_t n_roles;
  bool orchestrator;
} hitl_principal;

struct hitl_request {
  struct MHD_Connection *conn;
  hitl_server *server;
  const char *method;
  char *path;                       /* Owned copy of the raw (still percent-encoded) path. */
  int64_t start_us;
  const char *route_name;           /* Route pattern, for logs and metrics. */
  char *params[HITL_MAX_PARAMS];    /* Decoded path parameters, owned. */
  char *query_copies[HITL_MAX_QUERY]; /* Decoded query values handed out, owned. */
  hitl_intake intake;                /* The raw target as received (before it was split). */
  bool headers_in;                  /* The headers are in: on_request ran (and checked them). */
  const struct hitl_route_def *route; /* The route matched, or NULL. */
  hitl_buf body;
  bool body_too_large;
  size_t body_limit;
  hitl_principal who;
  hitl_actor actor;                 /* View of who for core. */

  volatile hitl_request_phase phase;
  hitl_handler_fn on_resume;        /* Called on the HTTP thread when resumed, or NULL. */

  int status;                       /* The answer. */
  hitl_buf out;
  const char *content_type;
  char location[160];               /* Extra header values, empty when unused. */
  char cookie[200];                 /* A Set-Cookie value to send, or empty. */
  char csrf[64];                    /* The session's CSRF secret when signed in by cookie. */
  char allow[48];                   /* The methods of the path, for a 405. */
  bool close;                       /* Send Connection: close (after a framing error). */
  struct MHD_Response *stream;      /* A prepared streaming response, or NULL. */
  int retry_after;                  /* Seconds for a Retry-After header (429, 503), or 0. */
  bool wait_slot;                   /* Holds one of its token's waiting slots (api/limits.h). */

  void *state;                      /* Handler-owned state, freed by state_free at the end. */
  void (*state_free)(void *state);
};

/* Answers with status and a JSON body (copied). */
void hitl__reply_json(hitl_request *req, int status, const char *json, size_t len);
/* Answers with status and the JSON text in b (taken: b is left empty). */
void hitl__reply_buf(hitl_request *req, int status, hitl_buf *b);
/* Answers with the JSON error {"error":{"code","message","field"}} for a HITL_E* code. Every
 * error leaves through this function. */
void hitl__reply_error(hitl_request *req, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* JSON-RPC 2.0 error codes (MCP speaks JSON-RPC). */
#define HITL_RPC_PARSE_ERROR -32700
#define HITL_RPC_INVALID_REQUEST -32600
#define HITL_RPC_METHOD_NOT_FOUND -32601
#define HITL_RPC_INVALID_PARAMS -32602
#define HITL_RPC_INTERNAL_ERROR -32603

/* Answers with the JSON-RPC error {"jsonrpc","id","error":{"code","message","data"}} of the
 * request id (JSON text; NULL for null) for a HITL_E* code: the renderer of the one error table
 * for JSON-RPC. rpc_code is the JSON-RPC code, or 0 to derive it from code (invalid_json:
 * -32700; validation_failed, not_found: -32602; others -32603). data holds the table's wire code,
 * HTTP status and the field. Status 400 for -32700 and -32600, else 200. */
void hitl__reply_rpc_error(hitl_request *req, const char *id, int rpc_code, int code,
                           const char *field, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Replaces in place every byte of s that is not part of well-formed UTF-8 with '?', so that
 * echoed input (a path, a key cut short by truncation) cannot make a JSON answer invalid. */
void hitl__utf8_scrub(char *s);
/* Answers with the error described by err (err->code decides the status). */
void hitl__reply_err(hitl_request *req, const hitl_err *err);
/* Answers 204 No Content. */
void hitl__reply_empty(hitl_request *req, int status);

/* Suspends the request until hitl__request_resume; call from the handler. */
void hitl__request_suspend(hitl_request *req);
/* Wakes a suspended request (any thread): on_resume runs, or the prepared answer is sent. */
void hitl__request_resume(hitl_request *req);

/* The query argument name, or NULL. */
const char *hitl__query(hitl_request *req, const char *name);
/* Reads the paging arguments: limit (1 to max; def when absent) and cursor (the next_cursor a
 * previous page gave; 0 when absent). On a bad value answers 400 naming it and returns false. */
bool hitl__query_page(hitl_request *req, long long def, long long max, long long *limit,
                      long long *cursor);
/* A header value, or NULL. */
const char *hitl__header(hitl_request *req, const char *name);

/* Parses len bytes of data as a JSON value (any type; duplicate keys and nesting deeper than 64
 * refused). Returns it (the caller owns it), or NULL with err set (HITL_EINVALID_JSON). */
json_t *hitl__json_parse(const char *data, size_t len, hitl_err *err);
/* Parses the body as a JSON value. On failure answers the request (400 invalid_json, or 413)
 * and returns NULL. The caller owns the result. */
json_t *hitl__body_json(hitl_request *req);

/* True when the caller holds role (orchestrators hold every role); otherwise answers 403 and
 * returns false. */
bool hitl__require_role(hitl_request *req, const char *role);

#endif
