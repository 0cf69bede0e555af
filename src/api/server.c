/* SPDX-License-Identifier: MIT */
/* HTTP glue: libmicrohttpd callbacks, routing, auth, answers, start and stop (what a handler asks
 * of its request is in request.c). */
#include "api/server_internal.h"

#include "api/policy_pool.h"
#include "api/feed.h"
#include "api/heartbeats.h"
#include "api/run_cache.h"
#include "api/queue_json.h"
#include "api/series.h"
#include "api/session.h"
#include "api/tls.h"
#include "api/calib.h"
#include "api/sync.h"

#include <sodium.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define STOP_DRAIN_MS 5000 /* At stop, how long answers already decided may take to go out. */
/* Memory for the live runs that heartbeats are answered from (api/run_cache.h): about 200 bytes
 * a run plus its strings, so hundreds of thousands of runs; more are read from the store. */
#define RUN_CACHE_BYTES ((size_t)64 << 20)

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

/* The pseudo-route of the embedded web UI's files, which live outside the route table. */
static const hitl_route_def static_route = {"GET", "static", HITL_ACCESS_PUBLIC, NULL,
                                            HITL_BODY_NONE, hitl__h_static};

/* Finds the route of req; on none answers 404, 405 or 400 and returns NULL. */
static const hitl_route_def *find_route(hitl_request *req) {
  if (hitl__is_static_path(req->path)) {
    if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0) return &static_route;
    snprintf(req->allow, sizeof req->allow, "GET, HEAD");
    hitl__reply_error(req, HITL_EMETHOD, NULL, "%s is not allowed on %s; use GET", req->method,
                      req->path);
    return NULL;
  }
  int status = 404;
  const hitl_route_def *r = hitl__route_match(req->method, req->path, req->params, &status);
  if (r) return r;
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
  return NULL;
}

/* Runs on the request line and headers, before any of the body is read: checks the framing,
 * finds the route, authenticates the caller and checks the route's role, and checks the declared
 * body length against the route's limit. Returns true when the body may be read; otherwise the
 * request was answered (400, 401, 403, 404, 405 or 413) and its body is never read. */
static bool admit(hitl_request *req, const char *url, const char *version) {
  if (!hitl__intake_check(req, url, version)) return false;
  const hitl_route_def *r = find_route(req);
  if (r == NULL) return false;
  req->route = r;
  req->route_name = r == &static_route ? "static" : r->pattern;
  if (r->access != HITL_ACCESS_PUBLIC) {
    if (!authenticate(req)) return false;
    req->actor.name = req->who.name;
    req->actor.roles = req->who.roles;
    req->actor.n_roles = req->who.n_roles;
    req->actor.orchestrator = req->who.orchestrator;
    if (r->access == HITL_ACCESS_ROLE && !hitl__require_role(req, r->role)) return false;
  }
  if (!hitl__limits_admit(req)) return false; /* 429 or 503, still before any body. */
  req->body_limit = hitl__route_body_limit(r, req->server->cfg.max_body);
  const char *cl = hitl__header(req, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl && strtoull(cl, NULL, 10) > req->body_limit) {
    req->close = true;
    if (req->body_limit == 0)
      hitl__reply_error(req, HITL_ETOO_LARGE, NULL, "%s %s takes no request body", req->method,
                        r->pattern);
    else
      hitl__reply_error(req, HITL_ETOO_LARGE, NULL, "the request body is larger than %zu bytes",
                        req->body_limit);
    return false;
  }
  return true;
}

/* Runs the route's handler once the whole body is in. Every path ends in an answer or a
 * suspension that someone answers later. */
static void dispatch(hitl_request *req) {
  if (req->body_too_large) {
    if (req->body_limit == 0)
      hitl__reply_error(req, HITL_ETOO_LARGE, NULL, "%s takes no request body", req->route_name);
    else
      hitl__reply_error(req, HITL_ETOO_LARGE, NULL, "the request body is larger than %zu bytes",
                        req->body_limit);
    return;
  }
  req->route->handler(req);
  if (req->phase == HITL_PHASE_READING) {
    /* A handler must answer or suspend; a client is never left waiting for nothing. */
    hitl_log(HITL_LOG_ERROR, "msg=\"handler gave no answer\" route=%s", req->route_name);
    hitl__reply_error(req, HITL_EINTERNAL, NULL, "the server gave no answer");
  }
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
  if (req->close) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  if (req->server->tls_cert)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_STRICT_TRANSPORT_SECURITY, HITL_HSTS);
  hitl__limits_answer(req, resp);
  enum MHD_Result ok = MHD_queue_response(req->conn, (unsigned)req->status, resp);
  MHD_destroy_response(resp);
  return ok;
}

/* Makes the request record of a new request. */
static hitl_request *request_new(hitl_server *s, struct MHD_Connection *conn) {
  hitl_request *req = hitl_xcalloc(1, sizeof *req);
  req->conn = conn;
  req->server = s;
  req->method = "";
  req->start_us = hitl_mono_us();
  req->route_name = "unmatched";
  return req;
}

/* libmicrohttpd's URI log callback: runs on the request line, before libmicrohttpd splits the
 * target into path and query; what it records lets admit refuse what the split would hide. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *conn) {
  hitl_request *req = request_new(cls, conn);
  hitl__intake_target(&req->intake, uri);
  return req;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  hitl_server *s = cls;
  hitl_request *req = *con_cls;
  if (req == NULL) { /* Only when the URI log callback did not run. */
    req = request_new(s, conn);
    hitl__intake_target(&req->intake, url);
    *con_cls = req;
  }
  if (!req->headers_in) {
    /* The first call comes with the headers, before any of the body: the only moment
     * libmicrohttpd lets us answer before the upload ends (then it reads no more of it and
     * closes the connection after the answer). */
    req->headers_in = true;
    hitl__limits_request_begin(s->limits, conn); /* The header deadline no longer applies. */
    /* In flight from here to on_completed: stop waits for it. A request whose headers never
     * arrived whole is not counted, so a slow client cannot hold up a stop. */
    pthread_mutex_lock(&s->inflight_lock);
    s->inflight++;
    pthread_mutex_unlock(&s->inflight_lock);
    req->method = method;
    req->path = hitl_xstrdup(url);
    if (!admit(req, url, version)) return send_answer(req);
    return MHD_YES;
  }
  if (req->phase == HITL_PHASE_READING) {
    if (*upload_data_size > 0) {
      /* A chunked body that outgrows the limit is read to its end and dropped, never kept;
       * dispatch then answers 413 (libmicrohttpd refuses an answer in the middle of an
       * upload). A declared length over the limit was refused by admit. */
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

/* Writes in into out (n bytes) for a key=value log line: printable ASCII as is but '"' and
 * '\\' escaped, every other byte (and a space, unless the value is quoted) as \xNN, so that no
 * client byte can forge a field or break the line. */
static void log_escape(char *out, size_t n, const char *in, bool quoted) {
  size_t w = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p && w + 5 < n; p++) {
    if (*p == '"' || *p == '\\') {
      out[w++] = '\\';
      out[w++] = (char)*p;
    } else if (*p < 0x20 || *p >= 0x7f || (*p == ' ' && !quoted)) {
      w += (size_t)snprintf(out + w, n - w, "\\x%02x", *p);
    } else {
      out[w++] = (char)*p;
    }
  }
  out[w] = '\0';
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)conn;
  hitl_server *s = cls;
  hitl_request *req = *con_cls;
  if (req == NULL) return;
  /* A request refused by libmicrohttpd before its headers were whole (it logs why through
   * mhd_log) never reached on_request: nothing to count or log here. */
  bool headers_in = req->headers_in;
  if (headers_in) {
    int64_t us = hitl_mono_us() - req->start_us;
    hitl__metrics_observe(&s->metrics, req->status, us);
    char method[64];
    log_escape(method, sizeof method, req->method, false);
    hitl_log(HITL_LOG_INFO, "method=%s route=%s status=%d us=%lld%s", method, req->route_name,
             req->status, (long long)us,
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
  }
  hitl__limits_release(req);
  if (req->state_free) req->state_free(req->state);
  for (int i = 0; i < HITL_MAX_PARAMS; i++) free(req->params[i]);
  for (int i = 0; i < HITL_MAX_QUERY; i++) free(req->query_copies[i]);
  if (req->stream) MHD_destroy_response(req->stream);
  hitl_buf_free(&req->body);
  hitl_buf_free(&req->out);
  free(req->path);
  free(req);
  *con_cls = NULL;
  if (!headers_in) return;
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
  hitl_server *s = cls;
  char line[512], escaped[1024];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t len = strlen(line);
  if (len && line[len - 1] == '\n') line[len - 1] = '\0'; /* Its own line end; others escaped. */
  /* A client that goes away (an event stream's browser tab closing) is normal: the request line
   * says aborted=1 already, so libmicrohttpd's account of it is only for debugging. */
  bool gone = strstr(line, "no longer available for sending") ||
              strstr(line, "forcibly closed by remote peer") ||
              strstr(line, "closed by remote side");
  if (strncmp(line, "Server reached connection limit", 31) == 0) {
    hitl__limits_refused(s->limits); /* One line per refused connection would flood the log. */
    return;
  }
  log_escape(escaped, sizeof escaped, line, true);
  hitl_log(gone ? HITL_LOG_DEBUG : HITL_LOG_WARN, "msg=\"http: %s\"", escaped);
}

/* ---- start and stop ----------------------------------------------------------------------- */

/* Makes room in the open-file limit for cfg.max_connections sockets and the server's own files
 * (databases, epoll, webhooks): raises the soft limit when it is short, else lowers the cap. */
static void fit_file_limit(hitl_server_config *cfg) {
  const rlim_t headroom = 256;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  rlim_t need = (rlim_t)cfg->max_connections + headroom;
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > need ? need : rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
    unsigned fit = rl.rlim_cur > headroom + 16 ? (unsigned)(rl.rlim_cur - headroom) : 16;
    hitl_log(HITL_LOG_WARN, "msg=\"open-file limit too low: fewer connections\" nofile=%llu "
             "max_connections=%u", (unsigned long long)rl.rlim_cur, fit);
    cfg->max_connections = fit;
  }
}

/* Writer lanes for the server's database: several on PostgreSQL, whose round trips to the
 * database then overlap (bench/README.md, "PostgreSQL"); one on SQLite, which has one writer at a
 * time. */
static size_t writer_lanes(const hitl_server *s) {
  if (!hitl_store_is_shared(s->db)) return 1;
  int n = s->cfg.writers > 0 ? s->cfg.writers : HITL_DEFAULT_WRITERS;
  return (size_t)(n < HITL_MAX_WRITERS ? n : HITL_MAX_WRITERS);
}

int hitl_server_start(const hitl_server_config *cfg, hitl_server **out, hitl_err *err) {
  if (hitl_id_init() != 0) return hitl_err_set(err, HITL_EINTERNAL, NULL, "libsodium failed to start");
  hitl_server *s = hitl_xcalloc(1, sizeof *s);
  s->cfg = *cfg;
  s->db = hitl_xstrdup(cfg->db);
  s->admin_token = hitl_xstrdup(cfg->admin_token);
  s->cfg.db = s->db;
  s->cfg.admin_token = s->admin_token;
  s->cfg.tls_cert = s->cfg.tls_key = NULL; /* The paths are not kept: s->tls_cert is the PEM. */
  if (s->cfg.max_body == 0) s->cfg.max_body = HITL_DEFAULT_MAX_BODY;
  if (s->cfg.max_connections == 0) s->cfg.max_connections = HITL_DEFAULT_MAX_CONNECTIONS;
  if (s->cfg.header_timeout_ms <= 0) s->cfg.header_timeout_ms = HITL_DEFAULT_HEADER_TIMEOUT_MS;
  fit_file_limit(&s->cfg);
  pthread_key_create(&s->reader_key, NULL);
  pthread_mutex_init(&s->readers_lock, NULL);
  pthread_mutex_init(&s->inflight_lock, NULL);
  pthread_cond_init(&s->inflight_done, NULL);
  s->registry = hitl__registry_new();
  s->calib = hitl__calib_new(s->cfg.calib_snapshot_every);
  s->auth = hitl__auth_new(cfg->admin_token);
  s->waiters = hitl__waiters_new();
  s->sessions = hitl__sessions_new();
  s->limits = hitl__limits_new(&(hitl_limits_config){
      .max_connections = s->cfg.max_connections,
      .header_timeout_ms = s->cfg.header_timeout_ms,
      .rate = s->cfg.rate_limit,
      .max_waits = s->cfg.max_waits,
  });

  int rc = 0;
  if (cfg->tls_cert || cfg->tls_key) {
    if (cfg->tls_cert == NULL || cfg->tls_key == NULL) {
      rc = hitl_err_set(err, HITL_EVALIDATION, "tls", "TLS needs both a certificate and its key");
      goto fail;
    }
    rc = hitl__tls_load(cfg->tls_cert, cfg->tls_key, &s->tls_cert, &s->tls_key, err);
    if (rc) goto fail;
  }
  hitl_store *writers[HITL_MAX_WRITERS] = {0};
  size_t n_writers = writer_lanes(s);
  rc = hitl_store_open(s->db, &writers[0], err);
  if (rc) goto fail;
  rc = hitl__sync_load_queues(s, writers[0], 0, false, err);
  for (size_t i = 1; i < n_writers && rc == 0; i++) rc = hitl_store_open(s->db, &writers[i], err);
  if (rc) {
    for (size_t i = 0; i < n_writers; i++) hitl_store_close(writers[i]);
    goto fail;
  }
  s->webhooks = hitl__webhooks_new(s, cfg->webhook_secret, cfg->webhook_retry_ms);
  s->feed = hitl__feed_start(s->db, hitl__sync_apply_remote, hitl__sync_resync, s);
  s->committer = hitl__committer_start(writers, n_writers, hitl__sync_on_commit,
                                       hitl__sync_before_commit, hitl__sync_sweep_config, s);
  if (!hitl_store_is_shared(s->db)) s->run_cache = hitl__run_cache_new(RUN_CACHE_BYTES);
  s->heartbeats = hitl__heartbeats_new(s->committer, s->run_cache);
  s->policy_pool = hitl__policy_pool_start(HITL_POLICY_WORKERS);
  s->series = hitl__series_start(s->registry);

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
  if (inet_pton(AF_INET, cfg->host ? cfg->host : "127.0.0.1", &addr.sin_addr) != 1) {
    rc = hitl_err_set(err, HITL_EVALIDATION, "listen", "\"%s\" is not an IPv4 address", cfg->host);
    goto fail;
  }
  unsigned threads = cfg->threads > 0 ? (unsigned)cfg->threads : 2;
  /* The key and certificate are parsed when the daemon starts; libmicrohttpd keeps pointers to
   * them, so they live until stop. */
  struct MHD_OptionItem tls_options[] = {
      {s->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->tls_cert},
      {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key},
      {MHD_OPTION_END, 0, NULL},
  };
  s->mhd = MHD_start_daemon(
      MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
          MHD_USE_ERROR_LOG | (s->tls_cert ? MHD_USE_TLS : 0),
      (uint16_t)cfg->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
      MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
      MHD_OPTION_NOTIFY_CONNECTION, hitl__limits_on_connection, s->limits,
      MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
      MHD_OPTION_URI_LOG_CALLBACK, on_request_line, s, /* Request intake (see intake.c). */
      /* Idle time once the headers are in (the header deadline is api/limits.c's). */
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
      MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->cfg.max_connections_per_address,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_ARRAY, tls_options,
      MHD_OPTION_END);
  if (s->mhd == NULL) {
    rc = hitl_err_set(err, HITL_EUNAVAILABLE, "listen", "cannot listen on %s:%d (in use?%s)",
                      cfg->host ? cfg->host : "127.0.0.1", cfg->port,
                      s->tls_cert ? " or the TLS key does not match the certificate or cannot be "
                                    "parsed: see the log" : "");
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
  hitl__policy_pool_stop(s->policy_pool);  /* Queued routing finishes and goes to the writer. */
  hitl__committer_stop(s->committer);      /* Queued writes finish and answer; later ones get 503. */
  hitl__feed_stop(s->feed);
  s->feed = NULL;
  if (s->mhd) wait_for_requests(s, STOP_DRAIN_MS);
  if (s->mhd) MHD_stop_daemon(s->mhd);
  hitl__waiters_free(s->waiters);
  hitl__committer_free(s->committer);
  hitl__heartbeats_free(s->heartbeats); /* After the writer, which stored what was queued. */
  hitl__run_cache_free(s->run_cache);
  hitl__policy_pool_free(s->policy_pool);
  hitl__webhooks_free(s->webhooks);
  hitl__series_stop(s->series);
  for (size_t i = 0; i < s->n_readers; i++) hitl_store_close(s->readers[i]);
  free(s->readers);
  pthread_key_delete(s->reader_key);
  pthread_mutex_destroy(&s->readers_lock);
  pthread_mutex_destroy(&s->inflight_lock);
  pthread_cond_destroy(&s->inflight_done);
  hitl__limits_free(s->limits); /* After the daemon: its last connections report their close. */
  free(s->tls_cert);
  hitl__tls_free_key(s->tls_key);
  hitl__auth_free(s->auth);
  hitl__sessions_free(s->sessions);
  hitl__registry_free(s->registry);
  hitl__calib_free(s->calib);
  free(s->db);
  free(s->admin_token);
  free(s);
}
