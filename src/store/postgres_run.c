/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend's agent runs: runs, their steps and commands, the lost-run due list. */
#include <stdlib.h>

#include "store/postgres.h"

static int64_t clamp_limit(size_t limit) { return limit > INT64_MAX ? INT64_MAX : (int64_t)limit; }

int hitl__pg_run_insert(hitl_store *store, hitl_run *r) {
  hitl__pg_params p = {0};
  hitl__pg_text(&p, r->id, 0);
  hitl__pg_text(&p, r->agent, 0);
  hitl__pg_text(&p, r->goal, 0);
  hitl__pg_text(&p, r->metadata, 0);
  hitl__pg_text(&p, r->owner, 0);
  hitl__pg_int(&p, r->state);
  hitl__pg_int(&p, r->lost_from);
  hitl__pg_int(&p, r->heartbeat_seconds);
  hitl__pg_int(&p, r->created_at);
  hitl__pg_int(&p, r->updated_at);
  hitl__pg_int(&p, r->last_heartbeat_at);
  hitl__pg_int(&p, r->heartbeat_due_at);
  hitl__pg_int(&p, r->ended_at);
  hitl__pg_int(&p, r->steps);
  hitl__pg_int(&p, r->commands);
  hitl__pg_int(&p, r->acked);
  PGresult *res = NULL;
  int rc = hitl__pg_exec((hitl__pg *)store, HITL__PG_RUN_INSERT, &p, "run_insert", &res);
  if (rc) return rc;
  if (PQntuples(res) == 0)
    rc = HITL_ECONFLICT;
  else
    r->seq = hitl__pg_col_int(res, 0, 0);
  PQclear(res);
  return rc;
}

int hitl__pg_run_update(hitl_store *store, const hitl_run *r) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, r->seq);
  hitl__pg_text(&p, r->goal, 0);
  hitl__pg_int(&p, r->state);
  hitl__pg_int(&p, r->lost_from);
  hitl__pg_int(&p, r->last_heartbeat_at);
  hitl__pg_int(&p, r->heartbeat_due_at);
  hitl__pg_int(&p, r->ended_at);
  hitl__pg_int(&p, r->steps);
  hitl__pg_int(&p, r->commands);
  hitl__pg_int(&p, r->acked);
  hitl__pg_int(&p, r->updated_at);
  return hitl__pg_write((hitl__pg *)store, HITL__PG_RUN_UPDATE, &p, true, "run_update");
}

int hitl__pg_run_touch(hitl_store *store, int64_t run_seq, int64_t at, int64_t due_at) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, run_seq);
  hitl__pg_int(&p, at);
  hitl__pg_int(&p, due_at);
  int rc = hitl__pg_change((hitl__pg *)store, HITL__PG_RUN_TOUCH, &p, "run_touch");
  return rc == HITL_ENOT_FOUND ? 0 : rc; /* A run that ended meanwhile keeps its times. */
}

/* Fills a run (zeroed) from row i (RUN_COLUMNS of postgres_sql.c, in order). */
static void read_run(const PGresult *r, int i, void *row) {
  hitl_run *x = row;
  x->seq = hitl__pg_col_int(r, i, 0);
  hitl__pg_col_id(r, i, 1, x->id);
  x->agent = hitl__pg_col_text(r, i, 2);
  x->goal = hitl__pg_col_text(r, i, 3);
  x->metadata = hitl__pg_col_text(r, i, 4);
  x->owner = hitl__pg_col_text(r, i, 5);
  x->state = (hitl_run_state)hitl__pg_col_int(r, i, 6);
  x->lost_from = (hitl_run_state)hitl__pg_col_int(r, i, 7);
  x->heartbeat_seconds = (int)hitl__pg_col_int(r, i, 8);
  x->created_at = hitl__pg_col_int(r, i, 9);
  x->updated_at = hitl__pg_col_int(r, i, 10);
  x->last_heartbeat_at = hitl__pg_col_int(r, i, 11);
  x->heartbeat_due_at = hitl__pg_col_int(r, i, 12);
  x->ended_at = hitl__pg_col_int(r, i, 13);
  x->steps = hitl__pg_col_int(r, i, 14);
  x->commands = hitl__pg_col_int(r, i, 15);
  x->acked = hitl__pg_col_int(r, i, 16);
  x->open_tasks = hitl__pg_col_int(r, i, 17);
}

int hitl__pg_run_get(hitl_store *store, const char *id, hitl_run *out) {
  hitl__pg *s = (hitl__pg *)store;
  hitl__pg_params p = {0};
  hitl__pg_text(&p, id, 0);
  return hitl__pg_one(s, s->in_txn ? HITL__PG_RUN_GET_LOCK : HITL__PG_RUN_GET, &p, sizeof *out,
                      read_run, "run_get", out);
}

int hitl__pg_run_list(hitl_store *store, int state, int64_t before_seq, size_t limit,
                      hitl_run **out, size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, before_seq);
  hitl__pg_int(&p, clamp_limit(limit));
  hitl__pg_int(&p, state);
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_RUN_LIST, &p, sizeof **out, read_run,
                            "run_list", &rows, n);
  *out = rows;
  return rc;
}

int hitl__pg_run_due(hitl_store *store, int64_t now, size_t limit, hitl_run **out, size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, now);
  hitl__pg_int(&p, clamp_limit(limit));
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_RUN_DUE, &p, sizeof **out, read_run,
                            "run_due", &rows, n);
  *out = rows;
  return rc;
}

int hitl__pg_run_next_due(hitl_store *store, int64_t *at) {
  PGresult *r = NULL;
  *at = 0;
  int rc = hitl__pg_exec((hitl__pg *)store, HITL__PG_RUN_NEXT_DUE, NULL, "run_next_due", &r);
  if (rc) return rc;
  if (PQntuples(r) > 0) *at = hitl__pg_col_int(r, 0, 0);
  PQclear(r);
  return 0;
}

int hitl__pg_run_step_insert(hitl_store *store, hitl_run_step *st) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, st->run_seq);
  hitl__pg_int(&p, st->n);
  hitl__pg_text(&p, st->text, 0);
  hitl__pg_text(&p, st->data, 0);
  hitl__pg_int(&p, st->created_at);
  PGresult *r = NULL;
  int rc = hitl__pg_exec((hitl__pg *)store, HITL__PG_RUN_STEP_INSERT, &p, "run_step_insert", &r);
  if (rc) return rc;
  st->seq = PQntuples(r) > 0 ? hitl__pg_col_int(r, 0, 0) : 0;
  PQclear(r);
  return 0;
}

static void read_step(const PGresult *r, int i, void *row) {
  hitl_run_step *st = row;
  st->seq = hitl__pg_col_int(r, i, 0);
  st->run_seq = hitl__pg_col_int(r, i, 1);
  st->n = hitl__pg_col_int(r, i, 2);
  st->text = hitl__pg_col_text(r, i, 3);
  st->data = hitl__pg_col_text(r, i, 4);
  st->created_at = hitl__pg_col_int(r, i, 5);
}

int hitl__pg_run_step_list(hitl_store *store, int64_t run_seq, int64_t before_seq, size_t limit,
                           hitl_run_step **out, size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, run_seq);
  hitl__pg_int(&p, before_seq);
  hitl__pg_int(&p, clamp_limit(limit));
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_RUN_STEP_LIST, &p, sizeof **out, read_step,
                            "run_step_list", &rows, n);
  *out = rows;
  return rc;
}

int hitl__pg_run_command_insert(hitl_store *store, const hitl_run_command *c) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, c->run_seq);
  hitl__pg_int(&p, c->seq);
  hitl__pg_int(&p, c->type);
  hitl__pg_text(&p, c->goal, 0);
  hitl__pg_text(&p, c->actor, 0);
  hitl__pg_int(&p, c->created_at);
  hitl__pg_int(&p, c->acked_at);
  PGresult *r = NULL;
  int rc = hitl__pg_exec((hitl__pg *)store, HITL__PG_RUN_COMMAND_INSERT, &p, "run_command_insert",
                         &r);
  PQclear(r);
  return rc;
}

static void read_command(const PGresult *r, int i, void *row) {
  hitl_run_command *c = row;
  c->run_seq = hitl__pg_col_int(r, i, 0);
  c->seq = hitl__pg_col_int(r, i, 1);
  c->type = (hitl_run_command_type)hitl__pg_col_int(r, i, 2);
  c->goal = hitl__pg_col_text(r, i, 3);
  c->actor = hitl__pg_col_text(r, i, 4);
  c->created_at = hitl__pg_col_int(r, i, 5);
  c->acked_at = hitl__pg_col_int(r, i, 6);
}

int hitl__pg_run_command_list(hitl_store *store, int64_t run_seq, int64_t after, bool pending_only,
                              size_t limit, hitl_run_command **out, size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, run_seq);
  hitl__pg_int(&p, after);
  hitl__pg_bool(&p, pending_only);
  hitl__pg_int(&p, clamp_limit(limit));
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_RUN_COMMAND_LIST, &p, sizeof **out,
                            read_command, "run_command_list", &rows, n);
  *out = rows;
  return rc;
}

int hitl__pg_run_command_ack(hitl_store *store, int64_t run_seq, int64_t seq, int64_t at) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, run_seq);
  hitl__pg_int(&p, seq);
  hitl__pg_int(&p, at);
  return hitl__pg_change((hitl__pg *)store, HITL__PG_RUN_COMMAND_ACK, &p, "run_command_ack");
}

int hitl__pg_run_open_tasks(hitl_store *store, const char *run_id, size_t limit, hitl_task **out,
                            size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_text(&p, run_id, 0);
  hitl__pg_int(&p, clamp_limit(limit));
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_RUN_OPEN_TASKS, &p, sizeof **out,
                            hitl__pg_read_task, "run_open_tasks", &rows, n);
  *out = rows;
  return rc;
}
