/* SPDX-License-Identifier: MIT */
/* Webhooks: deliveries written to an outbox with their event, POSTed by a worker, retried. */
#ifndef HITL_API_WEBHOOKS_H
#define HITL_API_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "core/chain.h"
#include "core/lifecycle.h"

typedef struct hitl_server hitl_server;
typedef struct hitl_webhooks hitl_webhooks;

/* Attempts before a delivery fails: with the first retry after 10 s, doubling up to 2048 times
 * that (5.7 h), the last is made 28 hours after the first. */
#define HITL_WEBHOOK_MAX_ATTEMPTS 16
#define HITL_WEBHOOK_DEFAULT_RETRY_MS 10000

/* Creates the webhook state of server s (secret may be NULL: deliveries go unsigned; retry_ms is
 * the first retry delay). The worker starts with hitl__webhooks_run. */
hitl_webhooks *hitl__webhooks_new(hitl_server *s, const char *secret, int64_t retry_ms);
/* Starts the delivery worker thread (once the committer runs). */
void hitl__webhooks_run(hitl_webhooks *w);
/* Writer thread, inside the transaction of changes: stores a delivery for every change of a queue
 * whose webhooks want its event type. Returns 0 or a HITL_E* code (the transaction then fails). */
int hitl__webhooks_outbox(hitl_webhooks *w, hitl_txn *x, const hitl_change *changes, size_t n);
/* Writer thread, after the commit: wakes the worker if the last transaction stored deliveries. */
void hitl__webhooks_committed(hitl_webhooks *w);
/* Wakes the worker to look at the outbox now (a delivery was made due outside a commit of
 * changes). */
void hitl__webhooks_wake(hitl_webhooks *w);
/* Stops the worker (transfers in flight are abandoned and retried after a restart). NULL is a
 * no-op. Call before the committer stops. */
void hitl__webhooks_stop(hitl_webhooks *w);
/* Frees a stopped worker. NULL is a no-op. */
void hitl__webhooks_free(hitl_webhooks *w);
/* Delivery counters for /metrics: delivered, retried (an attempt failed, another follows) and
 * failed (the last attempt failed). */
void hitl__webhooks_counts(hitl_webhooks *w, uint64_t *delivered, uint64_t *retried,
                           uint64_t *failed);
/* The next delay after a failed attempt (attempts made so far, 1 or more): retry_ms doubled per
 * attempt, at most 2048 times retry_ms, plus up to a tenth more at random so receivers are not
 * hit in step. */
int64_t hitl__webhooks_backoff(int64_t retry_ms, int attempts);
/* The signature header value for body sent at unix time t: "t=T,v1=HEX(HMAC-SHA256(secret,
 * "T." body))", written into out (at least 96 bytes). */
void hitl__webhooks_sign(const char *secret, int64_t t, const char *body, size_t len, char *out,
                         size_t out_len);

#endif
