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
  /* Images and audio of image_url and audio_url fields may come from any http(s) host. */
  char *csp = tr_header(&r, "Content-Security-Policy");
  assert_non_null(csp);
  assert_non_null(strstr(csp, "img-src 'self' data: http: https:;"));
  assert_non_null(strstr(csp, "media-src 'self' data: http: https:;"));
  free(csp);
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
  /* Another site's page cannot sign this browser in under a token of its choosing. */
  char body[256], same[96];
  snprintf(body, sizeof body, "{\"token\":\"%s\"}", reviewer);
  const char *evil[] = {"Origin: http://evil.example", NULL};
  assert_int_equal(tr_headers(&srv, "POST", "/v1/session", NULL, body, evil, &r), 403);
  assert_null(tr_header(&r, "Set-Cookie"));
  tr_free(&r);
  /* Our own page may; behind an HTTPS proxy the cookie is Secure. */
  snprintf(same, sizeof same, "Origin: http://127.0.0.1:%d", srv.port);
  const char *own[] = {same, "X-Forwarded-Proto: https", NULL};
  assert_int_equal(tr_headers(&srv, "POST", "/v1/session", NULL, body, own, &r), 200);
  char *secure = tr_header(&r, "Set-Cookie");
  assert_non_null(strstr(secure, "; Secure"));
  free(secure);
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

/* Claims the next task of queue web for reviewer; returns its id and copies the lease. */
static char *claim(const char *token, char lease[64]) {
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/queues/web/claim", token, NULL, &r), 200);
  char *id = strdup(tj_str(&r, "id"));
  snprintf(lease, 64, "%s", tj_str(&r, "lease.id"));
  tr_free(&r);
  return id;
}

static void test_lease_renewal(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/queues/web/tasks", ADMIN_TOKEN, "{\"input\":\"renew me\"}", &r), 201);
  tr_free(&r);
  char lease[64], path[128], body[128];
  char *id = claim(reviewer, lease);
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  char *before = strdup(tj_str(&r, "lease.expires_at"));
  tr_free(&r);
  snprintf(path, sizeof path, "/v1/tasks/%s/lease", id);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\"}", lease);
  /* Only the holder renews. */
  assert_int_equal(tr(&srv, "POST", path, ADMIN_TOKEN, body, &r), 409);
  tr_free(&r);
  /* Renewal moves the expiry forward (RFC 3339 strings of one format sort as times); poll the
   * clock's millisecond boundary rather than assume it moved. */
  char *after = NULL;
  for (int i = 0; i < 100; i++) {
    assert_int_equal(tr(&srv, "POST", path, reviewer, body, &r), 200);
    assert_string_equal(tj_str(&r, "lease.id"), lease);
    free(after);
    after = strdup(tj_str(&r, "lease.expires_at"));
    tr_free(&r);
    if (strcmp(after, before) > 0) break;
  }
  assert_true(strcmp(after, before) > 0);
  /* A bad body and a wrong lease are refused. */
  assert_int_equal(tr(&srv, "POST", path, reviewer, "{}", &r), 400);
  assert_string_equal(tj_str(&r, "error.field"), "lease_id");
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", path, reviewer, "{\"lease_id\":\"l_nope\"}", &r), 409);
  tr_free(&r);
  /* Answer it, so that the history below has something. */
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\",\"comment\":\"ok\"}", lease);
  assert_int_equal(tr(&srv, "POST", path, reviewer, body, &r), 200);
  tr_free(&r);
  free(before);
  free(after);
  free(id);
}

static void test_me_and_history(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/v1/me", reviewer, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "name"), "rita");
  assert_string_equal(tj_str(&r, "queues.0.name"), "web");
  assert_true(tj_int(&r, "counts.today") >= 1);
  assert_int_equal(tj_int(&r, "counts.today"), tj_int(&r, "counts.total"));
  tr_free(&r);
  /* A token of no reviewing role sees no queue to review. */
  char *agent = ts_token(&srv, "ag", "agent");
  assert_int_equal(tr(&srv, "GET", "/v1/me", agent, NULL, &r), 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "queues")), 0);
  tr_free(&r);
  free(agent);
  assert_int_equal(tr(&srv, "GET", "/v1/me/responses?limit=1", reviewer, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "responses.0.queue"), "web");
  assert_string_equal(tj_str(&r, "responses.0.kind"), "approve");
  assert_string_equal(tj_str(&r, "responses.0.comment"), "ok");
  assert_non_null(tj_str(&r, "responses.0.task_id"));
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/me/responses?limit=0", reviewer, NULL, &r), 400);
  tr_free(&r);
}

static void test_stats(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/v1/stats", reviewer, NULL, &r), 403);
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/stats?window=5", ADMIN_TOKEN, NULL, &r), 400);
  assert_string_equal(tj_str(&r, "error.field"), "window");
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/stats?window=3600", ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(tj_int(&r, "window_seconds"), 3600);
  assert_true(tj_int(&r, "last_seq") >= 5);
  assert_string_equal(tj_str(&r, "queues.0.name"), "web");
  /* One task decided by rita in test_lease_renewal. */
  assert_int_equal(tj_int(&r, "queues.0.time_to_decision.count"), 1);
  assert_int_equal(tj_int(&r, "queues.0.decided_by.human"), 1);
  json_t *q0 = json_array_get(json_object_get(r.json, "queues"), 0);
  json_t *counts = json_object_get(json_object_get(q0, "histogram"), "counts");
  assert_int_equal(json_array_size(counts), 10);
  long long sum = 0;
  for (size_t i = 0; i < json_array_size(counts); i++) sum += json_integer_value(json_array_get(counts, i));
  assert_int_equal(sum, 1);
  assert_string_equal(tj_str(&r, "reviewers.0.name"), "rita");
  assert_true(tj_int(&r, "reviewers.0.responses") >= 1);
  /* The sampler takes a first sample at start. */
  assert_true(json_array_size(json_object_get(json_object_get(r.json, "series"), "points")) >= 1);
  tr_free(&r);
}

static void test_event_filters(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/v1/events?actor=rita&limit=1000", ADMIN_TOKEN, NULL, &r), 200);
  json_t *evs = json_object_get(r.json, "events");
  assert_true(json_array_size(evs) >= 3); /* leased, renewed, decided at least. */
  const char *task = NULL;
  for (size_t i = 0; i < json_array_size(evs); i++) {
    json_t *e = json_array_get(evs, i);
    assert_string_equal(json_string_value(json_object_get(e, "actor")), "rita");
    if (strcmp(json_string_value(json_object_get(e, "type")), "task.decided") == 0)
      task = json_string_value(json_object_get(e, "task_id"));
  }
  assert_non_null(task);
  char path[160];
  snprintf(path, sizeof path, "/v1/events?task_id=%s&limit=1000", task);
  test_resp h;
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &h), 200);
  json_t *hist = json_object_get(h.json, "events");
  /* The task's whole history, in order: submitted first, decided last. */
  assert_string_equal(json_string_value(json_object_get(json_array_get(hist, 0), "type")),
                      "task.submitted");
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(hist, json_array_size(hist) - 1), "type")),
                      "task.decided");
  for (size_t i = 0; i < json_array_size(hist); i++)
    assert_string_equal(json_string_value(json_object_get(json_array_get(hist, i), "task_id")), task);
  tr_free(&h);
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/events?type=queue.created", ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "events")), 1);
  tr_free(&r);
}

static void test_token_revocation(void **state) {
  (void)state;
  char *temp = ts_token(&srv, "temp", "validator");
  test_resp r;
  /* In use by bearer (so it is cached) and by a browser session. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues", temp, NULL, &r), 200);
  tr_free(&r);
  char body[256];
  snprintf(body, sizeof body, "{\"token\":\"%s\"}", temp);
  assert_int_equal(tr(&srv, "POST", "/v1/session", NULL, body, &r), 200);
  char *set = tr_header(&r, "Set-Cookie");
  tr_free(&r);
  char cookie[256];
  snprintf(cookie, sizeof cookie, "Cookie: %.*s", (int)strcspn(set, ";"), set);
  free(set);
  const char *with_cookie[] = {cookie, NULL};
  assert_int_equal(tr_headers(&srv, "GET", "/v1/me", NULL, NULL, with_cookie, &r), 200);
  tr_free(&r);

  assert_int_equal(tr(&srv, "DELETE", "/v1/tokens/temp", reviewer, NULL, &r), 403);
  tr_free(&r);
  assert_int_equal(tr(&srv, "DELETE", "/v1/tokens/admin", ADMIN_TOKEN, NULL, &r), 400);
  assert_string_equal(tj_str(&r, "error.field"), "name");
  tr_free(&r);
  assert_int_equal(tr(&srv, "DELETE", "/v1/tokens/nobody", ADMIN_TOKEN, NULL, &r), 404);
  tr_free(&r);
  assert_int_equal(tr(&srv, "DELETE", "/v1/tokens/temp", ADMIN_TOKEN, NULL, &r), 200);
  assert_true(json_is_true(json_object_get(r.json, "revoked")));
  tr_free(&r);
  /* Neither the cached bearer token nor the session opens anything now. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues", temp, NULL, &r), 401);
  tr_free(&r);
  assert_int_equal(tr_headers(&srv, "GET", "/v1/me", NULL, NULL, with_cookie, &r), 401);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/session", NULL, body, &r), 401);
  tr_free(&r);
  assert_int_equal(tr(&srv, "DELETE", "/v1/tokens/temp", ADMIN_TOKEN, NULL, &r), 200);
  tr_free(&r);
  /* The list shows it revoked, and never a secret. */
  assert_int_equal(tr(&srv, "GET", "/v1/tokens", ADMIN_TOKEN, NULL, &r), 200);
  bool seen = false;
  json_t *tokens = json_object_get(r.json, "tokens");
  for (size_t i = 0; i < json_array_size(tokens); i++) {
    json_t *t = json_array_get(tokens, i);
    assert_null(json_object_get(t, "token"));
    if (strcmp(json_string_value(json_object_get(t, "name")), "temp") == 0) {
      seen = true;
      assert_true(json_is_true(json_object_get(t, "revoked")));
    }
  }
  assert_true(seen);
  assert_null(strstr(r.body, temp));
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/events?type=token.revoked", ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "events")), 2);
  tr_free(&r);
  free(temp);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_embedded_chart_js_with_etag),
      cmocka_unit_test(test_session_cookie_and_csrf),
      cmocka_unit_test(test_lease_renewal),
      cmocka_unit_test(test_me_and_history),
      cmocka_unit_test(test_stats),
      cmocka_unit_test(test_event_filters),
      cmocka_unit_test(test_token_revocation),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
