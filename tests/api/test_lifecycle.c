/* SPDX-License-Identifier: MIT */
/* API tests of the task lifecycle against the real server: routing, review, consensus, waits. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <unistd.h>

#include "harness.h"

static test_server srv;
static char *agent, *alice, *bob, *carol, *arbiter, *labeler;

static const char review_queue[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"policy\":{\"rules\":[{\"name\":\"low\",\"when\":{\"confidence_below\":0.8},"
    "\"then\":{\"action\":\"review\"}},"
    "{\"name\":\"bad\",\"when\":{\"eq\":{\"path\":\"/output/label\",\"value\":\"spam\"}},"
    "\"then\":{\"action\":\"reject\"}},"
    "{\"name\":\"default\",\"then\":{\"action\":\"accept\"}}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":60}}";

static int setup(void **state) {
  (void)state;
  ts_start(&srv, NULL);
  agent = ts_token(&srv, "agent-1", "agent");
  alice = ts_token(&srv, "alice", "validator");
  bob = ts_token(&srv, "bob", "validator");
  carol = ts_token(&srv, "carol", "validator");
  arbiter = ts_token(&srv, "judge", "arbiter");
  labeler = ts_token(&srv, "lena", "labeler");
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/review", ADMIN_TOKEN, review_queue, &r), 201);
  tr_free(&r);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ts_cleanup(&srv);
  free(agent); free(alice); free(bob); free(carol); free(arbiter); free(labeler);
  return 0;
}

/* Submits body to queue and returns the new task's id (malloc'd). */
static char *submit(const char *queue, const char *body, long expect) {
  char path[128];
  snprintf(path, sizeof path, "/v1/queues/%s/tasks", queue);
  test_resp r;
  long st = tr(&srv, "POST", path, agent, body, &r);
  if (st != expect) fail_msg("submit: expected %ld, got %ld: %s", expect, st, r.body);
  char *id = tj_str(&r, "id") ? strdup(tj_str(&r, "id")) : NULL;
  tr_free(&r);
  return id;
}

static void test_health_and_auth(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/healthz", NULL, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "status"), "ok");
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/queues", NULL, NULL, &r), 401);
  assert_string_equal(tj_str(&r, "error.code"), "unauthorized");
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/queues", "not-a-token", NULL, &r), 401);
  tr_free(&r);
  /* A reviewer may not configure queues nor submit. */
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/x", alice, review_queue, &r), 403);
  assert_string_equal(tj_str(&r, "error.code"), "forbidden");
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/tasks", alice, "{\"input\":1}", &r), 403);
  tr_free(&r);
  /* A labeler has no role of this queue: may not claim. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/claim", labeler, NULL, &r), 403);
  tr_free(&r);
}

static void test_policy_decides_at_once(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/tasks", agent,
                      "{\"input\":{\"text\":\"hi\"},\"output\":{\"label\":\"ham\"},\"confidence\":0.95}",
                      &r), 201);
  assert_string_equal(tj_str(&r, "state"), "decided");
  assert_string_equal(tj_str(&r, "decision.by"), "policy");
  assert_string_equal(tj_str(&r, "decision.outcome"), "approve");
  assert_string_equal(tj_str(&r, "route.rule"), "default");
  assert_string_equal(tj_str(&r, "route.action"), "accept");
  /* The trace shows each leaf evaluated on the way to the rule that fired. */
  assert_true(json_array_size(json_object_get(json_object_get(r.json, "route"), "trace")) >= 2);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/tasks", agent,
                      "{\"input\":{\"text\":\"buy\"},\"output\":{\"label\":\"spam\"},\"confidence\":0.99}",
                      &r), 201);
  assert_string_equal(tj_str(&r, "decision.outcome"), "reject");
  assert_string_equal(tj_str(&r, "route.rule"), "bad");
  tr_free(&r);
}

static void test_review_claim_approve(void **state) {
  (void)state;
  char *id = submit("review", "{\"input\":{\"text\":\"maybe\"},\"output\":{\"label\":\"ham\"},"
                              "\"confidence\":0.5,\"priority\":5}", 201);
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/claim", alice, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "id"), id);
  assert_string_equal(tj_str(&r, "state"), "leased");
  char *lease = strdup(tj_str(&r, "lease.id"));
  assert_non_null(tj_str(&r, "lease.expires_at"));
  tr_free(&r);
  /* Nobody else gets it while leased. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/claim", bob, NULL, &r), 204);
  tr_free(&r);
  char path[128], body[256];
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  /* Bob cannot answer with Alice's lease. */
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", lease);
  assert_int_equal(tr(&srv, "POST", path, bob, body, &r), 409);
  assert_string_equal(tj_str(&r, "error.code"), "conflict");
  tr_free(&r);
  /* A label is not an answer to an approve question. */
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"label\",\"value\":\"x\"}", lease);
  assert_int_equal(tr(&srv, "POST", path, alice, body, &r), 400);
  tr_free(&r);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\",\"comment\":\"fine\"}", lease);
  assert_int_equal(tr(&srv, "POST", path, alice, body, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "decided");
  assert_string_equal(tj_str(&r, "decision.by"), "human");
  assert_string_equal(tj_str(&r, "decision.outcome"), "approve");
  tr_free(&r);
  /* The same lease cannot answer twice. */
  assert_int_equal(tr(&srv, "POST", path, alice, body, &r), 409);
  tr_free(&r);
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  assert_int_equal(tr(&srv, "GET", path, agent, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "responses.0.kind"), "approve");
  assert_string_equal(tj_str(&r, "responses.0.reviewer"), "alice");
  assert_string_equal(tj_str(&r, "responses.0.comment"), "fine");
  tr_free(&r);
  free(lease);
  free(id);
}

/* Submit-and-next: the answer and the next lease in one request and one commit. */
static void test_respond_and_lease_next(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/next", ADMIN_TOKEN, "{}", &r), 201);
  tr_free(&r);
  char *first = submit("next", "{\"input\":1}", 201);
  char *second = submit("next", "{\"input\":2}", 201);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/next/claim", alice, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "id"), first);
  char path[128], body[160];
  snprintf(path, sizeof path, "/v1/tasks/%s/responses?next=maybe", first);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", tj_str(&r, "lease.id"));
  tr_free(&r);
  test_resp bad;
  assert_int_equal(tr(&srv, "POST", path, alice, body, &bad), 400);
  assert_string_equal(tj_str(&bad, "error.field"), "next");
  tr_free(&bad);
  snprintf(path, sizeof path, "/v1/tasks/%s/responses?next=true", first);
  assert_int_equal(tr(&srv, "POST", path, alice, body, &r), 200);
  assert_string_equal(tj_str(&r, "id"), first);
  assert_string_equal(tj_str(&r, "decision.outcome"), "approve");
  assert_string_equal(tj_str(&r, "next.id"), second);
  assert_string_equal(tj_str(&r, "next.state"), "leased");
  assert_string_equal(tj_str(&r, "next.lease.owner"), "alice");
  snprintf(path, sizeof path, "/v1/tasks/%s/responses?next=true", second);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"reject\"}", tj_str(&r, "next.lease.id"));
  tr_free(&r);
  /* The lease from "next" is a real lease: it answers the second task. Nothing is left: null. */
  assert_int_equal(tr(&srv, "POST", path, alice, body, &r), 200);
  assert_string_equal(tj_str(&r, "decision.outcome"), "reject");
  assert_true(json_is_null(json_object_get(r.json, "next")));
  tr_free(&r);
  free(first);
  free(second);
}

static void test_claim_order_priority_then_age(void **state) {
  (void)state;
  char *low = submit("review", "{\"input\":1,\"confidence\":0.1,\"priority\":1}", 201);
  char *high = submit("review", "{\"input\":2,\"confidence\":0.1,\"priority\":9}", 201);
  char *low2 = submit("review", "{\"input\":3,\"confidence\":0.1,\"priority\":1}", 201);
  const char *expect[] = {high, low, low2};
  for (int i = 0; i < 3; i++) {
    test_resp r;
    assert_int_equal(tr(&srv, "POST", "/v1/queues/review/claim", carol, NULL, &r), 200);
    assert_string_equal(tj_str(&r, "id"), expect[i]);
    char path[128], body[160];
    snprintf(path, sizeof path, "/v1/tasks/%s/responses", expect[i]);
    snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"reject\"}", tj_str(&r, "lease.id"));
    tr_free(&r);
    assert_int_equal(tr(&srv, "POST", path, carol, body, &r), 200);
    assert_string_equal(tj_str(&r, "decision.outcome"), "reject");
    tr_free(&r);
  }
  free(low); free(high); free(low2);
}

static void test_idempotency(void **state) {
  (void)state;
  const char *body = "{\"input\":{\"text\":\"once\"},\"confidence\":0.9,\"idempotency_key\":\"k-1\"}";
  test_resp a, b, c;
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/tasks", agent, body, &a), 201);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/tasks", agent, body, &b), 200);
  assert_string_equal(tj_str(&a, "id"), tj_str(&b, "id"));
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/tasks", agent,
                      "{\"input\":{\"text\":\"other\"},\"idempotency_key\":\"k-1\"}", &c), 409);
  assert_string_equal(tj_str(&c, "error.field"), "idempotency_key");
  tr_free(&a); tr_free(&b); tr_free(&c);
  /* The header works as the field does. */
  const char *h[] = {"Idempotency-Key: k-2", NULL};
  assert_int_equal(tr_headers(&srv, "POST", "/v1/queues/review/tasks", agent,
                              "{\"input\":7,\"confidence\":0.9}", h, &a), 201);
  assert_int_equal(tr_headers(&srv, "POST", "/v1/queues/review/tasks", agent,
                              "{\"input\":7,\"confidence\":0.9}", h, &b), 200);
  assert_string_equal(tj_str(&a, "id"), tj_str(&b, "id"));
  tr_free(&a); tr_free(&b);
}

/* Waits on GET ?wait in a child process while this one decides the task. */
static void test_long_poll_wakes_on_decision(void **state) {
  (void)state;
  char *id = submit("review", "{\"input\":\"wait for me\",\"confidence\":0.2}", 201);
  char path[128];
  snprintf(path, sizeof path, "/v1/tasks/%s?wait=60", id);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    test_resp r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long st = tr(&srv, "GET", path, agent, NULL, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    char line[256];
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    snprintf(line, sizeof line, "%ld %s %.3f", st, tj_str(&r, "state") ? tj_str(&r, "state") : "?", secs);
    if (write(fds[1], line, strlen(line) + 1) < 0) _exit(2);
    _exit(0);
  }
  close(fds[1]);
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/claim", alice, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "id"), id);
  char rpath[128], body[160];
  snprintf(rpath, sizeof rpath, "/v1/tasks/%s/responses", id);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", tj_str(&r, "lease.id"));
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", rpath, alice, body, &r), 200);
  tr_free(&r);
  char line[256] = "";
  assert_true(read(fds[0], line, sizeof line) > 0);
  close(fds[0]);
  waitpid(child, NULL, 0);
  long st;
  char state_name[32];
  double secs;
  assert_int_equal(sscanf(line, "%ld %31s %lf", &st, state_name, &secs), 3);
  assert_int_equal(st, 200);
  assert_string_equal(state_name, "decided");
  assert_true(secs < 30.0); /* Woken by the decision, long before the 60 s wait ran out. */
  free(id);
}

static void test_long_poll_times_out_undecided(void **state) {
  (void)state;
  char *id = submit("review", "{\"input\":\"nobody\",\"confidence\":0.2,\"priority\":-100}", 201);
  char path[128];
  snprintf(path, sizeof path, "/v1/tasks/%s?wait=1", id);
  test_resp r;
  assert_int_equal(tr(&srv, "GET", path, agent, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "pending");
  tr_free(&r);
  /* Another agent may neither read nor cancel it. */
  char *other = ts_token(&srv, "agent-2", "agent");
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  assert_int_equal(tr(&srv, "GET", path, other, NULL, &r), 403);
  tr_free(&r);
  snprintf(path, sizeof path, "/v1/tasks/%s/cancel", id);
  assert_int_equal(tr(&srv, "POST", path, other, NULL, &r), 403);
  tr_free(&r);
  free(other);
  assert_int_equal(tr(&srv, "POST", path, agent, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "cancelled");
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", path, agent, NULL, &r), 409);
  tr_free(&r);
  free(id);
}

static void test_overlap_majority_and_arbiter(void **state) {
  (void)state;
  test_resp r;
  const char *cfg =
      "{\"schema\":{\"questions\":[{\"name\":\"category\",\"type\":\"label\",\"labels\":[\"spam\",\"ham\"]}]},"
      "\"assignment\":{\"overlap\":2,\"roles\":[\"validator\"],\"consensus\":\"majority\"}}";
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/vote", ADMIN_TOKEN, cfg, &r), 201);
  tr_free(&r);
  char *id = submit("vote", "{\"input\":{\"text\":\"win money\"}}", 201);
  const char *who[] = {alice, bob};
  const char *label[] = {"spam", "ham"};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(tr(&srv, "POST", "/v1/queues/vote/claim", who[i], NULL, &r), 200);
    assert_string_equal(tj_str(&r, "id"), id);
    char path[128], body[200];
    snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
    snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"label\",\"value\":\"%s\"}",
             tj_str(&r, "lease.id"), label[i]);
    tr_free(&r);
    assert_int_equal(tr(&srv, "POST", path, who[i], body, &r), 200);
    /* After the first answer the task waits for a second, distinct reviewer. */
    assert_string_equal(tj_str(&r, "state"), "pending");
    tr_free(&r);
    /* The same reviewer is never served the task again. */
    assert_int_equal(tr(&srv, "POST", "/v1/queues/vote/claim", who[i], NULL, &r), 204);
    tr_free(&r);
  }
  /* One spam, one ham: no majority, so the task waits for an arbiter. */
  char path[128];
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  assert_int_equal(tr(&srv, "GET", path, agent, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "role"), "arbiter");
  assert_int_equal(tj_int(&r, "stage"), 1);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/vote/claim", carol, NULL, &r), 204);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/vote/claim", arbiter, NULL, &r), 200);
  char body[200];
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"label\",\"value\":\"spam\"}",
           tj_str(&r, "lease.id"));
  tr_free(&r);
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  assert_int_equal(tr(&srv, "POST", path, arbiter, body, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "decided");
  assert_string_equal(tj_str(&r, "decision.outcome"), "answered");
  assert_string_equal(tj_str(&r, "decision.answers.category.value"), "spam");
  tr_free(&r);
  free(id);
}

/* An arbiter settles only the question in dispute; what the first reviewers agreed on stays in
 * the decision. */
static void test_arbitration_keeps_agreed_answers(void **state) {
  (void)state;
  test_resp r;
  const char *cfg =
      "{\"schema\":{\"questions\":[{\"name\":\"category\",\"type\":\"label\",\"labels\":[\"spam\",\"ham\"]},"
      "{\"name\":\"quality\",\"type\":\"rating\",\"max\":5}]},"
      "\"assignment\":{\"overlap\":2,\"roles\":[\"validator\"],\"consensus\":\"majority\"}}";
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/two", ADMIN_TOKEN, cfg, &r), 201);
  tr_free(&r);
  char *id = submit("two", "{\"input\":{\"text\":\"meh\"}}", 201);
  const char *who[] = {alice, bob};
  const char *label[] = {"spam", "ham"};
  char path[128], body[300];
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(tr(&srv, "POST", "/v1/queues/two/claim", who[i], NULL, &r), 200);
    snprintf(body, sizeof body,
             "{\"lease_id\":\"%s\",\"answers\":[{\"question\":\"category\",\"kind\":\"label\","
             "\"value\":\"%s\"},{\"question\":\"quality\",\"kind\":\"rating\",\"value\":4}]}",
             tj_str(&r, "lease.id"), label[i]);
    tr_free(&r);
    assert_int_equal(tr(&srv, "POST", path, who[i], body, &r), 200);
    tr_free(&r);
  }
  assert_int_equal(tr(&srv, "POST", "/v1/queues/two/claim", arbiter, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "id"), id);
  snprintf(body, sizeof body,
           "{\"lease_id\":\"%s\",\"question\":\"category\",\"kind\":\"label\",\"value\":\"ham\"}",
           tj_str(&r, "lease.id"));
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", path, arbiter, body, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "decided");
  assert_string_equal(tj_str(&r, "decision.answers.category.value"), "ham");
  assert_int_equal(tj_int(&r, "decision.answers.quality.value"), 4);
  /* Everyone whose answer the decision carries is named. */
  json_t *names = json_object_get(json_object_get(r.json, "decision"), "reviewers");
  assert_int_equal(json_array_size(names), 3);
  tr_free(&r);
  free(id);
}

static void test_overlap_agreement_is_consensus(void **state) {
  (void)state;
  char *id = submit("vote", "{\"input\":{\"text\":\"hello friend\"}}", 201);
  const char *who[] = {alice, carol};
  test_resp r;
  for (int i = 0; i < 2; i++) {
    assert_int_equal(tr(&srv, "POST", "/v1/queues/vote/claim", who[i], NULL, &r), 200);
    char path[128], body[200];
    snprintf(path, sizeof path, "/v1/tasks/%s/responses", tj_str(&r, "id"));
    snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"label\",\"value\":\"ham\"}",
             tj_str(&r, "lease.id"));
    tr_free(&r);
    assert_int_equal(tr(&srv, "POST", path, who[i], body, &r), 200);
    if (i == 1) {
      assert_string_equal(tj_str(&r, "decision.by"), "consensus");
      assert_string_equal(tj_str(&r, "decision.answers.category.value"), "ham");
    }
    tr_free(&r);
  }
  free(id);
}

static void test_release_and_skip(void **state) {
  (void)state;
  test_resp r;
  const char *cfg = "{\"assignment\":{\"roles\":[\"annotator\"]}}";
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/skip", ADMIN_TOKEN, cfg, &r), 201);
  tr_free(&r);
  char *ann = ts_token(&srv, "ann", "annotator");
  char *ann2 = ts_token(&srv, "ann2", "annotator");
  char *id = submit("skip", "{\"input\":\"x\"}", 201);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/skip/claim", ann, NULL, &r), 200);
  char path[128], body[200];
  snprintf(path, sizeof path, "/v1/tasks/%s/release", id);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\"}", tj_str(&r, "lease.id"));
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", path, ann, body, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "pending");
  tr_free(&r);
  /* Released: the same reviewer may take it again, and skip it. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/skip/claim", ann, NULL, &r), 200);
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"skip\"}", tj_str(&r, "lease.id"));
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", path, ann, body, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "pending");
  tr_free(&r);
  /* Skipped: not served to that reviewer again, but to another one. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/skip/claim", ann, NULL, &r), 204);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/skip/claim", ann2, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "id"), id);
  tr_free(&r);
  free(id); free(ann); free(ann2);
}

static void test_lease_expires_and_returns(void **state) {
  (void)state;
  test_resp r;
  const char *cfg = "{\"assignment\":{\"roles\":[\"corrector\"],\"lease_seconds\":5}}";
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/short", ADMIN_TOKEN, cfg, &r), 201);
  tr_free(&r);
  char *c1 = ts_token(&srv, "c1", "corrector");
  char *c2 = ts_token(&srv, "c2", "corrector");
  char *id = submit("short", "{\"input\":\"slow reviewer\"}", 201);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/short/claim", c1, NULL, &r), 200);
  char body[200];
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", tj_str(&r, "lease.id"));
  tr_free(&r);
  /* Wait on the condition (the task is back to pending), bounded by 20 s. */
  char path[128];
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  const char *st = NULL;
  for (int i = 0; i < 200; i++) {
    assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
    st = tj_str(&r, "state");
    bool back = st && strcmp(st, "pending") == 0;
    tr_free(&r);
    if (back) break;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "pending");
  tr_free(&r);
  /* The lost lease cannot answer. */
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  assert_int_equal(tr(&srv, "POST", path, c1, body, &r), 409);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/short/claim", c2, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "id"), id);
  tr_free(&r);
  free(id); free(c1); free(c2);
}

/* Deadlines: each on_timeout action, observed through a long-poll that returns at the change. */
static void test_sla_deadlines(void **state) {
  (void)state;
  const char *actions[] = {"accept", "reject", "expire", "escalate"};
  for (int i = 0; i < 4; i++) {
    char cfg[256], path[128];
    snprintf(cfg, sizeof cfg,
             "{\"assignment\":{\"roles\":[\"validator\"]},"
             "\"sla\":{\"deadline_seconds\":1,\"on_timeout\":\"%s\"}}", actions[i]);
    snprintf(path, sizeof path, "/v1/queues/sla-%s", actions[i]);
    test_resp r;
    assert_int_equal(tr(&srv, "PUT", path, ADMIN_TOKEN, cfg, &r), 201);
    tr_free(&r);
    snprintf(path, sizeof path, "sla-%s", actions[i]);
    char *id = submit(path, "{\"input\":\"late\"}", 201);
    if (strcmp(actions[i], "escalate") == 0) {
      /* Escalation keeps the task open, now for an arbiter: poll that condition, bounded. */
      snprintf(path, sizeof path, "/v1/tasks/%s", id);
      bool escalated = false;
      for (int k = 0; k < 100 && !escalated; k++) {
        assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
        escalated = tj_str(&r, "role") && strcmp(tj_str(&r, "role"), "arbiter") == 0;
        tr_free(&r);
        if (!escalated) nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
      }
      assert_true(escalated);
      assert_int_equal(tr(&srv, "POST", "/v1/queues/sla-escalate/claim", alice, NULL, &r), 204);
      tr_free(&r);
      assert_int_equal(tr(&srv, "POST", "/v1/queues/sla-escalate/claim", arbiter, NULL, &r), 200);
      assert_string_equal(tj_str(&r, "id"), id);
      tr_free(&r);
    } else {
      snprintf(path, sizeof path, "/v1/tasks/%s?wait=20", id);
      assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
      const char *want_state = strcmp(actions[i], "expire") == 0 ? "expired" : "decided";
      const char *want_outcome = strcmp(actions[i], "accept") == 0   ? "approve"
                                 : strcmp(actions[i], "reject") == 0 ? "reject"
                                                                     : "expired";
      assert_string_equal(tj_str(&r, "state"), want_state);
      assert_string_equal(tj_str(&r, "decision.by"), "sla");
      assert_string_equal(tj_str(&r, "decision.outcome"), want_outcome);
      tr_free(&r);
    }
    free(id);
  }
}

static void test_events_and_audit_verify(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/v1/events?after=0&limit=1000", alice, NULL, &r), 403);
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/events?after=0&limit=1000", ADMIN_TOKEN, NULL, &r), 200);
  json_t *evs = json_object_get(r.json, "events");
  assert_true(json_array_size(evs) > 10);
  /* Each event links to the previous one. */
  for (size_t i = 1; i < json_array_size(evs); i++) {
    const char *prev = json_string_value(json_object_get(json_array_get(evs, i), "prev_hash"));
    const char *hash = json_string_value(json_object_get(json_array_get(evs, i - 1), "hash"));
    assert_string_equal(prev, hash);
  }
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/events?after=3&limit=2", ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(tj_int(&r, "events.0.seq"), 4);
  assert_int_equal(tj_int(&r, "next_after"), 5);
  tr_free(&r);
  /* Newest first, paged back with next_before, meets the same log from the other end. */
  assert_int_equal(tr(&srv, "GET", "/v1/events?after=0&limit=1000", ADMIN_TOKEN, NULL, &r), 200);
  long long total = (long long)json_array_size(json_object_get(r.json, "events"));
  tr_free(&r);
  assert_true(total >= 4);
  assert_int_equal(tr(&srv, "GET", "/v1/events?order=newest&limit=2", ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(tj_int(&r, "events.0.seq"), total);
  assert_int_equal(tj_int(&r, "events.1.seq"), total - 1);
  assert_int_equal(tj_int(&r, "next_before"), total - 1);
  tr_free(&r);
  char path[96];
  snprintf(path, sizeof path, "/v1/events?order=newest&limit=1000&before=%lld", total - 1);
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(tj_int(&r, "events.0.seq"), total - 2);
  assert_int_equal((long long)json_array_size(json_object_get(r.json, "events")), total - 2);
  assert_true(json_is_null(json_object_get(r.json, "next_before"))); /* The first event was reached. */
  tr_free(&r);
}

/* The SSE stream client, in a child: tells the parent once connected, then waits for a
 * task.submitted frame naming the expected task. */
typedef struct sse_sink {
  int ready_fd;
  bool told;
  char seen[65536];
  size_t len;
  const char *want;
} sse_sink;

static size_t sse_data(char *ptr, size_t size, size_t n, void *ud) {
  sse_sink *k = ud;
  size_t add = size * n;
  if (!k->told) {
    k->told = true;
    if (write(k->ready_fd, "r", 1) != 1) return 0;
  }
  size_t room = sizeof k->seen - 1 - k->len;
  memcpy(k->seen + k->len, ptr, add < room ? add : room);
  k->len += add < room ? add : room;
  k->seen[k->len] = '\0';
  if (strstr(k->seen, k->want)) return 0; /* Seen: stop the transfer. */
  return add;
}

static void test_event_stream_pushes_commits(void **state) {
  (void)state;
  /* Start the stream after the newest event, so that only what is committed from now on is due. */
  long long last = 0;
  for (;;) {
    test_resp r;
    char path[96];
    snprintf(path, sizeof path, "/v1/events?after=%lld&limit=1000", last);
    assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
    long long next = tj_int(&r, "next_after");
    tr_free(&r);
    if (next == last) break;
    last = next;
  }
  int ready[2], go[2];
  assert_int_equal(pipe(ready), 0);
  assert_int_equal(pipe(go), 0);
  pid_t child = fork();
  if (child == 0) {
    close(ready[0]);
    close(go[1]);
    sse_sink k = {.ready_fd = ready[1], .want = "event: task.submitted"};
    CURL *c = curl_easy_init();
    char url[128], auth[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/events/stream?after=%lld", srv.port, last);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", ADMIN_TOKEN);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
    /* Shorter than the 15 s heartbeat: only a push at commit can deliver the event in time. */
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    curl_easy_perform(c);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    _exit(strstr(k.seen, "event: task.submitted") ? 0 : 1);
  }
  close(ready[1]);
  close(go[0]);
  char b;
  assert_int_equal(read(ready[0], &b, 1), 1); /* The stream is open and idle. */
  char *id = submit("review", "{\"input\":\"streamed\",\"confidence\":0.2}", 201);
  (void)id;
  int status = 0;
  waitpid(child, &status, 0);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
  close(ready[0]);
  close(go[1]);
  free(id);
}

static void test_metrics(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/metrics", NULL, NULL, &r), 200);
  assert_non_null(strstr(r.body, "hitl_tasks{queue=\"review\",state=\"decided\"}"));
  /* Two policy decisions in test_policy_decides_at_once, two accepted in test_idempotency. */
  const char *line = strstr(r.body, "hitl_tasks_decided_total{queue=\"review\",by=\"policy\"} ");
  assert_non_null(line);
  assert_int_equal(atoi(strchr(line, '}') + 2), 4);
  assert_non_null(strstr(r.body, "hitl_http_request_duration_seconds_bucket{le=\"+Inf\"}"));
  assert_non_null(strstr(r.body, "hitl_oldest_pending_age_seconds{queue=\"review\"}"));
  tr_free(&r);
  /* Live counts on the queue agree with a listing. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues/review", agent, NULL, &r), 200);
  long long decided = tj_int(&r, "counts.decided");
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/review/tasks?state=decided&limit=1000", ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal((long long)json_array_size(json_object_get(r.json, "tasks")), decided);
  tr_free(&r);
}

static void test_export_jsonl(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/v1/queues/review", ADMIN_TOKEN, NULL, &r), 200);
  long long decided = tj_int(&r, "counts.decided");
  tr_free(&r);
  assert_true(decided >= 5);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/review/export?format=jsonl", agent, NULL, &r), 403);
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/review/export?format=jsonl", ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(r.content_type, "application/x-ndjson");
  /* One JSON object per decided task, each with its decision and responses. */
  long long lines = 0, with_human = 0;
  for (char *save = NULL, *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    json_t *t = json_loads(line, 0, NULL);
    assert_non_null(t);
    assert_string_equal(json_string_value(json_object_get(t, "state")), "decided");
    assert_true(json_is_array(json_object_get(t, "responses")));
    const char *by = json_string_value(json_object_get(json_object_get(t, "decision"), "by"));
    if (strcmp(by, "human") == 0) {
      with_human++;
      assert_true(json_array_size(json_object_get(t, "responses")) >= 1);
    }
    json_decref(t);
    lines++;
  }
  assert_int_equal(lines, decided);
  assert_true(with_human >= 1);
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/review/export?format=csv", ADMIN_TOKEN, NULL, &r), 400);
  assert_string_equal(tj_str(&r, "error.field"), "format");
  tr_free(&r);
}

static void test_list_paging(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/pages", ADMIN_TOKEN, "{}", &r), 201);
  tr_free(&r);
  char *ids[5];
  for (int i = 0; i < 5; i++) ids[i] = submit("pages", "{\"input\":1}", 201);
  /* Agents read their own tasks by id; listing a queue is for its reviewers and orchestrators. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues/pages/tasks?limit=2", agent, NULL, &r), 403);
  tr_free(&r);
  /* Query values are percent-decoded: %32 is "2". */
  assert_int_equal(tr(&srv, "GET", "/v1/queues/pages/tasks?limit=%32", ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "tasks.0.id"), ids[4]); /* Newest first. */
  assert_string_equal(tj_str(&r, "tasks.1.id"), ids[3]);
  char path[160];
  snprintf(path, sizeof path, "/v1/queues/pages/tasks?limit=2&cursor=%s", tj_str(&r, "next_cursor"));
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "tasks.0.id"), ids[2]);
  tr_free(&r);
  for (int i = 0; i < 5; i++) free(ids[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_health_and_auth),
      cmocka_unit_test(test_policy_decides_at_once),
      cmocka_unit_test(test_review_claim_approve),
      cmocka_unit_test(test_respond_and_lease_next),
      cmocka_unit_test(test_claim_order_priority_then_age),
      cmocka_unit_test(test_idempotency),
      cmocka_unit_test(test_long_poll_wakes_on_decision),
      cmocka_unit_test(test_long_poll_times_out_undecided),
      cmocka_unit_test(test_overlap_majority_and_arbiter),
      cmocka_unit_test(test_overlap_agreement_is_consensus),
      cmocka_unit_test(test_arbitration_keeps_agreed_answers),
      cmocka_unit_test(test_release_and_skip),
      cmocka_unit_test(test_lease_expires_and_returns),
      cmocka_unit_test(test_sla_deadlines),
      cmocka_unit_test(test_events_and_audit_verify),
      cmocka_unit_test(test_event_stream_pushes_commits),
      cmocka_unit_test(test_metrics),
      cmocka_unit_test(test_list_paging),
      cmocka_unit_test(test_export_jsonl),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
