/* SPDX-License-Identifier: MIT */
/* The SQLite backend's webhook deliveries: the outbox the delivery worker reads and updates. */
#include <string.h>

#include "store/sqlite.h"

int hitl__sqlite_delivery_insert(hitl_store *store, hitl_delivery *d) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_DELIVERY_INSERT);
  hitl__sqlite_bind_text(st, 1, d->id, 0);
  sqlite3_bind_int64(st, 2, d->queue_id);
  hitl__sqlite_bind_text(st, 3, d->url, 0);
  sqlite3_bind_int64(st, 4, d->event_seq);
  hitl__sqlite_bind_text(st, 5, d->event_type, 0);
  hitl__sqlite_bind_text(st, 6, d->body, 0);
  sqlite3_bind_int(st, 7, d->state);
  sqlite3_bind_int(st, 8, d->attempts);
  sqlite3_bind_int64(st, 9, d->next_attempt_at);
  sqlite3_bind_int64(st, 10, d->created_at);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "delivery_insert");
  if (ret == 0) {
    d->seq = sqlite3_last_insert_rowid(s->db);
    d->updated_at = d->created_at;
  }
  hitl__sqlite_done(st);
  return ret;
}

/* Reads a delivery row (the DELIVERY_COLUMNS of sqlite_sql.c, in order) from st. */
static void read_delivery(sqlite3_stmt *st, void *row) {
  hitl_delivery *d = row;
  d->seq = sqlite3_column_int64(st, 0);
  d->id = hitl__sqlite_col_text(st, 1);
  d->queue_id = sqlite3_column_int64(st, 2);
  d->url = hitl__sqlite_col_text(st, 3);
  d->event_seq = sqlite3_column_int64(st, 4);
  d->event_type = hitl__sqlite_col_text(st, 5);
  d->body = hitl__sqlite_col_text(st, 6);
  d->state = sqlite3_column_int(st, 7);
  d->attempts = sqlite3_column_int(st, 8);
  d->next_attempt_at = sqlite3_column_int64(st, 9);
  d->last_status = sqlite3_column_int(st, 10);
  d->last_error = hitl__sqlite_col_text(st, 11);
  d->created_at = sqlite3_column_int64(st, 12);
  d->updated_at = sqlite3_column_int64(st, 13);
  d->delivered_at = sqlite3_column_int64(st, 14);
}

static void clear_delivery(void *row) { hitl_delivery_clear(row); }

int hitl__sqlite_delivery_due(hitl_store *store, int64_t now, size_t limit, hitl_delivery **out,
                              size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_DELIVERY_DUE);
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, read_delivery, clear_delivery,
                                "delivery_due", &rows, n);
  *out = rows;
  return rc;
}

int hitl__sqlite_delivery_next_due(hitl_store *store, int64_t *at) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_DELIVERY_NEXT_DUE);
  int rc = sqlite3_step(st), ret = 0;
  *at = 0;
  if (rc == SQLITE_ROW)
    *at = sqlite3_column_int64(st, 0); /* MIN() of no rows is NULL, read as 0. */
  else
    ret = hitl__sqlite_fail(s, rc, "delivery_next_due");
  hitl__sqlite_done(st);
  return ret;
}

int hitl__sqlite_delivery_update(hitl_store *store, const hitl_delivery *d) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_DELIVERY_UPDATE);
  hitl__sqlite_bind_text(st, 1, d->id, 0);
  sqlite3_bind_int(st, 2, d->state);
  sqlite3_bind_int(st, 3, d->attempts);
  sqlite3_bind_int64(st, 4, d->next_attempt_at);
  sqlite3_bind_int(st, 5, d->last_status);
  hitl__sqlite_bind_text(st, 6, d->last_error, 1);
  sqlite3_bind_int64(st, 7, d->delivered_at);
  sqlite3_bind_int64(st, 8, d->updated_at);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? (sqlite3_changes(s->db) > 0 ? 0 : HITL_ENOT_FOUND)
                              : hitl__sqlite_fail(s, rc, "delivery_update");
  hitl__sqlite_done(st);
  return ret;
}

int hitl__sqlite_delivery_list(hitl_store *store, int64_t queue_id, int state, int64_t before_seq,
                               size_t limit, hitl_delivery **out, size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_DELIVERY_LIST);
  sqlite3_bind_int64(st, 1, queue_id);
  sqlite3_bind_int(st, 2, state);
  sqlite3_bind_int64(st, 3, before_seq);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)limit);
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, read_delivery, clear_delivery,
                                "delivery_list", &rows, n);
  *out = rows;
  return rc;
}

int hitl__sqlite_delivery_get(hitl_store *store, const char *id, hitl_delivery *out) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_DELIVERY_GET);
  hitl__sqlite_bind_text(st, 1, id, 0);
  int rc = sqlite3_step(st), ret = 0;
  memset(out, 0, sizeof *out);
  if (rc == SQLITE_ROW)
    read_delivery(st, out);
  else
    ret = rc == SQLITE_DONE ? HITL_ENOT_FOUND : hitl__sqlite_fail(s, rc, "delivery_get");
  hitl__sqlite_done(st);
  return ret;
}
