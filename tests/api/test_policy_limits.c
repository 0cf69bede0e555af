/* SPDX-License-Identifier: MIT */
/* API tests of the policy's limits: slow policies do not hold other requests, routes stay small. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <dirent.h>

#include "harness.h"

#define SUBMITS 4
#define WAIT_SECONDS 60 /* Bound of every wait below; none is expected to come near it. */

/* A text of n bytes of lower-case words and spaces, with no digit and no '!'. */
static char *words(size_t n) {
  static const char unit[] = "abcde fghij ";
  char *s = malloc(n + 1);
  for (size_t i = 0; i < n; i++) s[i] = unit[i % (sizeof unit - 1)];
  s[n] = '\0';
  return s;
}

/* One submit sent from its own thread, and what became of it. */
typedef struct submit_call {
  test_server *srv;
  const char *token;
  const char *body;
  long status;
  pthread_mutex_t *lock;
  pthread_cond_t *changed;
  int *uploaded;  /* Submits whose body has been sent whole. */
  int *answered;  /* Submits whose answer has arrived. */
  bool counted;   /* This one is in *uploaded. */
  double answered_at; /* Monotonic seconds. */
} submit_call;

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

/* Counts the call in *uploaded once its whole body is out. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  (void)dltotal;
  (void)dlnow;
  submit_call *c = ud;
  if (!c->counted && ultotal > 0 && ulnow == ultotal) {
    c->counted = true;
    pthread_mutex_lock(c->lock);
    (*c->uploaded)++;
    pthread_cond_broadcast(c->changed);
    pthread_mutex_unlock(c->lock);
  }
  return 0;
}

static void *submit_main(void *arg) {
  submit_call *c = arg;
  char url[128], auth[160];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/queues/slow/tasks", c->srv->port);
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
  struct curl_slist *h = curl_slist_append(NULL, auth);
  h = curl_slist_append(h, "Content-Type: application/json");
  h = curl_slist_append(h, "Expect:");
  CURL *curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, c->body);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, c);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)WAIT_SECONDS * 2);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &c->status);
  curl_easy_cleanup(curl);
  curl_slist_free_all(h);
  c->answered_at = now_seconds();
  pthread_mutex_lock(c->lock);
  if (!c->counted) (*c->uploaded)++; /* Failed early: do not leave the waiter hanging. */
  c->counted = true;
  (*c->answered)++;
  pthread_cond_broadcast(c->changed);
  pthread_mutex_unlock(c->lock);
  return NULL;
}

/* The number of the server's threads that run at niceness nice (Linux: /proc). */
static int threads_at_niceness(const test_server *srv, long nice) {
  char dir_path[64];
  snprintf(dir_path, sizeof dir_path, "/proc/%d/task", (int)srv->pid);
  DIR *dir = opendir(dir_path);
  assert_non_null(dir);
  int count = 0;
  struct dirent *d;
  while ((d = readdir(dir)) != NULL) {
    if (d->d_name[0] == '.') continue;
    char path[160], stat[1024];
    snprintf(path, sizeof path, "%s/%s/stat", dir_path, d->d_name);
    FILE *f = fopen(path, "r");
    if (f == NULL) continue; /* The thread ended meanwhile. */
    size_t len = fread(stat, 1, sizeof stat - 1, f);
    fclose(f);
    stat[len] = '\0';
    /* After "pid (comm) ", nice is the 17th field (the 19th of the line). */
    char *p = strrchr(stat, ')');
    if (p == NULL) continue;
    p++;
    for (int field = 3; field < 19 && p; field++) p = strchr(p + 1, ' ');
    if (p && strtol(p + 1, NULL, 10) == nice) count++;
  }
  closedir(dir);
  return count;
}

/* Four submits whose policy takes a while each (the first rule took glibc's matcher 4 s on this
 * text; the others keep the bounded matcher busy about 0.1 s each) are being evaluated when
 * /healthz is asked. No HTTP thread evaluates a policy, so /healthz answers in a small part of
 * the time the quickest submit takes. Before the policy workers, both HTTP threads were busy
 * evaluating, and /healthz waited about as long as a submit. The test compares the two
 * durations rather than either with a fixed time, so a loaded machine slows both alike. */
static void test_healthz_answers_while_policies_run(void **state) {
  (void)state;
  test_server srv = {0};
  ts_start(&srv, NULL);
  char *agent = ts_token(&srv, "agent-1", "agent"); /* Malloc'd: freed below. */
  assert_int_equal(threads_at_niceness(&srv, 10), 2); /* The policy workers yield the CPU. */
  char queue[2048] = "{\"policy\":{\"rules\":[{\"name\":\"nested\",\"when\":{\"regex\":{\"path\":"
                     "\"/output/text\",\"pattern\":\"([a-z]+ ?)*!\"}},\"then\":{\"action\":\"review\"}}";
  for (int i = 0; i < 9; i++)
    snprintf(queue + strlen(queue), sizeof queue - strlen(queue),
             ",{\"name\":\"wide%d\",\"when\":{\"regex\":{\"path\":\"/output/text\",\"pattern\":"
             "\"[a-z ]{5%d}[0-9]\"}},\"then\":{\"action\":\"review\"}}",
             i, i);
  strcat(queue, ",{\"name\":\"default\",\"then\":{\"action\":\"accept\"}}]}}");
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/slow", ADMIN_TOKEN, queue, &r), 201);
  tr_free(&r);

  char *text = words(60000);
  char *body = malloc(60100);
  snprintf(body, 60100, "{\"input\":{},\"output\":{\"text\":\"%s\"}}", text);
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
  int uploaded = 0, answered = 0;
  submit_call calls[SUBMITS];
  pthread_t threads[SUBMITS];
  for (int i = 0; i < SUBMITS; i++) {
    calls[i] = (submit_call){.srv = &srv, .token = agent, .body = body, .lock = &lock,
                             .changed = &changed, .uploaded = &uploaded, .answered = &answered};
    assert_int_equal(pthread_create(&threads[i], NULL, submit_main, &calls[i]), 0);
  }
  /* Wait, bounded, until every body is out: the server is then evaluating or about to. */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += WAIT_SECONDS;
  pthread_mutex_lock(&lock);
  while (uploaded < SUBMITS)
    if (pthread_cond_timedwait(&changed, &lock, &until) != 0) break;
  int uploaded_then = uploaded;
  pthread_mutex_unlock(&lock);
  assert_int_equal(uploaded_then, SUBMITS);

  double sent = now_seconds();
  long status = tr(&srv, "GET", "/healthz", NULL, NULL, &r);
  double healthz = now_seconds() - sent;
  assert_int_equal(status, 200);
  assert_string_equal(tj_str(&r, "status"), "ok");
  tr_free(&r);

  double quickest = 1e9;
  for (int i = 0; i < SUBMITS; i++) {
    pthread_join(threads[i], NULL);
    assert_int_equal(calls[i].status, 201); /* No rule matches: the default accepts. */
    if (calls[i].answered_at - sent < quickest) quickest = calls[i].answered_at - sent;
  }
  if (healthz * 2 > quickest)
    fail_msg("/healthz took %.3f s while the quickest submit took %.3f s: it waited behind a "
             "policy evaluation", healthz, quickest);
  free(body);
  free(text);
  free(agent);
  ts_stop(&srv, SIGKILL);
  ts_cleanup(&srv);
}

/* Ten regex rules on a 1 MB output: the route holds a 200-byte prefix of each value with its
 * length, not ten copies of it. Before the cap, the route was 10 MB and each answer 11 MB. */
static void test_route_of_a_large_output_stays_small(void **state) {
  (void)state;
  test_server srv = {0};
  static const char *const args[] = {"--max-body", "4000000", NULL};
  ts_start(&srv, args);
  char *agent = ts_token(&srv, "agent-1", "agent"); /* Malloc'd: freed below. */
  char queue[2048] = "{\"policy\":{\"rules\":[";
  for (int i = 0; i < 10; i++)
    snprintf(queue + strlen(queue), sizeof queue - strlen(queue),
             "{\"name\":\"r%d\",\"when\":{\"not\":{\"regex\":{\"path\":\"/output/text\",\"pattern\":"
             "\"fghij\"}}},\"then\":{\"action\":\"reject\"}},",
             i);
  strcat(queue, "{\"name\":\"default\",\"then\":{\"action\":\"review\"}}]}}");
  test_resp r;
  assert_int_equal(tr(&srv, "PUT", "/v1/queues/big", ADMIN_TOKEN, queue, &r), 201);
  tr_free(&r);

  size_t n = 1000000;
  char *text = words(n);
  char *body = malloc(n + 100);
  snprintf(body, n + 100, "{\"input\":{},\"output\":{\"text\":\"%s\"}}", text);
  assert_int_equal(tr(&srv, "POST", "/v1/queues/big/tasks", agent, body, &r), 201);
  char *id = strdup(tj_str(&r, "id"));
  json_t *route = json_object_get(r.json, "route");
  char *route_text = json_dumps(route, JSON_COMPACT);
  if (strlen(route_text) > 8192) fail_msg("the route is %zu bytes", strlen(route_text));
  assert_string_equal(json_string_value(json_object_get(route, "rule")), "default");
  json_t *trace = json_object_get(route, "trace");
  assert_int_equal(json_array_size(trace), 10);
  for (size_t i = 0; i < 10; i++) {
    json_t *entry = json_array_get(trace, i);
    assert_true(strlen(json_string_value(json_object_get(entry, "actual"))) <= 200);
    assert_int_equal(json_integer_value(json_object_get(entry, "actual_length")), (json_int_t)n);
    assert_true(json_is_true(json_object_get(entry, "result")));
  }
  free(route_text);
  if (strlen(r.body) > n + 16384) fail_msg("the submit answer is %zu bytes", strlen(r.body));
  tr_free(&r);

  char path[128];
  snprintf(path, sizeof path, "/v1/tasks/%s", id);
  assert_int_equal(tr(&srv, "GET", path, ADMIN_TOKEN, NULL, &r), 200);
  if (strlen(r.body) > n + 16384) fail_msg("the task answer is %zu bytes", strlen(r.body));
  tr_free(&r);
  free(id);
  free(body);
  free(text);
  free(agent);
  ts_stop(&srv, SIGKILL);
  ts_cleanup(&srv);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_healthz_answers_while_policies_run),
      cmocka_unit_test(test_route_of_a_large_output_stays_small),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  curl_global_cleanup();
  return rc;
}
