/* SPDX-License-Identifier: MIT */
/* API tests of webhook delivery: a receiver in this process records what the real server POSTs. */
#include <curl/curl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "api/webhook_secret.h"
#include "api/webhooks.h"
#include "harness.h"

#define SECRET_VAR "HITL_WEBHOOK_SECRET"
#define SECRET "whsec-test-0123456789"
#define MAX_HITS 64
#define WAIT_MS 10000

/* One request the receiver got, as it got it. Written once under the mutex, then read-only. */
typedef struct hit {
  char method[8];
  char path[128];
  char delivery[80];     /* X-Hitl-Delivery, "" when absent. */
  char event[64];        /* X-Hitl-Event, "" when absent. */
  char content_type[64];
  char *signature;       /* X-Hitl-Signature (malloc'd), NULL when absent. */
  char webhook_id[80];   /* The Standard Webhooks headers, "" when absent. */
  char webhook_timestamp[24];
  char webhook_signature[2 * HITL_WEBHOOK_SIGNATURE_LEN];
  char *body;            /* NUL-terminated (malloc'd). */
  size_t body_len;
  unsigned status;       /* What the receiver answered. */
  int64_t at_ms;         /* CLOCK_MONOTONIC when the request was complete. */
} hit;

typedef struct receiver {
  struct MHD_Daemon *daemon;
  int port;
  pthread_mutex_t mu;
  hit hits[MAX_HITS];
  int n;                 /* Hits recorded. */
  unsigned fail_status;  /* Answered to the next fail_left requests; then 200. */
  int fail_left;
} receiver;

static test_server srv;
static receiver rcv;
static const char *const fast_retry[] = {"--webhook-retry-ms", "50", NULL};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits 50 ms between two looks at a condition (never in place of looking). */
static void pause_between_polls(void) {
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
}

static void copy_header(struct MHD_Connection *c, const char *name, char *out, size_t cap) {
  const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
  snprintf(out, cap, "%s", v ? v : "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **req) {
  (void)version;
  receiver *rc = cls;
  hit *u = *req; /* The request being read; its body grows as it arrives. */
  if (u == NULL) {
    *req = calloc(1, sizeof(hit));
    return *req ? MHD_YES : MHD_NO;
  }
  if (*size > 0) {
    char *grown = realloc(u->body, u->body_len + *size + 1);
    if (grown == NULL) return MHD_NO;
    memcpy(grown + u->body_len, data, *size);
    u->body = grown;
    u->body_len += *size;
    u->body[u->body_len] = '\0';
    *size = 0;
    return MHD_YES;
  }
  unsigned status = 200;
  pthread_mutex_lock(&rc->mu);
  if (rc->fail_left > 0) {
    rc->fail_left--;
    status = rc->fail_status;
  }
  if (rc->n < MAX_HITS) { /* Later requests are answered but not recorded. */
    hit *h = &rc->hits[rc->n];
    *h = *u;
    u->body = NULL; /* Now the receiver's. */
    if (h->body == NULL) h->body = strdup("");
    snprintf(h->method, sizeof h->method, "%s", method);
    snprintf(h->path, sizeof h->path, "%s", url);
    copy_header(c, "X-Hitl-Delivery", h->delivery, sizeof h->delivery);
    copy_header(c, "X-Hitl-Event", h->event, sizeof h->event);
    copy_header(c, "Content-Type", h->content_type, sizeof h->content_type);
    copy_header(c, "webhook-id", h->webhook_id, sizeof h->webhook_id);
    copy_header(c, "webhook-timestamp", h->webhook_timestamp, sizeof h->webhook_timestamp);
    copy_header(c, "webhook-signature", h->webhook_signature, sizeof h->webhook_signature);
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Hitl-Signature");
    h->signature = sig ? strdup(sig) : NULL;
    h->status = status;
    h->at_ms = mono_ms();
    rc->n++;
  }
  pthread_mutex_unlock(&rc->mu);
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
  enum MHD_Result ret = MHD_queue_response(c, status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req,
                         enum MHD_RequestTerminationCode toe) {
  (void)cls; (void)c; (void)toe;
  hit *u = *req;
  if (u) free(u->body);
  free(u);
  *req = NULL;
}

/* Starts the receiver on 127.0.0.1, port chosen by the system, answering 200 to everything. */
static void rc_start(receiver *rc) {
  memset(rc, 0, sizeof *rc);
  pthread_mutex_init(&rc->mu, NULL);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  rc->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                on_request, rc, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                MHD_OPTION_NOTIFY_COMPLETED, on_completed, rc, MHD_OPTION_END);
  assert_non_null(rc->daemon);
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(rc->daemon, MHD_DAEMON_INFO_BIND_PORT);
  assert_non_null(info);
  rc->port = info->port;
  assert_true(rc->port > 0);
}

static void rc_stop(receiver *rc) {
  if (rc->daemon == NULL) return;
  MHD_stop_daemon(rc->daemon);
  rc->daemon = NULL;
  for (int i = 0; i < rc->n; i++) {
    free(rc->hits[i].signature);
    free(rc->hits[i].body);
  }
  pthread_mutex_destroy(&rc->mu);
}

/* Answers status to the next count requests, then 200. */
static void rc_script(receiver *rc, unsigned status, int count) {
  pthread_mutex_lock(&rc->mu);
  rc->fail_status = status;
  rc->fail_left = count;
  pthread_mutex_unlock(&rc->mu);
}

/* The number of recorded hits; the hits below it can be read without the mutex. */
static int rc_count(receiver *rc) {
  pthread_mutex_lock(&rc->mu);
  int n = rc->n;
  pthread_mutex_unlock(&rc->mu);
  return n;
}

/* Conditions on the recorded hits, looked at with the mutex held. */
typedef bool (*hit_cond)(const receiver *rc, const void *arg);

static bool at_least(const receiver *rc, const void *arg) { return rc->n >= *(const int *)arg; }

static bool saw_event(const receiver *rc, const void *type) {
  for (int i = 0; i < rc->n; i++)
    if (strcmp(rc->hits[i].event, type) == 0) return true;
  return false;
}

static bool delivered_ok(const receiver *rc, const void *delivery) {
  for (int i = 0; i < rc->n; i++)
    if (strcmp(rc->hits[i].delivery, delivery) == 0 && rc->hits[i].status / 100 == 2) return true;
  return false;
}

/* Looks at the hits until done holds, at most ms; returns whether it holds. */
static bool rc_wait(receiver *rc, hit_cond done, const void *arg, int ms) {
  for (int64_t until = mono_ms() + ms;; pause_between_polls()) {
    pthread_mutex_lock(&rc->mu);
    bool ok = done(rc, arg);
    pthread_mutex_unlock(&rc->mu);
    if (ok || mono_ms() >= until) return ok;
  }
}

/* True when header is "t=<seconds>,v1=<hex>" and the hex is HMAC-SHA256(secret, "<t>." body). */
static bool signature_ok(const char *header, const hit *h, const char *secret, long long *t) {
  char hex[65] = "";
  int end = 0;
  if (header == NULL || sscanf(header, "t=%lld,v1=%64[0-9a-f]%n", t, hex, &end) != 2 ||
      header[end] != '\0' || strlen(hex) != 64)
    return false;
  char prefix[32];
  int n = snprintf(prefix, sizeof prefix, "%lld.", *t);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)prefix, (unsigned long long)n);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)h->body, h->body_len);
  crypto_auth_hmacsha256_final(&st, mac);
  char want[65];
  sodium_bin2hex(want, sizeof want, mac, sizeof mac);
  return strcmp(want, hex) == 0;
}

/* Polls the queue's delivery listing (query q) until its newest delivery is in state want with
 * at least min_attempts attempts, at most ms; *out holds the last answer (the caller frees it). */
static bool wait_listing(const char *q, const char *want, long long min_attempts, int ms,
                         test_resp *out) {
  char path[160];
  snprintf(path, sizeof path, "/v1/queues/hooked/webhook-deliveries%s", q);
  for (int64_t until = mono_ms() + ms;; pause_between_polls()) {
    long st = tr(&srv, "GET", path, ADMIN_TOKEN, NULL, out);
    const char *state = tj_str(out, "deliveries.0.state");
    if (st == 200 && state && strcmp(state, want) == 0 &&
        tj_int(out, "deliveries.0.attempts") >= min_attempts)
      return true;
    if (mono_ms() >= until) return false;
    tr_free(out);
  }
}

static size_t deliveries(const test_resp *r) {
  return json_array_size(json_object_get(r->json, "deliveries"));
}

/* Starts the server with fast retries, configures queue "hooked" (a policy accepting everything,
 * one webhook to the receiver with events, a JSON array, or none) and submits one task, decided at
 * once. Returns the task's id (malloc'd). */
static char *start_and_submit(const char *events) {
  ts_start(&srv, fast_retry);
  char *agent = ts_token(&srv, "agent", "agent");
  char cfg[512], ev[128] = "";
  if (events) snprintf(ev, sizeof ev, ",\"events\":%s", events);
  snprintf(cfg, sizeof cfg,
           "{\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"accept\"}}]},"
           "\"webhooks\":[{\"url\":\"http://127.0.0.1:%d/hook\"%s}]}", rcv.port, ev);
  test_resp r;
  long st = tr(&srv, "PUT", "/v1/queues/hooked", ADMIN_TOKEN, cfg, &r);
  if (st != 201) fail_msg("queue: %ld %s", st, r.body);
  tr_free(&r);
  st = tr(&srv, "POST", "/v1/queues/hooked/tasks", agent, "{\"input\":{\"text\":\"hi\"}}", &r);
  if (st != 201) fail_msg("submit: %ld %s", st, r.body);
  assert_string_equal(tj_str(&r, "state"), "decided");
  char *id = strdup(tj_str(&r, "id"));
  tr_free(&r); free(agent);
  return id;
}

static int fresh(void **state) {
  (void)state;
  memset(&srv, 0, sizeof srv);
  unsetenv(SECRET_VAR);
  rc_start(&rcv);
  return 0;
}

static int remove_all(void **state) {
  (void)state;
  ts_cleanup(&srv);
  rc_stop(&rcv);
  unsetenv(SECRET_VAR);
  return 0;
}

/* The receiver itself: it records what it gets and answers as scripted. */
static void test_receiver_records_and_scripts(void **state) {
  (void)state;
  test_server to_receiver = {.port = rcv.port};
  /* The signature is HMAC-SHA256 as Python's hmac module computes it. */
  const char *h[] = {"X-Hitl-Delivery: d_1", "X-Hitl-Event: task.decided",
                     "X-Hitl-Signature: t=1700000000,v1=fbf35324911702367d39e3aad8716d0fa72f088"
                     "66e0813d3561772b924545ec6", NULL};
  rc_script(&rcv, 500, 2);
  const unsigned expect[] = {500, 500, 200};
  for (int i = 0; i < 3; i++) {
    test_resp r;
    long st = tr_headers(&to_receiver, "POST", "/probe", NULL, "{\"n\":1}", h, &r);
    assert_int_equal(st, expect[i]);
    tr_free(&r);
    /* Recorded before it was answered. */
    const hit *x = &rcv.hits[i];
    assert_int_equal(rc_count(&rcv), i + 1);
    assert_string_equal(x->method, "POST");
    assert_string_equal(x->path, "/probe");
    assert_string_equal(x->delivery, "d_1");
    assert_string_equal(x->event, "task.decided");
    assert_string_equal(x->content_type, "application/json");
    assert_string_equal(x->body, "{\"n\":1}");
    assert_int_equal(x->status, expect[i]);
  }
  long long t = 0;
  assert_true(signature_ok(rcv.hits[0].signature, &rcv.hits[0], SECRET, &t));
  assert_int_equal(t, 1700000000);
  assert_false(signature_ok(rcv.hits[0].signature, &rcv.hits[0], "another-secret", &t));
  assert_true(delivered_ok(&rcv, "d_1"));
  assert_false(delivered_ok(&rcv, "d_2"));
}

static void test_decided_by_policy_is_delivered_and_signed(void **state) {
  (void)state;
  setenv(SECRET_VAR, SECRET, 1); /* The server inherits it. */
  char *id = start_and_submit("[\"task.decided\"]");
  int one = 1;
  assert_true(rc_wait(&rcv, at_least, &one, WAIT_MS));
  test_resp r;
  assert_true(wait_listing("", "delivered", 1, WAIT_MS, &r));
  /* Only task.decided was wanted: no delivery was even stored for task.submitted. */
  assert_int_equal(deliveries(&r), 1);
  assert_string_equal(tj_str(&r, "deliveries.0.event_type"), "task.decided");
  tr_free(&r);
  assert_int_equal(rc_count(&rcv), 1);
  const hit *h = &rcv.hits[0];
  assert_string_equal(h->method, "POST");
  assert_string_equal(h->path, "/hook");
  assert_string_equal(h->event, "task.decided");
  assert_non_null(strstr(h->content_type, "application/json"));
  long long t = 0;
  if (!signature_ok(h->signature, h, SECRET, &t)) fail_msg("bad signature: %s", h->signature);
  assert_true(llabs((long long)time(NULL) - t) < 300);
  assert_false(signature_ok(h->signature, h, "another-secret", &t));
  test_resp b = {.json = json_loads(h->body, 0, NULL)};
  assert_non_null(b.json);
  assert_string_equal(tj_str(&b, "delivery_id"), h->delivery);
  /* A policy decides at submit: the event that carried the decision is task.submitted. */
  assert_string_equal(tj_str(&b, "event.type"), "task.submitted");
  assert_string_equal(tj_str(&b, "event.data.decision.by"), "policy");
  assert_string_equal(tj_str(&b, "event.queue"), "hooked");
  assert_string_equal(tj_str(&b, "event.task_id"), id);
  assert_string_equal(tj_str(&b, "task.id"), id);
  assert_string_equal(tj_str(&b, "task.state"), "decided");
  assert_string_equal(tj_str(&b, "task.decision.by"), "policy");
  /* The event is the one the audit log shows. */
  char path[160];
  snprintf(path, sizeof path, "/v1/events?task_id=%s&type=task.submitted", id);
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  json_t *logged = json_array_get(json_object_get(r.json, "events"), 0);
  assert_true(json_equal(logged, json_object_get(b.json, "event")));
  tr_free(&r); tr_free(&b);
  free(id);
}

static void test_retries_until_2xx(void **state) {
  (void)state;
  rc_script(&rcv, 500, 2);
  char *id = start_and_submit("[\"task.decided\"]");
  int three = 3;
  assert_true(rc_wait(&rcv, at_least, &three, WAIT_MS));
  test_resp r;
  assert_true(wait_listing("", "delivered", 3, WAIT_MS, &r));
  assert_int_equal(deliveries(&r), 1);
  assert_int_equal(tj_int(&r, "deliveries.0.attempts"), 3);
  assert_int_equal(tj_int(&r, "deliveries.0.last_status"), 200);
  assert_string_equal(tj_str(&r, "deliveries.0.event_type"), "task.decided");
  assert_true(tj_int(&r, "deliveries.0.event_seq") > 0);
  assert_non_null(tj_str(&r, "deliveries.0.delivered_at"));
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/hook", rcv.port);
  assert_string_equal(tj_str(&r, "deliveries.0.url"), url);
  char *delivery = strdup(tj_str(&r, "deliveries.0.id"));
  tr_free(&r);
  /* The same delivery each time, answered 500, 500, 200, after 50 and then 100 ms at least. */
  assert_int_equal(rc_count(&rcv), 3);
  const unsigned answered[] = {500, 500, 200};
  for (int i = 0; i < 3; i++) {
    assert_string_equal(rcv.hits[i].delivery, delivery);
    assert_int_equal(rcv.hits[i].status, answered[i]);
  }
  assert_true(rcv.hits[1].at_ms - rcv.hits[0].at_ms >= 45);
  assert_true(rcv.hits[2].at_ms - rcv.hits[1].at_ms >= 95);
  /* The state filter. */
  assert_true(wait_listing("?state=delivered&limit=10", "delivered", 3, 0, &r));
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/hooked/webhook-deliveries?state=pending",
                      ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(deliveries(&r), 0);
  tr_free(&r);
  free(delivery); free(id);
}

static void test_survives_sigkill(void **state) {
  (void)state;
  rc_script(&rcv, 503, INT_MAX);
  char *id = start_and_submit("[\"task.decided\"]");
  test_resp r;
  assert_true(wait_listing("", "pending", 1, WAIT_MS, &r));
  assert_int_equal(tj_int(&r, "deliveries.0.last_status"), 503);
  char *delivery = strdup(tj_str(&r, "deliveries.0.id"));
  tr_free(&r);
  ts_stop(&srv, SIGKILL);
  int before = rc_count(&rcv);
  assert_true(before >= 1);
  for (int i = 0; i < before; i++) assert_int_equal(rcv.hits[i].status, 503);
  rc_script(&rcv, 0, 0);
  ts_start(&srv, fast_retry);
  assert_true(rc_wait(&rcv, delivered_ok, delivery, 3 * WAIT_MS));
  assert_true(wait_listing("", "delivered", 2, WAIT_MS, &r));
  /* The same delivery, not a second one made at the restart. */
  assert_int_equal(deliveries(&r), 1);
  assert_string_equal(tj_str(&r, "deliveries.0.id"), delivery);
  assert_int_equal(tj_int(&r, "deliveries.0.last_status"), 200);
  tr_free(&r);
  free(delivery); free(id);
}

static void test_without_secret_no_signature(void **state) {
  (void)state;
  /* No events listed: every event of the queue is delivered, under its own type (the policy's
   * decision comes in task.submitted, once). */
  char *id = start_and_submit(NULL);
  assert_true(rc_wait(&rcv, saw_event, "task.submitted", WAIT_MS));
  int n = rc_count(&rcv);
  for (int i = 0; i < n; i++) {
    const hit *h = &rcv.hits[i];
    if (h->signature) fail_msg("unexpected X-Hitl-Signature: %s", h->signature);
    assert_true(h->delivery[0] != '\0');
    test_resp b = {.json = json_loads(h->body, 0, NULL)};
    assert_non_null(b.json);
    assert_string_equal(tj_str(&b, "delivery_id"), h->delivery);
    assert_string_equal(tj_str(&b, "event.type"), h->event);
    if (strncmp(h->event, "task.", 5) == 0) assert_string_equal(tj_str(&b, "task.id"), id);
    tr_free(&b);
  }
  /* One event, one delivery: the decision it carried was not sent a second time. */
  test_resp r;
  assert_true(wait_listing("", "delivered", 1, WAIT_MS, &r));
  assert_int_equal(deliveries(&r), 1);
  tr_free(&r);
  free(id);
}

/* The review gate's case: a person approves, and the webhook for task.decided tells the caller. */
static void test_human_decision_is_delivered(void **state) {
  (void)state;
  ts_start(&srv, fast_retry);
  char *agent = ts_token(&srv, "agent", "agent");
  char *reviewer = ts_token(&srv, "rev", "validator");
  char cfg[512];
  snprintf(cfg, sizeof cfg,
           "{\"webhooks\":[{\"url\":\"http://127.0.0.1:%d/hook\",\"events\":[\"task.decided\"]}]}",
           rcv.port);
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/hooked", ADMIN_TOKEN, cfg, &r), 201);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/hooked/tasks", agent, "{\"input\":{\"text\":\"x\"}}",
                      &r), 201);
  assert_string_equal(tj_str(&r, "state"), "pending");
  char *id = strdup(tj_str(&r, "id"));
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/hooked/claim", reviewer, NULL, &r), 200);
  char body[160], path[96];
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", tj_str(&r, "lease.id"));
  tr_free(&r);
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  assert_int_equal(tr(&srv, "POST", path, reviewer, body, &r), 200);
  tr_free(&r);
  assert_true(rc_wait(&rcv, saw_event, "task.decided", WAIT_MS));
  assert_int_equal(rc_count(&rcv), 1); /* Submitted, leased and responded were not wanted. */
  test_resp b = {.json = json_loads(rcv.hits[0].body, 0, NULL)};
  assert_non_null(b.json);
  assert_string_equal(tj_str(&b, "event.type"), "task.decided");
  assert_string_equal(tj_str(&b, "task.id"), id);
  assert_string_equal(tj_str(&b, "task.decision.by"), "human");
  assert_string_equal(tj_str(&b, "task.decision.outcome"), "approve");
  tr_free(&b);
  free(id); free(agent); free(reviewer);
}

/* A receiver that never takes a delivery: after the last attempt it is failed, not retried. */
static void test_gives_up_after_the_last_attempt(void **state) {
  (void)state;
  rc_script(&rcv, 500, 1000);
  /* The whole schedule (28 hours at the default) in 1 ms units: about 11 s. */
  const char *const args[] = {"--webhook-retry-ms", "1", NULL};
  ts_start(&srv, args);
  char *agent = ts_token(&srv, "agent", "agent");
  char cfg[512];
  snprintf(cfg, sizeof cfg,
           "{\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"accept\"}}]},"
           "\"webhooks\":[{\"url\":\"http://127.0.0.1:%d/hook\"}]}", rcv.port);
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/hooked", ADMIN_TOKEN, cfg, &r), 201);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/hooked/tasks", agent, "{\"input\":{}}", &r), 201);
  tr_free(&r);
  assert_true(wait_listing("", "failed", HITL_WEBHOOK_MAX_ATTEMPTS, 90000, &r));
  assert_int_equal(tj_int(&r, "deliveries.0.attempts"), HITL_WEBHOOK_MAX_ATTEMPTS);
  assert_int_equal(tj_int(&r, "deliveries.0.last_status"), 500);
  assert_non_null(strstr(tj_str(&r, "deliveries.0.last_error"), "500"));
  json_t *d = json_array_get(json_object_get(r.json, "deliveries"), 0);
  assert_true(json_is_null(json_object_get(d, "next_attempt_at"))); /* No attempt is coming. */
  tr_free(&r);
  assert_int_equal(rc_count(&rcv), HITL_WEBHOOK_MAX_ATTEMPTS);
  assert_int_equal(tr(&srv, "GET", "/metrics", ADMIN_TOKEN, NULL, &r), 200);
  assert_non_null(strstr(r.body, "hitl_webhook_attempts_total{result=\"failed\"} 1"));
  assert_non_null(strstr(r.body, "hitl_webhook_attempts_total{result=\"retry\"} 15"));
  tr_free(&r);

  /* Redelivered once the receiver takes it: a new round, the same webhook-id. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues/hooked/webhook-deliveries", ADMIN_TOKEN, NULL, &r),
                   200);
  char id[80], path[200];
  snprintf(id, sizeof id, "%s", tj_str(&r, "deliveries.0.id"));
  tr_free(&r);
  rc_script(&rcv, 500, 0);
  snprintf(path, sizeof path, "/v1/queues/hooked/webhook-deliveries/%s/redeliver", id);
  assert_int_equal(tr(&srv, "POST", path, ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "id"), id);
  assert_string_equal(tj_str(&r, "state"), "pending");
  assert_int_equal(tj_int(&r, "attempts"), 0);
  tr_free(&r);
  assert_true(wait_listing("", "delivered", 1, WAIT_MS, &r));
  assert_int_equal(tj_int(&r, "deliveries.0.attempts"), 1);
  tr_free(&r);
  assert_int_equal(rc_count(&rcv), HITL_WEBHOOK_MAX_ATTEMPTS + 1);
  assert_string_equal(rcv.hits[HITL_WEBHOOK_MAX_ATTEMPTS].webhook_id, id);
  assert_string_equal(rcv.hits[HITL_WEBHOOK_MAX_ATTEMPTS].webhook_id, rcv.hits[0].webhook_id);

  /* A delivered one may be sent again too; unknown ids are not found. */
  assert_int_equal(tr(&srv, "POST", path, ADMIN_TOKEN, NULL, &r), 200);
  tr_free(&r);
  int again = HITL_WEBHOOK_MAX_ATTEMPTS + 2;
  assert_true(rc_wait(&rcv, at_least, &again, WAIT_MS));
  assert_string_equal(rcv.hits[again - 1].webhook_id, id);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/hooked/webhook-deliveries/wh_nope/redeliver",
                      ADMIN_TOKEN, NULL, &r), 404);
  assert_string_equal(tj_str(&r, "error.field"), "delivery");
  tr_free(&r);
  snprintf(path, sizeof path, "/v1/queues/other/webhook-deliveries/%s/redeliver", id);
  assert_int_equal(tr(&srv, "POST", path, ADMIN_TOKEN, NULL, &r), 404);
  tr_free(&r);
  free(agent);
}

/* A pending delivery is not redelivered: its attempts go on. */
static void test_redeliver_pending_conflicts(void **state) {
  (void)state;
  rc_script(&rcv, 503, 1000);
  const char *const slow[] = {"--webhook-retry-ms", "3600000", NULL};
  ts_start(&srv, slow);
  char cfg[256];
  snprintf(cfg, sizeof cfg, "{\"webhooks\":[{\"url\":\"http://127.0.0.1:%d/hook\"}]}",
           rcv.port);
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/hooked", ADMIN_TOKEN, cfg, &r), 201);
  tr_free(&r);
  char *agent = ts_token(&srv, "agent", "agent");
  assert_int_equal(tr(&srv, "POST", "/v1/queues/hooked/tasks", agent, "{\"input\":{}}", &r), 201);
  tr_free(&r);
  assert_true(wait_listing("", "pending", 1, WAIT_MS, &r));
  char path[200];
  snprintf(path, sizeof path, "/v1/queues/hooked/webhook-deliveries/%s/redeliver",
           tj_str(&r, "deliveries.0.id"));
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", path, ADMIN_TOKEN, NULL, &r), 409);
  assert_string_equal(tj_str(&r, "error.field"), "delivery");
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", path, agent, NULL, &r), 403);
  tr_free(&r);
  free(agent);
}

/* True when hit h carries the Standard Webhooks headers and its webhook-signature is exactly the
 * signatures of secrets (in order) over webhook-id, webhook-timestamp and the body. */
static bool standard_signature_ok(const hit *h, const char *const *secrets, size_t n) {
  char want[2 * HITL_WEBHOOK_SIGNATURE_LEN];
  long long t = atoll(h->webhook_timestamp);
  if (h->webhook_id[0] == '\0' || t <= 0 || llabs((long long)time(NULL) - t) > 300) return false;
  if (hitl__webhook_signature(secrets, n, h->webhook_id, t, h->body, h->body_len, want,
                              sizeof want) != 0)
    return false;
  return strcmp(want, h->webhook_signature) == 0;
}

/* Per-webhook secrets: generated and shown once, never read back, kept across PUTs, rotated
 * with two signatures for a while; a secret in the wrong form changes nothing. */
static void test_standard_signatures_and_secrets(void **state) {
  (void)state;
  ts_start(&srv, fast_retry);
  char *agent = ts_token(&srv, "agent", "agent");
  char cfg[512];
  snprintf(cfg, sizeof cfg,
           "{\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"accept\"}}]},"
           "\"webhooks\":[{\"url\":\"http://127.0.0.1:%d/hook\",\"events\":[\"task.decided\"]}]}",
           rcv.port);
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/hooked", ADMIN_TOKEN, cfg, &r), 201);
  char first[HITL_WEBHOOK_SECRET_LEN];
  snprintf(first, sizeof first, "%s", tj_str(&r, "webhook_secrets.0.secret"));
  assert_true(hitl__webhook_secret_valid(first));
  assert_non_null(strstr(tj_str(&r, "webhook_secrets.0.url"), "/hook"));
  tr_free(&r);
  /* GET never shows it, to an orchestrator neither: a hint only. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues/hooked", ADMIN_TOKEN, NULL, &r), 200);
  assert_null(strstr(r.body, first));
  assert_null(tj_str(&r, "webhook_secrets.0.secret"));
  char hint[HITL_WEBHOOK_HINT_LEN];
  hitl__webhook_secret_hint(first, hint);
  assert_string_equal(tj_str(&r, "config.webhooks.0.secret_hint"), hint);
  char *before = json_dumps(json_object_get(r.json, "config"), JSON_SORT_KEYS);
  tr_free(&r);

  /* A secret in the wrong form: 400 naming the field, and nothing stored changes. */
  const char *bad[] = {"\"whsec_c2hvcnQ=\"", "\"not-a-secret\"", "7",
                       "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw!\""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"webhooks\":[{\"url\":\"http://127.0.0.1:%d/hook\",\"secret\":%s}]}", rcv.port,
             bad[i]);
    assert_int_equal(tr(&srv, "PUT", "/v1/queues/hooked", ADMIN_TOKEN, body, &r), 400);
    assert_string_equal(tj_str(&r, "error.code"), "validation_failed");
    assert_string_equal(tj_str(&r, "error.field"), "webhooks[0].secret");
    tr_free(&r);
  }
  assert_int_equal(tr(&srv, "GET", "/v1/queues/hooked", ADMIN_TOKEN, NULL, &r), 200);
  char *after = json_dumps(json_object_get(r.json, "config"), JSON_SORT_KEYS);
  assert_string_equal(before, after);
  free(after);
  tr_free(&r);

  /* A delivery is signed with it; webhook-id is the delivery's id. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/hooked/tasks", agent, "{\"input\":{}}", &r), 201);
  tr_free(&r);
  int one = 1, two = 2;
  assert_true(rc_wait(&rcv, at_least, &one, WAIT_MS));
  const char *s1[] = {first};
  assert_string_equal(rcv.hits[0].webhook_id, rcv.hits[0].delivery);
  if (!standard_signature_ok(&rcv.hits[0], s1, 1))
    fail_msg("bad webhook-signature: %s", rcv.hits[0].webhook_signature);
  assert_null(rcv.hits[0].signature); /* No server-wide secret: no X-Hitl-Signature. */

  /* PUT again what GET showed: the same secret. Then rotate: both sign for a while. */
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/hooked", ADMIN_TOKEN, before, &r), 200);
  assert_null(tj_str(&r, "webhook_secrets.0.secret"));
  assert_string_equal(tj_str(&r, "config.webhooks.0.secret_hint"), hint);
  tr_free(&r);
  snprintf(cfg, sizeof cfg,
           "{\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"accept\"}}]},"
           "\"webhooks\":[{\"url\":\"http://127.0.0.1:%d/hook\",\"rotate_secret\":true}]}",
           rcv.port);
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/hooked", ADMIN_TOKEN, cfg, &r), 200);
  char second[HITL_WEBHOOK_SECRET_LEN];
  snprintf(second, sizeof second, "%s", tj_str(&r, "webhook_secrets.0.secret"));
  assert_true(hitl__webhook_secret_valid(second));
  assert_string_not_equal(first, second);
  assert_string_equal(tj_str(&r, "config.webhooks.0.previous_secret_hint"), hint);
  assert_non_null(tj_str(&r, "config.webhooks.0.rotation_ends_at"));
  assert_null(strstr(r.body, first));
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/hooked/tasks", agent, "{\"input\":{}}", &r), 201);
  tr_free(&r);
  assert_true(rc_wait(&rcv, at_least, &two, WAIT_MS));
  const char *s2[] = {second, first};
  const hit *h = &rcv.hits[rc_count(&rcv) - 1];
  if (!standard_signature_ok(h, s2, 2)) fail_msg("bad webhook-signature: %s", h->webhook_signature);
  free(before);
  free(agent);
}

static void test_bad_config(void **state) {
  (void)state;
  ts_start(&srv, NULL);
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/badhook", ADMIN_TOKEN,
                      "{\"webhooks\":[{\"url\":\"ftp://x\"}]}", &r), 400);
  assert_string_equal(tj_str(&r, "error.code"), "validation_failed");
  assert_string_equal(tj_str(&r, "error.field"), "webhooks[0].url");
  tr_free(&r);
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/badhook", ADMIN_TOKEN,
                      "{\"webhooks\":[{\"url\":\"http://127.0.0.1:1/\","
                      "\"events\":\"task.decided\"}]}", &r), 400);
  assert_string_equal(tj_str(&r, "error.field"), "webhooks[0].events");
  tr_free(&r);
  /* Nothing was stored. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues/badhook", ADMIN_TOKEN, NULL, &r), 404);
  tr_free(&r);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (sodium_init() < 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_receiver_records_and_scripts, fresh, remove_all),
      cmocka_unit_test_setup_teardown(test_bad_config, fresh, remove_all),
      cmocka_unit_test_setup_teardown(test_standard_signatures_and_secrets, fresh, remove_all),
      cmocka_unit_test_setup_teardown(test_decided_by_policy_is_delivered_and_signed, fresh,
                                      remove_all),
      cmocka_unit_test_setup_teardown(test_retries_until_2xx, fresh, remove_all),
      cmocka_unit_test_setup_teardown(test_survives_sigkill, fresh, remove_all),
      cmocka_unit_test_setup_teardown(test_without_secret_no_signature, fresh, remove_all),
      cmocka_unit_test_setup_teardown(test_human_decision_is_delivered, fresh, remove_all),
      cmocka_unit_test_setup_teardown(test_gives_up_after_the_last_attempt, fresh, remove_all),
      cmocka_unit_test_setup_teardown(test_redeliver_pending_conflicts, fresh, remove_all),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
