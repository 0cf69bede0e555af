/* SPDX-License-Identifier: MIT */
/* The administrative writes: a queue's configuration, and tokens made and revoked. Every
 * protocol calls these, so who may make them, what is stored and which event records it are
 * decided here only. */
#ifndef HITL_CORE_ADMIN_H
#define HITL_CORE_ADMIN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/lifecycle.h"
#include "util/buf.h"

/* True when a may change queues and tokens: orchestrators only. */
bool hitl_actor_may_administer(const hitl_actor *a);

/* Stores queue name with its configuration config_json (as it is to be stored), creating it or
 * replacing the one of that name, and appends queue.created or queue.updated with event_data
 * (the configuration as events may show it: without webhook secrets). Sets *id and *created.
 * HITL_EFORBIDDEN unless a may administer; else 0 or a store error (err says which). */
int hitl_queue_store(hitl_txn *x, const char *name, const char *config_json,
                     const char *event_data, const hitl_actor *a, int64_t *id, bool *created,
                     hitl_err *err);

/* Appends the members "name":...,"roles":[...] of a token (roles comma-separated) to b. */
void hitl_token_members(hitl_buf *b, const char *name, const char *roles);

/* Stores a token named name holding roles (comma-separated) whose secret is secret (only its
 * hash is kept) and appends token.created. HITL_ECONFLICT (field "name") when the name is
 * taken; HITL_EFORBIDDEN unless a may administer. */
int hitl_token_create(hitl_txn *x, const char *name, const char *secret, const char *roles,
                      const hitl_actor *a, hitl_err *err);

/* Revokes the token named name (again is fine) and appends token.revoked. HITL_ENOT_FOUND
 * (field "name") when there is none; HITL_EFORBIDDEN unless a may administer. */
int hitl_token_revoke(hitl_txn *x, const char *name, const hitl_actor *a, hitl_err *err);

#endif
