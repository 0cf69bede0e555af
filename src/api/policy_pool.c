/* SPDX-License-Identifier: MIT */
/* Policy workers: a small thread pool with one queue, for routing submitted tasks. */
#include "api/policy_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/log.h"
#include "util/xmalloc.h"

/* Niceness of the workers: the HTTP threads get about ten times their share of a busy CPU. */
#define WORKER_NICENESS 10

struct hitl_policy_pool {
  pthread_t *threads;
  int n_threads;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  hitl_policy_work *head, *tail; /* Queued work, oldest first. */
  bool stopping; /* Set by stop: workers end once the queue is empty; submit runs work itself. */
};

static void *worker_main(void *arg) {
  hitl_policy_pool *p = arg;
  /* On Linux a thread has its own niceness; failing to lower it only costs fairness. */
  if (setpriority(PRIO_PROCESS, (id_t)gettid(), WORKER_NICENESS) != 0)
    hitl_log(HITL_LOG_DEBUG, "msg=\"policy worker keeps its priority\"");
  pthread_mutex_lock(&p->lock);
  for (;;) {
    while (p->head == NULL && !p->stopping) pthread_cond_wait(&p->wake, &p->lock);
    hitl_policy_work *w = p->head;
    if (w == NULL) break; /* Stopping and nothing left. */
    p->head = w->next;
    if (p->head == NULL) p->tail = NULL;
    pthread_mutex_unlock(&p->lock);
    w->next = NULL;
    w->run(w);
    pthread_mutex_lock(&p->lock);
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

hitl_policy_pool *hitl__policy_pool_start(int n) {
  hitl_policy_pool *p = hitl_xcalloc(1, sizeof *p);
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  if (n < 1) n = 1;
  p->threads = hitl_xcalloc((size_t)n, sizeof *p->threads);
  for (int i = 0; i < n; i++) {
    if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
      hitl_log(HITL_LOG_ERROR, "msg=\"cannot start a policy worker\" started=%d", i);
      if (i == 0) abort(); /* Without one, no task could be submitted. */
      break;
    }
    p->n_threads = i + 1;
  }
  return p;
}

void hitl__policy_pool_submit(hitl_policy_pool *p, hitl_policy_work *w) {
  w->next = NULL;
  pthread_mutex_lock(&p->lock);
  if (p->stopping) {
    pthread_mutex_unlock(&p->lock);
    w->run(w);
    return;
  }
  if (p->tail)
    p->tail->next = w;
  else
    p->head = w;
  p->tail = w;
  pthread_cond_signal(&p->wake);
  pthread_mutex_unlock(&p->lock);
}

void hitl__policy_pool_stop(hitl_policy_pool *p) {
  if (p == NULL) return;
  pthread_mutex_lock(&p->lock);
  bool already = p->stopping;
  p->stopping = true;
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  if (already) return;
  for (int i = 0; i < p->n_threads; i++) pthread_join(p->threads[i], NULL);
}

void hitl__policy_pool_free(hitl_policy_pool *p) {
  if (p == NULL) return;
  free(p->threads);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->wake);
  free(p);
}
