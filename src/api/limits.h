/* SPDX-License-Identifier: MIT */
/* What one client may hold: connections (in total, per address, before their headers arrive),
 * requests per second per token, and waiting requests (long-polls, event streams) per token. */
#ifndef HITL_API_LIMITS_H
#define HITL_API_LIMITS_H

#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"

typedef struct hitl_limits hitl_limits;

typedef struct hitl_limits_config {
  unsigned max_connections;  /* Open connections in all; the last tenth is the reserve. */
  int64_t header_timeout_ms; /* From accept, or from the end of the previous request on a
                              * kept-alive connection, to complete request headers. */
  unsigned rate;             /* Requests per second per token (burst: one second's worth); 0: off. */
  unsigned max_waits;        /* Long-polls and event streams open at once per token; 0: off. */
} hitl_limits_config;

/* Connections that do not reach the reserve: past it, a new connection closes the oldest one that
 * has not sent its request headers, and only /healthz, /metrics and authenticated requests are
 * served. */
unsigned hitl__limits_soft_cap(unsigned max_connections);

/* Starts the accounting and its timer thread (closing connections past the header deadline).
 * Never NULL; free with hitl__limits_free after the HTTP daemon has stopped. */
hitl_limits *hitl__limits_new(const hitl_limits_config *cfg);
/* Stops the timer thread and frees everything. NULL is a no-op. */
void hitl__limits_free(hitl_limits *l);

/* The MHD_OPTION_NOTIFY_CONNECTION callback (cls: the hitl_limits): counts connections and starts
 * each one's header deadline. Runs on the HTTP thread that owns the connection. */
void hitl__limits_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode code);
/* Call when a request's headers are complete (the first call of the access handler): its
 * connection is no longer subject to the header deadline. */
void hitl__limits_request_begin(hitl_limits *l, struct MHD_Connection *conn);
/* Admits req, once it is routed and authenticated (or on a public route): returns true, or
 * answers 429 (the token's rate is spent; Retry-After set) or 503 (past the connection reserve,
 * only /healthz, /metrics and authenticated requests are served) and returns false. */
bool hitl__limits_admit(hitl_request *req);
/* Takes one of the caller's waiting slots before a long-poll or an event stream begins: returns
 * true, or answers 429 and returns false. The slot is given back by hitl__limits_release. */
bool hitl__limits_wait_begin(hitl_request *req);
/* Adds the answer headers the limits call for (Retry-After; Connection: close for a request
 * that is not authenticated once past the reserve) to resp. */
void hitl__limits_answer(hitl_request *req, struct MHD_Response *resp);
/* Counts one connection that libmicrohttpd refused at accept (per-address or total limit), and
 * logs how many at most every 10 s: a flood of them must not flood the log. */
void hitl__limits_refused(hitl_limits *l);
/* Appends the limits' Prometheus metrics (open connections, connections closed and requests
 * refused, by reason) to b. */
void hitl__limits_metrics(hitl_limits *l, hitl_buf *b);
/* Call when req completes: gives back its waiting slot, and restarts the header deadline of its
 * connection, which now waits for the next request. */
void hitl__limits_release(hitl_request *req);

#endif
