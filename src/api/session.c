/* SPDX-License-Identifier: MIT */
/* Session table: kept in memory by the hash of the cookie value; sessions end after 12 hours. */
#include "api/session.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/server_internal.h"
#include "util/clock.h"
#include "util/id.h"
#include "util/xmalloc.h"

typedef struct session {
  uint8_t sid_hash[HITL_HASH_LEN]; /* Only the hash: the table does not hold usable cookies. */
  hitl_principal who;
  char csrf[HITL_SESSION_SECRET_LEN];
  int64_t expires_at;
  struct session *next;
} session;

struct hitl_sessions {
  pthread_mutex_t lock;
  session *head;
};

hitl_sessions *hitl__sessions_new(void) {
  hitl_sessions *s = hitl_xcalloc(1, sizeof *s);
  pthread_mutex_init(&s->lock, NULL);
  return s;
}

void hitl__sessions_free(hitl_sessions *s) {
  if (s == NULL) return;
  for (session *x = s->head, *next; x; x = next) {
    next = x->next;
    sodium_memzero(x, sizeof *x);
    free(x);
  }
  pthread_mutex_destroy(&s->lock);
  free(s);
}

/* Drops expired sessions. Lock held. */
static void sweep(hitl_sessions *s, int64_t now) {
  for (session **pp = &s->head; *pp;) {
    if ((*pp)->expires_at <= now) {
      session *x = *pp;
      *pp = x->next;
      sodium_memzero(x, sizeof *x);
      free(x);
    } else {
      pp = &(*pp)->next;
    }
  }
}

void hitl__session_create(hitl_sessions *s, const hitl_principal *who,
                          char sid[HITL_SESSION_SECRET_LEN], char csrf[HITL_SESSION_SECRET_LEN]) {
  session *x = hitl_xcalloc(1, sizeof *x);
  hitl_token_new(sid);
  hitl_token_new(x->csrf);
  memcpy(csrf, x->csrf, HITL_SESSION_SECRET_LEN);
  hitl_hash(sid, strlen(sid), x->sid_hash);
  x->who = *who;
  int64_t now = hitl_now_ms();
  x->expires_at = now + (int64_t)HITL_SESSION_SECONDS * 1000;
  pthread_mutex_lock(&s->lock);
  sweep(s, now);
  x->next = s->head;
  s->head = x;
  pthread_mutex_unlock(&s->lock);
}

int hitl__session_find(hitl_sessions *s, const char *sid, hitl_principal *who,
                       char csrf[HITL_SESSION_SECRET_LEN]) {
  uint8_t h[HITL_HASH_LEN];
  hitl_hash(sid, strlen(sid), h);
  int64_t now = hitl_now_ms();
  int rc = HITL_EUNAUTHORIZED;
  pthread_mutex_lock(&s->lock);
  for (session *x = s->head; x; x = x->next) {
    if (sodium_memcmp(x->sid_hash, h, HITL_HASH_LEN) != 0 || x->expires_at <= now) continue;
    *who = x->who;
    memcpy(csrf, x->csrf, HITL_SESSION_SECRET_LEN);
    rc = 0;
    break;
  }
  pthread_mutex_unlock(&s->lock);
  /* The copied principal's role pointers point into the table's copy: repoint them. */
  if (rc == 0)
    for (size_t i = 0; i < who->n_roles; i++) who->roles[i] = who->role_buf[i];
  return rc;
}

void hitl__sessions_end_for(hitl_sessions *s, const char *name) {
  pthread_mutex_lock(&s->lock);
  for (session **pp = &s->head; *pp;) {
    if (strcmp((*pp)->who.name, name) == 0) {
      session *x = *pp;
      *pp = x->next;
      sodium_memzero(x, sizeof *x);
      free(x);
    } else {
      pp = &(*pp)->next;
    }
  }
  pthread_mutex_unlock(&s->lock);
}

void hitl__session_delete(hitl_sessions *s, const char *sid) {
  uint8_t h[HITL_HASH_LEN];
  hitl_hash(sid, strlen(sid), h);
  pthread_mutex_lock(&s->lock);
  for (session **pp = &s->head; *pp; pp = &(*pp)->next) {
    if (sodium_memcmp((*pp)->sid_hash, h, HITL_HASH_LEN) != 0) continue;
    session *x = *pp;
    *pp = x->next;
    sodium_memzero(x, sizeof *x);
    free(x);
    break;
  }
  pthread_mutex_unlock(&s->lock);
}

/* ---- routes ------------------------------------------------------------------------------- */

/* Appends {"name","roles":[..],"csrf"} for who. */
static void who_json(hitl_buf *b, const hitl_principal *who, const char *csrf) {
  hitl_buf_puts(b, "{\"name\":");
  hitl_buf_json_cstr(b, who->name);
  hitl_buf_puts(b, ",\"roles\":[");
  for (size_t i = 0; i < who->n_roles; i++) {
    if (i) hitl_buf_putc(b, ',');
    hitl_buf_json_cstr(b, who->roles[i]);
  }
  hitl_buf_puts(b, "],\"csrf\":");
  hitl_buf_json_cstr(b, csrf && *csrf ? csrf : NULL);
  hitl_buf_putc(b, '}');
}

/* True when the request comes from a page of this server, as far as the browser tells: a
 * cross-site page could otherwise sign a visitor in under its own token (login CSRF). A form
 * cannot send JSON, and a script of another origin sending JSON is stopped by the browser's
 * preflight, which this server never grants; a browser's Origin header must name this host. */
static bool same_origin(hitl_request *req) {
  const char *type = hitl__header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (type == NULL || strncasecmp(type, "application/json", 16) != 0) return false;
  const char *origin = hitl__header(req, "Origin");
  const char *host = hitl__header(req, MHD_HTTP_HEADER_HOST);
  if (origin == NULL) return true; /* Not a browser, or a same-origin GET-like request. */
  const char *sep = strstr(origin, "://");
  return host != NULL && sep != NULL && strcmp(sep + 3, host) == 0;
}

/* "; Secure" when the client reached us over HTTPS through a proxy that says so. */
static const char *secure_attribute(hitl_request *req) {
  const char *proto = hitl__header(req, "X-Forwarded-Proto");
  return proto && strcasecmp(proto, "https") == 0 ? "; Secure" : "";
}

void hitl__h_session_create(hitl_request *req) {
  if (!same_origin(req)) {
    hitl__reply_error(req, HITL_EFORBIDDEN, NULL,
                      "sign in from hitl's own page: send JSON (Content-Type: application/json) "
                      "from the same origin");
    return;
  }
  json_t *body = hitl__body_json(req);
  if (body == NULL) return;
  const json_t *token = json_is_object(body) ? json_object_get(body, "token") : NULL;
  if (!json_is_string(token) || json_string_length(token) == 0 || json_string_length(token) > 256) {
    json_decref(body);
    hitl__reply_error(req, HITL_EVALIDATION, "token", "send {\"token\": \"<your hitl token>\"}");
    return;
  }
  char authorization[300];
  snprintf(authorization, sizeof authorization, "Bearer %s", json_string_value(token));
  json_decref(body);
  hitl_store *reader = hitl__reader(req);
  if (reader == NULL) return;
  hitl_principal who;
  hitl_err err = {0};
  int rc = hitl__auth_check(req->server->auth, reader, authorization, &who, &err);
  sodium_memzero(authorization, sizeof authorization);
  if (rc) {
    hitl__reply_err(req, &err);
    return;
  }
  char sid[HITL_SESSION_SECRET_LEN], csrf[HITL_SESSION_SECRET_LEN];
  hitl__session_create(req->server->sessions, &who, sid, csrf);
  snprintf(req->cookie, sizeof req->cookie,
           HITL_SESSION_COOKIE "=%s; HttpOnly; SameSite=Strict; Path=/; Max-Age=%d%s", sid,
           HITL_SESSION_SECONDS, secure_attribute(req));
  sodium_memzero(sid, sizeof sid);
  hitl_buf b = HITL_BUF_INIT;
  who_json(&b, &who, csrf);
  hitl__reply_buf(req, 200, &b);
}

void hitl__h_session_get(hitl_request *req) {
  hitl_buf b = HITL_BUF_INIT;
  who_json(&b, &req->who, req->csrf);
  hitl__reply_buf(req, 200, &b);
}

void hitl__h_session_delete(hitl_request *req) {
  const char *sid = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, HITL_SESSION_COOKIE);
  if (sid) hitl__session_delete(req->server->sessions, sid);
  snprintf(req->cookie, sizeof req->cookie,
           HITL_SESSION_COOKIE "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0%s",
           secure_attribute(req));
  hitl__reply_empty(req, 204);
}
