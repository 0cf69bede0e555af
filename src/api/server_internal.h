/* SPDX-License-Identifier: MIT */
/* The server's parts, for the resource handlers of api/. */
#ifndef HITL_API_SERVER_INTERNAL_H
#define HITL_API_SERVER_INTERNAL_H

#include <pthread.h>

#include "api/auth.h"
#include "api/commit.h"
#include "api/http.h"
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
  hitl_webhooks *webhooks;
  struct hitl_feed *feed;       /* Other servers' changes (PostgreSQL); NULL on SQLite. */
  hitl_waiters *waiters;
  hitl_registry *registry;
  hitl_auth *auth;
  struct hitl_sessions *sessions;
  struct hitl_series *series;   /* Queue counts over time, for the dashboard. */
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

/* One row of the route table. */
typedef struct hitl_route_def {
  const char *method;
  const char *pattern;  /* "/v1/queues/{}/tasks": {} matches one path segment. */
  hitl_handler_fn handler;
  bool public_route;    /* No token needed. */
  bool batch_body;      /* Body limit is 16 times the normal one. */
} hitl_route_def;

/* Percent-decodes n bytes of a path segment or query value into a malloc'd string; NULL on a
 * broken escape or an encoded NUL. '+' stays '+'. */
char *hitl__percent_decode(const char *s, size_t n);

/* Finds the route for method and path; fills params (decoded, malloc'd) and returns it, or
 * NULL with *status 404 (no path) or 405 (path known, method not). */
const hitl_route_def *hitl__route_match(const char *method, const char *path,
                                        char *params[HITL_MAX_PARAMS], int *status);
/* Writes the methods the route table has for path into out ("GET, PUT"; empty when none). */
void hitl__route_allow(const char *path, char *out, size_t n);

/* Handlers, one file per resource. */
void hitl__h_healthz(hitl_request *req);
void hitl__h_metrics(hitl_request *req);
void hitl__h_queue_put(hitl_request *req);
void hitl__h_queue_get(hitl_request *req);
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

/* The waiters key under which event streams wait for the next commit (task ids start "t_"). */
#define HITL_EVENTS_KEY "events"
void hitl__h_webhook_deliveries(hitl_request *req);
void hitl__h_token_create(hitl_request *req);
void hitl__h_token_revoke(hitl_request *req);
void hitl__h_token_list(hitl_request *req);
void hitl__h_export(hitl_request *req);
void hitl__h_session_create(hitl_request *req);
void hitl__h_session_get(hitl_request *req);
void hitl__h_session_delete(hitl_request *req);
/* The embedded web UI: "/" and "/assets/..." (checked before the route table). */
bool hitl__is_static_path(const char *path);
void hitl__h_static(hitl_request *req);

#endif
