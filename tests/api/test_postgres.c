/* SPDX-License-Identifier: MIT */
/* hitl on PostgreSQL: the README's walkthrough, `hitl audit verify` on a URL, migrations by
 * processes started together, and two servers (nodes) sharing one database. */
#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
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

#include "../pg_test.h"
#include "harness.h"

static const char queue_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"review\"}}]},"
    "\"assignment\":{\"overlap\":1,\"lease_seconds\":60}}";

/* Submits a task to queue "review" through s; returns its id (malloc'd). */
static char *submit(test_server *s, const char *token, int n) {
  char body[96];
  snprintf(body, sizeof body, "{\"input\":{\"text\":\"item %d\"}}", n);
  test_resp r;
  assert_int_equal(tr(s, "POST", "/v1/queues/review/tasks", token, body, &r), 201);
  char *id = strdup(tj_str(&r, "id"));
  tr_free(&r);
  return id;
}

/* Claims through s: returns the task id and its lease id (malloc'd), or NULL when none. */
static char *claim(test_server *s, const char *token, char **lease) {
  test_resp r;
  long status = tr(s, "POST", "/v1/queues/review/claim", token, NULL, &r);
  char *id = NULL;
  if (status == 200) {
    id = strdup(tj_str(&r, "id"));
    *lease = strdup(tj_str(&r, "lease.id"));
  } else {
    assert_int_equal(status, 204);
  }
  tr_free(&r);
  return id;
}

static void approve(test_server *s, const char *token, const char *id, const char *lease) {
  char path[128], body[160];
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", lease);
  test_resp r;
  assert_int_equal(tr(s, "POST", path, token, body, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "decided");
  tr_free(&r);
}

static void assert_task_state(test_server *s, const char *token, const char *id,
                              const char *state) {
  char path[128];
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  test_resp r;
  assert_int_equal(tr(s, "GET", path, token, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "state"), state);
  tr_free(&r);
}

/* The walkthrough: a queue, a task, a claim and an answer; the chain verifies from the command
 * line on the URL, and all of it is still there after the server is killed and restarted. */
static void test_walkthrough_audit_and_restart(void **state) {
  (void)state;
  test_server s = {0};
  ts_start(&s, NULL);
  assert_non_null(strstr(s.db, "postgresql://"));
  test_resp r;
  assert_int_equal(tr(&s, "PUT", "/v1/queues/review", ADMIN_TOKEN, queue_config, &r), 201);
  tr_free(&r);
  char *agent = ts_token(&s, "agent-1", "agent");
  char *alice = ts_token(&s, "alice", "validator");
  char *id = submit(&s, agent, 1), *lease = NULL;
  char *claimed = claim(&s, alice, &lease);
  assert_string_equal(claimed, id);
  approve(&s, alice, id, lease);
  assert_task_state(&s, agent, id, "decided");

  ts_stop(&s, SIGKILL);
  char out[512];
  assert_int_equal(ts_audit_verify(s.db, out, sizeof out), 0);
  assert_non_null(strstr(out, "intact"));

  ts_start(&s, NULL); /* The same database. */
  assert_task_state(&s, agent, id, "decided");
  assert_null(claim(&s, alice, &lease));
  ts_cleanup(&s);
  free(claimed);
  free(lease);
  free(id);
  free(agent);
  free(alice);
}

/* Four processes open one new database at the same moment: the migrations run once, under
 * their lock, and every process finds the schema complete. */
static void test_processes_migrate_together(void **state) {
  (void)state;
  const char *server = pg_test_server_url();
  char url[512];
  assert_int_equal(pg_test_create(server, url, sizeof url), 0);
  const char *bin = getenv("HITL_BIN");
  pid_t pids[4];
  for (int i = 0; i < 4; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      freopen("/dev/null", "w", stdout);
      execl(bin, bin, "audit", "verify", "--db", url, (char *)NULL);
      _exit(127);
    }
  }
  for (int i = 0; i < 4; i++) {
    int status = 0;
    assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
  }
  PGconn *c = PQconnectdb(url);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PGresult *res = PQexec(c, "SELECT version FROM hitl_schema");
  assert_int_equal(PQntuples(res), 1);
  assert_string_equal(PQgetvalue(res, 0, 0), "1");
  PQclear(res);
  PQfinish(c);
  pg_test_drop(server, url);
}

/* True once node's live count of queue "review" in state reaches want, waiting at most 10 s. */
static bool count_reaches(test_server *node, const char *token, const char *state, long long want) {
  char path[64];
  snprintf(path, sizeof path, "counts.%s", state);
  for (int i = 0; i < 500; i++) {
    test_resp r;
    long long got = -1;
    if (tr(node, "GET", "/v1/queues/review", token, NULL, &r) == 200) got = tj_int(&r, path);
    tr_free(&r);
    if (got == want) return true;
    struct timespec pause = {.tv_nsec = 20 * 1000000L};
    nanosleep(&pause, NULL);
  }
  return false;
}

#define SHARED_TASKS 10

/* Starts server a on a new database with queue "review" and three tokens (an agent and two
 * validators, malloc'd), then server b on the same database. */
static void start_two_nodes(test_server *a, test_server *b, char **agent, char **alice,
                            char **bob) {
  ts_start(a, NULL);
  test_resp r;
  assert_int_equal(tr(a, "PUT", "/v1/queues/review", ADMIN_TOKEN, queue_config, &r), 201);
  tr_free(&r);
  *agent = ts_token(a, "agent-1", "agent");
  *alice = ts_token(a, "alice", "validator");
  *bob = ts_token(a, "bob", "validator");
  snprintf(b->db, sizeof b->db, "%s", a->db);
  ts_start(b, NULL); /* After the queue exists: each server loads the queues at start. */
}

/* Two servers on one database: tasks submitted through either are claimed through either, each
 * exactly once; an answer goes through the node that did not lease the task; the event chain
 * the two wrote verifies as one line. */
static void test_two_nodes_share_one_database(void **state) {
  (void)state;
  test_server a = {0}, b = {0};
  char *agent, *alice, *bob;
  start_two_nodes(&a, &b, &agent, &alice, &bob);
  free(bob);

  char *ids[SHARED_TASKS], *claimed[SHARED_TASKS], *leases[SHARED_TASKS];
  for (int i = 0; i < SHARED_TASKS; i++) ids[i] = submit(i % 2 ? &b : &a, agent, i);
  int n = 0;
  bool a_empty = false, b_empty = false;
  for (int turn = 0; !(a_empty && b_empty) && n <= SHARED_TASKS; turn++) {
    test_server *node = turn % 2 ? &b : &a;
    char *lease = NULL, *id = claim(node, alice, &lease);
    if (id == NULL) {
      *(turn % 2 ? &b_empty : &a_empty) = true;
      continue;
    }
    assert_true(n < SHARED_TASKS);
    for (int k = 0; k < n; k++) assert_string_not_equal(claimed[k], id);
    claimed[n] = id;
    leases[n++] = lease;
  }
  assert_int_equal(n, SHARED_TASKS);
  for (int i = 0; i < n; i++) approve(i % 2 ? &a : &b, alice, claimed[i], leases[i]);
  for (int i = 0; i < SHARED_TASKS; i++) assert_task_state(i % 2 ? &a : &b, agent, ids[i], "decided");
  /* Each node's live counts follow the other's commits too (the change feed). */
  assert_true(count_reaches(&a, agent, "decided", SHARED_TASKS));
  assert_true(count_reaches(&b, agent, "decided", SHARED_TASKS));
  assert_true(count_reaches(&a, agent, "leased", 0));
  assert_true(count_reaches(&b, agent, "pending", 0));
  /* One transaction of 400 tasks: its changes take several texts of the feed. */
  test_resp r;
  enum { BATCH = 400 };
  size_t cap = BATCH * 40 + 32, len = 0;
  char *body = malloc(cap);
  len += (size_t)snprintf(body + len, cap - len, "{\"tasks\":[");
  for (int i = 0; i < BATCH; i++)
    len += (size_t)snprintf(body + len, cap - len, "%s{\"input\":{\"text\":\"b%d\"}}",
                            i ? "," : "", i);
  snprintf(body + len, cap - len, "]}");
  assert_int_equal(tr(&a, "POST", "/v1/queues/review/tasks/batch", agent, body, &r), 201);
  tr_free(&r);
  free(body);
  assert_true(count_reaches(&b, agent, "pending", BATCH));

  ts_stop(&a, SIGTERM);
  ts_stop(&b, SIGTERM);
  char out[512];
  assert_int_equal(ts_audit_verify(a.db, out, sizeof out), 0);
  assert_non_null(strstr(out, "intact"));
  b.db[0] = '\0'; /* a's cleanup drops the shared database. */
  ts_cleanup(&b);
  ts_cleanup(&a);
  for (int i = 0; i < SHARED_TASKS; i++) {
    free(ids[i]);
    free(claimed[i]);
    free(leases[i]);
  }
  free(agent);
  free(alice);
}

#define RACE_TASKS 60

/* One node's reviewer: claims through its node until none is left. */
typedef struct claimer {
  test_server *node;
  const char *token;
  char *ids[RACE_TASKS + 1];
  int n;
  long bad_status; /* The first answer that was neither 200 nor 204, or 0. */
} claimer;

static void *claim_all(void *arg) {
  claimer *c = arg;
  for (;;) {
    test_resp r;
    long status = tr(c->node, "POST", "/v1/queues/review/claim", c->token, NULL, &r);
    const char *id = status == 200 ? tj_str(&r, "id") : NULL;
    if (id && c->n <= RACE_TASKS) c->ids[c->n++] = strdup(id);
    tr_free(&r);
    if (status == 204) break;
    if (status != 200 || c->n > RACE_TASKS) {
      c->bad_status = status;
      break;
    }
  }
  return NULL;
}

/* Two nodes' reviewers claim from one queue at the same time, each through its own node: every
 * task is leased exactly once, and no claim fails. */
static void test_two_nodes_claim_at_once(void **state) {
  (void)state;
  test_server a = {0}, b = {0};
  char *agent, *alice, *bob;
  start_two_nodes(&a, &b, &agent, &alice, &bob);
  for (int i = 0; i < RACE_TASKS; i++) free(submit(i % 2 ? &b : &a, agent, i));

  claimer c[2] = {{.node = &a, .token = alice}, {.node = &b, .token = bob}};
  pthread_t th[2];
  for (int i = 0; i < 2; i++) assert_int_equal(pthread_create(&th[i], NULL, claim_all, &c[i]), 0);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  assert_int_equal(c[0].bad_status, 0);
  assert_int_equal(c[1].bad_status, 0);
  assert_int_equal(c[0].n + c[1].n, RACE_TASKS);
  for (int i = 0; i < c[0].n; i++)
    for (int j = 0; j < c[1].n; j++) assert_string_not_equal(c[0].ids[i], c[1].ids[j]);

  ts_stop(&a, SIGTERM);
  ts_stop(&b, SIGTERM);
  char out[512];
  assert_int_equal(ts_audit_verify(a.db, out, sizeof out), 0);
  b.db[0] = '\0';
  ts_cleanup(&b);
  ts_cleanup(&a);
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < c[k].n; i++) free(c[k].ids[i]);
  free(agent);
  free(alice);
  free(bob);
}

/* The event stream of one node, read in a child process: tells the parent (a byte on ready)
 * once the stream has sent the task's lease, then waits for the decision of task_id and writes how long it took
 * from then on done. */
typedef struct stream_reader {
  char buf[65536];
  size_t len;
  int ready_fd;
  bool told;
  const char *task_id;
} stream_reader;

static size_t on_stream(char *data, size_t size, size_t n, void *arg) {
  stream_reader *r = arg;
  size_t len = size * n, room = sizeof r->buf - 1 - r->len;
  memcpy(r->buf + r->len, data, len < room ? len : room);
  r->len += len < room ? len : room;
  r->buf[r->len] = '\0';
  /* Ready once the events so far (up to the task's lease) came: the stream then suspends until
   * the next change it is told of. */
  const char *leased = strstr(r->buf, "event: task.leased");
  if (!r->told && leased && strstr(leased, r->task_id)) {
    r->told = true;
    if (write(r->ready_fd, "r", 1) != 1) return 0;
  }
  const char *at = strstr(r->buf, "event: task.decided");
  if (at && strstr(at, r->task_id)) return 0; /* Seen: end the transfer. */
  return len;
}

static void read_stream(int port, const char *token, const char *task_id, int ready_fd,
                        int done_fd) {
  stream_reader r = {.ready_fd = ready_fd, .task_id = task_id};
  char url[128], auth[160];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/events/stream", port);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
  CURL *c = curl_easy_init();
  struct curl_slist *headers = curl_slist_append(NULL, auth);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_stream);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 30000L);
  curl_easy_perform(c);
  const char *at = strstr(r.buf, "event: task.decided");
  char line[8] = "seen";
  if (!(at && strstr(at, task_id))) snprintf(line, sizeof line, "missed");
  if (write(done_fd, line, strlen(line) + 1) < 0) _exit(2);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
}

/* An event stream open on one node shows a task decided through the other well before its
 * 15-second heartbeat would have made it look again. */
static void test_event_stream_follows_other_node(void **state) {
  (void)state;
  test_server a = {0}, b = {0};
  char *agent, *alice, *bob;
  start_two_nodes(&a, &b, &agent, &alice, &bob);
  char *id = submit(&a, agent, 1);
  char *lease = NULL, *claimed = claim(&a, alice, &lease);
  assert_string_equal(claimed, id);
  int ready[2], done[2];
  assert_int_equal(pipe(ready), 0);
  assert_int_equal(pipe(done), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) {
    close(ready[0]);
    close(done[0]);
    read_stream(b.port, ADMIN_TOKEN, id, ready[1], done[1]);
    _exit(0);
  }
  close(ready[1]);
  close(done[1]);
  struct pollfd p = {.fd = ready[0], .events = POLLIN};
  assert_int_equal(poll(&p, 1, 10000), 1); /* The stream is open on b. */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  approve(&a, alice, id, lease);
  p.fd = done[0];
  assert_int_equal(poll(&p, 1, 30000), 1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  char line[16] = {0};
  assert_true(read(done[0], line, sizeof line - 1) > 0);
  assert_string_equal(line, "seen");
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  assert_true(secs < 10);
  int status = 0;
  assert_int_equal(waitpid(child, &status, 0), child);
  close(ready[0]);
  close(done[0]);
  ts_stop(&a, SIGTERM);
  ts_stop(&b, SIGTERM);
  b.db[0] = '\0';
  ts_cleanup(&b);
  ts_cleanup(&a);
  free(claimed);
  free(lease);
  free(id);
  free(agent);
  free(alice);
  free(bob);
}

int main(void) {
  if (pg_test_server_url() == NULL) {
    fprintf(stderr, "test_postgres: HITL_TEST_PG names no server (see tests/pg_test.h)\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_walkthrough_audit_and_restart),
      cmocka_unit_test(test_processes_migrate_together),
      cmocka_unit_test(test_two_nodes_share_one_database),
      cmocka_unit_test(test_two_nodes_claim_at_once),
      cmocka_unit_test(test_event_stream_follows_other_node),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
