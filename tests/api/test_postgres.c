/* SPDX-License-Identifier: MIT */
/* hitl on PostgreSQL: the README's walkthrough, `hitl audit verify` on a URL, migrations by
 * processes started together, and two servers (nodes) sharing one database. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
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
#include "store/postgres.h"

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
  char latest[24]; /* The schema is at its newest migration. */
  snprintf(latest, sizeof latest, "%zu", hitl__pg_migrations_count);
  assert_string_equal(PQgetvalue(res, 0, 0), latest);
  PQclear(res);
  PQfinish(c);
  pg_test_drop(server, url);
}

/* True once node's live count of the queue in state reaches want, waiting at most 10 s. */
static bool count_in_queue_reaches(test_server *node, const char *queue, const char *token,
                                   const char *state, long long want) {
  char path[64], url[96];
  snprintf(path, sizeof path, "counts.%s", state);
  snprintf(url, sizeof url, "/v1/queues/%s", queue);
  for (int i = 0; i < 500; i++) {
    test_resp r;
    long long got = -1;
    if (tr(node, "GET", url, token, NULL, &r) == 200) got = tj_int(&r, path);
    tr_free(&r);
    if (got == want) return true;
    struct timespec pause = {.tv_nsec = 20 * 1000000L};
    nanosleep(&pause, NULL);
  }
  return false;
}

static bool count_reaches(test_server *node, const char *token, const char *state, long long want) {
  return count_in_queue_reaches(node, "review", token, state, want);
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

/* Stops both servers, drops their database and frees the tokens of start_two_nodes. */
static void stop_two_nodes(test_server *a, test_server *b, char *agent, char *alice, char *bob) {
  ts_stop(a, SIGTERM);
  ts_stop(b, SIGTERM);
  b->db[0] = '\0'; /* a's cleanup drops the shared database. */
  ts_cleanup(b);
  ts_cleanup(a);
  free(agent);
  free(alice);
  free(bob);
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

/* ---- Webhooks from two nodes: a receiver that counts each delivery id ---- */

#define HOOK_TASKS 40
#define HOOK_ID_LEN 64

typedef struct hook_receiver {
  struct MHD_Daemon *daemon;
  int port;
  pthread_mutex_t mu;
  char ids[4 * HOOK_TASKS][HOOK_ID_LEN];
  int counts[4 * HOOK_TASKS];
  int n_ids;
} hook_receiver;

static enum MHD_Result on_hook(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **req) {
  (void)url; (void)method; (void)version; (void)data;
  hook_receiver *rc = cls;
  if (*req == NULL) { /* Headers: wait for the body. */
    *req = rc;
    return MHD_YES;
  }
  if (*size > 0) { /* The body: not needed. */
    *size = 0;
    return MHD_YES;
  }
  const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Hitl-Delivery");
  pthread_mutex_lock(&rc->mu);
  int k = 0;
  while (k < rc->n_ids && (id == NULL || strcmp(rc->ids[k], id) != 0)) k++;
  if (k == rc->n_ids && k < 4 * HOOK_TASKS) {
    snprintf(rc->ids[k], HOOK_ID_LEN, "%s", id ? id : "?");
    rc->n_ids++;
  }
  if (k < 4 * HOOK_TASKS) rc->counts[k]++;
  pthread_mutex_unlock(&rc->mu);
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
  enum MHD_Result ret = MHD_queue_response(c, 200, resp);
  MHD_destroy_response(resp);
  return ret;
}

/* Both nodes' workers deliver the deliveries both nodes wrote: each is POSTed once. */
static void test_two_nodes_deliver_each_webhook_once(void **state) {
  (void)state;
  hook_receiver rc = {0};
  pthread_mutex_init(&rc.mu, NULL);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  rc.daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
                               0, NULL, NULL, on_hook, &rc, MHD_OPTION_SOCK_ADDR,
                               (struct sockaddr *)&addr, MHD_OPTION_END);
  assert_non_null(rc.daemon);
  rc.port = MHD_get_daemon_info(rc.daemon, MHD_DAEMON_INFO_BIND_PORT)->port;

  test_server a = {0}, b = {0};
  ts_start(&a, NULL);
  char cfg[256];
  snprintf(cfg, sizeof cfg,
           "{\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"accept\"}}]},"
           "\"webhooks\":[{\"url\":\"http://127.0.0.1:%d/hook\",\"events\":[\"task.decided\","
           "\"task.submitted\"]}]}", rc.port);
  test_resp r;
  assert_int_equal(tr(&a, "PUT", "/v1/queues/hooked", ADMIN_TOKEN, cfg, &r), 201);
  tr_free(&r);
  char *agent = ts_token(&a, "agent-1", "agent");
  snprintf(b.db, sizeof b.db, "%s", a.db);
  ts_start(&b, NULL);
  for (int i = 0; i < HOOK_TASKS; i++) {
    assert_int_equal(tr(i % 2 ? &b : &a, "POST", "/v1/queues/hooked/tasks", agent,
                        "{\"input\":{\"text\":\"hook\"}}", &r), 201);
    tr_free(&r);
  }
  /* Every delivery is stored as delivered (bounded wait), then none was POSTed twice. */
  bool all = false;
  for (int k = 0; k < 1000 && !all; k++) {
    assert_int_equal(tr(&a, "GET", "/v1/queues/hooked/webhook-deliveries?state=pending&limit=10",
                        ADMIN_TOKEN, NULL, &r), 200);
    json_t *list = r.json ? json_object_get(r.json, "deliveries") : NULL;
    all = list && json_array_size(list) == 0;
    tr_free(&r);
    pthread_mutex_lock(&rc.mu);
    all = all && rc.n_ids >= HOOK_TASKS;
    pthread_mutex_unlock(&rc.mu);
    if (!all) {
      struct timespec pause = {.tv_nsec = 20 * 1000000L};
      nanosleep(&pause, NULL);
    }
  }
  assert_true(all);
  ts_stop(&a, SIGTERM);
  ts_stop(&b, SIGTERM);
  MHD_stop_daemon(rc.daemon);
  assert_true(rc.n_ids >= HOOK_TASKS);
  for (int k = 0; k < rc.n_ids; k++)
    if (rc.counts[k] != 1) fail_msg("delivery %s was POSTed %d times", rc.ids[k], rc.counts[k]);
  pthread_mutex_destroy(&rc.mu);
  b.db[0] = '\0';
  ts_cleanup(&b);
  ts_cleanup(&a);
  free(agent);
}

/* A queue created through one node can be used through the other, its new configuration too,
 * and a token revoked through one stops working on the other, even where it was cached. */
static void test_queue_and_token_changes_reach_other_node(void **state) {
  (void)state;
  test_server a = {0}, b = {0};
  char *agent, *alice, *bob;
  start_two_nodes(&a, &b, &agent, &alice, &bob);
  test_resp r;
  assert_int_equal(tr(&b, "GET", "/v1/queues/review", alice, NULL, &r), 200); /* Cached on b. */
  tr_free(&r);

  assert_int_equal(tr(&a, "PUT", "/v1/queues/fresh", ADMIN_TOKEN, queue_config, &r), 201);
  tr_free(&r);
  /* At once, without waiting for the change feed: b reads a queue it does not know yet. */
  assert_int_equal(tr(&b, "POST", "/v1/queues/fresh/tasks", agent, "{\"input\":{\"text\":\"x\"}}",
                      &r), 201);
  assert_string_equal(tj_str(&r, "state"), "pending");
  tr_free(&r);
  assert_true(count_in_queue_reaches(&a, "fresh", agent, "pending", 1));
  assert_true(count_in_queue_reaches(&b, "fresh", agent, "pending", 1));
  /* A new configuration through a: b routes by it (every task is accepted now). */
  assert_int_equal(tr(&a, "PUT", "/v1/queues/fresh", ADMIN_TOKEN,
                      "{\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"accept\"}}]}}",
                      &r), 200);
  tr_free(&r);
  bool accepted = false;
  for (int i = 0; i < 500 && !accepted; i++) {
    assert_int_equal(tr(&b, "GET", "/v1/queues/fresh", agent, NULL, &r), 200);
    accepted = r.body && strstr(r.body, "\"accept\"") != NULL;
    tr_free(&r);
    if (!accepted) {
      struct timespec pause = {.tv_nsec = 20 * 1000000L};
      nanosleep(&pause, NULL);
    }
  }
  assert_true(accepted);
  assert_int_equal(tr(&b, "POST", "/v1/queues/fresh/tasks", agent, "{\"input\":{\"text\":\"y\"}}",
                      &r), 201);
  assert_string_equal(tj_str(&r, "state"), "decided");
  tr_free(&r);

  assert_int_equal(tr(&a, "DELETE", "/v1/tokens/alice", ADMIN_TOKEN, NULL, &r), 200);
  tr_free(&r);
  assert_true(tr_status_reaches(&b, "/v1/queues/review", alice, 401));

  stop_two_nodes(&a, &b, agent, alice, bob);
}

/* A server whose listening connection is cut off misses what is published meanwhile: once it
 * listens again it reads the queues' counts afresh, so they end right. */
static void test_feed_cut_off_resyncs(void **state) {
  (void)state;
  test_server a = {0}, b = {0};
  char *agent, *alice, *bob;
  start_two_nodes(&a, &b, &agent, &alice, &bob);
  PGconn *c = PQconnectdb(a.db);
  assert_int_equal(PQstatus(c), CONNECTION_OK);
  PGresult *res = PQexec(c, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND query = 'LISTEN hitl_changes'");
  assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
  assert_string_equal(PQgetvalue(res, 0, 0), "2"); /* Both servers' listeners. */
  PQclear(res);
  PQfinish(c);
  for (int i = 0; i < 5; i++) free(submit(&a, agent, i)); /* Likely while b is not listening. */
  assert_true(count_reaches(&b, agent, "pending", 5));
  for (int i = 5; i < 8; i++) free(submit(&a, agent, i)); /* And the feed works again. */
  assert_true(count_reaches(&b, agent, "pending", 8));
  stop_two_nodes(&a, &b, agent, alice, bob);
}

#define LATE_TASKS 20

/* Both nodes' sweepers watch the same deadlines: each passed deadline decides its task once. */
static void test_two_nodes_sweep_each_deadline_once(void **state) {
  (void)state;
  test_server a = {0}, b = {0};
  ts_start(&a, NULL);
  test_resp r;
  assert_int_equal(tr(&a, "PUT", "/v1/queues/late", ADMIN_TOKEN,
                      "{\"sla\":{\"deadline_seconds\":1,\"on_timeout\":\"reject\"}}", &r), 201);
  tr_free(&r);
  char *agent = ts_token(&a, "agent-1", "agent");
  snprintf(b.db, sizeof b.db, "%s", a.db);
  ts_start(&b, NULL);
  char *ids[LATE_TASKS];
  for (int i = 0; i < LATE_TASKS; i++) {
    assert_int_equal(tr(i % 2 ? &b : &a, "POST", "/v1/queues/late/tasks", agent,
                        "{\"input\":{\"text\":\"late\"}}", &r), 201);
    ids[i] = strdup(tj_str(&r, "id"));
    tr_free(&r);
  }
  /* Every task decided (bounded wait), then exactly one decision event each. */
  for (int i = 0; i < LATE_TASKS; i++) {
    char path[128];
    snprintf(path, sizeof path, "/v1/tasks/%s?wait=20", ids[i]);
    assert_int_equal(tr(i % 2 ? &a : &b, "GET", path, agent, NULL, &r), 200);
    assert_string_equal(tj_str(&r, "state"), "decided");
    tr_free(&r);
  }
  ts_stop(&a, SIGTERM);
  ts_stop(&b, SIGTERM);
  ts_start(&a, NULL); /* Both sweepers are stopped: nothing more can happen. */
  assert_int_equal(tr(&a, "GET", "/v1/events?queue=late&type=task.decided&limit=1000",
                      ADMIN_TOKEN, NULL, &r), 200);
  json_t *events = json_object_get(r.json, "events");
  assert_int_equal(json_array_size(events), LATE_TASKS);
  for (int i = 0; i < LATE_TASKS; i++) {
    int seen = 0;
    for (size_t k = 0; k < json_array_size(events); k++) {
      const char *task = json_string_value(json_object_get(json_array_get(events, k), "task_id"));
      seen += task && strcmp(task, ids[i]) == 0;
    }
    if (seen != 1) fail_msg("task %s was decided %d times", ids[i], seen);
    free(ids[i]);
  }
  tr_free(&r);
  ts_stop(&a, SIGTERM);
  b.db[0] = '\0';
  ts_cleanup(&b);
  ts_cleanup(&a);
  free(agent);
}

/* Calibration on two servers sharing the database: each decision's transaction first adds the
 * pairs the other server stored, so the state of a server that decides is whole. */
static void test_two_nodes_share_calibration_evidence(void **state) {
  (void)state;
  test_server a = {0}, b = {0};
  ts_start(&a, NULL);
  test_resp r;
  assert_int_equal(tr(&a, "PUT", "/v1/queues/cal", ADMIN_TOKEN,
                      "{\"schema\":{\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
                      "\"policy\":{\"rules\":[{\"name\":\"auto\",\"when\":{\"calibrated\":"
                      "{\"max_error\":0.1,\"confidence\":0.9}},\"then\":{\"action\":\"accept\"}}]},"
                      "\"assignment\":{\"overlap\":1,\"lease_seconds\":60}}", &r), 201);
  tr_free(&r);
  char *agent = ts_token(&a, "agent-1", "agent"), *alice = ts_token(&a, "alice", "validator");
  snprintf(b.db, sizeof b.db, "%s", a.db);
  ts_start(&b, NULL);
  const int n = 40;
  for (int i = 0; i < n; i++) {
    char body[96];
    snprintf(body, sizeof body, "{\"input\":%d,\"confidence\":0.95}", i);
    assert_int_equal(tr(i % 2 ? &b : &a, "POST", "/v1/queues/cal/tasks", agent, body, &r), 201);
    tr_free(&r);
  }
  /* Answers alternate between the nodes; the last goes through a. */
  for (int i = 0; i < n; i++) {
    test_server *node = i % 2 ? &a : &b;
    assert_int_equal(tr(node, "POST", "/v1/queues/cal/claim", alice, NULL, &r), 200);
    char path[128], body[160];
    snprintf(path, sizeof path, "/v1/tasks/%s/responses", tj_str(&r, "id"));
    snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", tj_str(&r, "lease.id"));
    tr_free(&r);
    assert_int_equal(tr(node, "POST", path, alice, body, &r), 200);
    tr_free(&r);
  }
  assert_int_equal(tr(&a, "GET", "/v1/queues/cal/calibration", ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(tj_int(&r, "evidence.pairs"), n);
  assert_true(json_is_true(json_object_get(r.json, "certified")));
  /* The last day's routing is counted in the database: each node sees both nodes' submits. */
  assert_int_equal(tj_int(&r, "last_day.routed"), n);
  tr_free(&r);
  assert_int_equal(tr(&b, "GET", "/v1/queues/cal/calibration", ADMIN_TOKEN, NULL, &r), 200);
  assert_int_equal(tj_int(&r, "evidence.pairs"), n - 1); /* b has not decided since a's last. */
  assert_int_equal(tj_int(&r, "last_day.routed"), n);
  tr_free(&r);
  free(agent);
  free(alice);
  ts_cleanup(&b);
  ts_cleanup(&a);
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
      cmocka_unit_test(test_two_nodes_deliver_each_webhook_once),
      cmocka_unit_test(test_queue_and_token_changes_reach_other_node),
      cmocka_unit_test(test_feed_cut_off_resyncs),
      cmocka_unit_test(test_two_nodes_sweep_each_deadline_once),
      cmocka_unit_test(test_two_nodes_share_calibration_evidence),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
