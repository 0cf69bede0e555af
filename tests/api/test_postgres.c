/* SPDX-License-Identifier: MIT */
/* hitl on PostgreSQL: the README's walkthrough, `hitl audit verify` on a URL, migrations by
 * processes started together, and two servers (nodes) sharing one database. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
