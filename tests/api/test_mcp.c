/* SPDX-License-Identifier: MIT */
/* API tests of the MCP server at POST /mcp: the handshake, each tool, MCP tasks, waits that
 * people end, and bad input (each JSON-RPC error code, tool errors) that stores nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

static test_server srv;
static char *agent, *other_agent, *alice;

static const char review_queue[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"policy\":{\"rules\":[{\"name\":\"low\",\"when\":{\"confidence_below\":0.8},"
    "\"then\":{\"action\":\"review\"}},{\"name\":\"default\",\"then\":{\"action\":\"accept\"}}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":60}}";
static const char ask_queue[] =
    "{\"schema\":{\"fields\":[{\"name\":\"question\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"reply\",\"type\":\"text\"}]},"
    "\"policy\":{\"rules\":[{\"name\":\"ask\",\"then\":{\"action\":\"review\"}}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":60}}";
static const char pick_queue[] =
    "{\"schema\":{\"fields\":[{\"name\":\"question\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"pick\",\"type\":\"label\",\"labels\":[\"red\",\"green\",\"blue\"]}]},"
    "\"policy\":{\"rules\":[{\"name\":\"ask\",\"then\":{\"action\":\"review\"}}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":60}}";

/* A regex makes the policy slow: its tasks are routed on a policy worker, not the HTTP thread. */
static const char regex_queue[] =
    "{\"policy\":{\"rules\":[{\"name\":\"pii\",\"when\":{\"regex\":{\"path\":\"/input/text\","
    "\"pattern\":\"[0-9]{3}-[0-9]{2}-[0-9]{4}\"}},\"then\":{\"action\":\"review\"}},"
    "{\"name\":\"default\",\"then\":{\"action\":\"accept\"}}]},"
    "\"assignment\":{\"overlap\":1,\"roles\":[\"validator\"],\"lease_seconds\":60}}";

static int setup(void **state) {
  (void)state;
  static const char *const args[] = {"--max-waits-per-token", "1", NULL};
  ts_start(&srv, args);
  agent = ts_token(&srv, "agent-1", "agent");
  other_agent = ts_token(&srv, "agent-2", "agent");
  alice = ts_token(&srv, "alice", "validator");
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/review", ADMIN_TOKEN, review_queue, &r), 201);
  tr_free(&r);
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/ask_human", ADMIN_TOKEN, ask_queue, &r), 201);
  tr_free(&r);
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/pick", ADMIN_TOKEN, pick_queue, &r), 201);
  tr_free(&r);
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/regex", ADMIN_TOKEN, regex_queue, &r), 201);
  tr_free(&r);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  ts_cleanup(&srv);
  free(agent);
  free(other_agent);
  free(alice);
  return 0;
}

/* POSTs one JSON-RPC message to /mcp as the SDK does (Accept both, the version header). */
static long mcp(const char *token, const char *body, test_resp *r) {
  static const char *const h[] = {"Content-Type: application/json",
                                  "Accept: application/json, text/event-stream",
                                  "MCP-Protocol-Version: 2025-11-25", NULL};
  return tr_headers(&srv, "POST", "/mcp", token, body, h, r);
}

/* Calls tool with the arguments (JSON text) as token; returns the answer's status. */
static long call_tool(const char *token, const char *tool, const char *args, test_resp *r) {
  char body[2048];
  snprintf(body, sizeof body,
           "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
           "\"params\":{\"name\":\"%s\",\"arguments\":%s}}", tool, args);
  return mcp(token, body, r);
}

/* Tasks stored in every test queue, counted through the REST listing. */
static long stored_tasks(void) {
  long n = 0;
  const char *queues[] = {"review", "ask_human", "pick", "regex"};
  for (size_t i = 0; i < 4; i++) {
    char path[96];
    snprintf(path, sizeof path, "/v1/queues/%s/tasks?limit=1000", queues[i]);
    test_resp r;
    assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
    n += (long)json_array_size(json_object_get(r.json, "tasks"));
    tr_free(&r);
  }
  return n;
}

/* Claims the next task of queue as alice and answers it with the response body fields (JSON
 * text without braces, e.g. "\"kind\":\"approve\""); returns the task's id (malloc'd). */
static char *review_next(const char *queue, const char *answer) {
  char path[128], body[512];
  test_resp r;
  snprintf(path, sizeof path, "/v1/queues/%s/claim", queue);
  assert_int_equal(tr(&srv, "POST", path, alice, NULL, &r), 200);
  char *id = strdup(tj_str(&r, "id"));
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",%s}", tj_str(&r, "lease.id"), answer);
  tr_free(&r);
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  assert_int_equal(tr(&srv, "POST", path, alice, body, &r), 200);
  tr_free(&r);
  return id;
}

/* ---- the handshake ------------------------------------------------------------------------- */

static void test_initialize_and_list(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(mcp(agent, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":"
                              "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                              "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}", &r), 200);
  assert_string_equal(r.content_type, "application/json");
  assert_int_equal(tj_int(&r, "id"), 1);
  assert_string_equal(tj_str(&r, "result.protocolVersion"), "2025-06-18");
  assert_string_equal(tj_str(&r, "result.serverInfo.name"), "hitl");
  assert_non_null(json_object_get(json_object_get(json_object_get(r.json, "result"),
                                                  "capabilities"), "tools"));
  tr_free(&r);
  /* Every version the TypeScript SDK negotiates, down to its oldest. */
  assert_int_equal(mcp(agent, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\","
                              "\"params\":{\"protocolVersion\":\"2024-10-07\"}}", &r), 200);
  assert_string_equal(tj_str(&r, "result.protocolVersion"), "2024-10-07");
  tr_free(&r);
  /* A version this server does not speak: it offers its newest. */
  assert_int_equal(mcp(agent, "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"initialize\","
                              "\"params\":{\"protocolVersion\":\"2023-01-01\"}}", &r), 200);
  assert_string_equal(tj_str(&r, "id"), "a");
  assert_string_equal(tj_str(&r, "result.protocolVersion"), "2025-11-25");
  tr_free(&r);
  /* A notification is accepted without a body. */
  assert_int_equal(mcp(agent, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r),
                   202);
  assert_string_equal(r.body, "");
  tr_free(&r);
  assert_int_equal(mcp(agent, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}", &r), 200);
  assert_non_null(json_object_get(r.json, "result"));
  tr_free(&r);
  /* No server-initiated stream: GET answers 405 (the transport allows it). */
  assert_int_equal(tr(&srv, "GET", "/mcp", agent, NULL, &r), 405);
  tr_free(&r);
  assert_int_equal(mcp(agent, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}", &r), 200);
  json_t *tools = json_object_get(json_object_get(r.json, "result"), "tools");
  assert_int_equal(json_array_size(tools), 4);
  const char *names[] = {"request_review", "get_decision", "ask_human", "run_status"};
  for (size_t i = 0; i < 4; i++) {
    json_t *t = json_array_get(tools, i);
    assert_string_equal(json_string_value(json_object_get(t, "name")), names[i]);
    json_t *schema = json_object_get(t, "inputSchema");
    assert_string_equal(json_string_value(json_object_get(schema, "type")), "object");
    assert_true(json_is_object(json_object_get(schema, "properties")));
    assert_true(json_is_object(json_object_get(t, "outputSchema")));
  }
  tr_free(&r);
  /* Without a token: 401, as every route that needs one. */
  assert_int_equal(mcp(NULL, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\"}", &r), 401);
  tr_free(&r);
}

/* ---- request_review and get_decision ------------------------------------------------------- */

static void test_review_decided_by_policy(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(call_tool(agent, "request_review",
                             "{\"queue\":\"review\",\"input\":{\"text\":\"hi\"},\"output\":\"ok\","
                             "\"confidence\":0.95,\"metadata\":{\"k\":1}}", &r), 200);
  assert_int_equal(tj_int(&r, "id"), 7);
  assert_true(json_is_false(json_object_get(json_object_get(r.json, "result"), "isError")));
  assert_string_equal(tj_str(&r, "result.structuredContent.state"), "decided");
  assert_string_equal(tj_str(&r, "result.structuredContent.queue"), "review");
  assert_string_equal(tj_str(&r, "result.structuredContent.decision.by"), "policy");
  assert_string_equal(tj_str(&r, "result.structuredContent.route.rule"), "default");
  assert_non_null(strstr(tj_str(&r, "result.content.0.text"), "decided"));
  char *id = strdup(tj_str(&r, "result.structuredContent.task_id"));
  tr_free(&r);
  /* The same task over REST: one path, one record. */
  char path[96];
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  assert_int_equal(tr(&srv, "GET", path, agent, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "decided");
  assert_string_equal(tj_str(&r, "queue"), "review");
  tr_free(&r);
  /* get_decision by its agent; another agent sees only its own tasks. */
  char args[128];
  snprintf(args, sizeof args, "{\"task_id\":\"%s\"}", id);
  assert_int_equal(call_tool(agent, "get_decision", args, &r), 200);
  assert_string_equal(tj_str(&r, "result.structuredContent.task_id"), id);
  assert_string_equal(tj_str(&r, "result.structuredContent.decision.outcome"), "approve");
  tr_free(&r);
  assert_int_equal(call_tool(other_agent, "get_decision", args, &r), 200);
  assert_true(json_is_true(json_object_get(json_object_get(r.json, "result"), "isError")));
  assert_non_null(strstr(tj_str(&r, "result.content.0.text"), "forbidden"));
  assert_null(json_object_get(json_object_get(r.json, "result"), "structuredContent"));
  tr_free(&r);
  free(id);
}

/* Runs a tool call in a child process; the parent reads its answer with finish_call. */
typedef struct bg_call {
  pid_t pid;
  int fd;
} bg_call;

static bg_call start_call(const char *token, const char *tool, const char *args) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    test_resp r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    call_tool(token, tool, args, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    char head[32];
    snprintf(head, sizeof head, "%.3f\n", secs);
    if (write(fds[1], head, strlen(head)) < 0 || write(fds[1], r.body, strlen(r.body)) < 0)
      _exit(2);
    _exit(0);
  }
  close(fds[1]);
  return (bg_call){child, fds[0]};
}

/* Reads the background call's answer (parsed) and how long it took. */
static json_t *finish_call(bg_call c, double *secs) {
  char buf[16384];
  size_t n = 0;
  ssize_t got;
  while (n < sizeof buf - 1 && (got = read(c.fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)got;
  buf[n] = '\0';
  close(c.fd);
  waitpid(c.pid, NULL, 0);
  char *nl = strchr(buf, '\n');
  assert_non_null(nl);
  *secs = strtod(buf, NULL);
  json_t *v = json_loads(nl + 1, 0, NULL);
  assert_non_null(v);
  return v;
}

/* Waits, bounded, until the queue has a pending task to claim (the background call's). */
static void await_pending(const char *queue) {
  char path[96];
  snprintf(path, sizeof path, "/v1/queues/%s/tasks?state=pending", queue);
  for (int i = 0; i < 500; i++) {
    test_resp r;
    assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
    size_t n = json_array_size(json_object_get(r.json, "tasks"));
    tr_free(&r);
    if (n > 0) return;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL); /* A poll with a bound, not a wait for time to pass. */
  }
  fail_msg("no pending task appeared in queue %s", queue);
}

static const char *jstr(const json_t *v, const char *a, const char *b, const char *c) {
  return json_string_value(json_object_get(json_object_get(json_object_get(v, a), b), c));
}

static void test_review_waits_for_people(void **state) {
  (void)state;
  bg_call c = start_call(agent, "request_review",
                         "{\"queue\":\"review\",\"input\":{\"text\":\"check me\"},"
                         "\"confidence\":0.1,\"wait_seconds\":60}");
  await_pending("review");
  char *id = review_next("review", "\"kind\":\"reject\",\"comment\":\"no\"");
  double secs;
  json_t *v = finish_call(c, &secs);
  assert_string_equal(jstr(v, "result", "structuredContent", "task_id"), id);
  assert_string_equal(jstr(v, "result", "structuredContent", "state"), "decided");
  json_t *decision = json_object_get(json_object_get(json_object_get(v, "result"),
                                                     "structuredContent"), "decision");
  assert_string_equal(json_string_value(json_object_get(decision, "outcome")), "reject");
  assert_true(secs < 30.0); /* Woken by the decision, long before its 60 s. */
  json_decref(v);
  free(id);
  /* A wait that runs out answers the task as it is. */
  test_resp r;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  assert_int_equal(call_tool(agent, "request_review",
                             "{\"queue\":\"review\",\"input\":1,\"confidence\":0.1,"
                             "\"wait_seconds\":1}", &r), 200);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  assert_string_equal(tj_str(&r, "result.structuredContent.state"), "pending");
  assert_true(json_is_null(json_object_get(
      json_object_get(json_object_get(r.json, "result"), "structuredContent"), "decision")));
  assert_true(t1.tv_sec - t0.tv_sec >= 0 && (t1.tv_sec - t0.tv_sec) * 1000 +
                                                    (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 900);
  char args[128];
  snprintf(args, sizeof args, "{\"task_id\":\"%s\",\"wait_seconds\":0}",
           tj_str(&r, "result.structuredContent.task_id"));
  tr_free(&r);
  assert_int_equal(call_tool(agent, "get_decision", args, &r), 200);
  assert_string_equal(tj_str(&r, "result.structuredContent.state"), "pending");
  tr_free(&r);
  /* get_decision waits like ?wait= and wakes on the decision. */
  bg_call g = start_call(agent, "get_decision", args);
  char *decided = review_next("review", "\"kind\":\"approve\"");
  v = finish_call(g, &secs);
  assert_string_equal(jstr(v, "result", "structuredContent", "task_id"), decided);
  json_decref(v);
  free(decided);
}

/* The same through a policy worker (a slow policy): decided, sent to people, refused. */
static void test_review_through_policy_worker(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(call_tool(agent, "request_review",
                             "{\"queue\":\"regex\",\"input\":{\"text\":\"no number\"}}", &r), 200);
  assert_string_equal(tj_str(&r, "result.structuredContent.state"), "decided");
  assert_string_equal(tj_str(&r, "result.structuredContent.route.rule"), "default");
  tr_free(&r);
  long before = stored_tasks();
  assert_int_equal(call_tool(agent, "request_review",
                             "{\"queue\":\"regex\",\"input\":{\"text\":\"x\"},\"confidence\":7}",
                             &r), 200);
  assert_int_equal(tj_int(&r, "error.code"), -32602);
  assert_string_equal(tj_str(&r, "error.data.field"), "arguments.confidence");
  tr_free(&r);
  assert_int_equal(stored_tasks(), before);
  bg_call c = start_call(agent, "request_review",
                         "{\"queue\":\"regex\",\"input\":{\"text\":\"ssn 123-45-6789\"},"
                         "\"wait_seconds\":60}");
  await_pending("regex");
  char *id = review_next("regex", "\"kind\":\"approve\"");
  double secs;
  json_t *v = finish_call(c, &secs);
  assert_string_equal(jstr(v, "result", "structuredContent", "task_id"), id);
  assert_string_equal(jstr(v, "result", "structuredContent", "state"), "decided");
  json_t *content = json_object_get(json_object_get(v, "result"), "structuredContent");
  assert_string_equal(json_string_value(json_object_get(json_object_get(content, "route"), "rule")),
                      "pii");
  json_decref(v);
  free(id);
}

/* ---- ask_human ----------------------------------------------------------------------------- */

static void test_ask_human(void **state) {
  (void)state;
  bg_call c = start_call(agent, "ask_human",
                         "{\"question\":\"Which file?\",\"wait_seconds\":60}");
  await_pending("ask_human");
  char *id = review_next("ask_human", "\"kind\":\"text\",\"value\":\"the second one\"");
  double secs;
  json_t *v = finish_call(c, &secs);
  assert_string_equal(jstr(v, "result", "structuredContent", "task_id"), id);
  assert_string_equal(jstr(v, "result", "structuredContent", "answer"), "the second one");
  assert_string_equal(jstr(v, "result", "structuredContent", "question"), "reply");
  json_decref(v);
  free(id);
  /* Multiple choice: the choices are labels of the queue's label question. */
  c = start_call(agent, "ask_human",
                 "{\"question\":\"Colour?\",\"queue\":\"pick\",\"choices\":[\"red\",\"blue\"],"
                 "\"wait_seconds\":60}");
  await_pending("pick");
  id = review_next("pick", "\"kind\":\"label\",\"value\":\"blue\"");
  v = finish_call(c, &secs);
  assert_string_equal(jstr(v, "result", "structuredContent", "answer"), "blue");
  json_decref(v);
  /* The reviewer saw the question and the choices as the task's input. */
  char path[96];
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  test_resp r;
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "input.question"), "Colour?");
  assert_string_equal(tj_str(&r, "input.choices.1"), "blue");
  tr_free(&r);
  free(id);
}

/* ---- run_status -------------------------------------------------------------------------- */

static void test_run_status(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(tr(&srv, "POST", "/v1/runs", agent,
                      "{\"agent\":\"planner\",\"goal\":\"tidy the inbox\","
                      "\"heartbeat_seconds\":600}", &r), 201);
  char *id = strdup(tj_str(&r, "id"));
  tr_free(&r);
  char path[128], args[128];
  snprintf(path, sizeof path, "/v1/runs/%s/commands", id);
  snprintf(args, sizeof args, "{\"run_id\":\"%s\"}", id);
  assert_int_equal(call_tool(agent, "run_status", args, &r), 200);
  assert_string_equal(tj_str(&r, "result.structuredContent.run.id"), id);
  assert_string_equal(tj_str(&r, "result.structuredContent.run.state"), "running");
  assert_int_equal(json_array_size(json_object_get(
                       json_object_get(json_object_get(r.json, "result"), "structuredContent"),
                       "pending_commands")), 0);
  tr_free(&r);
  /* People pause it: the agent reads the command it has to acknowledge. */
  assert_int_equal(tr(&srv, "POST", path, ADMIN_TOKEN, "{\"type\":\"pause\"}", &r), 201);
  tr_free(&r);
  assert_int_equal(call_tool(agent, "run_status", args, &r), 200);
  assert_string_equal(tj_str(&r, "result.structuredContent.run.state"), "paused");
  assert_string_equal(tj_str(&r, "result.structuredContent.pending_commands.0.type"), "pause");
  assert_non_null(strstr(tj_str(&r, "result.content.0.text"), "pause"));
  tr_free(&r);
  /* Another agent may not read it; an unknown run is not found: tool errors. */
  assert_int_equal(call_tool(other_agent, "run_status", args, &r), 200);
  assert_true(json_is_true(json_object_get(json_object_get(r.json, "result"), "isError")));
  assert_non_null(strstr(tj_str(&r, "result.content.0.text"), "forbidden"));
  tr_free(&r);
  assert_int_equal(call_tool(agent, "run_status", "{\"run_id\":\"run_none\"}", &r), 200);
  assert_true(json_is_true(json_object_get(json_object_get(r.json, "result"), "isError")));
  assert_non_null(strstr(tj_str(&r, "result.content.0.text"), "not_found"));
  tr_free(&r);
  assert_int_equal(call_tool(agent, "run_status", "{\"run_id\":7}", &r), 200);
  assert_int_equal(tj_int(&r, "error.code"), -32602);
  tr_free(&r);
  free(id);
}

/* ---- MCP tasks ----------------------------------------------------------------------------- */

static void test_mcp_tasks(void **state) {
  (void)state;
  test_resp r;
  assert_int_equal(mcp(agent, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":"
                              "{\"name\":\"request_review\",\"arguments\":{\"queue\":\"review\","
                              "\"input\":2,\"confidence\":0.3},\"task\":{\"ttl\":60000}}}", &r), 200);
  assert_string_equal(tj_str(&r, "result.task.status"), "working");
  assert_non_null(tj_str(&r, "result.task.createdAt"));
  char *id = strdup(tj_str(&r, "result.task.taskId"));
  tr_free(&r);
  char body[256];
  snprintf(body, sizeof body,
           "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tasks/get\",\"params\":{\"taskId\":\"%s\"}}",
           id);
  assert_int_equal(mcp(agent, body, &r), 200);
  assert_string_equal(tj_str(&r, "result.taskId"), id);
  assert_string_equal(tj_str(&r, "result.status"), "working");
  tr_free(&r);
  /* Another agent may not see it. */
  assert_int_equal(mcp(other_agent, body, &r), 200);
  assert_int_equal(tj_int(&r, "error.code"), -32603);
  assert_string_equal(tj_str(&r, "error.data.code"), "forbidden");
  tr_free(&r);
  /* tasks/result blocks until people decide. */
  char args[128];
  snprintf(args, sizeof args, "{\"taskId\":\"%s\"}", id);
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    char rbody[256];
    snprintf(rbody, sizeof rbody,
             "{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"tasks/result\",\"params\":%s}", args);
    test_resp cr;
    mcp(agent, rbody, &cr);
    if (write(fds[1], cr.body, strlen(cr.body)) < 0) _exit(2);
    _exit(0);
  }
  close(fds[1]);
  free(review_next("review", "\"kind\":\"approve\""));
  char buf[8192];
  size_t n = 0;
  ssize_t got;
  while (n < sizeof buf - 1 && (got = read(fds[0], buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)got;
  buf[n] = '\0';
  close(fds[0]);
  waitpid(child, NULL, 0);
  json_t *v = json_loads(buf, 0, NULL);
  assert_non_null(v);
  assert_string_equal(jstr(v, "result", "structuredContent", "state"), "decided");
  json_t *meta = json_object_get(json_object_get(v, "result"), "_meta");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(meta, "io.modelcontextprotocol/related-task"),
                                        "taskId")), id);
  json_decref(v);
  assert_int_equal(mcp(agent, body, &r), 200);
  assert_string_equal(tj_str(&r, "result.status"), "completed");
  tr_free(&r);
  free(id);
}

/* ---- bad input ----------------------------------------------------------------------------- */

typedef struct bad_case {
  const char *body;
  long status;     /* HTTP status. */
  int rpc;         /* JSON-RPC error code; 0: a tool result with isError. */
  const char *field; /* error.data.field, or NULL. */
  const char *fragment; /* In the message: what to fix. */
} bad_case;

#define CALL(tool, args)                                                                         \
  "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"" tool         \
  "\",\"arguments\":" args "}}"

static const bad_case corpus[] = {
    /* Not JSON-RPC at all. */
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":", 400, -32700, NULL, "invalid JSON"},
    {"", 400, -32700, NULL, "empty"},
    {"[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", 400, -32600, NULL, "batches"},
    {"\"ping\"", 400, -32600, NULL, "object"},
    {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}", 400, -32600, "jsonrpc", "2.0"},
    {"{\"jsonrpc\":\"2.0\",\"id\":1}", 400, -32600, "method", "method"},
    {"{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", 400, -32600, "id", "null"},
    {"{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", 400, -32600, "id", "string or an integer"},
    /* Unknown method, bad params. */
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/list\"}", 200, -32601, "method",
     "tools/call"},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":[1]}", 200, -32602,
     "params", "object"},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{}}", 200, -32602,
     "params.name", "request_review"},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}", 200, -32602,
     "params.protocolVersion", "protocolVersion"},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tasks/get\",\"params\":{}}", 200, -32602,
     "params.taskId", "taskId"},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tasks/get\",\"params\":{\"taskId\":\"t_none\"}}",
     200, -32602, "params.taskId", "no task"},
    /* Unknown tool, arguments of the wrong type or missing. */
    {CALL("delete_everything", "{}"), 200, -32602, "params.name", "unknown tool"},
    {CALL("request_review", "[1]"), 200, -32602, "params.arguments", "object"},
    {CALL("request_review", "{\"queue\":\"review\"}"), 200, -32602, "arguments.input", "input"},
    {CALL("request_review", "{\"queue\":5,\"input\":1}"), 200, -32602, "arguments.queue",
     "string"},
    {CALL("request_review", "{\"queue\":\"review\",\"input\":1,\"confidence\":\"high\"}"), 200,
     -32602, "arguments.confidence", "number"},
    {CALL("request_review", "{\"queue\":\"review\",\"input\":1,\"confidence\":7}"), 200, -32602,
     "arguments.confidence", "from 0 to 1"},
    {CALL("request_review", "{\"queue\":\"review\",\"input\":1,\"metadata\":[1]}"), 200, -32602,
     "arguments.metadata", "object"},
    {CALL("request_review", "{\"queue\":\"review\",\"input\":1,\"wait_seconds\":\"5\"}"), 200,
     -32602, "arguments.wait_seconds", "integer"},
    {CALL("request_review", "{\"queue\":\"review\",\"input\":1,\"wait_seconds\":301}"), 200,
     -32602, "arguments.wait_seconds", "0 to 300"},
    {CALL("request_review", "{\"queue\":\"review\",\"input\":1,\"priority\":3}"), 200, -32602,
     "arguments.priority", "unknown argument"},
    {CALL("get_decision", "{\"task_id\":12}"), 200, -32602, "arguments.task_id", "string"},
    {CALL("ask_human", "{\"question\":\"q\",\"choices\":\"red\"}"), 200, -32602,
     "arguments.choices", "array"},
    {CALL("ask_human", "{\"question\":\"q\",\"queue\":\"pick\",\"choices\":[\"mauve\"]}"), 200,
     -32602, "arguments.choices", "labels"},
    {CALL("ask_human", "{\"question\":\"q\",\"queue\":\"review\"}"), 200, -32602,
     "arguments.queue", "no text or label question"},
    {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"get_decision\","
     "\"arguments\":{\"task_id\":\"t\"},\"task\":{}}}", 200, -32601, "params.task", "plain tool"},
    /* The tool's own failures: results with isError. */
    {CALL("request_review", "{\"queue\":\"nosuch\",\"input\":1}"), 200, 0, NULL, "no queue"},
    {CALL("get_decision", "{\"task_id\":\"t_none\"}"), 200, 0, NULL, "no task"},
    /* A long name is cut in the message, never inside a UTF-8 sequence (the body stays JSON). */
    {CALL("request_review", "{\"queue\":\"a\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
          "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
          "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9"
          "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\",\"input\":1}"), 200, 0, NULL, "no queue"},
};

static void test_bad_input(void **state) {
  (void)state;
  long before = stored_tasks();
  for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++) {
    const bad_case *c = &corpus[i];
    test_resp r;
    long st = mcp(agent, c->body, &r);
    if (st != c->status) fail_msg("case %zu (%s): status %ld, not %ld: %s", i, c->body, st, c->status, r.body);
    const char *message;
    if (c->rpc) {
      if (tj_int(&r, "error.code") != c->rpc)
        fail_msg("case %zu (%s): %s, not code %d", i, c->body, r.body, c->rpc);
      assert_string_equal(tj_str(&r, "jsonrpc"), "2.0");
      assert_non_null(tj_str(&r, "error.data.code")); /* From the one error table. */
      const char *field = tj_str(&r, "error.data.field");
      if (c->field && (field == NULL || strcmp(field, c->field) != 0))
        fail_msg("case %zu (%s): field %s, not %s", i, c->body, field ? field : "none", c->field);
      message = tj_str(&r, "error.message");
    } else {
      if (!json_is_true(json_object_get(json_object_get(r.json, "result"), "isError")))
        fail_msg("case %zu (%s): not a tool error: %s", i, c->body, r.body);
      message = tj_str(&r, "result.content.0.text");
    }
    if (message == NULL || strstr(message, c->fragment) == NULL)
      fail_msg("case %zu (%s): message without \"%s\": %s", i, c->body, c->fragment, r.body);
    tr_free(&r);
  }
  /* A reviewer may not submit: the agent role, as the REST route. */
  test_resp r;
  assert_int_equal(call_tool(alice, "request_review", "{\"queue\":\"review\",\"input\":1}", &r), 200);
  assert_true(json_is_true(json_object_get(json_object_get(r.json, "result"), "isError")));
  assert_non_null(strstr(tj_str(&r, "result.content.0.text"), "agent role"));
  tr_free(&r);
  /* An unknown MCP-Protocol-Version header. */
  static const char *const h[] = {"MCP-Protocol-Version: 1999-01-01", NULL};
  assert_int_equal(tr_headers(&srv, "POST", "/mcp", agent,
                              "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", h, &r), 400);
  assert_int_equal(tj_int(&r, "error.code"), -32600);
  assert_non_null(strstr(tj_str(&r, "error.message"), "2025-11-25"));
  tr_free(&r);
  /* A page of another site (DNS rebinding) is refused; one of this server is not. */
  static const char *const evil[] = {"Origin: http://evil.example", NULL};
  assert_int_equal(tr_headers(&srv, "POST", "/mcp", agent,
                              "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", evil, &r), 403);
  assert_string_equal(tj_str(&r, "error.data.code"), "forbidden");
  tr_free(&r);
  char own[96];
  snprintf(own, sizeof own, "Origin: http://127.0.0.1:%d", srv.port);
  const char *const mine[] = {own, NULL};
  assert_int_equal(tr_headers(&srv, "POST", "/mcp", agent,
                              "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}", mine, &r), 200);
  tr_free(&r);
  assert_int_equal(stored_tasks(), before); /* Nothing of it was stored. */
}

/* A wait refused for want of a slot (429) is refused before anything is stored. */
static void test_wait_slot_refused_stores_nothing(void **state) {
  (void)state;
  bg_call c = start_call(agent, "request_review",
                         "{\"queue\":\"review\",\"input\":\"holds the slot\","
                         "\"confidence\":0.1,\"wait_seconds\":60}");
  await_pending("review"); /* Its slot was taken before its task was stored. */
  long before = stored_tasks();
  test_resp r;
  assert_int_equal(call_tool(agent, "request_review",
                             "{\"queue\":\"review\",\"input\":2,\"confidence\":0.1,"
                             "\"wait_seconds\":5}", &r), 429);
  assert_non_null(strstr(r.body, "long-polls"));
  tr_free(&r);
  assert_int_equal(stored_tasks(), before);
  char *id = review_next("review", "\"kind\":\"approve\"");
  double secs;
  json_t *v = finish_call(c, &secs);
  assert_string_equal(jstr(v, "result", "structuredContent", "task_id"), id);
  assert_string_equal(jstr(v, "result", "structuredContent", "state"), "decided");
  json_decref(v);
  free(id);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_initialize_and_list),
      cmocka_unit_test(test_review_decided_by_policy),
      cmocka_unit_test(test_review_waits_for_people),
      cmocka_unit_test(test_review_through_policy_worker),
      cmocka_unit_test(test_ask_human),
      cmocka_unit_test(test_run_status),
      cmocka_unit_test(test_mcp_tasks),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_wait_slot_refused_stores_nothing),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
