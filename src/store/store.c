/* SPDX-License-Identifier: MIT */
/* Choosing a store backend from a location, and the lifetimes of the store's row structs. */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool hitl_store_is_shared(const char *location) {
  return location &&
         (starts_with(location, "postgres://") || starts_with(location, "postgresql://"));
}

int hitl_store_open(const char *location, hitl_store **out, hitl_err *err) {
  *out = NULL;
  if (location == NULL || location[0] == '\0')
    return hitl_err_set(err, HITL_EVALIDATION, "database",
                        "no database given: pass a SQLite file path or a postgres:// URL");
  int rc = hitl_store_is_shared(location) ? hitl__store_postgres_open(location, out, err)
                    : hitl__store_sqlite_open(location, out, err);
  if (rc == 0) *out = hitl__store_fault_on_open(*out);
  return rc;
}

void hitl__store_claim_roles(const hitl_claim_filter *f, hitl_buf *b) {
  hitl_buf_reset(b);
  hitl_buf_putc(b, ',');
  for (size_t i = 0; i < f->n_roles; i++) {
    if (f->roles[i] == NULL || f->roles[i][0] == '\0' || strchr(f->roles[i], ',')) continue;
    hitl_buf_puts(b, f->roles[i]);
    hitl_buf_putc(b, ',');
  }
}

void hitl_store_location_shown(const char *location, char *out, size_t size) {
  snprintf(out, size, "%s", location ? location : "");
  char *scheme = strstr(out, "://");
  if (scheme == NULL) return;
  char *auth = scheme + 3, *at = strchr(auth, '@'), *slash = strchr(auth, '/');
  if (at == NULL || (slash && slash < at)) return;
  char *colon = memchr(auth, ':', (size_t)(at - auth));
  if (colon) memmove(colon, at, strlen(at) + 1); /* "user:secret@host" becomes "user@host". */
}

void hitl_calib_snapshot_clear(hitl_calib_snapshot *s) {
  if (s == NULL) return;
  free(s->params);
  free(s->state);
  memset(s, 0, sizeof *s);
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

void hitl__store_seq_list(hitl_buf *b, const int64_t *seqs, size_t n, char open, char close) {
  hitl_buf_reset(b);
  hitl_buf_putc(b, open);
  for (size_t i = 0; i < n; i++) hitl_buf_printf(b, "%s%lld", i ? "," : "", (long long)seqs[i]);
  hitl_buf_putc(b, close);
}
