/* SPDX-License-Identifier: MIT */
/* HTTP glue: libmicrohttpd callbacks, request bodies, routing, auth, answers, start and stop. */
#include "api/server_internal.h"

#include "api/feed.h"
#include "api/queue_json.h"
#include "api/series.h"
#include "api/session.h"
#include "api/sync.h"

#include <sodium.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define MAX_JSON_DEPTH 64
#define STOP_DRAIN_MS 5000 /* At stop, how long answers already decided may take to go out. */

/* ---- answers ---------------------------------------------------------------------------- */

void hitl__reply_buf(hitl_request *req, int status, hitl_buf *b) {
  hitl_buf_free(&req->out);
  req->out = *b;
  hitl_buf_init(b);
  req->status = status;
  req->content_type = "application/json";
  req->phase = HITL_PHASE_ANSWERED;
}

void hitl__reply_json(hitl_request *req, int status, const char *json, size_t len) {
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_append(&b, json, len);
  hitl__reply_buf(req, status, &b);
}

void hitl__reply_empty(hitl_request *req, int status) {
  hitl_buf_free(&req->out);
  req->status = status;
  req->content_type = NULL;
  req->phase = HITL_PHASE_ANSWERED;
}

/* Length of the well-formed UTF-8 sequence at s (NUL-terminated), or 0 when there is none. */
static size_t utf8_sequence(const unsigned char *s) {
  unsigned char c = s[0], lo = 0x80, hi = 0xBF;
  size_t n;
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0; /* Overlong. */
    if (c == 0xED) hi = 0x9F; /* Surrogates. */
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90; /* Overlong. */
    if (c == 0xF4) hi = 0x8F; /* Past U+10FFFF. */
  } else {
    return 0;
  }
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if ((s[i] & 0xC0) != 0x80) return 0;
  return n;
}

/* Replaces in place every byte of s that is not part of well-formed UTF-8 with '?', so that
 * echoed input (a path, a key cut short by truncation) cannot make the error body invalid JSON. */
static void utf8_scrub(char *s) {
  unsigned char *p = (unsigned char *)s;
  while (*p) {
    size_t n = utf8_sequence(p);
    if (n == 0) {
      *p = '?';
      n = 1;
    }
    p += n;
  }
}

void hitl__reply_error(hitl_request *req, int code, const char *field, const char *fmt, ...) {
  char message[512], field_copy[160]; /* As hitl_err.field. */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  utf8_scrub(message);
  if (field) {
    snprintf(field_copy, sizeof field_copy, "%s", field);
    utf8_scrub(field_copy);
    field = field_copy;
  }
  hitl_buf b = HITL_BUF_INIT;
  hitl_buf_puts(&b, "{\"error\":{\"code\":");
  hitl_buf_json_cstr(&b, hitl_err_code(code));
  hitl_buf_puts(&b, ",\"message\":");
  hitl_buf_json_cstr(&b, message);
  if (field && *field) {
    hitl_buf_puts(&b, ",\"field\":");
    hitl_buf_json_cstr(&b, field);
  }
  hitl_buf_puts(&b, "}}");
  hitl__reply_buf(req, hitl_err_status(code), &b);
}

void hitl__reply_err(hitl_request *req, const hitl_err *err) {
  int code = err->code ? err->code : HITL_EINTERNAL;
  hitl__reply_error(req, code, err->field, "%s", err->message[0] ? err->message : "internal error");
}

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

json_t *hitl__body_json(hitl_request *req) {
  if (req->body.len == 0) {
    hitl__reply_error(req, HITL_EINVALID_JSON, NULL, "the request body is empty: send a JSON object");
    return NULL;
  }
  if (too_deep(req->body.data, req->body.len)) {
    hitl__reply_error(req, HITL_EINVALID_JSON, NULL,
                      "the JSON is nested more than %d levels deep", MAX_JSON_DEPTH);
    return NULL;
  }
  json_error_t e;
  json_t *v = json_loadb(req->body.data, req->body.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
  if (v == NULL) {
    hitl__reply_error(req, HITL_EINVALID_JSON, NULL, "invalid JSON at line %d, column %d: %s%s",
                      e.line, e.column, e.text,
                      json_error_code(&e) == json_error_invalid_utf8 ? " (send UTF-8 text)" : "");
    return NULL;
  }
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

/* ---- the libmicrohttpd callbacks ---------------------------------------------------------- */

/* True when the request carries a valid bearer token or session cookie (then req->who is set);
 * otherwise answers 401 (or 403 for a cookie request without its CSRF secret). */
static bool authenticate(hitl_request *req) {
  hitl_err err = {0};
  const char *authorization = hitl__header(req, MHD_HTTP_HEADER_AUTHORIZATION);
  const char *sid = MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, HITL_SESSION_COOKIE);
  if (authorization == NULL && sid != NULL) {
    if (hitl__session_find(req->server->sessions, sid, &req->who, req->csrf) != 0) {
      hitl__reply_error(req, HITL_EUNAUTHORIZED, NULL, "the session has ended: sign in again");
      return false;
    }
    /* A cookie is sent by the browser on its own, so a change needs proof that the page that
     * asked is ours: the CSRF secret, which only our pages can read. */
    bool changes = strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0;
    const char *given = hitl__header(req, "X-CSRF-Token");
    if (changes && (given == NULL || strlen(given) != strlen(req->csrf) ||
                    sodium_memcmp(given, req->csrf, strlen(req->csrf)) != 0)) {
      hitl__reply_error(req, HITL_EFORBIDDEN, NULL,
                        "missing or wrong CSRF token: send the X-CSRF-Token header that "
                        "GET /v1/session gives");
      return false;
    }
    return true;
  }
  hitl_store *reader = hitl__reader(req);
  if (reader == NULL) return false;
  if (hitl__auth_check(req->server->auth, reader, authorization, &req->who, &err) != 0) {
    hitl__reply_err(req, &err);
    return false;
  }
  return true;
}

static void dispatch(hitl_request *req) {
  if (hitl__is_static_path(req->path)) {
    hitl__h_static(req);
    return;
  }
  int status = 404;
  const hitl_route_def *r = hitl__route_match(req->method, req->path, req->params, &status);
  if (r == NULL) {
    if (status == 405) {
      hitl__route_allow(req->path, req->allow, sizeof req->allow);
      hitl__reply_error(req, HITL_EMETHOD, NULL, "%s is not allowed on %s; use %s", req->method,
                        req->path, req->allow);
    } else if (status == 400) {
      hitl__reply_error(req, HITL_EVALIDATION, NULL,
                        "the path has a broken percent-escape or a NUL byte");
    } else {
      hitl__reply_error(req, HITL_ENOT_FOUND, NULL, "no such route: %s %s", req->method, req->path);
    }
    return;
  }
  req->route_name = r->pattern;
  if (req->body_too_large) {
    hitl__reply_error(req, HITL_ETOO_LARGE, NULL, "the request body is larger than %zu bytes",
                      req->body_limit);
    return;
  }
  if (!r->public_route && !authenticate(req)) return;
  if (!r->public_route) {
    req->actor.name = req->who.name;
    req->actor.roles = req->who.roles;
    req->actor.n_roles = req->who.n_roles;
    req->actor.orchestrator = req->who.orchestrator;
  }
  r->handler(req);
}

static enum MHD_Result send_answer(hitl_request *req) {
  struct MHD_Response *resp = req->stream;
  req->stream = NULL;
  if (resp == NULL) {
    size_t len = req->out.len;
    char *data = hitl_buf_detach(&req->out);
    resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (req->content_type)
      MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
  }
  if (req->location[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, req->location);
  if (req->allow[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->allow);
  if (req->cookie[0]) MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, req->cookie);
  enum MHD_Result ok = MHD_queue_response(req->conn, (unsigned)req->status, resp);
  MHD_destroy_response(resp);
  return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  (void)version;
  hitl_server *s = cls;
  hitl_request *req = *con_cls;
  if (req == NULL) {
    req = hitl_xcalloc(1, sizeof *req);
    req->conn = conn;
    req->server = s;
    req->method = method;
    req->path = hitl_xstrdup(url);
    req->start_us = hitl_mono_us();
    req->route_name = "unmatched";
    bool batch = strstr(url, "/tasks/batch") != NULL;
    req->body_limit = batch ? s->cfg.max_body * 16 : s->cfg.max_body;
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > req->body_limit) req->body_too_large = true;
    *con_cls = req;
    pthread_mutex_lock(&s->inflight_lock);
    s->inflight++;
    pthread_mutex_unlock(&s->inflight_lock);
    if (!req->body_too_large) return MHD_YES;
    /* A declared length over the limit is refused before any of the body is read: this is the
     * only moment libmicrohttpd lets us answer before the upload ends. */
    dispatch(req);
    return send_answer(req);
  }
  if (req->phase == HITL_PHASE_READING) {
    if (*upload_data_size > 0) {
      /* A chunked body that outgrows the limit is read to its end and dropped; dispatch then
       * answers 413 (libmicrohttpd refuses an answer in the middle of an upload). */
      if (!req->body_too_large && req->body.len + *upload_data_size > req->body_limit) {
        req->body_too_large = true;
        hitl_buf_free(&req->body);
      }
      if (!req->body_too_large) hitl_buf_append(&req->body, upload_data, *upload_data_size);
      *upload_data_size = 0;
      return MHD_YES;
    }
    dispatch(req);
  } else if (req->phase == HITL_PHASE_WAITING && req->on_resume) {
    hitl_handler_fn fn = req->on_resume;
    req->on_resume = NULL;
    fn(req);
  }
  if (req->phase == HITL_PHASE_ANSWERED) return send_answer(req);
  return MHD_YES; /* Suspended. */
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)conn;
  hitl_server *s = cls;
  hitl_request *req = *con_cls;
  if (req == NULL) return;
  int64_t us = hitl_mono_us() - req->start_us;
  hitl__metrics_observe(&s->metrics, req->status, us);
  hitl_log(HITL_LOG_INFO, "method=%s route=%s status=%d us=%lld%s", req->method, req->route_name,
           req->status, (long long)us, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
  if (req->state_free) req->state_free(req->state);
  for (int i = 0; i < HITL_MAX_PARAMS; i++) free(req->params[i]);
  for (int i = 0; i < HITL_MAX_QUERY; i++) free(req->query_copies[i]);
  if (req->stream) MHD_destroy_response(req->stream);
  hitl_buf_free(&req->body);
  hitl_buf_free(&req->out);
  free(req->path);
  free(req);
  *con_cls = NULL;
  pthread_mutex_lock(&s->inflight_lock);
  if (--s->inflight == 0) pthread_cond_broadcast(&s->inflight_done);
  pthread_mutex_unlock(&s->inflight_lock);
}

/* Keeps paths and query arguments as sent; routing decodes each path segment itself, so that an
 * encoded '/' inside a name cannot change which route matches. */
static size_t unescape_none(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  (void)c;
  return strlen(s);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  line[strcspn(line, "\n")] = '\0';
  hitl_log(HITL_LOG_WARN, "msg=\"http: %s\"", line);
}

/* ---- start and stop ----------------------------------------------------------------------- */

int hitl_server_start(const hitl_server_config *cfg, hitl_server **out, hitl_err *err) {
  if (hitl_id_init() != 0) return hitl_err_set(err, HITL_EINTERNAL, NULL, "libsodium failed to start");
  hitl_server *s = hitl_xcalloc(1, sizeof *s);
  s->cfg = *cfg;
  s->db = hitl_xstrdup(cfg->db);
  s->admin_token = hitl_xstrdup(cfg->admin_token);
  s->cfg.db = s->db;
  s->cfg.admin_token = s->admin_token;
  if (s->cfg.max_body == 0) s->cfg.max_body = HITL_DEFAULT_MAX_BODY;
  pthread_key_create(&s->reader_key, NULL);
  pthread_mutex_init(&s->readers_lock, NULL);
  pthread_mutex_init(&s->inflight_lock, NULL);
  pthread_cond_init(&s->inflight_done, NULL);
  s->registry = hitl__registry_new();
  s->auth = hitl__auth_new(cfg->admin_token);
  s->waiters = hitl__waiters_new();
  s->sessions = hitl__sessions_new();

  hitl_store *writer = NULL;
  int rc = hitl_store_open(s->db, &writer, err);
  if (rc) goto fail;
  rc = hitl__sync_load_queues(s, writer, 0, false, err);
  if (rc) {
    hitl_store_close(writer);
    goto fail;
  }
  s->webhooks = hitl__webhooks_new(s, cfg->webhook_secret, cfg->webhook_retry_ms);
  s->feed = hitl__feed_start(s->db, hitl__sync_apply_remote, hitl__sync_resync, s);
  s->committer = hitl__committer_start(writer, hitl__sync_on_commit, hitl__sync_before_commit,
                                       hitl__sync_sweep_config, s);
  s->series = hitl__series_start(s->registry);

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
  if (inet_pton(AF_INET, cfg->host ? cfg->host : "127.0.0.1", &addr.sin_addr) != 1) {
    rc = hitl_err_set(err, HITL_EVALIDATION, "listen", "\"%s\" is not an IPv4 address", cfg->host);
    goto fail;
  }
  unsigned threads = cfg->threads > 0 ? (unsigned)cfg->threads : 2;
  s->mhd = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
          MHD_USE_ERROR_LOG,
      0, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
      MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
      MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)120, MHD_OPTION_CONNECTION_LIMIT, (unsigned)10000, MHD_OPTION_LISTEN_BACKLOG_SIZE,
      (unsigned)1024, MHD_OPTION_END);
  if (s->mhd == NULL) {
    rc = hitl_err_set(err, HITL_EUNAVAILABLE, "listen", "cannot listen on %s:%d (in use?)",
                      cfg->host ? cfg->host : "127.0.0.1", cfg->port);
    goto fail;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
  s->port = info ? info->port : cfg->port;
  hitl__webhooks_run(s->webhooks);
  *out = s;
  return 0;
fail:
  hitl_server_stop(s);
  return rc;
}

int hitl_server_port(const hitl_server *s) { return s->port; }

/* Waits, at most ms, until no request is in flight. At stop, the committer has answered every job
 * it committed by resuming its connection; MHD_stop_daemon would close those connections before
 * the answers go out, leaving durable writes unacknowledged (a claim would hold a lease its
 * reviewer never learnt of). */
static void wait_for_requests(hitl_server *s, int64_t ms) {
  int64_t until = hitl_now_ms() + ms;
  struct timespec ts = {.tv_sec = until / 1000, .tv_nsec = (long)(until % 1000) * 1000000};
  pthread_mutex_lock(&s->inflight_lock);
  int rc = 0;
  while (s->inflight > 0 && rc == 0)
    rc = pthread_cond_timedwait(&s->inflight_done, &s->inflight_lock, &ts);
  size_t left = s->inflight;
  pthread_mutex_unlock(&s->inflight_lock);
  if (left) hitl_log(HITL_LOG_WARN, "msg=\"stopping with requests in flight\" requests=%zu", left);
}

void hitl_server_stop(hitl_server *s) {
  if (s == NULL) return;
  __atomic_store_n(&s->stopping, true, __ATOMIC_RELEASE); /* Event streams end. */
  if (s->mhd) MHD_quiesce_daemon(s->mhd); /* No new connections. */
  hitl__waiters_stop(s->waiters);          /* Long-polls answer with the task as it is. */
  hitl__webhooks_stop(s->webhooks);        /* Deliveries in flight are retried after a restart. */
  hitl__committer_stop(s->committer);      /* Queued writes finish and answer; later ones get 503. */
  hitl__feed_stop(s->feed);
  s->feed = NULL;
  if (s->mhd) wait_for_requests(s, STOP_DRAIN_MS);
  if (s->mhd) MHD_stop_daemon(s->mhd);
  hitl__waiters_free(s->waiters);
  hitl__committer_free(s->committer);
  hitl__webhooks_free(s->webhooks);
  hitl__series_stop(s->series);
  for (size_t i = 0; i < s->n_readers; i++) hitl_store_close(s->readers[i]);
  free(s->readers);
  pthread_key_delete(s->reader_key);
  pthread_mutex_destroy(&s->readers_lock);
  pthread_mutex_destroy(&s->inflight_lock);
  pthread_cond_destroy(&s->inflight_done);
  hitl__auth_free(s->auth);
  hitl__sessions_free(s->sessions);
  hitl__registry_free(s->registry);
  free(s->db);
  free(s->admin_token);
  free(s);
}
