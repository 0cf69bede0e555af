/* SPDX-License-Identifier: MIT */
/* Choosing a store backend from a location, and the lifetimes of the store's row structs. */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

int hitl_store_open(const char *location, hitl_store **out, hitl_err *err) {
  *out = NULL;
  if (location == NULL || location[0] == '\0')
    return hitl_err_set(err, HITL_EVALIDATION, "database",
                        "no database given: pass a SQLite file path");
  if (starts_with(location, "postgres://") || starts_with(location, "postgresql://"))
    return hitl_err_set(err, HITL_EVALIDATION, "database",
                        "PostgreSQL is not built in yet: use a SQLite file path");
  int rc = hitl__store_sqlite_open(location, out, err);
  if (rc == 0) *out = hitl__store_fault_on_open(*out);
  return rc;
}

void hitl_queue_row_clear(hitl_queue_row *q) {
  if (q == NULL) return;
  free(q->name);
  free(q->config);
  memset(q, 0, sizeof *q);
}

void hitl_token_row_clear(hitl_token_row *t) {
  if (t == NULL) return;
  free(t->name);
  free(t->roles);
  memset(t, 0, sizeof *t);
}

void hitl_delivery_clear(hitl_delivery *d) {
  if (d == NULL) return;
  free(d->id);
  free(d->url);
  free(d->event_type);
  free(d->body);
  free(d->last_error);
  memset(d, 0, sizeof *d);
}
