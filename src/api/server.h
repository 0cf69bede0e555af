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
} hitl_server_config;

#define HITL_DEFAULT_MAX_BODY (1024 * 1024)

/* Opens the store, loads the queues and starts serving. Sets *out; the caller stops it with
 * hitl_server_stop. Returns 0 or an error with err set. */
int hitl_server_start(const hitl_server_config *cfg, hitl_server **out, hitl_err *err);
/* The port the server listens on. */
int hitl_server_port(const hitl_server *s);
/* Stops serving, answers waiting requests, finishes queued writes and frees everything. */
void hitl_server_stop(hitl_server *s);

#endif
