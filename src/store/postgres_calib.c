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
