/* SPDX-License-Identifier: MIT */
/* The role matrix, generated from the server's own route table: every route, with and without a
 * usable credential and with and without the route's role. A new route is covered as it lands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "api/auth.h"
#include "api/server_internal.h"
#include "harness.h"

static test_server srv;

/* A credential, as the header line that carries it (empty: none). */
typedef struct credential {
  const char *what;
  char header[512];
  char csrf[160]; /* The X-CSRF-Token line a cookie needs for a change, or empty. */
} credential;

/* The credentials that must never open a non-public route. */
enum { NONE, GARBAGE, REVOKED, ENDED_SESSION, N_BAD };
static credential bad[N_BAD];

/* Per role: a token holding only that role, and one holding every other role but orchestrator
 * (or, for orchestrator, every other role). Indexed like hitl_role_names. */
static credential holder[16], lacker[16];

static void bearer(credential *c, const char *what, const char *token) {
  c->what = what;
  snprintf(c->header, sizeof c->header, "Authorization: Bearer %s\r\n", token);
}

static int role_index(const char *role) {
  for (size_t i = 0; i < hitl_n_role_names; i++)
    if (strcmp(hitl_role_names[i], role) == 0) return (int)i;
  fail_msg("the route table names an unknown role \"%s\"", role);
  return -1;
}

/* Signs in with token, then signs out: the cookie of a session that has ended. */
static void ended_session(credential *c, const char *token) {
  char body[300];
  snprintf(body, sizeof body, "{\"token\":\"%s\"}", token);
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/session", NULL, body, &r), 200);
  char *set = tr_header(&r, "Set-Cookie");
  assert_non_null(set);
  c->what = "an ended session";
  snprintf(c->header, sizeof c->header, "Cookie: %.*s\r\n", (int)strcspn(set, ";"), set);
  snprintf(c->csrf, sizeof c->csrf, "X-CSRF-Token: %s\r\n", tj_str(&r, "csrf"));
  free(set);
  tr_free(&r);
  /* The session works, then ends. */
  char cookie[512], csrf[200];
  snprintf(cookie, sizeof cookie, "%.*s", (int)strcspn(c->header, "\r"), c->header);
  snprintf(csrf, sizeof csrf, "%.*s", (int)strcspn(c->csrf, "\r"), c->csrf);
  const char *h[] = {cookie, csrf, NULL};
  assert_int_equal(tr_headers(&srv, "GET", "/v1/session", NULL, NULL, h, &r), 200);
  tr_free(&r);
  assert_int_equal(tr_headers(&srv, "DELETE", "/v1/session", NULL, NULL, h, &r), 204);
  tr_free(&r);
  assert_int_equal(tr_headers(&srv, "GET", "/v1/session", NULL, NULL, h, &r), 401);
  tr_free(&r);
}

static int setup(void **state) {
  (void)state;
  ts_start(&srv, NULL);
  bad[NONE].what = "no credential";
  bearer(&bad[GARBAGE], "a garbage token", "garbage-0123456789");
  char *t = ts_token(&srv, "revoked", "orchestrator");
  test_resp r;
  assert_int_equal(tr(&srv, "DELETE", "/v1/tokens/revoked", ADMIN_TOKEN, NULL, &r), 200);
  tr_free(&r);
  bearer(&bad[REVOKED], "a revoked token", t);
  free(t);
  /* Tokens do not expire; a session does (after 12 hours, or at sign-out): the ended session
   * stands for an expired credential. */
  t = ts_token(&srv, "signed-out", "orchestrator");
  ended_session(&bad[ENDED_SESSION], t);
  free(t);
  for (size_t i = 0; i < hitl_n_role_names; i++) {
    const char *role = hitl_role_names[i];
    char name[64], others[256] = "";
    snprintf(name, sizeof name, "only-%s", role);
    t = ts_token(&srv, name, role);
    bearer(&holder[i], "a token with the role", t);
    free(t);
    for (size_t k = 0; k < hitl_n_role_names; k++) {
      if (k == i || strcmp(hitl_role_names[k], "orchestrator") == 0) continue;
      snprintf(others + strlen(others), sizeof others - strlen(others), "%s%s", others[0] ? "," : "",
               hitl_role_names[k]);
    }
    snprintf(name, sizeof name, "not-%s", role);
    t = ts_token(&srv, name, others);
    bearer(&lacker[i], "a token without the role", t);
    free(t);
  }
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ts_cleanup(&srv);
  return 0;
}

/* Sends method on the route's pattern ({} as "matrix-none") with credential c and the body the
 * route takes; returns the status, after the status line only (an event stream never ends). */
static int call(const hitl_route_def *r, const char *method, const credential *c) {
  char path[256] = "";
  for (const char *p = r->pattern; *p;) {
    if (p[0] == '{' && p[1] == '}') {
      strcat(path, "matrix-none");
      p += 2;
    } else {
      strncat(path, p++, 1);
    }
  }
  bool body = r->body != HITL_BODY_NONE && strcmp(method, "HEAD") != 0;
  char text[2048];
  snprintf(text, sizeof text,
           "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s%s%s\r\n%s", method, path,
           c ? c->header : "", c ? c->csrf : "",
           body ? "Content-Type: application/json\r\nContent-Length: 2\r\n" : "", body ? "{}" : "");
  raw_resp resp;
  int fd = raw_connect(&srv);
  assert_true(raw_send(fd, text, strlen(text), 5000));
  raw_read(fd, 5000, 0, &resp);
  close(fd);
  int status = resp.status;
  if (status == 0) fail_msg("%s %s with %s: no answer", method, r->pattern, c ? c->what : "?");
  raw_free(&resp);
  return status;
}

/* Checks one route under one method (the route's, or HEAD for a GET route). */
/* The routes meant to need no token. A route made public by mistake fails here; one made public
 * on purpose is added to this list in the same change. */
static bool meant_public(const hitl_route_def *r) {
  static const char *const list[] = {"GET /healthz", "GET /metrics", "POST /v1/session"};
  char row[160];
  snprintf(row, sizeof row, "%s %s", r->method, r->pattern);
  for (size_t i = 0; i < sizeof list / sizeof *list; i++)
    if (strcmp(list[i], row) == 0) return true;
  return false;
}

static void check_route(const hitl_route_def *r, const char *method, int *rows) {
  if ((r->access == HITL_ACCESS_PUBLIC) != meant_public(r))
    fail_msg("%s %s is %spublic in the route table, which the matrix does not expect", r->method,
             r->pattern, r->access == HITL_ACCESS_PUBLIC ? "" : "not ");
  if (r->access == HITL_ACCESS_PUBLIC) {
    for (int b = 0; b < N_BAD; b++) {
      int st = call(r, method, &bad[b]);
      if (st == 401 || st == 403)
        fail_msg("public %s %s with %s: %d", method, r->pattern, bad[b].what, st);
      (*rows)++;
    }
    return;
  }
  for (int b = 0; b < N_BAD; b++) {
    int st = call(r, method, &bad[b]);
    if (st != 401) fail_msg("%s %s with %s: %d, not 401", method, r->pattern, bad[b].what, st);
    (*rows)++;
  }
  /* Routes any token may use: one that is not an orchestrator (finer checks, such as a queue's
   * reviewer roles, may still refuse it; it holds every reviewer role so that they do not). */
  const credential *yes = &lacker[role_index("orchestrator")];
  if (r->access == HITL_ACCESS_ROLE) {
    assert_non_null(r->role);
    int i = role_index(r->role);
    int st = call(r, method, &lacker[i]);
    if (st != 403)
      fail_msg("%s %s with a token without %s: %d, not 403", method, r->pattern, r->role, st);
    (*rows)++;
    yes = &holder[i];
  } else {
    assert_int_equal(r->access, HITL_ACCESS_TOKEN);
  }
  int st = call(r, method, yes);
  if (st == 401 || st == 403)
    fail_msg("%s %s with %s: %d", method, r->pattern, yes->what, st);
  (*rows)++;
}

static void test_every_route(void **state) {
  (void)state;
  size_t n;
  const hitl_route_def *routes = hitl__routes(&n);
  assert_true(n > 20);
  int rows = 0;
  for (size_t i = 0; i < n; i++) {
    check_route(&routes[i], routes[i].method, &rows);
    /* HEAD reaches every GET route, and must not reach it more easily. */
    if (strcmp(routes[i].method, "GET") == 0) check_route(&routes[i], "HEAD", &rows);
  }
  printf("checked %d route x credential rows over %zu routes\n", rows, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_route),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
