/* SPDX-License-Identifier: MIT */
/* Connection accounting, the request-header deadline, and per-token rate and waiting limits. */
#include "api/limits.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api/server_internal.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define TOKEN_BUCKETS 256
#define REFUSED_LOG_EVERY_US (10 * 1000000) /* At most one log line this often about refusals. */

/* One open connection. It lives from MHD's STARTED notification to its CLOSED one, which MHD
 * sends before it closes the socket: so fd stays valid while the entry is in the table. */
typedef struct conn_entry {
  struct conn_entry *prev, *next; /* In the list of connections awaiting request headers. */
  int fd;
  int64_t since_us;               /* When the wait for headers began (monotonic). */
  bool listed;                    /* In that list. */
} conn_entry;

/* What one token has used. Entries live until the server stops: there is one per token that
 * authenticated, and tokens are created by orchestrators only. */
typedef struct token_use {
  struct token_use *next;
  char name[sizeof(((hitl_principal *)0)->name)];
  double tokens;   /* Requests the bucket allows now (at most rate). */
  int64_t last_us; /* When tokens was last brought up to date. */
  unsigned waits;  /* Long-polls and event streams open now. */
} token_use;

struct hitl_limits {
  hitl_limits_config cfg;
  unsigned soft_cap;
  pthread_mutex_t lock;
  pthread_cond_t wake;      /* The timer thread: a new head of the list, or stop. */
  pthread_t timer;
  bool stop;
  unsigned open;            /* Open connections. */
  /* Counters for /metrics: connections closed before a request, by why; requests refused. */
  uint64_t closed_header_timeout, closed_reserve, refused_at_accept;
  uint64_t limited_rate, limited_waits, limited_reserve;
  uint64_t refused_unlogged;  /* Refusals at accept since the last log line about them. */
  int64_t refused_logged_us;  /* When that line was written. */
  conn_entry *head, *tail;  /* Awaiting request headers, oldest first. */
  token_use *tokens[TOKEN_BUCKETS];
};

unsigned hitl__limits_soft_cap(unsigned max_connections) {
  unsigned reserve = max_connections / 10;
  if (reserve == 0 && max_connections > 1) reserve = 1;
  return max_connections - reserve;
}

/* ---- the list of connections awaiting headers (lock held) --------------------------------- */

static void list_remove(hitl_limits *l, conn_entry *e) {
  if (!e->listed) return;
  if (e->prev) e->prev->next = e->next;
  else l->head = e->next;
  if (e->next) e->next->prev = e->prev;
  else l->tail = e->prev;
  e->prev = e->next = NULL;
  e->listed = false;
}

static void list_append(hitl_limits *l, conn_entry *e) {
  list_remove(l, e);
  e->since_us = hitl_mono_us();
  e->prev = l->tail;
  e->next = NULL;
  if (l->tail) l->tail->next = e;
  else l->head = e;
  l->tail = e;
  e->listed = true;
  /* No wake-up of the timer: it sleeps at most header_timeout_ms from its last look, and the
   * new entry's deadline is that long from now, so the timer looks in time. A signal here cost
   * a futex wake and a thread switch per request on a kept-alive connection. */
}

/* Ends a connection that has not sent its request headers. shutdown, not close: the socket stays
 * libmicrohttpd's, which sees the end of the stream and closes the connection itself. */
static void cut(hitl_limits *l, conn_entry *e) {
  list_remove(l, e);
  shutdown(e->fd, SHUT_RDWR);
}

/* The timer thread: closes connections whose request headers are not complete by their deadline.
 * Bytes that trickle in do not move the deadline (libmicrohttpd's own timeout restarts on each). */
static void *timer_main(void *arg) {
  hitl_limits *l = arg;
  int64_t timeout_us = l->cfg.header_timeout_ms * 1000;
  pthread_mutex_lock(&l->lock);
  while (!l->stop) {
    int64_t now = hitl_mono_us();
    size_t cut_now = 0;
    while (l->head && l->head->since_us + timeout_us <= now) {
      cut(l, l->head);
      cut_now++;
      l->closed_header_timeout++;
    }
    if (cut_now)
      hitl_log(HITL_LOG_DEBUG, "msg=\"closed connections without request headers\" count=%zu "
               "header_timeout_ms=%lld", cut_now, (long long)l->cfg.header_timeout_ms);
    int64_t wait_us = l->head ? l->head->since_us + timeout_us - now : timeout_us;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (wait_us % 1000000) * 1000;
    ts.tv_sec += (time_t)(wait_us / 1000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    pthread_cond_timedwait(&l->wake, &l->lock, &ts);
  }
  pthread_mutex_unlock(&l->lock);
  return NULL;
}

hitl_limits *hitl__limits_new(const hitl_limits_config *cfg) {
  hitl_limits *l = hitl_xcalloc(1, sizeof *l);
  l->cfg = *cfg;
  l->soft_cap = hitl__limits_soft_cap(cfg->max_connections);
  pthread_mutex_init(&l->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&l->wake, &attr);
  pthread_condattr_destroy(&attr);
  if (pthread_create(&l->timer, NULL, timer_main, l) != 0) {
    fprintf(stderr, "hitl: cannot start the connection timer thread\n");
    abort();
  }
  return l;
}

void hitl__limits_free(hitl_limits *l) {
  if (l == NULL) return;
  pthread_mutex_lock(&l->lock);
  l->stop = true;
  pthread_cond_signal(&l->wake);
  pthread_mutex_unlock(&l->lock);
  pthread_join(l->timer, NULL);
  for (size_t i = 0; i < TOKEN_BUCKETS; i++) {
    for (token_use *u = l->tokens[i], *next; u; u = next) {
      next = u->next;
      free(u);
    }
  }
  pthread_mutex_destroy(&l->lock);
  pthread_cond_destroy(&l->wake);
  free(l);
}

/* ---- connections -------------------------------------------------------------------------- */

void hitl__limits_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode code) {
  hitl_limits *l = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    conn_entry *e = hitl_xcalloc(1, sizeof *e);
    e->fd = info ? info->connect_fd : -1;
    *socket_context = e;
    pthread_mutex_lock(&l->lock);
    l->open++;
    /* Past the reserve, the oldest connection that has sent nothing yet makes room: idle
     * sockets, from however many addresses, cannot keep the reserve from those who ask. */
    bool evicted = false;
    if (l->open > l->soft_cap && l->head) {
      cut(l, l->head);
      evicted = true;
      l->closed_reserve++;
    }
    if (e->fd >= 0) list_append(l, e);
    unsigned open = l->open;
    pthread_mutex_unlock(&l->lock);
    if (evicted)
      hitl_log(HITL_LOG_DEBUG, "msg=\"closed the oldest connection without request headers\" "
               "open=%u soft_cap=%u", open, l->soft_cap);
  } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    conn_entry *e = *socket_context;
    if (e == NULL) return;
    pthread_mutex_lock(&l->lock);
    list_remove(l, e);
    l->open--;
    pthread_mutex_unlock(&l->lock);
    free(e);
    *socket_context = NULL;
  }
}

static conn_entry *entry_of(struct MHD_Connection *conn) {
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return info ? info->socket_context : NULL;
}

void hitl__limits_request_begin(hitl_limits *l, struct MHD_Connection *conn) {
  conn_entry *e = entry_of(conn);
  if (e == NULL) return;
  pthread_mutex_lock(&l->lock);
  list_remove(l, e);
  pthread_mutex_unlock(&l->lock);
}

/* True when the open connections have reached the reserve. */
static bool past_soft_cap(hitl_limits *l) {
  pthread_mutex_lock(&l->lock);
  bool past = l->open >= l->soft_cap;
  pthread_mutex_unlock(&l->lock);
  return past;
}

/* ---- tokens (lock held) ------------------------------------------------------------------- */

/* The admin token (HITL_ADMIN_TOKEN) is the operator's own: it is not rate- or wait-limited. */
static bool exempt(const hitl_request *req) {
  return req->who.name[0] == '\0' || strcmp(req->who.name, "admin") == 0;
}

static token_use *token_find(hitl_limits *l, const char *name) {
  uint32_t h = 2166136261u; /* FNV-1a. */
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 16777619u;
  token_use **slot = &l->tokens[h % TOKEN_BUCKETS];
  for (token_use *u = *slot; u; u = u->next)
    if (strcmp(u->name, name) == 0) return u;
  token_use *u = hitl_xcalloc(1, sizeof *u);
  snprintf(u->name, sizeof u->name, "%s", name);
  u->tokens = l->cfg.rate;
  u->last_us = hitl_mono_us();
  u->next = *slot;
  *slot = u;
  return u;
}

/* Takes one request from the token's bucket: 0, or the whole seconds until one is there. */
static int bucket_take(hitl_limits *l, token_use *u) {
  double rate = l->cfg.rate;
  int64_t now = hitl_mono_us();
  u->tokens += (double)(now - u->last_us) * rate / 1e6;
  if (u->tokens > rate) u->tokens = rate;
  u->last_us = now;
  if (u->tokens >= 1.0) {
    u->tokens -= 1.0;
    return 0;
  }
  int seconds = (int)((1.0 - u->tokens) / rate + 0.999999);
  return seconds < 1 ? 1 : seconds;
}

/* ---- requests ----------------------------------------------------------------------------- */

bool hitl__limits_admit(hitl_request *req) {
  hitl_limits *l = req->server->limits;
  if (req->who.name[0] == '\0') {
    /* Monitoring keeps working when the server is full: it is how the operator sees why. */
    bool monitoring = strcmp(req->path, "/healthz") == 0 || strcmp(req->path, "/metrics") == 0;
    if (monitoring || !past_soft_cap(l)) return true;
    pthread_mutex_lock(&l->lock);
    l->limited_reserve++;
    pthread_mutex_unlock(&l->lock);
    hitl__reply_error(req, HITL_EUNAVAILABLE, NULL,
                      "the server is near its connection limit and serves only authenticated "
                      "requests, /healthz and /metrics now; retry later");
    req->retry_after = 1;
    return false;
  }
  if (l->cfg.rate == 0 || exempt(req)) return true;
  pthread_mutex_lock(&l->lock);
  int wait = bucket_take(l, token_find(l, req->who.name));
  if (wait) l->limited_rate++;
  pthread_mutex_unlock(&l->lock);
  if (wait == 0) return true;
  req->retry_after = wait;
  hitl__reply_error(req, HITL_ERATE_LIMITED, NULL,
                    "token \"%s\" has used its %u requests per second; retry after %d s",
                    req->who.name, l->cfg.rate, wait);
  return false;
}

bool hitl__limits_wait_begin(hitl_request *req) {
  hitl_limits *l = req->server->limits;
  if (req->wait_slot || l->cfg.max_waits == 0 || exempt(req)) return true;
  pthread_mutex_lock(&l->lock);
  token_use *u = token_find(l, req->who.name);
  bool ok = u->waits < l->cfg.max_waits;
  if (ok) u->waits++;
  else l->limited_waits++;
  pthread_mutex_unlock(&l->lock);
  if (ok) {
    req->wait_slot = true;
    return true;
  }
  req->retry_after = 1;
  hitl__reply_error(req, HITL_ERATE_LIMITED, NULL,
                    "token \"%s\" already has %u long-polls or event streams open; close one "
                    "or retry later", req->who.name, l->cfg.max_waits);
  return false;
}

void hitl__limits_answer(hitl_request *req, struct MHD_Response *resp) {
  if (req->retry_after > 0) {
    char v[16];
    snprintf(v, sizeof v, "%d", req->retry_after);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
  }
  if (req->who.name[0] == '\0' && past_soft_cap(req->server->limits))
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
}

void hitl__limits_release(hitl_request *req) {
  hitl_limits *l = req->server->limits;
  conn_entry *e = entry_of(req->conn);
  pthread_mutex_lock(&l->lock);
  if (req->wait_slot) {
    token_find(l, req->who.name)->waits--;
    req->wait_slot = false;
  }
  if (e && e->fd >= 0) list_append(l, e);
  pthread_mutex_unlock(&l->lock);
}

void hitl__limits_refused(hitl_limits *l) {
  int64_t now = hitl_mono_us();
  uint64_t n = 0;
  pthread_mutex_lock(&l->lock);
  l->refused_at_accept++;
  l->refused_unlogged++;
  if (l->refused_logged_us == 0 || now - l->refused_logged_us >= REFUSED_LOG_EVERY_US) {
    n = l->refused_unlogged;
    l->refused_unlogged = 0;
    l->refused_logged_us = now;
  }
  pthread_mutex_unlock(&l->lock);
  if (n)
    hitl_log(HITL_LOG_WARN, "msg=\"connections refused at a connection limit (per address or in "
             "all)\" count=%llu", (unsigned long long)n);
}

/* Appends a counter family with one sample per label value. */
static void counters(hitl_buf *b, const char *name, const char *help, const char *label,
                     const char *const *values, const uint64_t *counts, size_t n) {
  hitl_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
  for (size_t i = 0; i < n; i++)
    hitl_buf_printf(b, "%s{%s=\"%s\"} %llu\n", name, label, values[i],
                    (unsigned long long)counts[i]);
}

void hitl__limits_metrics(hitl_limits *l, hitl_buf *b) {
  pthread_mutex_lock(&l->lock);
  unsigned open = l->open;
  uint64_t closed[3] = {l->closed_header_timeout, l->closed_reserve, l->refused_at_accept};
  uint64_t limited[3] = {l->limited_rate, l->limited_waits, l->limited_reserve};
  pthread_mutex_unlock(&l->lock);
  static const char *const reasons[3] = {"header_timeout", "reserve", "limit"};
  static const char *const limits[3] = {"rate", "waits", "reserve"};
  hitl_buf_printf(b, "# HELP hitl_http_connections Open HTTP connections.\n"
                     "# TYPE hitl_http_connections gauge\nhitl_http_connections %u\n", open);
  counters(b, "hitl_http_connections_closed_total",
           "Connections closed before a request: header deadline passed, room made past the "
           "reserve, refused at accept.", "reason", reasons, closed, 3);
  counters(b, "hitl_http_limited_total",
           "Requests refused by a limit: 429 over a token's rate or waits, 503 past the "
           "connection reserve.", "limit", limits, limited, 3);
}
