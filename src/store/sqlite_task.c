/* SPDX-License-Identifier: MIT */
/* The SQLite backend's task functions: insert, update, look-ups, claim, listings and timers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/sqlite.h"
#include "util/xmalloc.h"

/* Fills t from a row whose first columns are HITL__TASK_COLUMNS. */
static void read_task(sqlite3_stmt *st, hitl_task *t) {
  memset(t, 0, sizeof *t);
  t->seq = sqlite3_column_int64(st, 0);
  hitl__sqlite_col_id(st, 1, t->id);
  t->queue_id = sqlite3_column_int64(st, 2);
  t->queue = hitl__sqlite_col_text(st, 3);
  t->state = (hitl_task_state)sqlite3_column_int(st, 4);
  t->role = hitl__sqlite_col_text(st, 5);
  t->priority = sqlite3_column_int(st, 6);
  t->created_at = sqlite3_column_int64(st, 7);
  t->updated_at = sqlite3_column_int64(st, 8);
  t->deadline_at = sqlite3_column_int64(st, 9);
  t->idempotency_key = hitl__sqlite_col_text(st, 10);
  hitl__sqlite_col_hash(st, 11, t->body_hash);
  t->external_id = hitl__sqlite_col_text(st, 12);
  t->model_version = hitl__sqlite_col_text(st, 13);
  t->inference_id = hitl__sqlite_col_text(st, 14);
  t->run_id = hitl__sqlite_col_text(st, 15);
  t->has_confidence = sqlite3_column_type(st, 16) != SQLITE_NULL;
  t->confidence = t->has_confidence ? sqlite3_column_double(st, 16) : 0.0;
  t->payload = hitl__sqlite_col_text(st, 17);
  t->route = hitl__sqlite_col_text(st, 18);
  t->stage = sqlite3_column_int(st, 19);
  t->needed = sqlite3_column_int(st, 20);
  t->answers = sqlite3_column_int(st, 21);
  hitl__sqlite_col_id(st, 22, t->lease_id);
  t->lease_owner = hitl__sqlite_col_text(st, 23);
  t->lease_expires_at = sqlite3_column_int64(st, 24);
  t->decision = hitl__sqlite_col_text(st, 25);
  t->decided_by = hitl__sqlite_col_text(st, 26);
  t->decided_at = sqlite3_column_int64(st, 27);
  t->submitted_by = hitl__sqlite_col_text(st, 28);
  t->timeout_action = sqlite3_column_int(st, 29);
}

void hitl__sqlite_read_task(sqlite3_stmt *st, void *row) { read_task(st, row); }

/* Steps a statement expected to give at most one task row. */
static int one_task(hitl__sqlite *s, sqlite3_stmt *st, hitl_task *out, const char *what) {
  return hitl__sqlite_one(s, st, sizeof *out, hitl__sqlite_read_task, what, out);
}

/* A growable array of tasks. */
typedef struct task_vec {
  hitl_task *v;
  size_t len, cap;
} task_vec;

static hitl_task *task_vec_push(task_vec *tv) {
  if (tv->len == tv->cap) {
    tv->cap = tv->cap ? tv->cap * 2 : 16;
    tv->v = hitl_xrealloc(tv->v, tv->cap * sizeof *tv->v);
  }
  return &tv->v[tv->len++];
}

static void task_vec_free(task_vec *tv) {
  for (size_t i = 0; i < tv->len; i++) hitl_task_clear(&tv->v[i]);
  free(tv->v);
  memset(tv, 0, sizeof *tv);
}

/* Appends every row of st to tv, then resets st. On failure tv keeps what it read. */
static int read_tasks(hitl__sqlite *s, sqlite3_stmt *st, task_vec *tv, const char *what) {
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) read_task(st, task_vec_push(tv));
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, what);
  hitl__sqlite_done(st);
  return ret;
}

static int64_t clamp_limit(size_t limit) { return limit > INT64_MAX ? INT64_MAX : (int64_t)limit; }

int hitl__sqlite_task_insert(hitl_store *store, hitl_task *t) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_TASK_INSERT);
  sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, t->queue_id);
  sqlite3_bind_int(st, 3, (int)t->state);
  hitl__sqlite_bind_text(st, 4, t->role, 0);
  sqlite3_bind_int(st, 5, t->priority);
  sqlite3_bind_int64(st, 6, t->created_at);
  sqlite3_bind_int64(st, 7, t->updated_at);
  sqlite3_bind_int64(st, 8, t->deadline_at);
  hitl__sqlite_bind_text(st, 9, t->idempotency_key, 0);
  sqlite3_bind_blob(st, 10, t->body_hash, HITL_HASH_LEN, SQLITE_STATIC);
  hitl__sqlite_bind_text(st, 11, t->external_id, 0);
  hitl__sqlite_bind_text(st, 12, t->model_version, 0);
  hitl__sqlite_bind_text(st, 13, t->inference_id, 0);
  hitl__sqlite_bind_text(st, 14, t->run_id, 0);
  if (t->has_confidence)
    sqlite3_bind_double(st, 15, t->confidence);
  else
    sqlite3_bind_null(st, 15);
  hitl__sqlite_bind_text(st, 16, t->payload, 0);
  hitl__sqlite_bind_text(st, 17, t->route, 0);
  sqlite3_bind_int(st, 18, t->stage);
  sqlite3_bind_int(st, 19, t->needed);
  sqlite3_bind_int(st, 20, t->answers);
  hitl__sqlite_bind_text(st, 21, t->lease_id, 1);
  hitl__sqlite_bind_text(st, 22, t->lease_owner, 0);
  sqlite3_bind_int64(st, 23, t->lease_expires_at);
  hitl__sqlite_bind_text(st, 24, t->decision, 0);
  hitl__sqlite_bind_text(st, 25, t->decided_by, 0);
  sqlite3_bind_int64(st, 26, t->decided_at);
  hitl__sqlite_bind_text(st, 27, t->submitted_by, 0);
  sqlite3_bind_int(st, 28, t->timeout_action);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "task_insert");
  hitl__sqlite_done(st);
  if (ret == 0) t->seq = sqlite3_last_insert_rowid(s->db);
  return ret;
}

int hitl__sqlite_task_update(hitl_store *store, const hitl_task *t) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_TASK_UPDATE);
  sqlite3_bind_int64(st, 1, t->seq);
  sqlite3_bind_int(st, 2, (int)t->state);
  hitl__sqlite_bind_text(st, 3, t->role, 0);
  sqlite3_bind_int(st, 4, t->priority);
  sqlite3_bind_int(st, 5, t->stage);
  sqlite3_bind_int(st, 6, t->needed);
  sqlite3_bind_int(st, 7, t->answers);
  hitl__sqlite_bind_text(st, 8, t->lease_id, 1);
  hitl__sqlite_bind_text(st, 9, t->lease_owner, 0);
  sqlite3_bind_int64(st, 10, t->lease_expires_at);
  sqlite3_bind_int64(st, 11, t->deadline_at);
  hitl__sqlite_bind_text(st, 12, t->decision, 0);
  hitl__sqlite_bind_text(st, 13, t->decided_by, 0);
  sqlite3_bind_int64(st, 14, t->decided_at);
  sqlite3_bind_int64(st, 15, t->updated_at);
  int rc = sqlite3_step(st);
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "task_update");
  hitl__sqlite_done(st);
  if (ret == 0 && sqlite3_changes(s->db) == 0) ret = HITL_ENOT_FOUND;
  return ret;
}

int hitl__sqlite_task_get(hitl_store *store, const char *id, hitl_task *out) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_TASK_GET);
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  return one_task(s, st, out, "task_get");
}

int hitl__sqlite_task_get_idempotent(hitl_store *store, int64_t queue_id, const char *submitter,
                                     const char *key, hitl_task *out) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_TASK_IDEMPOTENT);
  sqlite3_bind_int64(st, 1, queue_id);
  sqlite3_bind_text(st, 2, submitter ? submitter : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, key, -1, SQLITE_STATIC);
  return one_task(s, st, out, "task_get_idempotent");
}

int hitl__sqlite_task_claim_next(hitl_store *store, const hitl_claim_filter *f, hitl_task *out) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  hitl__store_claim_roles(f, &s->scratch);
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_TASK_CLAIM);
  sqlite3_bind_int64(st, 1, f->queue_id);
  sqlite3_bind_int(st, 2, f->any_role ? 1 : 0);
  sqlite3_bind_text(st, 3, hitl_buf_cstr(&s->scratch), (int)s->scratch.len, SQLITE_STATIC);
  hitl__sqlite_bind_text(st, 4, f->reviewer, 0);
  return one_task(s, st, out, "task_claim_next");
}

int hitl__sqlite_task_scan(hitl_store *store, const hitl_task_scan *f, size_t limit,
                           hitl_task **out, size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  task_vec tv = {0};
  int form = f->decided_since > 0 ? 2 : f->state >= 0 ? 1 : 0;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_TASK_SCAN + form + (f->summary ? 3 : 0));
  sqlite3_bind_int64(st, 1, f->queue_id);
  sqlite3_bind_int64(st, 2, f->before_seq > 0 ? f->before_seq : INT64_MAX);
  sqlite3_bind_int64(st, 3, clamp_limit(limit));
  if (form == 1) sqlite3_bind_int(st, 4, f->state);
  if (form == 2) {
    sqlite3_bind_int64(st, 4, f->decided_since);
    sqlite3_bind_int64(st, 5, f->before_seq > 0 ? f->before_decided_at : INT64_MAX);
  }
  int ret = read_tasks(s, st, &tv, "task_scan");
  if (ret != 0) task_vec_free(&tv);
  *out = tv.v;
  *n = tv.len;
  return ret;
}

/* Reads the rows of a due query (task columns, then the due time) into tv and times. */
static int read_due(hitl__sqlite *s, sqlite3_stmt *st, task_vec *tv, int64_t **times) {
  size_t cap = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    read_task(st, task_vec_push(tv));
    if (tv->len > cap) {
      cap = tv->cap;
      *times = hitl_xrealloc(*times, cap * sizeof **times);
    }
    (*times)[tv->len - 1] = sqlite3_column_int64(st, 30);
  }
  int ret = rc == SQLITE_DONE ? 0 : hitl__sqlite_fail(s, rc, "task_due");
  hitl__sqlite_done(st);
  return ret;
}

int hitl__sqlite_task_due(hitl_store *store, int64_t now, size_t limit, hitl_task **out,
                          size_t *n) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  /* Two index range scans (expired leases, passed deadlines), each already in time order and each
   * cut at limit, merged here. A task in both lists is taken once, at its earlier time; the first
   * limit tasks of the merge are the first limit overall, because a task's rank in its own list is
   * never worse than its rank in the merge. */
  task_vec lease = {0}, deadline = {0}, merged = {0};
  int64_t *lease_at = NULL, *deadline_at = NULL;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_TASK_DUE_LEASE);
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int64(st, 2, clamp_limit(limit));
  int ret = read_due(s, st, &lease, &lease_at);
  if (ret != 0) goto cleanup;
  st = hitl__sqlite_stmt(s, HITL__ST_TASK_DUE_DEADLINE);
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int64(st, 2, clamp_limit(limit));
  ret = read_due(s, st, &deadline, &deadline_at);
  if (ret != 0) goto cleanup;

  size_t i = 0, j = 0;
  while (merged.len < limit && (i < lease.len || j < deadline.len)) {
    bool from_lease = j == deadline.len || (i < lease.len && lease_at[i] <= deadline_at[j]);
    hitl_task *t = from_lease ? &lease.v[i++] : &deadline.v[j++];
    bool seen = false;
    for (size_t k = 0; k < merged.len && !seen; k++) seen = merged.v[k].seq == t->seq;
    if (seen) continue; /* Left in its list, freed there. */
    *task_vec_push(&merged) = *t;
    memset(t, 0, sizeof *t); /* Ownership moved to merged. */
  }
cleanup:
  if (ret != 0) task_vec_free(&merged);
  task_vec_free(&lease);
  task_vec_free(&deadline);
  free(lease_at);
  free(deadline_at);
  *out = merged.v;
  *n = merged.len;
  return ret;
}

int hitl__sqlite_task_next_due(hitl_store *store, int64_t *at) {
  hitl__sqlite *s = (hitl__sqlite *)store;
  sqlite3_stmt *st = hitl__sqlite_stmt(s, HITL__ST_TASK_NEXT_DUE);
  int rc = sqlite3_step(st), ret = 0;
  *at = 0;
  if (rc == SQLITE_ROW) {
    for (int c = 0; c < 2; c++) {
      if (sqlite3_column_type(st, c) == SQLITE_NULL) continue;
      int64_t v = sqlite3_column_int64(st, c);
      if (*at == 0 || v < *at) *at = v;
    }
  } else {
    ret = hitl__sqlite_fail(s, rc, "task_next_due");
  }
  hitl__sqlite_done(st);
  return ret;
}

