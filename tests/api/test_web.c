/* SPDX-License-Identifier: MIT */
/* API tests of what the web UI stands on: embedded files, cookie sessions and CSRF protection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static test_server srv;
static char *reviewer;

static int setup(void **state) {
  (void)state;
  ts_start(&srv, NULL);
  reviewer = ts_token(&srv, "rita", "validator");
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/web", ADMIN_TOKEN, "{}", &r), 201);
  tr_free(&r);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ts_cleanup(&srv);
  free(reviewer);
  return 0;
}

static void test_embedded_chart_js_with_etag(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/assets/vendor/chart.min.js", NULL, NULL, &r), 200);
  assert_true(strlen(r.body) > 100000); /* Debian's Chart.js, whole. */
  assert_non_null(strstr(r.body, "Chart"));
  assert_non_null(strstr(r.content_type, "javascript"));
  char *etag = tr_header(&r, "ETag");
  assert_non_null(etag);
  char *nosniff = tr_header(&r, "X-Content-Type-Options");
  assert_string_equal(nosniff, "nosniff");
  free(nosniff);
  tr_free(&r);
  /* A client holding the same version gets 304 and no body. */
  char inm[96];
  snprintf(inm, sizeof inm, "If-None-Match: %s", etag);
  const char *h[] = {inm, NULL};
  assert_int_equal(tr_headers(&srv, "GET", "/assets/vendor/chart.min.js", NULL, NULL, h, &r), 304);
  assert_int_equal(strlen(r.body), 0);
  tr_free(&r);
  free(etag);
  assert_int_equal(tr(&srv, "GET", "/assets/no-such-file.js", NULL, NULL, &r), 404);
  assert_string_equal(tj_str(&r, "error.code"), "not_found");
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/assets/vendor/chart.min.js", NULL, "{}", &r), 405);
  tr_free(&r);
}

/* Signs in with a token; returns the cookie header line and fills csrf. */
static char *sign_in(const char *token, char csrf[128]) {
  char body[256];
  snprintf(body, sizeof body, "{\"token\":\"%s\"}", token);
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/session", NULL, body, &r), 200);
  assert_string_equal(tj_str(&r, "name"), "rita");
  assert_string_equal(tj_str(&r, "roles.0"), "validator");
  snprintf(csrf, 128, "%s", tj_str(&r, "csrf"));
  char *set = tr_header(&r, "Set-Cookie");
  assert_non_null(set);
  assert_non_null(strstr(set, "HttpOnly"));
  assert_non_null(strstr(set, "SameSite=Strict"));
  assert_non_null(strstr(set, "Path=/"));
  /* "Cookie: hitl_session=VALUE" from "hitl_session=VALUE; HttpOnly; ...". */
  char *line = malloc(strlen(set) + 16);
  snprintf(line, strlen(set) + 16, "Cookie: %.*s", (int)strcspn(set, ";"), set);
  free(set);
  tr_free(&r);
  return line;
}

static void test_session_cookie_and_csrf(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/session", NULL, "{\"token\":\"wrong\"}", &r), 401);
  assert_null(tr_header(&r, "Set-Cookie"));
  tr_free(&r);
  char csrf[128];
  char *cookie = sign_in(reviewer, csrf);
  assert_true(strlen(csrf) > 20);

  /* The cookie alone authenticates reads. */
  const char *read_h[] = {cookie, NULL};
  assert_int_equal(tr_headers(&srv, "GET", "/v1/session", NULL, NULL, read_h, &r), 200);
  assert_string_equal(tj_str(&r, "csrf"), csrf);
  tr_free(&r);
  assert_int_equal(tr_headers(&srv, "GET", "/v1/queues", NULL, NULL, read_h, &r), 200);
  tr_free(&r);

  /* A change by cookie needs the CSRF secret: without it, or with a wrong one, 403. */
  assert_int_equal(tr_headers(&srv, "POST", "/v1/queues/web/claim", NULL, NULL, read_h, &r), 403);
  assert_non_null(strstr(tj_str(&r, "error.message"), "CSRF"));
  tr_free(&r);
  const char *wrong_h[] = {cookie, "X-CSRF-Token: not-the-secret", NULL};
  assert_int_equal(tr_headers(&srv, "POST", "/v1/queues/web/claim", NULL, NULL, wrong_h, &r), 403);
  tr_free(&r);
  char csrf_line[160];
  snprintf(csrf_line, sizeof csrf_line, "X-CSRF-Token: %s", csrf);
  const char *ok_h[] = {cookie, csrf_line, NULL};
  assert_int_equal(tr_headers(&srv, "POST", "/v1/queues/web/claim", NULL, NULL, ok_h, &r), 204);
  tr_free(&r);
  /* Bearer tokens need no CSRF secret: no browser sends them on its own. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/web/claim", reviewer, NULL, &r), 204);
  tr_free(&r);

  /* Sign-out ends the session and clears the cookie. */
  assert_int_equal(tr_headers(&srv, "DELETE", "/v1/session", NULL, NULL, ok_h, &r), 204);
  char *cleared = tr_header(&r, "Set-Cookie");
  assert_non_null(cleared);
  assert_non_null(strstr(cleared, "Max-Age=0"));
  free(cleared);
  tr_free(&r);
  assert_int_equal(tr_headers(&srv, "GET", "/v1/session", NULL, NULL, read_h, &r), 401);
  tr_free(&r);
  free(cookie);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_embedded_chart_js_with_etag),
      cmocka_unit_test(test_session_cookie_and_csrf),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
