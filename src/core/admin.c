/* SPDX-License-Identifier: MIT */
/* Queue configurations and tokens: the writes an orchestrator makes, each with its event. */
#include "core/admin.h"

#include <string.h>

#include "util/id.h"

bool hitl_actor_may_administer(const hitl_actor *a) { return a->orchestrator; }

static int forbidden(hitl_err *err) {
  return hitl_err_set(err, HITL_EFORBIDDEN, NULL, "only an orchestrator may change queues and tokens");
}

int hitl_queue_store(hitl_txn *x, const char *name, const char *config_json,
                     const char *event_data, const hitl_actor *a, int64_t *id, bool *created,
                     hitl_err *err) {
  if (!hitl_actor_may_administer(a)) return forbidden(err);
  int rc = x->store->vt->queue_put(x->store, name, config_json, x->now, id, created);
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the queue");
  hitl_event_spec spec = {
      .type = *created ? "queue.created" : "queue.updated",
      .queue = name,
      .queue_id = *id,
      .actor = a->name,
      .data = event_data,
      .from_state = -1,
      .to_state = -1,
  };
  rc = hitl_chain_append(x->chain, x->store, x->now, &spec);
  if (rc) return hitl_err_set(err, rc, NULL, "could not append the event");
  return 0;
}

void hitl_token_members(hitl_buf *b, const char *name, const char *roles) {
  hitl_buf_puts(b, "\"name\":");
  hitl_buf_json_cstr(b, name);
  hitl_buf_puts(b, ",\"roles\":[");
  const char *p = roles;
  for (int i = 0; *p; i++) {
    size_t len = strcspn(p, ",");
    if (i) hitl_buf_putc(b, ',');
    hitl_buf_json_string(b, p, len);
    p += len + (p[len] == ',');
  }
  hitl_buf_putc(b, ']');
}

/* Appends a token event of type with data to the chain; 0 or a store error. */
static int token_event(hitl_txn *x, const char *type, const hitl_actor *a, const char *data,
                       hitl_err *err) {
  hitl_event_spec spec = {.type = type, .actor = a->name, .data = data, .from_state = -1,
                          .to_state = -1};
  int rc = hitl_chain_append(x->chain, x->store, x->now, &spec);
  if (rc) return hitl_err_set(err, rc, NULL, "could not append the event");
  return 0;
}

int hitl_token_create(hitl_txn *x, const char *name, const char *secret, const char *roles,
                      const hitl_actor *a, hitl_err *err) {
  if (!hitl_actor_may_administer(a)) return forbidden(err);
  uint8_t h[HITL_HASH_LEN];
  hitl_hash(secret, strlen(secret), h);
  int rc = x->store->vt->token_insert(x->store, name, h, roles, x->now);
  if (rc == HITL_ECONFLICT)
    return hitl_err_set(err, rc, "name", "a token named \"%s\" already exists", name);
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the token");
  hitl_buf data = HITL_BUF_INIT;
  hitl_buf_putc(&data, '{');
  hitl_token_members(&data, name, roles);
  hitl_buf_putc(&data, '}');
  rc = token_event(x, "token.created", a, hitl_buf_cstr(&data), err);
  hitl_buf_free(&data);
  return rc;
}

int hitl_token_revoke(hitl_txn *x, const char *name, const hitl_actor *a, hitl_err *err) {
  if (!hitl_actor_may_administer(a)) return forbidden(err);
  int rc = x->store->vt->token_revoke(x->store, name);
  if (rc == HITL_ENOT_FOUND) return hitl_err_set(err, rc, "name", "no token named \"%s\"", name);
  if (rc) return hitl_err_set(err, rc, NULL, "could not store the revocation");
  hitl_buf data = HITL_BUF_INIT;
  hitl_buf_puts(&data, "{\"name\":");
  hitl_buf_json_cstr(&data, name);
  hitl_buf_putc(&data, '}');
  rc = token_event(x, "token.revoked", a, hitl_buf_cstr(&data), err);
  hitl_buf_free(&data);
  return rc;
}
