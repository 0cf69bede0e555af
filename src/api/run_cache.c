/* SPDX-License-Identifier: MIT */
/* The live runs this server knows: a hash table of run records by id, under one lock, and a
 * version per stripe of ids so that a read older than a committed change is never kept. */
#include "api/run_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

#define NSTRIPES 1024         /* Versions: a forget makes older reads of 1/NSTRIPES of ids stale. */
#define FIRST_BUCKETS 1024    /* Doubled whenever there are twice as many entries. */

typedef struct entry {
  hitl_run run;
  size_t bytes;
  struct entry *next;
} entry;

struct hitl_run_cache {
  pthread_mutex_t lock;
  entry **buckets;
  size_t n_buckets, count, bytes, max_bytes;
  uint64_t versions[NSTRIPES];
};

/* FNV-1a: ids are random already; this only spreads them over the buckets, and is cheap. */
static uint64_t hash_of(const char *run_id) {
  uint64_t h = 14695981039346656037u;
  for (const unsigned char *p = (const unsigned char *)run_id; *p; p++)
    h = (h ^ *p) * 1099511628211u;
  return h;
}

static size_t len_or_0(const char *s) { return s ? strlen(s) + 1 : 0; }

static size_t bytes_of(const hitl_run *r) {
  return sizeof(entry) + len_or_0(r->agent) + len_or_0(r->goal) + len_or_0(r->metadata) +
         len_or_0(r->owner);
}

/* The link that points at run_id's entry, or at the NULL that ends its bucket. Lock held. */
static entry **find(hitl_run_cache *c, const char *run_id) {
  entry **p = &c->buckets[hash_of(run_id) % c->n_buckets];
  while (*p && strcmp((*p)->run.id, run_id) != 0) p = &(*p)->next;
  return p;
}

/* Doubles the buckets when the table is twice as full as it has buckets. Lock held. */
static void grow(hitl_run_cache *c) {
  if (c->count < 2 * c->n_buckets) return;
  size_t n = c->n_buckets * 2;
  entry **b = hitl_xcalloc(n, sizeof *b);
  for (size_t i = 0; i < c->n_buckets; i++) {
    for (entry *e = c->buckets[i], *next; e; e = next) {
      next = e->next;
      size_t k = hash_of(e->run.id) % n;
      e->next = b[k];
      b[k] = e;
    }
  }
  free(c->buckets);
  c->buckets = b;
  c->n_buckets = n;
}

static void drop(hitl_run_cache *c, entry **link) {
  entry *e = *link;
  *link = e->next;
  c->count--;
  c->bytes -= e->bytes;
  hitl_run_clear(&e->run);
  free(e);
}

hitl_run_cache *hitl__run_cache_new(size_t max_bytes) {
  hitl_run_cache *c = hitl_xcalloc(1, sizeof *c);
  pthread_mutex_init(&c->lock, NULL);
  c->n_buckets = FIRST_BUCKETS;
  c->buckets = hitl_xcalloc(c->n_buckets, sizeof *c->buckets);
  c->max_bytes = max_bytes;
  return c;
}

void hitl__run_cache_free(hitl_run_cache *c) {
  if (c == NULL) return;
  for (size_t i = 0; i < c->n_buckets; i++)
    while (c->buckets[i]) drop(c, &c->buckets[i]);
  free(c->buckets);
  pthread_mutex_destroy(&c->lock);
  free(c);
}

bool hitl__run_cache_get(hitl_run_cache *c, const char *run_id, hitl_run *out) {
  pthread_mutex_lock(&c->lock);
  entry *e = *find(c, run_id);
  if (e) hitl_run_copy(out, &e->run);
  pthread_mutex_unlock(&c->lock);
  return e != NULL;
}

uint64_t hitl__run_cache_version(hitl_run_cache *c, const char *run_id) {
  pthread_mutex_lock(&c->lock);
  uint64_t v = c->versions[hash_of(run_id) % NSTRIPES];
  pthread_mutex_unlock(&c->lock);
  return v;
}

void hitl__run_cache_put(hitl_run_cache *c, const hitl_run *r, uint64_t version) {
  if (r->state != HITL_RUN_RUNNING && r->state != HITL_RUN_PAUSED) return;
  size_t bytes = bytes_of(r);
  pthread_mutex_lock(&c->lock);
  entry **link = find(c, r->id);
  if (c->versions[hash_of(r->id) % NSTRIPES] == version && *link == NULL &&
      c->bytes + bytes <= c->max_bytes) {
    entry *e = hitl_xcalloc(1, sizeof *e);
    hitl_run_copy(&e->run, r);
    e->bytes = bytes;
    *link = e;
    c->count++;
    c->bytes += bytes;
    grow(c);
  }
  pthread_mutex_unlock(&c->lock);
}

void hitl__run_cache_forget(hitl_run_cache *c, const char *run_id) {
  pthread_mutex_lock(&c->lock);
  c->versions[hash_of(run_id) % NSTRIPES]++;
  entry **link = find(c, run_id);
  if (*link) drop(c, link);
  pthread_mutex_unlock(&c->lock);
}

void hitl__run_cache_touch(hitl_run_cache *c, const char *run_id, int64_t at, int64_t due_at) {
  pthread_mutex_lock(&c->lock);
  entry *e = *find(c, run_id);
  if (e) { /* As run_touch in the store: each time only forward. */
    if (at > e->run.last_heartbeat_at) e->run.last_heartbeat_at = at;
    if (at > e->run.updated_at) e->run.updated_at = at;
    if (due_at > e->run.heartbeat_due_at) e->run.heartbeat_due_at = due_at;
  }
  pthread_mutex_unlock(&c->lock);
}

size_t hitl__run_cache_count(hitl_run_cache *c) {
  pthread_mutex_lock(&c->lock);
  size_t n = c->count;
  pthread_mutex_unlock(&c->lock);
  return n;
}
