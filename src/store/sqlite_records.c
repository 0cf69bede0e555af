/* SPDX-License-Identifier: MIT */
/* The SQLite backend's append-mostly records: responses, the event log and tokens. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite.h"
#include "util/xmalloc.h"

/* ---- Responses ---- */

int hitl__sqlite_response_insert(hitl_store *store, hitl_response *r) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RESPONSE_INSERT);
  sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, r->task_seq);
  hitl__sqlite_bind_text(st, 3, r->reviewer, 0);
  sqlite3_bind_int(st, 4, r->stage);
  hitl__sqlite_bind_text(st, 5, r->question, 0);
  hitl__sqlite_bind_text(st, 6, r->kind, 0);
  hitl__sqlite_bind_text(st, 7, r->value, 0);
  hitl__sqlite_bind_text(st, 8, r->comment, 0);
  sqlite3_bind_int64(st, 9, r->time_spent_ms);
  sqlite3_bind_int64(st, 10, r->created_at);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "response_insert");
  hitl__sqlite_done(st);
  if (ret == 0) r->seq = sqlite3_last_insert_rowid(s->db);
  return ret;
}

/* Reads a response row (columns as in RESPONSE_LIST). */
static void read_response(sqlite3_stmt *st, void *row) {
  hitl_response *r = row;
  r->seq = sqlite3_column_int64(st, 0);
  hitl__sqlite_col_id(st, 1, r->id);
  r->task_seq = sqlite3_column_int64(st, 2);
  r->reviewer = hitl__sqlite_col_text(st, 3);
  r->stage = sqlite3_column_int(st, 4);
  r->question = hitl__sqlite_col_text(st, 5);
  r->kind = hitl__sqlite_col_text(st, 6);
  r->value = hitl__sqlite_col_text(st, 7);
  r->comment = hitl__sqlite_col_text(st, 8);
  r->time_spent_ms = sqlite3_column_int64(st, 9);
  r->created_at = sqlite3_column_int64(st, 10);
}

/* The same, followed by the task's id and queue name (RESPONSE_BY_REVIEWER). */
static void read_response_with_task(sqlite3_stmt *st, void *row) {
  hitl_response *r = row;
  read_response(st, r);
  hitl__sqlite_col_id(st, 11, r->task_id);
  r->queue = hitl__sqlite_col_text(st, 12);
}

static void clear_response(void *row) { hitl_response_clear(row); }

int hitl__sqlite_response_list(hitl_store *store, int64_t task_seq, hitl_response **out,
                               size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RESPONSE_LIST);
  sqlite3_bind_int64(st, 1, task_seq);
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, read_response, clear_response, "response_list",
                              &rows, n);
  *out = rows;
  return rc;
}

int hitl__sqlite_response_list_many(hitl_store *store, const int64_t *task_seqs, size_t n_tasks,
                                    hitl_response **out, size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  *out = NULL;
  *n = 0;
  if (n_tasks == 0) return 0;
  if (n_tasks > HITL_STORE_MANY) return HITL_EVALIDATION;
  hitl__store_seq_list(&s->scratch, task_seqs, n_tasks, '[', ']');
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RESPONSE_LIST_MANY);
  sqlite3_bind_text(st, 1, hitl_buf_cstr(&s->scratch), (int)s->scratch.len, SQLITE_STATIC);
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, read_response, clear_response,
                                "response_list_many", &rows, n);
  *out = rows;
  return rc;
}

int hitl__sqlite_response_list_by_reviewer(hitl_store *store, const char *reviewer,
                                           int64_t before_seq, size_t limit, hitl_response **out,
                                           size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RESPONSE_BY_REVIEWER);
  sqlite3_bind_text(st, 1, reviewer, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, before_seq > 0 ? before_seq : INT64_MAX);
  sqlite3_bind_int64(st, 3, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, read_response_with_task, clear_response,
                              "response_list_by_reviewer", &rows, n);
  *out = rows;
  return rc;
}

/* Runs statement id, a count over one reviewer's responses at or after since, into *n. */
static int count_by_reviewer(hitl_store *store, hitl__sqlite_stmt_id id, const char *what,
                             const char *reviewer, int64_t since, int64_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, id);
  sqlite3_bind_text(st, 1, reviewer, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, since);
  int rc = sqlite3_step(st);
  *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  int ret = rc == SQLITE_ROW ? 0 : hitl__sqlite_fail(s, rc, what);
  hitl__sqlite_done(st);
  return ret;
}

int hitl__sqlite_response_count_by_reviewer(hitl_store *store, const char *reviewer, int64_t since,
                                            int64_t *n) {
  return count_by_reviewer(store, HITL__ST_RESPONSE_COUNT_REVIEWER, "response_count_by_reviewer",
                           reviewer, since, n);
}

int hitl__sqlite_task_count_by_reviewer(hitl_store *store, const char *reviewer, int64_t since,
                                        int64_t *n) {
  return count_by_reviewer(store, HITL__ST_TASK_COUNT_REVIEWER, "task_count_by_reviewer", reviewer,
                           since, n);
}


static void read_activity(sqlite3_stmt *st, void *row) {
  hitl_reviewer_count *c = row;
  c->reviewer = hitl__sqlite_col_text(st, 0);
  c->responses = sqlite3_column_int64(st, 1);
}

static void clear_activity(void *row) { free(((hitl_reviewer_count *)row)->reviewer); }

int hitl__sqlite_reviewer_activity(hitl_store *store, int64_t since, hitl_reviewer_count **out,
                                   size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_REVIEWER_ACTIVITY);
  sqlite3_bind_int64(st, 1, since);
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, read_activity, clear_activity,
                              "reviewer_activity", &rows, n);
  *out = rows;
  return rc;
}

int hitl__sqlite_response_exists(hitl_store *store, int64_t task_seq, const char *reviewer,
                                 bool *exists) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_RESPONSE_EXISTS);
  sqlite3_bind_int64(st, 1, task_seq);
  sqlite3_bind_text(st, 2, reviewer, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int ret = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? 0
                                                    : hitl__sqlite_fail(s, rc, "response_exists");
  *exists = rc == SQLITE_ROW;
  hitl__sqlite_done(st);
  return ret;
}

/* ---- Events ---- */

int hitl__sqlite_event_last(hitl_store *store, int64_t *seq, uint8_t hash[HITL_HASH_LEN]) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_EVENT_LAST);
  int rc = sqlite3_step(st), ret = 0;
  *seq = 0;
  memset(hash, 0, HITL_HASH_LEN);
  if (rc == SQLITE_ROW) {
    *seq = sqlite3_column_int64(st, 0);
    hitl__sqlite_col_hash(st, 1, hash);
  } else if (rc != SQLITE_DONE) {
    ret = hitl__sqlite_fail(s, rc, "event_last");
  }
  hitl__sqlite_done(st);
  return ret;
}

int hitl__sqlite_event_insert(hitl_store *store, const hitl_event *e) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_EVENT_INSERT);
  sqlite3_bind_int64(st, 1, e->seq);
  sqlite3_bind_int64(st, 2, e->at);
  hitl__sqlite_bind_text(st, 3, e->type, 0);
  hitl__sqlite_bind_text(st, 4, e->queue, 0);
  hitl__sqlite_bind_text(st, 5, e->task_id, 0);
  hitl__sqlite_bind_text(st, 6, e->actor, 0);
  hitl__sqlite_bind_text(st, 7, e->data, 0);
  sqlite3_bind_blob(st, 8, e->prev_hash, HITL_HASH_LEN, SQLITE_STATIC);
  sqlite3_bind_blob(st, 9, e->hash, HITL_HASH_LEN, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "event_insert");
  hitl__sqlite_done(st);
  return ret;
}

/* Reads an event row (columns as in EVENT_LIST). */
static void read_event(sqlite3_stmt *st, void *row) {
  hitl_event *e = row;
  e->seq = sqlite3_column_int64(st, 0);
  e->at = sqlite3_column_int64(st, 1);
  e->type = hitl__sqlite_col_text(st, 2);
  e->queue = hitl__sqlite_col_text(st, 3);
  e->task_id = hitl__sqlite_col_text(st, 4);
  e->actor = hitl__sqlite_col_text(st, 5);
  e->data = hitl__sqlite_col_text(st, 6);
  hitl__sqlite_col_hash(st, 7, e->prev_hash);
  hitl__sqlite_col_hash(st, 8, e->hash);
}

static void clear_event(void *row) { hitl_event_clear(row); }

int hitl__sqlite_event_list(hitl_store *store, int64_t after, size_t limit, hitl_event **out,
                            size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_EVENT_LIST);
  sqlite3_bind_int64(st, 1, after);
  sqlite3_bind_int64(st, 2, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, read_event, clear_event, "event_list",
                              &rows, n);
  *out = rows;
  return rc;
}

int hitl__sqlite_event_find(hitl_store *store, int64_t after, const hitl_event_filter *f,
                            size_t limit, hitl_event **out, size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  bool back = f->before > 0;
  sqlite3_stmt *st = hitl__sqlite_stmt(
      s, f->task_id ? (back ? HITL__ST_EVENT_FIND_TASK_BACK : HITL__ST_EVENT_FIND_TASK)
                    : (back ? HITL__ST_EVENT_FIND_BACK : HITL__ST_EVENT_FIND));
  sqlite3_bind_int64(st, 1, back ? f->before : after);
  hitl__sqlite_bind_text(st, 2, f->task_id, 0);
  hitl__sqlite_bind_text(st, 3, f->queue, 0);
  hitl__sqlite_bind_text(st, 4, f->actor, 0);
  hitl__sqlite_bind_text(st, 5, f->type, 0);
  sqlite3_bind_int64(st, 6, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, st, sizeof **out, read_event, clear_event, "event_find",
                              &rows, n);
  *out = rows;
  return rc;
}

/* ---- Tokens ---- */

int hitl__sqlite_token_insert(hitl_store *store, const char *name,
                              const uint8_t hash[HITL_HASH_LEN], const char *roles, int64_t now) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_TOKEN_INSERT);
  hitl__sqlite_bind_text(st, 1, name, 0);
  sqlite3_bind_blob(st, 2, hash, HITL_HASH_LEN, SQLITE_STATIC);
  hitl__sqlite_bind_text(st, 3, roles, 0);
  sqlite3_bind_int64(st, 4, now);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "token_insert");
  hitl__sqlite_done(st);
  return ret;
}

/* Reads a token row (id, name, roles, created_at, revoked) from st. */
static void read_token(sqlite3_stmt *st, void *row) {
  hitl_token_row *out = row;
  out->id = sqlite3_column_int64(st, 0);
  out->name = hitl__sqlite_col_text(st, 1);
  out->roles = hitl__sqlite_col_text(st, 2);
  out->created_at = sqlite3_column_int64(st, 3);
  out->revoked = sqlite3_column_int(st, 4) != 0;
}

int hitl__sqlite_token_find(hitl_store *store, const uint8_t hash[HITL_HASH_LEN],
                            hitl_token_row *out) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_TOKEN_FIND);
  sqlite3_bind_blob(st, 1, hash, HITL_HASH_LEN, SQLITE_STATIC);
  return hitl__sqlite_one(s, st, sizeof *out, read_token, "token_find", out);
}

int hitl__sqlite_token_revoke(hitl_store *store, const char *name) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_TOKEN_REVOKE);
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? (sqlite3_changes(s->db) > 0 ? 0 : HITL_ENOT_FOUND)
                              : hitl__sqlite_fail(s, rc, "token_revoke");
  hitl__sqlite_done(st);
  return ret;
}

static void clear_token(void *row) { hitl_token_row_clear(row); }

int hitl__sqlite_token_list(hitl_store *store, hitl_token_row **out, size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  void *rows = NULL;
  int rc = hitl__sqlite_collect(s, hitl__sqlite_stmt(s, HITL__ST_TOKEN_LIST), sizeof **out,
                              read_token, clear_token, "token_list", &rows, n);
  *out = rows;
  return rc;
}
