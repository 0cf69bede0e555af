/* SPDX-License-Identifier: MIT */
/* Agent runs under load: N live runs heartbeating every P seconds against a fresh `hitl serve`,
 * and what that costs the server in CPU (its utime + stime from /proc), idle and under the load. */
#include <curl/curl.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ADMIN "bench-admin-token-0123456789abcdef0123456789"
#define MAX_CONNECTIONS 512

typedef struct config {
  int runs;          /* Live runs. */
  double period;     /* Seconds between two heartbeats of one run. */
  double duration;   /* Seconds measured under load. */
  double idle;       /* Seconds measured with the runs alive and no heartbeats. */
  int connections;   /* Concurrent requests at most. */
  const char *bin;   /* The hitl binary. */
  const char *log_level;
  const char *threads; /* serve --threads. */
  bool reference;      /* Also measure GET /healthz at the same rate: the HTTP floor. */
} config;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The server's CPU time so far (user + system), in seconds; -1 when unreadable. *sys (when not
 * NULL) gets the system part. */
static double cpu_split(pid_t pid, double *sys) {
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* The command name may hold spaces: fields count from after it. */
  if (p == NULL) return -1;
  unsigned long utime = 0, stime = 0;
  /* Fields 3.. after the name: state, ppid, ..., utime is field 14, stime 15. */
  if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
    return -1;
  double tick = (double)sysconf(_SC_CLK_TCK);
  if (sys) *sys = (double)stime / tick;
  return (double)(utime + stime) / tick;
}

static double cpu_seconds(pid_t pid) { return cpu_split(pid, NULL); }

/* Starts `hitl serve` on 127.0.0.1 with a new database in dir; sets *port. */
static pid_t start_server(const config *c, const char *dir, int *port) {
  int out[2];
  if (pipe(out) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    char db[600];
    snprintf(db, sizeof db, "%s/hitl.db", dir);
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    FILE *devnull = freopen("/dev/null", "w", stderr); /* The request log. */
    (void)devnull;
    setenv("HITL_ADMIN_TOKEN", ADMIN, 1);
    execl(c->bin, c->bin, "serve", "--db", db, "--listen", "127.0.0.1:0", "--log-level",
          c->log_level, "--rate-limit", "0",
          /* The agents are many machines; here they are one address. */
          "--max-connections-per-address", "1024", "--threads", c->threads, (char *)NULL);
    _exit(127);
  }
  close(out[1]);
  FILE *f = fdopen(out[0], "r");
  char line[512] = "";
  if (f == NULL || fgets(line, sizeof line, f) == NULL) return -1;
  char *at = strstr(line, "127.0.0.1:");
  *port = at ? atoi(at + 10) : 0;
  /* Keep the pipe open (a closed stdout would fail the server's later writes). */
  return *port > 0 ? pid : -1;
}

/* One request's buffers. */
typedef struct call {
  CURL *h;
  char url[256];
  char *body;           /* Request body (borrowed). */
  char resp[1024];
  size_t resp_len;
  double sent_at;
  bool busy;
} call;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  call *c = ud;
  size_t k = size * n, room = sizeof c->resp - 1 - c->resp_len;
  size_t take = k < room ? k : room;
  memcpy(c->resp + c->resp_len, p, take);
  c->resp_len += take;
  c->resp[c->resp_len] = '\0';
  return k;
}

static struct curl_slist *auth_headers(const char *token) {
  char h[256];
  snprintf(h, sizeof h, "Authorization: Bearer %s", token);
  struct curl_slist *l = curl_slist_append(NULL, h);
  l = curl_slist_append(l, "Content-Type: application/json");
  return curl_slist_append(l, "Expect:");
}

/* One blocking request; returns the status, *out (when not NULL) the body. */
static long request(int port, const char *token, const char *method, const char *path,
                    const char *body, char *out, size_t out_size) {
  call c = {0};
  c.h = curl_easy_init();
  snprintf(c.url, sizeof c.url, "http://127.0.0.1:%d%s", port, path);
  struct curl_slist *hs = auth_headers(token);
  curl_easy_setopt(c.h, CURLOPT_URL, c.url);
  curl_easy_setopt(c.h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &c);
  if (body) curl_easy_setopt(c.h, CURLOPT_POSTFIELDS, body);
  long status = 0;
  if (curl_easy_perform(c.h) == CURLE_OK) curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &status);
  if (out) snprintf(out, out_size, "%s", c.resp);
  curl_slist_free_all(hs);
  curl_easy_cleanup(c.h);
  return status;
}

/* Reads the string member key of a flat JSON text into out (no escapes in ids and tokens). */
static bool json_str(const char *json, const char *key, char *out, size_t n) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\":\"", key);
  const char *p = strstr(json, pat);
  if (p == NULL) return false;
  p += strlen(pat);
  size_t len = strcspn(p, "\"");
  if (len >= n) return false;
  memcpy(out, p, len);
  out[len] = '\0';
  return true;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The load: `total` requests of path_of(i) (POST with body), paced evenly at rate per second
 * (0: as fast as the connections allow). Fills latencies (ms, `total` of them) and counts
 * answers other than want in *bad. When ids_out is not NULL, stores each answer's "id". */
typedef struct load {
  int port;
  const char *token;
  int connections;
  long want;
  double rate;
  char (*ids)[40];      /* Run ids, for heartbeats; or NULL. */
  int n_ids;
  char (*ids_out)[40];  /* Registration: the ids answered. */
  const char *body;
  bool healthz;         /* GET /healthz instead (the reference). */
} load;

static void url_of(const load *l, long i, char *url, size_t n) {
  if (l->healthz)
    snprintf(url, n, "http://127.0.0.1:%d/healthz", l->port);
  else if (l->ids_out)
    snprintf(url, n, "http://127.0.0.1:%d/v1/runs", l->port);
  else
    snprintf(url, n, "http://127.0.0.1:%d/v1/runs/%s/heartbeat", l->port, l->ids[i % l->n_ids]);
}

static long run_load(const load *l, long total, double *lat, long *bad) {
  CURLM *m = curl_multi_init();
  curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)l->connections);
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)l->connections);
  struct curl_slist *hs = auth_headers(l->token);
  call *calls = calloc((size_t)l->connections, sizeof *calls);
  long *which = calloc((size_t)l->connections, sizeof *which);
  for (int i = 0; i < l->connections; i++) {
    calls[i].h = curl_easy_init();
    curl_easy_setopt(calls[i].h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(calls[i].h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(calls[i].h, CURLOPT_WRITEDATA, &calls[i]);
    curl_easy_setopt(calls[i].h, CURLOPT_PRIVATE, &calls[i]);
    if (l->healthz)
      curl_easy_setopt(calls[i].h, CURLOPT_HTTPGET, 1L);
    else
      curl_easy_setopt(calls[i].h, CURLOPT_POSTFIELDS, l->body ? l->body : "");
    curl_easy_setopt(calls[i].h, CURLOPT_NOSIGNAL, 1L);
  }
  long issued = 0, done = 0;
  *bad = 0;
  double t0 = now_s();
  while (done < total) {
    long due = l->rate > 0 ? (long)((now_s() - t0) * l->rate) + 1 : total;
    if (due > total) due = total;
    for (int i = 0; i < l->connections && issued < due; i++) {
      if (calls[i].busy) continue;
      call *c = &calls[i];
      url_of(l, issued, c->url, sizeof c->url);
      curl_easy_setopt(c->h, CURLOPT_URL, c->url);
      c->resp_len = 0;
      c->resp[0] = '\0';
      c->sent_at = now_s();
      c->busy = true;
      which[i] = issued++;
      curl_multi_add_handle(m, c->h);
    }
    int running = 0;
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      call *c = NULL;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
      long status = 0;
      curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
      long idx = which[c - calls];
      lat[idx] = (now_s() - c->sent_at) * 1000;
      if (status != l->want) {
        if ((*bad)++ == 0) fprintf(stderr, "unexpected answer %ld: %s\n", status, c->resp);
      } else if (l->ids_out) {
        json_str(c->resp, "id", l->ids_out[idx], sizeof l->ids_out[idx]);
      }
      curl_multi_remove_handle(m, c->h);
      c->busy = false;
      done++;
    }
    curl_multi_poll(m, NULL, 0, 1, NULL);
  }
  for (int i = 0; i < l->connections; i++) curl_easy_cleanup(calls[i].h);
  free(calls);
  free(which);
  curl_slist_free_all(hs);
  curl_multi_cleanup(m);
  return done;
}

static void usage(FILE *f) {
  fprintf(f, "usage: bench_runs [--runs N] [--period S] [--duration S] [--idle S] "
             "[--connections C] [--log-level L] [--threads N] [--reference 0|1] [--bin PATH]\n"
             "  Starts `hitl serve` (HITL_BIN or --bin) on 127.0.0.1 with a new database, registers\n"
             "  N runs (default 10000, heartbeat_seconds 6 x period), measures the server's CPU\n"
             "  with the runs alive and idle, then with each run heartbeating every period\n"
             "  (default 10 s) for duration (default 30 s), and stops the server by its PID.\n");
}

int main(int argc, char **argv) {
  config c = {.runs = 10000, .period = 10, .duration = 30, .idle = 10, .connections = 256,
              .bin = getenv("HITL_BIN"), .log_level = "info", .threads = "2"};
  /* Every option but --help takes a value: the loop steps over both. */
  for (int i = 1; i < argc; i += 2) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0) { usage(stdout); return 0; }
    if (v == NULL) { usage(stderr); return 2; }
    if (strcmp(a, "--runs") == 0) c.runs = atoi(v);
    else if (strcmp(a, "--period") == 0) c.period = atof(v);
    else if (strcmp(a, "--duration") == 0) c.duration = atof(v);
    else if (strcmp(a, "--idle") == 0) c.idle = atof(v);
    else if (strcmp(a, "--connections") == 0) c.connections = atoi(v);
    else if (strcmp(a, "--log-level") == 0) c.log_level = v;
    else if (strcmp(a, "--threads") == 0) c.threads = v;
    else if (strcmp(a, "--reference") == 0) c.reference = strcmp(v, "0") != 0;
    else if (strcmp(a, "--bin") == 0) c.bin = v;
    else { usage(stderr); return 2; }
  }
  if (c.bin == NULL || c.runs < 1 || c.period <= 0 || c.duration <= 0 || c.connections < 1 ||
      c.connections > MAX_CONNECTIONS) {
    usage(stderr);
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0); /* Lines as they come, also into a pipe. */
  curl_global_init(CURL_GLOBAL_DEFAULT);
  char dir[] = "/tmp/hitl-bench-runs-XXXXXX";
  if (mkdtemp(dir) == NULL) return 1;
  int port = 0, rc = 1;
  pid_t pid = start_server(&c, dir, &port);
  if (pid <= 0) {
    fprintf(stderr, "bench_runs: hitl serve did not start\n");
    return 1;
  }
  printf("server pid=%d port=%d log-level=%s threads=%s\n", (int)pid, port, c.log_level,
         c.threads);
  char resp[1024], token[128];
  if (request(port, ADMIN, "POST", "/v1/tokens", "{\"name\":\"bench-agent\",\"roles\":[\"agent\"]}",
              resp, sizeof resp) != 201 || !json_str(resp, "token", token, sizeof token)) {
    fprintf(stderr, "bench_runs: cannot make a token: %s\n", resp);
    goto out;
  }
  char (*ids)[40] = calloc((size_t)c.runs, sizeof *ids);
  double *lat = calloc((size_t)(c.runs + c.runs / c.period * (c.duration + c.period) + 16),
                       sizeof *lat);
  char body[128];
  snprintf(body, sizeof body, "{\"agent\":\"bench\",\"goal\":\"keep alive\",\"heartbeat_seconds\":%d}",
           (int)(6 * c.period + 0.5)); /* Room for a slow registration: none is lost. */
  long bad = 0;
  double t0 = now_s();
  load reg = {.port = port, .token = token, .connections = c.connections, .want = 201,
              .ids_out = ids, .body = body};
  run_load(&reg, c.runs, lat, &bad);
  printf("registered %d runs in %.1f s (%ld failed)\n", c.runs, now_s() - t0, bad);
  if (bad) goto out;

  /* Idle: every run alive (due in 3 periods), no request: the sweeper's own cost. */
  double idle_cpu0 = cpu_seconds(pid), idle_t0 = now_s();
  struct timespec nap = {.tv_sec = (time_t)c.idle, .tv_nsec = (long)((c.idle - (double)(time_t)c.idle) * 1e9)};
  nanosleep(&nap, NULL);
  double idle_pct = (cpu_seconds(pid) - idle_cpu0) / (now_s() - idle_t0) * 100;
  printf("idle with %d live runs: server CPU %.2f%% of one core\n", c.runs, idle_pct);

  /* Under load: each run heartbeats once per period, evenly spread. */
  double rate = c.runs / c.period;
  long total = (long)(rate * c.duration);
  load hb = {.port = port, .token = token, .connections = c.connections, .want = 200,
             .rate = rate, .ids = ids, .n_ids = c.runs};
  double sys0, sys1, cpu0 = cpu_split(pid, &sys0), l0 = now_s();
  run_load(&hb, total, lat, &bad);
  double wall = now_s() - l0, cpu = cpu_split(pid, &sys1) - cpu0;
  double sys_pct = (sys1 - sys0) / wall * 100;
  qsort(lat, (size_t)total, sizeof *lat, cmp_double);
  double pct = cpu / wall * 100, p50 = lat[total / 2], p99 = lat[(long)(total * 0.99)];
  printf("heartbeats: %ld in %.1f s (%.0f/s, target %.0f/s), %ld failed; p50 %.2f ms, p99 %.2f ms\n",
         total, wall, total / wall, rate, bad, p50, p99);
  printf("server CPU under load: %.2f s of %.1f s = %.2f%% of one core (target under 5%%), "
         "%.2f%% of it in the kernel\n", cpu, wall, pct, sys_pct);
  double ref_pct = -1;
  if (c.reference) {
    /* The floor: the same rate of the cheapest request there is, on the same connections. */
    load ref = {.port = port, .token = token, .connections = c.connections, .want = 200,
                .rate = rate, .healthz = true};
    double rs0, rs1, r0 = cpu_split(pid, &rs0), rt = now_s();
    long rbad = 0;
    run_load(&ref, total, lat, &rbad);
    double rwall = now_s() - rt;
    ref_pct = (cpu_split(pid, &rs1) - r0) / rwall * 100;
    printf("reference, GET /healthz at the same rate: server CPU %.2f%% of one core, %.2f%% of it "
           "in the kernel\n", ref_pct, (rs1 - rs0) / rwall * 100);
  }
  long lost_status = request(port, token, "GET", "/v1/runs?state=lost&limit=1", NULL, resp, sizeof resp);
  bool none_lost = lost_status == 200 && strstr(resp, "\"runs\":[]") != NULL;
  printf("runs lost: %s\n", none_lost ? "none" : resp);
  printf("{\"runs\":%d,\"period_s\":%g,\"heartbeats\":%ld,\"heartbeats_per_s\":%.1f,\"failed\":%ld,"
         "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"server_cpu_pct\":%.3f,\"idle_cpu_pct\":%.3f,"
         "\"healthz_cpu_pct\":%.3f,\"none_lost\":%s}\n",
         c.runs, c.period, total, total / wall, bad, p50, p99, pct,
         idle_pct, ref_pct, none_lost ? "true" : "false");
  rc = bad == 0 && none_lost ? 0 : 1;
  free(ids);
  free(lat);
out:
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bench_runs: could not remove %s\n", dir);
  curl_global_cleanup();
  return rc;
}
