/* SPDX-License-Identifier: MIT */
/* The hitl HTTP server: start it on a store and an address, stop it. */
#ifndef HITL_API_SERVER_H
#define HITL_API_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "hitl/error.h"

typedef struct hitl_server hitl_server;

typedef struct hitl_server_config {
  const char *db;           /* Store location (SQLite file path). */
  const char *host;         /* Address to listen on, e.g. "127.0.0.1". */
  int port;                 /* 0: any free port (see hitl_server_port). */
  size_t max_body;          /* Largest request body, bytes; batches may be 16 times larger. */
  const char *admin_token;  /* HITL_ADMIN_TOKEN: an orchestrator token, or NULL. */
  int threads;              /* HTTP threads; 0: one per core. */
  const char *webhook_secret; /* HITL_WEBHOOK_SECRET: signs webhook deliveries, or NULL. */
  int64_t webhook_retry_ms; /* First retry delay of a failed delivery; 0: the default (10 s). */
  unsigned max_connections; /* Open connections in all; 0: the default. The last tenth is kept
                             * for /healthz and authenticated requests (api/limits.h). */
  unsigned max_connections_per_address; /* Open connections per client IP address; 0: no cap. */
  int64_t header_timeout_ms; /* To send complete request headers; 0: the default. */
  unsigned rate_limit;      /* Requests per second per token (the admin token is exempt); 0: off. */
  unsigned max_waits;       /* Long-polls and event streams per token at once; 0: no cap. */
  const char *tls_cert;     /* PEM certificate file: serve HTTPS; NULL: plain HTTP. */
  const char *tls_key;      /* Its PEM private key file (needed with tls_cert). */
  unsigned calib_snapshot_every; /* Verified pairs between snapshots of a queue's calibration
                                    state; 0: the default (5,000). */
  int writers;              /* Writer lanes on PostgreSQL (api/commit.h), at most
                             * HITL_MAX_WRITERS; 0: HITL_DEFAULT_WRITERS. SQLite has one. */
} hitl_server_config;

#define HITL_DEFAULT_MAX_BODY (1024 * 1024)
#define HITL_DEFAULT_MAX_CONNECTIONS 10000
#define HITL_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS 128
#define HITL_DEFAULT_HEADER_TIMEOUT_MS 10000
#define HITL_DEFAULT_RATE_LIMIT 1000
#define HITL_DEFAULT_MAX_WAITS 64
#define HITL_DEFAULT_WRITERS 2 /* Writer lanes on PostgreSQL (bench/README.md, "PostgreSQL"). */
#define HITL_MAX_WRITERS 8

/* Opens the store, loads the queues and starts serving. Sets *out; the caller stops it with
 * hitl_server_stop. Returns 0 or an error with err set. */
int hitl_server_start(const hitl_server_config *cfg, hitl_server **out, hitl_err *err);
/* The port the server listens on. */
int hitl_server_port(const hitl_server *s);
/* Stops serving, answers waiting requests, finishes queued writes and frees everything. */
void hitl_server_stop(hitl_server *s);

#endif
