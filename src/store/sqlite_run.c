/* SPDX-License-Identifier: MIT */
/* The SQLite backend's agent runs: runs, their steps and commands, the lost-run due list. */
#include <stdlib.h>

#include "store/sqlite.h"

/* Limits of listings are bound as integers: a caller's huge limit must not wrap negative. */
static sqlite3_int64 limit_of(size_t limit) {
  return limit > (size_t)INT32_MAX ? INT32_MAX : (sqlite3_int64)limit;
}

int hitl__sqlite_run_insert(hitl_store *store, hitl_run *r) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RUN_INSERT);
  hitl__sqlite_bind_text(st, 1, r->id, 0);
  hitl__sqlite_bind_text(st, 2, r->agent, 0);
  hitl__sqlite_bind_text(st, 3, r->goal, 0);
  hitl__sqlite_bind_text(st, 4, r->metadata, 0);
  hitl__sqlite_bind_text(st, 5, r->owner, 0);
  sqlite3_bind_int(st, 6, (int)r->state);
  sqlite3_bind_int(st, 7, (int)r->lost_from);
  sqlite3_bind_int(st, 8, r->heartbeat_seconds);
  sqlite3_bind_int64(st, 9, r->created_at);
  sqlite3_bind_int64(st, 10, r->updated_at);
  sqlite3_bind_int64(st, 11, r->last_heartbeat_at);
  sqlite3_bind_int64(st, 12, r->heartbeat_due_at);
  sqlite3_bind_int64(st, 13, r->ended_at);
  sqlite3_bind_int64(st, 14, r->steps);
  sqlite3_bind_int64(st, 15, r->commands);
  sqlite3_bind_int64(st, 16, r->acked);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "run_insert");
  if (ret == 0) r->seq = sqlite3_last_insert_rowid(s->db);
  hitl__sqlite_done(st);
  return ret;
}

int hitl__sqlite_run_update(hitl_store *store, const hitl_run *r) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RUN_UPDATE);
  sqlite3_bind_int64(st, 1, r->seq);
  hitl__sqlite_bind_text(st, 2, r->goal, 0);
  sqlite3_bind_int(st, 3, (int)r->state);
  sqlite3_bind_int(st, 4, (int)r->lost_from);
  sqlite3_bind_int64(st, 5, r->last_heartbeat_at);
  sqlite3_bind_int64(st, 6, r->heartbeat_due_at);
  sqlite3_bind_int64(st, 7, r->ended_at);
  sqlite3_bind_int64(st, 8, r->steps);
  sqlite3_bind_int64(st, 9, r->commands);
  sqlite3_bind_int64(st, 10, r->acked);
  sqlite3_bind_int64(st, 11, r->updated_at);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "run_update");
  if (ret == 0 && sqlite3_changes(s->db) == 0) ret = HITL_ENOT_FOUND;
  hitl__sqlite_done(st);
  return ret;
}

int hitl__sqlite_run_touch(hitl_store *store, int64_t run_seq, int64_t at, int64_t due_at) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RUN_TOUCH);
  sqlite3_bind_int64(st, 1, run_seq);
  sqlite3_bind_int64(st, 2, at);
  sqlite3_bind_int64(st, 3, due_at);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "run_touch");
  hitl__sqlite_done(st);
  return ret;
}

/* Reads a run row (RUN_COLUMNS of sqlite_sql.c, in order) from st. */
static void read_run(sqlite3_stmt *st, void *row) {
  hitl_run *r = row;
  r->seq = sqlite3_column_int64(st, 0);
  hitl__sqlite_col_id(st, 1, r->id);
  r->agent = hitl__sqlite_col_text(st, 2);
  r->goal = hitl__sqlite_col_text(st, 3);
  r->metadata = hitl__sqlite_col_text(st, 4);
  r->owner = hitl__sqlite_col_text(st, 5);
  r->state = (hitl_run_state)sqlite3_column_int(st, 6);
  r->lost_from = (hitl_run_state)sqlite3_column_int(st, 7);
  r->heartbeat_seconds = sqlite3_column_int(st, 8);
  r->created_at = sqlite3_column_int64(st, 9);
  r->updated_at = sqlite3_column_int64(st, 10);
  r->last_heartbeat_at = sqlite3_column_int64(st, 11);
  r->heartbeat_due_at = sqlite3_column_int64(st, 12);
  r->ended_at = sqlite3_column_int64(st, 13);
  r->steps = sqlite3_column_int64(st, 14);
  r->commands = sqlite3_column_int64(st, 15);
  r->acked = sqlite3_column_int64(st, 16);
  r->open_tasks = sqlite3_column_int64(st, 17);
}

static void clear_run(void *row) { hitl_run_clear(row); }

int hitl__sqlite_run_get(hitl_store *store, const char *id, hitl_run *out) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RUN_GET);
  hitl__sqlite_bind_text(st, 1, id, 0);
  return hitl__sqlite_one(s, st, sizeof *out, read_run, "run_get", out);
}

int hitl__sqlite_run_list(hitl_store *store, int state, int64_t before_seq, size_t limit,
                          hitl_run **out, size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, state >= 0 ? HITL__ST_RUN_LIST_STATE : HITL__ST_RUN_LIST);
  sqlite3_bind_int64(st, 1, before_seq);
  sqlite3_bind_int64(st, 2, limit_of(limit));
  if (state >= 0) sqlite3_bind_int(st, 3, state);
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, read_run, clear_run, "run_list", &rows, n);
  *out = rows;
  return rc;
}

int hitl__sqlite_run_due(hitl_store *store, int64_t now, size_t limit, hitl_run **out, size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RUN_DUE);
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int64(st, 2, limit_of(limit));
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, read_run, clear_run, "run_due", &rows, n);
  *out = rows;
  return rc;
}

int hitl__sqlite_run_next_due(hitl_store *store, int64_t *at) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RUN_NEXT_DUE);
  int rc = sqlite3_step(st), ret = 0;
  *at = 0;
  if (rc == SQLITE_ROW)
    *at = sqlite3_column_int64(st, 0); /* MIN() of no rows is NULL, read as 0. */
  else
    ret = hitl__sqlite_fail(s, rc, "run_next_due");
  hitl__sqlite_done(st);
  return ret;
}

int hitl__sqlite_run_step_insert(hitl_store *store, hitl_run_step *step) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RUN_STEP_INSERT);
  sqlite3_bind_int64(st, 1, step->run_seq);
  sqlite3_bind_int64(st, 2, step->n);
  hitl__sqlite_bind_text(st, 3, step->text, 0);
  hitl__sqlite_bind_text(st, 4, step->data, 0);
  sqlite3_bind_int64(st, 5, step->created_at);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "run_step_insert");
  if (ret == 0) step->seq = sqlite3_last_insert_rowid(s->db);
  hitl__sqlite_done(st);
  return ret;
}

static void read_step(sqlite3_stmt *st, void *row) {
  hitl_run_step *p = row;
  p->seq = sqlite3_column_int64(st, 0);
  p->run_seq = sqlite3_column_int64(st, 1);
  p->n = sqlite3_column_int64(st, 2);
  p->text = hitl__sqlite_col_text(st, 3);
  p->data = hitl__sqlite_col_text(st, 4);
  p->created_at = sqlite3_column_int64(st, 5);
}

static void clear_step(void *row) { hitl_run_step_clear(row); }

int hitl__sqlite_run_step_list(hitl_store *store, int64_t run_seq, int64_t before_seq, size_t limit,
                               hitl_run_step **out, size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RUN_STEP_LIST);
  sqlite3_bind_int64(st, 1, run_seq);
  sqlite3_bind_int64(st, 2, before_seq);
  sqlite3_bind_int64(st, 3, limit_of(limit));
  void *rows = NULL;
  int rc =
      hitl__sqlite_collect(s, st, sizeof **out, read_step, clear_step, "run_step_list", &rows, n);
  *out = rows;
  return rc;
}

int hitl__sqlite_run_command_insert(hitl_store *store, const hitl_run_command *c) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RUN_COMMAND_INSERT);
  sqlite3_bind_int64(st, 1, c->run_seq);
  sqlite3_bind_int64(st, 2, c->seq);
  sqlite3_bind_int(st, 3, (int)c->type);
  hitl__sqlite_bind_text(st, 4, c->goal, 0);
  hitl__sqlite_bind_text(st, 5, c->actor, 0);
  sqlite3_bind_int64(st, 6, c->created_at);
  sqlite3_bind_int64(st, 7, c->acked_at);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "run_command_insert");
  hitl__sqlite_done(st);
  return ret;
}

static void read_command(sqlite3_stmt *st, void *row) {
  hitl_run_command *c = row;
  c->run_seq = sqlite3_column_int64(st, 0);
  c->seq = sqlite3_column_int64(st, 1);
  c->type = (hitl_run_command_type)sqlite3_column_int(st, 2);
  c->goal = hitl__sqlite_col_text(st, 3);
  c->actor = hitl__sqlite_col_text(st, 4);
  c->created_at = sqlite3_column_int64(st, 5);
  c->acked_at = sqlite3_column_int64(st, 6);
}

static void clear_command(void *row) { hitl_run_command_clear(row); }

int hitl__sqlite_run_command_list(hitl_store *store, int64_t run_seq, int64_t after,
                                  bool pending_only, size_t limit, hitl_run_command **out,
                                  size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RUN_COMMAND_LIST);
  sqlite3_bind_int64(st, 1, run_seq);
  sqlite3_bind_int64(st, 2, after);
  sqlite3_bind_int(st, 3, pending_only ? 1 : 0);
  sqlite3_bind_int64(st, 4, limit_of(limit));
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, read_command, clear_command,
                                "run_command_list", &rows, n);
  *out = rows;
  return rc;
}

int hitl__sqlite_run_command_ack(hitl_store *store, int64_t run_seq, int64_t seq, int64_t at) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RUN_COMMAND_ACK);
  sqlite3_bind_int64(st, 1, run_seq);
  sqlite3_bind_int64(st, 2, seq);
  sqlite3_bind_int64(st, 3, at);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "run_command_ack");
  if (ret == 0 && sqlite3_changes(s->db) == 0) ret = HITL_ENOT_FOUND;
  hitl__sqlite_done(st);
  return ret;
}

static void clear_task(void *row) { hitl_task_clear(row); }

int hitl__sqlite_run_open_tasks(hitl_store *store, const char *run_id, size_t limit,
                                hitl_task **out, size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RUN_OPEN_TASKS);
  hitl__sqlite_bind_text(st, 1, run_id, 0);
  sqlite3_bind_int64(st, 2, limit_of(limit));
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, hitl__sqlite_read_task, clear_task,
                                "run_open_tasks", &rows, n);
  *out = rows;
  return rc;
}
