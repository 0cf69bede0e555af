/* SPDX-License-Identifier: MIT */
/* The API test harness: a real server process and a libcurl client. */
#include "harness.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <cmocka.h>

#include "../pg_test.h"

static bool sanitizer_failed; /* Some server's log held a sanitizer report. */

/* cmocka does not count a failure in a group teardown, where ts_cleanup usually runs: a
 * sanitizer report makes the test program's exit status 1 here instead. */
static void exit_failed_on_report(void) {
  if (!sanitizer_failed) return;
  fflush(NULL);
  _exit(1);
}

void ts_start(test_server *s, const char *const *extra_args) {
  static bool registered;
  if (!registered) registered = atexit(exit_failed_on_report) == 0;
  if (s->dir[0] == '\0') {
    snprintf(s->dir, sizeof s->dir, "/tmp/hitl-api-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    /* With HITL_TEST_PG set (the *_postgres tests) the server stores in a new PostgreSQL
     * database of its own, unless s->db names one already; else in a SQLite file in its
     * directory. */
    const char *pg = pg_test_server_url();
    if (pg && s->db[0] == '\0')
      assert_int_equal(pg_test_create(pg, s->db, sizeof s->db), 0);
    else if (!pg)
      snprintf(s->db, sizeof s->db, "%s/hitl.db", s->dir);
  }
  const char *bin = getenv("HITL_BIN");
  assert_non_null(bin);
  int out[2];
  assert_int_equal(pipe(out), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    close(out[1]);
    char logfile[320];
    snprintf(logfile, sizeof logfile, "%s/server.log", s->dir);
    FILE *log = fopen(logfile, "a");
    if (log) dup2(fileno(log), STDERR_FILENO);
    setenv("HITL_ADMIN_TOKEN", ADMIN_TOKEN, 1);
    const char *argv[32] = {bin, "serve", "--db", s->db, "--listen", "127.0.0.1:0"};
    int argc = 6;
    for (int i = 0; extra_args && extra_args[i] && argc < 31; i++) argv[argc++] = extra_args[i];
    argv[argc] = NULL;
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  close(out[1]);
  /* Wait, bounded, for "hitl: listening on http://127.0.0.1:PORT". */
  char line[512];
  size_t len = 0;
  s->port = 0;
  for (int waited = 0; waited < 20000 && s->port == 0;) {
    struct pollfd p = {.fd = out[0], .events = POLLIN};
    int r = poll(&p, 1, 100);
    waited += 100;
    if (r <= 0) continue;
    ssize_t n = read(out[0], line + len, sizeof line - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
    line[len] = '\0';
    const char *at = strstr(line, "127.0.0.1:");
    if (at && strchr(at, ' ')) s->port = atoi(at + strlen("127.0.0.1:"));
  }
  close(out[0]);
  s->pid = pid;
  if (s->port == 0) fail_msg("the server did not start; see %s/server.log", s->dir);
}

int ts_audit_verify(const char *db, char *out, size_t cap) {
  const char *bin = getenv("HITL_BIN");
  assert_non_null(bin);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(bin, bin, "audit", "verify", "--db", db, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  size_t len = 0;
  ssize_t got;
  while (len + 1 < cap && (got = read(fds[0], out + len, cap - 1 - len)) > 0) len += (size_t)got;
  out[len] = '\0';
  close(fds[0]);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

void ts_stop(test_server *s, int sig) {
  if (s->pid <= 0) return;
  kill(s->pid, sig);
  int status;
  waitpid(s->pid, &status, 0);
  s->pid = 0;
}

/* True when the server's log holds a sanitizer report (ASan, LSan or UBSan), which it then
 * copies to stderr from its first line on. */
static bool sanitizer_reported(const test_server *s) {
  char path[320], line[1024];
  snprintf(path, sizeof path, "%s/server.log", s->dir);
  FILE *f = fopen(path, "r");
  if (f == NULL) return false;
  bool found = false;
  while (fgets(line, sizeof line, f)) {
    if (!found && (strstr(line, "ERROR: AddressSanitizer") || strstr(line, "ERROR: LeakSanitizer") ||
                   strstr(line, "runtime error:")))
      found = true;
    if (found) fputs(line, stderr);
  }
  fclose(f);
  return found;
}

void ts_cleanup(test_server *s) {
  if (s->pid > 0) ts_stop(s, SIGKILL);
  if (s->dir[0] == '\0') return;
  bool reported = sanitizer_reported(s);
  char cmd[320];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", s->dir);
  s->dir[0] = '\0';
  const char *pg = pg_test_server_url();
  if (pg && strstr(s->db, "://")) pg_test_drop(pg, s->db);
  s->db[0] = '\0';
  if (reported) {
    sanitizer_failed = true;
    fail_msg("the server's sanitizer reported an error (its report is above)");
  }
}

typedef struct sink {
  char *data;
  size_t len;
} sink;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud) {
  sink *k = ud;
  size_t add = size * n;
  k->data = realloc(k->data, k->len + add + 1);
  memcpy(k->data + k->len, ptr, add);
  k->len += add;
  k->data[k->len] = '\0';
  return add;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *ud) {
  return on_data(ptr, size, n, ud);
}

/* Makes c gather the body into k and the header lines into hk. */
static void collect(CURL *c, sink *k, sink *hk) {
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, k);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, hk);
}

char *tr_header(const test_resp *r, const char *name) {
  size_t n = strlen(name);
  for (const char *p = r->headers; p && *p;) {
    const char *eol = strchr(p, '\n');
    size_t len = eol ? (size_t)(eol - p) : strlen(p);
    if (len > n + 1 && strncasecmp(p, name, n) == 0 && p[n] == ':') {
      const char *v = p + n + 1;
      while (*v == ' ') v++;
      size_t vlen = (size_t)(p + len - v);
      while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == ' ')) vlen--;
      return strndup(v, vlen);
    }
    p = eol ? eol + 1 : p + len;
  }
  return NULL;
}

long tr_headers(test_server *s, const char *method, const char *path, const char *token,
                const char *body, const char *const *headers, test_resp *out) {
  memset(out, 0, sizeof *out);
  CURL *c = curl_easy_init();
  char url[2048];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", s->port, path);
  sink k = {0}, hk = {0};
  struct curl_slist *h = NULL;
  char auth[512];
  if (token) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    h = curl_slist_append(h, auth);
  }
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "Expect:");
  for (int i = 0; headers && headers[i]; i++) h = curl_slist_append(h, headers[i]);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  collect(c, &k, &hk);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 150L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
  if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
  }
  if (curl_easy_perform(c) == CURLE_OK) {
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct) out->content_type = strdup(ct);
  }
  out->body = k.data ? k.data : strdup("");
  out->headers = hk.data ? hk.data : strdup("");
  out->json = json_loads(out->body, JSON_DECODE_ANY, NULL);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return out->status;
}

long tr(test_server *s, const char *method, const char *path, const char *token, const char *body,
        test_resp *out) {
  return tr_headers(s, method, path, token, body, NULL, out);
}

long tr_get_url(const char *url, const char *source, const char *token, const char *ca,
                int *curl_code, char **headers) {
  CURL *c = curl_easy_init();
  char iface[64], auth[512];
  struct curl_slist *h = NULL;
  if (token) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    h = curl_slist_append(h, auth);
  }
  sink k = {0}, hk = {0};
  curl_easy_setopt(c, CURLOPT_URL, url);
  if (source) {
    snprintf(iface, sizeof iface, "host!%s", source);
    curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
  }
  if (ca) curl_easy_setopt(c, CURLOPT_CAINFO, ca);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  collect(c, &k, &hk);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  long status = 0;
  CURLcode cc = curl_easy_perform(c);
  if (cc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (curl_code) *curl_code = (int)cc;
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  free(k.data);
  if (headers) *headers = hk.data ? hk.data : strdup("");
  else free(hk.data);
  return status;
}

void tr_free(test_resp *r) {
  free(r->body);
  free(r->content_type);
  free(r->headers);
  json_decref(r->json);
  memset(r, 0, sizeof *r);
}

static const json_t *walk(const test_resp *r, const char *path) {
  const json_t *v = r->json;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *save = NULL, *part = strtok_r(buf, ".", &save); part && v;
       part = strtok_r(NULL, ".", &save)) {
    if (json_is_array(v))
      v = json_array_get(v, (size_t)atoi(part));
    else
      v = json_object_get(v, part);
  }
  return v;
}

const char *tj_str(const test_resp *r, const char *path) {
  const json_t *v = walk(r, path);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

long long tj_int(const test_resp *r, const char *path) {
  const json_t *v = walk(r, path);
  return json_is_integer(v) ? json_integer_value(v) : -999999;
}

char *ts_token(test_server *s, const char *name, const char *roles) {
  char body[512], list[256] = "";
  const char *p = roles;
  while (*p) {
    size_t n = strcspn(p, ",");
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s\"%.*s\"", list[0] ? "," : "",
             (int)n, p);
    p += n + (p[n] == ',');
  }
  snprintf(body, sizeof body, "{\"name\":\"%s\",\"roles\":[%s]}", name, list);
  test_resp r;
  long st = tr(s, "POST", "/v1/tokens", ADMIN_TOKEN, body, &r);
  if (st != 201) fail_msg("token create: %ld %s", st, r.body);
  char *tok = strdup(tj_str(&r, "token"));
  tr_free(&r);
  return tok;
}

/* ---- raw HTTP ------------------------------------------------------------------------------ */

int raw_connect(test_server *s) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool raw_send(int fd, const void *data, size_t len, int timeout_ms) {
  const char *p = data;
  long until = now_ms() + timeout_ms;
  while (len > 0) {
    struct pollfd q = {.fd = fd, .events = POLLOUT};
    long left = until - now_ms();
    if (left <= 0 || poll(&q, 1, (int)left) <= 0) return false;
    if (q.revents & (POLLERR | POLLHUP)) return false;
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    p += n;
    len -= (size_t)n;
  }
  return true;
}

void raw_read(int fd, int timeout_ms, int idle_ms, raw_resp *out) {
  memset(out, 0, sizeof *out);
  out->data = calloc(1, 1);
  long start = now_ms(), until = start + timeout_ms;
  for (;;) {
    long left = until - now_ms();
    if (out->answered && left > idle_ms) left = idle_ms;
    if (left <= 0) break;
    struct pollfd q = {.fd = fd, .events = POLLIN};
    int r = poll(&q, 1, (int)left);
    if (r <= 0) break;
    char buf[8192];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      out->closed = true;
      break;
    }
    out->data = realloc(out->data, out->len + (size_t)n + 1);
    memcpy(out->data + out->len, buf, (size_t)n);
    out->len += (size_t)n;
    out->data[out->len] = '\0';
    if (!out->answered && strstr(out->data, "\r\n")) {
      out->answered = true;
      if (strncmp(out->data, "HTTP/1.", 7) == 0 && out->len > 12) out->status = atoi(out->data + 9);
    }
  }
  out->waited_ms = now_ms() - start;
}

void raw_exchange(test_server *s, const void *data, size_t len, int timeout_ms, raw_resp *out) {
  int fd = raw_connect(s);
  raw_send(fd, data, len, timeout_ms);
  raw_read(fd, timeout_ms, 300, out);
  close(fd);
}

void raw_free(raw_resp *r) {
  free(r->data);
  memset(r, 0, sizeof *r);
}
