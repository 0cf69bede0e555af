/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend's calibration evidence: each reviewed task's routing tag and verdict. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres.h"

int hitl__pg_calib_put(hitl_store *store, const hitl_calib_row *r) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, r->task_seq);
  hitl__pg_int(&p, r->queue_id);
  hitl__pg_double(&p, r->score, true);
  hitl__pg_double(&p, r->propensity, true);
  hitl__pg_bool(&p, r->uniform);
  hitl__pg_bool(&p, r->audit);
  hitl__pg_int(&p, r->correct);
  hitl__pg_int(&p, r->decided_seq);
  hitl__pg_double(&p, r->lac, !isnan(r->lac));
  hitl__pg_double(&p, r->aps, !isnan(r->aps));
  return hitl__pg_write((hitl__pg *)store, HITL__PG_CALIB_PUT, &p, false, "calib_put");
}

static void read_calib(const PGresult *r, int i, void *row) {
  hitl_calib_row *c = row;
  c->task_seq = hitl__pg_col_int(r, i, 0);
  c->queue_id = hitl__pg_col_int(r, i, 1);
  c->score = strtod(PQgetvalue(r, i, 2), NULL);
  c->propensity = strtod(PQgetvalue(r, i, 3), NULL);
  c->uniform = strcmp(PQgetvalue(r, i, 4), "t") == 0;
  c->audit = strcmp(PQgetvalue(r, i, 5), "t") == 0;
  c->correct = (int)hitl__pg_col_int(r, i, 6);
  c->decided_seq = hitl__pg_col_int(r, i, 7);
  c->lac = PQgetisnull(r, i, 8) ? NAN : strtod(PQgetvalue(r, i, 8), NULL);
  c->aps = PQgetisnull(r, i, 9) ? NAN : strtod(PQgetvalue(r, i, 9), NULL);
}

int hitl__pg_calib_get(hitl_store *store, int64_t task_seq, hitl_calib_row *out) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, task_seq);
  return hitl__pg_one((hitl__pg *)store, HITL__PG_CALIB_GET, &p, sizeof *out, read_calib,
                      "calib_get", out);
}

int hitl__pg_calib_list(hitl_store *store, int64_t queue_id, int64_t after, size_t limit,
                        hitl_calib_row **out, size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, queue_id);
  hitl__pg_int(&p, after);
  hitl__pg_int(&p, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_CALIB_LIST, &p, sizeof **out, read_calib,
                            "calib_list", &rows, n);
  *out = rows;
  return rc;
}

int hitl__pg_calib_tally_add(hitl_store *store, int64_t queue_id, int64_t hour, int kind,
                             int64_t n) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, queue_id);
  hitl__pg_int(&p, hour);
  hitl__pg_int(&p, kind);
  hitl__pg_int(&p, n);
  return hitl__pg_write((hitl__pg *)store, HITL__PG_CALIB_TALLY_ADD, &p, false, "calib_tally_add");
}

int hitl__pg_calib_tally_sum(hitl_store *store, int64_t queue_id, int64_t since_hour,
                             int64_t *sums, int n_kinds) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, queue_id);
  hitl__pg_int(&p, since_hour);
  for (int k = 0; k < n_kinds; k++) sums[k] = 0;
  PGresult *res = NULL;
  int rc = hitl__pg_exec((hitl__pg *)store, HITL__PG_CALIB_TALLY_SUM, &p, "calib_tally_sum", &res);
  for (int i = 0; rc == 0 && i < PQntuples(res); i++) {
    int64_t kind = hitl__pg_col_int(res, i, 0);
    if (kind >= 0 && kind < n_kinds) sums[kind] = hitl__pg_col_int(res, i, 1);
  }
  PQclear(res);
  return rc;
}

int hitl__pg_calib_snapshot_put(hitl_store *store, const hitl_calib_snapshot *snap) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, snap->queue_id);
  if (snap->state == NULL) {
    PGresult *res = NULL;
    int rc = hitl__pg_exec((hitl__pg *)store, HITL__PG_CALIB_SNAPSHOT_DELETE, &p,
                           "calib_snapshot_put", &res);
    PQclear(res);
    return rc;
  }
  hitl__pg_int(&p, snap->last_seq);
  hitl__pg_text(&p, snap->params ? snap->params : "", 0);
  hitl__pg_text(&p, snap->state, 0);
  PGresult *res = NULL;
  int rc = hitl__pg_exec((hitl__pg *)store, HITL__PG_CALIB_SNAPSHOT_PUT, &p, "calib_snapshot_put",
                         &res);
  PQclear(res);
  return rc;
}

static void read_snapshot(const PGresult *r, int i, void *row) {
  hitl_calib_snapshot *snap = row;
  snap->queue_id = hitl__pg_col_int(r, i, 0);
  snap->last_seq = hitl__pg_col_int(r, i, 1);
  snap->params = hitl__pg_col_text(r, i, 2);
  snap->state = hitl__pg_col_text(r, i, 3);
}

int hitl__pg_calib_snapshot_get(hitl_store *store, int64_t queue_id, hitl_calib_snapshot *out) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, queue_id);
  return hitl__pg_one((hitl__pg *)store, HITL__PG_CALIB_SNAPSHOT_GET, &p, sizeof *out,
                      read_snapshot, "calib_snapshot_get", out);
}
