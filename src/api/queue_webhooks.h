/* SPDX-License-Identifier: MIT */
/* The webhooks of a queue configuration: parsed from JSON, and hidden from readers. */
#ifndef HITL_API_QUEUE_WEBHOOKS_H
#define HITL_API_QUEUE_WEBHOOKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/queue.h"
#include "hitl/error.h"

/* How a configuration's webhooks are read: as a PUT sends them, or as the store keeps them. */
typedef struct hitl_webhook_parse {
  bool put;                          /* Secrets are settled against previous; a PUT may not set
                                      * previous_secret. */
  const hitl_queue_config *previous; /* The configuration a PUT replaces, or NULL. */
  int64_t now;                       /* Wall-clock ms, for a rotation's end. */
} hitl_webhook_parse;

/* Validates hooks (the "webhooks" member, NULL when absent) and fills q->webhooks and the
 * normalized "webhooks" of norm, secrets included (the stored form). Returns 0, or
 * HITL_EVALIDATION with err naming the field ("webhooks[1].secret"). */
int hitl__queue_webhooks_parse(const json_t *hooks, const hitl_webhook_parse *m,
                               hitl_queue_config *q, json_t *norm, hitl_err *err);
/* Replaces the secrets of the webhooks in norm (a normalized configuration of q) by hints:
 * secret_hint, and previous_secret_hint with rotation_ends_at during a rotation. */
void hitl__queue_webhooks_hide(json_t *norm, const hitl_queue_config *q);

#endif
