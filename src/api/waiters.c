/* SPDX-License-Identifier: MIT */
/* Long-poll registry: a hash table of waiting requests by task id, and a timer for deadlines. */
#include "api/waiters.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/id.h"
#include "util/xmalloc.h"

#define NBUCKETS 1024

typedef struct waiter {
  hitl_request *req;
  char task_id[HITL_ID_LEN];
  int64_t deadline;
  struct waiter *next;
} waiter;

struct hitl_waiters {
  pthread_mutex_t lock;
  pthread_cond_t changed; /* Signalled when a waiter with an earlier deadline arrives or on stop. */
  waiter *buckets[NBUCKETS];
  size_t count;
  bool stopping;
  pthread_t timer;
};

static size_t bucket_of(const char *task_id) {
  return hitl_hash_bucket(task_id, strlen(task_id)) % NBUCKETS;
}

/* Resumes and frees the waiters whose deadline passed; returns the earliest remaining one
 * (INT64_MAX when none). Called with the lock held. */
static int64_t expire(hitl_waiters *w, int64_t now) {
  int64_t earliest = INT64_MAX;
  for (size_t b = 0; b < NBUCKETS && w->count; b++) {
    waiter **pp = &w->buckets[b];
    while (*pp) {
      waiter *x = *pp;
      if (x->deadline <= now || w->stopping) {
        *pp = x->next;
        w->count--;
        hitl__request_resume(x->req);
        free(x);
      } else {
        if (x->deadline < earliest) earliest = x->deadline;
        pp = &x->next;
      }
    }
  }
  return earliest;
}

static void *timer_main(void *arg) {
  hitl_waiters *w = arg;
  pthread_setname_np(pthread_self(), "hitl-timer");
  pthread_mutex_lock(&w->lock);
  while (!w->stopping) {
    int64_t next = expire(w, hitl_now_ms());
    if (next == INT64_MAX) {
      pthread_cond_wait(&w->changed, &w->lock);
    } else {
      struct timespec ts = {.tv_sec = next / 1000, .tv_nsec = (long)(next % 1000) * 1000000};
      pthread_cond_timedwait(&w->changed, &w->lock, &ts);
    }
  }
  expire(w, hitl_now_ms());
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

hitl_waiters *hitl__waiters_new(void) {
  hitl_waiters *w = hitl_xcalloc(1, sizeof *w);
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->changed, NULL);
  pthread_create(&w->timer, NULL, timer_main, w);
  return w;
}

void hitl__waiters_add(hitl_waiters *w, hitl_request *req, const char *task_id, int64_t deadline) {
  waiter *x = hitl_xcalloc(1, sizeof *x);
  x->req = req;
  snprintf(x->task_id, sizeof x->task_id, "%s", task_id);
  x->deadline = deadline;
  size_t b = bucket_of(x->task_id);
  pthread_mutex_lock(&w->lock);
  if (w->stopping) {
    pthread_mutex_unlock(&w->lock);
    free(x);
    hitl__request_resume(req);
    return;
  }
  x->next = w->buckets[b];
  w->buckets[b] = x;
  w->count++;
  pthread_cond_signal(&w->changed);
  pthread_mutex_unlock(&w->lock);
}

bool hitl__waiters_remove(hitl_waiters *w, hitl_request *req, const char *task_id) {
  bool found = false;
  size_t b = bucket_of(task_id);
  pthread_mutex_lock(&w->lock);
  for (waiter **pp = &w->buckets[b]; *pp; pp = &(*pp)->next) {
    if ((*pp)->req != req) continue;
    waiter *x = *pp;
    *pp = x->next;
    w->count--;
    free(x);
    found = true;
    break;
  }
  pthread_mutex_unlock(&w->lock);
  return found;
}

void hitl__waiters_wake(hitl_waiters *w, const char *task_id) {
  size_t b = bucket_of(task_id);
  pthread_mutex_lock(&w->lock);
  waiter **pp = &w->buckets[b];
  while (*pp) {
    waiter *x = *pp;
    if (strcmp(x->task_id, task_id) == 0) {
      *pp = x->next;
      w->count--;
      hitl__request_resume(x->req);
      free(x);
    } else {
      pp = &x->next;
    }
  }
  pthread_mutex_unlock(&w->lock);
}

void hitl__waiters_wake_all(hitl_waiters *w) {
  pthread_mutex_lock(&w->lock);
  expire(w, INT64_MAX); /* Every deadline has passed by then. */
  pthread_mutex_unlock(&w->lock);
}

void hitl__waiters_stop(hitl_waiters *w) {
  if (w == NULL) return;
  pthread_mutex_lock(&w->lock);
  bool running = !w->stopping;
  w->stopping = true;
  pthread_cond_signal(&w->changed);
  pthread_mutex_unlock(&w->lock);
  if (running) pthread_join(w->timer, NULL);
}

void hitl__waiters_free(hitl_waiters *w) {
  if (w == NULL) return;
  hitl__waiters_stop(w);
  pthread_mutex_destroy(&w->lock);
  pthread_cond_destroy(&w->changed);
  free(w);
}
