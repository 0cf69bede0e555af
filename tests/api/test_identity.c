/* SPDX-License-Identifier: MIT */
/* API tests of who may see what: idempotency keys per token, lease operations after a role is
 * taken off a queue, reserved token names, webhook URL redaction, sessions and revocation. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness.h"

static test_server srv;
static char *agent_a, *agent_b, *val;

static const char review_queue[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"review\"}}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":60}}";

static int setup(void **state) {
  (void)state;
  ts_start(&srv, NULL);
  agent_a = ts_token(&srv, "agent-a", "agent");
  agent_b = ts_token(&srv, "agent-b", "agent");
  val = ts_token(&srv, "val", "validator");
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/idq", ADMIN_TOKEN, review_queue, &r), 201);
  tr_free(&r);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ts_cleanup(&srv);
  free(agent_a);
  free(agent_b);
  free(val);
  return 0;
}

/* Idempotency keys belong to the token that sent them: a second agent replaying the first
 * one's key gets a task of its own, never the first one's, and never a 409 for it. */
static void test_idempotency_key_per_token(void **state) {
  (void)state;
  test_resp a1, b1, b2, a2, g;
  const char *body_a = "{\"input\":{\"text\":\"secret of agent a\"},\"idempotency_key\":\"shared-1\"}";
  const char *body_b = "{\"input\":{\"text\":\"agent b\"},\"idempotency_key\":\"shared-1\"}";
  assert_int_equal(tr(&srv, "POST", "/v1/queues/idq/tasks", agent_a, body_a, &a1), 201);
  /* Another body under the same key: for agent b it is simply its own new key. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/idq/tasks", agent_b, body_b, &b1), 201);
  assert_string_not_equal(tj_str(&b1, "id"), tj_str(&a1, "id"));
  assert_null(strstr(b1.body, "secret of agent a"));
  /* The same body as agent a's, from agent b: still b's own task. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/idq/tasks", agent_b, body_b, &b2), 200);
  assert_string_equal(tj_str(&b2, "id"), tj_str(&b1, "id"));
  const char *h[] = {"Idempotency-Key: shared-2", NULL};
  test_resp hb;
  assert_int_equal(tr_headers(&srv, "POST", "/v1/queues/idq/tasks", agent_a, "{\"input\":1}", h, &hb), 201);
  tr_free(&hb);
  assert_int_equal(tr_headers(&srv, "POST", "/v1/queues/idq/tasks", agent_b, "{\"input\":2}", h, &hb), 201);
  assert_null(strstr(hb.body, "\"input\":1"));
  tr_free(&hb);
  /* Agent a still replays its own, and its own other body is still a conflict. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/idq/tasks", agent_a, body_a, &a2), 200);
  assert_string_equal(tj_str(&a2, "id"), tj_str(&a1, "id"));
  tr_free(&a2);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/idq/tasks", agent_a, body_b, &a2), 409);
  assert_string_equal(tj_str(&a2, "error.field"), "idempotency_key");
  /* In a batch too, the key is agent b's own: it holds b's body, so another body conflicts. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/idq/tasks/batch", agent_b,
                      "{\"tasks\":[{\"input\":{\"text\":\"secret of agent a\"},"
                      "\"idempotency_key\":\"shared-1\"}]}", &g), 409);
  tr_free(&g);
  tr_free(&a1);
  tr_free(&a2);
  tr_free(&b1);
  tr_free(&b2);
}

/* Claims the next task of queue for token and copies its id and lease id. */
static void claim(const char *queue, const char *token, char *id, char *lease) {
  char path[128];
  snprintf(path, sizeof path, "/v1/queues/%s/claim", queue);
  test_resp r;
  long st = tr(&srv, "POST", path, token, NULL, &r);
  if (st != 200) fail_msg("claim: %ld %s", st, r.body);
  snprintf(id, 64, "%s", tj_str(&r, "id"));
  snprintf(lease, 64, "%s", tj_str(&r, "lease.id"));
  tr_free(&r);
}

/* A reviewer whose role was taken off the queue can no longer renew, release or answer the
 * lease it holds, and learns nothing of the task through them (GET already says 403). */
static void test_lease_ops_after_role_removed(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/roleq", ADMIN_TOKEN, review_queue, &r), 201);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/roleq/tasks", agent_a,
                      "{\"input\":{\"text\":\"confidential-7\"}}", &r), 201);
  tr_free(&r);
  char id[64], lease[64], path[160], body[160];
  claim("roleq", val, id, lease);
  /* The queue now wants annotators only. */
  char *other = strdup(review_queue);
  char *at = strstr(other, "\"validator\"");
  memcpy(at, "\"annotator\"", 11);
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/roleq", ADMIN_TOKEN, other, &r), 200);
  tr_free(&r);
  free(other);
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  assert_int_equal(tr(&srv, "GET", path, val, NULL, &r), 403);
  tr_free(&r);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\"}", lease);
  const char *ops[] = {"lease", "release"};
  for (size_t i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "/v1/tasks/%s/%s", id, ops[i]);
    assert_int_equal(tr(&srv, "POST", path, val, body, &r), 403);
    assert_string_equal(tj_str(&r, "error.code"), "forbidden");
    assert_null(strstr(r.body, "confidential-7"));
    tr_free(&r);
  }
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", lease);
  assert_int_equal(tr(&srv, "POST", path, val, body, &r), 403);
  assert_null(strstr(r.body, "confidential-7"));
  tr_free(&r);
  /* Nothing was changed by them: the task is still leased, undecided. */
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "leased");
  tr_free(&r);
}

/* Names the server writes as actors of its own events are not token names, in any case. */
static void test_reserved_token_names(void **state) {
  (void)state;
  const char *names[] = {"system", "SYSTEM", "Admin", "ADMIN", "policy", "Sla", "hitl", "human",
                         "consensus", "server"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char body[128];
    snprintf(body, sizeof body, "{\"name\":\"%s\",\"roles\":[\"agent\"]}", names[i]);
    test_resp r;
    assert_int_equal(tr(&srv, "POST", "/v1/tokens", ADMIN_TOKEN, body, &r), 400);
    assert_string_equal(tj_str(&r, "error.field"), "name");
    assert_non_null(strstr(tj_str(&r, "error.message"), "reserved"));
    tr_free(&r);
  }
  /* A name that merely contains one is fine. */
  char *t = ts_token(&srv, "system-monitor", "agent");
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idempotency_key_per_token),
      cmocka_unit_test(test_lease_ops_after_role_removed),
      cmocka_unit_test(test_reserved_token_names),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
