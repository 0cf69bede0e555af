/* SPDX-License-Identifier: MIT */
/* API tests of agent runs against the real server: registering, heartbeats, steps, commands by
 * long-poll and their acknowledgements, lost runs, waiting runs, roles and bad input. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../pg_test.h"
#include "harness.h"

static test_server srv;
static char *agent, *agent2, *alice;

static const char review_queue[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"review\"}}]},"
    "\"assignment\":{\"roles\":[\"validator\"]}}";

static int setup(void **state) {
  (void)state;
  /* One wait per token: a second long-poll answered 429 shows that the first one waits. */
  static const char *const args[] = {"--max-waits-per-token", "1", NULL};
  ts_start(&srv, args);
  agent = ts_token(&srv, "agent-1", "agent");
  agent2 = ts_token(&srv, "agent-2", "agent");
  alice = ts_token(&srv, "alice", "validator");
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/review", ADMIN_TOKEN, review_queue, &r), 201);
  tr_free(&r);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ts_cleanup(&srv);
  free(agent);
  free(agent2);
  free(alice);
  return 0;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Registers a run with body and returns its id (malloc'd). */
static char *start_run(const char *token, const char *body) {
  test_resp r;
  long st = tr(&srv, "POST", "/v1/runs", token, body, &r);
  if (st != 201) fail_msg("register: %ld %s", st, r.body);
  assert_string_equal(tj_str(&r, "state"), "running");
  char *id = strdup(tj_str(&r, "id"));
  tr_free(&r);
  return id;
}

/* POSTs body to /v1/runs/<id><suffix> with token; returns the status, r filled. */
static long run_post(const char *id, const char *suffix, const char *token, const char *body,
                     test_resp *r) {
  char path[200];
  snprintf(path, sizeof path, "/v1/runs/%s%s", id, suffix);
  return tr(&srv, "POST", path, token, body, r);
}

/* GETs /v1/runs/<id><suffix>. */
static long run_get(const char *id, const char *suffix, const char *token, test_resp *r) {
  char path[200];
  snprintf(path, sizeof path, "/v1/runs/%s%s", id, suffix);
  return tr(&srv, "GET", path, token, NULL, r);
}

/* The string member key of the run as GET shows it, as a static copy. */
static const char *run_field(const char *id, const char *key) {
  static char out[64];
  test_resp r;
  assert_int_equal(run_get(id, "", ADMIN_TOKEN, &r), 200);
  snprintf(out, sizeof out, "%s", tj_str(&r, key));
  tr_free(&r);
  return out;
}

/* The run's shown state. */
static const char *state_of(const char *id) { return run_field(id, "state"); }

/* How many events of type about run id the log holds. */
static int count_events(const char *id, const char *type) {
  char path[200];
  snprintf(path, sizeof path, "/v1/events?type=%s&limit=1000", type);
  test_resp r;
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  json_t *evs = json_object_get(r.json, "events");
  int n = 0;
  for (size_t i = 0; i < json_array_size(evs); i++) {
    json_t *e = json_array_get(evs, i);
    const char *t = json_string_value(json_object_get(e, "type"));
    const char *rid = json_string_value(json_object_get(json_object_get(e, "data"), "run_id"));
    if (t && strcmp(t, type) == 0 && rid && strcmp(rid, id) == 0) n++;
  }
  tr_free(&r);
  return n;
}

static void test_register_report_and_read(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/runs", agent,
                      "{\"agent\":\"researcher\",\"goal\":\"find three sources\","
                      "\"metadata\":{\"model\":\"m-1\"},\"heartbeat_seconds\":30}", &r), 201);
  char *id = strdup(tj_str(&r, "id"));
  assert_true(strncmp(id, "run_", 4) == 0);
  assert_string_equal(tj_str(&r, "agent"), "researcher");
  assert_string_equal(tj_str(&r, "goal"), "find three sources");
  assert_string_equal(tj_str(&r, "metadata.model"), "m-1");
  assert_int_equal(tj_int(&r, "heartbeat_seconds"), 30);
  assert_string_equal(tj_str(&r, "owner"), "agent-1");
  assert_non_null(tj_str(&r, "last_heartbeat_at"));
  char *loc = tr_header(&r, "Location");
  assert_non_null(loc);
  assert_non_null(strstr(loc, id));
  free(loc);
  tr_free(&r);

  assert_int_equal(run_post(id, "/heartbeat", agent, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "running");
  assert_int_equal(tj_int(&r, "pending_commands"), 0);
  tr_free(&r);
  assert_int_equal(run_post(id, "/heartbeat", agent, "{}", &r), 200);
  tr_free(&r);
  assert_int_equal(run_post(id, "/steps", agent,
                            "{\"text\":\"searched the web\",\"data\":{\"hits\":12}}", &r), 201);
  assert_int_equal(tj_int(&r, "n"), 1);
  assert_int_equal(tj_int(&r, "data.hits"), 12);
  assert_int_equal(tj_int(&r, "run.step_count"), 1);
  tr_free(&r);
  assert_int_equal(run_post(id, "/steps", agent, "{\"text\":\"read two pages\"}", &r), 201);
  tr_free(&r);

  /* Every token reads runs: a reviewer too. Steps come newest first. */
  assert_int_equal(run_get(id, "", alice, &r), 200);
  assert_int_equal(tj_int(&r, "step_count"), 2);
  assert_string_equal(tj_str(&r, "steps.0.text"), "read two pages");
  assert_int_equal(tj_int(&r, "steps.1.data.hits"), 12);
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", "/v1/runs?state=running", alice, NULL, &r), 200);
  bool listed = false;
  json_t *runs = json_object_get(r.json, "runs");
  for (size_t i = 0; i < json_array_size(runs); i++)
    listed |= strcmp(json_string_value(json_object_get(json_array_get(runs, i), "id")), id) == 0;
  assert_true(listed);
  tr_free(&r);
  assert_int_equal(count_events(id, "run.started"), 1);
  free(id);
}

/* A long-poll for commands, run on its own thread. */
typedef struct poll_call {
  test_server *node; /* The server asked (srv when NULL). */
  const char *id;
  test_resp r;
  long status;
  long long took_ms;
} poll_call;

static void *poll_main(void *arg) {
  poll_call *p = arg;
  long long t0 = now_ms();
  /* The probe of the main thread may hold the token's one wait for a moment: then try again. */
  char path[200];
  snprintf(path, sizeof path, "/v1/runs/%s/commands?after=0&wait=20", p->id);
  test_server *node = p->node ? p->node : &srv;
  while ((p->status = tr(node, "GET", path, agent, NULL, &p->r)) == 429 &&
         now_ms() - t0 < 10000) {
    tr_free(&p->r);
    struct timespec pause = {0, 20 * 1000000}; /* Paced: 429s must not exhaust the rate. */
    nanosleep(&pause, NULL);
  }
  p->took_ms = now_ms() - t0;
  return NULL;
}

/* Returns once agent's long-poll for run id's commands waits on node: with one wait per token,
 * a second one is then refused 429 (bounded: 10 s). */
static void await_waiting(test_server *node, const char *id) {
  char probe[200];
  snprintf(probe, sizeof probe, "/v1/runs/%s/commands?after=100&wait=1", id);
  long status = 0;
  for (long long t = now_ms(); now_ms() - t < 10000;) {
    test_resp r;
    status = tr(node, "GET", probe, agent, NULL, &r);
    tr_free(&r);
    if (status == 429) break;
    /* The probe held the wait itself: leave the poll room to take it. */
    struct timespec pause = {0, 100 * 1000000};
    nanosleep(&pause, NULL);
  }
  assert_int_equal(status, 429);
}

static void test_commands_long_poll_and_ack(void **state) {
  (void)state;
  char *id = start_run(agent, "{\"agent\":\"writer\",\"goal\":\"draft\"}");
  poll_call p = {.id = id};
  pthread_t th;
  pthread_create(&th, NULL, poll_main, &p);
  /* The poll waits: nothing came yet. Give the command once it is suspended (bounded look). */
  test_resp r;
  await_waiting(&srv, id);
  long long t0 = now_ms();
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"pause\"}", &r), 201);
  assert_int_equal(tj_int(&r, "seq"), 1);
  assert_string_equal(tj_str(&r, "type"), "pause");
  assert_string_equal(tj_str(&r, "run.state"), "paused");
  assert_int_equal(tj_int(&r, "run.pending_commands"), 1);
  tr_free(&r);
  pthread_join(th, NULL);
  assert_int_equal(p.status, 200);
  assert_true(now_ms() - t0 < 15000); /* Woken by the command, not by the 20 s deadline. */
  assert_int_equal(tj_int(&p.r, "commands.0.seq"), 1);
  assert_string_equal(tj_str(&p.r, "commands.0.type"), "pause");
  assert_null(tj_str(&p.r, "commands.0.acked_at"));
  tr_free(&p.r);

  /* Acknowledge: recorded once, an event in the chain; again changes nothing. */
  assert_int_equal(run_post(id, "/commands/1/ack", agent, NULL, &r), 200);
  assert_non_null(tj_str(&r, "acked_at"));
  char acked[64];
  snprintf(acked, sizeof acked, "%s", tj_str(&r, "acked_at"));
  tr_free(&r);
  assert_int_equal(run_post(id, "/commands/1/ack", agent, "{}", &r), 200);
  assert_string_equal(tj_str(&r, "acked_at"), acked);
  tr_free(&r);
  assert_int_equal(count_events(id, "run.command"), 1);
  assert_int_equal(count_events(id, "run.command_acked"), 1);

  /* A new goal, then resume; the agent reads what came after what it has seen. */
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN,
                            "{\"type\":\"goal\",\"goal\":\"draft, in French\"}", &r), 201);
  assert_string_equal(tj_str(&r, "run.goal"), "draft, in French");
  assert_string_equal(tj_str(&r, "run.state"), "paused");
  tr_free(&r);
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"resume\"}", &r), 201);
  assert_string_equal(tj_str(&r, "run.state"), "running");
  tr_free(&r);
  assert_int_equal(run_get(id, "/commands?after=1", agent, &r), 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "commands")), 2);
  assert_string_equal(tj_str(&r, "commands.0.goal"), "draft, in French");
  assert_string_equal(tj_str(&r, "commands.1.type"), "resume");
  tr_free(&r);
  /* The heartbeat tells the agent two commands wait for it. */
  assert_int_equal(run_post(id, "/heartbeat", agent, NULL, &r), 200);
  assert_int_equal(tj_int(&r, "pending_commands"), 2);
  tr_free(&r);
  /* Nothing after 3: an immediate empty answer without wait. */
  assert_int_equal(run_get(id, "/commands?after=3", agent, &r), 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "commands")), 0);
  tr_free(&r);

  /* Stop is final: the run takes no more commands nor reports. */
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"stop\"}", &r), 201);
  assert_string_equal(tj_str(&r, "run.state"), "stopped");
  assert_non_null(tj_str(&r, "run.ended_at"));
  tr_free(&r);
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"resume\"}", &r), 409);
  assert_string_equal(tj_str(&r, "error.code"), "conflict");
  assert_non_null(strstr(tj_str(&r, "error.message"), "stopped"));
  tr_free(&r);
  assert_int_equal(run_post(id, "/heartbeat", agent, NULL, &r), 409);
  assert_non_null(strstr(tj_str(&r, "error.message"), "should end"));
  tr_free(&r);
  /* The stop can still be acknowledged. */
  assert_int_equal(run_post(id, "/commands/4/ack", agent, NULL, &r), 200);
  tr_free(&r);
  assert_int_equal(run_get(id, "", ADMIN_TOKEN, &r), 200);
  assert_int_equal(tj_int(&r, "command_count"), 4);
  assert_int_equal(tj_int(&r, "pending_commands"), 2);
  tr_free(&r);
  free(id);
}

/* The commands as Server-Sent Events: each command arrives as it is given, and the stream ends
 * once the run is stopped and its stop was sent. */
static void test_commands_as_event_stream(void **state) {
  (void)state;
  char *id = start_run(agent, "{\"agent\":\"listener\",\"heartbeat_seconds\":600}");
  char req[600];
  snprintf(req, sizeof req,
           "GET /v1/runs/%s/commands HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
           "Accept: text/event-stream\r\n\r\n", id, agent);
  int fd = raw_connect(&srv);
  assert_true(raw_send(fd, req, strlen(req), 2000));
  raw_resp head;
  raw_read(fd, 5000, 300, &head);
  assert_int_equal(head.status, 200);
  assert_non_null(strstr(head.data, "text/event-stream"));
  assert_null(strstr(head.data, "run.command")); /* Nothing given yet. */
  raw_free(&head);
  test_resp r;
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN,
                            "{\"type\":\"goal\",\"goal\":\"listen harder\"}", &r), 201);
  tr_free(&r);
  raw_resp got;
  raw_read(fd, 5000, 500, &got);
  assert_non_null(strstr(got.data, "id: 1\nevent: run.command\ndata: {\"seq\":1,\"type\":\"goal\""));
  assert_non_null(strstr(got.data, "listen harder"));
  raw_free(&got);
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"stop\"}", &r), 201);
  tr_free(&r);
  raw_read(fd, 8000, 3000, &got);
  assert_non_null(strstr(got.data, "\"type\":\"stop\""));
  assert_non_null(strstr(got.data, "0\r\n\r\n")); /* The last chunk: the stream is over. */
  raw_free(&got);
  close(fd);
  free(id);
}

static void test_transitions_refused(void **state) {
  (void)state;
  char *id = start_run(agent, "{\"agent\":\"a\"}");
  test_resp r;
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"resume\"}", &r), 409);
  assert_non_null(strstr(tj_str(&r, "error.message"), "only a paused run resumes"));
  tr_free(&r);
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"pause\"}", &r), 201);
  tr_free(&r);
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"pause\"}", &r), 409);
  assert_non_null(strstr(tj_str(&r, "error.message"), "paused already"));
  tr_free(&r);
  /* The agent says it is done: finished, and nothing more is taken. */
  assert_int_equal(run_post(id, "/heartbeat", agent, "{\"state\":\"finished\"}", &r), 200);
  assert_string_equal(tj_str(&r, "state"), "finished");
  tr_free(&r);
  assert_int_equal(count_events(id, "run.finished"), 1);
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"stop\"}", &r), 409);
  assert_string_equal(tj_str(&r, "error.code"), "conflict");
  assert_non_null(strstr(tj_str(&r, "error.message"), "finished"));
  tr_free(&r);
  assert_int_equal(run_post(id, "/steps", agent, "{\"text\":\"late\"}", &r), 409);
  tr_free(&r);
  /* Nothing of the refused commands was stored. */
  assert_int_equal(run_get(id, "", ADMIN_TOKEN, &r), 200);
  assert_int_equal(tj_int(&r, "command_count"), 1);
  assert_int_equal(tj_int(&r, "step_count"), 0);
  assert_string_equal(tj_str(&r, "state"), "finished");
  tr_free(&r);
  /* A run that is over answers a wait for commands at once. */
  long long t0 = now_ms();
  assert_int_equal(run_get(id, "/commands?after=1&wait=30", agent, &r), 200);
  assert_true(now_ms() - t0 < 10000);
  tr_free(&r);
  free(id);
}

static void test_lost_and_found(void **state) {
  (void)state;
  char *id = start_run(agent, "{\"agent\":\"flaky\",\"heartbeat_seconds\":1}");
  /* No heartbeat: lost within about a second (bounded wait on the condition). */
  long long t0 = now_ms();
  while (strcmp(state_of(id), "lost") != 0 && now_ms() - t0 < 15000) {
    struct timespec ts = {0, 50 * 1000000};
    nanosleep(&ts, NULL);
  }
  assert_string_equal(state_of(id), "lost");
  assert_int_equal(count_events(id, "run.lost"), 1);
  test_resp r;
  /* Pausing a lost run makes no sense; stopping it would. The heartbeat brings it back. */
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"pause\"}", &r), 409);
  tr_free(&r);
  assert_int_equal(run_post(id, "/heartbeat", agent, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "running");
  tr_free(&r);
  assert_int_equal(count_events(id, "run.found"), 1);
  assert_int_equal(run_post(id, "/heartbeat", agent, "{\"state\":\"finished\"}", &r), 200);
  tr_free(&r);
  free(id);
}

static void test_waiting_on_people(void **state) {
  (void)state;
  char *id = start_run(agent, "{\"agent\":\"buyer\"}");
  char body[256];
  snprintf(body, sizeof body, "{\"input\":{\"text\":\"buy 3 laptops\"},\"run_id\":\"%s\"}", id);
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/tasks", agent, body, &r), 201);
  char *task = strdup(tj_str(&r, "id"));
  tr_free(&r);
  assert_int_equal(run_get(id, "", alice, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "waiting");
  assert_int_equal(tj_int(&r, "open_tasks"), 1);
  assert_string_equal(tj_str(&r, "tasks.0.id"), task);
  assert_string_equal(tj_str(&r, "tasks.0.queue"), "review");
  tr_free(&r);
  /* Once people decide, the run is running again. */
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/claim", alice, NULL, &r), 200);
  char resp[256];
  snprintf(resp, sizeof resp, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", tj_str(&r, "lease.id"));
  tr_free(&r);
  char path[128];
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", task);
  assert_int_equal(tr(&srv, "POST", path, alice, resp, &r), 200);
  tr_free(&r);
  assert_string_equal(state_of(id), "running");
  free(task);
  free(id);
}

/* Heartbeats are answered from what the server knows of its live runs (api/run_cache.c): every
 * answer still shows each change committed before it, whichever request made the change. */
static void beat_expect(const char *id, const char *state, long long steps, long long open_tasks,
                        const char *goal, long long pending_commands) {
  test_resp r;
  assert_int_equal(run_post(id, "/heartbeat", agent, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "state"), state);
  assert_int_equal(tj_int(&r, "step_count"), steps);
  assert_int_equal(tj_int(&r, "pending_commands"), pending_commands);
  assert_int_equal(tj_int(&r, "open_tasks"), open_tasks);
  assert_string_equal(tj_str(&r, "goal"), goal);
  tr_free(&r);
}

static void test_heartbeat_answer_follows_changes(void **state) {
  (void)state;
  char *id = start_run(agent, "{\"agent\":\"clerk\",\"goal\":\"file\"}");
  beat_expect(id, "running", 0, 0, "file", 0);
  beat_expect(id, "running", 0, 0, "file", 0);
  test_resp r;
  /* A step (no event). */
  assert_int_equal(run_post(id, "/steps", agent, "{\"text\":\"read the form\"}", &r), 201);
  tr_free(&r);
  beat_expect(id, "running", 1, 0, "file", 0);
  /* A task of the run, submitted and then decided by people. */
  char body[256];
  snprintf(body, sizeof body, "{\"input\":{\"text\":\"file it\"},\"run_id\":\"%s\"}", id);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/tasks", agent, body, &r), 201);
  char *task = strdup(tj_str(&r, "id"));
  tr_free(&r);
  beat_expect(id, "waiting", 1, 1, "file", 0);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/review/claim", alice, NULL, &r), 200);
  char resp[256], path[128];
  snprintf(resp, sizeof resp, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", tj_str(&r, "lease.id"));
  tr_free(&r);
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", task);
  assert_int_equal(tr(&srv, "POST", path, alice, resp, &r), 200);
  tr_free(&r);
  beat_expect(id, "running", 1, 0, "file", 0);
  /* Commands by people: a new goal, a pause, a stop. */
  assert_int_equal(
      run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"goal\",\"goal\":\"send\"}", &r), 201);
  tr_free(&r);
  beat_expect(id, "running", 1, 0, "send", 1);
  assert_int_equal(run_post(id, "/commands/1/ack", agent, NULL, &r), 200);
  tr_free(&r);
  beat_expect(id, "running", 1, 0, "send", 0);
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"pause\"}", &r), 201);
  tr_free(&r);
  beat_expect(id, "paused", 1, 0, "send", 1);
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"stop\"}", &r), 201);
  tr_free(&r);
  assert_int_equal(run_post(id, "/heartbeat", agent, NULL, &r), 409);
  tr_free(&r);
  free(task);
  free(id);
}

static void test_roles(void **state) {
  (void)state;
  char *id = start_run(agent, "{\"agent\":\"mine\"}");
  test_resp r;
  /* Another agent may not report for it, nor read its commands, nor acknowledge. */
  assert_int_equal(run_post(id, "/heartbeat", agent2, NULL, &r), 403);
  assert_string_equal(tj_str(&r, "error.code"), "forbidden");
  tr_free(&r);
  assert_int_equal(run_post(id, "/steps", agent2, "{\"text\":\"x\"}", &r), 403);
  tr_free(&r);
  assert_int_equal(run_get(id, "/commands", agent2, &r), 403);
  tr_free(&r);
  /* Agents and reviewers do not command; reviewers do not register. */
  assert_int_equal(run_post(id, "/commands", agent, "{\"type\":\"stop\"}", &r), 403);
  tr_free(&r);
  assert_int_equal(run_post(id, "/commands", alice, "{\"type\":\"stop\"}", &r), 403);
  tr_free(&r);
  assert_int_equal(tr(&srv, "POST", "/v1/runs", alice, "{\"agent\":\"x\"}", &r), 403);
  tr_free(&r);
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"stop\"}", &r), 201);
  tr_free(&r);
  assert_int_equal(run_post(id, "/commands/1/ack", agent2, NULL, &r), 403);
  tr_free(&r);
  free(id);
}

/* A bad request: the status, error code and field, and a message naming what to fix. */
static void expect_bad(const char *method, const char *path, const char *token, const char *body,
                       long status, const char *code, const char *field, const char *says) {
  test_resp r;
  long st = tr(&srv, method, path, token, body, &r);
  if (st != status) fail_msg("%s %s %s: expected %ld, got %ld: %s", method, path,
                             body ? body : "", status, st, r.body);
  assert_string_equal(tj_str(&r, "error.code"), code);
  if (field) assert_string_equal(tj_str(&r, "error.field"), field);
  if (says && strstr(tj_str(&r, "error.message"), says) == NULL)
    fail_msg("%s %s: message \"%s\" lacks \"%s\"", method, path, tj_str(&r, "error.message"),
             says);
  tr_free(&r);
}

static void test_bad_input(void **state) {
  (void)state;
  char *id = start_run(agent, "{\"agent\":\"careful\",\"goal\":\"g\"}");
  test_resp r;
  assert_int_equal(tr(&srv, "GET", "/v1/runs?limit=500", ADMIN_TOKEN, NULL, &r), 200);
  size_t runs_before = json_array_size(json_object_get(r.json, "runs"));
  tr_free(&r);
  char p[200], hb[200], steps[200], cmds[200];
  snprintf(p, sizeof p, "/v1/runs/%s", id);
  snprintf(hb, sizeof hb, "/v1/runs/%s/heartbeat", id);
  snprintf(steps, sizeof steps, "/v1/runs/%s/steps", id);
  snprintf(cmds, sizeof cmds, "/v1/runs/%s/commands", id);

  /* Registration: wrong types, missing and unknown fields, broken JSON. */
  expect_bad("POST", "/v1/runs", agent, "{\"agent\":5}", 400, "validation_failed", "agent",
             "must be a string");
  expect_bad("POST", "/v1/runs", agent, "{\"goal\":\"g\"}", 400, "validation_failed", "agent",
             "required");
  expect_bad("POST", "/v1/runs", agent, "{\"agent\":\"\"}", 400, "validation_failed", "agent",
             "1 to 200");
  expect_bad("POST", "/v1/runs", agent, "{\"agent\":\"a\",\"heartbeat_seconds\":\"10\"}", 400,
             "validation_failed", "heartbeat_seconds", "whole number");
  expect_bad("POST", "/v1/runs", agent, "{\"agent\":\"a\",\"heartbeat_seconds\":0}", 400,
             "validation_failed", "heartbeat_seconds", "from 1 to 86400");
  expect_bad("POST", "/v1/runs", agent, "{\"agent\":\"a\",\"metadata\":[1]}", 400,
             "validation_failed", "metadata", "JSON object");
  expect_bad("POST", "/v1/runs", agent, "{\"agent\":\"a\",\"goal\":7}", 400, "validation_failed",
             "goal", "string");
  expect_bad("POST", "/v1/runs", agent, "{\"agent\":\"a\",\"colour\":1}", 400,
             "validation_failed", "colour", "unknown");
  expect_bad("POST", "/v1/runs", agent, "[1]", 400, "validation_failed", NULL, "JSON object");
  expect_bad("POST", "/v1/runs", agent, "{\"agent\":", 400, "invalid_json", NULL, "invalid JSON");
  expect_bad("POST", "/v1/runs", agent, NULL, 400, "invalid_json", NULL, "empty");

  /* Reports: an unknown run, wrong bodies. */
  expect_bad("POST", "/v1/runs/run_nosuch/heartbeat", agent, NULL, 404, "not_found", "run_id",
             "POST /v1/runs");
  expect_bad("POST", "/v1/runs/run_nosuch/steps", agent, "{\"text\":\"t\"}", 404, "not_found",
             "run_id", "no run");
  expect_bad("GET", "/v1/runs/run_nosuch", agent, NULL, 404, "not_found", "run_id", "no run");
  expect_bad("POST", hb, agent, "{\"state\":\"paused\"}", 400, "validation_failed", "state",
             "\"finished\"");
  expect_bad("POST", hb, agent, "{\"beat\":1}", 400, "validation_failed", "beat", "unknown");
  expect_bad("POST", steps, agent, "{}", 400, "validation_failed", "text", "required");
  expect_bad("POST", steps, agent, "{\"text\":[\"x\"]}", 400, "validation_failed", "text",
             "string");

  /* Commands: unknown type, a goal without text, a goal on a pause, an unknown run. */
  expect_bad("POST", cmds, ADMIN_TOKEN, "{\"type\":\"restart\"}", 400, "validation_failed",
             "type", "\"pause\", \"resume\", \"stop\" or \"goal\"");
  expect_bad("POST", cmds, ADMIN_TOKEN, "{\"type\":5}", 400, "validation_failed", "type", NULL);
  expect_bad("POST", cmds, ADMIN_TOKEN, "{\"type\":\"goal\"}", 400, "validation_failed", "goal",
             "required");
  expect_bad("POST", cmds, ADMIN_TOKEN, "{\"type\":\"pause\",\"goal\":\"x\"}", 400,
             "validation_failed", "goal", "only a \"goal\" command");
  expect_bad("POST", "/v1/runs/run_nosuch/commands", ADMIN_TOKEN, "{\"type\":\"stop\"}", 404,
             "not_found", "run_id", "no run");

  /* Reading and acknowledging commands. */
  char q[260];
  snprintf(q, sizeof q, "%s?after=-1", cmds);
  expect_bad("GET", q, agent, NULL, 400, "validation_failed", "after", "command seq");
  snprintf(q, sizeof q, "%s?wait=121", cmds);
  expect_bad("GET", q, agent, NULL, 400, "validation_failed", "wait", "0 to 120");
  snprintf(q, sizeof q, "%s/abc/ack", cmds);
  expect_bad("POST", q, agent, NULL, 400, "validation_failed", "seq", "whole number");
  snprintf(q, sizeof q, "%s/9/ack", cmds);
  expect_bad("POST", q, agent, NULL, 404, "not_found", "seq", "has no command 9");
  snprintf(q, sizeof q, "%s/1/ack", cmds);
  expect_bad("POST", q, agent, "{\"x\":1}", 400, "validation_failed", NULL, "no body");
  expect_bad("GET", "/v1/runs?state=waiting", ADMIN_TOKEN, NULL, 400, "validation_failed",
             "state", "filter on running");

  /* Nothing stored changed: no new run, the run as it was. */
  assert_int_equal(tr(&srv, "GET", "/v1/runs?limit=500", ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(json_array_size(json_object_get(r.json, "runs")), runs_before);
  tr_free(&r);
  assert_int_equal(tr(&srv, "GET", p, ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "running");
  assert_string_equal(tj_str(&r, "goal"), "g");
  assert_int_equal(tj_int(&r, "step_count"), 0);
  assert_int_equal(tj_int(&r, "command_count"), 0);
  tr_free(&r);
  free(id);
}

/* Submits body to queue as agent, waits (long-poll, bounded) for the decision and returns the
 * answer's decision outcome (static copy) and by. */
static const char *deadline_outcome(const char *queue, const char *body, long long *took_ms) {
  static char out[64];
  char path[200];
  snprintf(path, sizeof path, "/v1/queues/%s/tasks", queue);
  test_resp r;
  assert_int_equal(tr(&srv, "POST", path, agent, body, &r), 201);
  assert_string_equal(tj_str(&r, "state"), "pending");
  assert_non_null(tj_str(&r, "deadline_at"));
  snprintf(path, sizeof path, "/v1/tasks/%s?wait=30", tj_str(&r, "id"));
  tr_free(&r);
  long long t0 = now_ms();
  assert_int_equal(tr(&srv, "GET", path, agent, NULL, &r), 200);
  *took_ms = now_ms() - t0;
  snprintf(out, sizeof out, "%s/%s", tj_str(&r, "decision.outcome") ? tj_str(&r, "decision.outcome") : "-",
           tj_str(&r, "decision.by") ? tj_str(&r, "decision.by") : "-");
  tr_free(&r);
  return out;
}

static void test_task_deadline_fails_closed(void **state) {
  (void)state;
  long long took;
  /* The review queue has no SLA: a task's own deadline rejects, and the waiting agent hears so
   * before its wait ends. */
  assert_string_equal(
      deadline_outcome("review", "{\"input\":{\"text\":\"wire $5000\"},\"deadline_seconds\":1}",
                       &took),
      "reject/sla");
  assert_true(took < 20000);
  /* A queue with an SLA: its on_timeout applies to the task's own (shorter) deadline. */
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/lenient", ADMIN_TOKEN,
                      "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
                      "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
                      "\"sla\":{\"deadline_seconds\":86400,\"on_timeout\":\"accept\"}}", &r), 201);
  tr_free(&r);
  assert_string_equal(
      deadline_outcome("lenient", "{\"input\":{\"text\":\"x\"},\"deadline_seconds\":1}", &took),
      "approve/sla");
  assert_true(took < 20000);
  /* Wrong types are refused with what to fix, and nothing is stored. */
  assert_int_equal(tr(&srv, "GET", "/v1/queues/review", ADMIN_TOKEN, NULL, &r), 200);
  long long tasks_before = tj_int(&r, "counts.pending") + tj_int(&r, "counts.decided");
  tr_free(&r);
  expect_bad("POST", "/v1/queues/review/tasks", agent, "{\"input\":{},\"deadline_seconds\":\"5\"}",
             400, "validation_failed", "deadline_seconds", "from 1 to 31536000");
  expect_bad("POST", "/v1/queues/review/tasks", agent, "{\"input\":{},\"deadline_seconds\":0}",
             400, "validation_failed", "deadline_seconds", "whole number");
  expect_bad("POST", "/v1/queues/review/tasks", agent, "{\"input\":{},\"deadline_seconds\":1.5}",
             400, "validation_failed", "deadline_seconds", NULL);
  assert_int_equal(tr(&srv, "GET", "/v1/queues/review", ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(tj_int(&r, "counts.pending") + tj_int(&r, "counts.decided"), tasks_before);
  tr_free(&r);
}

/* Two servers on one PostgreSQL database (the *_postgres run only): a command given through one
 * wakes the agent's long-poll on the other at once, through the change feed, rather than at the
 * poll's next look at the database. */
static void test_command_wakes_other_node(void **state) {
  (void)state;
  if (pg_test_server_url() == NULL) skip();
  test_server b = {0};
  snprintf(b.db, sizeof b.db, "%s", srv.db);
  static const char *const args[] = {"--max-waits-per-token", "1", NULL};
  ts_start(&b, args);
  char *id = start_run(agent, "{\"agent\":\"far\",\"heartbeat_seconds\":600}");
  poll_call p = {.node = &b, .id = id};
  pthread_t th;
  pthread_create(&th, NULL, poll_main, &p);
  await_waiting(&b, id);
  long long t0 = now_ms();
  test_resp r;
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"pause\"}", &r), 201);
  tr_free(&r);
  pthread_join(th, NULL);
  assert_int_equal(p.status, 200);
  assert_string_equal(tj_str(&p.r, "commands.0.type"), "pause");
  tr_free(&p.r);
  /* Well before the poll would have looked again by itself (every 5 s). */
  assert_true(now_ms() - t0 < 3000);
  ts_stop(&b, SIGTERM);
  b.db[0] = '\0'; /* The database is srv's: not b's to drop. */
  ts_cleanup(&b);
  free(id);
}

/* The stored last_heartbeat_at of run id. */
static const char *stored_heartbeat(const char *id) { return run_field(id, "last_heartbeat_at"); }

/* An ordinary heartbeat is stored with others in one write (docs/agents.md), and answered only
 * once that write is durable: what the answer says is in the database the moment it arrives,
 * and a SIGKILL right after the answer loses nothing. */
static void test_heartbeat_durable_when_answered(void **state) {
  (void)state;
  char *id = start_run(agent, "{\"agent\":\"steady\",\"heartbeat_seconds\":600}");
  char first[64], beat[64];
  snprintf(first, sizeof first, "%s", stored_heartbeat(id));
  struct timespec ms2 = {0, 2 * 1000000};
  nanosleep(&ms2, NULL); /* So that the heartbeat's time differs from the registration's. */
  test_resp r;
  assert_int_equal(run_post(id, "/heartbeat", agent, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "running");
  snprintf(beat, sizeof beat, "%s", tj_str(&r, "last_heartbeat_at"));
  assert_string_not_equal(beat, first);
  tr_free(&r);
  assert_string_equal(stored_heartbeat(id), beat);
  /* One more, and the server is killed as soon as it answers. */
  nanosleep(&ms2, NULL);
  assert_int_equal(run_post(id, "/heartbeat", agent, "{}", &r), 200);
  snprintf(beat, sizeof beat, "%s", tj_str(&r, "last_heartbeat_at"));
  tr_free(&r);
  ts_stop(&srv, SIGKILL);
  static const char *const args[] = {"--max-waits-per-token", "1", NULL};
  ts_start(&srv, args);
  assert_string_equal(stored_heartbeat(id), beat);
  assert_string_equal(state_of(id), "running");
  free(id);
}

static void test_survives_restart(void **state) {
  (void)state;
  char *id = start_run(agent, "{\"agent\":\"durable\",\"heartbeat_seconds\":600}");
  test_resp r;
  assert_int_equal(run_post(id, "/commands", ADMIN_TOKEN, "{\"type\":\"pause\"}", &r), 201);
  tr_free(&r);
  ts_stop(&srv, SIGKILL);
  static const char *const args[] = {"--max-waits-per-token", "1", NULL};
  ts_start(&srv, args);
  assert_int_equal(run_get(id, "/commands", agent, &r), 200);
  assert_string_equal(tj_str(&r, "commands.0.type"), "pause");
  tr_free(&r);
  assert_string_equal(state_of(id), "paused");
  free(id);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_register_report_and_read),
      cmocka_unit_test(test_commands_long_poll_and_ack),
      cmocka_unit_test(test_commands_as_event_stream),
      cmocka_unit_test(test_transitions_refused),
      cmocka_unit_test(test_lost_and_found),
      cmocka_unit_test(test_waiting_on_people),
      cmocka_unit_test(test_heartbeat_answer_follows_changes),
      cmocka_unit_test(test_roles),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_task_deadline_fails_closed),
      cmocka_unit_test(test_command_wakes_other_node),
      cmocka_unit_test(test_heartbeat_durable_when_answered),
      cmocka_unit_test(test_survives_restart),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
