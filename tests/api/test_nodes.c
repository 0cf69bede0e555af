/* SPDX-License-Identifier: MIT */
/* Several nodes on one PostgreSQL, as scripts/three-nodes.sh starts them: reviewers on all three
 * at once, one node killed mid-run; and a node whose database goes away and comes back. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../pg_test.h"
#include "harness.h"

#define NODES 3
#define TASKS 60
#define REVIEWERS 6
#define RUN_LIMIT_MS 45000 /* The reviewers give up after this long: the test fails. */

static const char queue_config[] =
    "{\"schema\":{\"fields\":[{\"name\":\"text\",\"type\":\"text\"}],"
    "\"questions\":[{\"name\":\"verdict\",\"type\":\"approve\"}]},"
    "\"policy\":{\"rules\":[{\"name\":\"all\",\"then\":{\"action\":\"review\"}}]},"
    "\"assignment\":{\"overlap\":1,\"lease_seconds\":5}}";

static int64_t mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void pause_ms(long ms) {
  struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

/* Runs `bash script cmd dir` (script from HITL_SCRIPTS) with HITL_ADMIN_TOKEN set; its exit
 * status. */
static int run_script(const char *script, const char *cmd, const char *dir) {
  const char *scripts = getenv("HITL_SCRIPTS");
  assert_non_null(scripts);
  char path[512];
  snprintf(path, sizeof path, "%s/%s", scripts, script);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    if (freopen("/dev/null", "w", stdout) == NULL) _exit(126);
    setenv("HITL_ADMIN_TOKEN", ADMIN_TOKEN, 1);
    execlp("bash", "bash", path, cmd, dir, (char *)NULL);
    _exit(127);
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Reads the first line of dir/name into out. */
static void read_line(const char *dir, const char *name, char *out, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  assert_non_null(fgets(out, (int)n, f));
  fclose(f);
  out[strcspn(out, "\r\n")] = '\0';
}

/* Counts the lines of the log file that contain what. */
static int log_count(const char *path, const char *what) {
  FILE *f = fopen(path, "r");
  if (f == NULL) return 0;
  char line[2048];
  int n = 0;
  while (fgets(line, sizeof line, f)) n += strstr(line, what) != NULL;
  fclose(f);
  return n;
}

/* ---- three nodes ----------------------------------------------------------------------------- */

typedef struct cluster {
  char dir[256];
  char db[512];
  test_server node[NODES]; /* pid and port only: the script owns the processes' files. */
} cluster;

static cluster the_cluster;

/* Starts PostgreSQL and three nodes with scripts/three-nodes.sh. The test is made the subreaper
 * of what the script leaves running, so that it can reap the nodes it stops. */
static void cluster_start(cluster *c) {
  assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  snprintf(c->dir, sizeof c->dir, "/tmp/hitl-nodes-XXXXXX");
  assert_non_null(mkdtemp(c->dir));
  assert_int_equal(run_script("three-nodes.sh", "start", c->dir), 0);
  read_line(c->dir, "db", c->db, sizeof c->db);
  for (int i = 0; i < NODES; i++) {
    char name[32], line[128];
    snprintf(name, sizeof name, "node%d.pid", i + 1);
    read_line(c->dir, name, line, sizeof line);
    c->node[i].pid = (pid_t)atol(line);
    snprintf(name, sizeof name, "node%d.url", i + 1);
    read_line(c->dir, name, line, sizeof line);
    const char *port = strrchr(line, ':');
    assert_non_null(port);
    c->node[i].port = atoi(port + 1);
  }
}

/* Stops node i (by its PID, reaped here) with sig. */
static void cluster_kill(cluster *c, int i, int sig) {
  if (c->node[i].pid <= 0) return;
  kill(c->node[i].pid, sig);
  waitpid(c->node[i].pid, NULL, 0);
  c->node[i].pid = 0;
}

/* The teardown: stops what is left (the script stops the nodes and PostgreSQL by their PIDs),
 * fails on a sanitizer report in a node's log and removes the folder. */
static int cluster_teardown(void **state) {
  (void)state;
  cluster *c = &the_cluster;
  if (c->dir[0] == '\0') return 0;
  for (int i = 0; i < NODES; i++) cluster_kill(c, i, SIGTERM);
  run_script("three-nodes.sh", "stop", c->dir);
  bool reported = false;
  for (int i = 0; i < NODES; i++) {
    char path[320];
    snprintf(path, sizeof path, "%s/node%d.log", c->dir, i + 1);
    reported = ts_log_reports(path) || reported;
  }
  while (waitpid(-1, NULL, WNOHANG) > 0) continue; /* PostgreSQL's, left to the subreaper. */
  char cmd[320];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", c->dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", c->dir);
  c->dir[0] = '\0';
  return reported ? -1 : 0;
}

/* What the reviewers share. */
typedef struct run {
  cluster *c;
  pthread_mutex_t lock;
  bool dead[NODES];            /* Nodes found gone (a refused connection). */
  char *claimed[TASKS * 2];    /* Task ids of acknowledged claims, one entry per claim. */
  int n_claimed;
  int acknowledged;            /* Answers acknowledged with 200. */
  int64_t until;               /* Monotonic ms: give up then. */
  long bad_status;             /* The first unexpected answer, or 0. */
  char bad_body[256];
} run;

typedef struct reviewer {
  run *run;
  int home;                    /* The node it talks to; the next one when that one is gone. */
  char *token;
} reviewer;

static test_server *node_of(reviewer *r) {
  run *u = r->run;
  pthread_mutex_lock(&u->lock);
  for (int k = 0; k < NODES && u->dead[r->home]; k++) r->home = (r->home + 1) % NODES;
  int home = r->home;
  pthread_mutex_unlock(&u->lock);
  return &u->c->node[home];
}

static void node_gone(reviewer *r, test_server *node) {
  pthread_mutex_lock(&r->run->lock);
  r->run->dead[node - r->run->c->node] = true;
  pthread_mutex_unlock(&r->run->lock);
}

static void note_bad(run *u, long status, const test_resp *resp) {
  pthread_mutex_lock(&u->lock);
  if (u->bad_status == 0) {
    u->bad_status = status;
    snprintf(u->bad_body, sizeof u->bad_body, "%s", resp->body ? resp->body : "");
  }
  pthread_mutex_unlock(&u->lock);
}

/* The decided count of queue review as node sees it, or -1. */
static long long decided_on(test_server *node) {
  test_resp r;
  long long n = -1;
  if (tr(node, "GET", "/v1/queues/review", ADMIN_TOKEN, NULL, &r) == 200)
    n = tj_int(&r, "counts.decided");
  tr_free(&r);
  return n;
}

/* Answers a lease, through the next live node whenever one is gone. Returns once the answer
 * is acknowledged, or refused because an earlier try that got no answer was stored (409). */
static void answer(reviewer *r, const char *id, const char *lease) {
  char path[128], body[160];
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", id);
  snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", lease);
  bool unsure = false; /* A try went unanswered: it may have been stored. */
  while (mono_ms() < r->run->until) {
    test_server *node = node_of(r);
    test_resp resp;
    long status = tr(node, "POST", path, r->token, body, &resp);
    if (status == 200) {
      pthread_mutex_lock(&r->run->lock);
      r->run->acknowledged++;
      pthread_mutex_unlock(&r->run->lock);
    } else if (status == 0) {
      node_gone(r, node);
      unsure = true;
    } else if (!(status == 409 && unsure) && status != 503) {
      note_bad(r->run, status, &resp);
    }
    tr_free(&resp);
    if (status != 0 && status != 503) return;
  }
}

/* One reviewer: claims and answers through its node until every task is decided. */
static void *review(void *arg) {
  reviewer *r = arg;
  run *u = r->run;
  while (mono_ms() < u->until) {
    test_server *node = node_of(r);
    test_resp resp;
    long status = tr(node, "POST", "/v1/queues/review/claim", r->token, NULL, &resp);
    if (status == 200) {
      char *id = strdup(tj_str(&resp, "id")), *lease = strdup(tj_str(&resp, "lease.id"));
      pthread_mutex_lock(&u->lock);
      if (u->n_claimed < TASKS * 2) u->claimed[u->n_claimed++] = strdup(id);
      pthread_mutex_unlock(&u->lock);
      answer(r, id, lease);
      free(id);
      free(lease);
    } else if (status == 0) {
      node_gone(r, node);
    } else if (status == 204) {
      /* Nothing to claim: done when every task is decided, else some lease was lost with the
       * killed node and comes back when it expires. */
      if (decided_on(node) == TASKS + 1) { /* And the watched one. */
        tr_free(&resp);
        break;
      }
      pause_ms(50);
    } else if (status != 503) {
      note_bad(u, status, &resp);
    }
    tr_free(&resp);
  }
  return NULL;
}

/* A long-poll on one node for a task, in a thread: how it ended and when. */
typedef struct poll_call {
  test_server *node;
  const char *token;
  char path[160];
  long status;
  char state[32];
  int64_t done_at;
} poll_call;

static void *long_poll(void *arg) {
  poll_call *p = arg;
  test_resp r;
  p->status = tr(p->node, "GET", p->path, p->token, NULL, &r);
  const char *state = p->status == 200 ? tj_str(&r, "state") : NULL;
  snprintf(p->state, sizeof p->state, "%s", state ? state : "");
  p->done_at = mono_ms();
  tr_free(&r);
  return NULL;
}

/* The open HTTP connections of node (its /metrics), or -1. */
static long open_connections(test_server *node) {
  test_resp r;
  long n = -1;
  if (tr(node, "GET", "/metrics", ADMIN_TOKEN, NULL, &r) == 200) {
    const char *at = strstr(r.body, "\nhitl_http_connections ");
    if (at) n = atol(at + strlen("\nhitl_http_connections "));
  }
  tr_free(&r);
  return n;
}

/* Three nodes on one database: a long-poll on node 1 ends at once when the task is decided
 * through node 3; six reviewers claim through all three at once and node 2 is killed (SIGKILL)
 * while they do; the others finish the work. No task is claimed (acknowledged) twice, every task
 * is decided exactly once, and the event chain all three wrote verifies. */
static void test_three_nodes_share_the_work(void **state) {
  (void)state;
  cluster *c = &the_cluster;
  cluster_start(c);
  test_server *a = &c->node[0], *b = &c->node[1], *z = &c->node[2];
  test_resp r;
  assert_int_equal(tr(a, "PUT", "/v1/queues/review", ADMIN_TOKEN, queue_config, &r), 201);
  tr_free(&r);
  char *agent = ts_token(a, "agent-1", "agent");
  reviewer revs[REVIEWERS];
  for (int i = 0; i < REVIEWERS; i++) {
    char name[16];
    snprintf(name, sizeof name, "rev-%d", i);
    revs[i] = (reviewer){.home = i % NODES, .token = ts_token(a, name, "validator")};
  }
  for (int i = 1; i < NODES; i++)
    assert_true(tr_status_reaches(&c->node[i], "/v1/queues/review", agent, 200));

  /* The long-poll: waiting on node 1, decided through node 3. */
  char body[96];
  assert_int_equal(tr(b, "POST", "/v1/queues/review/tasks", agent,
                      "{\"input\":{\"text\":\"watched\"}}", &r), 201);
  char *watched = strdup(tj_str(&r, "id"));
  tr_free(&r);
  long before = open_connections(a);
  poll_call poll = {.node = a, .token = agent};
  snprintf(poll.path, sizeof poll.path, "/v1/tasks/%s?wait=30", watched);
  pthread_t poller;
  assert_int_equal(pthread_create(&poller, NULL, long_poll, &poll), 0);
  for (int i = 0; i < 500 && open_connections(a) <= before; i++) pause_ms(10);
  assert_int_equal(tr(z, "POST", "/v1/queues/review/claim", revs[2].token, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "id"), watched);
  char path[128], answer_body[160];
  snprintf(path, sizeof path, "/v1/tasks/%s/responses", watched);
  snprintf(answer_body, sizeof answer_body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}",
           tj_str(&r, "lease.id"));
  tr_free(&r);
  assert_int_equal(tr(z, "POST", path, revs[2].token, answer_body, &r), 200);
  tr_free(&r);
  int64_t decided_at = mono_ms();
  pthread_join(poller, NULL);
  assert_int_equal(poll.status, 200);
  assert_string_equal(poll.state, "decided");
  /* Without the change feed node 1 would look again only after 5 s. */
  if (poll.done_at - decided_at > 2500)
    fail_msg("the long-poll on node 1 ended %lld ms after the decision on node 3",
             (long long)(poll.done_at - decided_at));

  /* The work: TASKS tasks submitted through all three nodes. */
  for (int i = 0; i < TASKS; i++) {
    snprintf(body, sizeof body, "{\"input\":{\"text\":\"item %d\"}}", i);
    assert_int_equal(tr(&c->node[i % NODES], "POST", "/v1/queues/review/tasks", agent, body, &r),
                     201);
    tr_free(&r);
  }
  static run u;
  memset(&u, 0, sizeof u);
  u.c = c;
  u.until = mono_ms() + RUN_LIMIT_MS;
  pthread_mutex_init(&u.lock, NULL);
  pthread_t th[REVIEWERS];
  for (int i = 0; i < REVIEWERS; i++) {
    revs[i].run = &u;
    assert_int_equal(pthread_create(&th[i], NULL, review, &revs[i]), 0);
  }
  /* Node 2 dies once a third of the work is acknowledged, with requests in flight. */
  for (;;) {
    pthread_mutex_lock(&u.lock);
    int done = u.acknowledged;
    pthread_mutex_unlock(&u.lock);
    if (done >= TASKS / 3 || mono_ms() > u.until) break;
    pause_ms(5);
  }
  cluster_kill(c, 1, SIGKILL);
  for (int i = 0; i < REVIEWERS; i++) pthread_join(th[i], NULL);
  if (u.bad_status) fail_msg("a reviewer got %ld: %s", u.bad_status, u.bad_body);
  assert_true(mono_ms() < u.until);
  assert_int_equal(decided_on(a), TASKS + 1);
  assert_int_equal(decided_on(z), TASKS + 1);

  /* No acknowledged claim of a task twice. */
  for (int i = 0; i < u.n_claimed; i++)
    for (int k = i + 1; k < u.n_claimed; k++)
      if (strcmp(u.claimed[i], u.claimed[k]) == 0) fail_msg("task %s was claimed twice", u.claimed[i]);
  /* Every task decided exactly once: one task.decided event each. */
  assert_int_equal(tr(a, "GET", "/v1/events?queue=review&type=task.decided&limit=1000",
                      ADMIN_TOKEN, NULL, &r), 200);
  json_t *events = json_object_get(r.json, "events");
  assert_int_equal(json_array_size(events), TASKS + 1);
  for (size_t i = 0; i < json_array_size(events); i++)
    for (size_t k = i + 1; k < json_array_size(events); k++) {
      const char *x = json_string_value(json_object_get(json_array_get(events, i), "task_id"));
      const char *y = json_string_value(json_object_get(json_array_get(events, k), "task_id"));
      assert_non_null(x);
      if (y && strcmp(x, y) == 0) fail_msg("task %s was decided twice", x);
    }
  tr_free(&r);
  fprintf(stderr, "three nodes: %d claims acknowledged, %d answers acknowledged\n", u.n_claimed,
          u.acknowledged);

  cluster_kill(c, 0, SIGTERM);
  cluster_kill(c, 2, SIGTERM);
  char out[512];
  assert_int_equal(ts_audit_verify(c->db, out, sizeof out), 0);
  assert_non_null(strstr(out, "intact"));
  for (int i = 0; i < u.n_claimed; i++) free(u.claimed[i]);
  for (int i = 0; i < REVIEWERS; i++) free(revs[i].token);
  pthread_mutex_destroy(&u.lock);
  free(watched);
  free(agent);
}

/* ---- a database that goes away --------------------------------------------------------------- */

static char private_pg[256]; /* The state folder of this test's own PostgreSQL. */
static test_server loss_nodes[2]; /* Its servers: stopped by the teardown when a check failed. */

static int private_pg_teardown(void **state) {
  (void)state;
  for (int i = 0; i < 2; i++) {
    loss_nodes[i].db[0] = '\0'; /* Not on the shared server: dropped with the private one. */
    if (loss_nodes[i].dir[0]) ts_cleanup(&loss_nodes[i]);
  }
  if (private_pg[0] == '\0') return 0;
  run_script("pg-test-server.sh", "stop", private_pg);
  while (waitpid(-1, NULL, WNOHANG) > 0) continue;
  char cmd[320];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", private_pg);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", private_pg);
  private_pg[0] = '\0';
  return 0;
}

/* Sends a request that must be refused 503 with the JSON error "unavailable", quickly. */
static void assert_unavailable(test_server *s, const char *method, const char *path,
                               const char *token, const char *body) {
  test_resp r;
  int64_t t0 = mono_ms();
  long status = tr(s, method, path, token, body, &r);
  int64_t took = mono_ms() - t0;
  if (status != 503 || r.json == NULL || tj_str(&r, "error.code") == NULL ||
      strcmp(tj_str(&r, "error.code"), "unavailable") != 0)
    fail_msg("%s %s with the database away: %ld %s", method, path, status, r.body);
  if (took > 3000) fail_msg("%s %s took %lld ms to fail", method, path, (long long)took);
  tr_free(&r);
}

/* Two nodes on a PostgreSQL of the test's own, which stops: every request answers 503 with a JSON
 * error at once (/healthz too), the writer does not spin; PostgreSQL starts again on the same
 * port and data, and both nodes serve again without a restart, their change feed too; what was
 * acknowledged before is there, and the chain verifies. */
static void test_node_survives_database_loss(void **state) {
  (void)state;
  snprintf(private_pg, sizeof private_pg, "/tmp/hitl-pgloss-XXXXXX");
  assert_non_null(mkdtemp(private_pg));
  assert_int_equal(run_script("pg-test-server.sh", "start", private_pg), 0);
  char server[512];
  read_line(private_pg, "url", server, sizeof server);
  test_server *pa = &loss_nodes[0], *pb = &loss_nodes[1];
  memset(loss_nodes, 0, sizeof loss_nodes);
  assert_int_equal(pg_test_create(server, pa->db, sizeof pa->db), 0);
  snprintf(pb->db, sizeof pb->db, "%s", pa->db);
  ts_start(pa, NULL);
  test_resp r;
  assert_int_equal(tr(pa, "PUT", "/v1/queues/review", ADMIN_TOKEN, queue_config, &r), 201);
  tr_free(&r);
  char *agent = ts_token(pa, "agent-1", "agent");
  char *alice = ts_token(pa, "alice", "validator");
  ts_start(pb, NULL);
  assert_int_equal(tr(pa, "POST", "/v1/queues/review/tasks", agent, "{\"input\":{\"text\":\"before\"}}",
                      &r), 201);
  char *kept = strdup(tj_str(&r, "id"));
  tr_free(&r);
  char kept_path[96];
  snprintf(kept_path, sizeof kept_path, "/v1/tasks/%s", kept);
  assert_int_equal(tr(pb, "GET", kept_path, agent, NULL, &r), 200); /* b's reader is connected. */
  tr_free(&r);

  assert_int_equal(run_script("pg-test-server.sh", "halt", private_pg), 0);
  char log[320];
  snprintf(log, sizeof log, "%s/server.log", pa->dir);
  assert_unavailable(pa, "GET", "/healthz", NULL, NULL);
  /* The writer's sweeper, which has nobody to answer, waits between failures: it used to try
   * again at once, tens of thousands of times a second. From its first failed sweep on, the
   * requests below take a few round trips: a few more sweeps at most. */
  static const char sweep_failed[] = "transaction failed\" jobs=0";
  for (int i = 0; i < 500 && log_count(log, sweep_failed) == 0; i++) pause_ms(10);
  int failed_before = log_count(log, sweep_failed);
  assert_true(failed_before > 0);
  assert_unavailable(pb, "GET", "/healthz", NULL, NULL);
  assert_unavailable(pa, "GET", kept_path, agent, NULL);
  assert_unavailable(pb, "GET", kept_path, agent, NULL);
  assert_unavailable(pa, "POST", "/v1/queues/review/tasks", agent, "{\"input\":{\"text\":\"x\"}}");
  assert_unavailable(pb, "POST", "/v1/queues/review/claim", alice, NULL);
  assert_unavailable(pa, "GET", "/v1/events?limit=5", ADMIN_TOKEN, NULL);
  int failed = log_count(log, sweep_failed) - failed_before;
  if (failed > 5) fail_msg("the writer's sweeper failed %d times more during the outage", failed);
  assert_int_equal(run_script("pg-test-server.sh", "resume", private_pg), 0);

  /* Back without a restart: the first request after the restart succeeds. */
  assert_true(tr_status_reaches(pa, "/healthz", NULL, 200));
  assert_true(tr_status_reaches(pb, "/healthz", NULL, 200));
  assert_int_equal(tr(pb, "GET", kept_path, agent, NULL, &r), 200);
  tr_free(&r);
  assert_int_equal(tr(pa, "POST", "/v1/queues/review/tasks", agent, "{\"input\":{\"text\":\"after\"}}",
                      &r), 201);
  char *fresh = strdup(tj_str(&r, "id"));
  tr_free(&r);
  /* A long-poll on a through b's feed, which listens again. */
  poll_call poll = {.node = pa, .token = agent};
  snprintf(poll.path, sizeof poll.path, "/v1/tasks/%s?wait=20", fresh);
  pthread_t poller;
  assert_int_equal(pthread_create(&poller, NULL, long_poll, &poll), 0);
  int claims = 0;
  bool answered_fresh = false;
  for (int i = 0; i < 2; i++) {
    assert_int_equal(tr(pb, "POST", "/v1/queues/review/claim", alice, NULL, &r), 200);
    char path[128], body[160];
    snprintf(path, sizeof path, "/v1/tasks/%s/responses", tj_str(&r, "id"));
    snprintf(body, sizeof body, "{\"lease_id\":\"%s\",\"kind\":\"approve\"}", tj_str(&r, "lease.id"));
    answered_fresh = answered_fresh || strcmp(tj_str(&r, "id"), fresh) == 0;
    tr_free(&r);
    assert_int_equal(tr(pb, "POST", path, alice, body, &r), 200);
    tr_free(&r);
    claims++;
  }
  assert_true(answered_fresh);
  pthread_join(poller, NULL);
  assert_int_equal(poll.status, 200);
  assert_string_equal(poll.state, "decided");
  assert_int_equal(tr(pa, "GET", kept_path, agent, NULL, &r), 200);
  assert_string_equal(tj_str(&r, "state"), "decided");
  tr_free(&r);

  /* A quick restart, no request in between: each handle finds its connection broken only by
   * its next statement, which connects again and runs once more, so nothing fails. */
  assert_int_equal(run_script("pg-test-server.sh", "halt", private_pg), 0);
  assert_int_equal(run_script("pg-test-server.sh", "resume", private_pg), 0);
  for (int i = 0; i < 4; i++) { /* Each of b's two HTTP threads has a read handle. */
    long status = tr(pb, "GET", kept_path, agent, NULL, &r);
    if (status != 200) fail_msg("read %d after a restart: %ld %s", i, status, r.body);
    tr_free(&r);
  }
  long status = tr(pb, "POST", "/v1/queues/review/tasks", agent,
                   "{\"input\":{\"text\":\"restarted\"}}", &r);
  if (status != 201) fail_msg("a submit after a restart: %ld %s", status, r.body);
  tr_free(&r);

  ts_stop(pa, SIGTERM);
  ts_stop(pb, SIGTERM);
  char out[512];
  assert_int_equal(ts_audit_verify(pa->db, out, sizeof out), 0);
  assert_non_null(strstr(out, "intact"));
  free(kept);
  free(fresh);
  free(agent);
  free(alice);
}

int main(void) {
  if (pg_test_server_url() == NULL || getenv("HITL_SCRIPTS") == NULL) {
    fprintf(stderr, "test_nodes: set HITL_TEST_PG and HITL_SCRIPTS (see CMakeLists.txt)\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_three_nodes_share_the_work, cluster_teardown),
      cmocka_unit_test_teardown(test_node_survives_database_loss, private_pg_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
