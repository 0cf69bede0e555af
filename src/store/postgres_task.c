/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend's task functions: insert, update, look-ups, claim, listings, timers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres.h"
#include "util/xmalloc.h"

/* Fills t (zeroed) from row i, whose first columns are HITL__TASK_COLUMNS. */
void hitl__pg_read_task(const PGresult *r, int i, void *row) {
  hitl_task *t = row;
  t->seq = hitl__pg_col_int(r, i, 0);
  hitl__pg_col_id(r, i, 1, t->id);
  t->queue_id = hitl__pg_col_int(r, i, 2);
  t->queue = hitl__pg_col_text(r, i, 3);
  t->state = (hitl_task_state)hitl__pg_col_int(r, i, 4);
  t->role = hitl__pg_col_text(r, i, 5);
  t->priority = (int)hitl__pg_col_int(r, i, 6);
  t->created_at = hitl__pg_col_int(r, i, 7);
  t->updated_at = hitl__pg_col_int(r, i, 8);
  t->deadline_at = hitl__pg_col_int(r, i, 9);
  t->idempotency_key = hitl__pg_col_text(r, i, 10);
  hitl__pg_col_hash(r, i, 11, t->body_hash);
  t->external_id = hitl__pg_col_text(r, i, 12);
  t->model_version = hitl__pg_col_text(r, i, 13);
  t->inference_id = hitl__pg_col_text(r, i, 14);
  t->run_id = hitl__pg_col_text(r, i, 15);
  t->has_confidence = !PQgetisnull(r, i, 16);
  t->confidence = t->has_confidence ? strtod(PQgetvalue(r, i, 16), NULL) : 0.0;
  t->payload = hitl__pg_col_text(r, i, 17);
  t->route = hitl__pg_col_text(r, i, 18);
  t->stage = (int)hitl__pg_col_int(r, i, 19);
  t->needed = (int)hitl__pg_col_int(r, i, 20);
  t->answers = (int)hitl__pg_col_int(r, i, 21);
  hitl__pg_col_id(r, i, 22, t->lease_id);
  t->lease_owner = hitl__pg_col_text(r, i, 23);
  t->lease_expires_at = hitl__pg_col_int(r, i, 24);
  t->decision = hitl__pg_col_text(r, i, 25);
  t->decided_by = hitl__pg_col_text(r, i, 26);
  t->decided_at = hitl__pg_col_int(r, i, 27);
  t->submitted_by = hitl__pg_col_text(r, i, 28);
  t->timeout_action = (int)hitl__pg_col_int(r, i, 29);
}

static int64_t clamp_limit(size_t limit) { return limit > INT64_MAX ? INT64_MAX : (int64_t)limit; }

int hitl__pg_task_insert(hitl_store *store, hitl_task *t) {
  hitl__pg *s = (hitl__pg *)store;
  hitl__pg_params p = {0};
  hitl__pg_text(&p, t->id, 0);
  hitl__pg_int(&p, t->queue_id);
  hitl__pg_int(&p, (int64_t)t->state);
  hitl__pg_text(&p, t->role, 0);
  hitl__pg_int(&p, t->priority);
  hitl__pg_int(&p, t->created_at);
  hitl__pg_int(&p, t->updated_at);
  hitl__pg_int(&p, t->deadline_at);
  hitl__pg_text(&p, t->idempotency_key, 0);
  hitl__pg_bytes(&p, t->body_hash, HITL_HASH_LEN);
  hitl__pg_text(&p, t->external_id, 0);
  hitl__pg_text(&p, t->model_version, 0);
  hitl__pg_text(&p, t->inference_id, 0);
  hitl__pg_text(&p, t->run_id, 0);
  hitl__pg_double(&p, t->confidence, t->has_confidence);
  hitl__pg_text(&p, t->payload, 0);
  hitl__pg_text(&p, t->route, 0);
  hitl__pg_int(&p, t->stage);
  hitl__pg_int(&p, t->needed);
  hitl__pg_int(&p, t->answers);
  hitl__pg_text(&p, t->lease_id, 1);
  hitl__pg_text(&p, t->lease_owner, 0);
  hitl__pg_int(&p, t->lease_expires_at);
  hitl__pg_text(&p, t->decision, 0);
  hitl__pg_text(&p, t->decided_by, 0);
  hitl__pg_int(&p, t->decided_at);
  hitl__pg_text(&p, t->submitted_by, 0);
  hitl__pg_int(&p, t->timeout_action);
  PGresult *r = NULL;
  int rc = hitl__pg_exec(s, HITL__PG_TASK_INSERT, &p, "task_insert", &r);
  if (rc) return rc;
  if (PQntuples(r) == 0)
    rc = HITL_ECONFLICT; /* The id or the idempotency key is taken. */
  else
    t->seq = hitl__pg_col_int(r, 0, 0);
  PQclear(r);
  return rc;
}

int hitl__pg_task_update(hitl_store *store, const hitl_task *t) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, t->seq);
  hitl__pg_int(&p, (int64_t)t->state);
  hitl__pg_text(&p, t->role, 0);
  hitl__pg_int(&p, t->priority);
  hitl__pg_int(&p, t->stage);
  hitl__pg_int(&p, t->needed);
  hitl__pg_int(&p, t->answers);
  hitl__pg_text(&p, t->lease_id, 1);
  hitl__pg_text(&p, t->lease_owner, 0);
  hitl__pg_int(&p, t->lease_expires_at);
  hitl__pg_int(&p, t->deadline_at);
  hitl__pg_text(&p, t->decision, 0);
  hitl__pg_text(&p, t->decided_by, 0);
  hitl__pg_int(&p, t->decided_at);
  hitl__pg_int(&p, t->updated_at);
  return hitl__pg_write((hitl__pg *)store, HITL__PG_TASK_UPDATE, &p, true, "task_update");
}

int hitl__pg_task_get(hitl_store *store, const char *id, hitl_task *out) {
  hitl__pg *s = (hitl__pg *)store;
  hitl__pg_params p = {0};
  hitl__pg_text(&p, id, 0);
  return hitl__pg_one(s, s->in_txn ? HITL__PG_TASK_GET_LOCK : HITL__PG_TASK_GET, &p, sizeof *out,
                      hitl__pg_read_task, "task_get", out);
}

int hitl__pg_task_get_idempotent(hitl_store *store, int64_t queue_id, const char *submitter,
                                 const char *key, hitl_task *out) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, queue_id);
  hitl__pg_text(&p, submitter ? submitter : "", 0);
  hitl__pg_text(&p, key, 0);
  return hitl__pg_one((hitl__pg *)store, HITL__PG_TASK_IDEMPOTENT, &p, sizeof *out, hitl__pg_read_task,
                      "task_get_idempotent", out);
}

int hitl__pg_task_claim_next(hitl_store *store, const hitl_claim_filter *f, hitl_task *out) {
  hitl__pg *s = (hitl__pg *)store;
  hitl__store_claim_roles(f, &s->scratch);
  hitl__pg_params p = {0};
  hitl__pg_int(&p, f->queue_id);
  hitl__pg_bool(&p, f->any_role);
  hitl__pg_text(&p, hitl_buf_cstr(&s->scratch), 0);
  hitl__pg_text(&p, f->reviewer, 0);
  return hitl__pg_one(s, HITL__PG_TASK_CLAIM, &p, sizeof *out, hitl__pg_read_task, "task_claim_next", out);
}

int hitl__pg_task_scan(hitl_store *store, const hitl_task_scan *f, size_t limit, hitl_task **out,
                       size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, f->queue_id);
  hitl__pg_int(&p, f->before_seq > 0 ? f->before_seq : INT64_MAX);
  hitl__pg_int(&p, clamp_limit(limit));
  int form = f->decided_since > 0 ? 2 : f->state >= 0 ? 1 : 0;
  if (form == 1) hitl__pg_int(&p, f->state);
  if (form == 2) {
    hitl__pg_int(&p, f->decided_since);
    hitl__pg_int(&p, f->before_seq > 0 ? f->before_decided_at : INT64_MAX);
  }
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store,
                            (hitl__pg_stmt_id)(HITL__PG_TASK_SCAN + form + (f->summary ? 3 : 0)),
                            &p, sizeof **out, hitl__pg_read_task, "task_scan", &rows, n);
  *out = rows;
  return rc;
}

/* A task with the time it is due (the last column of the due queries). */
typedef struct due_task {
  hitl_task t;
  int64_t at;
} due_task;

static void read_due(const PGresult *r, int i, void *row) {
  due_task *d = row;
  hitl__pg_read_task(r, i, &d->t);
  d->at = hitl__pg_col_int(r, i, 30);
}

static void free_due(due_task *v, size_t n) {
  for (size_t i = 0; i < n; i++) hitl_task_clear(&v[i].t);
  free(v);
}

int hitl__pg_task_due(hitl_store *store, int64_t now, size_t limit, hitl_task **out, size_t *n) {
  hitl__pg *s = (hitl__pg *)store;
  *out = NULL;
  *n = 0;
  /* Expired leases and passed deadlines, each in time order and cut at limit, merged (as the
   * SQLite backend does: a task in both lists is taken once, at its earlier time). */
  hitl__pg_params p = {0};
  hitl__pg_int(&p, now);
  hitl__pg_int(&p, clamp_limit(limit));
  void *rows = NULL;
  due_task *lease = NULL, *deadline = NULL;
  size_t n_lease = 0, n_deadline = 0;
  int rc = hitl__pg_collect(s, HITL__PG_TASK_DUE_LEASE, &p, sizeof *lease, read_due, "task_due",
                            &rows, &n_lease);
  lease = rows;
  if (rc == 0)
    rc = hitl__pg_collect(s, HITL__PG_TASK_DUE_DEADLINE, &p, sizeof *deadline, read_due,
                          "task_due", &rows, &n_deadline);
  deadline = rc == 0 ? rows : NULL;
  hitl_task *merged = NULL;
  size_t len = 0;
  if (rc == 0 && n_lease + n_deadline > 0) {
    merged = hitl_xcalloc(n_lease + n_deadline, sizeof *merged);
    size_t i = 0, j = 0;
    while (len < limit && (i < n_lease || j < n_deadline)) {
      bool from_lease = j == n_deadline || (i < n_lease && lease[i].at <= deadline[j].at);
      hitl_task *t = from_lease ? &lease[i++].t : &deadline[j++].t;
      bool seen = false;
      for (size_t k = 0; k < len && !seen; k++) seen = merged[k].seq == t->seq;
      if (seen) continue; /* Left in its list, freed there. */
      merged[len++] = *t;
      memset(t, 0, sizeof *t); /* Ownership moved to merged. */
    }
  }
  free_due(lease, n_lease);
  free_due(deadline, n_deadline);
  *out = merged;
  *n = len;
  return rc;
}

int hitl__pg_task_next_due(hitl_store *store, int64_t *at) {
  PGresult *r = NULL;
  *at = 0;
  int rc = hitl__pg_exec((hitl__pg *)store, HITL__PG_TASK_NEXT_DUE, NULL, "task_next_due", &r);
  if (rc) return rc;
  for (int c = 0; c < 2; c++) {
    if (PQgetisnull(r, 0, c)) continue;
    int64_t v = hitl__pg_col_int(r, 0, c);
    if (*at == 0 || v < *at) *at = v;
  }
  PQclear(r);
  return 0;
}

