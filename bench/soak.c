/* SPDX-License-Identifier: MIT */
/* bench_soak: mixed load against a fresh hitl server for a set time, reporting the server's memory
 * and the latency of each interval, to show that neither drifts. */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "util/clock.h"

#define SOAK_TOKEN "soak-admin-token-0123456789abcdef"
#define SOAK_MAX_BACKLOG 2000 /* Submitters wait while this many submitted tasks are unclaimed. */
#define SOAK_BATCH 20         /* Tasks per batch request. */
#define SOAK_RECENT 256       /* Task ids kept for the readers. */
#define SOAK_START_MS 20000   /* Longest wait for the server to listen. */

typedef enum soak_op {
  OP_SUBMIT, OP_BATCH, OP_CLAIM, OP_RESPOND, OP_RELEASE, OP_GET, OP_LIST, OP_EVENTS, OP_QUEUE_PUT,
  OP_TOKEN, OP_COUNT
} soak_op;
static const char *const op_names[OP_COUNT] = {"submit", "batch", "claim", "respond", "release",
                                               "get", "list", "events", "queue_put", "token"};

typedef enum soak_role { ROLE_SUBMITTER, ROLE_BATCHER, ROLE_REVIEWER, ROLE_READER, ROLE_ADMIN } soak_role;

typedef struct soak_config {
  const char *bin;       /* The hitl binary. */
  double duration_s;
  double interval_s;     /* Between two report lines. */
  long think_us;         /* Each client waits this long between its requests. */
  const char *dir;       /* Database directory; a new temporary one when NULL. */
} soak_config;

/* Counts of one interval, per client; the reporter swaps them out under the lock. */
typedef struct soak_window {
  bench_hist all;          /* Every expected answer, microseconds. */
  bench_hist op[OP_COUNT];
  uint64_t errors;         /* Unexpected statuses and failed connections. */
} soak_window;

typedef struct soak_shared {
  int port;
  atomic_bool stop;
  atomic_long submitted, claimed; /* Tasks: their difference is the backlog. */
  pthread_mutex_t lock;           /* Guards recent and every client's window. */
  char recent[SOAK_RECENT][40];
  unsigned n_recent;
} soak_shared;

typedef struct soak_client {
  soak_shared *sh;
  const soak_config *cfg;
  soak_role role;
  int index;
  CURL *curl;
  struct curl_slist *headers;
  char *body;
  size_t len, cap;
  soak_window win;
  bool told; /* The first unexpected answer was printed. */
  pthread_t thread;
} soak_client;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud) {
  soak_client *c = ud;
  size_t add = size * n;
  if (c->len + add + 1 > c->cap) {
    size_t cap = (c->len + add + 1) * 2;
    char *grown = realloc(c->body, cap);
    if (grown == NULL) return 0;
    c->body = grown;
    c->cap = cap;
  }
  memcpy(c->body + c->len, ptr, add);
  c->len += add;
  c->body[c->len] = '\0';
  return add;
}

/* Sends one request and records its latency under op when the status is one of ok_a/ok_b.
 * Returns the status (0 when the connection failed); *out gets the parsed body when asked. */
static long soak_send(soak_client *c, soak_op op, const char *method, const char *path,
                      const char *body, long ok_a, long ok_b, json_t **out) {
  char url[512];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->sh->port, path);
  c->len = 0;
  curl_easy_setopt(c->curl, CURLOPT_URL, url);
  curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, body ? (long)strlen(body) : 0L);
  if (strcmp(method, "GET") == 0) curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
  int64_t t0 = hitl_mono_us();
  long status = 0;
  if (curl_easy_perform(c->curl) == CURLE_OK)
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
  uint64_t us = (uint64_t)(hitl_mono_us() - t0);
  pthread_mutex_lock(&c->sh->lock);
  if (status == ok_a || status == ok_b) {
    bench_hist_record(&c->win.all, us);
    bench_hist_record(&c->win.op[op], us);
  } else {
    c->win.errors++;
  }
  pthread_mutex_unlock(&c->sh->lock);
  if (status != ok_a && status != ok_b && !c->told && !atomic_load(&c->sh->stop)) {
    c->told = true;
    fprintf(stderr, "soak: %s %s answered %ld: %.200s\n", method, path, status,
            c->len ? c->body : "");
  }
  if (out) *out = c->len ? json_loadb(c->body, c->len, 0, NULL) : NULL;
  return status;
}

static void think(const soak_client *c) {
  if (c->cfg->think_us <= 0) return;
  struct timespec ts = {c->cfg->think_us / 1000000, (c->cfg->think_us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

static void remember(soak_shared *sh, const char *id) {
  if (id == NULL || id[0] == '\0') return;
  pthread_mutex_lock(&sh->lock);
  snprintf(sh->recent[sh->n_recent++ % SOAK_RECENT], sizeof sh->recent[0], "%s", id);
  pthread_mutex_unlock(&sh->lock);
}

static bool recent(soak_shared *sh, unsigned pick, char out[40]) {
  pthread_mutex_lock(&sh->lock);
  bool any = sh->n_recent > 0;
  if (any) {
    unsigned n = sh->n_recent < SOAK_RECENT ? sh->n_recent : SOAK_RECENT;
    snprintf(out, 40, "%s", sh->recent[pick % n]);
  }
  pthread_mutex_unlock(&sh->lock);
  return any;
}

static void task_json(char *out, size_t cap, unsigned n, int client) {
  snprintf(out, cap,
           "{\"input\":{\"text\":\"soak task %u of client %d: lorem ipsum dolor sit amet\"},"
           "\"output\":{\"label\":\"ok\"},\"confidence\":0.%02u,\"metadata\":{\"n\":%u}}",
           n, client, n % 100, n);
}

static bool backlog_full(soak_shared *sh) {
  return atomic_load(&sh->submitted) - atomic_load(&sh->claimed) > SOAK_MAX_BACKLOG;
}

static void wait_for_backlog(soak_client *c) {
  while (backlog_full(c->sh) && !atomic_load(&c->sh->stop)) {
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

static void submitter(soak_client *c, unsigned n) {
  char body[512];
  wait_for_backlog(c);
  task_json(body, sizeof body, n, c->index);
  json_t *r = NULL;
  if (soak_send(c, OP_SUBMIT, "POST", "/v1/queues/soak/tasks", body, 201, 201, &r) == 201) {
    const char *state = json_string_value(json_object_get(r, "state"));
    if (state && strcmp(state, "pending") == 0) atomic_fetch_add(&c->sh->submitted, 1);
    remember(c->sh, json_string_value(json_object_get(r, "id")));
  }
  json_decref(r);
}

static void batcher(soak_client *c, unsigned n) {
  char body[SOAK_BATCH * 256 + 64];
  char one[512];
  wait_for_backlog(c);
  snprintf(body, sizeof body, "{\"tasks\":[");
  for (unsigned k = 0; k < SOAK_BATCH; k++) {
    task_json(one, sizeof one, n * SOAK_BATCH + k, c->index);
    snprintf(body + strlen(body), sizeof body - strlen(body), "%s%s", k ? "," : "", one);
  }
  strncat(body, "]}", sizeof body - strlen(body) - 1);
  json_t *r = NULL;
  if (soak_send(c, OP_BATCH, "POST", "/v1/queues/soak/tasks/batch", body, 201, 201, &r) == 201) {
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(r, "tasks"), i, t) {
      const char *state = json_string_value(json_object_get(t, "state"));
      if (state && strcmp(state, "pending") == 0) atomic_fetch_add(&c->sh->submitted, 1);
    }
  }
  json_decref(r);
}

/* Claims; approves or rejects, or releases (1 in 10) the lease. */
static void reviewer(soak_client *c, unsigned n) {
  json_t *r = NULL;
  long st = soak_send(c, OP_CLAIM, "POST", "/v1/queues/soak/claim", "{}", 200, 204, &r);
  if (st != 200) {
    json_decref(r);
    struct timespec ts = {0, 2 * 1000 * 1000}; /* Nothing pending: let the submitters go on. */
    nanosleep(&ts, NULL);
    return;
  }
  atomic_fetch_add(&c->sh->claimed, 1);
  char id[64], lease[64], path[128], body[256];
  const char *tid = json_string_value(json_object_get(r, "id"));
  const char *lid = json_string_value(json_object_get(json_object_get(r, "lease"), "id"));
  snprintf(id, sizeof id, "%s", tid ? tid : "");
  snprintf(lease, sizeof lease, "%s", lid ? lid : "");
  json_decref(r);
  think(c);
  if (n % 10 == 9) {
    snprintf(path, sizeof path, "/v1/tasks/%s/release", id);
    snprintf(body, sizeof body, "{\"lease_id\":\"%s\"}", lease);
    if (soak_send(c, OP_RELEASE, "POST", path, body, 200, 200, NULL) == 200)
      atomic_fetch_sub(&c->sh->claimed, 1); /* Pending again. */
    return;
  }
  /* No skips: a task every reviewer skipped could be claimed by none of them, and the backlog
   * would fill with such tasks. */
  const char *kind = n % 3 == 2 ? "reject" : "approve";
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"%s\",\"comment\":\"soak %u\"}", lease,
           kind, n);
  soak_send(c, OP_RESPOND, "POST", path, body, 200, 200, NULL);
}

/* Reads: one task, a page of the queue, a page of events, the queue with its counts; at most
 * 500 a second, as a dashboard and a few callers polling would. */
static void reader(soak_client *c, unsigned n) {
  char path[160], id[40];
  struct timespec ts = {0, 2 * 1000 * 1000};
  nanosleep(&ts, NULL);
  switch (n % 4) {
  case 0:
    if (!recent(c->sh, n * 2654435761u, id)) return;
    snprintf(path, sizeof path, "/v1/tasks/%s", id);
    soak_send(c, OP_GET, "GET", path, NULL, 200, 200, NULL);
    break;
  case 1:
    soak_send(c, OP_LIST, "GET", "/v1/queues/soak/tasks?limit=50", NULL, 200, 200, NULL);
    break;
  case 2: {
    long after = (long)(n * 37u % 100000u);
    snprintf(path, sizeof path, "/v1/events?after=%ld&limit=100", after);
    soak_send(c, OP_EVENTS, "GET", path, NULL, 200, 200, NULL);
    break;
  }
  default:
    soak_send(c, OP_GET, "GET", "/v1/queues/soak", NULL, 200, 200, NULL);
  }
}

/* Replaces one of a few queues' configuration, or creates a token; at most 20 a second. */
static void admin(soak_client *c, unsigned n) {
  char path[128], body[512];
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
  if (n % 2 == 0) {
    snprintf(path, sizeof path, "/v1/queues/side-%u", n % 8);
    snprintf(body, sizeof body,
             "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],\"questions\":"
             "[{\"name\":\"verdict\",\"type\":\"approve\"}]},\"assignment\":{\"overlap\":1,"
             "\"lease_seconds\":%u}}",
             60 + n % 600);
    soak_send(c, OP_QUEUE_PUT, "PUT", path, body, 200, 201, NULL);
  } else {
    snprintf(body, sizeof body, "{\"name\":\"soak-%u\",\"roles\":[\"agent\"]}", n);
    soak_send(c, OP_TOKEN, "POST", "/v1/tokens", body, 201, 201, NULL);
  }
}

static void *client_main(void *arg) {
  soak_client *c = arg;
  for (unsigned n = 0; !atomic_load(&c->sh->stop); n++) {
    switch (c->role) {
    case ROLE_SUBMITTER: submitter(c, n); break;
    case ROLE_BATCHER: batcher(c, n); break;
    case ROLE_REVIEWER: reviewer(c, n); break;
    case ROLE_READER: reader(c, n); break;
    case ROLE_ADMIN: admin(c, n); break;
    }
    think(c);
  }
  return NULL;
}

/* ---- the server ---- */

/* Starts `hitl serve` on dir/hitl.db, 127.0.0.1, a free port; returns its pid, sets *port. */
static pid_t start_server(const soak_config *cfg, const char *dir, int *port) {
  int out[2];
  if (pipe(out) != 0) return -1;
  char db[512], log[512];
  snprintf(db, sizeof db, "%s/hitl.db", dir);
  snprintf(log, sizeof log, "%s/server.log", dir);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    FILE *f = fopen(log, "a");
    if (f) dup2(fileno(f), STDERR_FILENO);
    setenv("HITL_ADMIN_TOKEN", SOAK_TOKEN, 1);
    execl(cfg->bin, cfg->bin, "serve", "--db", db, "--listen", "127.0.0.1:0", (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  char line[512];
  size_t len = 0;
  *port = 0;
  for (int waited = 0; waited < SOAK_START_MS && *port == 0; waited += 100) {
    struct pollfd p = {.fd = out[0], .events = POLLIN};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(out[0], line + len, sizeof line - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
    line[len] = '\0';
    const char *at = strstr(line, "127.0.0.1:");
    if (at && strchr(at, ' ')) *port = atoi(at + strlen("127.0.0.1:"));
  }
  close(out[0]);
  return pid;
}

/* VmRSS (or VmHWM) of pid in KiB; -1 when unknown. */
static long status_kb(pid_t pid, const char *field) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  long kb = -1;
  size_t n = strlen(field);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0) kb = strtol(line + n, NULL, 10);
  fclose(f);
  return kb;
}

static long file_kb(const char *dir, const char *name) {
  char path[512];
  struct stat st;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return stat(path, &st) == 0 ? (long)(st.st_size / 1024) : 0;
}

/* A request on a new connection, for the set-up; returns the status. */
static long setup_request(int port, const char *method, const char *path, const char *body) {
  soak_shared sh = {.port = port};
  pthread_mutex_init(&sh.lock, NULL);
  soak_client c = {.sh = &sh, .curl = curl_easy_init()};
  c.headers = curl_slist_append(NULL, "Authorization: Bearer " SOAK_TOKEN);
  c.headers = curl_slist_append(c.headers, "Content-Type: application/json");
  curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, c.headers);
  curl_easy_setopt(c.curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c.curl, CURLOPT_WRITEDATA, &c);
  long st = soak_send(&c, OP_GET, method, path, body, 200, 201, NULL);
  curl_slist_free_all(c.headers);
  curl_easy_cleanup(c.curl);
  free(c.body);
  pthread_mutex_destroy(&sh.lock);
  return st;
}

/* ---- the report ---- */

static void print_row(double t, const soak_window *w, double secs, long rss, long wal) {
  printf("%7.0f %9.0f %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %7" PRIu64 " %9ld %8ld\n", t,
         (double)w->all.count / secs, bench_hist_percentile(&w->all, 50) / 1000.0,
         bench_hist_percentile(&w->all, 99) / 1000.0,
         bench_hist_percentile(&w->op[OP_SUBMIT], 99) / 1000.0,
         bench_hist_percentile(&w->op[OP_CLAIM], 99) / 1000.0,
         bench_hist_percentile(&w->op[OP_RESPOND], 99) / 1000.0,
         bench_hist_percentile(&w->op[OP_GET], 99) / 1000.0, w->errors, rss, wal);
  fflush(stdout);
}

static int soak_main(const soak_config *cfg) {
  char tmp[256] = "";
  const char *dir = cfg->dir;
  if (dir == NULL) {
    const char *t = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/hitl-soak-XXXXXX", t && t[0] ? t : "/tmp");
    if (mkdtemp(tmp) == NULL) return perror("mkdtemp"), 1;
    dir = tmp;
  }
  int port = 0;
  pid_t pid = start_server(cfg, dir, &port);
  if (pid <= 0 || port == 0) {
    fprintf(stderr, "soak: the server did not start; see %s/server.log\n", dir);
    if (pid > 0) kill(pid, SIGKILL), waitpid(pid, NULL, 0);
    return 1;
  }
  static const char queue[] =
      "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
      "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
      "\"policy\":{\"rules\":[{\"name\":\"unsure\",\"when\":{\"confidence_below\":0.9},"
      "\"then\":{\"action\":\"review\"}},{\"name\":\"sure\",\"then\":{\"action\":\"accept\"}}]},"
      "\"assignment\":{\"overlap\":1,\"lease_seconds\":60}}";
  long st = setup_request(port, "PUT", "/v1/queues/soak", queue);
  if (st != 201) {
    fprintf(stderr, "soak: queue creation answered %ld\n", st);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return 1;
  }

  static const soak_role roles[] = {ROLE_SUBMITTER, ROLE_SUBMITTER, ROLE_BATCHER, ROLE_REVIEWER,
                                    ROLE_REVIEWER,  ROLE_REVIEWER,  ROLE_READER,  ROLE_ADMIN};
  enum { N = sizeof roles / sizeof roles[0] };
  soak_shared sh = {.port = port};
  pthread_mutex_init(&sh.lock, NULL);
  static soak_client clients[N];
  for (int i = 0; i < N; i++) {
    soak_client *c = &clients[i];
    memset(c, 0, sizeof *c);
    *c = (soak_client){.sh = &sh, .cfg = cfg, .role = roles[i], .index = i, .curl = curl_easy_init()};
    c->headers = curl_slist_append(NULL, "Authorization: Bearer " SOAK_TOKEN);
    c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
    c->headers = curl_slist_append(c->headers, "Expect:");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
    for (int k = 0; k < OP_COUNT; k++) bench_hist_init(&c->win.op[k]);
    bench_hist_init(&c->win.all);
  }
  printf("soak: server pid %ld on 127.0.0.1:%d, database in %s; %d clients (2 submit, 1 batch of "
         "%d, 3 review, 1 read <= 500/s, 1 admin <= 20/s), think %ld us, %.0f s\n",
         (long)pid, port, dir, N, SOAK_BATCH, cfg->think_us, cfg->duration_s);
  printf("%7s %9s %8s %8s %8s %8s %8s %8s %7s %9s %8s\n", "t_s", "req/s", "p50_ms", "p99_ms",
         "sub_p99", "clm_p99", "rsp_p99", "get_p99", "errors", "rss_kb", "wal_kb");
  for (int i = 0; i < N; i++) pthread_create(&clients[i].thread, NULL, client_main, &clients[i]);

  int64_t start = hitl_mono_us(), last = start;
  long rss_first = -1, rss_last = -1, rss_min = -1, rss_max = -1;
  soak_window total;
  memset(&total, 0, sizeof total);
  bench_hist_init(&total.all);
  for (int k = 0; k < OP_COUNT; k++) bench_hist_init(&total.op[k]);
  int rows = 0, stalls = 0;
  while ((double)(hitl_mono_us() - start) / 1e6 < cfg->duration_s) {
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    int64_t now = hitl_mono_us();
    if ((double)(now - last) / 1e6 < cfg->interval_s &&
        (double)(now - start) / 1e6 < cfg->duration_s)
      continue;
    soak_window w;
    memset(&w, 0, sizeof w);
    bench_hist_init(&w.all);
    for (int k = 0; k < OP_COUNT; k++) bench_hist_init(&w.op[k]);
    pthread_mutex_lock(&sh.lock);
    for (int i = 0; i < N; i++) {
      bench_hist_merge(&w.all, &clients[i].win.all);
      for (int k = 0; k < OP_COUNT; k++) bench_hist_merge(&w.op[k], &clients[i].win.op[k]);
      w.errors += clients[i].win.errors;
      bench_hist_init(&clients[i].win.all);
      for (int k = 0; k < OP_COUNT; k++) bench_hist_init(&clients[i].win.op[k]);
      clients[i].win.errors = 0;
    }
    pthread_mutex_unlock(&sh.lock);
    long rss = status_kb(pid, "VmRSS:");
    print_row((double)(now - start) / 1e6, &w, (double)(now - last) / 1e6, rss,
              file_kb(dir, "hitl.db-wal"));
    /* An interval without a submit or an answer is a stall, not a quiet moment. */
    if (w.op[OP_SUBMIT].count + w.op[OP_BATCH].count == 0 || w.op[OP_RESPOND].count == 0) stalls++;
    /* The first interval warms the caches up: the drift is measured from the second on. */
    if (rows++ == 1) rss_first = rss;
    if (rows > 1) {
      rss_last = rss;
      if (rss_min < 0 || rss < rss_min) rss_min = rss;
      if (rss > rss_max) rss_max = rss;
    }
    bench_hist_merge(&total.all, &w.all);
    for (int k = 0; k < OP_COUNT; k++) bench_hist_merge(&total.op[k], &w.op[k]);
    total.errors += w.errors;
    last = now;
  }
  atomic_store(&sh.stop, true);
  for (int i = 0; i < N; i++) pthread_join(clients[i].thread, NULL);
  double secs = (double)(hitl_mono_us() - start) / 1e6;
  long hwm = status_kb(pid, "VmHWM:");
  printf("soak: %.0f s, %" PRIu64 " requests (%.0f/s), %" PRIu64 " unexpected answers; "
         "p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.1f ms\n",
         secs, total.all.count, (double)total.all.count / secs, total.errors,
         bench_hist_percentile(&total.all, 50) / 1000.0,
         bench_hist_percentile(&total.all, 99) / 1000.0,
         bench_hist_percentile(&total.all, 99.9) / 1000.0, (double)total.all.max / 1000.0);
  for (int k = 0; k < OP_COUNT; k++)
    if (total.op[k].count)
      printf("soak:   %-9s %9" PRIu64 " p50 %6.2f ms  p99 %6.2f ms\n", op_names[k],
             total.op[k].count, bench_hist_percentile(&total.op[k], 50) / 1000.0,
             bench_hist_percentile(&total.op[k], 99) / 1000.0);
  printf("soak: server RSS from the second interval on: first %ld KiB, last %ld KiB, min %ld, "
         "max %ld (peak VmHWM %ld KiB); database %ld KiB, WAL %ld KiB; %ld tasks submitted for "
         "review\n",
         rss_first, rss_last, rss_min, rss_max, hwm, file_kb(dir, "hitl.db"),
         file_kb(dir, "hitl.db-wal"), atomic_load(&sh.submitted));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  for (int i = 0; i < N; i++) {
    curl_slist_free_all(clients[i].headers);
    curl_easy_cleanup(clients[i].curl);
    free(clients[i].body);
  }
  pthread_mutex_destroy(&sh.lock);
  if (tmp[0]) {
    static const char *const files[] = {"hitl.db", "hitl.db-wal", "hitl.db-shm", "server.log"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
      char p[512];
      snprintf(p, sizeof p, "%s/%s", tmp, files[i]);
      unlink(p);
    }
    rmdir(tmp);
  }
  bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!clean) fprintf(stderr, "soak: the server did not stop cleanly (status %d)\n", status);
  if (stalls) fprintf(stderr, "soak: %d intervals without a submit or an answer\n", stalls);
  return total.errors == 0 && clean && stalls == 0 ? 0 : 1;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: bench_soak --bin PATH [--duration S] [--interval S] [--think-us N] [--dir DIR]\n"
          "  --bin PATH      the hitl binary; a server is started on 127.0.0.1 and a free port\n"
          "  --duration S    seconds of load (default 600)\n"
          "  --interval S    seconds between report lines (default 30)\n"
          "  --think-us N    each client's pause between requests (default 0)\n"
          "  --dir DIR       where the database goes (default a new temporary directory, removed)\n"
          "Every line: requests/s, p50 and p99 of all answers, p99 of submit, claim, respond and\n"
          "reads, unexpected answers, server RSS (VmRSS of /proc/PID/status) and WAL size.\n"
          "Exit status 1 when an answer was unexpected, an interval had no submit or no answer,\n"
          "or the server did not stop cleanly.\n");
}

int main(int argc, char **argv) {
  soak_config cfg = {.duration_s = 600, .interval_s = 30};
  /* Every option but --help takes a value: the loop steps over both. */
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      usage(stdout);
      return 0;
    }
    if (v == NULL) {
      usage(stderr);
      return 2;
    }
    if (strcmp(a, "--bin") == 0) cfg.bin = v;
    else if (strcmp(a, "--duration") == 0) cfg.duration_s = atof(v);
    else if (strcmp(a, "--interval") == 0) cfg.interval_s = atof(v);
    else if (strcmp(a, "--think-us") == 0) cfg.think_us = atol(v);
    else if (strcmp(a, "--dir") == 0) cfg.dir = v;
    else {
      usage(stderr);
      return 2;
    }
  }
  if (cfg.bin == NULL || cfg.duration_s <= 0 || cfg.interval_s <= 0 || cfg.think_us < 0) {
    usage(stderr);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int rc = soak_main(&cfg);
  curl_global_cleanup();
  return rc;
}
