/* SPDX-License-Identifier: MIT */
/* API tests of the HTTP front: refusals on the headers before any body is read, request framing
 * (RFC 9112), Host, NUL and control bytes, HEAD, and escaped log lines. Raw bytes over a socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

#define WAIT_MS 5000 /* Bound on every answer; the old behaviour was no answer for 120 s. */
#define BATCH "/v1/queues/front/tasks/batch"
#define MIB (1024 * 1024)

static test_server srv;
static char *agent, *reviewer;

static int setup(void **state) {
  (void)state;
  ts_start(&srv, NULL);
  agent = ts_token(&srv, "ava", "agent");
  reviewer = ts_token(&srv, "rita", "validator");
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/front", ADMIN_TOKEN, "{}", &r), 201);
  tr_free(&r);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ts_cleanup(&srv);
  free(agent);
  free(reviewer);
  return 0;
}

/* Sends text (a request's head, maybe a partial body) and checks that the answer has status and
 * that the server closed the connection: all within WAIT_MS, the rest of any body unsent. */
static void expect_refused(const char *text, int status) {
  raw_resp r;
  raw_exchange(&srv, text, strlen(text), WAIT_MS, &r);
  if (r.status != status || !r.closed)
    fail_msg("sent:\n%s\nwanted %d and a close; got %d%s after %ld ms:\n%.300s", text, status,
             r.status, r.closed ? " closed" : " (connection kept open)", r.waited_ms, r.data);
  raw_free(&r);
}

static char *head_for(const char *method, const char *path, const char *token, const char *extra) {
  char *out = NULL;
  char auth[300] = "";
  if (token) snprintf(auth, sizeof auth, "Authorization: Bearer %s\r\n", token);
  assert_true(asprintf(&out, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s\r\n", method, path, auth,
                       extra ? extra : "") > 0);
  return out;
}

/* ---- 1. bodies are not read before the caller and the route are known ---- */

/* Sends only the head of a request (the body it declares never follows) and checks the answer. */
static void expect_head_refused(const char *method, const char *path, const char *token,
                                const char *extra, int status) {
  char *h = head_for(method, path, token, extra);
  expect_refused(h, status);
  free(h);
}

static void test_refused_on_headers(void **state) {
  (void)state;
  /* No token, 16 MiB declared on the batch route: 401 without one byte of the body. */
  expect_head_refused("POST", BATCH, NULL, "Content-Length: 16777216\r\n", 401);
  /* The same with Expect: the server does not invite the upload it refuses. */
  expect_head_refused("POST", BATCH, NULL, "Content-Length: 1000\r\nExpect: 100-continue\r\n", 401);
  /* A garbage token: 401 too. */
  expect_head_refused("POST", BATCH, "garbage", "Content-Length: 1000\r\n", 401);
  /* An unknown route, with "/tasks/batch" in it: 404 before the body. */
  expect_head_refused("POST", "/nope/tasks/batch", agent, "Content-Length: 16777216\r\n", 404);
  /* A known path with a method it lacks: 405 before the body. */
  expect_head_refused("PATCH", BATCH, agent, "Content-Length: 1000\r\n", 405);
  /* A token without the route's role: 403 before the body. */
  expect_head_refused("POST", BATCH, reviewer, "Content-Length: 1000\r\n", 403);
  /* Over the route's limit: 413 before the body. The large limit is the batch route's only. */
  expect_head_refused("POST", "/v1/queues/front/tasks", agent, "Content-Length: 2000000\r\n", 413);
  expect_head_refused("POST", BATCH, agent, "Content-Length: 17000000\r\n", 413);
  /* A route that takes no body refuses one. */
  expect_head_refused("GET", "/v1/queues", agent, "Content-Length: 10\r\n", 413);
  /* A chunked body without a token: 401 after the first chunk, not after the last. */
  char *h = head_for("POST", BATCH, NULL, "Transfer-Encoding: chunked\r\n");
  char *text = NULL;
  assert_true(asprintf(&text, "%s4\r\n[{}]\r\n", h) > 0);
  expect_refused(text, 401);
  free(text);
  free(h);
}

/* Reads VmHWM (peak resident set, KiB) of the server process. */
static long server_peak_kib(void) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)srv.pid);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  long kib = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) kib = atol(line + 6);
  fclose(f);
  assert_true(kib > 0);
  return kib;
}

/* The case: many unauthenticated uploads at once. Each is refused on its headers, so the
 * server's peak memory does not grow with what they send. */
static void test_unauthenticated_uploads_stay_small(void **state) {
  (void)state;
  enum { CONNS = 6, BODY = 16 * MIB };
  long before = server_peak_kib();
  int fds[CONNS];
  bool open[CONNS];
  char *h = head_for("POST", BATCH, NULL, "Content-Length: 16777216\r\n");
  for (int i = 0; i < CONNS; i++) {
    fds[i] = raw_connect(&srv);
    open[i] = raw_send(fds[i], h, strlen(h), WAIT_MS);
  }
  free(h);
  /* All but the last byte of every body, in turns, so that all are in flight together. */
  static char chunk[256 * 1024];
  memset(chunk, '[', sizeof chunk);
  for (size_t sent = 0; sent + sizeof chunk < BODY; sent += sizeof chunk)
    for (int i = 0; i < CONNS; i++)
      if (open[i]) open[i] = raw_send(fds[i], chunk, sizeof chunk, 2000);
  int answered = 0;
  for (int i = 0; i < CONNS; i++) {
    raw_resp r;
    raw_read(fds[i], WAIT_MS, 300, &r);
    if (r.status == 401) answered++;
    raw_free(&r);
    close(fds[i]);
  }
  long grew = server_peak_kib() - before;
  if (grew > 24 * 1024)
    fail_msg("the server's peak memory grew by %ld KiB for %d refused uploads", grew, CONNS);
  assert_int_equal(answered, CONNS);
}

/* An authenticated chunked body over the limit is dropped as it comes and answered 413. */
static void test_chunked_over_limit_not_kept(void **state) {
  (void)state;
  long before = server_peak_kib();
  char *h = head_for("POST", "/v1/queues/front/tasks", agent, "Transfer-Encoding: chunked\r\n");
  int fd = raw_connect(&srv);
  assert_true(raw_send(fd, h, strlen(h), WAIT_MS));
  free(h);
  static char chunk[1024 * 1024 + 16];
  int n = snprintf(chunk, sizeof chunk, "%x\r\n", 1024 * 1024);
  memset(chunk + n, '[', 1024 * 1024);
  memcpy(chunk + n + 1024 * 1024, "\r\n", 2);
  size_t len = (size_t)n + 1024 * 1024 + 2;
  for (int i = 0; i < 40; i++) assert_true(raw_send(fd, chunk, len, WAIT_MS));
  assert_true(raw_send(fd, "0\r\n\r\n", 5, WAIT_MS));
  raw_resp r;
  raw_read(fd, WAIT_MS, 300, &r);
  close(fd);
  assert_int_equal(r.status, 413);
  raw_free(&r);
  /* At most one limit's worth (1 MiB) was ever held, not the 40 MiB sent. */
  long grew = server_peak_kib() - before;
  if (grew > 24 * 1024) fail_msg("the server's peak memory grew by %ld KiB", grew);
}

/* ---- 6. framing, and 11: Host, NUL and control bytes ---- */

static void test_framing_refused(void **state) {
  (void)state;
  /* Each gets 400 and a close; hitl's own JSON error unless libmicrohttpd already refuses it. */
  static const struct {
    const char *what, *text;
    bool library;
  } cases[] = {
      {"Content-Length and Transfer-Encoding",
       "POST /v1/queues/front/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
      {"two Content-Length values",
       "POST /v1/queues/front/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
       "Content-Length: 5\r\n\r\n{}", false},
      {"a Content-Length that is not a number",
       "POST /v1/queues/front/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 2x\r\n\r\n{}", true},
      {"a space before the colon",
       "POST /v1/queues/front/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n"
       "Content-Length: 2\r\n\r\n{}", false},
      {"an unknown transfer coding",
       "POST /v1/queues/front/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"
       "2\r\n{}\r\n0\r\n\r\n", false},
      {"no Host in HTTP/1.1", "GET /healthz HTTP/1.1\r\n\r\n", false},
      {"two Authorization headers",
       "GET /v1/queues HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n",
       false},
      {"two Host headers", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", false},
      {"a control byte in a header value", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\001b\r\n\r\n", false},
      {"a control byte in the target", "GET /heal\033thz HTTP/1.1\r\nHost: x\r\n\r\n", false},
      {"a method that is not a token", "G\001T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", false},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    raw_resp r;
    raw_exchange(&srv, cases[i].text, strlen(cases[i].text), WAIT_MS, &r);
    if (r.status != 400 || !r.closed)
      fail_msg("%s: wanted 400 and a close; got %d%s after %ld ms: %.200s", cases[i].what,
               r.status, r.closed ? " closed" : " (kept open)", r.waited_ms, r.data);
    if (!cases[i].library && strstr(r.data, "\"validation_failed\"") == NULL)
      fail_msg("%s: not hitl's JSON error: %.300s", cases[i].what, r.data);
    raw_free(&r);
  }
}

static void test_raw_nul_in_path_refused(void **state) {
  (void)state;
  static const char text[] = "GET /healthz\0/../v1/tokens HTTP/1.1\r\nHost: x\r\n\r\n";
  raw_resp r;
  raw_exchange(&srv, text, sizeof text - 1, WAIT_MS, &r);
  if (r.status != 400) fail_msg("a raw NUL in the path: got %d: %.200s", r.status, r.data);
  assert_true(r.closed);
  raw_free(&r);
}

static void test_many_query_arguments_answered(void **state) {
  (void)state;
  size_t cap = 16384, len = 0;
  char *text = malloc(cap);
  len += (size_t)snprintf(text, cap, "GET /healthz?");
  for (int i = 0; i < 500; i++) len += (size_t)snprintf(text + len, cap - len, "%sa%d=1", i ? "&" : "", i);
  len += (size_t)snprintf(text + len, cap - len, " HTTP/1.1\r\nHost: x\r\n\r\n");
  raw_resp r;
  raw_exchange(&srv, text, len, WAIT_MS, &r);
  if (r.status != 400 || !r.closed)
    fail_msg("500 query arguments: got %d%s after %ld ms", r.status, r.closed ? " closed" : "",
             r.waited_ms);
  raw_free(&r);
  free(text);
  /* A handful is fine. */
  test_resp t;
  assert_int_equal(tr(&srv, "GET", "/healthz?a=1&b=2&c", NULL, NULL, &t), 200);
  tr_free(&t);
}

/* Well-formed requests keep the connection: two answers on one. */
static void test_keep_alive_still_works(void **state) {
  (void)state;
  static const char two[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  raw_resp r;
  raw_exchange(&srv, two, sizeof two - 1, WAIT_MS, &r);
  const char *second = strstr(r.data + 1, "HTTP/1.1 200");
  assert_int_equal(r.status, 200);
  assert_non_null(second);
  raw_free(&r);
  /* HTTP/1.0 needs no Host. */
  static const char old[] = "GET /healthz HTTP/1.0\r\n\r\n";
  raw_exchange(&srv, old, sizeof old - 1, WAIT_MS, &r);
  assert_int_equal(r.status, 200);
  raw_free(&r);
}

/* ---- HEAD ---- */

static void test_head(void **state) {
  (void)state;
  static const char *paths[] = {"/healthz", "/", "/assets/vendor/chart.min.js"};
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
    char text[256];
    snprintf(text, sizeof text, "HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", paths[i]);
    raw_resp r;
    raw_exchange(&srv, text, strlen(text), WAIT_MS, &r);
    if (r.status != 200) fail_msg("HEAD %s: got %d: %.200s", paths[i], r.status, r.data);
    const char *end = strstr(r.data, "\r\n\r\n");
    assert_non_null(end);
    assert_int_equal(strlen(end + 4), 0); /* Headers only. */
    assert_non_null(strcasestr(r.data, "Content-Length: "));
    raw_free(&r);
  }
  /* HEAD of an authenticated GET route needs the token as GET does. */
  static const char queues[] = "HEAD /v1/queues HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  raw_resp r;
  raw_exchange(&srv, queues, sizeof queues - 1, WAIT_MS, &r);
  assert_int_equal(r.status, 401);
  raw_free(&r);
  /* The Allow of a 405 names HEAD beside GET. */
  test_resp t;
  assert_int_equal(tr(&srv, "DELETE", "/healthz", NULL, NULL, &t), 405);
  char *allow = tr_header(&t, "Allow");
  assert_non_null(allow);
  assert_string_equal(allow, "GET, HEAD");
  free(allow);
  tr_free(&t);
}

/* ---- log lines ---- */

static void test_log_escaped(void **state) {
  (void)state;
  /* A method with an escape sequence and a quote: refused, and logged escaped. */
  static const char text[] = "G\033[31m\"T /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  raw_resp r;
  raw_exchange(&srv, text, sizeof text - 1, WAIT_MS, &r);
  assert_true(r.answered);
  raw_free(&r);
  /* The log line is written before the connection closes; wait (bounded) for it. */
  char path[320];
  snprintf(path, sizeof path, "%s/server.log", srv.dir);
  bool seen = false;
  for (int tries = 0; tries < 100 && !seen; tries++) {
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    while (fgets(line, sizeof line, f)) {
      for (const char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 && *p != '\n')
          fail_msg("a raw control byte reached the log: %s", line);
      if (strstr(line, "method=G\\x1b[31m\\\"T ")) seen = true;
    }
    fclose(f);
    if (!seen) usleep(20000);
  }
  assert_true(seen);
}

/* ?since= takes only dates that exist (the parser once carried Feb 30 into March). */
static void test_since_impossible_date(void **state) {
  (void)state;
  test_resp t;
  assert_int_equal(tr(&srv, "GET", "/v1/queues/front/export?since=2020-02-30T00:00:00Z",
                      ADMIN_TOKEN, NULL, &t), 400);
  assert_string_equal(tj_str(&t, "error.field"), "since");
  tr_free(&t);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/front/export?since=2020-02-29T00:00:00Z",
                      ADMIN_TOKEN, NULL, &t), 200);
  tr_free(&t);
}

static long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A client that never finishes its headers does not hold up a stop (which waits up to 5 s for
 * requests in flight): only requests whose headers arrived count as in flight. */
static void test_half_sent_headers_do_not_hold_stop(void **state) {
  (void)state;
  test_server other = {0};
  ts_start(&other, NULL);
  int fd = raw_connect(&other);
  static const char partial[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  assert_true(raw_send(fd, partial, sizeof partial - 1, WAIT_MS));
  /* A whole request on another connection is answered: the server has read both. */
  static const char whole[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  raw_resp r;
  raw_exchange(&other, whole, sizeof whole - 1, WAIT_MS, &r);
  assert_int_equal(r.status, 200);
  raw_free(&r);
  long start = mono_ms();
  kill(other.pid, SIGTERM);
  int status;
  pid_t done = 0;
  while (done == 0 && mono_ms() - start < 10000) {
    done = waitpid(other.pid, &status, WNOHANG);
    if (done == 0) usleep(10000);
  }
  long took = mono_ms() - start;
  other.pid = done == 0 ? other.pid : 0;
  close(fd);
  ts_cleanup(&other);
  if (took >= 4000) fail_msg("the stop took %ld ms with a half-sent request open", took);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refused_on_headers),
      cmocka_unit_test(test_unauthenticated_uploads_stay_small),
      cmocka_unit_test(test_chunked_over_limit_not_kept),
      cmocka_unit_test(test_framing_refused),
      cmocka_unit_test(test_raw_nul_in_path_refused),
      cmocka_unit_test(test_many_query_arguments_answered),
      cmocka_unit_test(test_keep_alive_still_works),
      cmocka_unit_test(test_head),
      cmocka_unit_test(test_log_escaped),
      cmocka_unit_test(test_since_impossible_date),
      cmocka_unit_test(test_half_sent_headers_do_not_hold_stop),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
