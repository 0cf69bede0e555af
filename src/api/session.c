/* SPDX-License-Identifier: MIT */
/* Session table: kept in memory, indexed by the hash of the cookie value and by token name;
 * sessions end after 12 hours, and are bounded per token and in all. */
#include "api/session.h"

#include <pthread.h>
#include <stdint.h>
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
  struct session *id_next;        /* Chain of the bucket of sid_hash. */
  struct session *name_next;      /* Chain of the bucket of who.name. */
  struct session *older, *newer;  /* Creation order: every session lives as long, so the oldest
                                   * expires first. */
} session;

#define NAME_BUCKETS 1024

struct hitl_sessions {
  pthread_mutex_t lock;
  session **by_id;        /* Hash table by session id hash: n_id_buckets chains. */
  size_t n_id_buckets;    /* A power of two, at least twice max_total. */
  session *by_name[NAME_BUCKETS]; /* Hash table by token name. */
  session *oldest, *newest;
  size_t count;
  size_t per_token, max_total;
  uint64_t generation;    /* Bumped by every revocation (hitl__sessions_end_for). */
  uint64_t probes;        /* Sessions compared by look-ups, for the tests. */
};

hitl_sessions *hitl__sessions_new_bounded(size_t per_token, size_t max_total) {
  hitl_sessions *s = hitl_xcalloc(1, sizeof *s);
  pthread_mutex_init(&s->lock, NULL);
  s->per_token = per_token ? per_token : 1;
  s->max_total = max_total ? max_total : 1;
  s->n_id_buckets = 64;
  while (s->n_id_buckets < 2 * s->max_total) s->n_id_buckets *= 2;
  s->by_id = hitl_xcalloc(s->n_id_buckets, sizeof *s->by_id);
  return s;
}

hitl_sessions *hitl__sessions_new(void) {
  return hitl__sessions_new_bounded(HITL_SESSIONS_PER_TOKEN, HITL_SESSIONS_MAX);
}

void hitl__sessions_free(hitl_sessions *s) {
  if (s == NULL) return;
  for (session *x = s->oldest, *next; x; x = next) {
    next = x->newer;
    sodium_memzero(x, sizeof *x);
    free(x);
  }
  pthread_mutex_destroy(&s->lock);
  free(s->by_id);
  free(s);
}

/* The id bucket of a session id hash: its first bytes are uniform already. */
static session **id_bucket(hitl_sessions *s, const uint8_t h[HITL_HASH_LEN]) {
  uint64_t v;
  memcpy(&v, h, sizeof v);
  return &s->by_id[v & (s->n_id_buckets - 1)];
}

static session **name_bucket(hitl_sessions *s, const char *name) {
  return &s->by_name[hitl_hash_bucket(name, strlen(name)) % NAME_BUCKETS];
}

/* Takes x out of the table and frees it. Lock held. The chains hold a few sessions each. */
static void drop(hitl_sessions *s, session *x) {
  session **pp = id_bucket(s, x->sid_hash);
  while (*pp != x) pp = &(*pp)->id_next;
  *pp = x->id_next;
  pp = name_bucket(s, x->who.name);
  while (*pp != x) pp = &(*pp)->name_next;
  *pp = x->name_next;
  if (x->older) x->older->newer = x->newer;
  else s->oldest = x->newer;
  if (x->newer) x->newer->older = x->older;
  else s->newest = x->older;
  s->count--;
  sodium_memzero(x, sizeof *x);
  free(x);
}

/* Drops expired sessions: they are the oldest. Lock held. */
static void sweep(hitl_sessions *s, int64_t now) {
  while (s->oldest && s->oldest->expires_at <= now) drop(s, s->oldest);
}

/* Ends the oldest session of name when it has per_token already. Lock held. */
static void bound_per_token(hitl_sessions *s, const char *name) {
  size_t n = 0;
  session *oldest = NULL;
  for (session *x = *name_bucket(s, name); x; x = x->name_next) {
    if (strcmp(x->who.name, name) != 0) continue;
    n++;
    oldest = x; /* Newer sessions are chained first. */
  }
  if (n >= s->per_token) drop(s, oldest);
}

uint64_t hitl__sessions_generation(hitl_sessions *s) {
  pthread_mutex_lock(&s->lock);
  uint64_t g = s->generation;
  pthread_mutex_unlock(&s->lock);
  return g;
}

int hitl__session_create(hitl_sessions *s, const hitl_principal *who, uint64_t generation,
                         char sid[HITL_SESSION_SECRET_LEN], char csrf[HITL_SESSION_SECRET_LEN]) {
  session *x = hitl_xcalloc(1, sizeof *x);
  hitl_token_new(sid);
  hitl_token_new(x->csrf);
  hitl_hash(sid, strlen(sid), x->sid_hash);
  x->who = *who;
  int64_t now = hitl_now_ms();
  x->expires_at = now + (int64_t)HITL_SESSION_SECONDS * 1000;
  pthread_mutex_lock(&s->lock);
  if (s->generation != generation) {
    /* A revocation ended sessions since the caller checked the token: the check may have seen
     * the token before it was revoked, so it must be done again. */
    pthread_mutex_unlock(&s->lock);
    sodium_memzero(x, sizeof *x);
    free(x);
    sodium_memzero(sid, HITL_SESSION_SECRET_LEN);
    return HITL_ECONFLICT;
  }
  sweep(s, now);
  bound_per_token(s, who->name);
  if (s->count >= s->max_total) drop(s, s->oldest);
  session **b = id_bucket(s, x->sid_hash);
  x->id_next = *b;
  *b = x;
  b = name_bucket(s, who->name);
  x->name_next = *b;
  *b = x;
  x->older = s->newest;
  if (s->newest) s->newest->newer = x;
  else s->oldest = x;
  s->newest = x;
  s->count++;
  memcpy(csrf, x->csrf, HITL_SESSION_SECRET_LEN);
  pthread_mutex_unlock(&s->lock);
  return 0;
}

/* The live session of the id hash h, or NULL. Lock held. The secret is compared in constant
 * time; the bucket is chosen by the hash, which tells nothing usable about the cookie. */
static session *find(hitl_sessions *s, const uint8_t h[HITL_HASH_LEN], int64_t now) {
  for (session *x = *id_bucket(s, h); x; x = x->id_next) {
    s->probes++;
    if (sodium_memcmp(x->sid_hash, h, HITL_HASH_LEN) == 0) return x->expires_at > now ? x : NULL;
  }
  return NULL;
}

int hitl__session_find(hitl_sessions *s, const char *sid, hitl_principal *who,
                       char csrf[HITL_SESSION_SECRET_LEN]) {
  uint8_t h[HITL_HASH_LEN];
  hitl_hash(sid, strlen(sid), h);
  int64_t now = hitl_now_ms();
  int rc = HITL_EUNAUTHORIZED;
  pthread_mutex_lock(&s->lock);
  session *x = find(s, h, now);
  if (x) {
    *who = x->who;
    memcpy(csrf, x->csrf, HITL_SESSION_SECRET_LEN);
    rc = 0;
  }
  pthread_mutex_unlock(&s->lock);
  /* The copied principal's role pointers point into the table's copy: repoint them. */
  if (rc == 0)
    for (size_t i = 0; i < who->n_roles; i++) who->roles[i] = who->role_buf[i];
  return rc;
}

void hitl__sessions_end_for(hitl_sessions *s, const char *name) {
  pthread_mutex_lock(&s->lock);
  s->generation++;
  for (session *x = *name_bucket(s, name), *next; x; x = next) {
    next = x->name_next;
    if (strcmp(x->who.name, name) == 0) drop(s, x);
  }
  pthread_mutex_unlock(&s->lock);
}

void hitl__session_delete(hitl_sessions *s, const char *sid) {
  uint8_t h[HITL_HASH_LEN];
  hitl_hash(sid, strlen(sid), h);
  pthread_mutex_lock(&s->lock);
  session *x = find(s, h, INT64_MIN);
  if (x) drop(s, x);
  pthread_mutex_unlock(&s->lock);
}

size_t hitl__sessions_count(hitl_sessions *s) {
  pthread_mutex_lock(&s->lock);
  size_t n = s->count;
  pthread_mutex_unlock(&s->lock);
  return n;
}

uint64_t hitl__sessions_probes(hitl_sessions *s) {
  pthread_mutex_lock(&s->lock);
  uint64_t n = s->probes;
  pthread_mutex_unlock(&s->lock);
  return n;
}

bool hitl__principal_recheck(hitl_request *req) {
  hitl_server *srv = req->server;
  const char *authorization = hitl__header(req, MHD_HTTP_HEADER_AUTHORIZATION);
  const char *sid = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, HITL_SESSION_COOKIE);
  hitl_principal who;
  /* The same choice as the server's authentication: a cookie counts only without a header. */
  if (authorization == NULL && sid != NULL) {
    char csrf[HITL_SESSION_SECRET_LEN];
    if (hitl__session_find(srv->sessions, sid, &who, csrf) != 0) return false;
    sodium_memzero(csrf, sizeof csrf);
  } else {
    hitl_store *reader = hitl__server_reader(srv);
    hitl_err err = {0};
    if (reader == NULL || hitl__auth_check(srv->auth, reader, authorization, &who, &err) != 0)
      return false;
  }
  return strcmp(who.name, req->who.name) == 0;
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
  if (req->server->tls_cert) return "; Secure"; /* Served over HTTPS by hitl itself. */
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
  char sid[HITL_SESSION_SECRET_LEN], csrf[HITL_SESSION_SECRET_LEN];
  /* The session opens only if no revocation came between the token check and the opening;
   * otherwise the check may have seen the token just before its revocation: check again. */
  int rc = HITL_ECONFLICT;
  for (int attempt = 0; attempt < 3 && rc == HITL_ECONFLICT; attempt++) {
    uint64_t generation = hitl__sessions_generation(req->server->sessions);
    rc = hitl__auth_check(req->server->auth, reader, authorization, &who, &err);
    if (rc == 0) rc = hitl__session_create(req->server->sessions, &who, generation, sid, csrf);
  }
  sodium_memzero(authorization, sizeof authorization);
  if (rc == HITL_ECONFLICT) {
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL,
                      "tokens are being revoked right now: sign in again in a moment");
    return;
  }
  if (rc) {
    hitl__reply_err(req, &err);
    return;
  }
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
  if (sid) {
    hitl__session_delete(req->server->sessions, sid);
    /* Streams and long-polls of the session look again, find it gone and end. */
    hitl__waiters_wake_all(req->server->waiters);
  }
  snprintf(req->cookie, sizeof req->cookie,
           HITL_SESSION_COOKIE "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0%s",
           secure_attribute(req));
  hitl__reply_empty(req, 204);
}
