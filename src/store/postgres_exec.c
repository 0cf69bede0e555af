/* SPDX-License-Identifier: MIT */
/* The PostgreSQL backend's statements: parameters, running a prepared statement (at once or
 * deferred in pipeline mode) and reading its columns. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres.h"
#include "util/xmalloc.h"

/* ---- Parameters ---- */

static const char *param_slot(hitl__pg_params *p) {
  if (p->n >= HITL__PG_MAX_PARAMS) abort(); /* A statement table bug, not an input. */
  return p->numbers[p->n];
}

void hitl__pg_text(hitl__pg_params *p, const char *s, int empty_is_null) {
  (void)param_slot(p);
  p->values[p->n] = (s == NULL || (empty_is_null && s[0] == '\0')) ? NULL : s;
  p->lengths[p->n] = 0;
  p->formats[p->n] = 0;
  p->n++;
}

void hitl__pg_int(hitl__pg_params *p, int64_t v) {
  char *slot = (char *)param_slot(p);
  snprintf(slot, sizeof p->numbers[0], "%" PRId64, v);
  hitl__pg_text(p, slot, 0);
}

void hitl__pg_bool(hitl__pg_params *p, bool v) { hitl__pg_text(p, v ? "t" : "f", 0); }

void hitl__pg_bytes(hitl__pg_params *p, const uint8_t *v, int n) {
  (void)param_slot(p);
  p->values[p->n] = (const char *)v;
  p->lengths[p->n] = n;
  p->formats[p->n] = 1;
  p->n++;
}

void hitl__pg_double(hitl__pg_params *p, double v, bool present) {
  char *slot = (char *)param_slot(p);
  snprintf(slot, sizeof p->numbers[0], "%.17g", v); /* Enough digits to read back exactly. */
  hitl__pg_text(p, present ? slot : NULL, 0);
}

/* True when s is well-formed UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF), which is all a UTF-8 database accepts. */
static bool valid_utf8(const unsigned char *s) {
  while (*s) {
    unsigned c = *s, n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                                      : (c & 0xf8) == 0xf0 ? 3 : 4;
    if (n == 4 || (n == 1 && c < 0xc2) || (n == 3 && c > 0xf4)) return false;
    unsigned cp = n == 0 ? c : c & (0x3fu >> n);
    for (unsigned i = 1; i <= n; i++) {
      if ((s[i] & 0xc0) != 0x80) return false;
      cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
      return false;
    s += n + 1;
  }
  return true;
}

/* True when a text parameter of p is not UTF-8: it cannot be in the database, so it matches
 * nothing (a task id from a request path, say). Sending it would be an error that aborts the
 * whole transaction. */
static bool bad_text(const hitl__pg_params *p) {
  for (int i = 0; p && i < p->n; i++)
    if (p->values[i] && p->formats[i] == 0 && !valid_utf8((const unsigned char *)p->values[i]))
      return true;
  return false;
}

/* ---- Running statements ---- */

int hitl__pg_exec(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, const char *what,
                  PGresult **res) {
  *res = NULL;
  if (bad_text(p)) return HITL_ENOT_FOUND;
  char name[16];
  snprintf(name, sizeof name, "h%d", (int)id);
  if (s->piped) return hitl__pg_pipe_exec(s, name, NULL, p, what, res);
  PGresult *r = NULL;
  ExecStatusType st = PGRES_FATAL_ERROR;
  /* A connection found broken by the statement (the server restarted since the last one) is
   * made again and the statement run once more, so the first request after a restart succeeds. */
  for (int attempt = 0; attempt < 2; attempt++) {
    int rc = hitl__pg_ensure_connected(s);
    PQclear(r);
    if (rc) return rc;
    r = PQexecPrepared(s->conn, name, p ? p->n : 0, p ? p->values : NULL, p ? p->lengths : NULL,
                       p ? p->formats : NULL, 0);
    st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || !hitl__pg_may_rerun(s)) break;
  }
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    int rc = hitl__pg_fail(s, r, what);
    PQclear(r);
    return rc;
  }
  *res = r;
  return 0;
}

int hitl__pg_write(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, bool must_change,
                   const char *what) {
  if (!s->piped) {
    if (must_change) return hitl__pg_change(s, id, p, what);
    PGresult *r = NULL;
    int rc = hitl__pg_exec(s, id, p, what, &r);
    PQclear(r);
    return rc;
  }
  if (bad_text(p)) return HITL_ENOT_FOUND;
  if (s->deferred_rc) return HITL_ERETRY;
  char name[16];
  snprintf(name, sizeof name, "h%d", (int)id);
  int rc = hitl__pg_pipe_send(s, name, NULL, p, what);
  if (rc == 0) hitl__pg_pending_push(s, what, must_change);
  return rc;
}

int hitl__pg_collect(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, size_t size,
                     hitl__pg_row_fn read, const char *what, void **out, size_t *n) {
  *out = NULL;
  *n = 0;
  PGresult *r = NULL;
  int rc = hitl__pg_exec(s, id, p, what, &r);
  if (rc) return rc;
  size_t rows = (size_t)PQntuples(r);
  if (rows) {
    char *v = hitl_xcalloc(rows, size);
    for (size_t i = 0; i < rows; i++) read(r, (int)i, v + i * size);
    *out = v;
    *n = rows;
  }
  PQclear(r);
  return 0;
}

int hitl__pg_one(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, size_t size,
                 hitl__pg_row_fn read, const char *what, void *out) {
  memset(out, 0, size);
  PGresult *r = NULL;
  int rc = hitl__pg_exec(s, id, p, what, &r);
  if (rc) return rc;
  if (PQntuples(r) > 0)
    read(r, 0, out);
  else
    rc = HITL_ENOT_FOUND;
  PQclear(r);
  return rc;
}

int hitl__pg_change(hitl__pg *s, hitl__pg_stmt_id id, const hitl__pg_params *p, const char *what) {
  PGresult *r = NULL;
  int rc = hitl__pg_exec(s, id, p, what, &r);
  if (rc) return rc;
  const char *tuples = PQcmdTuples(r);
  if (tuples[0] == '\0' || strcmp(tuples, "0") == 0) rc = HITL_ENOT_FOUND;
  PQclear(r);
  return rc;
}

/* ---- Columns ---- */

char *hitl__pg_col_text(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col)) return NULL;
  return hitl_xstrndup(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

int64_t hitl__pg_col_int(const PGresult *r, int row, int col) {
  if (PQgetisnull(r, row, col)) return 0;
  return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void hitl__pg_col_id(const PGresult *r, int row, int col, char out[HITL_ID_LEN]) {
  size_t n = PQgetisnull(r, row, col) ? 0 : (size_t)PQgetlength(r, row, col);
  if (n >= HITL_ID_LEN) n = HITL_ID_LEN - 1;
  if (n) memcpy(out, PQgetvalue(r, row, col), n);
  out[n] = '\0';
}

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void hitl__pg_col_hash(const PGresult *r, int row, int col, uint8_t out[HITL_HASH_LEN]) {
  memset(out, 0, HITL_HASH_LEN);
  /* Text results carry bytea in hex: "\x" and two digits a byte. */
  const char *v = PQgetvalue(r, row, col);
  if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 2 + 2 * HITL_HASH_LEN ||
      v[0] != '\\' || v[1] != 'x')
    return;
  for (int i = 0; i < HITL_HASH_LEN; i++) {
    int hi = hex_digit(v[2 + 2 * i]), lo = hex_digit(v[3 + 2 * i]);
    if (hi < 0 || lo < 0) {
      memset(out, 0, HITL_HASH_LEN);
      return;
    }
    out[i] = (uint8_t)(hi << 4 | lo);
  }
}
