/* SPDX-License-Identifier: MIT */
/* The SQLite backend's calibration evidence: each reviewed task's routing tag and verdict. */
#include <math.h>

#include "store/sqlite.h"

/* Binds x, or NULL when it is NaN. */
static void bind_score(sqlite3_stmt *st, int i, double x) {
  if (isnan(x))
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_double(st, i, x);
}

/* Reads a REAL column, NaN for NULL. */
static double col_score(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int hitl__sqlite_calib_put(hitl_store *store, const hitl_calib_row *r) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_CALIB_PUT);
  sqlite3_bind_int64(st, 1, r->task_seq);
  sqlite3_bind_int64(st, 2, r->queue_id);
  sqlite3_bind_double(st, 3, r->score);
  sqlite3_bind_double(st, 4, r->propensity);
  sqlite3_bind_int(st, 5, r->uniform);
  sqlite3_bind_int(st, 6, r->audit);
  sqlite3_bind_int(st, 7, r->correct);
  sqlite3_bind_int64(st, 8, r->decided_seq);
  bind_score(st, 9, r->lac);
  bind_score(st, 10, r->aps);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "calib_put");
  hitl__sqlite_done(st);
  return ret;
}

/* Reads a row (CALIB_COLUMNS of sqlite_sql.c, in order) from st. */
static void read_calib(sqlite3_stmt *st, void *row) {
  hitl_calib_row *r = row;
  r->task_seq = sqlite3_column_int64(st, 0);
  r->queue_id = sqlite3_column_int64(st, 1);
  r->score = sqlite3_column_double(st, 2);
  r->propensity = sqlite3_column_double(st, 3);
  r->uniform = sqlite3_column_int(st, 4) != 0;
  r->audit = sqlite3_column_int(st, 5) != 0;
  r->correct = sqlite3_column_int(st, 6);
  r->decided_seq = sqlite3_column_int64(st, 7);
  r->lac = col_score(st, 8);
  r->aps = col_score(st, 9);
}

int hitl__sqlite_calib_get(hitl_store *store, int64_t task_seq, hitl_calib_row *out) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_CALIB_GET);
  sqlite3_bind_int64(st, 1, task_seq);
  return hitl__sqlite_one(s, st, sizeof *out, read_calib, "calib_get", out);
}

int hitl__sqlite_calib_list(hitl_store *store, int64_t queue_id, int64_t after, size_t limit,
                            hitl_calib_row **out, size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_CALIB_LIST);
  sqlite3_bind_int64(st, 1, queue_id);
  sqlite3_bind_int64(st, 2, after);
  sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, read_calib, NULL, "calib_list", &rows,
                                n);
  *out = rows;
  return rc;
}

int hitl__sqlite_calib_tally_add(hitl_store *store, int64_t queue_id, int64_t hour, int kind,
                                 int64_t n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_CALIB_TALLY_ADD);
  sqlite3_bind_int64(st, 1, queue_id);
  sqlite3_bind_int64(st, 2, hour);
  sqlite3_bind_int(st, 3, kind);
  sqlite3_bind_int64(st, 4, n);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "calib_tally_add");
  hitl__sqlite_done(st);
  return ret;
}

int hitl__sqlite_calib_tally_sum(hitl_store *store, int64_t queue_id, int64_t since_hour,
                                 int64_t *sums, int n_kinds) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_CALIB_TALLY_SUM);
  sqlite3_bind_int64(st, 1, queue_id);
  sqlite3_bind_int64(st, 2, since_hour);
  for (int k = 0; k < n_kinds; k++) sums[k] = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int kind = sqlite3_column_int(st, 0);
    if (kind >= 0 && kind < n_kinds) sums[kind] = sqlite3_column_int64(st, 1);
  }
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "calib_tally_sum");
  hitl__sqlite_done(st);
  return ret;
}

int hitl__sqlite_calib_snapshot_put(hitl_store *store, const hitl_calib_snapshot *snap) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  bool drop = snap->state == NULL;
  sqlite3_stmt *st =
      hitl__sqlite_stmt(s, drop ? HITL__ST_CALIB_SNAPSHOT_DELETE : HITL__ST_CALIB_SNAPSHOT_PUT);
  sqlite3_bind_int64(st, 1, snap->queue_id);
  if (!drop) {
    sqlite3_bind_int64(st, 2, snap->last_seq);
    hitl__sqlite_bind_text(st, 3, snap->params ? snap->params : "", 0);
    hitl__sqlite_bind_text(st, 4, snap->state, 0);
  }
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "calib_snapshot_put");
  hitl__sqlite_done(st);
  return ret;
}

static void read_snapshot(sqlite3_stmt *st, void *row) {
  hitl_calib_snapshot *snap = row;
  snap->queue_id = sqlite3_column_int64(st, 0);
  snap->last_seq = sqlite3_column_int64(st, 1);
  snap->params = hitl__sqlite_col_text(st, 2);
  snap->state = hitl__sqlite_col_text(st, 3);
}

int hitl__sqlite_calib_snapshot_get(hitl_store *store, int64_t queue_id, hitl_calib_snapshot *out) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_CALIB_SNAPSHOT_GET);
  sqlite3_bind_int64(st, 1, queue_id);
  return hitl__sqlite_one(s, st, sizeof *out, read_snapshot, "calib_snapshot_get", out);
}
