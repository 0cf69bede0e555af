/* SPDX-License-Identifier: MIT */
/* API test: what one client may hold: connections per address, in all, before their headers
 * arrive; requests per second and waiting requests per token. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define BOUND_MS 5000 /* The longest any condition below is waited for. */

static test_server srv;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int teardown(void **state) {
  (void)state;
  ts_cleanup(&srv);
  return 0;
}

/* A TCP connection to the server from the loopback address source ("127.0.0.2"), sending nothing. */
static int connect_from(const char *source) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in local = {.sin_family = AF_INET};
  assert_int_equal(inet_pton(AF_INET, source, &local.sin_addr), 1);
  assert_int_equal(bind(fd, (struct sockaddr *)&local, sizeof local), 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)srv.port)};
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
  return fd;
}

static void send_all(int fd, const char *s) {
  size_t n = strlen(s);
  assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads what the server sends on fd into out (NUL-terminated; may be NULL) until it closes the
 * connection, at most ms. Each time nothing came for every_ms, sends drip (unless NULL): a client
 * that trickles bytes. Returns the milliseconds until the close, or -1 when fd stayed open. */
static int64_t wait_closed(int fd, int64_t ms, int every_ms, const char *drip, char *out,
                           size_t cap) {
  int64_t start = now_ms();
  size_t len = 0;
  if (out) out[0] = '\0';
  while (now_ms() - start < ms) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, every_ms);
    if (r == 0) {
      if (drip && send(fd, drip, strlen(drip), MSG_NOSIGNAL) < 0) return now_ms() - start;
      continue;
    }
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return now_ms() - start; /* End of stream or reset. */
    if (out && len + (size_t)n < cap) {
      memcpy(out + len, buf, (size_t)n);
      len += (size_t)n;
      out[len] = '\0';
    }
  }
  return -1;
}

/* True when fd is still open with nothing to read (the server has not closed it). */
static bool still_open(int fd) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, 0) == 0;
}

/* Sends a GET from the loopback address source with token (may be NULL); returns the status, 0
 * when the connection failed. headers (may be NULL) receives the answer's header lines. */
static long get_from(const char *source, const char *path, const char *token, char **headers) {
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", srv.port, path);
  return tr_get_url(url, source, token, NULL, NULL, headers);
}

/* Repeats get_from until it answers want, at most BOUND_MS; returns the last status. */
static long get_until(const char *source, const char *path, const char *token, long want) {
  int64_t start = now_ms();
  long st;
  while ((st = get_from(source, path, token, NULL)) != want && now_ms() - start < BOUND_MS)
    poll(NULL, 0, 20);
  return st;
}

/* The value of the sample series (name and labels, as written) of GET /metrics; -1 when absent. */
static long long metric(const char *series) {
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/metrics", ADMIN_TOKEN, NULL, &r), 200);
  char line[160];
  snprintf(line, sizeof line, "\n%s ", series); /* A sample line, not the HELP comment. */
  const char *at = strstr(r.body, line);
  long long v = at ? atoll(at + strlen(line)) : -1;
  tr_free(&r);
  return v;
}

/* Opens an event stream for token on a raw socket; returns the socket once the server answered,
 * and the status it answered with in *status. */
static int open_stream(const char *token, int *status) {
  int fd = connect_from("127.0.0.1");
  char req[512];
  snprintf(req, sizeof req,
           "GET /v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", token);
  send_all(fd, req);
  char got[2048] = "";
  size_t len = 0;
  int64_t start = now_ms();
  *status = 0;
  while (now_ms() - start < BOUND_MS && !strstr(got, "\r\n\r\n")) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = recv(fd, got + len, sizeof got - 1 - len, 0);
    if (n <= 0) break;
    len += (size_t)n;
    got[len] = '\0';
  }
  if (strncmp(got, "HTTP/1.1 ", 9) == 0) *status = atoi(got + 9);
  return fd;
}

/* An address may hold only so many connections, waiting ones included; clients on other addresses
 * are served meanwhile, and so is /healthz. */
static void test_per_address_cap(void **state) {
  (void)state;
  const char *args[] = {"--max-connections-per-address", "8", "--header-timeout-ms", "60000", NULL};
  ts_start(&srv, args);
  char *agent = ts_token(&srv, "agent-1", "agent");
  int idle[8];
  for (int i = 0; i < 8; i++) idle[i] = connect_from("127.0.0.5");
  /* The ninth from the same address is closed at once, without an answer. */
  int extra = connect_from("127.0.0.5");
  char got[256];
  assert_true(wait_closed(extra, BOUND_MS, 100, NULL, got, sizeof got) >= 0);
  assert_string_equal(got, "");
  close(extra);
  for (int i = 0; i < 8; i++) assert_true(still_open(idle[i]));
  assert_int_equal(metric("hitl_http_connections_closed_total{reason=\"limit\"}"), 1);
  /* Others are served while the eight stay open. */
  assert_int_equal(get_from("127.0.0.2", "/v1/me", agent, NULL), 200);
  assert_int_equal(get_from("127.0.0.3", "/healthz", NULL, NULL), 200);
  assert_int_equal(get_from("127.0.0.1", "/healthz", NULL, NULL), 200);
  /* Closing one gives the address its place back. */
  close(idle[0]);
  assert_int_equal(get_until("127.0.0.5", "/healthz", NULL, 200), 200);
  for (int i = 1; i < 8; i++) close(idle[i]);
  free(agent);
}

/* Request headers must be complete within the deadline from accept: bytes that trickle in do not
 * move it (libmicrohttpd's own timeout restarts on each byte); a kept-alive connection gets the
 * same deadline for its next request. */
static void test_header_deadline(void **state) {
  (void)state;
  const char *args[] = {"--header-timeout-ms", "500", NULL};
  ts_start(&srv, args);
  int slow = connect_from("127.0.0.1");
  send_all(slow, "GET /healthz HTTP/1.1\r\n");
  char got[1024];
  int64_t ms = wait_closed(slow, BOUND_MS, 100, "X", got, sizeof got);
  assert_true(ms >= 0);     /* Closed, though a byte came every 100 ms... */
  assert_true(ms >= 300);   /* ...and not before the deadline. */
  assert_string_equal(got, "");
  close(slow);
  assert_true(metric("hitl_http_connections_closed_total{reason=\"header_timeout\"}") >= 1);

  /* Headers in time: served; then the kept-alive connection idles and is closed. */
  int fast = connect_from("127.0.0.1");
  send_all(fast, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  assert_true(wait_closed(fast, BOUND_MS, 100, NULL, got, sizeof got) >= 0);
  assert_non_null(strstr(got, "HTTP/1.1 200"));
  assert_non_null(strstr(got, "{\"status\":\"ok\"}"));
  close(fast);
}

/* Idle sockets from many places cannot take the last connections: past the reserve, a new
 * connection closes the oldest that has sent nothing yet. */
static void test_idle_evicted(void **state) {
  (void)state;
  const char *args[] = {"--max-connections", "20", "--max-connections-per-address", "0",
                        "--header-timeout-ms", "60000", NULL};
  ts_start(&srv, args);
  char *agent = ts_token(&srv, "agent-1", "agent");
  enum { IDLE = 40 };
  int idle[IDLE];
  for (int i = 0; i < IDLE; i++) {
    char source[32];
    snprintf(source, sizeof source, "127.0.1.%d", 1 + i);
    idle[i] = connect_from(source);
  }
  /* The first ones made room for the later ones, and then for these. */
  assert_true(wait_closed(idle[0], BOUND_MS, 100, NULL, NULL, 0) >= 0);
  assert_true(still_open(idle[IDLE - 1]));
  assert_int_equal(get_until("127.0.0.2", "/healthz", NULL, 200), 200);
  assert_int_equal(get_until("127.0.0.3", "/v1/me", agent, 200), 200);
  assert_true(metric("hitl_http_connections_closed_total{reason=\"reserve\"}") >= IDLE / 2);
  for (int i = 0; i < IDLE; i++) close(idle[i]);
  free(agent);
}

/* With the connections up to the reserve busy (event streams), only /healthz, /metrics and
 * authenticated requests are served; the others get 503 and their connection is closed. */
static void test_reserve(void **state) {
  (void)state;
  const char *args[] = {"--max-connections", "20", "--max-connections-per-address", "0", NULL};
  ts_start(&srv, args);
  char *agent = ts_token(&srv, "agent-1", "agent");
  enum { BUSY = 18 }; /* 20 less the reserve, a tenth. */
  int busy[BUSY], status;
  for (int i = 0; i < BUSY; i++) {
    busy[i] = open_stream(ADMIN_TOKEN, &status);
    assert_int_equal(status, 200);
  }
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/session", NULL, "{\"token\":\"x\"}", &r), 503);
  assert_string_equal(tj_str(&r, "error.code"), "unavailable");
  char *v = tr_header(&r, "Connection");
  assert_non_null(v);
  assert_string_equal(v, "close");
  free(v);
  v = tr_header(&r, "Retry-After");
  assert_non_null(v);
  assert_string_equal(v, "1");
  free(v);
  tr_free(&r);
  assert_int_equal(metric("hitl_http_limited_total{limit=\"reserve\"}"), 1);
  assert_int_equal(get_from("127.0.0.2", "/metrics", NULL, NULL), 200);
  char *headers = NULL;
  assert_true(metric("hitl_http_connections") >= BUSY);
  assert_int_equal(get_from("127.0.0.2", "/healthz", NULL, NULL), 200);
  assert_int_equal(get_from("127.0.0.3", "/v1/me", agent, NULL), 200);
  assert_int_equal(get_from("127.0.0.3", "/v1/me", "not-a-token", &headers), 401);
  assert_non_null(strstr(headers, "Connection: close"));
  free(headers);
  for (int i = 0; i < BUSY; i++) close(busy[i]);
  free(agent);
}

/* Each token has its bucket of requests per second: past it, 429 with Retry-After; other
 * tokens are not slowed, and the admin token is exempt. */
static void test_rate_limit(void **state) {
  (void)state;
  const char *args[] = {"--rate-limit", "5", NULL};
  ts_start(&srv, args);
  char *agent = ts_token(&srv, "agent-1", "agent");
  char *other = ts_token(&srv, "agent-2", "agent");
  test_resp r = {0};
  int ok = 0;
  long st = 0;
  for (int i = 0; i < 60 && (st = tr(&srv, "GET", "/v1/me", agent, NULL, &r)) == 200; i++) {
    ok++;
    tr_free(&r);
  }
  assert_int_equal(st, 429);
  assert_true(ok >= 5); /* The burst: one second's worth. */
  assert_string_equal(tj_str(&r, "error.code"), "rate_limited");
  assert_non_null(strstr(tj_str(&r, "error.message"), "5 requests per second"));
  char *retry = tr_header(&r, "Retry-After");
  assert_non_null(retry);
  assert_string_equal(retry, "1");
  free(retry);
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/me", other, NULL, &r), 200);
  tr_free(&r);
  assert_int_equal(metric("hitl_http_limited_total{limit=\"rate\"}"), 1);
  for (int i = 0; i < 30; i++) {
    assert_int_equal(tr(&srv, "GET", "/v1/me", ADMIN_TOKEN, NULL, &r), 200);
    tr_free(&r);
  }
  assert_int_equal(tr(&srv, "GET", "/healthz", NULL, NULL, &r), 200);
  tr_free(&r);
  /* The bucket refills. */
  int64_t start = now_ms();
  while ((st = tr(&srv, "GET", "/v1/me", agent, NULL, &r)) == 429 && now_ms() - start < BOUND_MS) {
    tr_free(&r);
    poll(NULL, 0, 50);
  }
  assert_int_equal(st, 200);
  tr_free(&r);
  free(agent);
  free(other);
}

/* Long-polls and event streams of one token are capped together; a closed one frees its slot. */
static void test_waits_per_token(void **state) {
  (void)state;
  const char *args[] = {"--max-waits-per-token", "2", NULL};
  ts_start(&srv, args);
  char *watcher = ts_token(&srv, "watcher", "orchestrator");
  char *agent = ts_token(&srv, "agent-1", "agent");
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/w", ADMIN_TOKEN, "{}", &r), 201);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/w/tasks", agent, "{\"input\":1}", &r), 201);
  assert_string_equal(tj_str(&r, "state"), "pending");
  char path[128], short_wait[128];
  snprintf(path, sizeof path, "/v1/tasks/%s?wait=30", tj_str(&r, "id"));
  snprintf(short_wait, sizeof short_wait, "/v1/tasks/%s?wait=1", tj_str(&r, "id"));
  tr_free(&r);

  int status;
  int first = open_stream(watcher, &status);
  assert_int_equal(status, 200);
  int second = open_stream(watcher, &status);
  assert_int_equal(status, 200);
  int third = open_stream(watcher, &status);
  assert_int_equal(status, 429);
  close(third);
  assert_int_equal(tr(&srv, "GET", path, watcher, NULL, &r), 429);
  assert_string_equal(tj_str(&r, "error.code"), "rate_limited");
  char *retry = tr_header(&r, "Retry-After");
  assert_non_null(retry);
  free(retry);
  tr_free(&r);
  assert_int_equal(metric("hitl_http_limited_total{limit=\"waits\"}"), 2);
  /* Requests that do not wait are served, and so are other tokens' waits. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues", watcher, NULL, &r), 200);
  tr_free(&r);
  int admin = open_stream(ADMIN_TOKEN, &status);
  assert_int_equal(status, 200);
  close(admin);
  /* Closing a stream gives its slot back, once the server learns of the close: a suspended
   * stream learns it when it next writes (an event, or the heartbeat), so events are made. */
  close(first);
  int64_t start = now_ms();
  int again;
  for (;;) {
    assert_int_equal(tr(&srv, "POST", "/v1/queues/w/tasks", agent, "{\"input\":2}", &r), 201);
    tr_free(&r);
    again = open_stream(watcher, &status);
    if (status == 200 || now_ms() - start > BOUND_MS) break;
    close(again);
    poll(NULL, 0, 20);
  }
  assert_int_equal(status, 200);
  close(again);
  close(second);
  /* A long-poll that ends gives its slot back: three in a row, with room for two. */
  for (int i = 0; i < 3; i++) {
    assert_int_equal(tr(&srv, "GET", short_wait, agent, NULL, &r), 200);
    assert_string_equal(tj_str(&r, "state"), "pending");
    tr_free(&r);
  }
  free(watcher);
  free(agent);
}

/* Bad values of the options are refused at start. */
static void test_bad_options(void **state) {
  (void)state;
  const char *bin = getenv("HITL_BIN");
  assert_non_null(bin);
  const char *cases[][2] = {{"--rate-limit", "-1"},        {"--rate-limit", "x"},
                            {"--max-connections", "3"},    {"--header-timeout-ms", "5"},
                            {"--max-waits-per-token", ""}, {"--tls-cert", "/nonexistent"},
                            {"--max-connections-per-address", "1e3"}, {"--writers", "0"},
                            {"--writers", "9"}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "'%s' serve --listen 127.0.0.1:0 --db /nonexistent/db %s '%s' "
             ">/dev/null 2>&1", bin, cases[i][0], cases[i][1]);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 2);
  }
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  signal(SIGPIPE, SIG_IGN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_per_address_cap, teardown),
      cmocka_unit_test_teardown(test_header_deadline, teardown),
      cmocka_unit_test_teardown(test_idle_evicted, teardown),
      cmocka_unit_test_teardown(test_reserve, teardown),
      cmocka_unit_test_teardown(test_rate_limit, teardown),
      cmocka_unit_test_teardown(test_waits_per_token, teardown),
      cmocka_unit_test(test_bad_options),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
