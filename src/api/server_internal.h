/* SPDX-License-Identifier: MIT */
/* The server's parts, for the resource handlers of api/. */
#ifndef HITL_API_SERVER_INTERNAL_H
#define HITL_API_SERVER_INTERNAL_H

#include <pthread.h>

#include "api/auth.h"
#include "api/commit.h"
#include "api/http.h"
#include "api/limits.h"
#include "api/metrics.h"
#include "api/registry.h"
#include "api/server.h"
#include "api/waiters.h"
#include "api/webhooks.h"

struct hitl_server {
  hitl_server_config cfg;
  char *db;
  char *admin_token;
  struct MHD_Daemon *mhd;
  int port;
  hitl_committer *committer;
  struct hitl_heartbeats *heartbeats; /* Heartbeats answered, not yet stored (api/heartbeats.h). */
  struct hitl_policy_pool *policy_pool; /* Routes submitted tasks off the HTTP threads. */
  hitl_webhooks *webhooks;
  struct hitl_feed *feed;       /* Other servers' changes (PostgreSQL); NULL on SQLite. */
  struct hitl_run_cache *run_cache; /* Live runs for heartbeats (api/run_cache.h); NULL where
                                     * other servers write the database too. */
  hitl_waiters *waiters;
  hitl_registry *registry;
  hitl_auth *auth;
  hitl_limits *limits;      /* Connections, request rates and waits (api/limits.h). */
  char *tls_cert, *tls_key; /* PEM text given to libmicrohttpd when TLS is on, else NULL. */
  struct hitl_sessions *sessions;
  struct hitl_series *series;   /* Queue counts over time, for the dashboard. */
  struct hitl_calib_set *calib; /* Per-queue calibration state (api/calib.h). */
  hitl_metrics metrics;
  bool stopping;            /* Set (atomically) when hitl_server_stop begins. */
  pthread_key_t reader_key; /* Each HTTP thread's own read handle on the store. */
  pthread_mutex_t readers_lock;
  hitl_store **readers;     /* Every read handle opened, closed at stop. */
  size_t n_readers, cap_readers;
  pthread_mutex_t inflight_lock;
  pthread_cond_t inflight_done; /* Signalled when the last request in flight completes. */
  size_t inflight;              /* Requests begun and not yet completed: stop lets them finish. */
};

/* The calling thread's read handle on the store (opened on first use); NULL when the store
 * cannot be opened (then the request was answered 503). */
hitl_store *hitl__reader(hitl_request *req);
/* The same without a request to answer: NULL when the store cannot be opened. */
hitl_store *hitl__server_reader(hitl_server *s);

/* Who may call a route; dispatch checks it on the headers, before any body is read. Zero is
 * the safe default: a row that forgets to say is not public. */
typedef enum hitl_route_access {
  HITL_ACCESS_TOKEN = 0, /* Any valid token or session. */
  HITL_ACCESS_ROLE,      /* A valid token holding the row's role (orchestrators hold every role). */
  HITL_ACCESS_PUBLIC,    /* No token needed. */
} hitl_route_access;

/* How large a body a route reads. */
typedef enum hitl_route_body {
  HITL_BODY_NONE = 0, /* None: a declared body is refused with 413. */
  HITL_BODY_NORMAL,   /* Up to the server's max_body. */
  HITL_BODY_BULK,     /* Up to HITL_BULK_BODY_FACTOR times max_body (batch submission, imports). */
} hitl_route_body;

#define HITL_BULK_BODY_FACTOR 16

/* One row of the route table: what it matches, who may call it, how large a body it reads.
 * Finer rules (a queue's reviewer roles, the submitter of a task) stay in the handlers. */
typedef struct hitl_route_def {
  const char *method;
  const char *pattern;  /* "/v1/queues/{}/tasks": {} matches one path segment. */
  /* The rules come before the handler, so that a row written for the old layout ({method,
   * pattern, handler, public, batch}) does not compile. */
  hitl_route_access access;
  const char *role;     /* For HITL_ACCESS_ROLE: the role needed; NULL otherwise. */
  hitl_route_body body;
  hitl_handler_fn handler;
} hitl_route_def;

/* The route table and, in *n, its length: for tests that must cover every route. The table is
 * static: valid for the life of the program. */
const hitl_route_def *hitl__routes(size_t *n);
/* The largest body route r reads, in bytes, on a server whose limit is max_body. */
size_t hitl__route_body_limit(const hitl_route_def *r, size_t max_body);

/* Percent-decodes n bytes of a path segment or query value into a malloc'd string; NULL on a
 * broken escape or an encoded NUL. '+' stays '+'. */
char *hitl__percent_decode(const char *s, size_t n);

/* Finds the route for method and path (HEAD finds the GET route); fills params (decoded,
 * malloc'd) and returns it, or NULL with *status 404 (no path), 405 (path known, method not) or
 * 400 (a broken escape in a parameter). */
const hitl_route_def *hitl__route_match(const char *method, const char *path,
                                        char *params[HITL_MAX_PARAMS], int *status);
/* Writes the methods the route table has for path into out ("GET, HEAD, PUT"; empty when none). */
void hitl__route_allow(const char *path, char *out, size_t n);

/* Handlers, one file per resource. */
void hitl__h_healthz(hitl_request *req);
void hitl__h_metrics(hitl_request *req);
void hitl__h_queue_put(hitl_request *req);
void hitl__h_queue_get(hitl_request *req);
void hitl__h_queue_calibration(hitl_request *req);
void hitl__h_queue_list(hitl_request *req);
void hitl__h_task_submit(hitl_request *req);
void hitl__h_task_batch(hitl_request *req);
void hitl__h_task_list(hitl_request *req);
void hitl__h_task_get(hitl_request *req);
void hitl__h_claim(hitl_request *req);
void hitl__h_respond(hitl_request *req);
void hitl__h_release(hitl_request *req);
void hitl__h_renew(hitl_request *req);
void hitl__h_me(hitl_request *req);
void hitl__h_me_responses(hitl_request *req);
void hitl__h_stats(hitl_request *req);
void hitl__h_cancel(hitl_request *req);
void hitl__h_events(hitl_request *req);
/* Appends an event as the API shows it: seq, at, type, queue, task_id, actor, data, hashes. */
void hitl__event_to_json(hitl_buf *b, const hitl_event *e);
void hitl__h_events_stream(hitl_request *req);

/* Loads what a Server-Sent Events stream has after *after into out as frames ("id: ...\n
 * event: ...\ndata: ...\n\n"), moving *after: returns how many (0: none yet, the stream waits
 * for the next commit that wakes its key), or < 0 when the stream is over. Runs on an HTTP thread;
 * st is its read handle. */
typedef int (*hitl_sse_load_fn)(void *ctx, hitl_store *st, int64_t *after, hitl_buf *out);
/* Answers req with an SSE stream (api/stream.c): frames from load after `after`, waiting under
 * the waiters key between commits, keep-alive comments, ending when the token is revoked or the
 * server stops. ctx is freed with ctx_free (may be NULL) when the stream ends. The caller took
 * the request's wait slot (hitl__limits_wait_begin). */
void hitl__sse_begin(hitl_request *req, const char *key, int64_t after, hitl_sse_load_fn load,
                     void *ctx, void (*ctx_free)(void *ctx));

/* The waiters key under which event streams wait for the next commit (task ids start "t_"). */
#define HITL_EVENTS_KEY "events"
void hitl__h_webhook_deliveries(hitl_request *req);
void hitl__h_webhook_redeliver(hitl_request *req);
void hitl__h_token_create(hitl_request *req);
void hitl__h_token_revoke(hitl_request *req);
void hitl__h_token_list(hitl_request *req);
void hitl__h_export(hitl_request *req);
void hitl__h_import(hitl_request *req);
void hitl__h_session_create(hitl_request *req);
void hitl__h_session_get(hitl_request *req);
void hitl__h_session_delete(hitl_request *req);
/* Agent runs (api/runs.c). */
void hitl__h_run_create(hitl_request *req);
void hitl__h_run_list(hitl_request *req);
void hitl__h_run_get(hitl_request *req);
void hitl__h_run_heartbeat(hitl_request *req);
void hitl__h_run_step(hitl_request *req);
void hitl__h_run_command(hitl_request *req);
void hitl__h_run_commands(hitl_request *req);
void hitl__h_run_ack(hitl_request *req);
/* POST /mcp: the Model Context Protocol server (api/mcp.c). */
void hitl__h_mcp(hitl_request *req);
/* The embedded web UI: "/" and "/assets/..." (checked before the route table). */
bool hitl__is_static_path(const char *path);
void hitl__h_static(hitl_request *req);

#endif
