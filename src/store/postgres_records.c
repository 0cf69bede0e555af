/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend's append-mostly records: responses, the event log, tokens and webhook
 * deliveries. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres.h"

static int64_t clamp_limit(size_t limit) { return limit > INT64_MAX ? INT64_MAX : (int64_t)limit; }

/* ---- Responses ---- */

int hitl__pg_response_insert(hitl_store *store, hitl_response *r) {
  hitl__pg_params p = {0};
  hitl__pg_text(&p, r->id, 0);
  hitl__pg_int(&p, r->task_seq);
  hitl__pg_text(&p, r->reviewer, 0);
  hitl__pg_int(&p, r->stage);
  hitl__pg_text(&p, r->question, 0);
  hitl__pg_text(&p, r->kind, 0);
  hitl__pg_text(&p, r->value, 0);
  hitl__pg_text(&p, r->comment, 0);
  hitl__pg_int(&p, r->time_spent_ms);
  hitl__pg_int(&p, r->created_at);
  PGresult *res = NULL;
  int rc = hitl__pg_exec((hitl__pg *)store, HITL__PG_RESPONSE_INSERT, &p, "response_insert", &res);
  if (rc) return rc;
  r->seq = hitl__pg_col_int(res, 0, 0);
  PQclear(res);
  return 0;
}

static void read_response(const PGresult *res, int i, void *row) {
  hitl_response *r = row;
  r->seq = hitl__pg_col_int(res, i, 0);
  hitl__pg_col_id(res, i, 1, r->id);
  r->task_seq = hitl__pg_col_int(res, i, 2);
  r->reviewer = hitl__pg_col_text(res, i, 3);
  r->stage = (int)hitl__pg_col_int(res, i, 4);
  r->question = hitl__pg_col_text(res, i, 5);
  r->kind = hitl__pg_col_text(res, i, 6);
  r->value = hitl__pg_col_text(res, i, 7);
  r->comment = hitl__pg_col_text(res, i, 8);
  r->time_spent_ms = hitl__pg_col_int(res, i, 9);
  r->created_at = hitl__pg_col_int(res, i, 10);
}

static void read_response_with_task(const PGresult *res, int i, void *row) {
  hitl_response *r = row;
  read_response(res, i, r);
  hitl__pg_col_id(res, i, 11, r->task_id);
  r->queue = hitl__pg_col_text(res, i, 12);
}

int hitl__pg_response_list(hitl_store *store, int64_t task_seq, hitl_response **out, size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, task_seq);
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_RESPONSE_LIST, &p, sizeof **out,
                            read_response, "response_list", &rows, n);
  *out = rows;
  return rc;
}

int hitl__pg_response_list_by_reviewer(hitl_store *store, const char *reviewer,
                                       int64_t before_seq, size_t limit, hitl_response **out,
                                       size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_text(&p, reviewer, 0);
  hitl__pg_int(&p, before_seq > 0 ? before_seq : INT64_MAX);
  hitl__pg_int(&p, clamp_limit(limit));
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_RESPONSE_BY_REVIEWER, &p, sizeof **out,
                            read_response_with_task, "response_list_by_reviewer", &rows, n);
  *out = rows;
  return rc;
}

/* Runs id with p and reads the integer in its first row (0 when none) into *v. */
static int one_int(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, const char *what,
                   int64_t *v) {
  PGresult *r = NULL;
  *v = 0;
  int rc = hitl__pg_exec(s, id, p, what, &r);
  if (rc) return rc;
  if (PQntuples(r) > 0) *v = hitl__pg_col_int(r, 0, 0);
  PQclear(r);
  return 0;
}

int hitl__pg_response_count_by_reviewer(hitl_store *store, const char *reviewer, int64_t since,
                                        int64_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_text(&p, reviewer, 0);
  if (since <= 0)
    return one_int((hitl__pg *)store, HITL__PG_RESPONSE_TOTAL_REVIEWER, &p,
                   "response_count_by_reviewer", n);
  hitl__pg_int(&p, since);
  return one_int((hitl__pg *)store, HITL__PG_RESPONSE_COUNT_REVIEWER, &p,
                 "response_count_by_reviewer", n);
}

int hitl__pg_task_count_by_reviewer(hitl_store *store, const char *reviewer, int64_t since,
                                    int64_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_text(&p, reviewer, 0);
  hitl__pg_int(&p, since);
  return one_int((hitl__pg *)store, HITL__PG_TASK_COUNT_REVIEWER, &p, "task_count_by_reviewer", n);
}

static void read_activity(const PGresult *r, int i, void *row) {
  hitl_reviewer_count *c = row;
  c->reviewer = hitl__pg_col_text(r, i, 0);
  c->responses = hitl__pg_col_int(r, i, 1);
}

int hitl__pg_reviewer_activity(hitl_store *store, int64_t since, hitl_reviewer_count **out,
                               size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, since);
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_REVIEWER_ACTIVITY, &p, sizeof **out,
                            read_activity, "reviewer_activity", &rows, n);
  *out = rows;
  return rc;
}

int hitl__pg_response_list_many(hitl_store *store, const int64_t *task_seqs, size_t n_tasks,
                                hitl_response **out, size_t *n) {
  hitl__pg *s = (hitl__pg *)store;
  *out = NULL;
  *n = 0;
  if (n_tasks == 0) return 0;
  if (n_tasks > HITL_STORE_MANY) return HITL_EVALIDATION;
  hitl__store_seq_list(&s->scratch, task_seqs, n_tasks, '{', '}');
  hitl__pg_params p = {0};
  hitl__pg_text(&p, hitl_buf_cstr(&s->scratch), 0);
  void *rows = NULL;
  int rc = hitl__pg_collect(s, HITL__PG_RESPONSE_LIST_MANY, &p, sizeof **out, read_response,
                            "response_list_many", &rows, n);
  *out = rows;
  return rc;
}

int hitl__pg_response_exists(hitl_store *store, int64_t task_seq, const char *reviewer,
                             bool *exists) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, task_seq);
  hitl__pg_text(&p, reviewer, 0);
  PGresult *r = NULL;
  *exists = false;
  int rc = hitl__pg_exec((hitl__pg *)store, HITL__PG_RESPONSE_EXISTS, &p, "response_exists", &r);
  if (rc) return rc;
  *exists = PQntuples(r) > 0;
  PQclear(r);
  return 0;
}

/* ---- Events ---- */

/* Reads the chain head (seq, hash) with statement id. */
static int read_head(hitl__pg *s, hitl__pg_stmt_id id, const char *what, int64_t *seq,
                     uint8_t hash[HITL_HASH_LEN]) {
  PGresult *r = NULL;
  *seq = 0;
  memset(hash, 0, HITL_HASH_LEN);
  int rc = hitl__pg_exec(s, id, NULL, what, &r);
  if (rc) return rc;
  if (PQntuples(r) > 0) {
    *seq = hitl__pg_col_int(r, 0, 0);
    hitl__pg_col_hash(r, 0, 1, hash);
  }
  PQclear(r);
  return 0;
}

int hitl__pg_event_last(hitl_store *store, int64_t *seq, uint8_t hash[HITL_HASH_LEN]) {
  return read_head((hitl__pg *)store, HITL__PG_EVENT_LAST, "event_last", seq, hash);
}

int hitl__pg_event_head(hitl_store *store, int64_t *seq, uint8_t hash[HITL_HASH_LEN]) {
  return read_head((hitl__pg *)store, HITL__PG_EVENT_HEAD, "event_head", seq, hash);
}

int hitl__pg_event_insert(hitl_store *store, const hitl_event *e) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, e->seq);
  hitl__pg_int(&p, e->at);
  hitl__pg_text(&p, e->type, 0);
  hitl__pg_text(&p, e->queue, 0);
  hitl__pg_text(&p, e->task_id, 0);
  hitl__pg_text(&p, e->actor, 0);
  hitl__pg_text(&p, e->data, 0);
  hitl__pg_bytes(&p, e->prev_hash, HITL_HASH_LEN);
  hitl__pg_bytes(&p, e->hash, HITL_HASH_LEN);
  /* No row back: the seq is taken (the event was not inserted, the head did not move). */
  int rc = hitl__pg_write((hitl__pg *)store, HITL__PG_EVENT_INSERT, &p, true, "event_insert");
  return rc == HITL_ENOT_FOUND ? HITL_ECONFLICT : rc;
}

static void read_event(const PGresult *r, int i, void *row) {
  hitl_event *e = row;
  e->seq = hitl__pg_col_int(r, i, 0);
  e->at = hitl__pg_col_int(r, i, 1);
  e->type = hitl__pg_col_text(r, i, 2);
  e->queue = hitl__pg_col_text(r, i, 3);
  e->task_id = hitl__pg_col_text(r, i, 4);
  e->actor = hitl__pg_col_text(r, i, 5);
  e->data = hitl__pg_col_text(r, i, 6);
  hitl__pg_col_hash(r, i, 7, e->prev_hash);
  hitl__pg_col_hash(r, i, 8, e->hash);
}

int hitl__pg_event_list(hitl_store *store, int64_t after, size_t limit, hitl_event **out,
                        size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, after);
  hitl__pg_int(&p, clamp_limit(limit));
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_EVENT_LIST, &p, sizeof **out, read_event,
                            "event_list", &rows, n);
  *out = rows;
  return rc;
}

int hitl__pg_event_find(hitl_store *store, int64_t after, const hitl_event_filter *f, size_t limit,
                        hitl_event **out, size_t *n) {
  bool back = f->before > 0;
  hitl__pg_stmt_id id = f->task_id ? (back ? HITL__PG_EVENT_FIND_TASK_BACK : HITL__PG_EVENT_FIND_TASK)
                                   : (back ? HITL__PG_EVENT_FIND_BACK : HITL__PG_EVENT_FIND);
  hitl__pg_params p = {0};
  hitl__pg_int(&p, back ? f->before : after);
  hitl__pg_text(&p, f->task_id, 0);
  hitl__pg_text(&p, f->queue, 0);
  hitl__pg_text(&p, f->actor, 0);
  hitl__pg_text(&p, f->type, 0);
  hitl__pg_int(&p, clamp_limit(limit));
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, id, &p, sizeof **out, read_event, "event_find",
                            &rows, n);
  *out = rows;
  return rc;
}

/* ---- Tokens ---- */

int hitl__pg_token_insert(hitl_store *store, const char *name, const uint8_t hash[HITL_HASH_LEN],
                          const char *roles, int64_t now) {
  hitl__pg_params p = {0};
  hitl__pg_text(&p, name, 0);
  hitl__pg_bytes(&p, hash, HITL_HASH_LEN);
  hitl__pg_text(&p, roles, 0);
  hitl__pg_int(&p, now);
  int rc = hitl__pg_change((hitl__pg *)store, HITL__PG_TOKEN_INSERT, &p, "token_insert");
  return rc == HITL_ENOT_FOUND ? HITL_ECONFLICT : rc; /* The name or the secret is taken. */
}

static void read_token(const PGresult *r, int i, void *row) {
  hitl_token_row *t = row;
  t->id = hitl__pg_col_int(r, i, 0);
  t->name = hitl__pg_col_text(r, i, 1);
  t->roles = hitl__pg_col_text(r, i, 2);
  t->created_at = hitl__pg_col_int(r, i, 3);
  t->revoked = hitl__pg_col_int(r, i, 4) != 0;
}

int hitl__pg_token_find(hitl_store *store, const uint8_t hash[HITL_HASH_LEN],
                        hitl_token_row *out) {
  hitl__pg_params p = {0};
  hitl__pg_bytes(&p, hash, HITL_HASH_LEN);
  return hitl__pg_one((hitl__pg *)store, HITL__PG_TOKEN_FIND, &p, sizeof *out, read_token,
                      "token_find", out);
}

int hitl__pg_token_revoke(hitl_store *store, const char *name) {
  hitl__pg_params p = {0};
  hitl__pg_text(&p, name, 0);
  return hitl__pg_change((hitl__pg *)store, HITL__PG_TOKEN_REVOKE, &p, "token_revoke");
}

int hitl__pg_token_list(hitl_store *store, hitl_token_row **out, size_t *n) {
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_TOKEN_LIST, NULL, sizeof **out, read_token,
                            "token_list", &rows, n);
  *out = rows;
  return rc;
}

/* ---- Webhook deliveries ---- */

int hitl__pg_delivery_insert(hitl_store *store, hitl_delivery *d) {
  hitl__pg_params p = {0};
  hitl__pg_text(&p, d->id, 0);
  hitl__pg_int(&p, d->queue_id);
  hitl__pg_text(&p, d->url, 0);
  hitl__pg_int(&p, d->event_seq);
  hitl__pg_text(&p, d->event_type, 0);
  hitl__pg_text(&p, d->body, 0);
  hitl__pg_int(&p, d->state);
  hitl__pg_int(&p, d->attempts);
  hitl__pg_int(&p, d->next_attempt_at);
  hitl__pg_int(&p, d->created_at);
  PGresult *r = NULL;
  int rc = hitl__pg_exec((hitl__pg *)store, HITL__PG_DELIVERY_INSERT, &p, "delivery_insert", &r);
  if (rc) return rc;
  if (PQntuples(r) == 0) {
    rc = HITL_ECONFLICT;
  } else {
    d->seq = hitl__pg_col_int(r, 0, 0);
    d->updated_at = d->created_at;
  }
  PQclear(r);
  return rc;
}

static void read_delivery(const PGresult *r, int i, void *row) {
  hitl_delivery *d = row;
  d->seq = hitl__pg_col_int(r, i, 0);
  d->id = hitl__pg_col_text(r, i, 1);
  d->queue_id = hitl__pg_col_int(r, i, 2);
  d->url = hitl__pg_col_text(r, i, 3);
  d->event_seq = hitl__pg_col_int(r, i, 4);
  d->event_type = hitl__pg_col_text(r, i, 5);
  d->body = hitl__pg_col_text(r, i, 6);
  d->state = (int)hitl__pg_col_int(r, i, 7);
  d->attempts = (int)hitl__pg_col_int(r, i, 8);
  d->next_attempt_at = hitl__pg_col_int(r, i, 9);
  d->last_status = (int)hitl__pg_col_int(r, i, 10);
  d->last_error = hitl__pg_col_text(r, i, 11);
  d->created_at = hitl__pg_col_int(r, i, 12);
  d->updated_at = hitl__pg_col_int(r, i, 13);
  d->delivered_at = hitl__pg_col_int(r, i, 14);
}

int hitl__pg_delivery_due(hitl_store *store, int64_t now, size_t limit, hitl_delivery **out,
                          size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, now);
  hitl__pg_int(&p, clamp_limit(limit));
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_DELIVERY_DUE, &p, sizeof **out,
                            read_delivery, "delivery_due", &rows, n);
  *out = rows;
  return rc;
}

int hitl__pg_delivery_next_due(hitl_store *store, int64_t *at) {
  return one_int((hitl__pg *)store, HITL__PG_DELIVERY_NEXT_DUE, NULL, "delivery_next_due", at);
}

int hitl__pg_delivery_update(hitl_store *store, const hitl_delivery *d) {
  hitl__pg_params p = {0};
  hitl__pg_text(&p, d->id, 0);
  hitl__pg_int(&p, d->state);
  hitl__pg_int(&p, d->attempts);
  hitl__pg_int(&p, d->next_attempt_at);
  hitl__pg_int(&p, d->last_status);
  hitl__pg_text(&p, d->last_error, 1);
  hitl__pg_int(&p, d->delivered_at);
  hitl__pg_int(&p, d->updated_at);
  return hitl__pg_change((hitl__pg *)store, HITL__PG_DELIVERY_UPDATE, &p, "delivery_update");
}

int hitl__pg_delivery_list(hitl_store *store, int64_t queue_id, int state, int64_t before_seq,
                           size_t limit, hitl_delivery **out, size_t *n) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, queue_id);
  hitl__pg_int(&p, state);
  hitl__pg_int(&p, before_seq);
  hitl__pg_int(&p, clamp_limit(limit));
  void *rows = NULL;
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_DELIVERY_LIST, &p, sizeof **out,
                            read_delivery, "delivery_list", &rows, n);
  *out = rows;
  return rc;
}

int hitl__pg_delivery_get(hitl_store *store, const char *id, hitl_delivery *out) {
  hitl__pg_params p = {0};
  hitl__pg_text(&p, id, 0);
  void *rows = NULL;
  size_t n = 0;
  memset(out, 0, sizeof *out);
  int rc = hitl__pg_collect((hitl__pg *)store, HITL__PG_DELIVERY_GET, &p, sizeof *out,
                            read_delivery, "delivery_get", &rows, &n);
  if (rc == 0 && n == 0) rc = HITL_ENOT_FOUND;
  if (rc == 0) *out = *(hitl_delivery *)rows;
  free(rows);
  return rc;
}

int hitl__pg_delivery_take(hitl_store *store, int64_t seq, int64_t now, int64_t hold_until,
                           bool *taken) {
  hitl__pg_params p = {0};
  hitl__pg_int(&p, seq);
  hitl__pg_int(&p, now);
  hitl__pg_int(&p, hold_until);
  int rc = hitl__pg_change((hitl__pg *)store, HITL__PG_DELIVERY_TAKE, &p, "delivery_take");
  *taken = rc == 0;
  return rc == HITL_ENOT_FOUND ? 0 : rc;
}
