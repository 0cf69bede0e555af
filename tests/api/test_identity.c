/* SPDX-License-Identifier: MIT */
/* API tests of who may see what: idempotency keys per token, lease operations after a role is
 * taken off a queue, reserved token names, webhook URL redaction, sessions and revocation. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>
#include <time.h>

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

/* Webhook URLs carry credentials: only orchestrators read them whole; a validator or an agent
 * reading the queue sees them redacted, and events about the queue carry no credential. The
 * URL names a closed port of this host, and no task ever enters the queue: nothing is sent. */
static void test_webhook_urls_redacted(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/hooked", ADMIN_TOKEN,
                      "{\"webhooks\":[{\"url\":\"http://hookuser:pw-9@127.0.0.1:9/in?token=s3cret\","
                      "\"events\":[\"task.cancelled\"]}]}", &r), 201);
  assert_non_null(strstr(r.body, "hookuser:pw-9@127.0.0.1:9/in?token=s3cret"));
  tr_free(&r);
  const char *readers[] = {val, agent_a};
  for (size_t i = 0; i < 2; i++) {
    assert_int_equal(tr(&srv, "GET", "/v1/queues/hooked", readers[i], NULL, &r), 200);
    assert_string_equal(tj_str(&r, "config.webhooks.0.url"), "http://***@127.0.0.1:9/in?token=***");
    assert_null(strstr(r.body, "s3cret"));
    assert_null(strstr(r.body, "pw-9"));
    tr_free(&r);
    assert_int_equal(tr(&srv, "GET", "/v1/queues", readers[i], NULL, &r), 200);
    assert_null(strstr(r.body, "s3cret"));
    assert_null(strstr(r.body, "pw-9"));
    tr_free(&r);
  }
  assert_int_equal(tr(&srv, "GET", "/v1/queues/hooked", ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "config.webhooks.0.url"),
                      "http://hookuser:pw-9@127.0.0.1:9/in?token=s3cret");
  tr_free(&r);
  /* The queue.created event, which streams and webhook receivers get, holds no credential. */
  assert_int_equal(tr(&srv, "GET", "/v1/events?queue=hooked", ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "events.0.type"), "queue.created");
  assert_null(strstr(r.body, "s3cret"));
  assert_null(strstr(r.body, "pw-9"));
  tr_free(&r);
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

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One long request (an event stream or a long-poll) run on its own thread. */
typedef struct long_call {
  char url[256];
  char header[512];       /* "Authorization: Bearer ..." or "Cookie: ...". */
  pthread_mutex_t lock;
  pthread_cond_t cond;
  bool started;           /* The request went out (long-poll) or bytes came back (stream). */
  bool stream;
  CURLcode result;
  long status;
  int64_t ended_ms;
  pthread_t thread;
} long_call;

static void call_started(long_call *c) {
  pthread_mutex_lock(&c->lock);
  c->started = true;
  pthread_cond_broadcast(&c->cond);
  pthread_mutex_unlock(&c->lock);
}

static size_t call_data(char *ptr, size_t size, size_t n, void *ud) {
  (void)ptr;
  long_call *c = ud;
  if (c->stream) call_started(c);
  return size * n;
}

static int call_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud) {
  (void)h;
  (void)data;
  (void)size;
  long_call *c = ud;
  if (type == CURLINFO_HEADER_OUT && !c->stream) call_started(c);
  return 0;
}

static void *call_main(void *arg) {
  long_call *c = arg;
  CURL *h = curl_easy_init();
  struct curl_slist *hs = curl_slist_append(NULL, c->header);
  curl_easy_setopt(h, CURLOPT_URL, c->url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, call_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
  curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, call_debug);
  curl_easy_setopt(h, CURLOPT_DEBUGDATA, c);
  curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  /* Longer than any bound the tests allow: a request still open then has failed them. */
  curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
  c->result = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->status);
  c->ended_ms = now_ms();
  curl_slist_free_all(hs);
  curl_easy_cleanup(h);
  call_started(c); /* Never leave the test waiting. */
  return NULL;
}

/* Starts the call and waits (at most 10 s) until it is under way. */
static void call_start(long_call *c, const char *path, const char *header, bool stream) {
  memset(c, 0, sizeof *c);
  snprintf(c->url, sizeof c->url, "http://127.0.0.1:%d%s", srv.port, path);
  snprintf(c->header, sizeof c->header, "%s", header);
  c->stream = stream;
  pthread_mutex_init(&c->lock, NULL);
  pthread_cond_init(&c->cond, NULL);
  assert_int_equal(pthread_create(&c->thread, NULL, call_main, c), 0);
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 10;
  pthread_mutex_lock(&c->lock);
  while (!c->started) assert_int_equal(pthread_cond_timedwait(&c->cond, &c->lock, &until), 0);
  pthread_mutex_unlock(&c->lock);
}

/* Waits for the call to end and returns how long after since it ended (ms). */
static int64_t call_end(long_call *c, int64_t since) {
  pthread_join(c->thread, NULL);
  pthread_mutex_destroy(&c->lock);
  pthread_cond_destroy(&c->cond);
  return c->ended_ms - since;
}

static void revoke_token(const char *name) {
  char path[128];
  snprintf(path, sizeof path, "/v1/tokens/%s", name);
  test_resp r;
  assert_int_equal(tr(&srv, "DELETE", path, ADMIN_TOKEN, NULL, &r), 200);
  tr_free(&r);
}

/* Signs in with token; returns "Cookie: hitl_session=..." (malloc'd) and fills csrf, or NULL
 * when the sign-in was refused. */
static char *sign_in(const char *token, char csrf[128]) {
  char body[256];
  snprintf(body, sizeof body, "{\"token\":\"%s\"}", token);
  test_resp r;
  if (tr(&srv, "POST", "/v1/session", NULL, body, &r) != 200) {
    tr_free(&r);
    return NULL;
  }
  if (csrf) snprintf(csrf, 128, "%s", tj_str(&r, "csrf"));
  char *set = tr_header(&r, "Set-Cookie");
  char *line = malloc(strlen(set) + 16);
  snprintf(line, strlen(set) + 16, "Cookie: %.*s", (int)strcspn(set, ";"), set);
  free(set);
  tr_free(&r);
  return line;
}

/* True when the cookie line still opens a session. */
static bool session_works(const char *cookie) {
  const char *h[] = {cookie, NULL};
  test_resp r;
  long st = tr_headers(&srv, "GET", "/v1/session", NULL, NULL, h, &r);
  tr_free(&r);
  return st == 200;
}

/* An open event stream ends soon after its token is revoked. */
static void test_revocation_ends_event_stream(void **state) {
  (void)state;
  char *tok = ts_token(&srv, "watcher", "orchestrator");
  char header[256];
  snprintf(header, sizeof header, "Authorization: Bearer %s", tok);
  long_call c;
  call_start(&c, "/v1/events/stream", header, true);
  int64_t at = now_ms();
  revoke_token("watcher");
  int64_t took = call_end(&c, at);
  assert_int_equal(c.result, CURLE_OK); /* Ended by the server, not by the client's timeout. */
  assert_true(took < 5000);
  free(tok);
}

/* Signing out ends the event streams of the session. */
static void test_sign_out_ends_event_stream(void **state) {
  (void)state;
  char *tok = ts_token(&srv, "watcher-2", "orchestrator");
  char csrf[128];
  char *cookie = sign_in(tok, csrf);
  assert_non_null(cookie);
  long_call c;
  call_start(&c, "/v1/events/stream", cookie, true);
  char csrf_line[160];
  snprintf(csrf_line, sizeof csrf_line, "X-CSRF-Token: %s", csrf);
  const char *h[] = {cookie, csrf_line, NULL};
  test_resp r;
  int64_t at = now_ms();
  assert_int_equal(tr_headers(&srv, "DELETE", "/v1/session", NULL, NULL, h, &r), 204);
  tr_free(&r);
  int64_t took = call_end(&c, at);
  assert_int_equal(c.result, CURLE_OK);
  assert_true(took < 5000);
  free(cookie);
  free(tok);
}

/* A long-poll of a revoked token ends with 401, not with the task. */
static void test_revocation_ends_long_poll(void **state) {
  (void)state;
  char *tok = ts_token(&srv, "poller", "agent");
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/queues/idq/tasks", tok, "{\"input\":{\"text\":\"polled\"}}", &r), 201);
  char path[160], header[256];
  snprintf(path, sizeof path, "/v1/tasks/%s?wait=60", tj_str(&r, "id"));
  tr_free(&r);
  snprintf(header, sizeof header, "Authorization: Bearer %s", tok);
  long_call c;
  call_start(&c, path, header, false);
  int64_t at = now_ms();
  revoke_token("poller");
  int64_t took = call_end(&c, at);
  assert_int_equal(c.result, CURLE_OK);
  assert_int_equal(c.status, 401);
  assert_true(took < 7000);
  free(tok);
}

/* Sign-ins race a revocation: none of them may leave a working session. */
typedef struct signer {
  const char *token;
  char *cookies[256];
  size_t n;
} signer;

static void *sign_in_until_refused(void *arg) {
  signer *g = arg;
  for (;;) {
    char *cookie = sign_in(g->token, NULL);
    if (cookie == NULL) break;
    if (g->n < 256) g->cookies[g->n++] = cookie;
    else free(cookie);
  }
  return NULL;
}

#define SIGNERS 4
#define ROUNDS 400

static void test_sign_in_racing_revocation(void **state) {
  (void)state;
  size_t leftover = 0, signed_in = 0;
  for (int round = 0; round < ROUNDS; round++) {
    char name[32];
    snprintf(name, sizeof name, "racer-%d", round);
    char *tok = ts_token(&srv, name, "validator");
    signer g[SIGNERS];
    pthread_t t[SIGNERS];
    for (int k = 0; k < SIGNERS; k++) {
      g[k] = (signer){.token = tok};
      assert_int_equal(pthread_create(&t[k], NULL, sign_in_until_refused, &g[k]), 0);
    }
    revoke_token(name);
    for (int k = 0; k < SIGNERS; k++) {
      pthread_join(t[k], NULL);
      for (size_t i = 0; i < g[k].n; i++) {
        signed_in++;
        if (session_works(g[k].cookies[i])) leftover++;
        free(g[k].cookies[i]);
      }
    }
    free(tok);
  }
  print_message("sign-ins during %d revocations: %zu; working sessions left: %zu\n", ROUNDS,
                signed_in, leftover);
  assert_int_equal(leftover, 0);
}

/* A token's sessions are bounded: the 21st sign-in ends the first session. */
static void test_sessions_bounded_per_token(void **state) {
  (void)state;
  char *tok = ts_token(&srv, "many-tabs", "validator");
  char *cookies[21];
  for (int i = 0; i < 21; i++) {
    cookies[i] = sign_in(tok, NULL);
    assert_non_null(cookies[i]);
  }
  assert_false(session_works(cookies[0]));
  for (int i = 1; i < 21; i++) assert_true(session_works(cookies[i]));
  for (int i = 0; i < 21; i++) free(cookies[i]);
  free(tok);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idempotency_key_per_token),
      cmocka_unit_test(test_lease_ops_after_role_removed),
      cmocka_unit_test(test_reserved_token_names),
      cmocka_unit_test(test_webhook_urls_redacted),
      cmocka_unit_test(test_revocation_ends_event_stream),
      cmocka_unit_test(test_sign_out_ends_event_stream),
      cmocka_unit_test(test_revocation_ends_long_poll),
      cmocka_unit_test(test_sign_in_racing_revocation),
      cmocka_unit_test(test_sessions_bounded_per_token),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
