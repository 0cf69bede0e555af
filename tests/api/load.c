/* SPDX-License-Identifier: MIT */
/* Load clients for crash tests, and the ledger of what they saw acknowledged. */
#include "load.h"

#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

int64_t load_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t on_data(char *ptr, size_t size, size_t n, void *ud) {
  load_client *c = ud;
  size_t add = size * n;
  char *grown = realloc(c->data, c->len + add + 1);
  if (grown == NULL) return 0;
  c->data = grown;
  memcpy(c->data + c->len, ptr, add);
  c->len += add;
  c->data[c->len] = '\0';
  return add;
}

long load_send(load_client *c, const char *method, const char *path, const char *body,
               json_t **out) {
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port, path);
  c->len = 0;
  curl_easy_setopt(c->curl, CURLOPT_URL, url);
  curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body ? body : "");
  curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, body ? (long)strlen(body) : 0L);
  long status = 0;
  if (curl_easy_perform(c->curl) == CURLE_OK)
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
  *out = status && c->len ? json_loadb(c->data, c->len, 0, NULL) : NULL;
  return status;
}

void load_report(load_client *c, const char *fmt, ...) {
  char line[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof line - 1) n = (int)strlen(line);
  line[n++] = '\n';
  /* One write of less than PIPE_BUF bytes: lines of different clients never interleave. */
  if (write(c->fd, line, (size_t)n) != n) _exit(3);
}

const char *load_jstr(const json_t *o, const char *a, const char *b) {
  const json_t *v = json_object_get(o, a);
  if (b) v = json_object_get(v, b);
  return json_is_string(v) ? json_string_value(v) : "";
}

bool load_stopped(load_client *c, long status) {
  if (status != 0 && status != 503) return false;
  load_report(c, "X %s %s", c->name, status ? "503" : "conn");
  return true;
}

pid_t load_start(int port, int fd, const char *name, const char *token, load_main_fn fn,
                 void *arg) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid > 0) return pid;
  load_client c = {.curl = curl_easy_init(), .port = port, .fd = fd, .name = name};
  char auth[256];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
  c.headers = curl_slist_append(c.headers, auth);
  c.headers = curl_slist_append(c.headers, "Content-Type: application/json");
  c.headers = curl_slist_append(c.headers, "Expect:");
  curl_easy_setopt(c.curl, CURLOPT_HTTPHEADER, c.headers);
  curl_easy_setopt(c.curl, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c.curl, CURLOPT_WRITEDATA, &c);
  curl_easy_setopt(c.curl, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(c.curl, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(c.curl, CURLOPT_NOSIGNAL, 1L);
  fn(&c, arg);
  /* _exit: the parent's cmocka state and atexit handlers are not the child's to run. */
  _exit(0);
}

void load_ledger_add(load_ledger *l, char kind, const char *a, const char *b, const char *c) {
  if (l->n == l->cap) {
    l->cap = l->cap ? l->cap * 2 : 256;
    l->v = realloc(l->v, l->cap * sizeof *l->v);
    assert_non_null(l->v);
  }
  load_ack *k = &l->v[l->n++];
  memset(k, 0, sizeof *k);
  k->kind = kind;
  snprintf(k->a, sizeof k->a, "%s", a ? a : "");
  snprintf(k->b, sizeof k->b, "%s", b ? b : "");
  snprintf(k->c, sizeof k->c, "%s", c ? c : "");
  l->count[(unsigned char)kind]++;
}

static void ledger_line(load_ledger *l, char *line) {
  char kind = line[0], a[64] = "", b[64] = "", c[64] = "";
  int n = sscanf(line + 1, " %63s %63s %63s", a, b, c);
  if (kind == 'X' && n == 2) {
    if (strcmp(b, "conn") == 0) l->stopped_conn++;
    else if (strcmp(b, "503") == 0) l->stopped_503++;
    else l->stopped_cap++;
  } else if (kind == 'E') {
    fprintf(stderr, "unexpected answer: %s\n", line);
    l->errors++;
  } else if (kind >= 'A' && kind <= 'Z' && n >= 1) {
    load_ledger_add(l, kind, a, b, c);
  } else {
    fail_msg("unreadable line from a client: %s", line);
  }
}

bool load_ledger_read(load_ledger *l, int fd, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  if (poll(&p, 1, timeout_ms) <= 0) return true;
  ssize_t got = read(fd, l->pending + l->pending_len, sizeof l->pending - 1 - l->pending_len);
  if (got < 0 && errno == EINTR) return true;
  if (got <= 0) return false;
  l->pending_len += (size_t)got;
  l->pending[l->pending_len] = '\0';
  char *start = l->pending, *nl;
  while ((nl = strchr(start, '\n')) != NULL) {
    *nl = '\0';
    ledger_line(l, start);
    start = nl + 1;
  }
  l->pending_len = strlen(start);
  memmove(l->pending, start, l->pending_len + 1);
  return true;
}

bool load_ledger_has(const load_ledger *l, char kind, const char *a) {
  for (size_t i = 0; i < l->n; i++)
    if (l->v[i].kind == kind && strcmp(l->v[i].a, a) == 0) return true;
  return false;
}

void load_ledger_free(load_ledger *l) {
  free(l->v);
  memset(l, 0, sizeof *l);
}

void load_stop(test_server *s, int sig) {
  assert_true(s->pid > 0);
  assert_int_equal(kill(s->pid, sig), 0);
  int status = 0;
  assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
  s->pid = 0;
  if (sig == SIGKILL) {
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fail_msg("the server did not stop cleanly on signal %d (status %d); see %s/server.log", sig,
             status, s->dir);
  }
}

void load_reviewer_main(load_client *c, void *arg) {
  const load_reviewer_arg *a = arg;
  char claim_path[128];
  snprintf(claim_path, sizeof claim_path, "/v1/queues/%s/claim", a->queue);
  int64_t start = load_mono_ms();
  int claims = 0;
  for (int i = 0; i < LOAD_CLIENT_MAX_OPS && load_mono_ms() - start < LOAD_CLIENT_MAX_MS; i++) {
    json_t *r = NULL;
    long st = load_send(c, "POST", claim_path, NULL, &r);
    if (load_stopped(c, st)) {
      json_decref(r);
      return;
    }
    if (st != 200) {
      if (st != 204) load_report(c, "E %s claim %ld", c->name, st);
      json_decref(r);
      continue;
    }
    char id[LOAD_ID_MAX], lease[LOAD_ID_MAX], path[128], body[160];
    snprintf(id, sizeof id, "%s", load_jstr(r, "id", NULL));
    snprintf(lease, sizeof lease, "%s", load_jstr(r, "lease", "id"));
    json_decref(r);
    load_report(c, "C %s %s %s", id, lease, c->name);
    if (++claims % a->hold_every == 0) {
      load_report(c, "H %s %s %s", id, lease, c->name);
      continue;
    }
    snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
    snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", lease);
    st = load_send(c, "POST", path, body, &r);
    json_decref(r);
    if (load_stopped(c, st)) return;
    if (st == 200)
      load_report(c, "A %s %s %s", id, lease, c->name);
    else
      load_report(c, "E %s respond %ld", c->name, st);
  }
  load_report(c, "X %s cap", c->name);
}

long long load_sql_count(const char *db, const char *fmt, ...) {
  char sql[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(sql, sizeof sql, fmt, ap);
  va_end(ap);
  sqlite3 *h = NULL;
  assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) != SQLITE_OK)
    fail_msg("%s: %s", sql, sqlite3_errmsg(h));
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  long long n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return n;
}

void load_finish(load_ledger *l, int fd, const pid_t *kids, size_t n) {
  int64_t drain_until = load_mono_ms() + 30000;
  while (load_ledger_read(l, fd, 100)) assert_true(load_mono_ms() < drain_until);
  close(fd);
  for (size_t i = 0; i < n; i++) {
    int status = 0;
    assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}
