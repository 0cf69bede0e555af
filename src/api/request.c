/* SPDX-License-Identifier: MIT */
/* What a handler asks of its request: suspending and resuming it, its query arguments and
 * headers, its JSON body, a role check, and the thread's read handle on the store. */
#include "api/server_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/xmalloc.h"

#define MAX_JSON_DEPTH 64

/* ---- suspension --------------------------------------------------------------------------- */

void hitl__request_suspend(hitl_request *req) {
  req->phase = HITL_PHASE_WAITING;
  MHD_suspend_connection(req->conn);
}

void hitl__request_resume(hitl_request *req) { MHD_resume_connection(req->conn); }

/* ---- request helpers ---------------------------------------------------------------------- */

const char *hitl__query(hitl_request *req, const char *name) {
  const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
  if (raw == NULL) return NULL;
  /* Arguments arrive undecoded (see unescape_none); decode into a per-request copy. */
  char *copy = hitl__percent_decode(raw, strlen(raw));
  if (copy == NULL) copy = hitl_xstrdup(""); /* A broken escape reads as empty, so it is refused. */
  /* Keep the copy alive with the request: chain it onto the params' spare slots. */
  for (int i = 0; i < HITL_MAX_QUERY; i++) {
    if (req->query_copies[i] == NULL) {
      req->query_copies[i] = copy;
      return copy;
    }
  }
  free(copy);
  return NULL;
}

bool hitl__query_page(hitl_request *req, long long def, long long max, long long *limit,
                      long long *cursor) {
  const char *s;
  char *end;
  *limit = def;
  *cursor = 0;
  if ((s = hitl__query(req, "limit"))) {
    *limit = strtoll(s, &end, 10);
    if (*s == '\0' || *end || *limit < 1 || *limit > max) {
      hitl__reply_error(req, HITL_EVALIDATION, "limit", "limit must be an integer from 1 to %lld",
                        max);
      return false;
    }
  }
  if ((s = hitl__query(req, "cursor")) && *s) {
    errno = 0;
    *cursor = strtoll(s, &end, 10);
    if (*end || *cursor < 1 || errno == ERANGE) {
      hitl__reply_error(req, HITL_EVALIDATION, "cursor",
                        "cursor must be the next_cursor of a previous page");
      return false;
    }
  }
  return true;
}

const char *hitl__header(hitl_request *req, const char *name) {
  return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* Rejects JSON nested deeper than MAX_JSON_DEPTH before jansson sees it. */
static bool too_deep(const char *s, size_t n) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') i++;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  return false;
}

json_t *hitl__json_parse(const char *data, size_t len, hitl_err *err) {
  if (len == 0) {
    hitl_err_set(err, HITL_EINVALID_JSON, NULL, "the request body is empty: send a JSON object");
    return NULL;
  }
  if (too_deep(data, len)) {
    hitl_err_set(err, HITL_EINVALID_JSON, NULL, "the JSON is nested more than %d levels deep",
                 MAX_JSON_DEPTH);
    return NULL;
  }
  json_error_t e;
  json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
  if (v == NULL)
    hitl_err_set(err, HITL_EINVALID_JSON, NULL, "invalid JSON at line %d, column %d: %s%s", e.line,
                 e.column, e.text,
                 json_error_code(&e) == json_error_invalid_utf8 ? " (send UTF-8 text)" : "");
  return v;
}

json_t *hitl__body_json(hitl_request *req) {
  hitl_err err = {0};
  json_t *v = hitl__json_parse(req->body.data, req->body.len, &err);
  if (v == NULL) hitl__reply_err(req, &err);
  return v;
}

bool hitl__require_role(hitl_request *req, const char *role) {
  if (hitl_actor_has_role(&req->actor, role)) return true;
  hitl__reply_error(req, HITL_EFORBIDDEN, NULL, "this needs the %s role, which token \"%s\" lacks",
                    role, req->who.name);
  return false;
}

hitl_store *hitl__reader(hitl_request *req) {
  hitl_store *st = hitl__server_reader(req->server);
  if (st == NULL) hitl__reply_error(req, HITL_EUNAVAILABLE, NULL, "the database is not available");
  return st;
}

hitl_store *hitl__server_reader(hitl_server *s) {
  hitl_store *st = pthread_getspecific(s->reader_key);
  if (st) return st;
  hitl_err err = {0};
  if (hitl_store_open(s->db, &st, &err) != 0) {
    hitl_log(HITL_LOG_ERROR, "msg=\"cannot open a read handle\" detail=\"%s\"", err.message);
    return NULL;
  }
  pthread_setspecific(s->reader_key, st);
  pthread_mutex_lock(&s->readers_lock);
  if (s->n_readers == s->cap_readers) {
    s->cap_readers = s->cap_readers ? s->cap_readers * 2 : 8;
    s->readers = hitl_xrealloc(s->readers, s->cap_readers * sizeof *s->readers);
  }
  s->readers[s->n_readers++] = st;
  pthread_mutex_unlock(&s->readers_lock);
  return st;
}
