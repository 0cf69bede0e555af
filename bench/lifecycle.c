/* SPDX-License-Identifier: MIT */
/* bench_lifecycle: an HTTP/1.1 keep-alive load generator for hitl's task lifecycle and its ceiling. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "args.h"
#include "hist.h"
#include "http_resp.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/xmalloc.h"

#define BENCH_MAX_CONNECTIONS 1024
#define BENCH_MAX_PORTS 16           /* --ports: servers sharing one database. */
#define BENCH_MAX_THREADS 2            /* The machine has 2 cores, shared with the server. */
#define BENCH_GRACE_US 5000000         /* After the deadline, how long answers in flight may take. */
#define BENCH_EMPTY_BACKOFF_US 1000    /* Before claiming again after a 204. */
#define BENCH_ERROR_BACKOFF_US 10000   /* Before the next request after an unexpected status. */
#define BENCH_RECONNECT_BACKOFF_US 100000
#define BENCH_MAX_IO_FAILURES 20       /* In a row on one connection: the phase gives up. */
#define BENCH_SYNC_TIMEOUT_MS 30000    /* For the setup requests (queue creation). */
#define BENCH_READ_CHUNK 65536

typedef enum bench_mode { MODE_REF, MODE_LIFECYCLE, MODE_SUBMIT, MODE_CLAIM, MODE_MCP } bench_mode;
static const char *const bench_mode_names[] = {"ref", "lifecycle", "submit", "claim", "mcp"};
#define BENCH_N_MODES 5

/* What a connection does, request after request. */
typedef enum bench_role { ROLE_GETTER, ROLE_PRODUCER, ROLE_REVIEWER, ROLE_PREFILLER, ROLE_MCP } bench_role;

typedef enum bench_op { OP_GET, OP_SUBMIT, OP_CLAIM, OP_RESPOND, OP_BATCH, OP_MCP, OP_COUNT } bench_op;
static const char *const bench_op_names[OP_COUNT] = {"get", "submit", "claim", "respond", "batch",
                                                     "mcp"};

typedef struct bench_config {
  bench_mode mode;
  const char *host;     /* Dotted IPv4 in 127.0.0.0/8. */
  struct in_addr addr;  /* host, parsed. */
  uint16_t port;        /* Setup requests (the prefill) go here; also ports[0]. */
  uint16_t ports[BENCH_MAX_PORTS]; /* Measured connections take these round-robin. */
  int nports;
  const char *token;    /* Bearer token, or NULL. */
  double duration_s;    /* Of each measured phase. */
  int connections;      /* In the measured phase. */
  int producers;        /* Lifecycle mode. */
  int reviewers;        /* Lifecycle mode. */
  int threads;          /* Epoll loops, 1 or 2. */
  long prefill;         /* Claim mode: tasks submitted before measuring. */
  int batch_size;       /* Tasks per batch request while prefilling. */
  int task_bytes;       /* Length of each task's input text. */
  double prefill_timeout_s;
  long server_pid;      /* For VmRSS; 0 when unknown. */
  long max_backlog;     /* Lifecycle: producers wait while this many tasks are unclaimed (0: never). */
  long slow_ms;         /* Print each answer slower than this to stderr (0: never). */
  bool respond_next;    /* Reviewers answer with ?next=true and take the next lease from the answer. */
  const char *queue;    /* Submit: an existing queue to submit to, as configured (NULL: bench-auto). */
} bench_config;

/* The request bytes that do not change from one request to the next. */
typedef struct bench_requests {
  hitl_buf headers;    /* "Host: ...\r\nAuthorization: ...\r\n", shared by all requests. */
  hitl_buf get;        /* GET /. */
  hitl_buf submit;     /* POST one task to the phase's queue. */
  hitl_buf claim;      /* POST .../claim. */
  hitl_buf batch_full; /* POST .../tasks/batch with batch_size tasks. */
  hitl_buf batch_last; /* The same with the remainder, when prefill is not a multiple. */
  hitl_buf mcp;        /* POST /mcp: the submit's task as the MCP tool call request_review. */
} bench_requests;

/* One measured run of connections against the server, shared by its worker threads. */
typedef struct bench_phase {
  const bench_config *cfg;
  const bench_requests *req;
  int64_t start_us;
  int64_t deadline_us;     /* No new request after this. */
  atomic_long batches_left; /* Prefill: batches no connection has taken yet. */
  long last_batch_tasks;    /* Tasks in the final batch (batch_last when not batch_size). */
  atomic_bool abort;        /* Some connection hit a failure that makes the figures meaningless. */
  atomic_long submitted;    /* Lifecycle: tasks acknowledged... */
  atomic_long claimed;      /* ...and leased: the difference is the backlog. */
} bench_phase;

typedef struct bench_stats {
  bench_hist hist[OP_COUNT]; /* Latencies of expected answers, microseconds. */
  uint64_t ok[OP_COUNT];     /* Expected answers (2xx; claims: 200 only). */
  uint64_t failed[OP_COUNT]; /* Unexpected statuses. */
  uint64_t empty_claims;     /* Claims answered 204. */
  uint64_t conflicts;        /* 409 answers (lost lease, wrong state). */
  uint64_t io_errors;        /* Connect, send, receive or parse failures. */
  uint64_t reconnects;       /* Connections opened again after the first. */
  uint64_t prefilled;        /* Tasks acknowledged by batch requests. */
  uint64_t unanswered;       /* Requests still out when the grace period ran out. */
} bench_stats;

typedef enum bench_conn_state {
  CONN_CLOSED,     /* No socket. */
  CONN_CONNECTING, /* Non-blocking connect in progress. */
  CONN_BUSY,       /* A request is out, its answer not complete. */
  CONN_SLEEPING,   /* Waiting until wake_us before the next request (or reconnect). */
  CONN_DONE        /* Nothing left to do in this phase. */
} bench_conn_state;

typedef struct bench_worker bench_worker;

typedef struct bench_conn {
  bench_worker *w;
  int fd;
  bench_conn_state state;
  bench_role role;
  uint16_t port;          /* The server this connection talks to. */
  bench_op op;            /* The request in flight. */
  bool opened_before;     /* For counting reconnects. */
  bool want_out;          /* EPOLLOUT is registered. */
  bool has_lease;         /* Reviewer: `own` holds the response to send next. */
  int io_failures;        /* In a row. */
  long batch_tasks;       /* Tasks in the batch in flight. */
  const char *out;        /* The request being sent... */
  size_t out_len;         /* ...its length... */
  size_t out_off;         /* ...and how much of it is sent. */
  hitl_buf own;           /* Per-request bytes (responses to a lease). */
  char *in;               /* Received bytes of the current answer. */
  size_t in_len, in_cap;
  bench_resp resp;
  int64_t sent_us;
  int64_t wake_us;
} bench_conn;

struct bench_worker {
  bench_phase *phase;
  int epfd;
  bench_conn *conns;
  int nconns;
  bench_stats stats;
  bool told[OP_COUNT]; /* The first unexpected answer of each op was printed. */
  bool told_io;        /* The first connection error was printed. */
  int64_t end_us;
  pthread_t thread;
};

/* ---- setup helpers ---- */

static void bench_text(hitl_buf *b, int n) {
  static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do ";
  for (int i = 0; i < n; i++) hitl_buf_putc(b, words[(size_t)i % (sizeof words - 1)]);
}

/* Appends one task object: ~task_bytes of input text, a suggested label and a confidence. */
static void bench_task_json(hitl_buf *b, int task_bytes) {
  hitl_buf_puts(b, "{\"input\":{\"text\":\"");
  bench_text(b, task_bytes);
  hitl_buf_puts(b, "\"},\"output\":{\"label\":\"x\"},\"confidence\":0.5}");
}

static void bench_request(hitl_buf *out, const bench_requests *rq, const char *method,
                          const char *path, const char *body, size_t body_len) {
  hitl_buf_printf(out, "%s %s HTTP/1.1\r\n", method, path);
  hitl_buf_append(out, rq->headers.data, rq->headers.len);
  if (body != NULL)
    hitl_buf_printf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n", body_len);
  hitl_buf_puts(out, "\r\n");
  if (body != NULL) hitl_buf_append(out, body, body_len);
}

static void bench_batch_request(hitl_buf *out, const bench_requests *rq, const char *queue,
                                long n, int task_bytes) {
  hitl_buf body = HITL_BUF_INIT, path = HITL_BUF_INIT;
  hitl_buf_puts(&body, "{\"tasks\":[");
  for (long i = 0; i < n; i++) {
    if (i) hitl_buf_putc(&body, ',');
    bench_task_json(&body, task_bytes);
  }
  hitl_buf_puts(&body, "]}");
  hitl_buf_printf(&path, "/v1/queues/%s/tasks/batch", queue);
  bench_request(out, rq, "POST", path.data, body.data, body.len);
  hitl_buf_free(&body);
  hitl_buf_free(&path);
}

static void bench_requests_build(bench_requests *rq, const bench_config *cfg, const char *queue) {
  memset(rq, 0, sizeof *rq);
  hitl_buf_printf(&rq->headers, "Host: %s:%u\r\n", cfg->host, (unsigned)cfg->port);
  if (cfg->token != NULL) hitl_buf_printf(&rq->headers, "Authorization: Bearer %s\r\n", cfg->token);
  bench_request(&rq->get, rq, "GET", "/", NULL, 0);
  if (queue == NULL) return;
  hitl_buf body = HITL_BUF_INIT, path = HITL_BUF_INIT;
  bench_task_json(&body, cfg->task_bytes);
  hitl_buf_printf(&path, "/v1/queues/%s/tasks", queue);
  bench_request(&rq->submit, rq, "POST", path.data, body.data, body.len);
  if (cfg->mode == MODE_MCP) {
    /* The same task as the MCP tool call request_review: JSON-RPC framing around it. */
    hitl_buf call = HITL_BUF_INIT;
    hitl_buf_printf(&call, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":"
                           "{\"name\":\"request_review\",\"arguments\":{\"queue\":\"%s\",", queue);
    hitl_buf_append(&call, body.data + 1, body.len - 1); /* The task's members and its '}'. */
    hitl_buf_puts(&call, "}}");
    bench_request(&rq->mcp, rq, "POST", "/mcp", call.data, call.len);
    hitl_buf_free(&call);
  }
  hitl_buf_reset(&path);
  hitl_buf_printf(&path, "/v1/queues/%s/claim", queue);
  bench_request(&rq->claim, rq, "POST", path.data, "{}", 2);
  if (cfg->mode == MODE_CLAIM && cfg->prefill > 0) {
    bench_batch_request(&rq->batch_full, rq, queue, cfg->batch_size, cfg->task_bytes);
    long rest = cfg->prefill % cfg->batch_size;
    if (rest) bench_batch_request(&rq->batch_last, rq, queue, rest, cfg->task_bytes);
  }
  hitl_buf_free(&body);
  hitl_buf_free(&path);
}

static void bench_requests_free(bench_requests *rq) {
  hitl_buf_free(&rq->headers);
  hitl_buf_free(&rq->get);
  hitl_buf_free(&rq->submit);
  hitl_buf_free(&rq->claim);
  hitl_buf_free(&rq->batch_full);
  hitl_buf_free(&rq->batch_last);
  hitl_buf_free(&rq->mcp);
}

/* Finds the task id and lease id in a claim answer: {"id", "lease": {"id"}} at the top, or the
 * same inside a "task" member. Returns 0 and two malloc'd strings, or -1. */
static int bench_claim_ids(const char *body, size_t len, char **task_id, char **lease_id) {
  *task_id = *lease_id = NULL;
  json_t *root = json_loadb(body, len, 0, NULL);
  if (root == NULL) return -1;
  json_t *task = json_object_get(root, "task");
  const char *id = json_string_value(json_object_get(root, "id"));
  if (id == NULL && json_is_object(task)) id = json_string_value(json_object_get(task, "id"));
  json_t *lease = json_object_get(root, "lease");
  if (!json_is_object(lease) && json_is_object(task)) lease = json_object_get(task, "lease");
  const char *lid = json_string_value(json_object_get(lease, "id"));
  if (id != NULL && lid != NULL && id[0] != '\0' && lid[0] != '\0') {
    *task_id = hitl_xstrdup(id);
    *lease_id = hitl_xstrdup(lid);
  }
  json_decref(root);
  return *task_id != NULL ? 0 : -1;
}

/* Reads the "next" task's id and lease id of a submit-and-next answer; -1 when it has none. */
static int bench_next_ids(const char *body, size_t len, char **task_id, char **lease_id) {
  *task_id = *lease_id = NULL;
  json_t *root = json_loadb(body ? body : "", len, 0, NULL);
  json_t *next = json_object_get(root, "next");
  const char *id = json_string_value(json_object_get(next, "id"));
  const char *lid = json_string_value(json_object_get(json_object_get(next, "lease"), "id"));
  if (id != NULL && lid != NULL && id[0] != '\0' && lid[0] != '\0') {
    *task_id = hitl_xstrdup(id);
    *lease_id = hitl_xstrdup(lid);
  }
  json_decref(root);
  return *task_id != NULL ? 0 : -1;
}

/* Builds POST /v1/tasks/{id}/responses approving under lease_id (with ?next=true when next); the
 * id is percent-encoded. */
static void bench_respond_request(hitl_buf *out, const bench_requests *rq, const char *task_id,
                                  const char *lease_id, bool next) {
  hitl_buf path = HITL_BUF_INIT, body = HITL_BUF_INIT;
  hitl_buf_puts(&path, "/v1/tasks/");
  for (const unsigned char *s = (const unsigned char *)task_id; *s; s++) {
    bool plain = (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                 *s == '-' || *s == '_' || *s == '.' || *s == '~';
    if (plain) hitl_buf_putc(&path, (char)*s);
    else hitl_buf_printf(&path, "%%%02X", *s);
  }
  hitl_buf_puts(&path, next ? "/responses?next=true" : "/responses");
  hitl_buf_puts(&body, "{\"lease_id\":");
  hitl_buf_json_cstr(&body, lease_id);
  hitl_buf_puts(&body, ",\"kind\":\"approve\"}");
  hitl_buf_reset(out);
  bench_request(out, rq, "POST", path.data, body.data, body.len);
  hitl_buf_free(&path);
  hitl_buf_free(&body);
}

/* Reads VmRSS of a process in KiB; -1 when it cannot. */
static long bench_rss_kb(long pid) {
  if (pid <= 0) return -1;
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  long kb = -1;
  while (fgets(line, sizeof line, f) != NULL) {
    if (strncmp(line, "VmRSS:", 6) == 0) {
      kb = strtol(line + 6, NULL, 10);
      break;
    }
  }
  fclose(f);
  return kb;
}

static int bench_socket(const bench_config *cfg, uint16_t port, bool nonblocking) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr = cfg->addr;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && !(nonblocking && errno == EINPROGRESS)) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Sends one request on a new connection and waits (at most BENCH_SYNC_TIMEOUT_MS) for its
 * answer: 0 with *status and the body in `body` (caller's buffer), or -1. For setup only. */
static int bench_sync(const bench_config *cfg, const hitl_buf *request, int *status, hitl_buf *body) {
  int rc = -1;
  int fd = bench_socket(cfg, cfg->port, true);
  bench_resp resp;
  bench_resp_init(&resp);
  char *in = NULL;
  size_t in_len = 0, in_cap = 0, sent = 0;
  int64_t deadline = hitl_mono_us() + (int64_t)BENCH_SYNC_TIMEOUT_MS * 1000;
  if (fd < 0) goto cleanup;
  for (;;) {
    int64_t left_ms = (deadline - hitl_mono_us()) / 1000;
    if (left_ms <= 0) goto cleanup;
    struct pollfd pfd = {.fd = fd, .events = sent < request->len ? POLLOUT : POLLIN};
    int n = poll(&pfd, 1, (int)left_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) goto cleanup;
    if (sent < request->len) {
      ssize_t w = send(fd, request->data + sent, request->len - sent, MSG_NOSIGNAL);
      if (w < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (w < 0) goto cleanup;
      sent += (size_t)w;
      continue;
    }
    if (in_cap - in_len < BENCH_READ_CHUNK) {
      in_cap = in_cap ? in_cap * 2 : BENCH_READ_CHUNK * 2;
      in = hitl_xrealloc(in, in_cap);
    }
    ssize_t r = recv(fd, in + in_len, in_cap - in_len, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (r < 0) goto cleanup;
    in_len += (size_t)r;
    int p = bench_resp_parse(&resp, in, in_len, r == 0);
    if (p < 0) goto cleanup;
    if (p == 1) break;
  }
  *status = resp.status;
  hitl_buf_reset(body);
  hitl_buf_append(body, resp.body.data ? resp.body.data : "", resp.body.len);
  rc = 0;
cleanup:
  if (fd >= 0) close(fd);
  free(in);
  bench_resp_free(&resp);
  return rc;
}

/* PUTs a queue configuration on every server of --ports (the others would learn of it through
 * their change feed only a moment later, and answer the first requests 404); 0 when each answered
 * 2xx. */
static int bench_put_queue(const bench_config *cfg, const bench_requests *rq, const char *queue,
                           const char *config) {
  hitl_buf req = HITL_BUF_INIT, path = HITL_BUF_INIT, body = HITL_BUF_INIT;
  int status = 0, rc = -1;
  hitl_buf_printf(&path, "/v1/queues/%s", queue);
  bench_request(&req, rq, "PUT", path.data, config, strlen(config));
  for (int i = 0; i < cfg->nports; i++) {
    bench_config one = *cfg;
    one.port = cfg->ports[i];
    if (bench_sync(&one, &req, &status, &body) != 0) {
      fprintf(stderr, "bench_lifecycle: PUT %s: no answer from %s:%u\n", path.data, cfg->host,
              (unsigned)one.port);
      goto cleanup;
    }
    if (status < 200 || status > 299) {
      fprintf(stderr, "bench_lifecycle: PUT %s on port %u: status %d: %.300s\n", path.data,
              (unsigned)one.port, status, hitl_buf_cstr(&body));
      goto cleanup;
    }
  }
  rc = 0;
cleanup:
  hitl_buf_free(&req);
  hitl_buf_free(&path);
  hitl_buf_free(&body);
  return rc;
}

/* ---- the epoll engine ---- */

static void conn_issue(bench_conn *c, int64_t now);

static bool phase_stopping(const bench_phase *ph, int64_t now) {
  return now >= ph->deadline_us || atomic_load(&ph->abort);
}

static void conn_epoll(bench_conn *c, bool want_out) {
  /* Reading stays on while sending: a server may answer (413, say) before taking the whole body. */
  struct epoll_event ev = {.events = want_out ? EPOLLIN | EPOLLOUT : EPOLLIN, .data.ptr = c};
  epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = want_out;
}

static void conn_close(bench_conn *c) {
  if (c->fd >= 0) close(c->fd); /* Closing also drops it from the epoll set. */
  c->fd = -1;
  c->state = CONN_CLOSED;
  c->in_len = 0;
  bench_resp_reset(&c->resp);
}

static void conn_sleep(bench_conn *c, int64_t until) {
  c->state = CONN_SLEEPING;
  c->wake_us = until;
}

/* A connect, send, receive or parse failure: close, and try again later unless it keeps failing. */
static void conn_fail(bench_conn *c, int64_t now, const char *why) {
  bench_worker *w = c->w;
  w->stats.io_errors++;
  bool lost_batch = c->state == CONN_BUSY && c->op == OP_BATCH;
  c->has_lease = false; /* A failed response gives its lease up; claim anew. */
  conn_close(c);
  if (++c->io_failures >= BENCH_MAX_IO_FAILURES || lost_batch) {
    if (!atomic_exchange(&w->phase->abort, true))
      fprintf(stderr, "bench_lifecycle: connection failing (%s): giving up\n", why);
    c->state = CONN_DONE;
    return;
  }
  if (!w->told_io) fprintf(stderr, "bench_lifecycle: connection error (%s): reconnecting\n", why);
  w->told_io = true;
  conn_sleep(c, now + BENCH_RECONNECT_BACKOFF_US);
}

static void conn_open(bench_conn *c, int64_t now) {
  c->fd = bench_socket(c->w->phase->cfg, c->port, true);
  if (c->fd < 0) {
    conn_fail(c, now, strerror(errno));
    return;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
  epoll_ctl(c->w->epfd, EPOLL_CTL_ADD, c->fd, &ev);
  c->want_out = true;
  c->state = CONN_CONNECTING;
  if (c->opened_before) c->w->stats.reconnects++;
  c->opened_before = true;
}

/* Writes what the socket takes now; waits for EPOLLOUT when it takes less than the rest. */
static void conn_send(bench_conn *c, int64_t now) {
  while (c->out_off < c->out_len) {
    ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (!c->want_out) conn_epoll(c, true);
      return;
    }
    if (n < 0) {
      conn_fail(c, now, strerror(errno));
      return;
    }
    c->out_off += (size_t)n;
  }
  if (c->want_out) conn_epoll(c, false);
}

/* Starts the connection's next request, or marks it done when the phase is over for it. */
static void conn_issue(bench_conn *c, int64_t now) {
  bench_phase *ph = c->w->phase;
  const bench_requests *rq = ph->req;
  if (c->role != ROLE_PREFILLER && phase_stopping(ph, now)) {
    c->state = CONN_DONE;
    return;
  }
  if (c->fd < 0) {
    conn_open(c, now);
    return;
  }
  const hitl_buf *out = NULL;
  switch (c->role) {
  case ROLE_GETTER:
    c->op = OP_GET;
    out = &rq->get;
    break;
  case ROLE_PRODUCER:
    if (ph->cfg->max_backlog > 0 &&
        atomic_load(&ph->submitted) - atomic_load(&ph->claimed) >= ph->cfg->max_backlog) {
      conn_sleep(c, now + BENCH_EMPTY_BACKOFF_US);
      return;
    }
    c->op = OP_SUBMIT;
    out = &rq->submit;
    break;
  case ROLE_MCP:
    c->op = OP_MCP;
    out = &rq->mcp;
    break;
  case ROLE_REVIEWER:
    c->op = c->has_lease ? OP_RESPOND : OP_CLAIM;
    out = c->has_lease ? &c->own : &rq->claim;
    break;
  case ROLE_PREFILLER: {
    long n = atomic_load(&ph->abort) ? 0 : atomic_fetch_sub(&ph->batches_left, 1);
    if (n <= 0 || now >= ph->deadline_us) {
      if (n > 0) atomic_store(&ph->abort, true); /* Out of time with batches left. */
      c->state = CONN_DONE;
      return;
    }
    bool last = n == 1 && ph->last_batch_tasks != ph->cfg->batch_size;
    c->op = OP_BATCH;
    c->batch_tasks = last ? ph->last_batch_tasks : ph->cfg->batch_size;
    out = last ? &rq->batch_last : &rq->batch_full;
    break;
  }
  }
  c->out = out->data;
  c->out_len = out->len;
  c->out_off = 0;
  c->in_len = 0;
  bench_resp_reset(&c->resp);
  c->state = CONN_BUSY;
  c->sent_us = now;
  conn_send(c, now);
}

static void conn_tell(bench_conn *c, const char *what) {
  bench_worker *w = c->w;
  if (w->told[c->op]) return;
  w->told[c->op] = true;
  fprintf(stderr, "bench_lifecycle: %s: %s %d: %.300s\n", bench_op_names[c->op], what,
          c->resp.status, hitl_buf_cstr(&c->resp.body));
}

/* A complete answer: record it, and go on with the role's next request. */
static void conn_answered(bench_conn *c, int64_t now) {
  bench_worker *w = c->w;
  bench_stats *st = &w->stats;
  int status = c->resp.status;
  uint64_t lat = (uint64_t)(now - c->sent_us);
  bool ok = status >= 200 && status <= 299;
  if (w->phase->cfg->slow_ms > 0 && lat > (uint64_t)w->phase->cfg->slow_ms * 1000)
    fprintf(stderr, "  slow     %s %d in %.1f ms, sent %.3f s into the phase\n",
            bench_op_names[c->op], status, (double)lat / 1000,
            (double)(c->sent_us - w->phase->start_us) / 1e6);
  int64_t next = 0; /* 0: at once; otherwise when to issue the next request. */
  c->io_failures = 0;
  switch (c->op) {
  case OP_CLAIM:
    c->has_lease = false;
    if (status == 204) {
      st->empty_claims++;
      next = now + BENCH_EMPTY_BACKOFF_US;
      ok = true;
      break;
    }
    if (status == 200) {
      char *tid = NULL, *lid = NULL;
      if (bench_claim_ids(c->resp.body.data, c->resp.body.len, &tid, &lid) == 0) {
        bench_respond_request(&c->own, w->phase->req, tid, lid, w->phase->cfg->respond_next);
        c->has_lease = true;
        atomic_fetch_add(&w->phase->claimed, 1);
        bench_hist_record(&st->hist[OP_CLAIM], lat);
        st->ok[OP_CLAIM]++;
      } else {
        conn_tell(c, "answer without id and lease.id, status");
        st->failed[OP_CLAIM]++;
        next = now + BENCH_ERROR_BACKOFF_US;
      }
      free(tid);
      free(lid);
      break;
    }
    ok = false;
    break;
  case OP_BATCH:
    if (ok) st->prefilled += (uint64_t)c->batch_tasks;
    else atomic_store(&w->phase->abort, true); /* An incomplete prefill measures nothing. */
    break;
  case OP_RESPOND:
    c->has_lease = false;
    if (ok && w->phase->cfg->respond_next) {
      /* The answer carries the next lease: answer that one next, without a claim. */
      char *tid = NULL, *lid = NULL;
      if (bench_next_ids(c->resp.body.data, c->resp.body.len, &tid, &lid) == 0) {
        bench_respond_request(&c->own, w->phase->req, tid, lid, true);
        c->has_lease = true;
        atomic_fetch_add(&w->phase->claimed, 1);
      }
      free(tid);
      free(lid);
    }
    break;
  case OP_MCP:
    /* An MCP call answers 200 whatever befell it: decided by the policy is the expected one. */
    if (ok && (strstr(hitl_buf_cstr(&c->resp.body), "\"isError\":false") == NULL ||
               strstr(hitl_buf_cstr(&c->resp.body), "\"state\":\"decided\"") == NULL))
      ok = false;
    break;
  case OP_SUBMIT:
    if (ok) atomic_fetch_add(&w->phase->submitted, 1);
    break;
  default:
    break;
  }
  if (c->op != OP_CLAIM) {
    if (ok) {
      bench_hist_record(&st->hist[c->op], lat);
      st->ok[c->op]++;
    }
  }
  if (!ok) {
    if (status == 409) st->conflicts++;
    st->failed[c->op]++;
    conn_tell(c, "unexpected status");
    next = now + BENCH_ERROR_BACKOFF_US;
  }
  bool close_after = c->resp.close;
  c->in_len = 0;
  bench_resp_reset(&c->resp);
  if (close_after) conn_close(c);
  if (next != 0) conn_sleep(c, next);
  else conn_issue(c, now);
}

static void conn_readable(bench_conn *c, int64_t now) {
  if (c->in_cap - c->in_len < BENCH_READ_CHUNK) {
    c->in_cap = c->in_cap ? c->in_cap * 2 : BENCH_READ_CHUNK;
    if (c->in_cap - c->in_len < BENCH_READ_CHUNK) c->in_cap += BENCH_READ_CHUNK;
    c->in = hitl_xrealloc(c->in, c->in_cap);
  }
  ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n < 0) {
    conn_fail(c, now, strerror(errno));
    return;
  }
  if (c->state != CONN_BUSY) {
    /* The server closed an idle keep-alive connection (or spoke out of turn): open a new one
     * when the next request is due. */
    bench_conn_state state = c->state;
    conn_close(c);
    c->state = state == CONN_DONE ? CONN_DONE : CONN_SLEEPING;
    return;
  }
  c->in_len += (size_t)n;
  int p = bench_resp_parse(&c->resp, c->in, c->in_len, n == 0);
  if (p < 0) {
    conn_fail(c, now, c->resp.error);
    return;
  }
  if (p == 0) return;
  if (c->resp.pos != c->in_len) {
    conn_fail(c, now, "bytes after the answer");
    return;
  }
  if (c->out_off < c->out_len) c->resp.close = true; /* Answered before the request was sent. */
  conn_answered(c, now);
}

static void conn_event(bench_conn *c, uint32_t events, int64_t now) {
  if (c->state == CONN_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) {
      conn_fail(c, now, strerror(err));
      return;
    }
    conn_epoll(c, false);
    c->state = CONN_SLEEPING; /* Connected; issue at once. */
    conn_issue(c, now);
    return;
  }
  if (c->state == CONN_BUSY && (events & EPOLLOUT) && c->out_off < c->out_len) conn_send(c, now);
  if (c->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) conn_readable(c, now);
}

static void *worker_main(void *arg) {
  bench_worker *w = arg;
  bench_phase *ph = w->phase;
  struct epoll_event evs[64];
  int64_t now = hitl_mono_us();
  for (int i = 0; i < w->nconns; i++) conn_issue(&w->conns[i], now);
  for (;;) {
    now = hitl_mono_us();
    bool stopping = phase_stopping(ph, now);
    int busy = 0;
    int64_t wake = now + 100000;
    for (int i = 0; i < w->nconns; i++) {
      bench_conn *c = &w->conns[i];
      if (c->state == CONN_SLEEPING || c->state == CONN_CLOSED) {
        if (stopping) {
          c->state = CONN_DONE;
        } else if (c->wake_us <= now || c->state == CONN_CLOSED) {
          conn_issue(c, now);
        } else if (c->wake_us < wake) {
          wake = c->wake_us;
        }
      }
      if (c->state == CONN_BUSY || c->state == CONN_CONNECTING) busy++;
    }
    bool all_done = true;
    for (int i = 0; i < w->nconns; i++) all_done &= w->conns[i].state == CONN_DONE;
    if (all_done) break;
    if (stopping && busy == 0) break;
    if (stopping && now >= ph->deadline_us + BENCH_GRACE_US) break;
    int timeout_ms = (int)((wake - now + 999) / 1000);
    if (!stopping && ph->deadline_us - now < (int64_t)timeout_ms * 1000)
      timeout_ms = (int)((ph->deadline_us - now + 999) / 1000);
    if (timeout_ms < 0) timeout_ms = 0;
    int n = epoll_wait(w->epfd, evs, 64, timeout_ms);
    if (n < 0 && errno != EINTR) {
      atomic_store(&ph->abort, true);
      break;
    }
    now = hitl_mono_us();
    for (int i = 0; i < n; i++) {
      bench_conn *c = evs[i].data.ptr;
      if (c->fd < 0) continue; /* Closed by an earlier event of this round. */
      conn_event(c, evs[i].events, now);
    }
  }
  for (int i = 0; i < w->nconns; i++) w->stats.unanswered += w->conns[i].state == CONN_BUSY;
  w->end_us = hitl_mono_us();
  return NULL;
}

/* Runs connections with the given roles until the phase ends (seconds after the start, or when
 * prefill batches run out), on up to cfg->threads epoll threads. Adds the figures to *out and
 * sets *elapsed_s. Returns 0, or -1 when the phase was aborted (the figures are incomplete). */
static int bench_run_phase(const bench_config *cfg, const bench_requests *rq, const bench_role *roles,
                           int n, double seconds, long batches, bench_stats *out, double *elapsed_s) {
  bench_phase ph;
  memset(&ph, 0, sizeof ph);
  ph.cfg = cfg;
  ph.req = rq;
  atomic_init(&ph.batches_left, batches);
  atomic_init(&ph.abort, false);
  atomic_init(&ph.submitted, 0);
  atomic_init(&ph.claimed, 0);
  ph.last_batch_tasks = cfg->prefill % cfg->batch_size ? cfg->prefill % cfg->batch_size : cfg->batch_size;
  int nt = cfg->threads < n ? cfg->threads : n;
  bench_worker *ws = hitl_xcalloc((size_t)nt, sizeof *ws);
  int started = 0, rc = -1;
  *elapsed_s = 0;
  for (int t = 0; t < nt; t++) ws[t].epfd = -1;
  for (int t = 0; t < nt; t++) {
    bench_worker *w = &ws[t];
    w->phase = &ph;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (w->epfd < 0) goto cleanup;
    w->conns = hitl_xcalloc((size_t)(n / nt + 1), sizeof *w->conns);
    for (int i = t; i < n; i += nt) {
      bench_conn *c = &w->conns[w->nconns++];
      c->w = w;
      c->fd = -1;
      c->state = CONN_CLOSED;
      c->role = roles[i];
      c->port = cfg->ports[i % cfg->nports];
      bench_resp_init(&c->resp);
    }
    for (int k = 0; k < OP_COUNT; k++) bench_hist_init(&w->stats.hist[k]);
  }
  ph.start_us = hitl_mono_us();
  ph.deadline_us = ph.start_us + (int64_t)(seconds * 1e6);
  for (; started < nt; started++) {
    if (pthread_create(&ws[started].thread, NULL, worker_main, &ws[started]) != 0) {
      atomic_store(&ph.abort, true);
      break;
    }
  }
  int64_t end = ph.start_us;
  for (int t = 0; t < started; t++) {
    pthread_join(ws[t].thread, NULL);
    if (ws[t].end_us > end) end = ws[t].end_us;
  }
  *elapsed_s = (double)(end - ph.start_us) / 1e6;
  for (int t = 0; t < started; t++) {
    bench_stats *s = &ws[t].stats;
    for (int k = 0; k < OP_COUNT; k++) {
      bench_hist_merge(&out->hist[k], &s->hist[k]);
      out->ok[k] += s->ok[k];
      out->failed[k] += s->failed[k];
    }
    out->empty_claims += s->empty_claims;
    out->conflicts += s->conflicts;
    out->io_errors += s->io_errors;
    out->reconnects += s->reconnects;
    out->prefilled += s->prefilled;
    out->unanswered += s->unanswered;
  }
  rc = started == nt && !atomic_load(&ph.abort) ? 0 : -1;
cleanup:
  for (int t = 0; t < nt; t++) {
    bench_worker *w = &ws[t];
    for (int i = 0; i < w->nconns; i++) {
      bench_conn *c = &w->conns[i];
      if (c->fd >= 0) close(c->fd);
      free(c->in);
      hitl_buf_free(&c->own);
      bench_resp_free(&c->resp);
    }
    free(w->conns);
    if (w->epfd >= 0) close(w->epfd);
  }
  free(ws);
  return rc;
}

/* ---- reporting ---- */

static uint64_t bench_answered(const bench_stats *st) {
  uint64_t n = st->empty_claims;
  for (int k = 0; k < OP_COUNT; k++) n += st->ok[k] + st->failed[k];
  return n;
}

static uint64_t bench_errors(const bench_stats *st) {
  uint64_t n = st->unanswered + st->io_errors;
  for (int k = 0; k < OP_COUNT; k++) n += st->failed[k];
  return n;
}

static double bench_rate(uint64_t n, double secs) { return secs > 0 ? (double)n / secs : 0.0; }

static void bench_print_op(const bench_stats *st, bench_op op, double secs) {
  const bench_hist *h = &st->hist[op];
  if (st->ok[op] == 0 && st->failed[op] == 0) return;
  printf("  %-8s %10" PRIu64 " ok %10.1f/s  p50 %7" PRIu64 " us  p99 %7" PRIu64 " us  max %8" PRIu64
         " us  failed %" PRIu64 "\n",
         bench_op_names[op], st->ok[op], bench_rate(st->ok[op], secs), bench_hist_percentile(h, 50),
         bench_hist_percentile(h, 99), h->count ? h->max : 0, st->failed[op]);
}

static void bench_json_op(hitl_buf *j, const bench_stats *st, bench_op op, double secs) {
  const bench_hist *h = &st->hist[op];
  hitl_buf_printf(j,
                  ",\"%s\":{\"count\":%" PRIu64 ",\"per_s\":%.1f,\"p50_us\":%" PRIu64 ",\"p90_us\":%" PRIu64
                  ",\"p99_us\":%" PRIu64 ",\"p999_us\":%" PRIu64 ",\"max_us\":%" PRIu64
                  ",\"mean_us\":%.1f,\"failed\":%" PRIu64 "}",
                  bench_op_names[op], st->ok[op], bench_rate(st->ok[op], secs), bench_hist_percentile(h, 50),
                  bench_hist_percentile(h, 90), bench_hist_percentile(h, 99), bench_hist_percentile(h, 99.9),
                  h->count ? h->max : 0, h->count ? (double)h->sum / (double)h->count : 0.0, st->failed[op]);
}

/* Prints the human lines of a measured phase and appends its JSON members. */
static void bench_report(const bench_config *cfg, const bench_stats *st, double secs, hitl_buf *j) {
  uint64_t answered = bench_answered(st);
  printf("  requests %10" PRIu64 "    %10.1f/s  in %.2f s  errors %" PRIu64 " (io %" PRIu64
         ", conflicts %" PRIu64 ")\n",
         answered, bench_rate(answered, secs), secs, bench_errors(st), st->io_errors, st->conflicts);
  for (int k = 0; k < OP_COUNT; k++)
    if (k != OP_BATCH) bench_print_op(st, (bench_op)k, secs);
  if (st->empty_claims) printf("  claims answered 204 (none pending): %" PRIu64 "\n", st->empty_claims);
  hitl_buf_printf(j,
                  ",\"connections\":%d,\"threads\":%d,\"duration_s\":%.3f,\"elapsed_s\":%.3f,"
                  "\"requests\":%" PRIu64 ",\"requests_per_s\":%.1f,\"errors\":%" PRIu64
                  ",\"io_errors\":%" PRIu64 ",\"conflicts\":%" PRIu64 ",\"unanswered\":%" PRIu64
                  ",\"reconnects\":%" PRIu64 ",\"empty_claims\":%" PRIu64,
                  cfg->connections, cfg->threads < cfg->connections ? cfg->threads : cfg->connections,
                  cfg->duration_s, secs, answered, bench_rate(answered, secs), bench_errors(st),
                  st->io_errors, st->conflicts, st->unanswered, st->reconnects, st->empty_claims);
  for (int k = 0; k < OP_COUNT; k++)
    if (k != OP_BATCH && (st->ok[k] || st->failed[k])) bench_json_op(j, st, (bench_op)k, secs);
}

/* ---- modes ---- */

static const char bench_review_queue[] =
    "{\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"review\"}}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":600}}";
static const char bench_auto_queue[] = "{\"policy\":{\"rules\":[{\"name\":\"ok\",\"then\":{\"action\":\"accept\"}}]}}";

static int bench_main(const bench_config *cfg) {
  static const char *const queues[] = {NULL, "bench-review", "bench-auto", "bench-claim",
                                       "bench-auto"};
  const char *queue = cfg->mode == MODE_SUBMIT && cfg->queue ? cfg->queue : queues[cfg->mode];
  bench_requests rq;
  bench_stats *st = hitl_xcalloc(1, sizeof *st);
  bench_role *roles = hitl_xcalloc((size_t)cfg->connections, sizeof *roles);
  hitl_buf j = HITL_BUF_INIT;
  double secs = 0;
  int rc = 1, phase_rc = 0;
  for (int k = 0; k < OP_COUNT; k++) bench_hist_init(&st->hist[k]);
  bench_requests_build(&rq, cfg, queue);
  hitl_buf_printf(&j, "{\"mode\":\"%s\",\"host\":\"%s\",\"port\":%u,\"servers\":%d",
                  bench_mode_names[cfg->mode], cfg->host, (unsigned)cfg->port, cfg->nports);
  printf("bench_lifecycle: mode %s against %s:%u (%d server%s), %d connections, %.1f s\n",
         bench_mode_names[cfg->mode], cfg->host, (unsigned)cfg->port, cfg->nports,
         cfg->nports == 1 ? "" : "s", cfg->connections, cfg->duration_s);

  switch (cfg->mode) {
  case MODE_REF:
    for (int i = 0; i < cfg->connections; i++) roles[i] = ROLE_GETTER;
    break;
  case MODE_LIFECYCLE:
    if (bench_put_queue(cfg, &rq, queue, bench_review_queue) != 0) goto cleanup;
    for (int i = 0; i < cfg->connections; i++) roles[i] = i < cfg->producers ? ROLE_PRODUCER : ROLE_REVIEWER;
    hitl_buf_printf(&j, ",\"producers\":%d,\"reviewers\":%d", cfg->producers, cfg->reviewers);
    break;
  case MODE_SUBMIT:
    if (cfg->queue == NULL && bench_put_queue(cfg, &rq, queue, bench_auto_queue) != 0) goto cleanup;
    for (int i = 0; i < cfg->connections; i++) roles[i] = ROLE_PRODUCER;
    break;
  case MODE_MCP:
    /* REST and MCP side by side on one server, in the same phase: the same load, the same
     * group commits, so that their latencies compare whatever else the machine does. */
    if (bench_put_queue(cfg, &rq, queue, bench_auto_queue) != 0) goto cleanup;
    for (int i = 0; i < cfg->connections; i++) roles[i] = i % 2 ? ROLE_MCP : ROLE_PRODUCER;
    break;
  case MODE_CLAIM: {
    if (bench_put_queue(cfg, &rq, queue, bench_review_queue) != 0) goto cleanup;
    long rss_before = bench_rss_kb(cfg->server_pid);
    int np = cfg->connections < 4 ? cfg->connections : 4;
    for (int i = 0; i < np; i++) roles[i] = ROLE_PREFILLER;
    bench_stats *pre = hitl_xcalloc(1, sizeof *pre);
    for (int k = 0; k < OP_COUNT; k++) bench_hist_init(&pre->hist[k]);
    double pre_secs = 0;
    long batches = (cfg->prefill + cfg->batch_size - 1) / cfg->batch_size;
    printf("  prefill  %ld tasks in batches of %d over %d connections...\n", cfg->prefill, cfg->batch_size, np);
    fflush(stdout);
    int pre_rc = batches > 0 ? bench_run_phase(cfg, &rq, roles, np, cfg->prefill_timeout_s, batches, pre, &pre_secs) : 0;
    long rss_after = bench_rss_kb(cfg->server_pid);
    const bench_hist *bh = &pre->hist[OP_BATCH];
    printf("  prefill  %" PRIu64 " tasks in %.2f s (%.1f tasks/s), batch p50 %" PRIu64 " us p99 %" PRIu64 " us\n",
           pre->prefilled, pre_secs, bench_rate(pre->prefilled, pre_secs), bench_hist_percentile(bh, 50),
           bench_hist_percentile(bh, 99));
    double per_task = rss_before >= 0 && rss_after >= 0 && pre->prefilled > 0
                          ? (double)(rss_after - rss_before) * 1024.0 / (double)pre->prefilled
                          : NAN;
    if (cfg->server_pid > 0)
      printf("  server   VmRSS %ld KiB before, %ld KiB after the prefill: %.1f bytes per pending task\n",
             rss_before, rss_after, per_task);
    hitl_buf_printf(&j, ",\"prefill\":%ld,\"prefilled\":%" PRIu64 ",\"prefill_s\":%.3f,\"prefill_tasks_per_s\":%.1f",
                    cfg->prefill, pre->prefilled, pre_secs, bench_rate(pre->prefilled, pre_secs));
    bench_json_op(&j, pre, OP_BATCH, pre_secs);
    hitl_buf_printf(&j, ",\"rss_before_kb\":%ld,\"rss_after_kb\":%ld", rss_before, rss_after);
    if (isnan(per_task)) hitl_buf_puts(&j, ",\"bytes_per_pending_task\":null");
    else hitl_buf_printf(&j, ",\"bytes_per_pending_task\":%.1f", per_task);
    free(pre);
    if (pre_rc != 0) {
      fprintf(stderr, "bench_lifecycle: the prefill did not complete; no claim figures\n");
      hitl_buf_puts(&j, ",\"prefill_failed\":true}");
      printf("%s\n", j.data);
      goto cleanup;
    }
    for (int i = 0; i < cfg->connections; i++) roles[i] = ROLE_REVIEWER;
    break;
  }
  }

  phase_rc = bench_run_phase(cfg, &rq, roles, cfg->connections, cfg->duration_s, 0, st, &secs);
  bench_report(cfg, st, secs, &j);
  if (cfg->mode == MODE_LIFECYCLE) {
    printf("  lifecycles (approved responses) %.1f/s\n", bench_rate(st->ok[OP_RESPOND], secs));
    long backlog = (long)st->ok[OP_SUBMIT] - (long)st->ok[OP_CLAIM];
    printf("  backlog at the end (submitted, not claimed): %ld\n", backlog);
    hitl_buf_printf(&j, ",\"lifecycles\":%" PRIu64 ",\"lifecycles_per_s\":%.1f,\"max_backlog\":%ld,\"backlog\":%ld",
                    st->ok[OP_RESPOND], bench_rate(st->ok[OP_RESPOND], secs), cfg->max_backlog, backlog);
  } else if (cfg->mode == MODE_SUBMIT) {
    hitl_buf_printf(&j, ",\"submits_per_s\":%.1f", bench_rate(st->ok[OP_SUBMIT], secs));
  } else if (cfg->mode == MODE_MCP) {
    const bench_hist *rh = &st->hist[OP_SUBMIT], *mh = &st->hist[OP_MCP];
    double rest_mean = rh->count ? (double)rh->sum / (double)rh->count : 0;
    double mcp_mean = mh->count ? (double)mh->sum / (double)mh->count : 0;
    uint64_t rest_p50 = bench_hist_percentile(rh, 50);
    double p50 = rest_p50 ? (double)bench_hist_percentile(mh, 50) / (double)rest_p50 : 0.0;
    printf("  mcp/rest  p50 %.2fx, mean %.2fx, calls/s %.2fx (each connection waits for its answer)\n",
           p50, rest_mean > 0 ? mcp_mean / rest_mean : 0.0,
           st->ok[OP_MCP] ? (double)st->ok[OP_SUBMIT] / (double)st->ok[OP_MCP] : 0.0);
    hitl_buf_printf(&j, ",\"submits_per_s\":%.1f,\"mcp_per_s\":%.1f,\"mcp_p50_ratio\":%.3f,"
                    "\"mcp_mean_ratio\":%.3f",
                    bench_rate(st->ok[OP_SUBMIT], secs), bench_rate(st->ok[OP_MCP], secs), p50,
                    rest_mean > 0 ? mcp_mean / rest_mean : 0.0);
  } else if (cfg->mode == MODE_CLAIM) {
    long rss_end = bench_rss_kb(cfg->server_pid);
    hitl_buf_printf(&j, ",\"rss_end_kb\":%ld,\"claims_per_s\":%.1f", rss_end, bench_rate(st->ok[OP_CLAIM], secs));
  }
  hitl_buf_printf(&j, ",\"ok\":%s}", phase_rc == 0 && bench_errors(st) == 0 ? "true" : "false");
  printf("%s\n", j.data);
  if (phase_rc != 0) fprintf(stderr, "bench_lifecycle: the phase was aborted; figures are partial\n");
  rc = phase_rc == 0 && bench_errors(st) == 0 && bench_answered(st) > 0 ? 0 : 1;

cleanup:
  fflush(stdout);
  bench_requests_free(&rq);
  hitl_buf_free(&j);
  free(roles);
  free(st);
  return rc;
}

/* ---- self-test of the parts that the reference server cannot exercise ---- */

static int bench_check(bool cond, const char *what, int *failures) {
  if (!cond) {
    fprintf(stderr, "self-test: FAILED: %s\n", what);
    (*failures)++;
  }
  return cond ? 0 : 1;
}

/* Parses text fed one byte at a time, then whole; both must give the same verdict and body. */
static int bench_parse_all(const char *text, bool eof_at_end, bench_resp *r) {
  size_t n = strlen(text);
  int v = 0;
  bench_resp_reset(r);
  for (size_t i = 1; i <= n && v == 0; i++) v = bench_resp_parse(r, text, i, false);
  if (v == 0 && eof_at_end) v = bench_resp_parse(r, text, n, true);
  hitl_buf first = HITL_BUF_INIT;
  hitl_buf_append(&first, r->body.data ? r->body.data : "", r->body.len);
  int v1 = v;
  size_t pos1 = r->pos;
  bench_resp_reset(r);
  v = bench_resp_parse(r, text, n, eof_at_end);
  if (v != v1 || (v == 1 && (pos1 != r->pos || first.len != r->body.len ||
                             memcmp(hitl_buf_cstr(&first), hitl_buf_cstr(&r->body), first.len) != 0)))
    v = -99;
  hitl_buf_free(&first);
  return v;
}

static int bench_self_test(void) {
  int f = 0;
  bench_resp r;
  bench_resp_init(&r);

  const char *cl = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\ncontent-length: 11\r\n\r\n{\"id\":\"t1\"}";
  bench_check(bench_parse_all(cl, false, &r) == 1 && r.status == 201 && !r.close &&
                  strcmp(hitl_buf_cstr(&r.body), "{\"id\":\"t1\"}") == 0 && r.pos == strlen(cl),
              "content-length response", &f);
  const char *ch = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "4;ext=1\r\n{\"a\"\r\nA \r\n:\"012345\"}\r\n0\r\nX-Trailer: y\r\n\r\n";
  bench_check(bench_parse_all(ch, false, &r) == 1 && r.status == 200 &&
                  strcmp(hitl_buf_cstr(&r.body), "{\"a\":\"012345\"}") == 0 && r.pos == strlen(ch),
              "chunked response with extension and trailer", &f);
  bench_check(bench_parse_all("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false, &r) == 1 &&
                  r.status == 204 && r.body.len == 0,
              "204 without body", &f);
  bench_check(bench_parse_all("HTTP/1.1 204 No Content\r\n\r\n", false, &r) == 1 && r.status == 204,
              "204 without length", &f);
  bench_check(bench_parse_all("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, &r) == 1 &&
                  r.status == 200 && strcmp(hitl_buf_cstr(&r.body), "ok") == 0,
              "interim 100 skipped", &f);
  bench_check(bench_parse_all("HTTP/1.0 200 OK\r\n\r\nuntil close", true, &r) == 1 && r.close &&
                  strcmp(hitl_buf_cstr(&r.body), "until close") == 0,
              "body to connection close", &f);
  bench_check(bench_parse_all("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, &r) == 1 &&
                  r.close,
              "Connection: close noted", &f);
  bench_check(bench_parse_all("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", false, &r) == 1 &&
                  !r.close,
              "HTTP/1.0 keep-alive", &f);
  bench_check(bench_parse_all("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", false, &r) == 0,
              "partial body needs more", &f);
  bench_check(bench_parse_all("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", true, &r) == -1,
              "truncated body is an error", &f);
  bench_check(bench_parse_all("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", false, &r) == -1,
              "conflicting lengths", &f);
  bench_check(bench_parse_all("HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n", false, &r) == -1, "bad length", &f);
  bench_check(bench_parse_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", false, &r) == -1,
              "bad chunk size", &f);
  bench_check(bench_parse_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", false, &r) == -1,
              "missing CRLF after chunk data", &f);
  bench_check(bench_parse_all("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false, &r) == -1,
              "unsupported transfer coding", &f);
  bench_check(bench_parse_all("HTTX/1.1 200 OK\r\n\r\n", false, &r) == -1, "bad status line", &f);
  bench_check(bench_parse_all("HTTP/1.1 2x0 OK\r\n\r\n", false, &r) == -1, "bad status code", &f);
  bench_check(bench_parse_all("HTTP/1.1 200 OK\r\nno colon\r\n\r\n", false, &r) == -1, "bad header line", &f);
  bench_check(bench_parse_all("", true, &r) == -1, "closed before a response", &f);
  {
    hitl_buf big = HITL_BUF_INIT;
    hitl_buf_puts(&big, "HTTP/1.1 200 OK\r\n");
    while (big.len <= BENCH_RESP_MAX_HEAD) hitl_buf_puts(&big, "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    bench_resp_reset(&r);
    bench_check(bench_resp_parse(&r, big.data, big.len, false) == -1, "head too large", &f);
    hitl_buf_free(&big);
  }
  {
    /* Two answers back to back: the parser stops at the end of the first. */
    const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\n";
    bench_resp_reset(&r);
    bench_check(bench_resp_parse(&r, two, strlen(two), false) == 1 && r.pos == strlen(two) - 17,
                "the answer's extent", &f);
  }
  bench_resp_free(&r);

  /* Histogram: bins are contiguous and monotonic; percentiles are within one bin's width. */
  bool bins_ok = true;
  for (unsigned i = 0; i + 1 < BENCH_HIST_BINS; i++) {
    uint64_t hi = bench_hist_bin_high(i);
    if (bench_hist_index(hi) != i || bench_hist_index(hi + 1) != i + 1) bins_ok = false;
  }
  bench_check(bins_ok, "histogram bins contiguous", &f);
  bench_check(bench_hist_index(UINT64_MAX) == BENCH_HIST_BINS - 1, "histogram clamps huge values", &f);
  bench_hist *h = hitl_xmalloc(sizeof *h);
  bench_hist_init(h);
  bench_check(bench_hist_percentile(h, 99) == 0, "empty histogram", &f);
  for (uint64_t v = 1; v <= 100000; v++) bench_hist_record(h, v);
  uint64_t p50 = bench_hist_percentile(h, 50), p99 = bench_hist_percentile(h, 99);
  bench_check(p50 >= 50000 && p50 <= 50000 * 1.008, "p50 of 1..100000", &f);
  bench_check(p99 >= 99000 && p99 <= 99000 * 1.008, "p99 of 1..100000", &f);
  bench_check(bench_hist_percentile(h, 100) == 100000 && h->min == 1, "max and min exact", &f);
  bench_hist *g = hitl_xmalloc(sizeof *g);
  bench_hist_init(g);
  bench_hist_record(g, 7);
  bench_hist_merge(g, h);
  bench_check(g->count == 100001 && g->min == 1 && g->max == 100000 && bench_hist_percentile(g, 0.0001) == 1,
              "merge", &f);
  free(g);
  free(h);

  /* Claim answers: top-level or nested task; missing lease refused. */
  char *tid = NULL, *lid = NULL;
  const char *a = "{\"id\":\"t 1/é\",\"state\":\"leased\",\"lease\":{\"id\":\"L\\\"1\",\"expires_at\":\"x\"}}";
  bench_check(bench_claim_ids(a, strlen(a), &tid, &lid) == 0 && strcmp(tid, "t 1/é") == 0 && strcmp(lid, "L\"1") == 0,
              "claim ids at top level", &f);
  if (tid != NULL) {
    bench_requests rq;
    bench_config cfg = {.host = "127.0.0.1", .port = 9, .token = "tok", .task_bytes = 4};
    bench_requests_build(&rq, &cfg, NULL);
    hitl_buf out = HITL_BUF_INIT;
    bench_respond_request(&out, &rq, tid, lid, false);
    bench_check(strstr(out.data, "POST /v1/tasks/t%201%2F%C3%A9/responses HTTP/1.1\r\n") == out.data &&
                    strstr(out.data, "Authorization: Bearer tok\r\n") != NULL &&
                    strstr(out.data, "Content-Length: 36\r\n\r\n{\"lease_id\":\"L\\\"1\",\"kind\":\"approve\"}") != NULL,
                "respond request", &f);
    hitl_buf_free(&out);
    bench_requests_free(&rq);
  }
  free(tid);
  free(lid);
  const char *b = "{\"task\":{\"id\":\"t2\",\"lease\":{\"id\":\"l2\"}}}";
  bench_check(bench_claim_ids(b, strlen(b), &tid, &lid) == 0 && strcmp(tid, "t2") == 0 && strcmp(lid, "l2") == 0,
              "claim ids nested", &f);
  free(tid);
  free(lid);
  bench_check(bench_claim_ids("{\"id\":\"t3\"}", 11, &tid, &lid) == -1 && tid == NULL, "claim without lease", &f);
  bench_check(bench_claim_ids("not json", 8, &tid, &lid) == -1, "claim not JSON", &f);

  if (f == 0) printf("self-test: ok\n");
  return f == 0 ? 0 : 1;
}

/* ---- options ---- */

static void bench_usage(FILE *out) {
  fprintf(out,
          "usage: bench_lifecycle --mode ref|lifecycle|submit|claim|mcp [options]\n"
          "  --host ADDR          server address, 127.0.0.0/8 only (default 127.0.0.1)\n"
          "  --port N             server port (default 8080)\n"
          "  --ports A,B,...      several servers on one database: connections take them round-robin,\n"
          "                       the queue is put on each (instead of --port)\n"
          "  --token T            bearer token (default: $HITL_TOKEN)\n"
          "  --duration S         seconds of measurement (default 10)\n"
          "  --connections N      connections (default 16)\n"
          "  --producers N        lifecycle: submitting connections (default half)\n"
          "  --reviewers N        lifecycle: claiming connections (default the rest)\n"
          "  --threads N          generator threads, 1 or 2 (default 2)\n"
          "  --prefill N          claim: tasks submitted before measuring (default 1000000)\n"
          "  --queue NAME         submit: submit to this existing queue as it is configured\n"
          "  --batch-size N       claim: tasks per batch request (default 1000)\n"
          "  --task-bytes N       length of each task's input text (default 1024)\n"
          "  --prefill-timeout S  claim: give up the prefill after S seconds (default 1800)\n"
          "  --server-pid PID     claim: read the server's VmRSS before and after the prefill\n"
          "  --max-backlog N      lifecycle: producers wait while N tasks are unclaimed (default 0: never)\n"
          "  --respond-next       reviewers answer with ?next=true: the answer also leases their next task\n"
          "  --slow-ms N          print each answer slower than N ms, with when it was sent (default 0: never)\n"
          "  --self-test          check the HTTP parser, histogram and claim parsing, then exit\n");
}

/* A token must be one header-safe word: visible ASCII, no spaces. */
static bool bench_token_ok(const char *t) {
  if (*t == '\0' || strlen(t) > 4096) return false;
  for (; *t; t++)
    if (*t <= ' ' || *t >= 127) return false;
  return true;
}

/* "A,B,C" into cfg->ports (at most BENCH_MAX_PORTS, each 1..65535); cfg->port becomes A. */
static int bench_parse_ports(const char *s, bench_config *cfg) {
  char word[16];
  long v = 0;
  cfg->nports = 0;
  while (*s != '\0') {
    size_t n = strcspn(s, ",");
    if (n == 0 || n >= sizeof word || cfg->nports == BENCH_MAX_PORTS) return -1;
    memcpy(word, s, n);
    word[n] = '\0';
    if (bench_long(word, 1, 65535, &v) != 0) return -1;
    cfg->ports[cfg->nports++] = (uint16_t)v;
    s += n;
    if (*s == ',' && *++s == '\0') return -1;
  }
  if (cfg->nports == 0) return -1;
  cfg->port = cfg->ports[0];
  return 0;
}

static int bench_parse_args(int argc, char **argv, bench_config *cfg, bool *self_test) {
  long v = 0, producers = -1, reviewers = -1, connections = -1;
  const char *mode = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--self-test") == 0) {
      *self_test = true;
      continue;
    }
    if (strcmp(a, "--respond-next") == 0) {
      cfg->respond_next = true;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      bench_usage(stdout);
      exit(0);
    }
    if (val == NULL) goto bad;
    i++;
    if (strcmp(a, "--mode") == 0) mode = val;
    else if (strcmp(a, "--host") == 0) cfg->host = val;
    else if (strcmp(a, "--port") == 0) {
      if (bench_long(val, 1, 65535, &v) != 0) goto bad;
      cfg->port = (uint16_t)v;
      cfg->nports = 0;
    } else if (strcmp(a, "--ports") == 0) {
      if (bench_parse_ports(val, cfg) != 0) goto bad;
    } else if (strcmp(a, "--token") == 0) cfg->token = val;
    else if (strcmp(a, "--duration") == 0) {
      if (bench_double(val, 0.1, 86400, &cfg->duration_s) != 0) goto bad;
    } else if (strcmp(a, "--connections") == 0) {
      if (bench_long(val, 1, BENCH_MAX_CONNECTIONS, &connections) != 0) goto bad;
    } else if (strcmp(a, "--producers") == 0) {
      if (bench_long(val, 1, BENCH_MAX_CONNECTIONS, &producers) != 0) goto bad;
    } else if (strcmp(a, "--reviewers") == 0) {
      if (bench_long(val, 1, BENCH_MAX_CONNECTIONS, &reviewers) != 0) goto bad;
    } else if (strcmp(a, "--threads") == 0) {
      if (bench_long(val, 1, BENCH_MAX_THREADS, &v) != 0) goto bad;
      cfg->threads = (int)v;
    } else if (strcmp(a, "--queue") == 0) {
      cfg->queue = val;
    } else if (strcmp(a, "--prefill") == 0) {
      if (bench_long(val, 0, 100000000, &cfg->prefill) != 0) goto bad;
    } else if (strcmp(a, "--batch-size") == 0) {
      if (bench_long(val, 1, 1000, &v) != 0) goto bad;
      cfg->batch_size = (int)v;
    } else if (strcmp(a, "--task-bytes") == 0) {
      if (bench_long(val, 1, 1 << 20, &v) != 0) goto bad;
      cfg->task_bytes = (int)v;
    } else if (strcmp(a, "--prefill-timeout") == 0) {
      if (bench_double(val, 1, 86400, &cfg->prefill_timeout_s) != 0) goto bad;
    } else if (strcmp(a, "--slow-ms") == 0) {
      if (bench_long(val, 0, 3600000, &cfg->slow_ms) != 0) goto bad;
    } else if (strcmp(a, "--max-backlog") == 0) {
      if (bench_long(val, 0, 100000000, &cfg->max_backlog) != 0) goto bad;
    } else if (strcmp(a, "--server-pid") == 0) {
      if (bench_long(val, 1, 1L << 30, &cfg->server_pid) != 0) goto bad;
    } else {
      goto bad;
    }
  }
  if (*self_test) return 0;
  if (cfg->nports == 0) cfg->ports[cfg->nports++] = cfg->port;
  bool known = false;
  for (int m = 0; mode != NULL && m < BENCH_N_MODES; m++) {
    if (strcmp(mode, bench_mode_names[m]) == 0) {
      cfg->mode = (bench_mode)m;
      known = true;
    }
  }
  if (!known) {
    fprintf(stderr, "bench_lifecycle: --mode must be ref, lifecycle, submit, claim or mcp\n");
    goto bad;
  }
  if (inet_pton(AF_INET, cfg->host, &cfg->addr) != 1 || (ntohl(cfg->addr.s_addr) >> 24) != 127) {
    fprintf(stderr, "bench_lifecycle: --host must be an IPv4 address in 127.0.0.0/8, not %s\n", cfg->host);
    return -1;
  }
  if (cfg->token == NULL) {
    const char *env = getenv("HITL_TOKEN");
    if (env != NULL && *env != '\0') cfg->token = env;
  }
  if (cfg->token != NULL && !bench_token_ok(cfg->token)) {
    fprintf(stderr, "bench_lifecycle: the token must be visible ASCII without spaces\n");
    return -1;
  }
  if (cfg->mode == MODE_LIFECYCLE) {
    long c = connections > 0 ? connections : 16;
    if (producers < 0 && reviewers < 0) producers = c / 2 > 0 ? c / 2 : 1;
    if (producers < 0) producers = c - reviewers;
    if (reviewers < 0) reviewers = c - producers;
    if (producers < 1 || reviewers < 1 || producers + reviewers > BENCH_MAX_CONNECTIONS ||
        (connections > 0 && producers + reviewers != connections)) {
      fprintf(stderr, "bench_lifecycle: lifecycle needs producers >= 1 and reviewers >= 1 adding up to --connections\n");
      return -1;
    }
    cfg->producers = (int)producers;
    cfg->reviewers = (int)reviewers;
    cfg->connections = (int)(producers + reviewers);
  } else {
    if (producers >= 0 || reviewers >= 0) {
      fprintf(stderr, "bench_lifecycle: --producers and --reviewers apply to --mode lifecycle only\n");
      return -1;
    }
    cfg->connections = connections > 0 ? (int)connections : 16;
  }
  return 0;
bad:
  bench_usage(stderr);
  return -1;
}

int main(int argc, char **argv) {
  bench_config cfg = {.mode = MODE_REF,
                      .host = "127.0.0.1",
                      .port = 8080,
                      .duration_s = 10,
                      .threads = BENCH_MAX_THREADS,
                      .prefill = 1000000,
                      .batch_size = 1000,
                      .task_bytes = 1024,
                      .prefill_timeout_s = 1800};
  bool self_test = false;
  signal(SIGPIPE, SIG_IGN);
  if (bench_parse_args(argc, argv, &cfg, &self_test) != 0) return 2;
  if (self_test) return bench_self_test();
  return bench_main(&cfg);
}
