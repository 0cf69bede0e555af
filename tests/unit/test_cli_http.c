/* SPDX-License-Identifier: MIT */
/* The client commands against a scripted in-process HTTP server: requests sent, outputs, exit
 * codes. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "cli/client.h"
#include "cli/commands.h"
#include "util/buf.h"

#define MAX_REQUESTS 8

/* The scripted server: it answers every request with one status and body, and records requests. */
typedef struct fake {
  struct MHD_Daemon *daemon;
  char base[64]; /* "http://127.0.0.1:PORT". */
  pthread_mutex_t mu;
  unsigned status; /* The answer. */
  const char *body;
  int requests;               /* Requests seen since the last reset. */
  char method[16];            /* Of the last request. */
  char path[512];             /* As sent, still percent-encoded. */
  char query[256];            /* "name=value&..." of the arguments, as sent. */
  char auth[256];             /* Authorization header, "" when absent. */
  char idempotency[128];      /* Idempotency-Key header, "" when absent. */
  char *bodies[MAX_REQUESTS]; /* Request bodies in order. */
} fake;

static fake srv;

/* Keeps the URL as it came, so that the tests see the percent-encoding on the wire. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  (void)c;
  return strlen(s);
}

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value) {
  (void)kind;
  fake *f = cls;
  size_t n = strlen(f->query);
  snprintf(f->query + n, sizeof f->query - n, "%s%s=%s", n ? "&" : "", key, value ? value : "");
  return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **state) {
  (void)version;
  fake *f = cls;
  hitl_buf *body = *state;
  if (body == NULL) {
    body = calloc(1, sizeof *body);
    *state = body;
    return MHD_YES;
  }
  if (*upload_size) {
    hitl_buf_append(body, upload, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  pthread_mutex_lock(&f->mu);
  if (f->requests < MAX_REQUESTS) f->bodies[f->requests] = strdup(hitl_buf_cstr(body));
  f->requests++;
  snprintf(f->method, sizeof f->method, "%s", method);
  snprintf(f->path, sizeof f->path, "%s", url);
  f->query[0] = '\0';
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_query, f);
  const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
  const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Idempotency-Key");
  snprintf(f->auth, sizeof f->auth, "%s", auth ? auth : "");
  snprintf(f->idempotency, sizeof f->idempotency, "%s", key ? key : "");
  struct MHD_Response *r =
      MHD_create_response_from_buffer(strlen(f->body), (void *)f->body, MHD_RESPMEM_MUST_COPY);
  unsigned status = f->status;
  pthread_mutex_unlock(&f->mu);
  enum MHD_Result ret = MHD_queue_response(conn, status, r);
  MHD_destroy_response(r);
  return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **state,
                      enum MHD_RequestTerminationCode code) {
  (void)cls;
  (void)c;
  (void)code;
  hitl_buf *body = *state;
  if (body) hitl_buf_free(body);
  free(body);
  *state = NULL;
}

/* Sets the next answer and forgets the requests seen so far. */
static void answer(unsigned status, const char *body) {
  pthread_mutex_lock(&srv.mu);
  srv.status = status;
  srv.body = body;
  for (int i = 0; i < MAX_REQUESTS; i++) {
    free(srv.bodies[i]);
    srv.bodies[i] = NULL;
  }
  srv.requests = 0;
  srv.method[0] = srv.path[0] = srv.query[0] = srv.auth[0] = srv.idempotency[0] = '\0';
  pthread_mutex_unlock(&srv.mu);
}

static int setup(void **state) {
  (void)state;
  unsetenv("HITL_URL");
  unsetenv("HITL_TOKEN");
  curl_global_init(CURL_GLOBAL_DEFAULT);
  pthread_mutex_init(&srv.mu, NULL);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  srv.daemon =
      MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle,
                       &srv, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape,
                       NULL, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
  if (srv.daemon == NULL) return -1;
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv.daemon, MHD_DAEMON_INFO_BIND_PORT);
  snprintf(srv.base, sizeof srv.base, "http://127.0.0.1:%u", (unsigned)info->port);
  answer(200, "{}");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  MHD_stop_daemon(srv.daemon);
  answer(200, "");
  pthread_mutex_destroy(&srv.mu);
  curl_global_cleanup();
  return 0;
}

/* What a command printed. */
typedef struct output {
  char out[8192];
  char err[2048];
} output;

/* Reads all of f from the start into buf (size n), NUL-terminated. */
static void slurp(FILE *f, char *buf, size_t n) {
  rewind(f);
  size_t got = fread(buf, 1, n - 1, f);
  buf[got] = '\0';
}

/* Runs cmd with the NULL-terminated words (the command's name first), adding --url of the fake
 * server, and captures standard output and error into o. Returns the exit code. */
static int run(int (*cmd)(int, char **), output *o, ...) {
  char *argv[40];
  int argc = 0;
  va_list ap;
  va_start(ap, o);
  for (char *w; (w = va_arg(ap, char *)) != NULL && argc < 36;) argv[argc++] = w;
  va_end(ap);
  argv[argc++] = "--url";
  argv[argc++] = srv.base;
  argv[argc] = NULL;
  fflush(stdout);
  fflush(stderr);
  FILE *out = tmpfile(), *err = tmpfile();
  int saved_out = dup(1), saved_err = dup(2);
  dup2(fileno(out), 1);
  dup2(fileno(err), 2);
  int code = cmd(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  slurp(out, o->out, sizeof o->out);
  slurp(err, o->err, sizeof o->err);
  fclose(out);
  fclose(err);
  return code;
}

/* Asserts that the JSON text got equals want as a value. */
static void assert_json_eq(const char *got, const char *want) {
  json_t *g = json_loads(got, JSON_DECODE_ANY, NULL), *w = json_loads(want, JSON_DECODE_ANY, NULL);
  assert_non_null(w);
  if (g == NULL || !json_equal(g, w)) fail_msg("got %s, want %s", got, want);
  json_decref(g);
  json_decref(w);
}

static void test_queue_get_encodes_and_prints(void **state) {
  (void)state;
  output o;
  answer(200, "{\"name\":\"a b/c\",\"policy\":{\"rules\":[]},\"threshold\":0.8}");
  assert_int_equal(run(hitl__cmd_queue, &o, "queue", "get", "a b/c", "--token", "tok_1", NULL),
                   HITL_EXIT_OK);
  assert_string_equal(srv.method, "GET");
  assert_string_equal(srv.path, "/v1/queues/a%20b%2Fc");
  assert_string_equal(srv.auth, "Bearer tok_1");
  assert_string_equal(o.out,
                      "{\n  \"name\": \"a b/c\",\n  \"policy\": {\n    \"rules\": []\n  },\n"
                      "  \"threshold\": 0.8\n}\n");
  assert_null(strstr(o.out, "tok_1"));
  assert_null(strstr(o.err, "tok_1"));
}

static void test_queue_put_and_list(void **state) {
  (void)state;
  output o;
  char path[] = "/tmp/hitl_test_cli_http_XXXXXX";
  int fd = mkstemp(path);
  const char *config = "{\"assignment\": {\"overlap\": 1}}\n";
  assert_int_equal(write(fd, config, strlen(config)), (ssize_t)strlen(config));
  close(fd);
  answer(200, "{\"name\":\"q\"}");
  assert_int_equal(run(hitl__cmd_queue, &o, "queue", "put", "q", path, NULL), HITL_EXIT_OK);
  assert_string_equal(srv.method, "PUT");
  assert_string_equal(srv.path, "/v1/queues/q");
  assert_string_equal(srv.bodies[0], config); /* Sent as written. */
  assert_string_equal(srv.auth, "");
  unlink(path);
  answer(200, "{\"queues\":[]}");
  assert_int_equal(run(hitl__cmd_queue, &o, "queue", "list", NULL), HITL_EXIT_OK);
  assert_string_equal(srv.path, "/v1/queues");
  assert_int_equal(run(hitl__cmd_queue, &o, "queue", "put", "q", path, NULL), HITL_EXIT_FAILURE);
  assert_int_equal(run(hitl__cmd_queue, &o, "queue", "drop", "q", NULL), HITL_EXIT_USAGE);
  assert_int_equal(srv.requests, 1);
}

static void test_errors_map_to_exit_codes(void **state) {
  (void)state;
  output o;
  answer(404, "{\"error\":{\"code\":\"not_found\",\"message\":\"no task t_9\",\"field\":\"id\"}}");
  assert_int_equal(run(hitl__cmd_task, &o, "task", "t_9", NULL), HITL_EXIT_NOT_FOUND);
  assert_string_equal(o.err, "hitl: not_found: no task t_9 (field: id)\n");
  assert_string_equal(o.out, "");
  answer(409, "{\"error\":{\"code\":\"conflict\",\"message\":\"lease lost\"}}");
  assert_int_equal(run(hitl__cmd_release, &o, "release", "t_1", "--lease", "l_1", NULL),
                   HITL_EXIT_CONFLICT);
  assert_string_equal(srv.path, "/v1/tasks/t_1/release");
  assert_json_eq(srv.bodies[0], "{\"lease_id\":\"l_1\"}");
  answer(401, "{\"error\":{\"code\":\"unauthorized\",\"message\":\"no token\"}}");
  assert_int_equal(run(hitl__cmd_cancel, &o, "cancel", "t_1", NULL), HITL_EXIT_AUTH);
  assert_non_null(strstr(o.err, "hint"));
  assert_string_equal(srv.method, "POST");
  assert_string_equal(srv.path, "/v1/tasks/t_1/cancel");
  answer(403, "{\"error\":{\"code\":\"forbidden\",\"message\":\"role\"}}");
  assert_int_equal(run(hitl__cmd_cancel, &o, "cancel", "t_1", "--token", "x", NULL),
                   HITL_EXIT_AUTH);
  assert_null(strstr(o.err, "hint"));
  answer(503, "{\"error\":{\"code\":\"unavailable\",\"message\":\"draining\"}}");
  assert_int_equal(run(hitl__cmd_events, &o, "events", NULL), HITL_EXIT_SERVER);
  answer(400,
         "{\"error\":{\"code\":\"validation_failed\",\"message\":\"bad\",\"field\":\"state\"}}");
  assert_int_equal(run(hitl__cmd_tasks, &o, "tasks", "q", "--state", "odd", NULL),
                   HITL_EXIT_FAILURE);
  assert_string_equal(o.err, "hitl: validation_failed: bad (field: state)\n");
}

static void test_claim(void **state) {
  (void)state;
  output o;
  answer(204, "");
  assert_int_equal(run(hitl__cmd_claim, &o, "claim", "inbox", NULL), HITL_EXIT_EMPTY);
  assert_string_equal(srv.method, "POST");
  assert_string_equal(srv.path, "/v1/queues/inbox/claim");
  assert_non_null(strstr(o.err, "inbox"));
  assert_string_equal(o.out, "");
  answer(200,
         "{\"id\":\"t_1\",\"lease\":{\"id\":\"l_1\",\"expires_at\":\"2030-01-01T00:00:00Z\"}}");
  assert_int_equal(run(hitl__cmd_claim, &o, "claim", "inbox", NULL), HITL_EXIT_OK);
  assert_non_null(strstr(o.out, "\"l_1\""));
}

static void test_respond_sends_body(void **state) {
  (void)state;
  output o;
  answer(201, "{\"task\":{\"id\":\"t_1\",\"state\":\"decided\"}}");
  assert_int_equal(run(hitl__cmd_respond, &o, "respond", "t_1", "--lease", "l_1", "--label", "spam",
                       "--question", "category", "--comment", "obvious", NULL),
                   HITL_EXIT_OK);
  assert_string_equal(srv.method, "POST");
  assert_string_equal(srv.path, "/v1/tasks/t_1/responses");
  assert_json_eq(srv.bodies[0],
                 "{\"lease_id\":\"l_1\",\"kind\":\"label\",\"value\":\"spam\","
                 "\"question\":\"category\",\"comment\":\"obvious\"}");
  answer(201, "{}");
  assert_int_equal(run(hitl__cmd_respond, &o, "respond", "t_1", "--label", "spam", NULL),
                   HITL_EXIT_USAGE);
  assert_int_equal(srv.requests, 0);
}

static void test_task_wait(void **state) {
  (void)state;
  output o;
  answer(200, "{\"id\":\"t_1\",\"state\":\"pending\"}");
  assert_int_equal(run(hitl__cmd_task, &o, "task", "t_1", "--wait", "0", NULL), HITL_EXIT_EMPTY);
  assert_string_equal(srv.path, "/v1/tasks/t_1");
  assert_string_equal(srv.query, "wait=0");
  assert_non_null(strstr(o.out, "pending")); /* The task is printed all the same. */
  assert_non_null(strstr(o.err, "still pending"));
  answer(200, "{\"id\":\"t_1\",\"state\":\"decided\",\"decision\":{\"by\":\"human\"}}");
  assert_int_equal(run(hitl__cmd_task, &o, "task", "t_1", "--wait", "30", NULL), HITL_EXIT_OK);
  assert_string_equal(srv.query, "wait=30");
  /* Longer than the server's 120 s per request: asked in pieces of 120 s; a server that answers
   * early (as one does when stopping) ends the wait rather than being asked in a loop. */
  answer(200, "{\"id\":\"t_1\",\"state\":\"pending\"}");
  assert_int_equal(run(hitl__cmd_task, &o, "task", "t_1", "--wait", "500", NULL), HITL_EXIT_EMPTY);
  assert_string_equal(srv.query, "wait=120");
  assert_int_equal(srv.requests, 1);
  answer(200, "{\"id\":\"t_1\",\"state\":\"pending\"}");
  assert_int_equal(run(hitl__cmd_task, &o, "task", "t_1", NULL), HITL_EXIT_OK); /* No wait. */
  assert_string_equal(srv.query, "");
  assert_int_equal(run(hitl__cmd_task, &o, "task", "t_1", "--wait", "soon", NULL), HITL_EXIT_USAGE);
}

static void test_tasks_events_query(void **state) {
  (void)state;
  output o;
  answer(200, "{\"tasks\":[],\"next_cursor\":null}");
  assert_int_equal(run(hitl__cmd_tasks, &o, "tasks", "q", "--state", "pending", "--limit", "5",
                       "--cursor", "c/1=", NULL),
                   HITL_EXIT_OK);
  assert_string_equal(srv.path, "/v1/queues/q/tasks");
  assert_string_equal(srv.query, "state=pending&limit=5&cursor=c%2F1%3D");
  answer(200, "{\"events\":[]}");
  assert_int_equal(run(hitl__cmd_events, &o, "events", "--after", "42", NULL), HITL_EXIT_OK);
  assert_string_equal(srv.path, "/v1/events");
  assert_string_equal(srv.query, "after=42");
  assert_int_equal(run(hitl__cmd_events, &o, "events", NULL), HITL_EXIT_OK);
  assert_string_equal(srv.query, "after=0");
}

static void test_submit(void **state) {
  (void)state;
  output o;
  char path[] = "/tmp/hitl_test_cli_http_XXXXXX";
  int fd = mkstemp(path);
  const char *task = "{\"input\":{\"text\":\"hi\"},\"confidence\":0.42}";
  assert_int_equal(write(fd, task, strlen(task)), (ssize_t)strlen(task));
  close(fd);
  answer(201, "{\"id\":\"t_1\",\"state\":\"pending\"}");
  assert_int_equal(run(hitl__cmd_submit, &o, "submit", "q", path, "--idempotency-key", "k-1", NULL),
                   HITL_EXIT_OK);
  assert_string_equal(srv.path, "/v1/queues/q/tasks");
  assert_string_equal(srv.idempotency, "k-1");
  assert_string_equal(srv.bodies[0], task);
  unlink(path);

  /* 1500 JSON Lines go as two batches. */
  strcpy(path, "/tmp/hitl_test_cli_http_XXXXXX");
  fd = mkstemp(path);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  for (int i = 0; i < 1500; i++) fprintf(f, "{\"input\":{\"n\":%d}}\n", i);
  fclose(f);
  answer(201, "{\"tasks\":[]}");
  assert_int_equal(run(hitl__cmd_submit, &o, "submit", "--jsonl", "q", path, NULL), HITL_EXIT_OK);
  assert_int_equal(srv.requests, 2);
  assert_string_equal(srv.path, "/v1/queues/q/tasks/batch");
  json_t *b0 = json_loads(srv.bodies[0], 0, NULL), *b1 = json_loads(srv.bodies[1], 0, NULL);
  assert_int_equal(json_array_size(json_object_get(b0, "tasks")), 1000);
  assert_int_equal(json_array_size(json_object_get(b1, "tasks")), 500);
  json_decref(b0);
  json_decref(b1);
  /* A failing batch stops the run and says how far it got. */
  answer(413, "{\"error\":{\"code\":\"too_large\",\"message\":\"too big\"}}");
  assert_int_equal(run(hitl__cmd_submit, &o, "submit", "--jsonl", "q", path, NULL),
                   HITL_EXIT_FAILURE);
  assert_int_equal(srv.requests, 1);
  assert_non_null(strstr(o.err, "0 of 1500 tasks were submitted"));
  /* Without --jsonl, JSON Lines are not one JSON document. */
  assert_int_equal(run(hitl__cmd_submit, &o, "submit", "q", path, NULL), HITL_EXIT_FAILURE);
  assert_non_null(strstr(o.err, "--jsonl"));
  assert_int_equal(srv.requests, 1);
  assert_int_equal(
      run(hitl__cmd_submit, &o, "submit", "q", path, "--jsonl", "--idempotency-key", "k", NULL),
      HITL_EXIT_USAGE);
  unlink(path);
}

static void test_export_streams(void **state) {
  (void)state;
  output o;
  answer(200, "{\"a\":0.1}\n{\"a\":2}\n");
  assert_int_equal(run(hitl__cmd_export, &o, "export", "q", "--format", "dpo", NULL), HITL_EXIT_OK);
  assert_string_equal(srv.path, "/v1/queues/q/export");
  assert_string_equal(srv.query, "format=dpo");
  assert_string_equal(o.out, "{\"a\":0.1}\n{\"a\":2}\n"); /* Byte for byte, not reformatted. */
  answer(200, "");
  assert_int_equal(run(hitl__cmd_export, &o, "export", "q", "--format", "sft", "--since",
                       "2026-11-23T00:00:00Z", "--model-version", "m 2", NULL),
                   HITL_EXIT_OK);
  assert_string_equal(srv.query, "format=sft&since=2026-11-23T00%3A00%3A00Z&model_version=m%202");
  answer(404, "{\"error\":{\"code\":\"not_found\",\"message\":\"no queue q\"}}");
  assert_int_equal(run(hitl__cmd_export, &o, "export", "q", NULL), HITL_EXIT_NOT_FOUND);
  assert_string_equal(o.out, "");
  assert_string_equal(o.err, "hitl: not_found: no queue q\n");
}

static void test_token_create(void **state) {
  (void)state;
  output o;
  answer(201, "{\"token\":\"hitl_secret\",\"name\":\"bot\",\"roles\":[\"agent\",\"arbiter\"]}");
  assert_int_equal(run(hitl__cmd_token, &o, "token", "create", "--name", "bot", "--roles",
                       "agent,arbiter", NULL),
                   HITL_EXIT_OK);
  assert_string_equal(srv.path, "/v1/tokens");
  assert_json_eq(srv.bodies[0], "{\"name\":\"bot\",\"roles\":[\"agent\",\"arbiter\"]}");
  assert_string_equal(o.out, "hitl_secret\n");
  assert_non_null(strstr(o.err, "once"));
  answer(201, "{\"name\":\"bot\"}");
  assert_int_equal(
      run(hitl__cmd_token, &o, "token", "create", "--name", "bot", "--roles", "agent", NULL),
      HITL_EXIT_FAILURE);
  assert_int_equal(run(hitl__cmd_token, &o, "token", "create", "--name", "bot", NULL),
                   HITL_EXIT_USAGE);
  assert_int_equal(run(hitl__cmd_token, &o, "token", "generate", NULL), HITL_EXIT_OK);
  assert_int_equal(strlen(o.out), 5 + 52 + 1);
  assert_memory_equal(o.out, "hitl_", 5);
}

static void test_unreachable(void **state) {
  (void)state;
  /* A port that was just free: a stopped daemon's. */
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle,
                                          &srv, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_END);
  assert_non_null(d);
  unsigned port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
  MHD_stop_daemon(d);
  hitl__cli_conn c = {.base_url = "http://127.0.0.1", .token = NULL};
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/queues", port);
  hitl__cli_reply r;
  hitl_err err = {0};
  assert_int_equal(hitl__cli_http(&c, "GET", url, NULL, 0, NULL, NULL, &r, &err),
                   HITL_EUNAVAILABLE);
  assert_true(err.message[0] != '\0');
  assert_null(r.body.data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_queue_get_encodes_and_prints),
      cmocka_unit_test(test_queue_put_and_list),
      cmocka_unit_test(test_errors_map_to_exit_codes),
      cmocka_unit_test(test_claim),
      cmocka_unit_test(test_respond_sends_body),
      cmocka_unit_test(test_task_wait),
      cmocka_unit_test(test_tasks_events_query),
      cmocka_unit_test(test_submit),
      cmocka_unit_test(test_export_streams),
      cmocka_unit_test(test_token_create),
      cmocka_unit_test(test_unreachable),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
